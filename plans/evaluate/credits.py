"""A rep's credits and quota as a plan counts them: clawback rules and the plan's currency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from incentive_engine.domain.attainment import AttainmentError, deal_in, rep_quota
from incentive_engine.domain.facts import Credit, Deal, Facts
from incentive_engine.domain.periods import Period
from plans.evaluate.earning import earned_in
from plans.evaluate.statement import HUNDRED, ZERO, EvaluationError
from plans.model import EarnOn, Plan


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
    part: Decimal | None = None
    """Under ``earn_on`` invoice or payment: the part of the deal the period earns (earned /
    the deal's amount), to which per-deal tiers and fixed SPIFFs are paid pro rata; None
    when the whole deal is earned at booking."""

    def pro_rata(self, amount: Decimal) -> Decimal:
        """An amount for the whole deal times the part of it the period earns."""
        return amount if self.part is None else amount * self.part

    @property
    def deal_id(self) -> str:
        """The deal's id."""
        return self.deal.deal_id


def clawback_amount(
    deal: Deal, plan: Plan, *, cancellation: bool = True
) -> tuple[Decimal, tuple[str, ...]]:
    """A deal's amount for commission: upward amendments always count, downward ones and
    cancellations only within the clawback window (a cancellation removes ``share`` %);
    ``cancellation=False`` gives the amount as it stood before the deal was cancelled."""
    amount, ids = amended_amount(deal, plan)
    cancel = deal.cancellation if cancellation else None
    if cancel is not None and in_window(plan, deal, cancel.cancelled_date):
        amount = amount * (HUNDRED - plan.clawback.share) / HUNDRED
        ids = (*ids, cancel.event_id)
    return amount, ids


def amended_amount(deal: Deal, plan: Plan) -> tuple[Decimal, tuple[str, ...]]:
    """A deal's amount after amendments as the clawback rules count them (upward ones always,
    downward ones within the window), cancellation aside."""
    won = deal.won
    assert won is not None
    amount, ids = won.amount, [won.event_id]
    for a in deal.amendments:
        if a.amount >= amount or in_window(plan, deal, a.effective):
            amount = a.amount
            ids.append(a.event_id)
    return amount, tuple(ids)


def credits_for(facts: Facts, plan: Plan, rep_id: str, period: Period) -> list[Credited]:
    """The rep's credits the period earns, after clawback rules: for deals closed in it, or
    under ``earn_on`` invoice or payment, for the deals invoiced or paid in it."""
    if plan.earn_on is None or plan.earn_on is EarnOn.BOOKING:
        pairs = facts.credits_by_rep(period, by=plan.crediting).get(rep_id, [])
        return [credited(facts, plan, deal, credit) for deal, credit in pairs]
    found = []
    for deal in facts.billed_deals(period, by=plan.earn_on.value):
        for credit in facts.credits(deal, by=plan.crediting):
            if credit.rep_id == rep_id:
                found.append(earned_credit(facts, plan, deal, credit, period))
    return found


def in_window(plan: Plan, deal: Deal, day: date) -> bool:
    """Whether a day falls within the plan's clawback window after the deal's close."""
    won = deal.won
    assert won is not None
    return (day - won.close_date).days <= plan.clawback.window_days


def clawed_by_cancellation(plan: Plan, deal: Deal) -> bool:
    """Whether the deal's cancellation falls within the clawback window (and so lowers it)."""
    cancel = deal.cancellation
    return cancel is not None and in_window(plan, deal, cancel.cancelled_date)


def uncancelled(facts: Facts, plan: Plan, c: Credited) -> Credited:
    """A credit as it stood before its deal's cancellation (what was earned, then clawed)."""
    amount, _ = clawback_amount(c.deal, plan, cancellation=False)
    amount = in_plan_currency(facts, plan, c.deal, amount)
    return Credited(c.deal, c.credit, amount * c.credit.share / HUNDRED, amount, c.event_ids)


def credited(facts: Facts, plan: Plan, deal: Deal, credit: Credit) -> Credited:
    """A rep's credit for a deal as booked, after clawback rules, in the plan's currency."""
    amount, ids = clawback_amount(deal, plan)
    amount = in_plan_currency(facts, plan, deal, amount)
    own = amount * credit.share / HUNDRED
    events = tuple(dict.fromkeys((*credit.event_ids, *ids)))
    return Credited(deal, credit, own, amount, events)


def earned_credit(facts: Facts, plan: Plan, deal: Deal, credit: Credit, period: Period) -> Credited:
    """A rep's credit for the part of a deal a period earns on invoice or payment
    (``plans.evaluate.earning``), in the plan's currency."""
    amended, ids = amended_amount(deal, plan)
    booked, _ = clawback_amount(deal, plan)
    earned = earned_in(facts, plan, deal, period, amended, booked)
    part = earned.amount / earned.ceiling if earned.ceiling else ZERO
    amount = in_plan_currency(facts, plan, deal, earned.amount)
    whole = in_plan_currency(facts, plan, deal, earned.ceiling)
    events = tuple(dict.fromkeys((*credit.event_ids, *ids, *earned.event_ids)))
    return Credited(deal, credit, amount * credit.share / HUNDRED, whole, events, part)


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
