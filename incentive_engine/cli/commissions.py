"""The commission commands: statement, payouts, explain, period close and manual adjustments."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from incentive_engine.cli.common import (
    EngineErrors,
    Format,
    console,
    emit,
    engine_of,
    errors,
    fail,
    iso,
    money,
    parse_instant,
    period_arg,
    plan_ref_arg,
    presenter,
    record_access,
    settings_of,
    start_of,
    tell_fold,
)

if TYPE_CHECKING:
    from incentive_engine.domain.events import PeriodClosed
    from incentive_engine.services.commissions import PeriodPayouts, Snapshot
    from plans.evaluate import Line


class ExportFormat(StrEnum):
    """Formats of the payouts: the listing formats, and a workbook."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


class PayrollFormat(StrEnum):
    """Formats of the payroll export."""

    CSV = "csv"
    XLSX = "xlsx"


commission_commands = typer.Typer()
"""Top-level commands, merged into the main application."""


period_app = typer.Typer(
    cls=EngineErrors, help="Close periods: seal what is paid.", no_args_is_help=True
)


@commission_commands.command()
def statement(
    ctx: typer.Context,
    rep: Annotated[str, typer.Argument(help="Rep id.")],
    period: Annotated[str, typer.Argument(help="Period, e.g. 2026-Q1 or 2026-01.")],
    plan_version: Annotated[
        str | None,
        typer.Option(
            "--plan-version", help="Evaluate under PLAN@VERSION instead of the one in force."
        ),
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="What the engine knew at this instant.")] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """A rep's commission statement for a period: every line, its rule and its events."""
    from incentive_engine.services.commissions import find_version, rep_statements
    from incentive_engine.services.integrity import statement_status, views_of

    with engine_of(ctx) as engine:
        snap = engine.snapshot(parse_instant(as_of))
        views = views_of(engine)
        try:
            integrity = statement_status(views, engine.position)
        finally:
            views.dispose()
    version = None
    if plan_version is not None:
        version = find_version(snap, *plan_ref_arg(plan_version).key)
    found = rep_statements(snap, rep, period_arg(period), plan_version=version)
    if fmt is not Format.TABLE:  # machine-readable output stays as it was: the status on stderr
        errors.print(f"integrity: {integrity}", markup=False)
    record_access(ctx, "statement", [rep], str(period_arg(period)))
    if fmt is Format.JSON:
        docs = [s.document() for s in found]  # the API's schema (api/routers/reps.py)
        sys.stdout.write(json.dumps(docs, ensure_ascii=False, indent=2) + "\n")
        return
    people = presenter(ctx)
    for s in found:
        if fmt is Format.CSV:  # machine-readable: the figures as they always were
            emit([_csv_line(ln, s.currency) for ln in s.lines], fmt)
            continue
        rows = [
            {
                "#": ln.number,
                "component": ln.component,
                "kind": ln.kind,
                "description": ln.description,
                "base": people.money(ln.base, s.currency)
                if ln.base_is_money
                else people.number(ln.base),
                "tier": ln.tier or "",
                "rate": "" if ln.rate is None else people.rate(ln.rate),
                "amount": people.money(ln.amount, s.currency),
            }
            for ln in s.lines
        ]
        name = snap.facts.reps[s.rep_id].name
        console.print(
            f"{name} ({s.rep_id}) · {s.period} · plan {s.plan_id} v{s.plan_version} "
            f"({s.plan_hash[:19]}…)\nquota {people.money(s.quota, s.currency)} · credited "
            f"{people.money(s.credited, s.currency)} · attainment {people.percent(s.attainment)}"
        )
        emit(rows, fmt, "statement")
        for component, subtotal in s.subtotals().items():
            console.print(f"  {component}: {people.money(subtotal, s.currency)}")
        if s.held_balance is not None:
            console.print(
                f"holdback: earned {people.money(s.earned_before_holdback, s.currency)} · "
                f"held back {people.money(s.held_back, s.currency)} · released "
                f"{people.money(s.released, s.currency)} · forfeited "
                f"{people.money(s.forfeited, s.currency)} · balance held "
                f"{people.money(s.held_balance, s.currency)}"
            )
        console.print(f"total {people.money(s.total, s.currency)} · statement {s.hash}")
        console.print(f"integrity: {integrity}", markup=False)


def _base_text(ln: Line, currency: str) -> object:
    """A line's base as machine output writes it: money in the currency, else the number."""
    return money(ln.base, currency) if ln.base_is_money else ln.base


