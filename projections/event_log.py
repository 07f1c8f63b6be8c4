"""Read models of the log itself: an index to list and filter events (by type, rep, deal,
effective and recorded time), and counts by type."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from incentive_engine.domain.events import describe
from incentive_engine.domain.isolation import Quarantined
from incentive_engine.store.event_store import RecordedEvent
from projections.base import Projection, metadata

event_index = Table(
    "event_index",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("event_id", String(128), nullable=False, unique=True),
    Column("type", String(40), nullable=False, index=True),
    Column("effective_at", DateTime(timezone=True), index=True),
    Column("recorded_at", DateTime(timezone=True)),
    # When the source system learned a backfilled event (None otherwise), and when the event
    # was known: that source time, else the recorded time (the as-of cut).
    Column("source_recorded_at", DateTime(timezone=True)),
    Column("known_at", DateTime(timezone=True)),
    Column("source", Text),
    Column("summary", Text, nullable=False),
    # Why a stored event that does not validate is left out of the fold (None otherwise);
    # its times are then unknown (None) unless its effective day can be read.
    Column("quarantined", Text),
)
event_reps = Table(
    "event_reps",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("rep_id", String(128), primary_key=True),
    Index("ix_event_reps_rep", "rep_id", "position"),
)
event_deals = Table(
    "event_deals",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("deal_id", String(128), primary_key=True),
    Index("ix_event_deals_deal", "deal_id", "position"),
)
recorded_index = Index("ix_event_index_recorded_at", event_index.c.recorded_at)
"""Added beside the event index by ``EventDeals`` (the index table predates it): the
recorded-time filters of the event search."""
known_index = Index("ix_event_index_known_at", event_index.c.known_at)
"""The as-of cut of the event search (known time: source time of backfilled events)."""
event_counts = Table(
    "event_counts",
    metadata,
    Column("type", String(40), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("last_position", Integer, nullable=False),
)


class EventIndex(Projection):
    """One row per event (type, effective, recorded and known time, source, summary) and its
    reps."""

    name = "event_index"
    version = 3
    tables = (event_index, event_reps)

    def reset(self, conn: Connection) -> None:
        """Drop and recreate the tables (version 2 added the quarantined column, version 3
        the source and known times)."""
        for table in reversed(self.tables):
            table.drop(conn, checkfirst=True)
        for table in self.tables:
            table.create(conn)

    def quarantined(self, conn: Connection, markers: Sequence[Quarantined]) -> None:
        """List stored events that do not validate, with what can be read of them."""
        ids = [q.key for q in markers]
        taken = set(
            conn.execute(
                select(event_index.c.event_id).where(event_index.c.event_id.in_(ids))
            ).scalars()
        )
        rows = []
        for q in markers:
            day = q.day
            rows.append(
                {
                    "position": q.position,
                    "event_id": q.key if q.key not in taken else f"position:{q.position}",
                    "type": (q.type or "(unreadable)")[:40],
                    "effective_at": datetime.combine(day, time(), UTC) if day else None,
                    "recorded_at": None,
                    "source_recorded_at": None,
                    "known_at": None,
                    "source": None,
                    "summary": q.describe(),
                    "quarantined": q.reason,
                }
            )
            taken.add(rows[-1]["event_id"])
        conn.execute(event_index.insert(), rows)
        reps = [{"position": q.position, "rep_id": rep} for q in markers for rep in q.rep_ids]
        if reps:
            conn.execute(event_reps.insert(), reps)

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Insert index rows for the page."""
        conn.execute(
            event_index.insert(),
            [
                {
                    "position": r.position,
                    "event_id": r.event.event_id,
                    "type": r.event.type,  # type: ignore[attr-defined]
                    "effective_at": r.event.effective_at,
                    "recorded_at": r.recorded_at,
                    "source_recorded_at": r.source_recorded_at,
                    "known_at": r.known_at,
                    "source": r.source,
                    "summary": describe(r.event),
                }
                for r in events
            ],
        )
        reps = [
            {"position": r.position, "rep_id": rep} for r in events for rep in r.event.rep_ids()
        ]
        if reps:
            conn.execute(event_reps.insert(), reps)


