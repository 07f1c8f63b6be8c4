"""The gamification commands: leaderboard, points (with explanation) and badges."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from incentive_engine.cli.common import (
    Format,
    console,
    emit,
    fail,
    number,
    parse_instant,
    period_arg,
    presenter,
    snapshot_of,
)
from incentive_engine.domain.periods import Period, PeriodKind
from incentive_engine.domain.vocabulary import Metric

if TYPE_CHECKING:
    from incentive_engine.domain.leaderboards import Standing
    from incentive_engine.services.commissions import Snapshot
    from plans.documents import PlanVersion


gamification_commands = typer.Typer()
"""Top-level commands, merged into the main application."""

AsOf = Annotated[str | None, typer.Option(help="What the engine knew at this instant.")]
Fmt = Annotated[Format, typer.Option("--format")]


def _snap(ctx: typer.Context, as_of: str | None) -> Snapshot:
    return snapshot_of(ctx, parse_instant(as_of))


@gamification_commands.command("leaderboard")
def leaderboard_command(
    ctx: typer.Context,
    metric: Annotated[
        Metric, typer.Argument(help="points, revenue, attainment, deals_won or new_customers.")
    ] = Metric.POINTS,
    period: Annotated[
        str | None, typer.Option(help="Day, week, month, quarter or year (default this quarter).")
    ] = None,
    scope: Annotated[str, typer.Option(help="company, team:NAME or territory:ID.")] = "company",
    rep: Annotated[str | None, typer.Option(help="Mark this rep's own position.")] = None,
    top: Annotated[int, typer.Option(min=1, help="Show the first N (and the marked rep).")] = 20,
    as_of: AsOf = None,
    fmt: Fmt = Format.TABLE,
) -> None:
    """Reps ranked by a metric: ties go to who reached the value first, then rep id.
    Boards never show pay."""
    from incentive_engine.domain.leaderboards import leaderboard

    snap = _snap(ctx, as_of)
    the_period = (
        period_arg(period)
        if period
        else Period.containing(datetime.now(UTC).date(), PeriodKind.QUARTER)
    )
    board = leaderboard(snap.facts, snap.book, metric, the_period, scope)
    if rep is not None and rep not in snap.facts.reps:
        fail(f"unknown rep {rep!r}")
    shown = [s for s in board if s.rank <= top or s.rep_id == rep]
    if fmt is not Format.TABLE:  # machine output: the API's Standing fields (boards.py)
        emit([standing_row(s) for s in shown], fmt)
        return
    people = presenter(ctx)  # tables for people only
    rows = [
        {
            "rank": s.rank,
            "rep": s.rep_id,
            "name": s.name + (" ◀ you" if s.rep_id == rep else ""),
            metric.value: people.number(s.value),
            "reached": people.datetime(s.reached_at) if s.reached_at else "",
            "movement": "new" if s.movement is None else f"{s.movement:+d}",
        }
        for s in shown
    ]
    emit(rows, fmt, f"{metric.value} leaderboard, {scope}, {the_period}")


def standing_row(s: Standing) -> dict[str, object]:
    """A place on a board as JSON and CSV give it: the API's names, the value as an exact
    decimal string, ``movement`` places gained (null: new on the board)."""
    return {
        "rank": s.rank,
        "rep_id": s.rep_id,
        "name": s.name,
        "value": str(s.value),
        "reached_at": s.reached_at.isoformat() if s.reached_at else None,
        "previous_rank": s.previous_rank,
        "movement": s.movement,
    }


@gamification_commands.command("points")
def points_command(
    ctx: typer.Context,
    rep: Annotated[str, typer.Argument(help="Rep id.")],
    period: Annotated[str, typer.Argument(help="Day, week, month, quarter or year.")],
    as_of: AsOf = None,
    fmt: Fmt = Format.TABLE,
) -> None:
    """A rep's points for a period, line by line: when, by which rule, from which events."""
    from plans.points import points

    snap = _snap(ctx, as_of)
    if rep not in snap.facts.reps:
        fail(f"unknown rep {rep!r}")
    the_period = period_arg(period)
    versions = [
        v for v in snap.book.gamified_for(snap.facts, rep, the_period) if v.plan.points is not None
    ]
    if not versions:
        fail(f"no published plan with points rules covers {rep} in {the_period}")
    if fmt is not Format.TABLE:
        _machine_points(snap, versions, rep, the_period, fmt)
        return
    for version in versions:
        s = points(snap.facts, version, rep, the_period)
        rows = [
            {
                "at": ln.at.isoformat(),
                "rule": ln.rule,
                "description": ln.description,
                "points": number(ln.points),
                "events": ", ".join(ln.event_ids),
            }
            for ln in s.lines
        ]
        emit(rows, fmt, f"points of {rep}, {the_period}, plan {s.plan_id} v{s.plan_version}")
        if fmt is Format.TABLE:
            reached = s.reached_at.isoformat() if s.reached_at else "-"
            console.print(f"total {number(s.total)} points (reached {reached})")


