"""Leaderboards: reps ranked by a metric in a scope and period (pure).

Metrics never include pay: points, credited revenue, attainment %, deals won, new
customers.  Ranking is deterministic: higher value first, then whoever reached their value
first (earlier effective time), then rep id.  Movement compares with the previous period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from incentive_engine.domain.attainment import AttainmentError, deal_in, rep_attainment
from incentive_engine.domain.errors import Conflict, EngineError, Invalid
from incentive_engine.domain.facts import Facts, Rep
from incentive_engine.domain.handlers import check_handlers
from incentive_engine.domain.periods import Period, PeriodKind
from incentive_engine.domain.vocabulary import Metric as Metric
from plans.evaluate import PlanBook
from plans.points import points

ZERO = Decimal(0)


class LeaderboardError(EngineError, ValueError):
    """A leaderboard that cannot be drawn (unknown scope, attainment without quotas...)."""


class LeaderboardInvalid(LeaderboardError, Invalid):
    """A board asked for wrongly: an unknown scope, team or territory, a period that has
    no attainment (``field`` names the parameter)."""


class LeaderboardConflict(LeaderboardError, Conflict):
    """A board the data cannot answer (an amount without an FX rate)."""


@dataclass(frozen=True)
class Standing:
    """A rep's place on a board."""

    rank: int
    rep_id: str
    name: str
    value: Decimal
    reached_at: datetime | None
    previous_rank: int | None

    @property
    def movement(self) -> int | None:
        """Places gained since the previous period (negative: lost; None: new on the board)."""
        return None if self.previous_rank is None else self.previous_rank - self.rank


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def members(facts: Facts, scope: str, period: Period) -> list[Rep]:
    """Reps employed in the period within a scope: ``company``, ``team:NAME`` or
    ``territory:ID`` (placement or ownership on their last day in the period)."""
    kind, _, name = scope.partition(":")
    if kind not in ("company", "team", "territory") or (kind != "company" and not name):
        raise LeaderboardInvalid(
            f"scope {scope!r}: use company, team:NAME or territory:ID", field="scope"
        )
    if kind == "territory" and name not in facts.territories:
        raise LeaderboardInvalid(f"unknown territory {name!r}", field="scope")
    found = []
    for rep_id in sorted(facts.reps):
        rep = facts.reps[rep_id]
        day = rep.last_day_in(period)
        if day is None:
            continue
        if kind == "team" and rep.team_on(day) != name:
            continue
        if kind == "territory":
            ownership = facts.territories[name].ownership_on(day)
            if ownership is None or all(s.rep_id != rep_id for s in ownership.owners):
                continue
        found.append(rep)
    if (
        kind == "team"
        and not found
        and not any(p.team == name for r in facts.reps.values() for p in r.placements)
    ):
        raise LeaderboardInvalid(f"unknown team {name!r}", field="scope")
    return found


def _deal_values(
    facts: Facts, period: Period, currency: str | None
) -> dict[str, tuple[Decimal, int, set[str], datetime | None]]:
    """Per rep: (credited revenue, deals won, new customers, last close) for the period."""
    found: dict[str, tuple[Decimal, int, set[str], datetime | None]] = {}
    for rep_id, pairs in facts.standing_credits(period).items():
        revenue, customers, last = ZERO, set(), None
        for deal, c in pairs:
            won = deal.won
            assert won is not None
            revenue += deal_in(facts, deal, c.amount, currency or won.currency)
            if won.customer.is_new:
                customers.add(won.customer.customer_id)
            last = _midnight(won.close_date)
        found[rep_id] = (revenue, len(pairs), customers, last)
    return found


Values = dict[str, tuple[Decimal, datetime | None]]
"""Per rep: (the metric's value, when it was reached)."""


def _points(facts: Facts, book: PlanBook, period: Period, reps: list[Rep]) -> Values:
    """Points under every plan with points rules covering the rep."""
    found = {}
    for rep in reps:
        total, reached = ZERO, None
        for plan_id in book.plan_ids():
            version = book.in_force(plan_id, period.end)
            if version is None or version.plan.points is None:
                continue
            day = rep.last_day_in(period)
            plan_period = Period.containing(period.end, version.plan.period)
            if day is None or version not in book.for_rep(facts, rep.rep_id, plan_period):
                continue
            s = points(facts, version, rep.rep_id, period)
            total += s.total
            if s.reached_at is not None and (reached is None or s.reached_at > reached):
                reached = s.reached_at
        found[rep.rep_id] = (total, reached)
    return found


