"""What changed for a rep: the recorded events that concern them (deals credited to them won,
amended or cancelled, their lost opportunities, quotas, territory ownership, adjustments,
period closes, plan versions covering them, disputes of their statements), as plain records
a page turns into sentences in the reader's language (pure).

Each change keeps its recorded time (ISO text, as the store stamps it) and the plan period
whose pay it touches (None for what is not a period's figure), so a door shows only what
the reader may see and only what was recorded since their last visit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from incentive_engine.domain.events import (
    DealLost,
    DisputeCommented,
    DisputeRaised,
    DisputeResolved,
    Event,
    PlanVersionPublished,
    QuotaSubject,
)
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period

Kind = Literal[
    "deal_won",
    "deal_amended",
    "deal_cancelled",
    "deal_lost",
    "quota_set",
    "quota_changed",
    "territory_gained",
    "territory_lost",
    "adjustment",
    "period_closed",
    "plan_published",
    "dispute_raised",
    "dispute_commented",
    "dispute_resolved",
]


@dataclass(frozen=True)
class Change:
    """One recorded event that concerns a rep: when it was recorded, its id, what kind of
    change it is, the plan period it touches (None: not a period's figure) and the fields
    its sentence is built from."""

    recorded: str
    event_id: str
    kind: Kind
    period: str | None
    values: dict[str, Any] = field(default_factory=dict, compare=False)


def _period_of(day: date, periods: Sequence[Period]) -> str | None:
    for p in periods:
        if day in p:
            return str(p)
    return None


def changes_from_facts(
    facts: Facts,
    rep_id: str,
    periods: Sequence[Period],
    *,
    crediting: Iterable[Literal["named", "territory"]] = ("named",),
    plans: Iterable[PlanVersionPublished] = (),
) -> list[Change]:
    """The folded events of the given plan periods that concern the rep: deals credited to
    them (by the crediting of their plans) won, amended or cancelled; their quotas; manual
    adjustments; closes sealing their pay; territories they gained or lost; and the plan
    versions given (those covering them). Newest recorded first."""
    found: list[Change] = []
    when = facts.recorded
    seen: set[str] = set()
    for period in periods:
        name = str(period)
        for by in dict.fromkeys(crediting):
            for deal, credit in facts.credits_by_rep(period, by=by).get(rep_id, []):
                if deal.deal_id in seen:
                    continue
                seen.add(deal.deal_id)
                won = deal.won
                assert won is not None
                found.append(
                    Change(
                        when.get(won.event_id, ""),
                        won.event_id,
                        "deal_won",
                        name,
                        {
                            "deal": deal.deal_id,
                            "amount": won.amount * credit.share / 100,
                            "currency": won.currency,
                            "share": credit.share,
                            "day": won.close_date,
                        },
                    )
                )
                for a in deal.amendments:
                    found.append(
                        Change(
                            when.get(a.event_id, ""),
                            a.event_id,
                            "deal_amended",
                            name,
                            {
                                "deal": deal.deal_id,
                                "amount": a.amount,
                                "currency": won.currency,
                                "day": a.effective,
                                "reason": a.reason,
                            },
                        )
                    )
                cancel = deal.cancellation
                if cancel is not None:
                    found.append(
                        Change(
                            when.get(cancel.event_id, ""),
                            cancel.event_id,
                            "deal_cancelled",
                            name,
                            {
                                "deal": deal.deal_id,
                                "day": cancel.cancelled_date,
                                "reason": cancel.reason,
                            },
                        )
                    )
        for q in facts.quotas.get((QuotaSubject.REP, rep_id, name), []):
            found.append(
                Change(
                    when.get(q.event_id, ""),
                    q.event_id,
                    "quota_changed" if q.rank else "quota_set",
                    name,
                    {"amount": q.amount, "currency": q.currency, "day": q.effective},
                )
            )
        for m in facts.manual_adjustments.get((rep_id, name), []):
            found.append(
                Change(
                    when.get(m.event_id, ""),
                    m.event_id,
                    "adjustment",
                    name,
                    {"amount": m.amount, "currency": m.currency, "reason": m.reason},
                )
            )
        closed = facts.closed_periods.get(name)
        if closed is not None:
            paid = [p for p in closed.payouts if p.rep_id == rep_id]
            if paid:
                found.append(
                    Change(
                        when.get(closed.event_id, ""),
                        closed.event_id,
                        "period_closed",
                        name,
                        {
                            "total": sum((p.total for p in paid), Decimal(0)),
                            "currency": _currency(facts, paid[0].plan_id),
                        },
                    )
                )
    found += _territories(facts, rep_id, periods)
    for e in plans:
        found.append(
            Change(
                when.get(e.event_id, ""),
                e.event_id,
                "plan_published",
                None,
                {"plan": e.plan_id, "version": e.version, "day": e.effective_from},
            )
        )
    return newest_first(found)


def _currency(facts: Facts, plan_id: str) -> str:
    """The currency a plan pays in (its latest published version's)."""
    versions = facts.plan_versions.get(plan_id, {})
    if not versions:
        return ""
    return str(versions[max(versions)].document.get("currency", ""))


def _territories(facts: Facts, rep_id: str, periods: Sequence[Period]) -> list[Change]:
    """Ownership changes that gave the rep a territory or took one from them."""
    found: list[Change] = []
    for tid in sorted(facts.territories):
        territory = facts.territories[tid]
        before: set[str] = set()
        for o in territory.ownerships:
            owners = {s.rep_id for s in o.owners}
            gained, lost = rep_id in owners - before, rep_id in before - owners
            before = owners
            if not (gained or lost):
                continue
            definition = territory.definition_on(o.effective) or territory.current
            found.append(
                Change(
                    facts.recorded.get(o.event_id, ""),
                    o.event_id,
                    "territory_gained" if gained else "territory_lost",
                    _period_of(o.effective, periods),
                    {
                        "territory": definition.name if definition else tid,
                        "day": o.effective,
                        "others": ", ".join(sorted(owners - {rep_id})) or "–",
                    },
                )
            )
    return found


def changes_from_log(
    facts: Facts, rep_id: str, events: Iterable[tuple[Event, str]], periods: Sequence[Period]
) -> list[Change]:
    """The rep's lost opportunities and the disputes of their statements, from (event,
    recorded-at) pairs of the log (these are not folded into facts). Newest first."""
    found: list[Change] = []
    disputes: dict[str, str] = {}
    for event, recorded in events:
        if isinstance(event, DisputeRaised):
            if event.rep_id != rep_id:
                continue
            disputes[event.dispute_id] = event.period
            found.append(
                Change(
                    recorded,
                    event.event_id,
                    "dispute_raised",
                    event.period,
                    {"dispute": event.dispute_id, "line": event.line, "by": event.raised_by},
                )
            )
        elif isinstance(event, DisputeCommented) and event.dispute_id in disputes:
            found.append(
                Change(
                    recorded,
                    event.event_id,
                    "dispute_commented",
                    disputes[event.dispute_id],
                    {"dispute": event.dispute_id, "by": event.author},
                )
            )
        elif isinstance(event, DisputeResolved) and event.dispute_id in disputes:
            found.append(
                Change(
                    recorded,
                    event.event_id,
                    "dispute_resolved",
                    disputes[event.dispute_id],
                    {
                        "dispute": event.dispute_id,
                        "outcome": event.outcome.value,
                        "by": event.resolved_by,
                    },
                )
            )
        elif isinstance(event, DealLost):
            deal = facts.deals.get(event.deal_id)
            created = deal.created if deal is not None else None
            if created is None or created.rep_id != rep_id:
                continue
            found.append(
                Change(
                    recorded,
                    event.event_id,
                    "deal_lost",
                    _period_of(event.lost_date, periods),
                    {"deal": event.deal_id, "day": event.lost_date, "reason": event.reason},
                )
            )
    return newest_first(found)


def newest_first(changes: Iterable[Change]) -> list[Change]:
    """Changes by recorded time, newest first (ties by event id, for a stable order)."""
    return sorted(changes, key=lambda c: (c.recorded, c.event_id), reverse=True)


def since(changes: Iterable[Change], instant: str | None) -> list[Change]:
    """The changes recorded strictly after an instant (ISO text; None: all of them)."""
    return [c for c in changes if instant is None or c.recorded > instant]
