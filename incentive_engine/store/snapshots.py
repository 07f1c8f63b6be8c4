"""Snapshots of the folded facts at a log position, kept in the read-model database.

A snapshot is a header and sections.  The header is JSON: a magic string, the snapshot
format version, the fold version (``domain.facts.FOLD_VERSION``), the package version, the
log position, the number of events folded, the recorded-time high-water mark (the latest
``recorded_at`` of every event folded), a tag of the log (the sha256 of the stored record at
that position) and each section's length and sha256; the header's own sha256 follows it.
Each section is one field of the facts as plain JSON (``store.facts_codec``).

Loading checks, before decoding anything: the header's checksum, magic and versions, that
the log still holds the same record at the position, then each section's checksum.  A
snapshot failing any check is reported and ignored, never trusted: the caller folds from
zero (or an older snapshot) instead, and the next snapshot written replaces it.  Only the
newest ``KEEP`` snapshots are kept.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    exc,
    select,
)

import incentive_engine
from incentive_engine.domain import facts as fold
from incentive_engine.domain.events import EVENT_ADAPTER, Event
from incentive_engine.domain.facts import LAZY_EVENTS, LAZY_FIELDS, PIPELINE_EVENTS, Deal, Facts
from incentive_engine.store.event_store import EventStore
from incentive_engine.store.facts_codec import (
    EAGER_SECTIONS,
    SECTIONS,
    Pipeline,
    decode_section,
    encode_facts,
    facts_from_sections,
    fill_pipeline,
)

log = logging.getLogger(__name__)

MAGIC = "incentive-engine/fact-snapshot"
FORMAT_VERSION = 1
"""Bump when the header or the way sections are written changes."""
KEEP = 3
"""How many snapshots are kept (the newest, by position)."""

metadata = MetaData()
"""The snapshot tables (kept apart from the read models' metadata: store imports no
projection; the read-model database's migrations create them)."""

snapshots_table = Table(
    "fact_snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("position", BigInteger, nullable=False),
    Column("recorded_high", String(40), nullable=False),
    Column("header", LargeBinary, nullable=False),
)
sections_table = Table(
    "fact_snapshot_sections",
    metadata,
    Column("snapshot_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(40), primary_key=True),
    Column("body", LargeBinary, nullable=False),
)


class SnapshotRejected(Exception):
    """A stored snapshot that may not be used (corrupt, another version, another log)."""


@dataclass(frozen=True)
class Candidate:
    """A stored snapshot as listed (nothing verified yet)."""

    id: int
    position: int
    recorded_high: str


@dataclass(frozen=True)
class Header:
    """What a snapshot says about itself (verified by its checksum)."""

    position: int
    event_count: int
    recorded_high: str
    log_tag: str
    sections: dict[str, dict[str, Any]]

    def encode(self) -> bytes:
        """The header, stamped with this code's versions, as JSON followed by a newline and
        its own sha256 (hex)."""
        body = orjson.dumps(
            {
                "magic": MAGIC,
                "format": FORMAT_VERSION,
                "fold": fold.FOLD_VERSION,
                "package": incentive_engine.__version__,
                "position": self.position,
                "events": self.event_count,
                "recorded_high": self.recorded_high,
                "log_tag": self.log_tag,
                "sections": self.sections,
            },
            option=orjson.OPT_SORT_KEYS,
        )
        return body + b"\n" + _sha256(body).encode()

    @classmethod
    def decode(cls, data: bytes) -> Header:
        """Check a stored header (checksum, magic, versions) and read it."""
        body, sep, digest = bytes(data).rpartition(b"\n")
        if not sep or _sha256(body).encode() != digest:
            raise SnapshotRejected("header checksum mismatch (corrupted)")
        try:
            fields = orjson.loads(body)
        except orjson.JSONDecodeError as err:  # pragma: no cover - the checksum passed
            raise SnapshotRejected(f"unreadable header: {err}") from None
        if fields.get("magic") != MAGIC:
            raise SnapshotRejected("not a fact snapshot (bad magic)")
        found = (fields.get("format"), fields.get("fold"), fields.get("package"))
        wanted = (FORMAT_VERSION, fold.FOLD_VERSION, incentive_engine.__version__)
        for what, have, want in zip(("format", "fold", "package"), found, wanted, strict=True):
            if have != want:
                raise SnapshotRejected(f"{what} version {have} (this code: {want})")
        return cls(
            position=fields["position"],
            event_count=fields["events"],
            recorded_high=fields["recorded_high"],
            log_tag=fields["log_tag"],
            sections=fields["sections"],
        )


@dataclass(frozen=True)
class Written:
    """What writing a snapshot did."""

    id: int
    position: int
    bytes: int
    seconds: float


def log_tag(store: EventStore, position: int) -> str | None:
    """The sha256 of the stored record at a position (None if the log has none there): ties
    a snapshot to the log it was folded from."""
    for page in store.pages(position - 1, until=position, page_size=1):
        for found, state in page:
            if found == position:
                return _sha256(bytes(state))
    return None


class SnapshotStore:
    """Fact snapshots in a SQLAlchemy database (the read-model database, whose migrations
    create the tables: ``projections.schema``)."""

    def __init__(self, engine: Engine, *, keep: int = KEEP) -> None:
        self.engine = engine
        self.keep = keep

    def candidates(self, *, at_most: int | None = None) -> list[Candidate]:
        """Stored snapshots, newest (highest position) first, at or before a position."""
        t = snapshots_table
        query = select(t.c.id, t.c.position, t.c.recorded_high)
        if at_most is not None:
            query = query.where(t.c.position <= at_most)
        query = query.order_by(t.c.position.desc(), t.c.id.desc())
        with self.engine.connect() as conn:
            return [Candidate(i, p, r) for i, p, r in conn.execute(query)]

    def write(self, facts: Facts, *, position: int, recorded_high: str, tag: str) -> Written:
        """Store a snapshot of facts folded up to ``position`` and keep only the newest."""
        started = time.perf_counter()
        sections = encode_facts(facts)
        header = Header(
            position=position,
            event_count=facts.event_count,
            recorded_high=recorded_high,
            log_tag=tag,
            sections={n: {"bytes": len(b), "sha256": _sha256(b)} for n, b in sections.items()},
        )
        with self.engine.begin() as conn:
            snapshot_id = conn.execute(
                snapshots_table.insert().values(
                    position=position, recorded_high=recorded_high, header=header.encode()
                )
            ).inserted_primary_key[0]
            conn.execute(
                sections_table.insert(),
                [{"snapshot_id": snapshot_id, "name": n, "body": b} for n, b in sections.items()],
            )
            self._prune(conn)
        size = sum(len(b) for b in sections.values())
        return Written(snapshot_id, position, size, time.perf_counter() - started)

    def _prune(self, conn: Any) -> None:
        t = snapshots_table
        rows = conn.execute(select(t.c.id).order_by(t.c.position.desc(), t.c.id.desc())).all()
        stale = [r[0] for r in rows[self.keep :]]
        if stale:
            conn.execute(delete(sections_table).where(sections_table.c.snapshot_id.in_(stale)))
            conn.execute(delete(t).where(t.c.id.in_(stale)))

    def header(self, candidate: Candidate, store: EventStore) -> Header:
        """The verified header of a stored snapshot, or SnapshotRejected saying why."""
        with self.engine.connect() as conn:
            data = conn.execute(
                select(snapshots_table.c.header).where(snapshots_table.c.id == candidate.id)
            ).scalar()
        if data is None:
            raise SnapshotRejected("removed meanwhile")
        header = Header.decode(data)
        if (header.position, header.recorded_high) != (candidate.position, candidate.recorded_high):
            raise SnapshotRejected("listing does not match its header (corrupted)")
        if set(header.sections) != set(SECTIONS):
            raise SnapshotRejected(f"sections {sorted(header.sections)} (expected {SECTIONS})")
        if log_tag(store, header.position) != header.log_tag:
            raise SnapshotRejected(
                f"the log holds another record at position {header.position} (another store?)"
            )
        return header

    def load(self, candidate: Candidate, store: EventStore) -> tuple[Facts, Header]:
        """Verified facts of a stored snapshot (lazy sections supplied on first use), or
        SnapshotRejected saying why."""
        header = self.header(candidate, store)
        bodies = self._sections(candidate.id, EAGER_SECTIONS)
        for name in EAGER_SECTIONS:
            _verify(name, bodies.get(name), header)
        facts = facts_from_sections(bodies, header.event_count)
        for name in LAZY_FIELDS:
            facts.defer(name, _LazySection(self, candidate.id, name, header, store))
        pipeline = _LazyPipeline(self, candidate.id, header, store)
        for deal in facts.deals.values():
            deal.defer_pipeline(pipeline)
        return facts, header

    def _sections(self, snapshot_id: int, names: tuple[str, ...]) -> dict[str, bytes]:
        t = sections_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.name, t.c.body).where(
                    t.c.snapshot_id == snapshot_id, t.c.name.in_(names)
                )
            )
            return {name: bytes(body) for name, body in rows}