class EventDeals(Projection):
    """The deal each event names (deal and opportunity events, activities on a deal), for
    the event search's deal filter; also adds the recorded-time index of ``event_index``."""

    name = "event_deals"
    tables = (event_deals,)

    def reset(self, conn: Connection) -> None:
        """Recreate the table, and the recorded-time index when missing."""
        event_deals.drop(conn, checkfirst=True)
        event_deals.create(conn)
        ensure_search_indexes(conn)

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Insert a row per event that names a deal."""
        rows = [
            {"position": r.position, "deal_id": deal}
            for r in events
            if (deal := getattr(r.event, "deal_id", None))
        ]
        if rows:
            conn.execute(event_deals.insert(), rows)


def ensure_search_indexes(conn: Connection) -> None:
    """Create the event search's indexes when missing (once per database: a no-op after)."""
    recorded_index.create(conn, checkfirst=True)
    known_index.create(conn, checkfirst=True)


NARROW = 5000
"""A filter matching fewer events than this drives the search: its positions are read from
its index, then the page is cut from them in log order. A wider time range is walked in
position order from its first position (read from its index)."""


WINDOW = 20_000
"""A wide time range is first looked for in the next this many log positions."""
MAX_POSITION = 2**62


@dataclass(frozen=True)
class EventFilter:
    """What the event search filters on (every bound inclusive, instants in UTC)."""

    types: tuple[str, ...] = ()
    rep: str | None = None
    deal: str | None = None
    effective_from: datetime | None = None
    effective_to: datetime | None = None
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    known_to: datetime | None = None
    """The as-of cut: known (source time of backfilled events, else recorded) by then."""
    after: int = 0
    limit: int = 50


def _bounded(query: Any, column: Any, lo: datetime | None, hi: datetime | None) -> Any:
    """The query with an inclusive time range on a column."""
    if lo is not None:
        query = query.where(column >= lo)
    if hi is not None:
        query = query.where(column <= hi)
    return query


def _count(conn: Connection, probe: Any, most: int) -> int:
    """How many rows a query matches, counting at most ``most`` (an index-only count)."""
    found = conn.execute(select(func.count()).select_from(probe.limit(most).subquery()))
    return int(found.scalar_one())


