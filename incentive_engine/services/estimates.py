"""What if I close this deal? The use case every door shares: the request resolved against
the engine's facts (the open opportunity it wins, the customer, the plan's currency, today
as the close date), the visibility rule asked, and the pure estimate
(``incentive_engine.domain.estimates``) made on the engine's snapshot.  Nothing is written:
an estimate is a read of pay."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from incentive_engine.domain import limits
from incentive_engine.domain.estimates import (
    HYPOTHETICAL,
    DealInput,
    Estimate,
    EstimateInvalid,
    EstimateRefused,
    Opportunity,
    Vocabulary,
    check_vocabulary,
    customers_of,
    estimate,
    hypothetical_deal,
    open_opportunities,
    plans_for,
    vocabulary,
)
from incentive_engine.domain.events import Customer
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.visibility import Figure, Viewer, check, figure_day
from incentive_engine.services.commissions import Snapshot
from incentive_engine.settings import Settings

__all__ = [
    "Choices",
    "DealRequest",
    "Estimate",
    "EstimateInvalid",
    "EstimateRefused",
    "choices",
    "estimate_deal",
]

NEW_CUSTOMER = "what-if-customer"
"""The customer id of an imagined new customer (never stored)."""


@dataclass(frozen=True)
class DealRequest:
    """What a door asks: the amount, and optionally the currency (the plan's by default), the
    close date (today by default), the product group, the open opportunity it wins (which
    gives the customer, product group and currency), an existing customer of the rep's, or
    a new customer's dimensions."""

    amount: Decimal
    currency: str | None = None
    close_date: date | None = None
    product_group: str | None = None
    opportunity_id: str | None = None
    customer_id: str | None = None
    region: str | None = None
    customer_type: str | None = None
    industry: str | None = None
    size: str | None = None
    ownership: str | None = None


@dataclass(frozen=True)
class Choices:
    """What the estimator's form offers a rep: their open opportunities and customers, the
    vocabulary of the deal's dimensions, and the default currency."""

    rep_id: str
    currency: str | None
    opportunities: list[Opportunity]
    customers: list[Customer]
    words: Vocabulary
    plans: list[str] = field(default_factory=list)


_words_lock = threading.Lock()
_words: dict[tuple[int, int, date, tuple[str, ...]], Vocabulary] = {}


def words_of(snap: Snapshot, day: date) -> Vocabulary:
    """The vocabulary on the day for the facts as they stand (kept until the log moves: it
    reads every deal)."""
    versions = tuple(snap.book.versions)
    key = (id(snap.facts), snap.facts.event_count, day, tuple(v.content_hash for v in versions))
    with _words_lock:
        found = _words.get(key)
    if found is None:
        found = vocabulary(snap.facts, versions, day)
        with _words_lock:
            _words.clear()
            _words[key] = found
    return found


def allowed(viewer: Viewer, rep_id: str, facts: Facts, day: date) -> None:
    """Forbidden unless the viewer may see the rep's pay of the day: a figure that reveals
    what a deal would pay is pay (a rep their own, a manager their reports' too)."""
    check(viewer, rep_id, facts, day, "pay", Figure.MONEY)


def choices(snap: Snapshot, viewer: Viewer, rep_id: str, day: date) -> Choices:
    """The form's choices for a deal of the rep closed on the day."""
    allowed(viewer, rep_id, snap.facts, day)
    found = plans_for(snap.facts, snap.book, rep_id, day)
    for _, period in found:
        allowed(viewer, rep_id, snap.facts, figure_day(period))
    return Choices(
        rep_id,
        found[0][0].plan.currency if found else None,
        open_opportunities(snap.facts, rep_id),
        customers_of(snap.facts, rep_id),
        words_of(snap, day),
        [f"{v.plan.plan_id} v{v.plan.version}" for v, _ in found],
    )


def deal_input(snap: Snapshot, rep_id: str, ask: DealRequest, day: date) -> DealInput:
    """The imagined deal, its blanks filled from the opportunity, the customer and the plan."""
    facts = snap.facts
    customer: dict[str, object] | None = None
    product_group, currency = ask.product_group, ask.currency
    if ask.opportunity_id:
        opportunity = next(
            (o for o in open_opportunities(facts, rep_id) if o.deal_id == ask.opportunity_id),
            None,
        )
        if opportunity is None:
            raise EstimateInvalid(
                f"{ask.opportunity_id!r} is not an open opportunity of {rep_id}",
                field="opportunity_id",
            )
        customer = opportunity.customer.model_dump()
        product_group = product_group or opportunity.product_group
        currency = currency or opportunity.currency
    elif ask.customer_id and ask.customer_id != NEW_CUSTOMER:
        known = next(
            (c for c in customers_of(facts, rep_id) if c.customer_id == ask.customer_id), None
        )
        if known is None:
            raise EstimateInvalid(
                f"{ask.customer_id!r} is not a customer of {rep_id}", field="customer_id"
            )
        customer = {**known.model_dump(), "is_new": False}
    if customer is None:
        customer = {
            "customer_id": NEW_CUSTOMER,
            "region": ask.region,
            "customer_type": ask.customer_type or "business",
            "industry": ask.industry,
            "size": ask.size or None,
            "ownership": ask.ownership or None,
            "is_new": True,
        }
        for name in ("region", "industry"):
            if not customer[name]:
                raise EstimateInvalid(f"customer.{name}: give one", field=f"customer.{name}")
    if not product_group:
        raise EstimateInvalid("product_group: give one", field="product_group")
    if currency is None:
        found = plans_for(facts, snap.book, rep_id, day)
        currency = found[0][0].plan.currency if found else "VND"
    return DealInput(
        amount=ask.amount,
        currency=currency.upper(),
        close_date=day,
        product_group=product_group,
        customer={k: v for k, v in customer.items() if v is not None},
        opportunity_id=ask.opportunity_id or None,
    )


def estimate_deal(
    snap: Snapshot,
    viewer: Viewer,
    rep_id: str,
    ask: DealRequest,
    *,
    today: date,
    settings: Settings | None = None,
) -> Estimate:
    """What closing the deal would add to the rep's pay of its period, line by line, on the
    snapshot's facts (nothing written).  Forbidden unless the viewer may see the rep's pay;
    ``EstimateInvalid`` (naming the field) or ``EstimateRefused`` otherwise."""
    day = ask.close_date or today
    allowed(viewer, rep_id, snap.facts, day)
    if rep_id not in snap.facts.reps:
        raise EstimateRefused(f"unknown rep {rep_id!r}", field="rep")
    settings = settings or Settings()
    window = limits.DateWindow(settings.date_earliest, settings.date_latest)
    deal = hypothetical_deal(rep_id, deal_input(snap, rep_id, ask, day), window=window)
    for _, period in plans_for(snap.facts, snap.book, rep_id, day):
        allowed(viewer, rep_id, snap.facts, figure_day(period))
    check_vocabulary(deal, words_of(snap, day))
    if deal.deal_id != HYPOTHETICAL and deal.deal_id not in snap.facts.deals:
        raise EstimateInvalid(f"unknown opportunity {deal.deal_id!r}", field="opportunity_id")
    return estimate(snap.facts, snap.book, rep_id, deal)
