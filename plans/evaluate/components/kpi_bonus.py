"""The ``kpi_bonus`` component: a bonus from a KPI the engine computes (``kpis.score``) for
the rep, their team or their territories over the period, by thresholds (the highest
reached pays) or graduated bands (points joined linearly), with an optional cap.

The line names the KPI, its value as a fraction (``win rate 42.9 % (3 of 7 decided
deals)``), the threshold or band reached, and the deals and events counted; a KPI without
data (no decided deals, no quota...) pays zero with a line saying why."""

from __future__ import annotations

from decimal import Decimal

from incentive_engine.domain.kpis import KpiError, PayableKpi, Score, score
from incentive_engine.domain.money import format_money
from plans.evaluate.context import Context, capped, pct
from plans.evaluate.statement import HUNDRED, ZERO, EvaluationError
from plans.model import PERCENT_KPIS, KpiBonus, KpiPoint, KpiScope, KpiThreshold

KIND = "kpi_bonus"

_NO_DATA = {
    PayableKpi.WIN_RATE: "no decided deals (won or lost)",
    PayableKpi.LEAD_CONVERSION: "no leads created",
    PayableKpi.ATTAINMENT: "no quota",
}
"""Why a ratio KPI has no value: its whole is zero."""


def _count(n: Decimal) -> str:
    return str(int(n)) if n == n.to_integral_value() else str(n)


def value_text(s: Score, comp: KpiBonus, currency: str) -> str:
    """The KPI and its value as the statement line words it (exact as a fraction)."""
    n = _count(s.part)
    match s.kpi:
        case PayableKpi.WIN_RATE:
            assert s.value is not None and s.whole is not None
            return f"win rate {pct(s.value)} ({n} of {_count(s.whole)} decided deals)"
        case PayableKpi.LEAD_CONVERSION:
            assert s.value is not None and s.whole is not None
            return f"lead conversion {pct(s.value)} ({n} of {_count(s.whole)} leads qualified)"
        case PayableKpi.ATTAINMENT if s.scope != KpiScope.REP:
            # A team's or territories' revenue and quota are not shown to the rep: with their
            # own, they would let them work out a teammate's (pay, DESIGN §4a).
            assert s.value is not None
            return f"attainment {pct(s.value)}"
        case PayableKpi.ATTAINMENT:
            assert s.value is not None and s.whole is not None
            money = s.currency or currency
            return (
                f"attainment {pct(s.value)} ({format_money(s.part, money)} credited "
                f"of a quota of {format_money(s.whole, money)})"
            )
        case PayableKpi.DEALS_WON:
            return f"{n} deals won (not cancelled)"
        case PayableKpi.NEW_CUSTOMERS:
            return f"{n} deals won with new customers"
        case PayableKpi.LEADS:
            return f"{n} leads created"
        case PayableKpi.QUALIFIED_LEADS:
            return f"{n} qualified leads"
        case _:
            kind = f" ({comp.activity.value})" if comp.activity is not None else ""
            return f"{n} activities{kind}"


def whose(s: Score) -> str:
    """Whose KPI it is, for the line ("" for the rep's own)."""
    if s.scope == KpiScope.TEAM:
        return f" of team {s.groups[0]}"
    if s.scope == KpiScope.TERRITORY:
        return f" of territor{'y' if len(s.groups) == 1 else 'ies'} {', '.join(s.groups)}"
    return ""


def _unit(comp: KpiBonus) -> str:
    return " %" if comp.kpi in PERCENT_KPIS else ""


def _by_threshold(
    ctx: Context, comp: KpiBonus, value: Decimal
) -> tuple[Decimal, str, Decimal | None, str] | None:
    """(amount, tier, rate, how) of the highest threshold reached, None below the first."""
    reached: KpiThreshold | None = None
    for t in comp.thresholds:
        if value >= t.at:
            reached = t
    if reached is None:
        return None
    tier = f"≥ {reached.at}{_unit(comp)}"
    if reached.amount is not None:
        how = f"threshold {tier} pays {ctx.fmt(reached.amount)}"
        return ctx.money(reached.amount), tier, None, how
    assert comp.target is not None and reached.percent is not None
    amount = ctx.money(comp.target * reached.percent / HUNDRED)
    how = f"threshold {tier} pays {reached.percent} % of {ctx.fmt(comp.target)}"
    return amount, tier, reached.percent, how


