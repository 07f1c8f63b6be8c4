"""The ``spiff`` component: a bonus per matching won deal (or product line) in a window, a
fixed amount (times the rep's share) or a percentage of the rep's credited amount or margin."""

from __future__ import annotations

from plans.evaluate.context import Context
from plans.evaluate.statement import HUNDRED
from plans.evaluate.units import units_for
from plans.model import ON_MARGIN, Spiff


def spiff(ctx: Context, comp: Spiff) -> None:
    """One line per credited deal (or product line) that matches the filter, closed in the
    window and, in a group, is won by this spiff."""
    measure = comp.unit_measure
    for u in units_for(ctx, comp):
        if u.credited.amount == 0:
            continue
        share = u.share
        if comp.amount_per_deal is not None:
            amount = u.credited.pro_rata(comp.amount_per_deal * share / HUNDRED)
            per = "line" if u.line is not None else "deal"
            what = f"{ctx.fmt(comp.amount_per_deal)} per {per}" + (
                f" x {share} % share" if share != HUNDRED else ""
            )
            base, rate = comp.amount_per_deal, None
        else:
            assert comp.percent is not None
            own = u.own(measure, comp.id)
            amount = own * comp.percent / HUNDRED
            noun = "margin " if measure in ON_MARGIN else ""
            what = f"{comp.percent} % of {noun}{ctx.fmt(own)}"
            base, rate = own, comp.percent
        ctx.add(
            component=comp.id,
            kind="spiff",
            description=f"{comp.label}: {u.label}, {what}{u.won_over(comp.group)}",
            amount=ctx.money(amount),
            base=base,
            rate=rate,
            deal_ids=(u.deal_id,),
            event_ids=u.credited.event_ids,
            deal_line=u.number,
            won_over=u.lost,
        )
