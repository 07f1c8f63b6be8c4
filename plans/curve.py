"""The payout curve of a plan: what its attainment-driven components pay at each level of quota
attainment for a given quota (pure: no I/O, no clock).

Each point runs the evaluator's own handlers (``plans.evaluate.components``) on one
synthetic credit of ``quota x attainment`` that matches every filter, so the curve is the
rules themselves, never a copy of them: graduated and retroactive tiers, flat rates,
target-incentive bands, gates and caps all read exactly as on a statement. Components that
do not depend on attainment (per-deal SPIFFs, tiers on each deal's amount, rates on margin,
the filtered rules of an exclusive group, a manager's override, a draw) are named in
``left_out`` instead; a group's unfiltered rule is plotted (it pays deals no more specific
rule matches).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from incentive_engine.domain.events import DealWon
from incentive_engine.domain.facts import Credit, Deal, Facts
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.evaluate.components import handler_for
from plans.evaluate.context import Context
from plans.evaluate.credits import Credited
from plans.model import ON_MARGIN, Measure, Plan, RateComponent, RateMode, TargetIncentive

HUNDRED = Decimal(100)
LEVELS: tuple[Decimal, ...] = tuple(Decimal(x) for x in range(0, 201, 10))
"""Attainment levels of the default curve, in percent: 0, 10, ..., 200."""


@dataclass(frozen=True)
class CurvePoint:
    """The payout at one attainment level: revenue credited, each component's pay, total."""

    attainment: Decimal
    revenue: Decimal
    by_component: tuple[Decimal, ...]

    @property
    def total(self) -> Decimal:
        """What the plotted components pay together."""
        return sum(self.by_component, Decimal(0))


@dataclass(frozen=True)
class Curve:
    """The payout of the plotted components at each level, and the components left out."""

    quota: Decimal
    currency: str
    components: tuple[str, ...]
    """Ids of the components on the curve, in plan order."""
    points: tuple[CurvePoint, ...]
    left_out: tuple[str, ...]


def on_curve(component: object) -> bool:
    """Whether a component's pay is a function of attainment (and so is plotted)."""
    if isinstance(component, TargetIncentive):
        return True
    if isinstance(component, RateComponent):
        if component.measure in ON_MARGIN or (component.group and component.filter):
            return False  # margin is not revenue; a group's filtered rules pay specific deals
        return component.mode is RateMode.FLAT or component.measure is Measure.ATTAINMENT
    return False


def payout_curve(
    plan: Plan, quota: Decimal, levels: Sequence[Decimal] = LEVELS, period: Period | None = None
) -> Curve:
    """The payout at each attainment level (percent) for a quota, by the evaluator's handlers;
    ValueError when the quota is not positive."""
    if quota <= 0:
        raise ValueError("the quota must be above zero")
    version = PlanVersion.draft(plan)
    shown = [c for c in plan.components if on_curve(c)]
    when = period or Period.containing(plan.effective_from, plan.period)
    points = []
    for level in levels:
        revenue = quota * level / HUNDRED
        credits = [_credit(revenue, plan.currency, when)] if revenue > 0 else []
        paid = []
        for comp in shown:
            unfiltered = comp.model_copy(update={"filter": ()}) if comp.kind == "rate" else comp
            ctx = _context(version, when, credits, quota)
            handler_for(comp).pay(ctx, unfiltered)
            paid.append(ctx.earned)
        points.append(CurvePoint(level, revenue, tuple(paid)))
    left = tuple(c.id for c in plan.components if not on_curve(c))
    return Curve(quota, plan.currency, tuple(c.id for c in shown), tuple(points), left)


def _credit(revenue: Decimal, currency: str, period: Period) -> Credited:
    """One synthetic won deal of the revenue, credited whole (filters are left out)."""
    won = DealWon(
        event_id="curve",
        deal_id="curve",
        amount=revenue,
        currency=currency,
        close_date=period.start,
        product_group="curve",
        customer={"customer_id": "curve", "region": "-", "customer_type": "business",
                  "industry": "-"},
    )  # fmt: skip
    credit = Credit("curve", "curve", HUNDRED, revenue, currency, "rep", None, ())
    return Credited(Deal("curve", won=won), credit, revenue, revenue, ())


def _context(
    version: PlanVersion, period: Period, credits: list[Credited], quota: Decimal
) -> Context:
    """A rep's period holding only the synthetic credit and the quota."""

    def elsewhere(_: Period) -> Context:  # pragma: no cover - no plotted kind reads it
        raise ValueError("the payout curve evaluates one period")

    return Context(Facts(), version, "curve", period, credits, quota, (), elsewhere)
