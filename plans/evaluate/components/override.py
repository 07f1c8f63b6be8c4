"""The ``override`` component: a manager's percentage of the credited revenue of their
direct reports (or of everyone below them), one line per report."""

from __future__ import annotations

from datetime import date

from incentive_engine.domain.facts import Facts
from plans.evaluate.context import Context
from plans.evaluate.credits import Credited, credited
from plans.evaluate.statement import HUNDRED, ZERO
from plans.model import Depth, Override


def _is_report(facts: Facts, rep_id: str, manager_id: str, day: date, depth: Depth) -> bool:
    """Whether rep_id reports to manager_id on a day (directly, or through the chain)."""
    seen: set[str] = set()
    current = rep_id
    while True:
        rep = facts.reps.get(current)
        boss = rep.manager_on(day) if rep is not None else None
        if boss is None or boss in seen:
            return False
        if boss == manager_id:
            return True
        if depth is Depth.DIRECT:
            return False
        seen.add(boss)
        current = boss


def _ever_below(facts: Facts, manager_id: str, depth: Depth) -> set[str]:
    """Everyone who was ever placed under the manager (directly, or through the chain): the
    only reps whose credits can count, each then checked on its deal's close date."""
    children: dict[str, set[str]] = {}
    for rep in facts.reps.values():
        for placement in rep.placements:
            if placement.manager_id is not None:
                children.setdefault(placement.manager_id, set()).add(rep.rep_id)
    found: set[str] = set()
    frontier = {manager_id}
    while frontier:
        below = {r for m in frontier for r in children.get(m, ())} - found - {manager_id}
        found |= below
        frontier = below if depth is not Depth.DIRECT else set()
    return found


def override(ctx: Context, comp: Override) -> None:
    """One line per report whose credited revenue in the period the manager earns on."""
    by_report: dict[str, list[Credited]] = {}
    credits_by_rep = ctx.facts.credits_by_rep(ctx.period, by=ctx.plan.crediting)
    for rep_id in sorted(_ever_below(ctx.facts, ctx.rep_id, comp.depth) & set(credits_by_rep)):
        for deal, credit in credits_by_rep[rep_id]:  # in close order, as the deals were won
            won = deal.won
            assert won is not None
            if not _is_report(ctx.facts, rep_id, ctx.rep_id, won.close_date, comp.depth):
                continue
            by_report.setdefault(rep_id, []).append(credited(ctx.facts, ctx.plan, deal, credit))
    for report in sorted(by_report):
        credits = by_report[report]
        base = sum((c.amount for c in credits), ZERO)
        ctx.add(
            component=comp.id,
            kind="override",
            description=f"{comp.label}: {comp.rate} % of {report}'s credited {ctx.fmt(base)}",
            amount=ctx.money(base * comp.rate / HUNDRED),
            base=base,
            rate=comp.rate,
            deal_ids=tuple(c.deal_id for c in credits),
            event_ids=tuple(dict.fromkeys(e for c in credits for e in c.event_ids)),
        )
