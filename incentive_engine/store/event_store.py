"""The event store: an append-only log on the ``eventsourcing`` recorders (SQLite or PostgreSQL).

Each event is stored as the only record of its own stream, named by its ``event_id``,
so the database's unique key on (stream, version) makes a duplicate impossible even
between concurrent writers.  The log's notification id is the one global order.
``recorded_at`` is stamped on append.  Nothing is ever updated or deleted.

A backfilled event also carries ``source_recorded_at``: when the source system (the CRM the
history is migrated from) learned the fact.  It is recording metadata beside ``recorded_at``,
not event content: it is outside the event's hash (the same fact imported again with another
source time is a duplicate, and the first source time stands), inside the audit chain's
canonical record, and never later than the event's own ``recorded_at``.  An event is *known*
from its source time when it has one, else from its recorded time; ``as_of`` cuts on that
(``cut_on="recorded"`` cuts on the engine's own clock, as the audit of a seal needs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import orjson
from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from pydantic import ValidationError

from incentive_engine.domain.events import (
    EVENT_ADAPTER,
    Event,
    EventVoidApproved,
    EventVoidProposed,
    event_hash,
)
from incentive_engine.domain.isolation import Quarantined, Voided
from incentive_engine.domain.limits import STORED
from incentive_engine.domain.references import same_person
from incentive_engine.settings import Settings, postgres_parts, sqlite_path
from incentive_engine.store.decoding import fast_decode
from incentive_engine.store.files import create_private

Clock = Callable[[], datetime]

CutOn = Literal["known", "recorded"]
"""Which clock an ``as_of`` cut reads: ``known`` (the source time of a backfilled event, else
its recorded time: what could be known then) or ``recorded`` (the engine's own clock only)."""


def utc_now() -> datetime:
    """The wall clock in UTC (the store's default clock)."""
    return datetime.now(UTC)


def format_instant(instant: datetime) -> str:
    """A UTC instant as fixed-width ISO text, so that text order is time order."""
    if instant.tzinfo is None:
        raise ValueError(f"instant {instant!r} has no time zone")
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


class RecordedEvent(NamedTuple):
    """An event as the log holds it: its position, when and from where it was recorded, and
    (backfilled history) when its source system learned it."""

    position: int
    recorded_at: datetime
    source: str | None
    event: Event
    source_recorded_at: datetime | None = None

    @property
    def known_at(self) -> datetime:
        """When the fact was known: its source time when backfilled, else its recorded time."""
        return self.source_recorded_at or self.recorded_at


@dataclass(frozen=True, slots=True)
class Conflict:
    """An event id already stored with different content."""

    event_id: str
    stored_hash: str
    offered_hash: str


@dataclass
class AppendReport:
    """What one append did: stored, duplicate (no-op) and conflicting event ids."""

    stored: list[tuple[str, int]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


def encode_state(
    event: Event, recorded_at: str, source: str | None, source_recorded_at: str | None = None
) -> bytes:
    """Serialise an event (its canonical content) with its recording metadata; the
    times come formatted (``format_instant``).  ``source_recorded_at`` is written (last) only
    when there is one, so that records without it keep their bytes."""
    state: dict[str, Any] = {
        "event": orjson.Fragment(event.canonical),
        "recorded_at": recorded_at,
        "source": source,
        "hash": event_hash(event),
    }
    if source_recorded_at is not None:
        state["source_recorded_at"] = source_recorded_at
    return orjson.dumps(state)


class Row(NamedTuple):
    """An event ready to append: its id, type, canonical content and content hash (computed
    once, by whoever validated it), and the time its source system learned it (backfill)."""

    event_id: str
    topic: str
    canonical: bytes
    digest: str
    source_time: datetime | None = None

    @classmethod
    def of(cls, event: Event, source_time: datetime | None = None) -> Row:
        """The row of a validated event."""
        return cls(event.event_id, event.type, event.canonical, event.digest, source_time)  # type: ignore[attr-defined]


class _StateEncoder:
    """Stored states of one append (one recorded time, one source), made by joining bytes:
    byte-identical to ``encode_state`` (which a test checks) without building a dict per
    event."""

    def __init__(self, recorded_at: str, source: str | None) -> None:
        self.middle = (
            b',"recorded_at":' + orjson.dumps(recorded_at) + b',"source":' + orjson.dumps(source)
        )

    def __call__(self, row: Row, source_recorded_at: str | None) -> bytes:
        tail = b'"}' if source_recorded_at is None else (
            b'","source_recorded_at":' + orjson.dumps(source_recorded_at) + b"}"
        )  # fmt: skip
        return b"".join(
            (b'{"event":', row.canonical, self.middle, b',"hash":"', row.digest.encode(), tail)
        )


_HASH_MARKER = b'"hash":"'


def stored_digest(state: bytes) -> str:
    """The content hash of a stored state, read without parsing it: the top-level ``hash`` is
    the last such key (the event's content comes first; only the source time follows)."""
    i = state.rfind(_HASH_MARKER)
    if i < 0:
        return str(orjson.loads(state)["hash"])  # raises KeyError: not a stored record
    i += len(_HASH_MARKER)
    return state[i : state.index(b'"', i)].decode()


def _source_time(data: dict[str, Any]) -> datetime | None:
    text = data.get("source_recorded_at")
    return datetime.fromisoformat(text) if text else None


def decode(position: int, state: bytes) -> RecordedEvent:
    """Rebuild a recorded event from its position and stored state, validating it (the
    strict schema check of ``decoding`` where it applies, else the full model)."""
    fast = fast_decode(state)
    if fast is not None:
        return _recorded_event(position, fast)
    data = orjson.loads(state)
    return RecordedEvent(
        position=position,
        recorded_at=datetime.fromisoformat(data["recorded_at"]),
        source=data.get("source"),
        event=EVENT_ADAPTER.validate_python(data["event"], context=STORED),
        source_recorded_at=_source_time(data),
    )


def _recorded_event(position: int, fast: Any) -> RecordedEvent:
    """The recorded event of a record the strict check accepted (its times read here)."""
    source_time = fast.source_recorded_at
    return RecordedEvent(
        position,
        datetime.fromisoformat(fast.recorded_at),
        fast.source,
        fast.event,
        datetime.fromisoformat(source_time) if source_time else None,
    )


def decode_or_marker(position: int, state: bytes) -> RecordedEvent | Quarantined:
    """A recorded event, or the ``Quarantined`` marker (the reason named) of a stored state
    that does not validate."""
    fast = fast_decode(state)
    if fast is not None:
        with contextlib.suppress(ValueError):  # a time that does not read: named below
            return _recorded_event(position, fast)
    try:
        data = orjson.loads(state)
        content, recorded_at = data["event"], datetime.fromisoformat(data["recorded_at"])
        source_recorded_at = _source_time(data)
    except (ValueError, KeyError, TypeError) as exc:
        reason = f"the stored record is not readable: {type(exc).__name__}"
        return Quarantined.of(position, None, reason)
    try:
        event = EVENT_ADAPTER.validate_python(content, context=STORED)
    except ValidationError as exc:
        return Quarantined.of(position, content, _reason(exc))
    return RecordedEvent(position, recorded_at, data.get("source"), event, source_recorded_at)


def decode_or_none(position: int, state: bytes) -> RecordedEvent | None:
    """A recorded event, or None when the stored state does not validate (quarantined)."""
    try:
        return decode(position, state)
    except (ValidationError, ValueError, KeyError, TypeError):
        return None


class EventStore:
    """Append-only, idempotent event log with one global order."""

    def __init__(self, settings: Settings | None = None, *, clock: Clock = utc_now) -> None:
        self.settings = settings or Settings()
        self.clock = clock
        self._factory, self._backend = _make_factory(
            self.settings.store_url, self.settings.sqlite_lock_seconds, self.settings.pg_pool_size
        )
        with _creation_lock(self.settings.store_url):
            self.recorder: ApplicationRecorder = self._factory.application_recorder()
            self._index_topics()
        if self._backend == "postgres":
            _replace_dropped_connections_at_once(self.recorder.datastore.pool)  # type: ignore[attr-defined]
        self._last_recorded_at: datetime | None = None

    def _index_topics(self) -> None:
        """An index on the event type (``topic``): reading the few events of some types
        (voids, disputes, adjustments, plan publications) must not scan the whole log (on
        1,000,000 events such a read took 150-200 ms). Created once; a store this process
        may not change (read-only) is left as it is."""
        table = self.recorder.events_table_name  # type: ignore[attr-defined]
        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        try:
            with datastore.transaction(commit=True) as c:
                if self._backend == "postgres":
                    c.execute(
                        f'CREATE INDEX IF NOT EXISTS "{table}_topic" '
                        f'ON "{datastore.schema}"."{table}" (topic, notification_id)'
                    )
                else:
                    c.execute(f"CREATE INDEX IF NOT EXISTS {table}_topic ON {table} (topic)")
        except Exception as exc:  # a read-only store, or another process creating it now
            if not _is_database_error(exc) and not isinstance(exc, PersistenceError):
                raise

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgres``."""
        return self._backend

    def close(self) -> None:
        """Release database connections."""
        self._factory.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- writing

    def append(
        self,
        events: Sequence[Event],
        *,
        source: str | None = None,
        recorded_at: datetime | None = None,
        source_times: Mapping[str, datetime] | None = None,
    ) -> AppendReport:
        """Store the events not yet stored, all in one transaction; report duplicates and
        conflicts (which are never stored).  Safe against concurrent writers.

        ``source_times`` (event id -> instant) gives backfilled events the time their source
        system learned them; one later than the append's recorded time is refused
        (ValueError) before anything is stored."""
        times = source_times or {}
        rows = [Row.of(event, times.get(event.event_id)) for event in events]
        return self.append_rows(rows, source=source, recorded_at=recorded_at)

    def append_rows(
        self,
        rows: Sequence[Row],
        *,
        source: str | None = None,
        recorded_at: datetime | None = None,
    ) -> AppendReport:
        """``append`` of events already validated and hashed (``Row``): the ingest path, which
        validates and hashes each record once and hands its rows here."""
        for _attempt in range(5):
            report, to_store = self._plan(rows, source, recorded_at)
            if not to_store:
                return report
            try:
                positions = self._insert(to_store)
            except IntegrityError:
                continue  # another writer stored some of them meanwhile: plan again
            report.stored = [(eid, pos) for (eid, _), pos in zip(to_store, positions, strict=True)]
            return report
        raise RuntimeError("could not append: event ids kept colliding with concurrent writers")

    def _insert(self, to_store: list[tuple[str, StoredEvent]]) -> Sequence[int]:
        """Insert stored events in one transaction; their positions, in order.  On SQLite one
        ``executemany`` (the library's recorder inserts row by row to read each rowid): the
        transaction holds the write lock, so the rows take the rowids following the largest,
        in order, and the last one tells them all."""
        if self._backend != "sqlite":
            positions = self.recorder.insert_events([s for _, s in to_store])
            assert positions is not None
            return positions
        recorder: Any = self.recorder
        with recorder.datastore.transaction(commit=True) as c:
            c.executemany(
                recorder.insert_events_statement,
                [(s.originator_id, 1, s.topic, s.state) for _, s in to_store],
            )
            c.execute(f"SELECT MAX(rowid) FROM {recorder.events_table_name}")
            last = int(c.fetchone()[0])
        return range(last - len(to_store) + 1, last + 1)

    def _plan(
        self,
        rows: Sequence[Row],
        source: str | None,
        recorded_at: datetime | None,
    ) -> tuple[AppendReport, list[tuple[str, StoredEvent]]]:
        report = AppendReport()
        offered: dict[str, str] = {}
        unique: list[Row] = []
        for row in rows:
            seen = offered.get(row.event_id)
            if seen is None:
                offered[row.event_id] = row.digest
                unique.append(row)
            elif seen == row.digest:
                report.duplicates.append(row.event_id)
            else:
                report.conflicts.append(Conflict(row.event_id, seen, row.digest))
        stored = self.stored_hashes(offered)
        instant = self._stamp(recorded_at)
        known = _source_texts(
            {r.event_id: r.source_time for r in unique if r.source_time is not None}, instant
        )
        encode = _StateEncoder(format_instant(instant), source)
        to_store: list[tuple[str, StoredEvent]] = []
        for row in unique:
            existing = stored.get(row.event_id)
            if existing is None:
                state = encode(row, known.get(row.event_id))
                to_store.append((row.event_id, StoredEvent(row.event_id, 1, row.topic, state)))
            elif existing == row.digest:
                report.duplicates.append(row.event_id)
            else:
                report.conflicts.append(Conflict(row.event_id, existing, row.digest))
        return report, to_store

    def _stamp(self, recorded_at: datetime | None) -> datetime:
        """The recorded time of the next append, never earlier than the previous one."""
        stamp = recorded_at if recorded_at is not None else self.clock()
        if stamp.tzinfo is None:
            raise ValueError("recorded_at must carry a time zone")
        stamp = stamp.astimezone(UTC)
        if recorded_at is None and self._last_recorded_at and stamp < self._last_recorded_at:
            stamp = self._last_recorded_at
        self._last_recorded_at = stamp
        return stamp

    # -------------------------------------------------------------- reading

    def stored_hashes(self, event_ids: Iterable[str]) -> dict[str, str]:
        """Content hashes of those of the given event ids that are already stored (one
        read transaction, however many ids)."""
        return {
            event_id: stored_digest(state)
            for event_id, state in self._select_states(list(event_ids))
        }

    def _select_states(self, ids: list[str]) -> list[tuple[str, bytes]]:
        if not ids:
            return []
        table = self.recorder.events_table_name  # type: ignore[attr-defined]
        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        found: list[tuple[str, bytes]] = []
        with self._reading() as c:
            if self._backend == "postgres":
                c.execute(
                    f'SELECT originator_id, state FROM "{datastore.schema}"."{table}" '
                    "WHERE originator_id = ANY(%s)",
                    (ids,),
                )
                return [(r["originator_id"], bytes(r["state"])) for r in c.fetchall()]
            for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                c.execute(
                    f"SELECT originator_id, state FROM {table} WHERE originator_id IN ({marks})",
                    chunk,
                )
                found.extend((r["originator_id"], r["state"]) for r in c.fetchall())
        return found

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Any]:
        """A read transaction on the recorder's own connection pool, with database failures
        (a dropped connection, a server restart) raised as the library's PersistenceError,
        like its own reads and writes."""
        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        try:
            with datastore.transaction(commit=False) as cursor:
                yield cursor
        except PersistenceError:
            raise
        except Exception as exc:
            if _is_database_error(exc):
                raise OperationalError(f"{type(exc).__name__}: {exc}") from exc
            raise

    def max_position(self) -> int:
        """Position of the last event in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def pages(
        self,
        after: int = 0,
        *,
        until: int | None = None,
        types: Sequence[str] = (),
        page_size: int = 5000,
    ) -> Iterator[list[tuple[int, bytes]]]:
        """Pages of raw (position, state) rows after a position, in global order.

        Reads the recorder's table directly: writes go through the library, which assigns
        positions in commit order; reading by ``position > last`` is then gap-safe, and
        skipping the library's per-row objects makes reading 2-3x faster.
        """
        last = after
        while True:
            rows = self._select_page(last, until, types, page_size)
            if not rows:
                return
            yield rows
            last = rows[-1][0]
            if len(rows) < page_size:
                return

    def _select_page(
        self, after: int, until: int | None, types: Sequence[str], limit: int
    ) -> list[tuple[int, bytes]]:
        table = self.recorder.events_table_name  # type: ignore[attr-defined]
        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        if self._backend == "sqlite":
            sql, params = f"SELECT rowid, state FROM {table} WHERE rowid > ?", [after]
            if until is not None:
                sql += " AND rowid <= ?"
                params.append(until)
            if types:
                sql += f" AND topic IN ({','.join('?' * len(types))})"
                params.extend(types)
            sql += " ORDER BY rowid LIMIT ?"
            with self._reading() as c:
                c.execute(sql, [*params, limit])
                return [(row[0], row[1]) for row in c.fetchall()]
        sql = (
            f'SELECT notification_id, state FROM "{datastore.schema}"."{table}" '
            "WHERE notification_id > %s"
        )
        pg_params: list[Any] = [after]
        if until is not None:
            sql += " AND notification_id <= %s"
            pg_params.append(until)
        if types:
            sql += " AND topic = ANY(%s)"
            pg_params.append(list(types))
        sql += " ORDER BY notification_id LIMIT %s"
        with self._reading() as c:
            c.execute(sql, [*pg_params, limit])
            return [(row["notification_id"], bytes(row["state"])) for row in c.fetchall()]

    def read(
        self,
        after: int = 0,
        *,
        until: int | None = None,
        types: Sequence[str] = (),
        as_of: datetime | None = None,
        page_size: int = 5000,
        cut_on: CutOn = "known",
    ) -> Iterator[RecordedEvent]:
        """Recorded events after a position, in global order; ``as_of`` keeps only
        those known at or before that instant (``cut_on``: see ``CutOn``)."""
        cut = format_instant(as_of) if as_of is not None else None
        when = _known_text if cut_on == "known" else _recorded_text
        for page in self.pages(after, until=until, types=types, page_size=page_size):
            for position, state in page:
                try:
                    if cut is not None and when(state) > cut:
                        continue
                except ValueError:
                    continue  # unreadable: quarantined (see ``events``)
                recorded = decode_or_none(position, state)
                if recorded is not None:  # None: quarantined, see ``events``
                    yield recorded

    def events(
        self,
        after: int = 0,
        *,
        until: int | None = None,
        as_of: datetime | None = None,
        page_size: int = 5000,
        voided: Mapping[str, str] | None = None,
        cut_on: CutOn = "known",
    ) -> Iterator[list[tuple[Event | Quarantined | Voided, str]]]:
        """Pages of (event, recorded-at ISO text) in global order: the replay fast path,
        which decodes neither positions nor sources.  ``as_of`` keeps the events known by
        then (``cut_on``: see ``CutOn``); the text paired is always the recorded time.

        A stored event that does not validate (written by an older version or straight
        into the database) comes as a ``Quarantined`` marker in its place, and one of
        ``voided`` (event id -> approval id) as a ``Voided`` marker: the fold files both
        and never sees their content."""
        cut = format_instant(as_of) if as_of is not None else None
        validate, loads, decode_fast = EVENT_ADAPTER.validate_python, orjson.loads, fast_decode
        skip = voided or {}
        known, by_known = _known_text, cut_on == "known"
        for page in self.pages(after, until=until, page_size=page_size):
            decoded: list[tuple[Event | Quarantined | Voided, str]] = []
            for position, state in page:
                fast = decode_fast(state)
                if fast is not None:
                    event, recorded = fast.event, fast.recorded_at
                    if (
                        len(recorded) == _INSTANT_LENGTH  # else: as _recorded_text reads it
                        and (cut is None or (known(state) if by_known else recorded) <= cut)
                        and not (skip and event.event_id in skip)
                    ):
                        decoded.append((event, recorded))
                        continue
                try:
                    recorded = _recorded_text(state)
                    data = loads(state)["event"]
                except (ValueError, KeyError, TypeError) as exc:
                    reason = f"the stored record is not readable: {type(exc).__name__}"
                    decoded.append((Quarantined.of(position, None, reason), ""))
                    continue
                if cut is not None and (known(state) if by_known else recorded) > cut:
                    continue
                if skip and isinstance(data, dict) and data.get("event_id") in skip:
                    event_id = data["event_id"]
                    decoded.append((Voided.of(position, data, event_id, skip[event_id]), recorded))
                    continue
                try:
                    decoded.append((validate(data, context=STORED), recorded))
                except ValidationError as exc:
                    decoded.append((Quarantined.of(position, data, _reason(exc)), recorded))
            yield decoded

    def quarantined(self, after: int = 0, *, until: int | None = None) -> list[Quarantined]:
        """Every stored event that does not validate, in log order."""
        found = []
        for page in self.events(after, until=until):
            found += [item for item, _ in page if isinstance(item, Quarantined)]
        return found

    def raw(self, event_id: str) -> tuple[int, dict[str, Any], str] | None:
        """A stored event's position, JSON content and recorded-at text, without validating
        it (for voids of events that no longer validate), or None."""
        rows = self._select_states([event_id])
        if not rows:
            return None
        state = orjson.loads(rows[0][1])
        return self._position_of(event_id), state["event"], state["recorded_at"]

    def voids(
        self,
        *,
        after: int = 0,
        until: int | None = None,
        as_of: datetime | None = None,
        cut_on: CutOn = "known",
    ) -> dict[str, str]:
        """Voids approved after a position: voided event id -> the approval's event id.  Only
        approvals that keep the two-person rule count, however they were stored (a known
        proposal of the same target, approved by someone other than its proposer); the
        first approval of a target wins."""
        found: dict[str, str] = {}
        approvals = self.read(
            after, until=until, types=("EventVoidApproved",), as_of=as_of, cut_on=cut_on
        )
        for recorded in approvals:
            approval = recorded.event
            assert isinstance(approval, EventVoidApproved)
            try:
                stored = self.get(approval.proposal_id)
            except (ValidationError, ValueError, KeyError):
                stored = None  # a quarantined proposal approves nothing
            proposal = stored.event if stored is not None else None
            if (
                isinstance(proposal, EventVoidProposed)
                and proposal.target_event_id == approval.target_event_id
                and not same_person(proposal.proposed_by, approval.approved_by)
            ):
                found.setdefault(approval.target_event_id, approval.event_id)
        return found

    def position_of(self, event_id: str) -> int | None:
        """The log position of a stored event, or None."""
        return self._position_of(event_id) if self._select_states([event_id]) else None

    def get(self, event_id: str) -> RecordedEvent | None:
        """One recorded event by its id, or None."""
        rows = self._select_states([event_id])
        if not rows:
            return None
        return decode(self._position_of(event_id), rows[0][1])

    def _position_of(self, event_id: str) -> int:
        table = self.recorder.events_table_name  # type: ignore[attr-defined]
        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        if self._backend == "sqlite":
            sql = f"SELECT rowid FROM {table} WHERE originator_id = ?"
        else:
            sql = (
                f'SELECT notification_id AS rowid FROM "{datastore.schema}"."{table}" '
                "WHERE originator_id = %s"
            )
        with self._reading() as c:
            c.execute(sql, [event_id])
            row = c.fetchone()
        return int(row["rowid"] if self._backend == "postgres" else row[0])


def _source_texts(times: Mapping[str, datetime], recorded: datetime) -> dict[str, str]:
    """Source times as stored text; one after the recorded time cannot be (the source cannot
    have learned a fact after the engine recorded it from that source)."""
    found = {}
    for event_id, when in times.items():
        if when.tzinfo is None:
            raise ValueError(f"event {event_id}: source_recorded_at must carry a time zone")
        if when > recorded:
            raise ValueError(
                f"event {event_id}: source_recorded_at {format_instant(when)} is after its "
                f"recorded time {format_instant(recorded)}"
            )
        found[event_id] = format_instant(when)
    return found


def _reason(exc: ValidationError) -> str:
    """A validation failure of a stored event in one line: each field and its reason."""
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = [str(p) for p in err["loc"]]
        if loc and loc[0][:1].isupper():
            loc = loc[1:]  # the union's tag
        parts.append(f"{'.'.join(loc) or '(event)'}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _replace_dropped_connections_at_once(pool: Any) -> None:
    """Make the pool's pre-ping replace every dropped connection as soon as it meets one.

    After a database restart or failover every pooled connection is dead. The pool's own
    pre-ping finds them one per attempt and waits 1, 2, 4, 8... s between attempts (its
    guard against a busy loop): measured here, the first transaction after six dropped
    connections waited 29 s (a Kafka worker left its consumer group meanwhile). On the
    first dead one, this checks the whole pool at once (``ConnectionPool.check``: dead
    connections are replaced, live ones kept), so the next attempt gets a live one."""

    def check(conn: Any) -> None:
        try:
            pool.check_connection(conn)  # the pool's own pre-ping (a static method)
        except Exception:
            pool.check()
            raise

    pool._check = check  # the pool's pre-ping callback (psycopg_pool keeps it there)


def _is_database_error(exc: BaseException) -> bool:
    """Whether an exception comes from the database driver (sqlite3 or psycopg)."""
    import sqlite3

    if isinstance(exc, sqlite3.Error):
        return True
    module = type(exc).__module__ or ""
    return module.startswith("psycopg")


def _recorded_text(state: bytes) -> str:
    """The recorded_at text of a stored state (fixed-width ISO, comparable as text)."""
    marker = b'"recorded_at":"'
    i = state.index(marker) + len(marker)
    return state[i : i + 32].decode()


_INSTANT_LENGTH = 32
"""The length of a ``format_instant`` text."""

_SOURCE_MARKER = b'"source_recorded_at":"'


def _known_text(state: bytes) -> str:
    """The known-at text of a stored state: its source time (written last, when there is
    one), else its recorded time."""
    i = state.rfind(_SOURCE_MARKER)
    if i < 0:
        return _recorded_text(state)
    i += len(_SOURCE_MARKER)
    return state[i : i + 32].decode()


@contextlib.contextmanager
def _creation_lock(store_url: str) -> Iterator[None]:
    """Serialise first-time setup between processes starting at once: on PostgreSQL an
    advisory lock around CREATE SCHEMA/TABLE; on SQLite an exclusive lock on a file beside
    the database, around switching it to WAL mode and creating its table (both of which
    fail at once, rather than wait, when another connection races them)."""
    if store_url.startswith("sqlite:"):
        import fcntl

        path = sqlite_path(store_url)
        lock_path = path.with_name(path.name + ".lock")
        create_private(lock_path)
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    import psycopg
    from psycopg import sql

    parts = postgres_parts(store_url)
    with contextlib.closing(
        psycopg.connect(
            host=parts["host"],
            port=int(parts["port"]),
            user=parts["user"],
            password=parts["password"] or None,
            dbname=parts["dbname"],
            autocommit=True,
        )
    ) as conn:
        conn.execute(
            "SELECT pg_advisory_lock(hashtext(%s))", ("incentive-engine:" + parts["schema"],)
        )
        try:
            schema = sql.Identifier(parts["schema"])
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            yield
        finally:
            conn.execute(
                "SELECT pg_advisory_unlock(hashtext(%s))", ("incentive-engine:" + parts["schema"],)
            )


def _make_factory(
    store_url: str, lock_seconds: int = 30, pool_size: int = 2
) -> tuple[InfrastructureFactory[Any], str]:
    """Build the eventsourcing infrastructure factory for a store URL (a SQLite write waits
    ``lock_seconds`` for a lock another process holds; a PostgreSQL store keeps
    ``pool_size`` connections open, the library's default of 5 opened at start by every
    process and store)."""
    if store_url.startswith("sqlite:"):
        path = sqlite_path(store_url)
        # owner-only from the first byte; SQLite gives its -wal and -shm files this mode too
        create_private(path)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": str(lock_seconds),
            "ORIGINATOR_ID_TYPE": "text",
        }
        return InfrastructureFactory.construct(env), "sqlite"
    from incentive_engine.store import postgres_log  # psycopg is loaded only for PostgreSQL

    parts = postgres_parts(store_url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts["dbname"],
        "POSTGRES_HOST": parts["host"],
        "POSTGRES_PORT": parts["port"],
        "POSTGRES_USER": parts["user"],
        "POSTGRES_PASSWORD": parts["password"],
        "POSTGRES_SCHEMA": parts["schema"],
        "ORIGINATOR_ID_TYPE": "text",
        "POSTGRES_LOCK_TIMEOUT": "30",
        "POSTGRES_PRE_PING": "y",  # a connection dropped by the server is replaced, not used
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": "10",
        "APPLICATION_RECORDER_TOPIC": postgres_log.TOPIC,
    }
    return InfrastructureFactory.construct(env), "postgres"
