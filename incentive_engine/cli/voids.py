"""The void commands: finance proposes to void a bad stored event, another finance user
approves (two-person rule); the event stays in the log, every figure leaves it out."""

from __future__ import annotations

from typing import Annotated

import typer

from incentive_engine.cli.common import EngineErrors, Format, console, emit, settings_of

void_app = typer.Typer(
    cls=EngineErrors,
    help="Void a stored event (two finance users: one proposes, another approves).",
    no_args_is_help=True,
)

By = Annotated[str, typer.Option("--by", help="The finance user doing this.")]


@void_app.command("propose")
def propose_command(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(help="The stored event to void.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the event must be voided.")],
    by: By,
) -> None:
    """Propose to void a stored event (also one that no longer validates): nothing changes
    until a different finance user approves it."""
    from incentive_engine.services.voids import propose
    from incentive_engine.store.event_store import EventStore

    with EventStore(settings_of(ctx)) as store:
        proposal = propose(store, event_id, reason=reason, by=by)
    console.print(
        f"proposed: {proposal.event_id} voids {event_id}; another finance user approves it "
        f"with: incentive-engine void approve {proposal.event_id} --by NAME"
    )


@void_app.command("approve")
def approve_command(
    ctx: typer.Context,
    proposal_id: Annotated[str, typer.Argument(help="The void proposal to approve.")],
    by: By,
) -> None:
    """Approve a void proposed by someone else: every figure is then computed as if the
    event had never been stored (closed periods get adjustments citing this approval)."""
    from incentive_engine.services.voids import approve
    from incentive_engine.store.event_store import EventStore

    with EventStore(settings_of(ctx)) as store:
        approval = approve(store, proposal_id, by=by)
    console.print(f"approved: {approval.target_event_id} is voided ({approval.event_id})")


@void_app.command("list")
def list_command(
    ctx: typer.Context, fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE
) -> None:
    """Every void proposal and where it stands."""
    from incentive_engine.services.voids import voids
    from incentive_engine.store.event_store import EventStore

    with EventStore(settings_of(ctx)) as store:
        rows = [s.as_dict() for s in voids(store)]
    emit(rows, fmt, "voids")
