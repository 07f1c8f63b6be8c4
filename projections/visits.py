"""Last visits of the home pages: when each user last looked at a rep's home page (their own,
or a report's), kept server-side so that "what changed since your last visit" follows the
person across browsers. One row per (viewer, rep), overwritten at each visit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Engine, Integer, String, Table, select, update
from sqlalchemy.exc import IntegrityError

from projections.base import metadata

visits_table = Table(
    "home_visits",
    metadata,
    Column("viewer", String(240), primary_key=True),
    Column("rep_id", String(200), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("position", Integer, nullable=False),
)


@dataclass(frozen=True)
class Visit:
    """A visit: when it began (UTC) and the log position the page showed."""

    at: datetime
    position: int


def last_visit(views: Engine, viewer: str, rep_id: str) -> Visit | None:
    """The viewer's previous visit of the rep's home page, or None for a first visit."""
    with views.connect() as conn:
        row = conn.execute(
            select(visits_table.c.at, visits_table.c.position).where(
                visits_table.c.viewer == viewer, visits_table.c.rep_id == rep_id
            )
        ).first()
    if row is None:
        return None
    at = row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=UTC)
    return Visit(at, row.position)


def remember_visit(views: Engine, viewer: str, rep_id: str, visit: Visit) -> None:
    """Remember this visit as the viewer's last of the rep's home page."""
    values = {"at": visit.at, "position": visit.position}
    with views.begin() as conn:
        done = conn.execute(
            update(visits_table)
            .where(visits_table.c.viewer == viewer, visits_table.c.rep_id == rep_id)
            .values(**values)
        )
        if done.rowcount:
            return
    try:
        with views.begin() as conn:
            conn.execute(visits_table.insert().values(viewer=viewer, rep_id=rep_id, **values))
    except IntegrityError:
        pass  # a visit of the same page at the same moment remembered it first