def _csv_line(ln: Line, currency: str) -> dict[str, object]:
    """A statement line as the CSV output has always written it."""
    return {
        "#": ln.number,
        "component": ln.component,
        "kind": ln.kind,
        "description": ln.description,
        "base": _base_text(ln, currency),
        "tier": ln.tier or "",
        "rate": "" if ln.rate is None else ln.rate,
        "amount": money(ln.amount, currency),
    }


@commission_commands.command()
def payouts(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="Period, e.g. 2026-Q1.")],
    as_of: Annotated[str | None, typer.Option(help="What the engine knew at this instant.")] = None,
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="csv is ready for payroll import; xlsx a workbook (needs --output).",
        ),
    ] = ExportFormat.TABLE,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", help="Write the csv (UTF-8 with a BOM, for Excel) or xlsx to FILE."
        ),
    ] = None,
    partial: Annotated[
        bool,
        typer.Option(
            "--partial",
            help="CSV: export the computable reps when some statements cannot be computed "
            "(refused otherwise).",
        ),
    ] = False,
) -> None:
    """Every rep's pay for a period (sealed figures once closed), for finance and payroll.
    Statements that cannot be computed are listed on stderr (exit 1); the payroll CSV (and
    XLSX) is then refused unless --partial."""
    from incentive_engine.services.commissions import period_payouts
    from incentive_engine.services.integrity import guard_export

    the_period = period_arg(period)
    exporting = fmt in (ExportFormat.CSV, ExportFormat.XLSX)
    if fmt is ExportFormat.XLSX and output is None:
        fail("--format xlsx writes a workbook: give --output FILE")
    with engine_of(ctx) as engine:
        if exporting:  # the payroll export: verified first, refused on failure
            guard_export(engine, the_period, what=f"the payouts of {the_period}")
        snap = engine.snapshot(parse_instant(as_of))
        hold = engine.settings.hold_unaccepted
    result = period_payouts(snap, the_period, hold=hold)
    if exporting:
        result.require_complete(the_period, partial=partial)
    if exporting and output is not None:
        from incentive_engine.services.payrun import pay_run, payout_tables
        from incentive_engine.services.spreadsheets import csv_bytes, xlsx

        run = pay_run(snap, the_period, hold=hold)
        record_access(ctx, "payouts", [r.rep_id for r in run.rows], str(the_period))
        tables = payout_tables(run)
        data = xlsx(tables) if fmt is ExportFormat.XLSX else csv_bytes(tables[0])
        output.write_bytes(data)
        console.print(f"wrote {output} ({len(run.rows)} payouts of {the_period})")
        for f in run.failures:
            errors.print(f"error: {f.rep_id} {the_period} {f.plan_id}@{f.plan_version}: "
                         f"{f.error}", markup=False)  # fmt: skip
        return
    closed, found, failed = result.closed, result.payouts, result.failures
    currency = {v.plan.plan_id: v.plan.currency for v in snap.book.versions}
    record_access(ctx, "payouts", [p.rep_id for p in found], str(the_period))
    rows = [
        {
            "rep_id": p.rep_id,
            "name": snap.facts.reps[p.rep_id].name if p.rep_id in snap.facts.reps else "",
            "period": str(the_period),
            "plan": f"{p.plan_id}@{p.version}",
            "currency": currency.get(p.plan_id, ""),
            "earned": str(p.earned),
            "adjustments": str(sum((a.amount for a in p.adjustments), Decimal(0))),
            "total": str(p.total),
            "status": "sealed" if closed is not None else "open",
            "statement_hash": p.statement_hash,
        }
        for p in found
    ]
    if fmt is ExportFormat.JSON:  # the API's Payouts document (api/routers/pay.py)
        document = _payouts_document(snap, str(the_period), closed, rows, result)
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    elif fmt is ExportFormat.TABLE:
        people = presenter(ctx)
        for row in rows:
            for key in ("earned", "adjustments", "total"):
                row[key] = people.money(Decimal(row[key]), row["currency"] or "VND")
            row["statement_hash"] = row["statement_hash"][:19] + "…"
        emit(rows, Format.TABLE, f"payouts {the_period} ({'sealed' if closed else 'open'})")
        by_currency: dict[str, Decimal] = {}
        for p in found:
            c = currency.get(p.plan_id, "")
            by_currency[c] = by_currency.get(c, Decimal(0)) + p.total
        for c, amount in sorted(by_currency.items()):
            console.print(f"total {people.money(amount, c)} for {len(found)} statements")
    else:  # CSV: the payroll columns as they always were
        emit(rows, Format(fmt.value))
    for h in result.held:
        errors.print(f"held: {h.payout.total} ({h.reason})", markup=False)
    for f in failed:
        errors.print(
            f"error: {f.rep_id} {the_period} {f.plan_id}@{f.plan_version}: {f.error}",
            markup=False,
        )
    if failed:
        errors.print(f"{len(failed)} statement(s) could not be computed; the list is incomplete")
        if not (partial and exporting):  # a partial export asked for is not a failure
            raise typer.Exit(1)


