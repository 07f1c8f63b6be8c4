"""The ``spiff`` component: a bonus per matching won deal in a window, a fixed amount (times
the rep's share) or a percentage of the rep's credited amount."""

from __future__ import annotations

from plans.evaluate.context import Context
from plans.evaluate.filters import matches
from plans.evaluate.statement import HUNDRED
from plans.model import Spiff


def spiff(ctx: Context, comp: Spiff) -> None:
    """One line per credited deal that matches the filter and closed in the window."""
    for c in ctx.credits:
        won = c.deal.won
        assert won is not None
        if c.amount == 0 or not matches(c.deal, comp.filter, c.deal_amount):
            continue
        if comp.window is not None and not comp.window.start <= won.close_date <= comp.window.end:
            continue
        share = c.credit.share
        if comp.amount_per_deal is not None:
            amount = c.pro_rata(comp.amount_per_deal * share / HUNDRED)
            what = f"{ctx.fmt(comp.amount_per_deal)} per deal" + (
                f" x {share} % share" if share != HUNDRED else ""
            )
            base, rate = comp.amount_per_deal, None
        else:
            assert comp.percent is not None
            amount = c.amount * comp.percent / HUNDRED
            what = f"{comp.percent} % of {ctx.fmt(c.amount)}"
            base, rate = c.amount, comp.percent
        ctx.add(
            component=comp.id,
            kind="spiff",
            description=f"{comp.label}: deal {c.deal_id}, {what}",
            amount=ctx.money(amount),
            base=base,
            rate=rate,
            deal_ids=(c.deal_id,),
            event_ids=c.event_ids,
        )
