"""Read models of the log itself: an index to list and filter events, and counts by type."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, time

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
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
event_counts = Table(
    "event_counts",
    metadata,
    Column("type", String(40), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("last_position", Integer, nullable=False),
)


class EventIndex(Projection):
    """One row per event (type, effective and recorded time, source, summary) and its reps."""

    name = "event_index"
    version = 2
    tables = (event_index, event_reps)

    def reset(self, conn: Connection) -> None:
        """Drop and recreate the tables (version 2 added the quarantined column)."""
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