def _attainment(facts: Facts, book: PlanBook, period: Period, reps: list[Rep]) -> Values:
    """Attainment % of the reps with a quota for the period."""
    if period.kind in (PeriodKind.DAY, PeriodKind.WEEK):
        raise LeaderboardInvalid(
            "attainment is measured per quota period (month, quarter, year)", field="period"
        )
    try:
        rows = {a.subject_id: a for a in rep_attainment(facts, period)}
    except AttainmentError as exc:
        raise LeaderboardConflict(str(exc)) from None
    deals = _deal_values(facts, period, None)
    return {
        r.rep_id: (
            rows[r.rep_id].attainment or ZERO,
            deals.get(r.rep_id, (ZERO, 0, set(), None))[3],
        )
        for r in reps
        if r.rep_id in rows and rows[r.rep_id].quota
    }


def _from_deals(
    pick: Callable[[Decimal, int, set[str]], Decimal],
) -> Callable[[Facts, PlanBook, Period, list[Rep]], Values]:
    """A metric read from each rep's won deals: (revenue, deals won, new customers) -> value."""

    def values(facts: Facts, book: PlanBook, period: Period, reps: list[Rep]) -> Values:
        currency = book.versions[0].plan.currency if book.versions else None
        try:
            deals = _deal_values(facts, period, currency)
        except AttainmentError as exc:
            raise LeaderboardConflict(str(exc)) from None
        empty: tuple[Decimal, int, set[str], datetime | None] = (ZERO, 0, set(), None)
        found = {}
        for rep in reps:
            revenue, count, customers, last = deals.get(rep.rep_id, empty)
            value = pick(revenue, count, customers)
            found[rep.rep_id] = (value, last if value else None)
        return found

    return values


METRICS: dict[Metric, Callable[[Facts, PlanBook, Period, list[Rep]], Values]] = {
    Metric.POINTS: _points,
    Metric.REVENUE: _from_deals(lambda revenue, count, customers: revenue),
    Metric.ATTAINMENT: _attainment,
    Metric.DEALS_WON: _from_deals(lambda revenue, count, customers: Decimal(count)),
    Metric.NEW_CUSTOMERS: _from_deals(lambda revenue, count, customers: Decimal(len(customers))),
}
"""How each metric's values are computed (checked against ``Metric`` at import)."""

check_handlers(METRICS, Metric, "leaderboard metrics")


def _values(
    facts: Facts, book: PlanBook, metric: Metric, period: Period, reps: list[Rep]
) -> Values:
    return METRICS[metric](facts, book, period, reps)


def _ranked(
    facts: Facts, values: dict[str, tuple[Decimal, datetime | None]]
) -> list[tuple[str, Decimal, datetime | None]]:
    never = datetime.max.replace(tzinfo=UTC)
    order = sorted(values.items(), key=lambda kv: (-kv[1][0], kv[1][1] or never, kv[0]))
    return [(rep_id, value, reached) for rep_id, (value, reached) in order]


def ranking(
    facts: Facts, book: PlanBook, metric: Metric, period: Period, scope: str = "company"
) -> list[tuple[str, Decimal, datetime | None]]:
    """The reps of a board in rank order, with their values and when they reached them (the
    board without movement: one period computed, not two)."""
    return _ranked(facts, _values(facts, book, metric, period, members(facts, scope, period)))


def leaderboard(
    facts: Facts,
    book: PlanBook,
    metric: Metric,
    period: Period,
    scope: str = "company",
) -> list[Standing]:
    """The board for a metric, scope and period, with movement since the previous period."""
    current = ranking(facts, book, metric, period, scope)
    previous_period = period.previous()
    try:
        before_members = members(facts, scope, previous_period)
        before = _ranked(facts, _values(facts, book, metric, previous_period, before_members))
    except LeaderboardError:
        before = []
    # Only reps who scored in the previous period held a place on its board.
    scored = [rep_id for rep_id, value, _ in before if value != 0]
    previous_rank = {rep_id: i for i, rep_id in enumerate(scored, start=1)}
    return [
        Standing(i, rep_id, facts.reps[rep_id].name, value, reached, previous_rank.get(rep_id))
        for i, (rep_id, value, reached) in enumerate(current, start=1)
    ]
