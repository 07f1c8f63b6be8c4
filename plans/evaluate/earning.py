"""Earning on invoice or payment (``earn_on``): how much of a won deal a period earns when a
plan pays on invoices issued or on cash received (hoa hồng trên doanh thu thực thu).

Everything here is in the deal's currency and for the whole deal (the rep's share and the
plan's currency are applied by ``credits``).  A deal earns, up to a day, a cumulative amount
that never exceeds its ceiling; a period earns what the cumulative amount grew by in it:

* ``payment``: cash received on the deal (payments on its invoices or on the deal, another
  currency counted at the FX rate of the received day), each payment less its refunds (a
  refund within the clawback window takes back ``clawback.share`` % of itself in the
  period of the payment it refunds: a closed period gets a prior-period adjustment).  The
  ceiling is the deal's amount after amendments (as the clawback rules count them): cash
  above it earns nothing.  A cancelled deal keeps what was paid: cash received is earned.
* ``invoice``: the deal's invoices, each in the period of its issue day.  An invoice
  cancelled within the clawback window (counted from its issue day) loses ``clawback.share``
  % of its part not paid.  The ceiling is the deal's amount for commission under the
  booking rules (a cancelled deal earns nothing more), but never less than the cash received
  on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from incentive_engine.domain.attainment import AttainmentError, convert
from incentive_engine.domain.events import InvoiceIssued, PaymentReceived
from incentive_engine.domain.facts import Billing, Deal, Facts
from incentive_engine.domain.periods import Period
from plans.evaluate.statement import HUNDRED, ZERO, EvaluationError
from plans.model import EarnOn, Plan


@dataclass(frozen=True)
class Earned:
    """What a period earns of a deal (deal currency, whole deal), the deal's ceiling, and
    the events behind the period's part."""

    amount: Decimal
    ceiling: Decimal
    event_ids: tuple[str, ...]


def _within(plan: Plan, start: date, day: date) -> bool:
    """Whether a day is inside the plan's clawback window counted from ``start``."""
    return (day - start).days <= plan.clawback.window_days


def _in_deal(facts: Facts, deal: Deal, payment: PaymentReceived, amount: Decimal) -> Decimal:
    """An amount of a payment in the deal's currency, at the rate of the received day."""
    won = deal.won
    assert won is not None
    try:
        return convert(
            facts, amount, payment.currency, won.currency, payment.received_date,
            f"payment {payment.payment_id}",
        )  # fmt: skip
    except AttainmentError as exc:
        raise EvaluationError(str(exc)) from None


def _kept(
    facts: Facts, plan: Plan, deal: Deal, billing: Billing, payment: PaymentReceived
) -> tuple[Decimal, list[str]]:
    """A payment in the deal's currency less the refunds clawed back, and their event ids."""
    amount, ids = payment.amount, []
    for refund in billing.refunds_of(payment.payment_id):
        if _within(plan, payment.received_date, refund.refunded_date):
            amount -= refund.amount * plan.clawback.share / HUNDRED
            ids.append(refund.event_id)
    return _in_deal(facts, deal, payment, max(amount, ZERO)), ids


def _unpaid_removed(
    facts: Facts, plan: Plan, deal: Deal, billing: Billing, invoice: InvoiceIssued
) -> tuple[Decimal, list[str]]:
    """What an invoice counts (its amount less the share of its unpaid part that a
    cancellation within the window removes), and the events of that cancellation."""
    cancel = facts.invoice_cancellations.get(invoice.invoice_id)
    if cancel is None or not _within(plan, invoice.issued_date, cancel.cancelled_date):
        return invoice.amount, []
    paid, ids = ZERO, [cancel.event_id]
    for payment in billing.payments_on(invoice.invoice_id):
        kept, refunds = _kept(facts, plan, deal, billing, payment)
        paid += kept
        ids += [payment.event_id, *refunds]
    unpaid = max(invoice.amount - paid, ZERO)
    return invoice.amount - unpaid * plan.clawback.share / HUNDRED, ids


def earned_in(
    facts: Facts, plan: Plan, deal: Deal, period: Period, amended: Decimal, booked: Decimal
) -> Earned:
    """What a period earns of a deal under ``plan.earn_on`` (invoice or payment), given the
    deal's amount after amendments (``amended``) and for commission at booking (``booked``)."""
    billing = facts.billing(deal.deal_id)
    before = period.start - timedelta(days=1)
    paid: list[tuple[date, Decimal, list[str]]] = []
    for payment in billing.payments:
        kept, refunds = _kept(facts, plan, deal, billing, payment)
        paid.append((payment.received_date, kept, [payment.event_id, *refunds]))
    if plan.earn_on is EarnOn.PAYMENT:
        ceiling, steps = amended, paid
    else:
        cash = min(sum((amount for _, amount, _ in paid), ZERO), amended)
        ceiling = max(booked, cash)
        steps = []
        for invoice in billing.invoices:
            counted, ids = _unpaid_removed(facts, plan, deal, billing, invoice)
            steps.append((invoice.issued_date, counted, [invoice.event_id, *ids]))

    def through(day: date) -> Decimal:
        total = sum((amount for when, amount, _ in steps if when <= day), ZERO)
        return min(max(total, ZERO), ceiling)

    events = [e for when, _, ids in steps if when in period for e in ids]
    return Earned(through(period.end) - through(before), ceiling, tuple(dict.fromkeys(events)))


def paid_in_full_on(facts: Facts, deal: Deal, amount: Decimal, last: date) -> date | None:
    """The first day, no later than ``last``, on which the payments received on a deal, net
    of their refunds, reach ``amount`` (in the deal's currency, counted as the billing checks
    count them: each payment at the FX rate of its received day, a refund as its share of
    that payment); None if they do not by then."""
    billing = facts.billing(deal.deal_id)
    steps: dict[date, Decimal] = {}
    for payment in billing.payments:
        in_deal = _in_deal(facts, deal, payment, payment.amount)
        day = payment.received_date
        steps[day] = steps.get(day, ZERO) + in_deal
        for refund in billing.refunds_of(payment.payment_id):
            back = in_deal * refund.amount / payment.amount if payment.amount else ZERO
            steps[refund.refunded_date] = steps.get(refund.refunded_date, ZERO) - back
    paid = ZERO
    for day in sorted(steps):
        if day > last:
            return None
        paid += steps[day]
        if paid >= amount:
            return day
    return None
