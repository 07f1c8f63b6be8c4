"""The searchable event log for finance and auditors: events in log order, filtered by type,
rep, deal, effective or recorded time range and an as-of cut on recorded time, a bounded
page at a time; and one event's stored content. Reads the event-index read models
(``projections.event_log``), caught up with the log before each search."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine as Views
from sqlalchemy.exc import IntegrityError

from incentive_engine.domain.errors import Invalid
from incentive_engine.domain.events import EVENT_CLASSES, event_content
from incentive_engine.services.engine import Engine
from projections.event_log import (
    EventDeals,
    EventFilter,
    EventIndex,
    ensure_search_indexes,
    event_row,
    find_events,
)
from projections.runner import ProjectionRunner

MAX_LIMIT = 200
"""Events per page at most."""
MAX_AFTER = 10**12
"""The largest log position a page may start after (a database integer, as the API's
offsets)."""
MAX_ID = 128
"""The longest rep or deal id (the index's column width)."""

_catching_up = threading.Lock()


class SearchInvalid(Invalid):
    """A search filter that cannot be used (``field`` names it)."""


@dataclass(frozen=True)
class EventQuery:
    """An event search: every filter optional; time bounds inclusive, in UTC."""

    types: tuple[str, ...] = ()
    rep: str | None = None
    deal: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    on: Literal["effective", "recorded"] = "effective"
    """Which clock ``since`` and ``until`` bound."""
    as_of: datetime | None = None
    """Only what was known by then (recorded, or known to the source of backfilled history)."""
    after: int = 0
    limit: int = 50

    def checked(self) -> EventQuery:
        """The query itself, or SearchInvalid naming the first filter that cannot be used."""
        for t in self.types:
            if t not in EVENT_CLASSES:
                raise SearchInvalid(f"unknown event type {t[:60]!r}", field="type")
        for name in ("rep", "deal"):
            value = getattr(self, name)
            if value is not None and (not value or len(value) > MAX_ID):
                raise SearchInvalid(f"{name} must be 1 to {MAX_ID} characters", field=name)
        if not 0 <= self.after <= MAX_AFTER:
            raise SearchInvalid(f"after must be a log position from 0 to {MAX_AFTER}", "after")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise SearchInvalid(f"limit must be from 1 to {MAX_LIMIT}", field="limit")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise SearchInvalid("the time range ends before it starts", field="until")
        return self

    def to_filter(self) -> EventFilter:
        """The read model's filter (the as-of cut is an upper bound on known time)."""
        recorded_to = self.until if self.on == "recorded" else None
        return EventFilter(
            types=self.types,
            rep=self.rep,
            deal=self.deal,
            effective_from=self.since if self.on == "effective" else None,
            effective_to=self.until if self.on == "effective" else None,
            recorded_from=self.since if self.on == "recorded" else None,
            recorded_to=recorded_to,
            known_to=self.as_of,
            after=self.after,
            limit=self.limit + 1,
        )


@dataclass(frozen=True)
class EventRow:
    """One event of the log as the search lists it."""

    position: int
    event_id: str
    type: str
    effective_at: datetime | None
    recorded_at: datetime | None
    source: str | None
    summary: str
    reps: tuple[str, ...]
    deals: tuple[str, ...]
    status: str
    """``voided``, ``quarantined`` or empty."""
    voided_by: str | None = None
    source_recorded_at: datetime | None = None
    """When the source system learned a backfilled event (None otherwise)."""


@dataclass(frozen=True)
class EventPage:
    """A page of the search: its rows and where the next page starts (None at the end)."""

    rows: list[EventRow]
    next_after: int | None
    head: int
    """The log's last position when the page was read."""


@dataclass(frozen=True)
class EventDetail:
    """One stored event: its row and its content as pretty JSON (None when it no longer
    decodes: a quarantined event, whose reason the row says)."""

    row: EventRow
    content: str | None


def catch_up(engine: Engine, views: Views) -> None:
    """Bring the event index and the deal table up to the log's end (one request at a time
    in this process; another process doing it at once is tolerated)."""
    with _catching_up:
        try:
            runner = ProjectionRunner(engine.store, views, [EventIndex(), EventDeals()])
            with views.begin() as conn:
                ensure_search_indexes(conn)
            runner.run()
        except IntegrityError:  # another process applied the same page first
            pass


def _utc(value: datetime | None) -> datetime | None:
    """An instant of the index as an aware UTC datetime (SQLite hands back naive ones)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _row(
    found: Any, reps: tuple[str, ...], deals: tuple[str, ...], voided: dict[str, str]
) -> EventRow:
    voided_by = voided.get(found.event_id)
    status = "voided" if voided_by else "quarantined" if found.quarantined else ""
    return EventRow(
        position=found.position,
        event_id=found.event_id,
        type=found.type,
        effective_at=_utc(found.effective_at),
        recorded_at=_utc(found.recorded_at),
        source=found.source,
        summary=found.summary if not found.quarantined else f"{found.summary}: {found.quarantined}",
        reps=reps,
        deals=deals,
        status=status,
        voided_by=voided_by,
        source_recorded_at=_utc(getattr(found, "source_recorded_at", None)),
    )


def _voided(engine: Engine) -> dict[str, str]:
    """Voided event id -> the approval's id, from the engine's caught-up facts (no scan)."""
    return {k: v.approval_id for k, v in engine.snapshot().facts.voided.items()}


def search_events(engine: Engine, views: Views, query: EventQuery) -> EventPage:
    """A page of events in log order matching the query (checked first)."""
    query.checked()
    catch_up(engine, views)
    with views.connect() as conn:
        found = find_events(conn, query.to_filter())
    voided = _voided(engine)
    rows = [_row(r, reps, deals, voided) for r, reps, deals in found[: query.limit]]
    more = len(found) > query.limit
    return EventPage(rows, rows[-1].position if more else None, engine.store.max_position())


def event_detail(engine: Engine, views: Views, position: int) -> EventDetail | None:
    """The event at a log position, with its stored content (None when there is none)."""
    if not 1 <= position <= MAX_AFTER:
        return None
    catch_up(engine, views)
    with views.connect() as conn:
        found = event_row(conn, position)
    if found is None:
        return None
    voided = _voided(engine)
    row = _row(found, (), (), voided)
    content = None
    if not found.quarantined:
        recorded = engine.store.get(found.event_id)
        if recorded is not None:
            content = json.dumps(
                event_content(recorded.event), ensure_ascii=False, indent=2, sort_keys=True
            )
    return EventDetail(row, content)
