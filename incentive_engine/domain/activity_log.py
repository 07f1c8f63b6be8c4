"""A rep's logged activities held as columns of machine integers (pure: no I/O).

Nine in ten events of a sales organisation are ``ActivityLogged``; held as one tuple of
objects each (a datetime, an event id string, two more strings) they were about 300 bytes an
activity, most of a process's memory.  ``ActivityLog`` keeps the same facts in arrays: the
instant as microseconds since the epoch, the kind as a small number, the customer and deal
as numbers into the log's own table of names, and the event id's UTF-8 bytes in one buffer
(about 30 bytes an activity).  It reads as a sequence of ``Activity`` tuples, ordered by
time then event id, built on demand, so every reader (points lines, badges, KPIs,
explanations naming events) sees exactly what it saw when the tuples were held.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Iterator, Sequence
from copy import deepcopy
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple, overload

from incentive_engine.domain.events import ActivityKind

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_KINDS: tuple[ActivityKind, ...] = tuple(ActivityKind)
_KIND_NUMBER: dict[ActivityKind, int] = {kind: i for i, kind in enumerate(_KINDS)}
_NONE = -1
"""The name number of a missing customer or deal."""


class Activity(NamedTuple):
    """One logged sales activity (a tuple: cheap to build, ordered by time then event id)."""

    occurred_at: datetime
    event_id: str
    rep_id: str
    kind: ActivityKind
    customer_id: str | None
    deal_id: str | None


Columns = tuple[list[int], list[str], list[ActivityKind], list[int], list[int], list[str]]
"""An activity log as plain lists (for snapshots): microseconds since the epoch, event ids,
kinds, customer and deal name numbers (-1 for none), and the names they number."""


def micros(instant: datetime) -> int:
    """An aware instant as whole microseconds since the epoch (exact, no float)."""
    return (instant - _EPOCH) // _MICROSECOND


def instant(us: int) -> datetime:
    """The UTC instant of a count of microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=us)


def midnight_micros(day: date) -> int:
    """Midnight UTC starting a day, in microseconds since the epoch."""
    return micros(datetime.combine(day, time(), tzinfo=UTC))


