"""The adjustment commands: finance proposes a manual adjustment, another finance user approves
or rejects it (maker–checker); only an approved adjustment is paid.

``adjust REP PERIOD --amount A --currency C --reason R --by NAME`` proposes (as before, with
the same arguments); ``adjust approve ID --by NAME``, ``adjust reject ID --reason R --by NAME``
and ``adjust list [--pending]`` follow.  ``--by`` names the finance user acting: an approval
needs a name other than the proposer's (unless ``INCENTIVE_ADJUSTMENTS_SINGLE_APPROVER``)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import click
import typer

from incentive_engine.cli.common import EngineErrors, Format, console, emit, engine_of

SUBCOMMANDS = ("propose", "approve", "reject", "list")


class ProposeByDefault(EngineErrors):
    """``adjust REP PERIOD ...`` runs ``adjust propose REP PERIOD ...``: the command kept its
    arguments when it became a group."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Insert ``propose`` unless a subcommand (or help) is named first."""
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["propose", *args]
        return super().parse_args(ctx, args)


adjust_app = typer.Typer(
    cls=ProposeByDefault,
    help="Manual adjustments: propose (adjust REP PERIOD ...), approve, reject, list. "
    "An adjustment is paid only once a second finance user approves it.",
    no_args_is_help=True,
)

By = Annotated[str, typer.Option("--by", help="The finance user doing this.")]


def _decimal(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text.replace("_", ""))
    except InvalidOperation:
        raise typer.BadParameter(f"{text!r} is not a number", param_hint=name) from None
    if not value.is_finite():
        raise typer.BadParameter(f"{text!r} is not a number", param_hint=name)
    return value


@adjust_app.command("propose")
def propose_command(
    ctx: typer.Context,
    rep: Annotated[str, typer.Argument(help="Rep id.")],
    period: Annotated[str, typer.Argument(help="Period the adjustment is paid in.")],
    amount: Annotated[
        str, typer.Option(help="Amount, negative to deduct (e.g. --amount -250000).")
    ],
    currency: Annotated[str, typer.Option(help="Currency of the amount.")],
    reason: Annotated[str, typer.Option(help="Why (shown on the statement).")],
    by: Annotated[str, typer.Option("--by", help="Who proposes it.")],
    posted: Annotated[str | None, typer.Option(help="Date of the proposal (default: now).")] = None,
    fx_rate: Annotated[
        str | None,
        typer.Option(
            "--fx-rate",
            help="Units of the plan's currency per unit of --currency, when the plan pays "
            "another currency.",
        ),
    ] = None,
) -> None:
    """Propose a manual adjustment (finance): checked now, paid on the rep's statement once
    a different finance user approves it."""
    from incentive_engine.services.adjustments import AdjustmentService

    at = None
    if posted is not None:
        try:
            at = datetime.combine(datetime.fromisoformat(posted).date(), time(0), tzinfo=UTC)
        except ValueError:
            raise typer.BadParameter(f"{posted!r} is not a date", param_hint="--posted") from None
    with engine_of(ctx) as engine:
        adjustment, new = AdjustmentService(engine).propose(
            rep_id=rep,
            period=period,
            amount=_decimal(amount, "--amount"),
            currency=currency,
            reason=reason,
            by=by,
            fx_rate=None if fx_rate is None else _decimal(fx_rate, "--fx-rate"),
            at=at,
        )
    p = adjustment.proposal
    state = "proposed" if new else "already proposed"
    paid = ""
    if p.fx_rate is not None:
        paid = f" (paid as {p.paid_amount} {p.paid_currency} at {p.fx_rate})"
    console.print(
        f"{state}: {p.event_id} {rep} {p.period} {p.amount} {p.currency}{paid}", markup=False
    )
    if adjustment.decision is None:
        console.print(
            "it awaits approval by another finance user: "
            f"incentive-engine adjust approve {p.event_id} --by NAME",
            markup=False,
        )
    else:
        console.print(f"{adjustment.status.value} by {adjustment.decided_by}", markup=False)


@adjust_app.command("approve")
def approve_command(
    ctx: typer.Context,
    proposal_id: Annotated[str, typer.Argument(help="The proposal to approve.")],
    by: By,
) -> None:
    """Approve an adjustment proposed by someone else: it is paid from now on."""
    from incentive_engine.services.adjustments import AdjustmentService

    with engine_of(ctx) as engine:
        adjustment = AdjustmentService(engine).approve(proposal_id, by=by)
    p = adjustment.proposal
    console.print(
        f"approved: {p.event_id} pays {p.paid_amount} {p.paid_currency} to {p.rep_id} "
        f"for {p.period}",
        markup=False,
    )


@adjust_app.command("reject")
def reject_command(
    ctx: typer.Context,
    proposal_id: Annotated[str, typer.Argument(help="The proposal to reject.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is rejected.")],
    by: By,
) -> None:
    """Reject a proposed adjustment, with the reason: it is never paid."""
    from incentive_engine.services.adjustments import AdjustmentService

    with engine_of(ctx) as engine:
        adjustment = AdjustmentService(engine).reject(proposal_id, by=by, reason=reason)
    console.print(f"rejected: {adjustment.proposal_id} ({reason})", markup=False)


@adjust_app.command("list")
def list_command(
    ctx: typer.Context,
    pending: Annotated[
        bool, typer.Option("--pending", help="Only those awaiting approval.")
    ] = False,
    period: Annotated[str | None, typer.Option(help="Only this period.")] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """Proposed adjustments and where they stand (pending, approved, rejected)."""
    from incentive_engine.services.adjustments import AdjustmentService

    with engine_of(ctx) as engine:
        found = AdjustmentService(engine).list("pending" if pending else "all", period)
    rows: list[dict[str, Any]] = [a.as_dict() for a in found]
    if fmt is Format.TABLE:
        keep = ("proposal_id", "status", "rep_id", "period", "amount", "currency",
                "paid_amount", "paid_currency", "reason", "proposed_by", "decided_by")  # fmt: skip
        rows = [{k: r[k] for k in keep} for r in rows]
    emit(rows, fmt, "adjustments")
