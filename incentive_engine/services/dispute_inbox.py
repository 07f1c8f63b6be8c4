"""Finance's disputes inbox: every open dispute with its age in days (in the organisation's
time zone), the rep's team, and the explanation of the disputed line as the statement
stands now, oldest first, filtered by period and team. Reads through ``DisputeService``
(the same access rules as ``/v1/disputes``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from incentive_engine.domain.periods import Period
from incentive_engine.domain.visibility import figure_day
from incentive_engine.services.audit_trail import explain_line
from incentive_engine.services.commissions import CommissionError, rep_statements
from incentive_engine.services.disputes import Actor, Dispute, DisputeService
from incentive_engine.services.engine import Engine
from plans.evaluate import EvaluationError, Line, Statement


@dataclass(frozen=True)
class InboxItem:
    """One open dispute of the inbox, with what finance weighs it against."""

    dispute: Dispute
    age_days: int
    """Whole days since it was raised, counted on the organisation's calendar."""
    team: str | None
    statement: Statement | None
    line: Line | None
    """The disputed line as the statement stands now (None when it no longer exists)."""
    chain: dict[str, Any] | None
    """The line's explanation (rule and events), as the statement page's fragment shows it."""
    problem: str | None
    """Why the line cannot be shown, or how it changed since the dispute was raised."""


@dataclass(frozen=True)
class Inbox:
    """The inbox: its items and the periods and teams it may be filtered by."""

    items: list[InboxItem]
    periods: list[str]
    teams: list[str]


def age_in_days(dispute: Dispute, today: date, zone: str) -> int:
    """Days from the day the dispute was raised to today, in the organisation's time zone."""
    raised = dispute.raised.raised_at.astimezone(ZoneInfo(zone)).date()
    return max((today - raised).days, 0)


def _line_of(
    engine: Engine, dispute: Dispute, cache: dict[tuple[str, str], list[Statement] | str]
) -> tuple[Statement | None, Line | None, dict[str, Any] | None, str | None]:
    """The disputed line now, its explanation, or why it cannot be shown."""
    raised = dispute.raised
    snap = engine.snapshot()
    key = (raised.rep_id, raised.period)
    if key not in cache:
        try:
            cache[key] = rep_statements(snap, raised.rep_id, Period.parse(raised.period))
        except (CommissionError, EvaluationError, ValueError) as exc:
            cache[key] = str(exc)
    found = cache[key]
    if isinstance(found, str):
        return None, None, None, found
    statement = next((s for s in found if s.plan_id == raised.plan_id), None)
    if statement is None:
        return None, None, None, f"no {raised.period} statement under plan {raised.plan_id}"
    line = next((ln for ln in statement.lines if ln.number == raised.line), None)
    if line is None:
        return statement, None, None, f"the statement has no line {raised.line} any more"
    problem = None
    if raised.component and line.component != raised.component:
        problem = f"line {raised.line} is now {line.component}, not {raised.component}"
    elif raised.line_amount is not None and line.amount != raised.line_amount:
        problem = "the line's amount changed since the dispute was raised"
    return statement, line, explain_line(snap, engine.store, statement, line), problem


def inbox(
    engine: Engine,
    actor: Actor,
    today: date,
    zone: str,
    *,
    period: str | None = None,
    team: str | None = None,
) -> Inbox:
    """The open disputes the actor may read (finance: all), oldest first, with the
    explanation of each disputed line; filtered by period and by the rep's team (on the
    period's figure day)."""
    service = DisputeService(engine)
    facts = service.snap.facts
    every = []
    for d in service.queue(actor, "open"):
        rep = facts.reps.get(d.raised.rep_id)
        on = figure_day(Period.parse(d.raised.period))
        every.append((d, rep.team_on(on) if rep is not None else None))
    periods = sorted({d.raised.period for d, _ in every})
    teams = sorted({t for _, t in every if t})
    cache: dict[tuple[str, str], list[Statement] | str] = {}
    items = []
    for d, on_team in every:
        if (period and d.raised.period != period) or (team and on_team != team):
            continue
        statement, line, chain, problem = _line_of(engine, d, cache)
        items.append(
            InboxItem(d, age_in_days(d, today, zone), on_team, statement, line, chain, problem)
        )
    items.sort(key=lambda i: (-i.age_days, i.dispute.raised.raised_at, i.dispute.dispute_id))
    return Inbox(items, periods, teams)
