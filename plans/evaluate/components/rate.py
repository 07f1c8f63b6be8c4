"""The ``rate`` component: commission as a flat rate, or graduated or retroactive tiers
measured on attainment or on each deal's amount, with an optional gate, filter and cap."""

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
from plans.evaluate.credits import Credited
from plans.evaluate.filters import matches
from plans.evaluate.statement import HUNDRED, ZERO
from plans.model import Measure, RateComponent, RateMode


def rate(ctx: Context, comp: RateComponent) -> None:
    """Commission lines of a rate component (then a cap line if it pays above its cap)."""
    start = len(ctx.drafts)
    if gated(ctx, comp.id, comp.gate):
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
    elif comp.measure is Measure.ATTAINMENT:
        _attainment_tiers(ctx, comp, base, deal_ids, events)
    else:
        for c in counted:
            _deal_tiers(ctx, comp, c)
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


def _deal_tiers(ctx: Context, comp: RateComponent, c: Credited) -> None:
    """Tiers measured on the whole deal's amount for commission (bounds are amounts in the plan
    currency); a rep with a split is paid their share of what the whole deal earns (and, when
    earning on invoice or payment, the part of the deal the period earns)."""
    bounds = uppers(comp.tiers)
    share = c.credit.share / HUNDRED
    of_share = "" if c.credit.share == HUNDRED else f" x {c.credit.share} % share"
    if comp.mode is RateMode.RETROACTIVE:
        top = reached(c.deal_amount, comp.tiers)
        tier = comp.tiers[top]
        label = tier_label(tier, bounds[top], "")
        ctx.add(
            component=comp.id,
            kind="commission",
            description=(
                f"{comp.label}: deal {c.deal_id} of {ctx.fmt(c.deal_amount)} in tier {label}: "
                f"{tier.rate} % of {ctx.fmt(c.amount)}"
            ),
            amount=ctx.money(c.amount * tier.rate / HUNDRED),
            base=c.amount,
            tier=label,
            rate=tier.rate,
            deal_ids=(c.deal_id,),
            event_ids=c.event_ids,
        )
        return
    for i, piece in slices(c.deal_amount, comp.tiers):
        tier, label = comp.tiers[i], tier_label(comp.tiers[i], bounds[i], "")
        ctx.add(
            component=comp.id,
            kind="commission",
            description=(
                f"{comp.label}: deal {c.deal_id}, {ctx.fmt(piece)} in tier {label} "
                f"at {tier.rate} %{of_share}"
            ),
            amount=ctx.money(c.pro_rata(piece * share) * tier.rate / HUNDRED),
            base=c.pro_rata(piece * share),
            tier=label,
            rate=tier.rate,
            deal_ids=(c.deal_id,),
            event_ids=c.event_ids,
        )
