"""The application core every door holds: facts folded up to a log position, started from the
newest valid snapshot and caught up incrementally from the store, and as-of questions answered
from a snapshot when that is exact, else by folding from the start of the log."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from incentive_engine.domain.events import ActivityLogged, DealWon
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.limits import as_utc
from incentive_engine.services.commissions import Snapshot
from incentive_engine.services.gamification import carry_boards
from incentive_engine.services.replay import gc_paused
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import CutOn, EventStore, format_instant
from plans.evaluate import PlanBook

if TYPE_CHECKING:
    from sqlalchemy import Engine as SqlEngine

    from incentive_engine.store.snapshots import Candidate, Header, SnapshotStore, Written

log = logging.getLogger(__name__)

Progress = Callable[[int], None]

EVERYTHING = date.min
"""What a fold changed when it may have changed any answer (see ``Engine.changed``)."""
SCANNED_TAIL = 50_000
"""A longer tail is not scanned for what it changes: everything may have changed."""


def changed_from(facts: Facts, page: Sequence[tuple[Any, str]]) -> date:
    """The earliest day whose answers a page of events may change, read before folding it:
    an activity changes only answers about periods ending on or after its day, and a won deal
    (of a deal not won before) those ending on or after its close date; any other event
    (hierarchy, plans, quotas, amendments, voids, closes...) may change any answer."""
    earliest = date.max
    won: set[str] = set()
    for event, _ in page:
        kind = type(event)
        if kind is ActivityLogged:
            day = event.occurred_at.date()
        elif kind is DealWon:
            deal_id: str = event.deal_id
            deal = facts.deals.get(deal_id)
            if deal_id in won or (deal is not None and deal.won is not None):
                return EVERYTHING  # a second win of one deal may move its close date
            won.add(deal_id)
            day = event.close_date
        else:
            return EVERYTHING
        earliest = min(earliest, day)
    return earliest


@dataclass(frozen=True)
class FoldReport:
    """How the engine answered its last question: from facts it held (``memory``), from a
    snapshot plus the events after it, or by folding from the start of the log (``zero``)."""

    source: Literal["memory", "snapshot", "zero"]
    events_folded: int
    seconds: float
    position: int
    """The log position the facts stand at (the last event folded)."""
    snapshot_position: int | None = None
    as_of: datetime | None = None
    ignored: tuple[str, ...] = ()
    """Snapshots passed over and why (another version, corrupted, another log)."""

    def describe(self) -> str:
        """One line for people: where the facts came from and what it cost."""
        cut = f" as of {self.as_of.isoformat()}" if self.as_of is not None else ""
        if self.source == "snapshot":
            how = f"snapshot at position {self.snapshot_position:,} + {self.events_folded:,} events"
        elif self.source == "zero":
            how = f"folded {self.events_folded:,} events from the start of the log"
        else:
            how = f"facts in memory + {self.events_folded:,} events"
        skipped = f"; ignored {len(self.ignored)} snapshot(s)" if self.ignored else ""
        return f"facts{cut}: {how} in {self.seconds:.2f}s{skipped}"


class ReadWriteLock:
    """Many readers or one writer, the writer first once it waits; a thread already reading
    may read again (nested) without waiting."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting = 0
        self._mine = threading.local()

    def reads_here(self) -> bool:
        """Whether the calling thread is reading."""
        return bool(getattr(self._mine, "depth", 0))

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the lock as a reader."""
        depth = getattr(self._mine, "depth", 0)
        if not depth:
            with self._cond:
                while self._writer or self._waiting:
                    self._cond.wait()
                self._readers += 1
        self._mine.depth = depth + 1
        try:
            yield
        finally:
            self._mine.depth = depth
            if not depth:
                with self._cond:
                    self._readers -= 1
                    if not self._readers:
                        self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the lock as the writer (never from a thread that is reading)."""
        with self._cond:
            self._waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class Engine:
    """One store and the facts kept current by folding only the events appended since the
    last question; at start, the facts of the newest valid snapshot (at or before the log's
    head) stand in for the events up to its position."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: EventStore | None = None,
        views: SqlEngine | None = None,
        snapshots: bool = True,
    ) -> None:
        self.settings = settings or (store.settings if store is not None else Settings())
        self._owns_store = store is None
        self.store = store if store is not None else EventStore(self.settings)
        self._views = views
        self._owns_views = views is None
        self._use_snapshots = snapshots
        self._snapshot_store: SnapshotStore | None = None
        self._lock = threading.Lock()
        self._rw = ReadWriteLock()
        """Folds change the facts in place: they wait for the readers (``reading``) to end."""
        self._facts = Facts()
        self._position = 0
        self._recorded_high = ""
        self._started = False
        self._loaded_from: int | None = None
        """The position of the snapshot the facts started from (None: from zero)."""
        self._snapshot: Snapshot | None = None
        self._voided: dict[str, str] = {}
        """The voids the facts leave out: voided event id -> approval id."""
        self.last_fold: FoldReport | None = None
        """How the last question was answered (see ``FoldReport``)."""
        self._writing = False
        """Whether a snapshot is being written (``write_snapshot``)."""

    @property
    def position(self) -> int:
        """The log position the current facts stand at."""
        return self._position

    # ------------------------------------------------------------ questions

    def snapshot(self, as_of: datetime | None = None, *, cut_on: CutOn = "known") -> Snapshot:
        """Facts and plan versions now (caught up with the log) or as of an instant (read as
        UTC when it has no time zone, as at every door): the events known by then, a
        backfilled event from its source time (``cut_on="recorded"``: the events the engine
        itself had recorded by then, as the audit of a seal asks)."""
        if as_of is not None:
            return self._as_of(as_utc(as_of), cut_on)
        self.catch_up()
        assert self._snapshot is not None
        return self._snapshot

    def catch_up(self, progress: Progress | None = None) -> FoldReport:
        """Bring the facts up to the log's head (starting from the newest valid snapshot the
        first time) and report how."""
        started = time.perf_counter()
        if (self._writing or self._rw.reads_here()) and self.last_fold is not None:
            # A snapshot is being written (seconds on a large log, once after a long fold),
            # or this thread is reading the facts (a fold would wait for it): answer from
            # the facts as they stand; the next question catches up.
            return self.last_fold
        head = self.store.max_position()
        with self._lock:
            ignored: tuple[str, ...] = ()
            source: Literal["memory", "snapshot", "zero"] = "memory"
            if not self._started:
                ignored = self._start(head)
                source = "zero" if self._loaded_from is None else "snapshot"
            folded = 0
            if self._snapshot is None or head != self._position:
                with self._rw.writing():  # the facts change in place: no one reads meanwhile
                    since = EVERYTHING if self._snapshot is None else date.max
                    if self._take_voids(self.store.voids(after=self._position, until=head)):
                        source = "zero"  # a void of an event already folded: fold again
                        since = EVERYTHING
                    if head - self._position > SCANNED_TAIL:
                        since = EVERYTHING
                    folded, since = self._fold_tail(head, progress, since)
                    old, self._snapshot = (
                        self._snapshot,
                        Snapshot(self._facts, PlanBook.from_facts(self._facts)),
                    )
                    if old is not None and since != EVERYTHING:
                        carry_boards(old, self._snapshot, since)
                    self.changed(since)
            report = FoldReport(
                source=source,
                events_folded=folded,
                seconds=time.perf_counter() - started,
                position=self._position,
                snapshot_position=self._loaded_from if source == "snapshot" else None,
                ignored=ignored,
            )
            self.last_fold = report
            return report

    def _start(self, head: int) -> tuple[str, ...]:
        """Take the facts of the newest valid snapshot at or before ``head``, if any."""
        self._started = True
        if not self._use_snapshots:
            return ()
        ignored: list[str] = []
        for candidate in self._candidates(head, ignored):
            loaded = self._load(candidate, ignored)
            if loaded is not None:
                self._facts, header = loaded
                self._voided = {t: v.approval_id for t, v in self._facts.voided.items()}
                self._position = header.position
                self._recorded_high = header.recorded_high
                self._loaded_from = header.position
                break
        return tuple(ignored)

    def _take_voids(self, new: dict[str, str]) -> bool:
        """Add voids approved in the tail; when one voids an event already folded, start the
        facts again from zero (voids are rare; the event must leave every figure).  Returns
        whether the facts were reset."""
        new = {t: a for t, a in new.items() if t not in self._voided}
        if not new:
            return False
        self._voided.update(new)
        folded = [self.store.position_of(t) for t in new]
        if not any(p is not None and p <= self._position for p in folded):
            return False
        self._facts, self._position, self._recorded_high = Facts(), 0, ""
        self._loaded_from = None
        return True

    def reading(self) -> AbstractContextManager[None]:
        """Hold the facts still while reading them: a catch-up folds (changing them in place)
        only once no thread reads; within, this thread's questions do not catch up."""
        return self._rw.reading()

    def while_at(self, position: int, act: Callable[[], None]) -> bool:
        """Run ``act`` under the engine's lock if the facts still stand at ``position`` (no
        catch-up can run meanwhile); returns whether it ran."""
        with self._lock:
            if self._position != position:
                return False
            act()
            return True

    def changed(self, since: date) -> None:
        """Called (under the engine's lock) after a catch-up moved the facts: answers about
        periods ending before ``since`` still stand (``EVERYTHING``: none may), so that a
        cache of answers drops only what the new events may change.  Does nothing here."""

    def _fold_tail(self, head: int, progress: Progress | None, since: date) -> tuple[int, date]:
        """Fold the events after the current position up to ``head``; returns how many, and
        the earliest day they may change answers of (from ``since``, see ``changed_from``)."""
        folded, high = 0, self._recorded_high
        with gc_paused(freeze=head - self._position > 10_000):
            pages = self.store.events(self._position, until=head, voided=self._voided)
            for page in pages:
                if since != EVERYTHING:
                    since = min(since, changed_from(self._facts, page))
                self._facts.apply_recorded(page)
                if page:
                    folded += len(page)
                    high = max(high, max(when for _, when in page))
                if progress is not None:
                    progress(len(page))
        self._position, self._recorded_high = head, high
        return folded, since

    def _as_of(self, as_of: datetime, cut_on: CutOn = "known") -> Snapshot:
        """What was known at an instant: from the newest snapshot holding nothing recorded
        after it (exact: the events after the snapshot are cut as usual), else from zero.

        A snapshot's ``recorded_high`` bounds the known times of its events too (a source
        time is never later than its event's recorded time), so the same test serves both
        cuts."""
        started = time.perf_counter()
        cut = format_instant(as_of)
        ignored: list[str] = []
        facts, after = None, 0
        if self._use_snapshots:
            for candidate in self._candidates(self.store.max_position(), ignored):
                if candidate.recorded_high > cut:
                    continue  # it holds events recorded after the cut
                loaded = self._load(candidate, ignored)
                if loaded is not None:
                    facts, after = loaded[0], loaded[1].position
                    break
        voided: dict[str, str] = {}
        if facts is not None:
            voided = {t: v.approval_id for t, v in facts.voided.items()}
            later = self.store.voids(after=after, as_of=as_of, cut_on=cut_on)
            if any((self.store.position_of(t) or after + 1) <= after for t in later):
                facts, after = None, 0  # a void of an event the snapshot holds
            else:
                voided.update(later)
        if facts is None:
            voided = self.store.voids(as_of=as_of, cut_on=cut_on)
        source: Literal["snapshot", "zero"] = "zero" if facts is None else "snapshot"
        facts = facts if facts is not None else Facts()
        folded = 0
        with gc_paused():
            for page in self.store.events(after, as_of=as_of, voided=voided, cut_on=cut_on):
                facts.apply_recorded(page)
                folded += len(page)
        self.last_fold = FoldReport(
            source=source,
            events_folded=folded,
            seconds=time.perf_counter() - started,
            position=self.store.max_position(),
            snapshot_position=after if source == "snapshot" else None,
            as_of=as_of,
            ignored=tuple(ignored),
        )
        return Snapshot(facts, PlanBook.from_facts(facts))

    # ------------------------------------------------------------ snapshots

    def snapshots(self) -> SnapshotStore:
        """The snapshot store in the read-model database (opened on first use)."""
        if self._snapshot_store is None:
            from incentive_engine.store.snapshots import SnapshotStore

            if self._views is None:
                from projections.runner import make_engine

                self._views = make_engine(self.settings.resolved_views_url())
            self._snapshot_store = SnapshotStore(self._views)
        return self._snapshot_store

    def _candidates(self, head: int, ignored: list[str]) -> list[Candidate]:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return self.snapshots().candidates(at_most=head)
        except SQLAlchemyError as err:
            ignored.append(f"snapshot store unavailable: {type(err).__name__}: {err}")
            log.warning("%s", ignored[-1])
            return []

    def _load(self, candidate: Candidate, ignored: list[str]) -> tuple[Facts, Header] | None:
        from sqlalchemy.exc import SQLAlchemyError

        from incentive_engine.store.snapshots import SnapshotRejected

        try:
            with gc_paused(freeze=True):  # decoding builds a large acyclic graph, like a fold
                return self.snapshots().load(candidate, self.store)
        except (SnapshotRejected, SQLAlchemyError) as err:
            ignored.append(f"snapshot {candidate.id} at position {candidate.position:,}: {err}")
            log.warning("ignored %s", ignored[-1])
            return None

    def write_snapshot(self) -> Written | None:
        """Catch up and store a snapshot of the facts at the current position (None when the
        log is empty or the facts were loaded from a snapshot at this very position)."""
        from incentive_engine.store.snapshots import log_tag

        self.catch_up()
        with self._lock:
            if self._position == 0 or self._loaded_from == self._position:
                return None
            tag = log_tag(self.store, self._position)
            if tag is None:  # pragma: no cover - the position was just read from the log
                return None
            self._writing = True  # meanwhile questions are answered from the facts as they are
            try:
                written = self.snapshots().write(
                    self._facts,
                    position=self._position,
                    recorded_high=self._recorded_high,
                    tag=tag,
                )
            finally:
                self._writing = False
            self._loaded_from = self._position
            return written

    def close(self) -> None:
        """Release the store and the read-model connections the engine opened (facts loaded
        later on first use reconnect for that moment)."""
        if self._owns_store:
            self.store.close()
        if self._owns_views and self._views is not None:
            self._views.dispose()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SnapshotSchedule:
    """When a long-running process (``project --follow``) writes snapshots: after at least
    ``every_events`` new events, or ``every_seconds`` after the last one if anything is new."""

    def __init__(self, engine: Engine, *, every_events: int, every_seconds: float) -> None:
        self.engine = engine
        self.every_events, self.every_seconds = every_events, every_seconds
        self.last_position = engine.position
        self.last_time = time.monotonic()
        self.written: list[Written] = []

    def tick(self) -> Written | None:
        """Catch the engine up; write a snapshot if one is due."""
        self.engine.catch_up()
        new = self.engine.position - self.last_position
        due = new >= self.every_events or (
            new > 0 and time.monotonic() - self.last_time >= self.every_seconds
        )
        return self.flush() if due else None

    def flush(self) -> Written | None:
        """Write a snapshot now (unless there is nothing new)."""
        written = self.engine.write_snapshot()
        self.last_position, self.last_time = self.engine.position, time.monotonic()
        if written is not None:
            self.written.append(written)
        return written
