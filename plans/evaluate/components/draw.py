"""The ``draw`` component: each period pays at least the draw; a recoverable draw's shortfall
is owed and recovered from later earnings above the draw.  It is paid on what the period's
other lines earned, so it runs after them (and replays the plan's earlier periods)."""

from __future__ import annotations

from decimal import Decimal

from incentive_engine.domain.periods import Period
from plans.evaluate.context import Context
from plans.evaluate.statement import ZERO
from plans.model import Draw


def draw(ctx: Context, comp: Draw) -> None:
    """A top-up line when the period earned less than the draw, or a recovery line taking
    back what earlier periods are owed from earnings above it."""
    owed = ZERO
    current = Period.containing(ctx.plan.effective_from, ctx.period.kind)
    rep = ctx.facts.reps.get(ctx.rep_id)
    while current < ctx.period:
        if rep is not None and rep.days_in(current) > 0:
            owed = _settle(ctx.lines_for(current).earned, comp, owed)[1]
        current = current.next()
    earned = ctx.earned
    line_amount, after = _settle(earned, comp, owed)
    if comp.recoverable:
        ctx.draw_owed = (ctx.draw_owed or ZERO) + after
    if line_amount > 0:
        ctx.add(
            component=comp.id,
            kind="draw",
            description=(
                f"{comp.label}: earnings {ctx.fmt(earned)} below the draw of "
                f"{ctx.fmt(comp.amount)}"
                + (f"; owed after: {ctx.fmt(after)}" if comp.recoverable else "")
            ),
            amount=ctx.money(line_amount),
            base=earned,
        )
    elif line_amount < 0:
        ctx.add(
            component=comp.id,
            kind="draw_recovery",
            description=(
                f"{comp.label}: recovers {ctx.fmt(-line_amount)} of {ctx.fmt(owed)} owed "
                f"from earnings above the draw; owed after: {ctx.fmt(after)}"
            ),
            amount=ctx.money(line_amount),
            base=earned,
        )


def _settle(earned: Decimal, draw: Draw, owed: Decimal) -> tuple[Decimal, Decimal]:
    """(draw line amount, owed afterwards) for one period's earnings."""
    if earned < draw.amount:
        top_up = draw.amount - earned
        return top_up, owed + top_up if draw.recoverable else owed
    recovered = min(owed, earned - draw.amount)
    return -recovered, owed - recovered
