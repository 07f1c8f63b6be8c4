"""The ``team_pool`` component: a pool funded for a team (a percentage of the team's credited
revenue in the period, or a fixed amount) and shared among the members in the team on the
period's last day, by share of credit or equally.

Whose credits fund it: every credit (as the plan credits deals, after its clawback rules, in
its currency) of a deal closed in the period whose rep was in the team on the close date,
whether that rep is still in the team, moved on or left the company since.  Who shares it:
the reps employed and placed in the team on the period's last day (``Facts.teams_on``);
with ``covered_only``, only those the plan covers that day.  A member's weight under
``by: credit`` is their own credit among those that funded the pool (credit earned while in
another team does not count).  Shares are rounded to the currency's minor units by largest
remainder (``domain.money.allocate``), so they sum to exactly the pool: every member's
statement computes the same pool and the same shares.

Each rep's line shows the pool, the team's credited revenue behind it, the rep's own weight
and the members' total, never another member's credit or share.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from incentive_engine.domain.facts import Facts
from incentive_engine.domain.money import allocate, round_money
from incentive_engine.domain.periods import Period
from plans.evaluate.book import covers
from plans.evaluate.context import Context
from plans.evaluate.credits import credited
from plans.evaluate.statement import HUNDRED, ZERO
from plans.model import Plan, PoolSharing, TeamPool

SHARE = "team_pool"
"""Kind of a member's share line."""
UNPAID = "team_pool_unpaid"
"""Kind of the zero line of a member when the pool is shared by credit and no member has any."""
NO_SHARE = "team_pool_no_share"
"""Kind of the zero line of a rep who is not among the pool's members on the last day."""


@dataclass(frozen=True)
class Pool:
    """A team's pool for a period under a plan: how it is funded, who shares it and how."""

    team: str | None
    """The team (None when the rep had no team to default to)."""
    size: Decimal
    """The pool, in the currency's minor units."""
    funded_by: Decimal | None
    """The team's credited revenue the pool is a percentage of (None for a fixed pool)."""
    members: tuple[str, ...]
    """Who shares the pool, by rep id."""
    weights: dict[str, Decimal]
    """Each member's weight: their credit in the team in the period, or 1 when shared equally."""
    shares: dict[str, Decimal]
    """Each member's share, summing to ``size`` (empty when nobody is paid)."""
    event_ids: tuple[str, ...]
    """The events behind the credits the pool counts (funding, or weights of a fixed pool)."""

    @property
    def total_weight(self) -> Decimal:
        """The members' weights together."""
        return sum(self.weights.values(), ZERO)


def team_pool_of(facts: Facts, plan: Plan, comp: TeamPool, rep_id: str, period: Period) -> Pool:
    """The pool a rep's statement sees (pure; the same for every member of the team)."""
    day = period.end
    rep = facts.reps.get(rep_id)
    team = comp.team if comp.team is not None else (rep.team_on(day) if rep else None)
    members = tuple(
        m
        for m in (facts.teams_on(day).get(team, ()) if team else ())
        if not comp.covered_only or covers(plan, facts.reps[m], day)
    )
    by_credit = comp.by is PoolSharing.CREDIT
    pairs = facts.team_credits(period, by=plan.crediting).get(team, []) if team else []
    if comp.percent is None:  # a fixed pool weighs only its members' credits, if any
        pairs = [p for p in pairs if by_credit and p[0] in members]
    counted = [(who, credited(facts, plan, deal, credit)) for who, deal, credit in pairs]
    if comp.percent is not None:
        funded_by: Decimal | None = sum((c.amount for _, c in counted), ZERO)
        size = round_money(funded_by * comp.percent / HUNDRED, plan.currency)
    else:
        funded_by, size = None, round_money(comp.amount or ZERO, plan.currency)
    if by_credit:
        weights = {m: sum((c.amount for who, c in counted if who == m), ZERO) for m in members}
    else:
        weights = {m: Decimal(1) for m in members}
    paid = sum(weights.values(), ZERO) > 0  # by credit: some member has credit
    shares = allocate(size, weights, plan.currency) if paid else {}
    events = tuple(dict.fromkeys(e for _, c in counted for e in c.event_ids))
    return Pool(team, size, funded_by, members, weights, shares, events)


def pool_reps(
    facts: Facts, plan: Plan, comp: TeamPool, rep_id: str, period: Period
) -> frozenset[str]:
    """Every rep ever placed in the pool's team: whose deals may fund or weigh it."""
    rep = facts.reps.get(rep_id)
    team = comp.team if comp.team is not None else (rep.team_on(period.end) if rep else None)
    return frozenset(
        r.rep_id for r in facts.reps.values() if any(p.team == team for p in r.placements)
    )


def team_pool(ctx: Context, comp: TeamPool) -> None:
    """The rep's share of the pool, or a zero line saying why there is none."""
    pool = team_pool_of(ctx.facts, ctx.plan, comp, ctx.rep_id, ctx.period)
    day = ctx.period.end
    if ctx.rep_id not in pool.members:
        where = f"team {pool.team}" if pool.team else "any team"
        ctx.add(
            component=comp.id,
            kind=NO_SHARE,
            description=f"{comp.label}: not among the members of {where} on {day}: no share",
            amount=ZERO,
        )
        return
    rep = ctx.facts.reps[ctx.rep_id]
    placement = rep.placement_on(day)
    events = (*pool.event_ids, *((placement.event_id,) if placement else ()))
    funded = (
        ""
        if pool.funded_by is None
        else f" ({comp.percent} % of the team's credited {ctx.fmt(pool.funded_by)})"
    )
    if ctx.rep_id not in pool.shares:
        ctx.add(
            component=comp.id,
            kind=UNPAID,
            description=f"{comp.label}: no member of team {pool.team} has credit in "
            f"{ctx.period}: the pool of {ctx.fmt(pool.size)}{funded} is not paid",
            amount=ZERO,
            base=pool.size,
            rate=comp.percent,
            event_ids=tuple(dict.fromkeys(events)),
        )
        return
    if comp.by is PoolSharing.CREDIT:
        how = (
            f"own credit {ctx.fmt(pool.weights[ctx.rep_id])} of the members' "
            f"{ctx.fmt(pool.total_weight)}"
        )
    else:
        how = f"an equal share among {len(pool.members)} members"
    ctx.add(
        component=comp.id,
        kind=SHARE,
        description=f"{comp.label}: team {pool.team}'s pool of {ctx.fmt(pool.size)}{funded}, {how}",
        amount=pool.shares[ctx.rep_id],
        base=pool.size,
        rate=comp.percent,
        event_ids=tuple(dict.fromkeys(events)),
    )