def find_events(conn: Connection, wanted: EventFilter) -> list[Any]:
    """One page of the event index in log order (positions after ``wanted.after``), at most
    ``wanted.limit`` rows, each with the reps and deals it names.

    The plan is chosen here rather than left to SQLite's planner, which has no statistics
    and would sort a wide time range or walk a common type's index: a selective filter (a
    rep, a deal, a narrow time range, rare types) drives, the others are checked on the rows
    it finds; without one, the log is walked in position order (from a time range's first
    position)."""
    ix = event_index.c
    sqlite = conn.dialect.name == "sqlite"

    def plain(column: Any) -> Any:
        return _unindexed(column) if sqlite else column

    query = select(
        ix.position,
        ix.event_id,
        ix.type,
        ix.effective_at,
        ix.recorded_at,
        ix.source_recorded_at,
        ix.source,
        ix.summary,
        ix.quarantined,
    )
    floor = wanted.after
    # the page starts after ``floor`` (one bound: SQLite walks from a single one)
    # A rep or a deal drives through its own index, (id, position): the page walks that id's
    # events in log order, however few of them pass the other filters.
    driven = wanted.rep is not None or wanted.deal is not None
    order = ix.position
    if wanted.rep is not None:
        order = event_reps.c.position
        query = query.select_from(
            event_reps.join(event_index, event_reps.c.position == ix.position)
        ).where(event_reps.c.rep_id == wanted.rep)
    if wanted.deal is not None:
        deal = select(event_deals.c.position).where(event_deals.c.deal_id == wanted.deal)
        if wanted.rep is None:
            order = event_deals.c.position
            query = query.select_from(
                event_deals.join(event_index, event_deals.c.position == ix.position)
            ).where(event_deals.c.deal_id == wanted.deal)
        else:
            query = query.where(ix.position.in_(deal))
    walks: list[tuple[Any, datetime | None, datetime | None, Any]] = []
    for column, lo, hi in (
        (ix.effective_at, wanted.effective_from, wanted.effective_to),
        (ix.recorded_at, wanted.recorded_from, wanted.recorded_to),
        (ix.known_at, None, wanted.known_to),
    ):
        if lo is None and hi is None:
            continue
        in_range = _bounded(select(ix.position).where(column.is_not(None)), column, lo, hi)
        found = _count(conn, in_range, NARROW)  # the whole range: stops at NARROW
        if found < NARROW:
            driven = True
            later = in_range.where(ix.position > wanted.after)
            query = query.where(ix.position.in_(list(conn.execute(later).scalars())))
            continue
        walks.append((column, lo, hi, in_range.where(plain(ix.position) > wanted.after)))
    for column, lo, hi, _ in walks:
        query = _bounded(query, plain(column), lo, hi)
    if wanted.types:
        common = select(ix.type).where(ix.type.in_(wanted.types))
        rare = not driven and _count(conn, common, NARROW) < NARROW
        query = query.where((ix.type if rare else plain(ix.type)).in_(wanted.types))
    query = query.order_by(order)
    rows: list[Any] = []
    if walks:  # a wide time range: first the next WINDOW positions (dense ranges end here)
        window = query.where(order > floor, order <= floor + WINDOW)
        rows = list(conn.execute(window.limit(wanted.limit)))
        floor += WINDOW
        for *_, later in walks if len(rows) < wanted.limit else ():
            # then from the range's first position, read through its time index
            first = conn.execute(select(func.min(later.subquery().c.position))).scalar()
            if first is None:
                floor = MAX_POSITION
            floor = max(floor, (first or 0) - 1)
    if len(rows) < wanted.limit and floor < MAX_POSITION:
        more = query.where(order > floor).limit(wanted.limit - len(rows))
        rows.extend(conn.execute(more))
    reps: dict[int, list[str]] = {}
    deals: dict[int, list[str]] = {}
    positions = [r.position for r in rows]
    if positions:
        for position, rep in conn.execute(
            select(event_reps.c.position, event_reps.c.rep_id)
            .where(event_reps.c.position.in_(positions))
            .order_by(event_reps.c.position, event_reps.c.rep_id)
        ):
            reps.setdefault(position, []).append(rep)
        for position, deal in conn.execute(
            select(event_deals.c.position, event_deals.c.deal_id).where(
                event_deals.c.position.in_(positions)
            )
        ):
            deals.setdefault(position, []).append(deal)
    return [(r, tuple(reps.get(r.position, ())), tuple(deals.get(r.position, ()))) for r in rows]


def _unindexed(column: Any) -> Any:
    """The column as an expression SQLite will not use an index for (``+column``)."""
    from sqlalchemy import literal_column

    return literal_column(f"+{column.table.name}.{column.name}", type_=column.type)


def event_row(conn: Connection, position: int) -> Any | None:
    """The event index's row at a log position (None when there is none)."""
    return conn.execute(select(event_index).where(event_index.c.position == position)).first()


class EventCounts(Projection):
    """How many events of each type the log holds: a counter, so double application shows."""

    name = "event_counts"
    tables = (event_counts,)

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Add the page's events to the counters."""
        counts = Counter(r.event.type for r in events)  # type: ignore[attr-defined]
        last = {r.event.type: r.position for r in events}  # type: ignore[attr-defined]
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        for type_, n in sorted(counts.items()):
            stmt = insert(event_counts).values(type=type_, count=n, last_position=last[type_])
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["type"],
                    set_={"count": event_counts.c.count + n, "last_position": last[type_]},
                )
            )


def count_by_type(conn: Connection) -> dict[str, int]:
    """Events per type, from the counts read model."""
    rows = conn.execute(select(event_counts.c.type, event_counts.c.count).order_by("type"))
    return {t: n for t, n in rows}
