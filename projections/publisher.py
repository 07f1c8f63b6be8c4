"""The notification publisher: follows the log with a tracking position and publishes, to an
outbound topic keyed by rep, what changed for whom (statement changed, period closed,
dispute updated), each with a stable notification id so consumers can deduplicate.

Delivery is at least once: notifications of a page are sent and flushed before the page's
tracking position is committed, so a crash may send a page again, with the same ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from incentive_engine.events import (
    DealAmended,
    DealCancelled,
    DealWon,
    Event,
    ManualAdjustment,
    PeriodClosed,
    QuotaChanged,
    QuotaSet,
    QuotaSubject,
    TerritoryAssigned,
    TerritoryReassigned,
)
from incentive_engine.facts import Facts
from incentive_engine.store import EventStore, RecordedEvent
from projections.base import Projection


@dataclass(frozen=True)
class Notification:
    """One rep's news: what changed, caused by which event (id = kind:event:rep, stable)."""

    kind: str
    rep_id: str
    event_id: str
    period: str | None = None

    @property
    def notification_id(self) -> str:
        """The stable id consumers deduplicate on."""
        return f"{self.kind}:{self.event_id}:{self.rep_id}"

    def value(self) -> bytes:
        """The message value (JSON)."""
        return json.dumps(
            {
                "id": self.notification_id,
                "kind": self.kind,
                "rep_id": self.rep_id,
                "event_id": self.event_id,
                "period": self.period,
            }
        ).encode()


def notifications(
    facts: Facts, event: Event, owners_before: Iterable[str] = ()
) -> list[Notification]:
    """Who an event changes things for (pure; ``facts`` already include the event)."""
    reps: list[str] = []
    kind, period = "statement_changed", None
    match event:
        case DealWon() | DealAmended() | DealCancelled():
            deal = facts.deals.get(event.deal_id)
            if deal is not None:
                reps = [c.rep_id for c in facts.credits(deal)]
        case TerritoryAssigned() | TerritoryReassigned():
            reps = [*owners_before, *(s.rep_id for s in event.owners)]
        case QuotaSet() | QuotaChanged():
            reps = [event.subject_id] if event.subject is QuotaSubject.REP else []
            period = event.period
        case ManualAdjustment():
            reps, period = [event.rep_id], event.period
        case PeriodClosed():
            kind, period = "period_closed", event.period
            reps = [p.rep_id for p in event.payouts]
        case _ if event.type.startswith("Dispute"):  # type: ignore[attr-defined]
            kind = "dispute_updated"
            rep = getattr(event, "rep_id", None)
            reps = [rep] if rep else []
    return [Notification(kind, r, event.event_id, period) for r in dict.fromkeys(reps)]


class Publisher(Projection):
    """Publishes notifications for every event after its tracking position."""

    name = "publisher"

    def __init__(self, producer: object, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.facts = Facts()
        self.sent = 0

    def prime(self, store: EventStore, position: int) -> None:
        """Fold the history up to the tracking position (already published) so that later
        events find what they change (the reps a cancelled deal credited)."""
        for page in store.events(until=position):
            self.facts.apply_recorded(page)

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Fold the page and send its notifications (flushed before the position commits)."""
        for recorded in events:
            event = recorded.event
            before: list[str] = []
            if isinstance(event, TerritoryAssigned | TerritoryReassigned):
                territory = self.facts.territories.get(event.territory_id)
                ownership = territory.ownership_on(event.effective_date) if territory else None
                before = [s.rep_id for s in ownership.owners] if ownership else []
            self.facts.apply(event)
            for n in notifications(self.facts, event, before):
                self.producer.send(self.topic, key=n.rep_id.encode(), value=n.value())  # type: ignore[attr-defined]
                self.sent += 1
        self.producer.flush()  # type: ignore[attr-defined]
