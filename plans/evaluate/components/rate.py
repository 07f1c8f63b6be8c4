"""The ``rate`` component: commission as a flat rate, or graduated or retroactive tiers
measured on attainment or on each deal's (or product line's) amount or margin, with an
optional gate, filter, cap and exclusive group."""

from __future__ import annotations

from decimal import Decimal

from plans.evaluate.context import (
    Context,
    capped,
    gated,
    needs_attainment,
    pct,
    reached,
    slices,
    tier_label,
    uppers,
)
from plans.evaluate.filters import matches
from plans.evaluate.statement import HUNDRED, ZERO
from plans.evaluate.units import Unit, units_for
from plans.model import ON_MARGIN, RateComponent, RateMode


def rate(ctx: Context, comp: RateComponent) -> None:
    """Commission lines of a rate component (then a cap line if it pays above its cap)."""
    start = len(ctx.drafts)
    if gated(ctx, comp.id, comp.gate):
        return
    if comp.per_unit:
        for u in units_for(ctx, comp):
            _per_unit(ctx, comp, u)
        capped(ctx, comp.id, comp.cap, start)
        return
    counted = [c for c in ctx.credits if matches(c.deal, comp.filter, c.deal_amount)]
    base = sum((c.amount for c in counted), ZERO)
    deal_ids = tuple(c.deal_id for c in counted)
    events = tuple(dict.fromkeys(e for c in counted for e in c.event_ids))
    if comp.mode is RateMode.FLAT:
        assert comp.rate is not None
        ctx.add(
            component=comp.id,
            kind="commission",
            description=f"{comp.label}: {comp.rate} % of {ctx.fmt(base)}",
            amount=ctx.money(base * comp.rate / HUNDRED),
            base=base,
            rate=comp.rate,
            deal_ids=deal_ids,
            event_ids=events,
        )
    else:
        _attainment_tiers(ctx, comp, base, deal_ids, events)
    capped(ctx, comp.id, comp.cap, start)


def _attainment_tiers(
    ctx: Context,
    comp: RateComponent,
    base: Decimal,
    deal_ids: tuple[str, ...],
    events: tuple[str, ...],
) -> None:
    attainment = needs_attainment(ctx, comp.id)
    quota = ctx.quota
    if quota is None:
        return  # nothing credited and no quota: nothing earned
    events = (*events, *ctx.quota_events)
    bounds = uppers(comp.tiers)
    if comp.mode is RateMode.RETROACTIVE:
        top = reached(attainment, comp.tiers)
        tier = comp.tiers[top]
        ctx.add(
            component=comp.id,
            kind="commission",
            description=(
                f"{comp.label}: attainment {pct(attainment)} reaches tier "
                f"{tier_label(tier, bounds[top], ' %')}: {tier.rate} % of all {ctx.fmt(base)}"
            ),
            amount=ctx.money(base * tier.rate / HUNDRED),
            base=base,
            tier=tier_label(tier, bounds[top], " %"),
            rate=tier.rate,
            deal_ids=deal_ids,
            event_ids=events,
        )
        return
    for i, piece in slices(base, comp.tiers, quota / HUNDRED):
        tier, label = comp.tiers[i], tier_label(comp.tiers[i], bounds[i], " %")
        ctx.add(
            component=comp.id,
            kind="commission",
            description=f"{comp.label}: {ctx.fmt(piece)} in tier {label} at {tier.rate} %",
            amount=ctx.money(piece * tier.rate / HUNDRED),
            base=piece,
            tier=label,
            rate=tier.rate,
            deal_ids=deal_ids,
            event_ids=events,
        )


def _per_unit(ctx: Context, comp: RateComponent, u: Unit) -> None:
    """A flat rate on one deal or product line, or tiers measured on its whole amount or
    margin (bounds are amounts in the plan currency); a rep with a split is paid their share
    of what the whole deal or line earns (and, when earning on invoice or payment, the part
    of the deal the period earns)."""
    measure = comp.unit_measure
    whole, own = u.whole(measure, comp.id), u.own(measure, comp.id)
    noun = "margin " if measure in ON_MARGIN else ""
    lost = u.won_over(comp.group)
    common = {
        "component": comp.id,
        "kind": "commission",
        "deal_ids": (u.deal_id,),
        "event_ids": u.credited.event_ids,
        "deal_line": u.number,
        "won_over": u.lost,
    }
    share = u.share / HUNDRED
    of_share = "" if u.share == HUNDRED else f" x {u.share} % share"
    if comp.mode is RateMode.FLAT:
        assert comp.rate is not None
        ctx.add(
            description=(
                f"{comp.label}: {u.label}, {comp.rate} % of {noun}{ctx.fmt(own)}{of_share}{lost}"
            ),
            amount=ctx.money(own * comp.rate / HUNDRED),
            base=own,
            rate=comp.rate,
            **common,
        )
        return
    bounds = uppers(comp.tiers)
    if comp.mode is RateMode.RETROACTIVE:
        top = reached(whole, comp.tiers)
        tier = comp.tiers[top]
        label = tier_label(tier, bounds[top], "")
        ctx.add(
            description=(
                f"{comp.label}: {u.label} of {noun}{ctx.fmt(whole)} in tier {label}: "
                f"{tier.rate} % of {ctx.fmt(own)}{lost}"
            ),
            amount=ctx.money(own * tier.rate / HUNDRED),
            base=own,
            tier=label,
            rate=tier.rate,
            **common,
        )
        return
    for i, piece in slices(whole, comp.tiers):
        tier, label = comp.tiers[i], tier_label(comp.tiers[i], bounds[i], "")
        ctx.add(
            description=(
                f"{comp.label}: {u.label}, {noun}{ctx.fmt(piece)} in tier {label} "
                f"at {tier.rate} %{of_share}{lost}"
            ),
            amount=ctx.money(u.credited.pro_rata(piece * share) * tier.rate / HUNDRED),
            base=u.credited.pro_rata(piece * share),
            tier=label,
            rate=tier.rate,
            **common,
        )
