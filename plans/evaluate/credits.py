"""A rep's credits and quota as a plan counts them: clawback rules and the plan's currency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from incentive_engine.domain.attainment import AttainmentError, deal_in, rep_quota
from incentive_engine.domain.facts import Credit, Deal, Facts
from incentive_engine.domain.periods import Period
from plans.evaluate.statement import HUNDRED, EvaluationError
from plans.model import Plan


@dataclass(frozen=True)
class Credited:
    """A rep's credit for one deal after clawback rules, with the events behind it."""

    deal: Deal
    credit: Credit
    amount: Decimal
    """The rep's share of the deal amount for commission."""
    deal_amount: Decimal
    """The whole deal's amount for commission (after clawback rules): what deal-amount
    tiers and amount filters measure."""
    event_ids: tuple[str, ...]

    @property
    def deal_id(self) -> str:
        """The deal's id."""
        return self.deal.deal_id


def clawback_amount(deal: Deal, plan: Plan) -> tuple[Decimal, tuple[str, ...]]:
    """A deal's amount for commission: upward amendments always count, downward ones and
    cancellations only within the clawback window (a cancellation removes ``share`` %)."""
    won = deal.won
    assert won is not None
    window = plan.clawback.window_days

    def within(day: date) -> bool:
        return (day - won.close_date).days <= window

    amount, ids = won.amount, [won.event_id]
    for a in deal.amendments:
        if a.amount >= amount or within(a.effective):
            amount = a.amount
            ids.append(a.event_id)
    cancel = deal.cancellation
    if cancel is not None and within(cancel.cancelled_date):
        amount = amount * (HUNDRED - plan.clawback.share) / HUNDRED
        ids.append(cancel.event_id)
    return amount, tuple(ids)


def credited(facts: Facts, plan: Plan, deal: Deal, credit: Credit) -> Credited:
    """One credit as the plan counts it: clawback rules, then the plan's currency."""
    amount, ids = clawback_amount(deal, plan)
    amount = in_plan_currency(facts, plan, deal, amount)
    own = amount * credit.share / HUNDRED
    events = tuple(dict.fromkeys((*credit.event_ids, *ids)))
    return Credited(deal, credit, own, amount, events)


def credits_for(facts: Facts, plan: Plan, rep_id: str, period: Period) -> list[Credited]:
    """The rep's credits for deals closed in the period, after clawback rules."""
    pairs = facts.credits_by_rep(period, by=plan.crediting).get(rep_id, [])
    return [credited(facts, plan, deal, credit) for deal, credit in pairs]


def quota_for(
    facts: Facts, plan: Plan, rep_id: str, period: Period
) -> tuple[Decimal, tuple[str, ...]] | None:
    """The rep's quota for the period in the plan's currency (prorated if the plan says so)."""
    try:
        quota = rep_quota(facts, rep_id, period, currency=plan.currency, prorate=plan.prorate_quota)
    except AttainmentError as exc:
        raise EvaluationError(f"{exc} (plan {plan.plan_id} pays in {plan.currency})") from None
    return (quota[0], quota[2]) if quota else None


def in_plan_currency(facts: Facts, plan: Plan, deal: Deal, amount: Decimal) -> Decimal:
    """An amount of a deal converted to the plan's currency (an EvaluationError without a rate)."""
    try:
        return deal_in(facts, deal, amount, plan.currency)
    except AttainmentError as exc:
        raise EvaluationError(str(exc)) from None