def _payouts_document(
    snap: Snapshot,
    period: str,
    closed: PeriodClosed | None,
    rows: list[dict[str, str]],
    result: PeriodPayouts,
) -> dict[str, Any]:
    """Payouts as JSON: the API's ``Payouts`` (rows with ``plan_id`` and ``plan_version``,
    amounts as exact decimal strings; ``failures`` lists each rep whose statement cannot be
    computed with the error, ``held`` the payouts held until their rep accepts the plan)."""
    items = [
        {
            **{k: v for k, v in row.items() if k != "plan"},
            "plan_id": row["plan"].rpartition("@")[0],
            "plan_version": int(row["plan"].rpartition("@")[2]),
        }
        for row in rows
    ]
    reps = snap.facts.reps
    return {
        "period": period,
        "status": "sealed" if closed is not None else "open",
        "closed_at": closed.closed_at.isoformat() if closed is not None else None,
        "closed_by": closed.closed_by if closed is not None else None,
        "failures": [
            {
                "rep_id": f.rep_id,
                "plan_id": f.plan_id,
                "plan_version": f.plan_version,
                "error": f.error,
            }
            for f in result.failures
        ],
        "held": [
            {
                "rep_id": h.payout.rep_id,
                "name": reps[h.payout.rep_id].name if h.payout.rep_id in reps else "",
                "plan_id": h.payout.plan_id,
                "plan_version": h.payout.version,
                "total": str(h.payout.total),
                "reason": h.reason,
            }
            for h in result.held
        ],
        "items": items,
        "total": len(items),
        "limit": max(len(items), 1),
        "offset": 0,
    }


@commission_commands.command()
def payroll(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="Period, e.g. 2026-Q1.")],
    fmt: Annotated[
        PayrollFormat, typer.Option("--format", help="csv (UTF-8 with a BOM) or xlsx.")
    ] = PayrollFormat.CSV,
    columns: Annotated[
        Path | None,
        typer.Option(
            "--columns",
            help="The mapping file (YAML or JSON): columns, pay codes, employee numbers "
            "(default: the INCENTIVE_PAYROLL_COLUMNS setting).",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write to FILE (xlsx needs it).")
    ] = None,
    partial: Annotated[
        bool,
        typer.Option("--partial", help="Export the computable reps when some cannot be."),
    ] = False,
) -> None:
    """The payroll export of a period: one row per rep and pay code in the mapping's
    columns. The log is verified against the last signed checkpoint first (refused when it
    fails)."""
    from incentive_engine.services.payroll import load_mapping
    from incentive_engine.services.payroll import payroll as export_payroll
    from incentive_engine.services.spreadsheets import csv_bytes, xlsx

    the_period = period_arg(period)
    if fmt is PayrollFormat.XLSX and output is None:
        fail("--format xlsx writes a workbook: give --output FILE")
    mapping = load_mapping(columns or settings_of(ctx).payroll_columns)
    with engine_of(ctx) as engine:
        found = export_payroll(engine, the_period, mapping, partial=partial)
    record_access(ctx, "payroll", sorted({r.rep_id for r in found.rows}), str(the_period))
    table = found.table()
    data = xlsx([table]) if fmt is PayrollFormat.XLSX else csv_bytes(table)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        console.print(f"wrote {output} ({len(found.rows)} rows of {the_period})")
    for *_, reason in found.held:
        errors.print(f"held: {reason}", markup=False)
    for f in found.failures:
        errors.print(
            f"error: {f.rep_id} {the_period} {f.plan_id}@{f.plan_version}: {f.error}",
            markup=False,
        )


