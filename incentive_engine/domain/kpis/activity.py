"""Activity KPIs: customers approached, calls per working day against a target, call
outcomes."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta

from incentive_engine.domain.events import ActivityKind, Role
from incentive_engine.domain.facts import Activity, Facts
from incentive_engine.domain.kpis.base import (
    _CALLS,
    _MONTHS,
    NONE,
    By,
    Row,
    Targets,
    _calls_target,
    _mean,
    percent,
    working_days,
)
from incentive_engine.domain.kpis.frame import _Frame, _frame
from incentive_engine.domain.periods import Period


def _bounds(f: _Frame) -> tuple[datetime, datetime]:
    """The period's first instant and the first instant after it (UTC)."""
    start = datetime.combine(f.period.start, time(), tzinfo=UTC)
    return start, datetime.combine(f.period.end + timedelta(days=1), time(), tzinfo=UTC)


def _in_period(f: _Frame) -> list[Activity]:
    """The activities of the period, ordered by time then event id (each rep's log cut by
    time, not every activity built and tested)."""
    start, end = _bounds(f)
    logs = f.facts.activities
    found = [a for rep_id in sorted(logs) for a in logs[rep_id].between(start, end)]
    found.sort()
    return found


def customers_approached(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """New customers approached: the customers whose first activity (of any kind) with a
    rep falls in the period, counted once per rep and customer; per_rep_per_month divides
    that by the reps with any activity in the period in the group and by the months in the
    period. Activities naming no customer do not count."""
    f = _frame(facts, period, by, as_of, currency)
    months = _MONTHS[period.kind]
    approached: dict[str, int] = {}
    reps: dict[str, set[str]] = {}
    start, end = _bounds(f)
    logs = f.facts.activities
    for rep_id in sorted(logs):
        log = logs[rep_id]
        seen = log.customers_before(start)  # approached before the period: not new in it
        for a in log.between(start, end):
            group = f.activity_group(a)
            reps.setdefault(group, set()).add(a.rep_id)
            if a.customer_id is None or a.customer_id in seen:
                continue
            seen.add(a.customer_id)
            approached[group] = approached.get(group, 0) + 1
    rows = []
    for group in f.groups(approached, reps):
        n, people = approached.get(group, 0), len(reps.get(group, ()))
        rows.append(
            {
                "group": group,
                "approached": n,
                "reps": people,
                "months": months,
                "per_rep_per_month": _mean(n, people * months),
            }
        )
    return rows


def _logged(f: _Frame, kinds: Collection[ActivityKind] | None = None) -> dict[str, list[Activity]]:
    """Per group: the activities of the given kinds (any kind if None) in the period (up to
    as_of), ordered by time then event id."""
    found: dict[str, list[Activity]] = {}
    for a in _in_period(f):
        if (kinds is not None and a.kind not in kinds) or a.occurred_at.date() not in f.period:
            continue
        found.setdefault(f.activity_group(a), []).append(a)
    return found


def _calls(f: _Frame) -> dict[str, list[int]]:
    """Per group: [connected, unanswered] calls in the period (up to as_of)."""
    found: dict[str, list[int]] = {}
    for group, calls in _logged(f, _CALLS).items():
        cell = found[group] = [0, 0]
        for a in calls:
            cell[a.kind is ActivityKind.CALL_UNANSWERED] += 1
    return found


def _rep_days(f: _Frame) -> dict[str, int]:
    """Per group (not territories): the working days of the period, up to as_of, on which
    people in the rep role, or anyone who called in the period, were employed."""
    days = working_days(f.period.start, f.day)
    callers = {a.rep_id for a in _in_period(f) if a.kind in _CALLS}
    found: dict[str, int] = {}
    for rep_id in sorted(f.facts.reps):
        rep = f.facts.reps[rep_id]
        spells = rep.spells()
        for day in days:
            if not any(s <= day and (e is None or day <= e) for s, e in spells):
                continue
            if rep_id not in callers and rep.role_on(day) is not Role.REP:
                continue
            group = f.rep_group(rep_id, day, lambda: NONE)
            found[group] = found.get(group, 0) + 1
    return found


def calls_per_day(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Calls per working day against a target: calls (connected and unanswered) in the
    period, up to as_of, divided by the working days (Monday to Friday; holidays are not
    known) of the people in the group: each rep's days employed, a team's members' days
    in the team, the company's reps' days (people in the rep role, and anyone else who
    called). A territory has no staff of its own: its calls are divided by the period's
    working days. pct_of_target = calls_per_day / target x 100, the target being calls per
    rep per working day (target calls=N)."""
    f = _frame(facts, period, by, as_of, currency)
    target = _calls_target(targets)
    calls = _calls(f)
    if f.by == "territory":
        n = len(working_days(period.start, f.day))
        days = {g: n for g in calls}
    else:
        days = _rep_days(f)
    rows = []
    for group in f.groups(calls, days):
        connected, unanswered = calls.get(group, [0, 0])
        per_day = _mean(connected + unanswered, days.get(group, 0))
        rows.append(
            {
                "group": group,
                "calls": connected + unanswered,
                "connected": connected,
                "unanswered": unanswered,
                "working_days": days.get(group, 0),
                "calls_per_day": per_day,
                "target": target,
                "pct_of_target": percent(per_day, target)
                if per_day is not None and target is not None
                else None,
            }
        )
    return rows


def call_outcomes(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Connected versus unanswered calls in the period: how many of each, and connected
    calls as a percentage of all calls."""
    f = _frame(facts, period, by, as_of, currency)
    calls = _calls(f)
    rows = []
    for group in f.groups(calls):
        connected, unanswered = calls.get(group, [0, 0])
        rows.append(
            {
                "group": group,
                "calls": connected + unanswered,
                "connected": connected,
                "unanswered": unanswered,
                "connected_pct": percent(connected, connected + unanswered),
            }
        )
    return rows