class ActivityLog(Sequence[Activity]):
    """One rep's activities in (time, event id) order, held as columns of integers."""

    __slots__ = (
        "_customers",
        "_deals",
        "_ids",
        "_intern",
        "_kinds",
        "_lengths",
        "_names",
        "_numbers",
        "_starts",
        "_times",
        "rep_id",
    )  # fmt: skip

    def __init__(self, rep_id: str, intern: Callable[[str], str] | None = None) -> None:
        self.rep_id = rep_id
        self._intern = intern
        """Gives the one copy of a customer or deal id that logs of many reps share."""
        self._times = array("q")
        """Microseconds since the epoch."""
        self._kinds = array("B")
        self._customers = array("i")
        self._deals = array("i")
        self._starts = array("I")
        """Where each event id starts in ``_ids``."""
        self._lengths = array("H")
        """Each event id's length in bytes."""
        self._ids = bytearray()
        """The event ids' UTF-8 bytes, in the order they were added (not the log's order)."""
        self._names: list[str] = []
        """Customer and deal ids, each once (numbered by position)."""
        self._numbers: dict[str, int] = {}

    # ------------------------------------------------------------ adding

    def add(
        self,
        occurred_at: datetime,
        event_id: str,
        kind: ActivityKind,
        customer_id: str | None,
        deal_id: str | None,
    ) -> None:
        """Add an activity in its place (after the last one, unless it is earlier)."""
        us = (occurred_at - _EPOCH) // _MICROSECOND
        times, numbers = self._times, self._numbers
        customer = _NONE if customer_id is None else numbers.get(customer_id)
        if customer is None:
            customer = self._number(customer_id)
        deal = _NONE if deal_id is None else numbers.get(deal_id)
        if deal is None:
            deal = self._number(deal_id)
        encoded = event_id.encode()
        ids = self._ids
        start = len(ids)
        if not times or us > times[-1] or (us == times[-1] and event_id > self._event_id(-1)):
            times.append(us)
            self._kinds.append(_KIND_NUMBER[kind])
            self._customers.append(customer)
            self._deals.append(deal)
            self._starts.append(start)
            self._lengths.append(len(encoded))
            ids += encoded
            return
        at = self._place(us, event_id)
        ids += encoded
        row = (us, _KIND_NUMBER[kind], customer, deal, start, len(encoded))
        columns = (times, self._kinds, self._customers, self._deals, self._starts, self._lengths)
        for column, value in zip(columns, row, strict=True):
            column.insert(at, value)

    def _place(self, us: int, event_id: str) -> int:
        """The row an activity goes to: after every earlier (time, event id)."""
        lo = bisect.bisect_left(self._times, us)
        hi = bisect.bisect_right(self._times, us, lo)
        while lo < hi and self._event_id(lo) <= event_id:
            lo += 1
        return lo

    def _number(self, name: str | None) -> int:
        if name is None:
            return _NONE
        found = self._numbers.get(name)
        if found is None:
            if self._intern is not None:
                name = self._intern(name)
            found = self._numbers[name] = len(self._names)
            self._names.append(name)
        return found

    # ------------------------------------------------------------ reading

    def _event_id(self, row: int) -> str:
        start = self._starts[row]
        return self._ids[start : start + self._lengths[row]].decode()

    def __len__(self) -> int:
        return len(self._times)

    def _row(self, i: int) -> Activity:
        names = self._names
        customer, deal = self._customers[i], self._deals[i]
        return Activity(
            instant(self._times[i]),
            self._event_id(i),
            self.rep_id,
            _KINDS[self._kinds[i]],
            names[customer] if customer != _NONE else None,
            names[deal] if deal != _NONE else None,
        )

    @overload
    def __getitem__(self, index: int) -> Activity: ...

    @overload
    def __getitem__(self, index: slice) -> list[Activity]: ...

    def __getitem__(self, index: int | slice) -> Activity | list[Activity]:
        """The activity at a row (or a list of them for a slice)."""
        if isinstance(index, slice):
            return [self._row(i) for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("activity log index out of range")
        return self._row(index)

    def __iter__(self) -> Iterator[Activity]:
        return self.rows(0, len(self))

    def rows(self, first: int, last: int) -> Iterator[Activity]:
        """The activities of rows ``first`` up to (not including) ``last`` (one loop with
        everything it reads in local names: KPIs build every activity of a period)."""
        times, kinds, customers, deals = self._times, self._kinds, self._customers, self._deals
        starts, lengths, ids, names, rep_id = (
            self._starts, self._lengths, self._ids, self._names, self.rep_id
        )  # fmt: skip
        new, epoch, delta, all_kinds = tuple.__new__, _EPOCH, timedelta, _KINDS
        for i in range(first, last):
            customer, deal, start = customers[i], deals[i], starts[i]
            yield new(
                Activity,
                (
                    epoch + delta(microseconds=times[i]),
                    ids[start : start + lengths[i]].decode(),
                    rep_id,
                    all_kinds[kinds[i]],
                    names[customer] if customer >= 0 else None,
                    names[deal] if deal >= 0 else None,
                ),
            )

    def between(self, start: datetime, end: datetime) -> Iterator[Activity]:
        """The activities from ``start`` up to (not including) ``end``, in order."""
        times = self._times
        first = bisect.bisect_left(times, micros(start))
        return self.rows(first, bisect.bisect_left(times, micros(end), first))

    def customers_before(self, start: datetime) -> set[str]:
        """The customers named by the activities before an instant."""
        first = bisect.bisect_left(self._times, micros(start))
        names = self._names
        return {names[c] for c in set(self._customers[:first]) if c != _NONE}

    def until(self, day: date) -> ActivityLog:
        """A log of the activities that occurred by the end of a day (sharing the id buffer
        and name table: both only ever grow, and rows of either log never move in them)."""
        return self._head(bisect.bisect_left(self._times, midnight_micros(day + timedelta(days=1))))

    def _head(self, last: int) -> ActivityLog:
        cut = ActivityLog(self.rep_id, self._intern)
        cut._times = self._times[:last]
        cut._kinds = self._kinds[:last]
        cut._customers = self._customers[:last]
        cut._deals = self._deals[:last]
        cut._starts = self._starts[:last]
        cut._lengths = self._lengths[:last]
        cut._ids, cut._names, cut._numbers = self._ids, self._names, self._numbers
        return cut

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ActivityLog):
            return self.rep_id == other.rep_id and list(self) == list(other)
        if isinstance(other, list):
            return list(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ActivityLog({self.rep_id!r}, {len(self)} activities)"

    # ------------------------------------------------------------ snapshots

    def columns(self) -> Columns:
        """The log as plain lists, in row order (event ids in row order too)."""
        return (
            self._times.tolist(),
            [self._event_id(i) for i in range(len(self))],
            [_KINDS[k] for k in self._kinds],
            self._customers.tolist(),
            self._deals.tolist(),
            list(self._names),
        )

    @classmethod
    def from_columns(
        cls, rep_id: str, columns: Columns, intern: Callable[[str], str] | None = None
    ) -> ActivityLog:
        """A log rebuilt from ``columns()`` (lengths, order and name numbers checked)."""
        times, event_ids, kinds, customers, deals, names = columns
        n = len(times)
        if not (len(event_ids) == len(kinds) == len(customers) == len(deals) == n):
            raise ValueError(f"activities of {rep_id}: columns of different lengths")
        keys = list(zip(times, event_ids, strict=True))
        if any(keys[i] > keys[i + 1] for i in range(n - 1)):
            raise ValueError(f"activities of {rep_id}: not in (time, event id) order")
        if any(not _NONE <= x < len(names) for x in (*customers, *deals)):
            raise ValueError(f"activities of {rep_id}: a name number out of range")
        log = cls(rep_id, intern)
        if intern is not None:
            names = [intern(name) for name in names]
        log._times = array("q", times)
        log._kinds = array("B", (_KIND_NUMBER[k] for k in kinds))
        log._customers = array("i", customers)
        log._deals = array("i", deals)
        log._names = list(names)
        log._numbers = {name: i for i, name in enumerate(names)}
        for event_id in event_ids:
            encoded = event_id.encode()
            log._starts.append(len(log._ids))
            log._lengths.append(len(encoded))
            log._ids += encoded
        return log

    def __deepcopy__(self, memo: dict[int, Any]) -> ActivityLog:
        """An independent copy (arrays and name table copied; the interning table is the one
        of the copy of the facts being made, if any)."""
        copy = self._head(len(self))
        copy._ids, copy._names, copy._numbers = (
            bytearray(self._ids),
            list(self._names),
            dict(self._numbers),
        )
        copy._intern = deepcopy(self._intern, memo)
        return copy
