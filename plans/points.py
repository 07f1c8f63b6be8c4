"""Gamification: points and badges of a rep under a plan version's rules (pure).

Points are never pay. Each points line says when it was earned (its effective time), under
which rule, and from which events; a rep's ``reached_at`` is the time of the last line that
changed their total, which breaks leaderboard ties (earlier first).  A deal clawed back
within the plan's window earns nothing, so its points and the badges it earned disappear
with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal

from incentive_engine.domain.events import ActivityKind
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.handlers import check_handlers
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.evaluate import Credited, EvaluationError, credits_for, quota_for
from plans.model import BadgeKind, BadgeRule, Plan, PointsRules

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


@dataclass(frozen=True)
class PointsLine:
    """Points earned (or removed by a daily cap) at an instant, by a rule, from events."""

    at: datetime
    rule: str
    description: str
    points: Decimal
    event_ids: tuple[str, ...]


@dataclass(frozen=True)
class PointsStatement:
    """A rep's points for a period under a plan version."""

    rep_id: str
    period: str
    plan_id: str
    plan_version: int
    plan_hash: str
    lines: tuple[PointsLine, ...]

    @property
    def total(self) -> Decimal:
        """Sum of the lines."""
        return sum((ln.points for ln in self.lines), ZERO)

    @property
    def reached_at(self) -> datetime | None:
        """When the rep reached their total: the last line that changed it."""
        changing = [ln.at for ln in self.lines if ln.points != 0]
        return max(changing) if changing else None


def _in(period: Period, day: date) -> bool:
    return period.start <= day <= period.end


def _activity_lines(
    facts: Facts, rules: PointsRules, rep_id: str, period: Period
) -> list[PointsLine]:
    lines: list[PointsLine] = []
    by_day: dict[tuple[date, ActivityKind], list[PointsLine]] = {}
    log = facts.activities.get(rep_id)
    after = _midnight(period.end + timedelta(days=1))
    for a in log.between(_midnight(period.start), after) if log is not None else ():
        day = a.occurred_at.date()
        points = rules.activities.get(a.kind)
        if points is None:
            continue
        line = PointsLine(
            a.occurred_at, f"activity:{a.kind.value}", f"{a.kind.value}", points, (a.event_id,)
        )
        lines.append(line)
        by_day.setdefault((day, a.kind), []).append(line)
    for (day, kind), earned in sorted(by_day.items()):
        cap = rules.daily_caps.get(kind)
        total = sum((ln.points for ln in earned), ZERO)
        if cap is not None and total > cap:
            last = max(ln.at for ln in earned)
            lines.append(
                PointsLine(
                    last,
                    f"cap:{kind.value}",
                    f"daily cap: at most {cap} {kind.value} points on {day}",
                    cap - total,
                    (),
                )
            )
    return lines


def _lead_lines(facts: Facts, rules: PointsRules, rep_id: str, period: Period) -> list[PointsLine]:
    lines = []
    for lead in facts.leads_of(rep_id):
        if lead.source is None or lead.created_date is None:
            continue
        points = rules.leads.get(lead.source)
        if points and _in(period, lead.created_date):
            lines.append(
                PointsLine(
                    _midnight(lead.created_date),
                    f"lead:{lead.source.value}",
                    f"lead {lead.lead_id} from {lead.source.value}",
                    points,
                    tuple(lead.event_ids[:1]),
                )
            )
    return lines


def _deal_lines(credits: Iterable[Credited], rules: PointsRules) -> list[PointsLine]:
    lines = []
    for c in credits:
        won = c.deal.won
        assert won is not None
        if c.amount == 0:
            continue  # clawed back: no basis, no points
        share = c.credit.share / HUNDRED
        at = _midnight(won.close_date)
        if rules.won_deal:
            lines.append(
                PointsLine(
                    at, "won_deal", f"won deal {c.deal_id}", rules.won_deal * share, c.event_ids
                )
            )
        if rules.per_amount is not None:
            steps = (c.amount / rules.per_amount.step).to_integral_value(rounding=ROUND_FLOOR)
            if steps:
                lines.append(
                    PointsLine(
                        at,
                        "per_amount",
                        f"{steps} full steps of {rules.per_amount.step} credited on {c.deal_id}",
                        steps * rules.per_amount.points,
                        c.event_ids,
                    )
                )
        if rules.new_customer and won.customer.is_new:
            lines.append(
                PointsLine(
                    at,
                    "new_customer",
                    f"new customer {won.customer.customer_id}",
                    rules.new_customer * share,
                    c.event_ids,
                )
            )
    return lines


