"""The notification publisher: follows the log with a tracking position and publishes, to an
outbound topic keyed by rep, what changed for whom (statement changed, rank changed, badge
awarded, period closed, dispute updated), each with a stable notification id so consumers
can deduplicate.

Delivery is at least once: notifications of a page are sent and flushed before the page's
tracking position is committed, so a crash may send a page again, with the same ids.
Statement, period and dispute news is per event.  Rank and badge news compares the points
boards and the badges held before and after each page of the log: a badge's id names the
badge, its scope and the day it was earned (earned once, announced once); a rank change's
id names the board, the move and the log position it was seen at, so a page sent again
repeats its ids (a page first read up to the log's head may, when sent again, have grown
and report the latest rank under a new id: rank news is state, "you are now 3rd").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from incentive_engine.domain.events import (
    DealAmended,
    DealCancelled,
    DealWon,
    Event,
    EventVoidApproved,
    ManualAdjustment,
    PeriodClosed,
    QuotaChanged,
    QuotaSet,
    QuotaSubject,
    TerritoryAssigned,
    TerritoryReassigned,
)
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.leaderboards import LeaderboardError, Metric, ranking
from incentive_engine.domain.periods import Period, PeriodKind
from incentive_engine.store.event_store import EventStore, RecordedEvent
from plans.documents import PlanError, PlanVersion
from plans.evaluate import EvaluationError, PlanBook
from plans.points import Badge, badges
from projections.base import Projection


@dataclass(frozen=True)
class Notification:
    """One rep's news: what changed, caused by which event; the id is stable (kind, what it
    is about, rep) so consumers can deduplicate."""

    kind: str
    rep_id: str
    event_id: str
    period: str | None = None
    about: str | None = None
    """What the news is about when the causing event alone does not say (a badge, a move)."""
    detail: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def notification_id(self) -> str:
        """The stable id consumers deduplicate on."""
        return f"{self.kind}:{self.about or self.event_id}:{self.rep_id}"

    def value(self) -> bytes:
        """The message value (JSON)."""
        return json.dumps(
            {
                "id": self.notification_id,
                "kind": self.kind,
                "rep_id": self.rep_id,
                "event_id": self.event_id,
                "period": self.period,
                **self.detail,
            },
            ensure_ascii=False,
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
            return _closed(facts, event)
        case _ if event.type.startswith("Dispute"):  # type: ignore[attr-defined]
            kind = "dispute_updated"
            rep = getattr(event, "rep_id", None)
            reps = [rep] if rep else []
    return [Notification(kind, r, event.event_id, period) for r in dict.fromkeys(reps)]


def _closed(facts: Facts, event: PeriodClosed) -> list[Notification]:
    """A closed period's news for each rep paid in it, with the total paid and its currency
    (pay: the notifier delivers it only to readers allowed to see it)."""
    currencies: dict[tuple[str, int], str | None] = {}
    paid: dict[str, tuple[Decimal, str | None]] = {}
    for payout in event.payouts:
        key = (payout.plan_id, payout.version)
        if key not in currencies:
            found = facts.plan_versions.get(payout.plan_id, {}).get(payout.version)
            try:
                currencies[key] = PlanVersion.from_event(found).plan.currency if found else None
            except PlanError:
                currencies[key] = None
        total, currency = paid.get(payout.rep_id, (Decimal(0), currencies[key]))
        if currency != currencies[key]:  # two plans paying in two currencies: no one total
            currency = None
        paid[payout.rep_id] = (total + payout.total, currency)
    return [
        Notification(
            "period_closed",
            rep_id,
            event.event_id,
            event.period,
            detail={"total": str(total), "currency": currency} if currency else {},
        )
        for rep_id, (total, currency) in paid.items()
    ]


@dataclass(frozen=True)
class Standings:
    """The gamification a page of the log can change: points ranks per plan period (reps who
    scored) and the badges each rep holds."""

    ranks: dict[str, dict[str, tuple[int, Decimal]]] = field(default_factory=dict)
    """period -> rep -> (rank, points)."""
    badges: dict[str, dict[tuple[str, str, date], Badge]] = field(default_factory=dict)
    """rep -> (badge id, scope, earned on) -> badge."""


def standings(facts: Facts, days: Iterable[date], until: date | None) -> Standings:
    """Points ranks in the plan periods containing the given days, and every rep's badges
    held on ``until`` (pure)."""
    book = PlanBook.from_facts(facts)
    gamified = [v for v in book.versions if v.plan.points is not None or v.plan.badges]
    if not gamified:
        return Standings()
    periods = {Period.containing(d, v.plan.period) for d in days for v in gamified}
    ranks: dict[str, dict[str, tuple[int, Decimal]]] = {}
    for period in sorted(periods, key=lambda p: (p.start, p.end)):
        try:
            order = ranking(facts, book, Metric.POINTS, period)
        except (LeaderboardError, EvaluationError):
            continue
        scored = [(rep_id, value) for rep_id, value, _ in order if value != 0]
        ranks[str(period)] = {r: (i, v) for i, (r, v) in enumerate(scored, start=1)}
    held: dict[str, dict[tuple[str, str, date], Badge]] = {}
    if until is not None:
        day = Period.containing(until, PeriodKind.DAY)
        for rep_id in sorted(facts.reps):
            for version in book.gamified_for(facts, rep_id, day):
                for b in badges(facts, version, rep_id, until):
                    held.setdefault(rep_id, {})[(b.badge_id, b.scope, b.earned_on)] = b
    return Standings(ranks, held)


def gamification_news(
    before: Standings, after: Standings, event_id: str, position: int
) -> list[Notification]:
    """Rank changes and new badges between two standings (pure); ``event_id`` and
    ``position`` are the last event of the page that moved them."""
    news: list[Notification] = []
    for period, board in after.ranks.items():
        old = before.ranks.get(period, {})
        for rep_id in sorted(set(board) | set(old)):
            was, now = old.get(rep_id, (None, None)), board.get(rep_id, (None, None))
            if was[0] == now[0]:
                continue
            move = f"{was[0] or '-'}>{now[0] or '-'}"
            news.append(
                Notification(
                    "rank_changed",
                    rep_id,
                    event_id,
                    period,
                    about=f"points/{period}/{move}@{position}",
                    detail={
                        "metric": "points",
                        "rank_before": was[0],
                        "rank": now[0],
                        "points": None if now[1] is None else str(now[1]),
                    },
                )
            )
    for rep_id, held in sorted(after.badges.items()):
        for key, badge in sorted(held.items()):
            if key in before.badges.get(rep_id, {}):
                continue
            badge_id, scope, earned_on = key
            news.append(
                Notification(
                    "badge_awarded",
                    rep_id,
                    badge.event_ids[-1] if badge.event_ids else event_id,
                    scope or None,
                    about=f"{badge_id}/{scope or '-'}/{earned_on.isoformat()}",
                    detail={
                        "badge_id": badge_id,
                        "name": badge.name,
                        "earned_on": earned_on.isoformat(),
                        "event_ids": list(badge.event_ids),
                    },
                )
            )
    return news


class Publisher(Projection):
    """Publishes notifications for every event after its tracking position.

    It starts from the facts at its tracking position, handed in by the door that runs it
    (``prime``), and steps them one event at a time, since what an event changes for whom
    is the difference between the facts before and after it."""

    name = "publisher"

    def __init__(
        self,
        producer: object,
        topic: str,
        *,
        store: EventStore | None = None,
        refold: Callable[[int], tuple[Facts, date | None]] | None = None,
    ) -> None:
        """Publish to ``topic``; with ``store`` and ``refold`` (the facts folded up to a log
        position, from the door), voided events are left out as the fold leaves them out,
        and a void approved after its target was published starts the facts again without
        it and tells the reps it concerned."""
        self.producer = producer
        self.topic = topic
        self.store = store
        self.refold = refold
        self.facts: Facts | None = None
        self.sent = 0
        self.last_day: date | None = None
        """The latest effective day folded: badges are those held on it."""

    def prime(self, facts: Facts, last_day: date | None) -> None:
        """Start from the facts at the tracking position (already published; the publisher's
        own copy, which it steps) and the latest effective day among them, so that later
        events find what they change (the reps a cancelled deal credited)."""
        self.facts, self.last_day = facts, last_day

    def _saw(self, day: date) -> None:
        if self.last_day is None or day > self.last_day:
            self.last_day = day

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Step the facts through the page and send its notifications (flushed before the
        position commits)."""
        if not events:
            return
        if self.facts is None:
            raise RuntimeError("prime the publisher with the facts at its tracking position")
        days = sorted({r.event.effective_day for r in events})
        for day in days:
            self._saw(day)
        before = standings(self.facts, days, self.last_day)
        voided = self.store.voids(until=events[-1].position) if self.store is not None else {}
        for recorded in events:
            event = recorded.event
            if event.event_id in voided:
                continue  # left out of every figure, as the fold leaves it out
            if isinstance(event, EventVoidApproved) and self._unfold(recorded, voided):
                continue
            owners: list[str] = []
            if isinstance(event, TerritoryAssigned | TerritoryReassigned):
                territory = self.facts.territories.get(event.territory_id)
                ownership = territory.ownership_on(event.effective_date) if territory else None
                owners = [s.rep_id for s in ownership.owners] if ownership else []
            self.facts.apply(event)
            self._send(notifications(self.facts, event, owners))
        after = standings(self.facts, days, self.last_day)
        last = events[-1]
        self._send(gamification_news(before, after, last.event.event_id, last.position))
        self.producer.flush()  # type: ignore[attr-defined]

    def _unfold(self, recorded: RecordedEvent, voided: Mapping[str, str]) -> bool:
        """An approved void: tell the reps its target concerned that their statements
        changed, and start the facts again without it (from the door's fold up to the
        approval). Whether it was one (an approval that counts)."""
        approval = recorded.event
        assert isinstance(approval, EventVoidApproved)
        if self.store is None or self.refold is None:
            return False
        if voided.get(approval.target_event_id) != approval.event_id:
            return False  # an approval that breaks the two-person rule counts for nothing
        try:
            target = self.store.get(approval.target_event_id)
        except ValueError:  # a quarantined target was never folded nor published
            return True
        if target is None:
            return True
        assert self.facts is not None
        reps = notifications(self.facts, target.event)
        self.facts, self.last_day = self.refold(recorded.position)
        self._send(
            Notification(n.kind, n.rep_id, approval.event_id, n.period, about=n.about) for n in reps
        )
        return True

    def _send(self, news: Iterable[Notification]) -> None:
        for n in news:
            self.producer.send(self.topic, key=n.rep_id.encode(), value=n.value())  # type: ignore[attr-defined]
            self.sent += 1
