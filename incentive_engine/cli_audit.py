"""The audit commands: verify the tamper-evident log and the sealed periods."""

from __future__ import annotations

from typing import Annotated

import typer

from incentive_engine.audit import verify
from incentive_engine.cli_common import Format, console, emit, errors, settings_of
from incentive_engine.store import EventStore
from projections.audit_chain import AuditChain
from projections.runner import ProjectionRunner, make_engine

audit_app = typer.Typer(help="Audit: verify the log and the sealed periods.", no_args_is_help=True)


@audit_app.command("verify")
def verify_command(
    ctx: typer.Context, fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE
) -> None:
    """Recompute the hash chain over the log and every closed period's statements; report the
    first event altered, removed or reordered, and any period that no longer recomputes to
    its seal. Exit 1 when anything is found."""
    settings = settings_of(ctx)
    with EventStore(settings) as store:
        engine = make_engine(settings.resolved_views_url())
        # Extend the chain with events not chained yet (existing links are never rewritten).
        ProjectionRunner(store, engine, [AuditChain()]).run()
        with engine.connect() as conn:
            report = verify(store, conn)
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