def _crossings(
    facts: Facts, plan: Plan, rep_id: str, period: Period
) -> list[tuple[Decimal, Credited, Decimal]]:
    """(attainment after, deal that got there, quota) in close order, for the plan period."""
    try:
        quota = quota_for(facts, plan, rep_id, period)
    except EvaluationError:
        return []
    if quota is None or quota[0] == 0:
        return []
    running = ZERO
    found = []
    ordered = sorted(
        credits_for(facts, plan, rep_id, period), key=lambda c: (c.deal.won.close_date, c.deal_id)
    )  # type: ignore[union-attr]
    for c in ordered:
        running += c.amount
        found.append((running * HUNDRED / quota[0], c, quota[0]))
    return found


def _milestone_lines(
    facts: Facts, plan: Plan, rules: PointsRules, rep_id: str, period: Period
) -> list[PointsLine]:
    lines = []
    for plan_period in _plan_periods(plan, period):
        crossings = _crossings(facts, plan, rep_id, plan_period)
        for m in rules.milestones:
            hit = next((c for a, c, _ in crossings if a >= m.attainment), None)
            if hit is None or hit.deal.won is None or not _in(period, hit.deal.won.close_date):
                continue
            lines.append(
                PointsLine(
                    _midnight(hit.deal.won.close_date),
                    f"milestone:{m.attainment}",
                    f"attainment reached {m.attainment} % in {plan_period}",
                    m.points,
                    hit.event_ids,
                )
            )
    return lines


def _plan_periods(plan: Plan, period: Period) -> list[Period]:
    """The plan periods overlapping a (leaderboard) period."""
    found, current = [], Period.containing(period.start, plan.period)
    while current.start <= period.end:
        found.append(current)
        current = current.next()
    return found


def points(facts: Facts, version: PlanVersion, rep_id: str, period: Period) -> PointsStatement:
    """A rep's points in any period (day to year) under a plan version's points rules."""
    plan = version.plan
    rules = plan.points
    lines: list[PointsLine] = []
    if rules is not None:
        lines += _activity_lines(facts, rules, rep_id, period)
        lines += _lead_lines(facts, rules, rep_id, period)
        deal_credits = [
            c
            for p in _plan_periods(plan, period)
            for c in credits_for(facts, plan, rep_id, p)
            if c.deal.won is not None and _in(period, c.deal.won.close_date)
        ]
        lines += _deal_lines(deal_credits, rules)
        lines += _milestone_lines(facts, plan, rules, rep_id, period)
    lines.sort(key=lambda ln: (ln.at, ln.rule, ln.event_ids))
    return PointsStatement(
        rep_id, str(period), plan.plan_id, plan.version, version.content_hash, tuple(lines)
    )


# --------------------------------------------------------------------- badges


@dataclass(frozen=True)
class Badge:
    """A badge a rep holds: which rule, when it was earned, and the events that earned it."""

    badge_id: str
    name: str
    rep_id: str
    earned_on: date
    scope: str
    """The plan period a per-period badge was earned in ('' for once-only badges)."""
    event_ids: tuple[str, ...]


def _won_credits(facts: Facts, plan: Plan, rep_id: str, until: date) -> list[Credited]:
    start = Period.containing(plan.effective_from, plan.period)
    found: list[Credited] = []
    current = start
    while current.start <= until:
        found += [c for c in credits_for(facts, plan, rep_id, current) if c.amount > 0]
        current = current.next()
    return sorted(found, key=lambda c: (c.deal.won.close_date, c.deal_id))  # type: ignore[union-attr]


def badges(facts: Facts, version: PlanVersion, rep_id: str, until: date) -> list[Badge]:
    """Every badge the rep holds on a day under the plan's badge rules (recomputed from the
    facts: a clawback that removes a badge's basis removes the badge)."""
    plan = version.plan
    found: list[Badge] = []
    credits = [
        c
        for c in _won_credits(facts, plan, rep_id, until)
        if c.deal.won is not None and c.deal.won.close_date <= until
    ]
    for rule in plan.badges:
        found += _badge(facts, plan, rule, rep_id, until, credits)
    return sorted(found, key=lambda b: (b.earned_on, b.badge_id, b.scope))