def _machine_points(
    snap: Snapshot, versions: list[PlanVersion], rep: str, period: Period, fmt: Format
) -> None:
    """Points as JSON (the API's ``Points`` document: the total in ``points``, per plan in
    ``plans``, the lines in ``items``) or CSV (the lines, ``event_ids`` space-separated)."""
    from plans.points import points

    lines: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    for version in versions:
        s = points(snap.facts, version, rep, period)
        plans.append(
            {
                "plan_id": s.plan_id,
                "plan_version": s.plan_version,
                "plan_hash": s.plan_hash,
                "points": str(s.total),
                "reached_at": s.reached_at.isoformat() if s.reached_at else None,
            }
        )
        lines += [
            {
                "plan_id": s.plan_id,
                "plan_version": s.plan_version,
                "at": ln.at.isoformat(),
                "rule": ln.rule,
                "description": ln.description,
                "points": str(ln.points),
                "event_ids": list(ln.event_ids),
            }
            for ln in s.lines
        ]
    if fmt is Format.CSV:
        emit([{**ln, "event_ids": " ".join(ln["event_ids"])} for ln in lines], fmt)
        return
    total = sum((Decimal(p["points"]) for p in plans), Decimal(0))
    document = {
        "rep_id": rep,
        "period": str(period),
        "points": str(total),
        "plans": plans,
        "items": lines,
        "total": len(lines),
        "limit": max(len(lines), 1),
        "offset": 0,
    }
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


@gamification_commands.command("badges")
def badges_command(
    ctx: typer.Context,
    rep: Annotated[str, typer.Argument(help="Rep id.")],
    on: Annotated[str | None, typer.Option(help="Badges held on this day (default today).")] = None,
    as_of: AsOf = None,
    fmt: Fmt = Format.TABLE,
) -> None:
    """The badges a rep holds, each with the day and the events that earned it (a clawback
    that removes the basis removes the badge)."""
    from plans.points import badges

    snap = _snap(ctx, as_of)
    if rep not in snap.facts.reps:
        fail(f"unknown rep {rep!r}")
    try:
        day = date.fromisoformat(on) if on else datetime.now(UTC).date()
    except ValueError:
        raise typer.BadParameter(f"{on!r} is not an ISO date") from None
    rows = []
    today = Period.containing(day, PeriodKind.DAY)
    for version in snap.book.gamified_for(snap.facts, rep, today):
        for b in badges(snap.facts, version, rep, day):
            rows.append(  # the API's BadgeOut fields; event_ids a list (CSV: space-separated)
                {
                    "badge_id": b.badge_id,
                    "name": b.name,
                    "earned_on": b.earned_on.isoformat(),
                    "scope": b.scope,
                    "plan_id": version.plan.plan_id,
                    "plan_version": version.plan.version,
                    "event_ids": list(b.event_ids) if fmt is Format.JSON else " ".join(b.event_ids),
                }
            )
    emit(rows, fmt, f"badges of {rep} on {day}")
