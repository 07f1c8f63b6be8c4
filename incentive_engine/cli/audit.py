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
    tell_fold,
)
from incentive_engine.cli.progress import progress

audit_app = typer.Typer(
    cls=EngineErrors, help="Audit: verify the log and the sealed periods.", no_args_is_help=True
)


@audit_app.command("verify")
def verify_command(
    ctx: typer.Context, fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE
) -> None:
    """Recompute the hash chain over the log against the chain read model and the signed
    checkpoints, then every closed period's statements; report the first event edited,
    deleted, inserted or reordered, a rebuilt chain, forged or missing checkpoints, any
    period that no longer recomputes to its seal, and every quarantined event (a stored
    event that no longer validates) with whether it is voided. Exit 1 when anything is
    found; exit 3 when the log is intact but quarantined events are not voided yet."""
    from incentive_engine.services.integrity import run_verification

    with engine_of(ctx) as engine:
        report = run_verification(engine)
    for warning in report.warnings:
        errors.print(f"warning: {warning}", markup=False)
    rows = [
        {"kind": f.kind, "position": f.position, "event_id": f.event_id, "detail": f.detail}
        for f in report.findings
    ] + [
        {
            "kind": "voided" if q.resolved else "quarantined",
            "position": q.position,
            "event_id": q.event_id,
            "detail": q.describe(),
        }
        for q in report.quarantined
    ]
    if report.findings:
        emit(rows, fmt, "audit findings")
        errors.print(f"audit: {len(report.findings)} finding(s): {report.summary()}", markup=False)
        raise typer.Exit(1)
    if report.unresolved:
        emit(rows, fmt, "quarantined events")
        errors.print(
            f"audit: the log is intact ({report.summary()}), but {report.quarantine_summary()}",
            markup=False,
        )
        raise typer.Exit(3)
    if fmt is Format.TABLE:
        console.print(
            f"ok: {report.events:,} events chained, {report.periods} closed period(s) recompute "
            f"to their seals; {report.summary()}"
            + (f"; {report.quarantine_summary()}" if report.quarantined else ""),
            markup=False,
        )
    else:
        emit(rows, fmt)


@audit_app.command("checkpoint")
def checkpoint_command(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="Why it is taken (recorded).")] = "audit checkpoint",
) -> None:
    """Verify the log and sign a checkpoint of its chain head and event count (kept in the
    read-model database and appended to INCENTIVE_CHECKPOINT_FILE). Refused when the log
    fails verification."""
    from incentive_engine.services.integrity import checkpoint_after_verify, views_of

    with engine_of(ctx) as engine:
        views = views_of(engine)
        try:
            cp = checkpoint_after_verify(engine, views, reason=reason)
        finally:
            views.dispose()
    console.print(
        f"checkpoint #{cp.number}: {cp.count:,} events up to position {cp.position}, "
        f"head {cp.link[:16]}…, signed by key {cp.key_id}",
        markup=False,
    )


@audit_app.command("public-key")
def public_key_command(ctx: typer.Context) -> None:
    """Print the checkpoint public key (PEM), for a host that only verifies."""
    from incentive_engine.services.integrity import public_key_pem

    sys.stdout.write(public_key_pem(settings_of(ctx)))


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
        tell_fold(engine)
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
    from incentive_engine.services.integrity import guard_export

    the_period = period_arg(period)
    with engine_of(ctx) as engine:
        guard_export(engine, the_period, what=f"the audit pack of {the_period}")
        with progress("fold", None) as advance:
            engine.catch_up(progress=advance)
        with progress("audit export", engine.store.max_position()) as advance:
            manifest = export_pack(
                engine.snapshot(), engine.store, the_period, directory / period, progress=advance
            )
    record_access(ctx, "audit pack", ["*"], str(the_period))
    console.print(f"wrote the audit pack of {period} to {manifest.parent} ({manifest.name})")
