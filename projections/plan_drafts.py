"""Plan drafts: YAML text a plan admin is editing, kept beside the read models and never in
the log. A draft is not an event and never pays; only publishing it (a
``PlanVersionPublished`` event) does. One row per draft: its text, what it was based on,
who saved it last and when, and, once published, who published it, when and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Engine, Integer, String, Table, Text, select, update

from projections.base import metadata

drafts_table = Table(
    "plan_drafts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_id", String(200), nullable=True, index=True),
    Column("version", Integer, nullable=True),
    Column("based_on", String(300), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("saved_by", String(200), nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
    Column("published_by", String(200), nullable=True),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("published_event", String(300), nullable=True),
    Column("reason", String(500), nullable=True),
)


@dataclass(frozen=True)
class DraftRow:
    """A stored draft (instants in UTC)."""

    id: int
    plan_id: str | None
    version: int | None
    based_on: str
    text: str
    created_by: str
    created_at: datetime
    saved_by: str
    saved_at: datetime
    published_by: str | None = None
    published_at: datetime | None = None
    published_event: str | None = None
    reason: str | None = None

    @property
    def published(self) -> bool:
        """Whether the draft has been published."""
        return self.published_event is not None


def _utc(value: datetime | None) -> datetime | None:
    """An instant in UTC (SQLite returns it naive)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _row(mapping: Any) -> DraftRow:
    data = dict(mapping)
    for name in ("created_at", "saved_at", "published_at"):
        data[name] = _utc(data[name])
    return DraftRow(**data)


def insert_draft(
    views: Engine,
    *,
    text: str,
    based_on: str,
    by: str,
    at: datetime,
    plan_id: str | None,
    version: int | None,
) -> int:
    """Store a new draft; its id."""
    with views.begin() as conn:
        done = conn.execute(
            drafts_table.insert().values(
                text=text,
                based_on=based_on,
                created_by=by,
                created_at=at,
                saved_by=by,
                saved_at=at,
                plan_id=plan_id,
                version=version,
            )
        )
        key = done.inserted_primary_key
        assert key is not None
        return int(key[0])


def update_draft(
    views: Engine,
    draft_id: int,
    *,
    text: str,
    by: str,
    at: datetime,
    plan_id: str | None,
    version: int | None,
) -> bool:
    """Save a draft's new text (False when there is no such unpublished draft)."""
    with views.begin() as conn:
        done = conn.execute(
            update(drafts_table)
            .where(drafts_table.c.id == draft_id, drafts_table.c.published_event.is_(None))
            .values(text=text, saved_by=by, saved_at=at, plan_id=plan_id, version=version)
        )
        return bool(done.rowcount)


def mark_published(
    views: Engine, draft_id: int, *, by: str, at: datetime, event_id: str, reason: str
) -> None:
    """Note that a draft was published (by whom, when, as which event, why)."""
    with views.begin() as conn:
        conn.execute(
            update(drafts_table)
            .where(drafts_table.c.id == draft_id)
            .values(published_by=by, published_at=at, published_event=event_id, reason=reason)
        )


def find_draft(views: Engine, draft_id: int) -> DraftRow | None:
    """One draft, or None."""
    with views.connect() as conn:
        row = conn.execute(select(drafts_table).where(drafts_table.c.id == draft_id)).first()
    return None if row is None else _row(row._mapping)


def all_drafts(views: Engine) -> list[DraftRow]:
    """Every draft, the most recently saved first."""
    chosen = select(drafts_table).order_by(drafts_table.c.saved_at.desc(), drafts_table.c.id)
    with views.connect() as conn:
        return [_row(r._mapping) for r in conn.execute(chosen)]
