"""The ``target_incentive`` component: a target amount x attainment x each band's multiplier,
graduated across attainment bands, with an optional gate and cap."""

from __future__ import annotations

from plans.evaluate.context import (
    Context,
    capped,
    gated,
    needs_attainment,
    pct,
    slices,
    tier_label,
    uppers,
)
from plans.evaluate.statement import HUNDRED
from plans.model import TargetIncentive


def target_incentive(ctx: Context, comp: TargetIncentive) -> None:
    """One line per attainment band reached (then a cap line if it pays above its cap)."""
    start = len(ctx.drafts)
    if gated(ctx, comp.id, comp.gate):
        return
    attainment = needs_attainment(ctx, comp.id)
    deal_ids = tuple(c.deal_id for c in ctx.credits)
    events = (*dict.fromkeys(e for c in ctx.credits for e in c.event_ids), *ctx.quota_events)
    bounds = uppers(comp.bands)
    for i, piece in slices(attainment, comp.bands):
        band, label = comp.bands[i], tier_label(comp.bands[i], bounds[i], " %")
        ctx.add(
            component=comp.id,
            kind="target_incentive",
            description=(
                f"{comp.label}: {ctx.fmt(comp.target)} x {pct(piece)} of attainment "
                f"in band {label} x {band.multiplier}"
            ),
            amount=ctx.money(comp.target * piece / HUNDRED * band.multiplier),
            base=piece,
            tier=label,
            rate=band.multiplier,
            deal_ids=deal_ids,
            event_ids=events,
        )
    capped(ctx, comp.id, comp.cap, start)
