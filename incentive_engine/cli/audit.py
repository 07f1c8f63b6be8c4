"""The audit commands: verify the tamper-evident log and the sealed periods."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from incentive_engine.cli.common import (
    EngineErrors,
    Format,
    console,
    emit,
    engine_of,
    errors,
    money,
    parse_instant,
    period_arg,
    record_access,
    settings_of,
)

audit_app = typer.Typer(
    cls=EngineErrors, help="Audit: verify the log and the sealed periods.", no_args_is_help=True
)


@audit_app.command("verify")
def verify_command(
    ctx: typer.Context, fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE
) -> None:
    """Recompute the hash chain over the log and every closed period's statements; report the
    first event altered, removed or reordered, and any period that no longer recomputes to
    its seal. Exit 1 when anything is found."""
    from incentive_engine.services.audit import verify
    from projections.audit_chain import AuditChain
    from projections.runner import ProjectionRunner, make_engine

    views = make_engine(settings_of(ctx).resolved_views_url())
    with engine_of(ctx) as engine:
        # Extend the chain with events not chained yet (existing links are never rewritten).
        ProjectionRunner(engine.store, views, [AuditChain()]).run()
        with views.connect() as conn:
            report = verify(engine, conn)
    rows = [
        {"kind": f.kind, "position": f.position, "event_id": f.event_id, "detail": f.detail}
        for f in report.findings
    ]
    if rows:
        emit(rows, fmt, "audit findings")
        errors.print(f"audit: {len(rows)} finding(s)", markup=False)
        raise typer.Exit(1)
    if fmt is Format.TABLE:
        console.print(
            f"ok: {report.events:,} events chained, {report.periods} closed period(s) recompute "
            "to their seals"
        )
    else:
        emit([], fmt)


@audit_app.command("explain")
def explain_command(
    ctx: typer.Context,
    rep: Annotated[str, typer.Argument(help="Rep id.")],
    period: Annotated[str, typer.Argument(help="Period.")],
    as_of: Annotated[str | None, typer.Option(help="What the engine knew at this instant.")] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """From the paid total to each line, its rule, tier and rate, and the events behind it
    (with their recorded times and sources)."""
    from incentive_engine.services.audit_trail import explain_line
    from incentive_engine.services.commissions import rep_statements

    with engine_of(ctx) as engine:
        snap = engine.snapshot(parse_instant(as_of))
        found = rep_statements(snap, rep, period_arg(period))
        chains = [explain_line(snap, engine.store, s, ln) for s in found for ln in s.lines]
    record_access(ctx, "explain", [rep], str(period_arg(period)))
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(chains, ensure_ascii=False, indent=2) + "\n")
        return
    for s in found:
        console.print(
            f"{s.rep_id} {s.period}: total {money(s.total, s.currency)} "
            f"(plan {s.plan_id} v{s.plan_version}, statement {s.hash})"
        )
    for chain in chains:
        line = chain["line"]
        console.print(
            f"\nline {line['number']} [{line['component']}] {line['description']}: "
            f"{line['amount']}",
            markup=False,
        )
        emit(chain["events"], Format.TABLE, "events")


@audit_app.command("export")
def export_command(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="Period, e.g. 2026-Q1.")],
    directory: Annotated[Path, typer.Option("--dir", help="Where to write the pack.")] = Path(
        "audit-pack"
    ),
) -> None:
    """Write the audit pack of a period (CSV and JSON: events, plan documents, statements,
    adjustments, payouts, hashes, and a manifest with each file's sha256)."""
    from incentive_engine.services.audit_trail import export_pack

    with engine_of(ctx) as engine:
        manifest = export_pack(
            engine.snapshot(), engine.store, period_arg(period), directory / period
        )
    record_access(ctx, "audit pack", ["*"], str(period_arg(period)))
    console.print(f"wrote the audit pack of {period} to {manifest.parent} ({manifest.name})")
