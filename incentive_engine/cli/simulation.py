"""The simulate command: a draft plan or any published version against a baseline, over history."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from incentive_engine.cli.common import (
    Format,
    console,
    emit,
    engine_of,
    money,
    number,
    parse_instant,
    period_arg,
    plan_ref_arg,
    settings_of,
    tell_fold,
)
from incentive_engine.cli.progress import progress

if TYPE_CHECKING:
    from incentive_engine.domain.simulation import RepResult
    from incentive_engine.services.commissions import Snapshot
    from plans.documents import PlanVersion


simulation_commands = typer.Typer()
"""Top-level commands, merged into the main application."""


def _version(snap: Snapshot, text: str) -> PlanVersion:
    """A plan file (a draft, unpublished) or PLAN@VERSION (published)."""
    from incentive_engine.services import simulations
    from incentive_engine.services.commissions import find_version

    path = Path(text)
    if path.is_file():
        return simulations.draft_from_text(path.read_text(encoding="utf-8"), str(path))
    return find_version(snap, *plan_ref_arg(text, or_file=True).key)


def _row(r: RepResult, currency: str) -> dict[str, str]:
    """One rep's line of the table."""
    row = {
        "rep": r.rep_id,
        "name": r.name,
        "baseline": money(r.baseline, currency),
        "simulated": money(r.simulated, currency),
        "difference": money(r.difference, currency),
        "change": "" if r.change is None else f"{number(r.change)} %",
    }
    if r.baseline_points is not None and r.simulated_points is not None:
        row["points"] = f"{number(r.baseline_points)} -> {number(r.simulated_points)}"
    row["note"] = "; ".join(r.errors)
    return row


@simulation_commands.command("simulate")
def simulate_command(
    ctx: typer.Context,
    plan: Annotated[str, typer.Option("--plan", help="Draft plan FILE, or PLAN@VERSION.")],
    baseline: Annotated[str, typer.Option(help="Published PLAN@VERSION to compare against.")],
    start: Annotated[str, typer.Option("--from", help="First period of the window.")],
    end: Annotated[str, typer.Option("--to", help="Last period of the window.")],
    rep: Annotated[str | None, typer.Option(help="Explain this rep line by line.")] = None,
    save: Annotated[
        str | None, typer.Option(help="Save the result as this named scenario.")
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Simulate on what was known then.")] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """What a plan change would have paid over a window of history, rep by rep: baseline,
    simulated, difference, totals and the distribution of changes. Writes nothing to the log."""
    from incentive_engine.services import simulations
    from projections.runner import make_engine
    from projections.scenarios import save_scenario

    settings = settings_of(ctx)
    with engine_of(ctx) as engine:
        position = engine.store.max_position()
        if as_of is None:  # the fold is the long part on a large store
            with progress("fold", None) as advance:
                engine.catch_up(progress=advance)
        snap = engine.snapshot(parse_instant(as_of))
        tell_fold(engine)
    draft, base = _version(snap, plan), _version(snap, baseline)
    periods = simulations.window(period_arg(start), period_arg(end))
    with progress("simulate", len(periods), unit="periods") as advance:
        result = simulations.run(snap, draft, base, periods)
        advance(len(periods))
    if save is not None:
        engine = make_engine(settings.resolved_views_url())
        with engine.begin() as conn:
            save_scenario(
                conn, save, result.as_dict(), log_position=position, saved_at=datetime.now(UTC)
            )
    currency = base.plan.currency
    if fmt is not Format.TABLE:
        report = result.as_dict()
        emit(report["reps"] if fmt is Format.CSV else [report], fmt)
        return
    rows = [_row(r, currency) for r in result.reps]
    title = (
        f"{draft.plan.plan_id} v{draft.plan.version} ({draft.content_hash[:19]}…) against "
        f"{base.plan.plan_id} v{base.plan.version}, {start}..{end}"
    )
    emit(rows, fmt, title)
    console.print(
        f"total {money(result.baseline_total, currency)} -> "
        f"{money(result.simulated_total, currency)} (change {money(result.cost_change, currency)})"
    )
    console.print(
        "distribution: " + ", ".join(f"{k} {v}" for k, v in result.distribution().items() if v)
    )
    if rep is not None:
        for (rep_id, period, label), s in sorted(result.statements.items()):
            if rep_id == rep:
                emit(
                    [
                        {
                            "#": ln.number,
                            "component": ln.component,
                            "description": ln.description,
                            "amount": money(ln.amount, currency),
                        }
                        for ln in s.lines
                    ],
                    Format.TABLE,
                    f"{rep} {period} {label}: {money(s.earned, currency)}",
                )
    if save is not None:
        console.print(f"saved scenario {save!r} (log position {position})")