class _LazySection:
    """Supplies one lazy field of loaded facts on first use: from its verified section, or,
    should the section be gone or corrupt by then, by folding the log's events for that
    field up to the snapshot's position.  Thread-safe: concurrent readers wait for one load."""

    def __init__(
        self,
        snapshots: SnapshotStore,
        snapshot_id: int,
        name: str,
        header: Header,
        store: EventStore,
    ) -> None:
        self.snapshots, self.snapshot_id, self.name = snapshots, snapshot_id, name
        self.header, self.store = header, store
        self._lock = threading.Lock()

    def __call__(self, facts: Facts) -> None:
        with self._lock:
            if self.name in facts.deferred:
                facts.supply(self.name, self._value())

    def _value(self) -> Any:
        return _section(self.snapshots, self.snapshot_id, self.name, self.header, self.store)

    def __deepcopy__(self, memo: dict[int, Any]) -> _LazySection:
        """A copy of the facts gets its own loader (over the same snapshot)."""
        return _LazySection(self.snapshots, self.snapshot_id, self.name, self.header, self.store)


class _LazyPipeline:
    """Supplies the pipeline parts of each deal of loaded facts on first use, from the
    ``deal_pipeline`` section decoded once (or folded from the log, as for lazy fields)."""

    def __init__(
        self, snapshots: SnapshotStore, snapshot_id: int, header: Header, store: EventStore
    ) -> None:
        self.snapshots, self.snapshot_id = snapshots, snapshot_id
        self.header, self.store = header, store
        self._lock = threading.Lock()
        self._pipeline: dict[str, Pipeline] | None = None

    def __call__(self, deal: Deal) -> None:
        with self._lock:
            if self._pipeline is None:
                self._pipeline = _section(
                    self.snapshots, self.snapshot_id, "deal_pipeline", self.header, self.store
                )
            fill_pipeline(deal, self._pipeline)

    def __deepcopy__(self, memo: dict[int, Any]) -> _LazyPipeline:
        """Copies of the facts share it (filling copies the lists; events are immutable)."""
        return self