@commission_commands.command()
def explain(
    ctx: typer.Context,
    rep: Annotated[str, typer.Argument(help="Rep id.")],
    period: Annotated[str, typer.Argument(help="Period.")],
    line: Annotated[int, typer.Argument(help="Statement line number.")],
    as_of: Annotated[str | None, typer.Option(help="What the engine knew at this instant.")] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """The chain behind one statement line: the events, the rule, and the arithmetic."""
    from incentive_engine.services.audit_trail import explain_line
    from incentive_engine.services.commissions import rep_statements

    with engine_of(ctx) as engine:
        snap = engine.snapshot(parse_instant(as_of))
        tell_fold(engine)
        s = rep_statements(snap, rep, period_arg(period))[0]
        chosen = next((ln for ln in s.lines if ln.number == line), None)
        if chosen is None:
            fail(f"{rep} {period} has lines 1..{len(s.lines)}, not {line}")
        chain = explain_line(snap, engine.store, s, chosen)
    record_access(ctx, "explain", [rep], s.period)
    rule, evidence = chain["rule"]["component"], chain["events"]
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(chain, ensure_ascii=False, indent=2) + "\n")
        return
    console.print(f"line {chosen.number} of {s.rep_id} {s.period}: {chosen.description}")
    console.print(
        f"  amount {money(chosen.amount, s.currency)} = base "
        f"{_base_text(chosen, s.currency) or '-'} x rate {chosen.rate or '-'} "
        f"(tier {chosen.tier or '-'}), rounded half-up to {s.currency}"
    )
    console.print(
        f"  rule: plan {s.plan_id} v{s.plan_version} ({s.plan_hash}), "
        f"component {json.dumps(rule, ensure_ascii=False)}"
    )
    emit(evidence, fmt, "events behind the line")


@commission_commands.command("access-log")
def access_log(
    ctx: typer.Context,
    rep: Annotated[str | None, typer.Option(help="Reads of this rep.")] = None,
    actor: Annotated[str | None, typer.Option(help="Reads by this subject.")] = None,
    resource: Annotated[str | None, typer.Option(help="Resource prefix.")] = None,
    since: Annotated[str | None, typer.Option(help="From this instant or day.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 1000,
    fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """Who read which rep's pay, quota or attainment, when and from where (oldest first)."""
    from projections.access_log import query
    from projections.runner import make_engine

    views = make_engine(settings_of(ctx).resolved_views_url())
    try:
        rows, _ = query(
            views,
            rep_id=rep,
            actor=actor,
            resource=resource,
            since=start_of(since) if since else None,
            limit=limit,
        )
    finally:
        views.dispose()
    for row in rows:
        row["at"] = iso(row["at"])
    emit(rows, fmt, "access log")


@period_app.command("close")
def period_close(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="Period to close, e.g. 2026-Q1.")],
    by: Annotated[str, typer.Option("--by", help="Who closes it (recorded in the log).")],
    override_integrity: Annotated[
        str | None,
        typer.Option(
            "--override-integrity",
            help="Close although the log fails verification; the reason is recorded on the "
            "PeriodClosed event.",
        ),
    ] = None,
    override_reason: Annotated[
        str | None,
        typer.Option(
            "--override-reason",
            help="Close although blocking pre-close checks fail (see 'period checks'); the "
            "reason and the checks overridden are recorded on the PeriodClosed event.",
        ),
    ] = None,
) -> None:
    """Seal a period's payouts (per-rep totals and statement hashes) in the log, after the
    pre-close checks (refused while a blocking one fails, unless overridden with a reason)
    and verifying the log against the chain and the signed checkpoints."""
    from incentive_engine.services.commissions import close_period, total_paid

    with engine_of(ctx) as engine:
        event = close_period(
            engine,
            period_arg(period),
            closed_by=by,
            override_integrity=override_integrity,
            override_reason=override_reason,
        )
    if event.override_reason:
        errors.print(
            f"warning: closed although blocking checks fail "
            f"({', '.join(event.overridden_checks or ())}); recorded reason: "
            f"{event.override_reason}",
            markup=False,
        )
    if event.integrity_override:
        errors.print(
            f"warning: closed although the log fails verification; recorded reason: "
            f"{event.integrity_override}",
            markup=False,
        )
    checkpoint = f", checkpoint #{event.checkpoint}" if event.checkpoint else ""
    console.print(
        f"closed {event.period}: {len(event.payouts)} statements, total "
        f"{total_paid(event.payouts):,} sealed ({event.statements_hash}{checkpoint})"
    )


@period_app.command("checks")
def period_checks(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="Period to check, e.g. 2026-Q1.")],
    fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """The pre-close checks of a period, one row per finding (or per check that passes):
    what 'period close' refuses on while a blocking one fails."""
    from incentive_engine.services.closing import pre_close
    from incentive_engine.services.integrity import views_of

    with engine_of(ctx) as engine:
        views = views_of(engine)
        try:
            found = pre_close(engine, period_arg(period), views=views)
        finally:
            views.dispose()
    rows = []
    for c in found.checks:
        state = "pass" if c.passed else ("BLOCKS" if c.blocks else "warn")
        base = {"check": c.name, "severity": c.severity.value, "state": state}
        if c.passed:
            rows.append({**base, "subject": "", "finding": ""})
        for f in c.findings:
            rows.append({**base, "subject": f"{f.kind} {f.subject}", "finding": f.detail})
    emit(rows, fmt, f"pre-close checks {found.period}")