def _badge(
    facts: Facts, plan: Plan, rule: BadgeRule, rep_id: str, until: date, credits: list[Credited]
) -> list[Badge]:
    return BADGES[rule.kind](facts, plan, rule, rep_id, until, credits)


def _award(rule: BadgeRule, rep_id: str, day: date, scope: str, ids: tuple[str, ...]) -> Badge:
    return Badge(rule.id, rule.name, rep_id, day, scope, ids)


def _first_won_deal(
    facts: Facts, plan: Plan, rule: BadgeRule, rep_id: str, until: date, credits: list[Credited]
) -> list[Badge]:
    """The first won deal that still stands."""
    if not credits:
        return []
    first = credits[0]
    return [_award(rule, rep_id, first.deal.won.close_date, "", first.event_ids)]  # type: ignore[union-attr]


def _deals_in_period(
    facts: Facts, plan: Plan, rule: BadgeRule, rep_id: str, until: date, credits: list[Credited]
) -> list[Badge]:
    """``count`` won deals in a plan period, once per period, on the day of the last one."""
    assert rule.count is not None
    by_period: dict[Period, list[Credited]] = {}
    for c in credits:
        by_period.setdefault(Period.containing(c.deal.won.close_date, plan.period), []).append(c)  # type: ignore[union-attr]
    return [
        _award(
            rule,
            rep_id,
            cs[rule.count - 1].deal.won.close_date,  # type: ignore[union-attr]
            str(p),
            tuple(e for c in cs[: rule.count] for e in c.event_ids[:1]),
        )
        for p, cs in sorted(by_period.items())
        if len(cs) >= rule.count
    ]


def _quota_club(
    facts: Facts, plan: Plan, rule: BadgeRule, rep_id: str, until: date, credits: list[Credited]
) -> list[Badge]:
    """Attainment reaching 100 % in a plan period, on the day of the deal that got there."""
    found = []
    current = Period.containing(plan.effective_from, plan.period)
    while current.start <= until:
        hit = next(
            (c for a, c, _ in _crossings(facts, plan, rep_id, current) if a >= HUNDRED),
            None,
        )
        if hit is not None and hit.deal.won is not None and hit.deal.won.close_date <= until:
            found.append(_award(rule, rep_id, hit.deal.won.close_date, str(current), hit.event_ids))
        current = current.next()
    return found


def _streaks(
    facts: Facts, plan: Plan, rule: BadgeRule, rep_id: str, until: date, credits: list[Credited]
) -> list[Badge]:
    """A badge on the day a run of ``count`` consecutive working days with activity is
    completed (again after each completed run)."""
    assert rule.count is not None
    days: dict[date, str] = {}
    for a in facts.activities.get(rep_id, []):
        day = a.occurred_at.date()
        if day <= until and (rule.activity is None or a.kind is rule.activity):
            days.setdefault(day, a.event_id)
    found: list[Badge] = []
    run: list[date] = []
    for day in sorted(days):
        if day.weekday() >= 5:
            continue  # weekends neither count nor break a streak
        if run and _next_working_day(run[-1]) != day:
            run = []
        run.append(day)
        if len(run) == rule.count:
            found.append(_award(rule, rep_id, day, f"{run[0]}..{day}", tuple(days[d] for d in run)))
            run = []
    return found


BadgeHandler = Callable[[Facts, Plan, BadgeRule, str, date, list[Credited]], list[Badge]]

BADGES: dict[BadgeKind, BadgeHandler] = {
    BadgeKind.FIRST_WON_DEAL: _first_won_deal,
    BadgeKind.DEALS_IN_PERIOD: _deals_in_period,
    BadgeKind.QUOTA_CLUB: _quota_club,
    BadgeKind.ACTIVITY_STREAK: _streaks,
}
"""How each badge kind is earned: (facts, plan, rule, rep, until, the rep's standing won
credits in close order) -> the badges held (checked against ``BadgeKind`` at import)."""

check_handlers(BADGES, BadgeKind, "badge kinds")


def _next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day
