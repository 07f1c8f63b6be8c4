"""Adjustments of closed periods: the first open period after a closed one carries, per
closed period, what its recomputed result now differs from what was paid and sealed."""

from __future__ import annotations

from decimal import Decimal

from incentive_engine.domain.events import QuotaSubject
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.isolation import concerns
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.evaluate.book import PlanBook
from plans.evaluate.context import Context
from plans.evaluate.lines import period_lines
from plans.evaluate.statement import PRIOR, ZERO
from plans.model import EarnOn


def _first_open_after(facts: Facts, period: Period) -> Period:
    current = period.next()
    while str(current) in facts.closed_periods:
        current = current.next()
    return current


def _paid(facts: Facts, period: Period, rep_id: str, plan_id: str) -> tuple[Decimal, Decimal]:
    """(earned as sealed in the period's close, adjustments for it sealed in later closes)."""
    closed = facts.closed_periods[str(period)]
    earned = sum(
        (p.earned for p in closed.payouts if p.rep_id == rep_id and p.plan_id == plan_id), ZERO
    )
    adjusted = ZERO
    later = period.next()
    while str(later) in facts.closed_periods:
        for p in facts.closed_periods[str(later)].payouts:
            if p.rep_id == rep_id and p.plan_id == plan_id:
                adjusted += sum((a.amount for a in p.adjustments if a.period == str(period)), ZERO)
        later = later.next()
    return earned, adjusted


def prior_periods(
    facts: Facts,
    book: PlanBook | None,
    version: PlanVersion,
    rep_id: str,
    period: Period,
    ctx: Context,
) -> None:
    """Adjustment lines for closed periods whose first open successor is this period."""
    if str(period) in facts.closed_periods:
        sealed = facts.closed_periods[str(period)]
        for p in sealed.payouts:
            if p.rep_id == rep_id and p.plan_id == version.plan.plan_id:
                for a in p.adjustments:
                    ctx.add(
                        component=f"prior:{a.period}",
                        kind=PRIOR,
                        description=(
                            f"adjustment for {a.period}, as sealed when {period} was closed"
                        ),
                        amount=a.amount,
                        event_ids=(sealed.event_id,),
                    )
        return
    for name in sorted(facts.closed_periods):
        try:
            closed = Period.parse(name)
        except ValueError:  # pragma: no cover - names are validated at ingest
            continue
        if (
            closed.kind != period.kind
            or not closed < period
            or _first_open_after(facts, closed) != period
        ):
            continue
        then = version
        if book is not None:
            then = book.in_force(version.plan.plan_id, closed.end) or version
        sealed_at = facts.recorded.get(facts.closed_periods[name].event_id, "")
        recomputed = period_lines(facts, then, rep_id, closed, book=book)
        now_total = sum((ln.amount for ln in recomputed.drafts), ZERO)
        earned, adjusted = _paid(facts, closed, rep_id, version.plan.plan_id)
        delta = now_total - earned - adjusted
        if delta == 0:
            continue
        behind = dict.fromkeys(e for ln in recomputed.drafts for e in ln.event_ids)
        behind.update(dict.fromkeys(_touching(facts, then, rep_id, closed)))
        causes = tuple(e for e in behind if facts.recorded.get(e, "") > sealed_at) or tuple(behind)
        ctx.add(
            component=f"prior:{name}",
            kind=PRIOR,
            description=(
                f"adjustment for closed period {name}: recomputed {ctx.fmt(now_total)} "
                f"- paid {ctx.fmt(earned + adjusted)}"
            ),
            amount=ctx.money(delta),
            base=now_total,
            deal_ids=tuple(dict.fromkeys(d for ln in recomputed.drafts for d in ln.deal_ids)),
            event_ids=causes,
        )


def _touching(facts: Facts, version: PlanVersion, rep_id: str, period: Period) -> list[str]:
    """Pay events of a period that concern a rep, whether they now credit the rep or no longer
    do: the deals closed in it that name the rep (in any split) or fall in a territory the rep
    owned at some point, their territory's ownership changes, the invoices or payments of the
    period that credit the rep (under ``earn_on``), the rep's quota, manual adjustments, and
    the plan version."""
    found: list[str] = []
    for deal in facts.won_deals(period):
        won = deal.won
        assert won is not None
        named = {won.rep_id, *(s.rep_id for s in won.splits or ())}
        named |= {s.rep_id for a in deal.amendments for s in a.splits or ()}
        placed = facts.territory_for(deal)
        territory = placed[0] if placed else None
        ownerships = (
            [o for o in territory.ownerships if o.effective <= period.end] if territory else []
        )
        owned = [o for o in ownerships if any(s.rep_id == rep_id for s in o.owners)]
        if rep_id in named or owned:
            found += deal.pay_event_ids
            found += [o.event_id for o in ownerships]
    earn_on = version.plan.earn_on
    if earn_on is not None and earn_on is not EarnOn.BOOKING:
        for deal in facts.billed_deals(period, by=earn_on.value):
            if any(c.rep_id == rep_id for c in facts.credits(deal, by=version.plan.crediting)):
                found += facts.billing(deal.deal_id).event_ids_in(period, by=earn_on.value)
    entries = facts.quotas.get((QuotaSubject.REP, rep_id, str(period)), [])
    found += [q.event_id for q in entries]
    for m in facts.manual_adjustments.get((rep_id, str(period)), []):
        found += facts.adjustment_event_ids(m)
    found.append(version.event_id)
    plan_id = version.plan.plan_id
    found += [
        v.approval_id
        for v in facts.voided.values()
        if concerns(v, rep_id, plan_id, period.start, period.end)
        and (v.day is None or v.day >= period.start or v.plan_id == plan_id)
    ]
    return found
