"""The next step a rep can reach in a plan: the gate not yet passed, or the next tier or band
on attainment above the rep's, and how much more credited revenue reaches it (pure).

Read from the plan model's components (``RateComponent`` tiers and gate measured on
attainment, ``TargetIncentive`` bands and gate, the thresholds and band points of a
``KpiBonus`` on the rep's own attainment); tiers measured on each deal's amount, and KPI
bonuses on another KPI or on a team's or territory's, have no attainment step. A lower
bound is inclusive, as the evaluator reads it: at exactly 50 % the [50 %, 100 %) tier is
reached, and the next step is 100 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from incentive_engine.domain.money import round_money
from incentive_engine.domain.vocabulary import PayableKpi
from plans.model import (
    KpiBonus,
    KpiScope,
    Measure,
    Plan,
    RateComponent,
    RateMode,
    TargetIncentive,
)

HUNDRED = Decimal(100)

StepKind = Literal["gate", "tier", "band", "kpi"]


@dataclass(frozen=True)
class NextStep:
    """The lowest attainment step above the rep's: which component, gate, tier or band, its
    bound in percent of quota, its rate (tier, in percent) or multiplier (band), and the
    credited revenue still needed to reach it, in the plan's currency (``kpi``: a KPI bonus's
    threshold or band point on attainment, its rate the percent of target there, if any)."""

    component: str
    label: str
    kind: StepKind
    bound: Decimal
    rate: Decimal | None
    revenue_needed: Decimal
    currency: str


Candidate = tuple[Decimal, str, str, StepKind, Decimal | None]
"""(bound, component id, label, kind, rate or multiplier) of one step."""


def _candidates(plan: Plan, attainment: Decimal) -> list[Candidate]:
    """Every attainment step of the plan above the rep's attainment."""
    found: list[Candidate] = []
    for comp in plan.components:
        if isinstance(comp, RateComponent):
            if comp.gate is not None and attainment < comp.gate:
                found.append((comp.gate, comp.id, comp.label, "gate", None))
            if comp.mode is not RateMode.FLAT and comp.measure is Measure.ATTAINMENT:
                for tier in comp.tiers:
                    if tier.start > attainment:
                        found.append((tier.start, comp.id, comp.label, "tier", tier.rate))
        elif isinstance(comp, TargetIncentive):
            if comp.gate is not None and attainment < comp.gate:
                found.append((comp.gate, comp.id, comp.label, "gate", None))
            for band in comp.bands:
                if band.start > attainment:
                    found.append((band.start, comp.id, comp.label, "band", band.multiplier))
        elif (
            isinstance(comp, KpiBonus)
            and comp.kpi is PayableKpi.ATTAINMENT
            and comp.scope is KpiScope.REP
        ):
            for point in (*comp.thresholds, *comp.bands):
                if point.at > attainment:
                    found.append((point.at, comp.id, comp.label, "kpi", point.percent))
    return found


def next_step(plan: Plan, quota: Decimal | None, credited: Decimal) -> NextStep | None:
    """The lowest gate or tier/band bound above the rep's attainment (credited / quota) in the
    plan, with the revenue still needed (quota x bound - credited, rounded to the plan's
    currency); None without a quota or when no step is left above the rep."""
    if quota is None or quota <= 0:
        return None
    attainment = credited * HUNDRED / quota
    found = _candidates(plan, attainment)
    if not found:
        return None
    kind_order = {"gate": 0, "tier": 1, "band": 2, "kpi": 3}
    bound, component, label, kind, rate = min(found, key=lambda c: (c[0], kind_order[c[3]], c[1]))
    needed = round_money(quota * bound / HUNDRED - credited, plan.currency)
    return NextStep(component, label, kind, bound, rate, needed, plan.currency)