def band_percent(points: tuple[KpiPoint, ...], value: Decimal) -> tuple[int, Decimal] | None:
    """(index of the point at or below the value, percent of target) on the graduated
    bands: linear between points, the last point's percent from it on, None below the
    first."""
    if value < points[0].at:
        return None
    for i in range(len(points) - 1):
        low, high = points[i], points[i + 1]
        if value < high.at:
            share = (value - low.at) / (high.at - low.at)
            return i, low.percent + (high.percent - low.percent) * share
    return len(points) - 1, points[-1].percent


def _by_band(
    ctx: Context, comp: KpiBonus, value: Decimal
) -> tuple[Decimal, str, Decimal | None, str] | None:
    """(amount, band, percent of target, how) on the graduated bands, None below them."""
    found = band_percent(comp.bands, value)
    if found is None:
        return None
    i, percent = found
    unit, points = _unit(comp), comp.bands
    if i + 1 < len(points):
        tier = f"[{points[i].at}{unit}, {points[i + 1].at}{unit})"
    else:
        tier = f"≥ {points[i].at}{unit}"
    assert comp.target is not None
    amount = ctx.money(comp.target * percent / HUNDRED)
    return amount, tier, percent, f"band {tier}: {pct(percent)} of {ctx.fmt(comp.target)}"


def kpi_bonus(ctx: Context, comp: KpiBonus) -> None:
    """One line for the KPI's value and what it reaches (then a cap line if above the cap)."""
    start = len(ctx.drafts)
    try:
        s = score(
            ctx.facts,
            comp.kpi,
            ctx.period,
            comp.scope.value,  # type: ignore[arg-type]
            ctx.rep_id,
            activity=comp.activity,
            currency=ctx.plan.currency,
            prorate=ctx.plan.prorate_quota,
        )
    except KpiError as exc:
        raise EvaluationError(
            f"component {comp.id!r} of plan {ctx.plan.plan_id} v{ctx.plan.version}: {exc}"
        ) from None
    ids = {"deal_ids": s.deal_ids, "event_ids": s.event_ids}
    if not s.groups:
        missing = "is in no team" if comp.scope is KpiScope.TEAM else "owns no territory"
        ctx.add(
            component=comp.id,
            kind=KIND,
            description=(
                f"{comp.label}: no {comp.kpi.value} to pay on: {ctx.rep_id} {missing} "
                f"on their last day in {ctx.period}"
            ),
            amount=ZERO,
        )
        return
    if s.value is None:
        ctx.add(
            component=comp.id,
            kind=KIND,
            description=(
                f"{comp.label}: no {comp.kpi.value}{whose(s)} in {ctx.period}: "
                f"{_NO_DATA[s.kpi]}, nothing to pay"
            ),
            amount=ZERO,
            **ids,
        )
        return
    what = f"{comp.label}: {value_text(s, comp, ctx.plan.currency)}{whose(s)}"
    paid = _by_threshold(ctx, comp, s.value) if comp.thresholds else _by_band(ctx, comp, s.value)
    if paid is None:
        first = (comp.thresholds or comp.bands)[0].at
        ctx.add(
            component=comp.id,
            kind=KIND,
            description=f"{what}: below the first {'threshold' if comp.thresholds else 'band'} "
            f"({first}{_unit(comp)}), nothing to pay",
            amount=ZERO,
            base=s.value,
            **ids,
        )
        return
    amount, tier, rate, how = paid
    ctx.add(
        component=comp.id,
        kind=KIND,
        description=f"{what}: {how}",
        amount=amount,
        base=s.value,
        tier=tier,
        rate=rate,
        **ids,
    )
    capped(ctx, comp.id, comp.cap, start)