def _section(
    snapshots: SnapshotStore, snapshot_id: int, name: str, header: Header, store: EventStore
) -> Any:
    """A lazy section, verified and decoded; should it be gone or corrupt by now, the same
    value folded from the log's events for it up to the snapshot's position."""
    try:
        body = snapshots._sections(snapshot_id, (name,)).get(name)
        _verify(name, body, header)
        assert body is not None
        return decode_section(name, body)
    except (SnapshotRejected, exc.SQLAlchemyError) as err:
        log.warning("snapshot section %s unusable (%s): folding it from the log instead", name, err)
        return refold_section(store, name, header.position)


def refold_section(store: EventStore, name: str, position: int) -> Any:
    """A lazy section's value folded from the log's events for it, up to a position."""
    if name == "deal_pipeline":
        kinds: tuple[type[Event], ...] = PIPELINE_EVENTS
    else:
        kinds = tuple(t for t, field in LAZY_EVENTS.items() if field == name)
    facts = Facts()
    validate, loads = EVENT_ADAPTER.validate_python, orjson.loads
    types = [t.model_fields["type"].default for t in kinds]
    voided = store.voids(until=position)
    for page in store.pages(0, until=position, types=types):
        for _, state in page:
            data = loads(state)["event"]
            if data.get("event_id") in voided:
                continue  # left out as if never stored
            try:
                facts.apply(validate(data))
            except ValidationError:
                continue  # quarantined: the eager facts hold its marker
    if name == "deal_pipeline":
        return {i: (d.created, d.stages, d.lost) for i, d in facts.deals.items()}
    return getattr(facts, name)


def _verify(name: str, body: bytes | None, header: Header) -> None:
    """A section's bytes must be there, of the recorded length and checksum."""
    expected = header.sections[name]
    if body is None:
        raise SnapshotRejected(f"section {name} is missing")
    if len(body) != expected["bytes"] or _sha256(body) != expected["sha256"]:
        raise SnapshotRejected(f"section {name} checksum mismatch (corrupted)")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
