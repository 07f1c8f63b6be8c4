"""The quota commands: allocate next period's quotas from history (a dry run unless
``--publish``), list the quotas in force, and roll team and territory quotas up."""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

import typer

from incentive_engine.cli.common import (
    EngineErrors,
    Format,
    console,
    emit,
    errors,
    fail,
    money,
    parse_instant,
    period_arg,
    post,
    settings_of,
    snapshot_of,
)
from incentive_engine.domain.money import MINOR_UNITS
from incentive_engine.domain.periods import Period
from incentive_engine.domain.vocabulary import Method, QuotaSubject

if TYPE_CHECKING:
    from incentive_engine.domain.events import QuotaChanged, QuotaSet
    from incentive_engine.domain.facts import Facts
    from incentive_engine.domain.quotas import (
        Allocation,
        AllocationRow,
    )
    from incentive_engine.settings import Settings


quota_app = typer.Typer(
    cls=EngineErrors,
    help="Allocate quotas from history, list them, and roll them up.",
    no_args_is_help=True,
)

AsOf = Annotated[str | None, typer.Option(help="What the engine knew at this instant.")]
Fmt = Annotated[Format, typer.Option("--format")]


def _facts(ctx: typer.Context, as_of: str | None = None) -> Facts:
    return snapshot_of(ctx, parse_instant(as_of)).facts


def _number(text: str, option: str) -> Decimal:
    """A decimal option value, or a usage error naming the option."""
    try:
        value = Decimal(text.strip().replace("_", "").replace(",", ""))
    except InvalidOperation:
        raise typer.BadParameter(f"{option} {text!r} is not a number") from None
    if not value.is_finite():
        raise typer.BadParameter(f"{option} {text!r} is not a finite number")
    return value


def _market(items: list[str]) -> dict[str, Decimal]:
    rates: dict[str, Decimal] = {}
    for item in items:
        region, sep, pct = item.rpartition("=")
        if not sep or not region.strip():
            raise typer.BadParameter(f"--market {item!r} is not REGION=PCT (e.g. 'Hà Nội=8')")
        rates[region.strip()] = _number(pct, f"--market {region.strip()}")
    return rates


def _amount_text(value: Decimal, currency: str, table: bool) -> str:
    return money(value, currency) if table else str(value)


def _row(allocation: Allocation, row: AllocationRow, facts: Facts, table: bool) -> dict[str, Any]:
    from incentive_engine.domain.quotas import action

    c = allocation.currency
    return {
        "subject": row.subject.value,
        "id": row.subject_id,
        "name": row.name,
        "last_year": _amount_text(row.last_year, c, table),
        "basis": _amount_text(row.basis, c, table),
        "raw": _amount_text(row.raw, c, table),
        "allocated": _amount_text(row.allocated, c, table),
        "share": f"{row.share} %" if table else str(row.share),
        "action": action(facts, allocation, row),
        "note": row.note,
    }


def _totals(allocation: Allocation) -> str:
    c = allocation.currency
    change = allocation.implied_change
    parts = [
        f"total {money(allocation.total, c)}",
        f"last year ({allocation.base}) {money(allocation.last_year_total, c)}",
        "implied change " + ("n/a (no sales last year)" if change is None else f"{change:+} %"),
    ]
    if allocation.target is not None:
        parts.insert(1, f"target {money(allocation.target, c)}")
    return " · ".join(parts)


@quota_app.command("allocate")
def allocate_command(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="The period to allocate, e.g. 2027-Q1.")],
    method: Annotated[
        Method,
        typer.Option(
            help="uplift: each rep's sales last year x (1 + rate); growth: each territory's; "
            "average: the territory's 3-year average; market: by region's market growth."
        ),
    ],
    rate: Annotated[str, typer.Option(help="Growth rate in percent (20 means +20 %).")] = "0",
    market: Annotated[
        list[str] | None,
        typer.Option(help="Market growth of a region in percent, REGION=PCT (repeatable)."),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Scale the allocations to sum to exactly this amount.")
    ] = None,
    currency: Annotated[str, typer.Option(help="Currency of the quotas.")] = "VND",
    cascade: Annotated[
        bool, typer.Option("--cascade", help="Also give reps their owner share of territories.")
    ] = False,
    publish: Annotated[
        bool, typer.Option("--publish", help="Append the quotas (default: a dry run).")
    ] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who publishes (needed with --publish).")
    ] = None,
    reason: Annotated[
        str | None, typer.Option(help="Why (recorded on changed quotas; default: the method).")
    ] = None,
    fmt: Fmt = Format.TABLE,
) -> None:
    """Propose quotas for a period from the same period last year: a dry run that prints the
    allocation unless --publish, which appends QuotaSet / QuotaChanged events (idempotent)."""
    from incentive_engine.domain.quotas import allocate, default_reason, to_events

    the_period = period_arg(period)
    the_rate = _number(rate, "--rate")
    rates = _market(market) if market else None
    the_target = _number(target, "--target") if target is not None else None
    code = currency.strip().upper()
    if code not in MINOR_UNITS:
        fail(f"--currency {currency!r} is not a known currency ({', '.join(MINOR_UNITS)})", 2)
    if publish and not (by and by.strip()):
        fail("--publish needs --by NAME (who publishes the quotas)", 2)
    settings = settings_of(ctx)
    facts = _facts(ctx)
    allocation = allocate(
        facts,
        the_period,
        method=method,
        currency=code,
        rate=the_rate,
        market=rates,
        target=the_target,
        cascade=cascade,
    )
    why = reason or default_reason(allocation, by)
    events = to_events(allocation, facts, reason=why) if publish else []
    table = fmt is Format.TABLE
    rows = [_row(allocation, r, facts, table) for r in (*allocation.rows, *allocation.cascaded)]
    outcome: dict[str, Any] | None = None
    if publish:
        outcome = _publish(settings, allocation, events, by or "")
    if fmt is Format.JSON:
        document = {
            **allocation.as_dict(),
            "actions": {f"{r['subject']}:{r['id']}": r["action"] for r in rows},
            "published": outcome,
        }
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    elif fmt is Format.CSV:
        emit(rows, fmt)
    else:
        what = "reps" if allocation.method is Method.UPLIFT else "territories"
        title = f"{allocation.method} allocation, {allocation.period} from {allocation.base}"
        emit(rows[: len(allocation.rows)], fmt, f"{title}: {what}")
        if allocation.cascaded:
            emit(rows[len(allocation.rows) :], fmt, f"{title}: reps (cascaded by owner shares)")
        console.print(_totals(allocation))
    say = console.print if table else errors.print
    if outcome is None:
        say("dry run: nothing published (add --publish)")
    else:
        say(
            f"published: {outcome['stored']} stored ({outcome['set']} set, "
            f"{outcome['changed']} changed), {outcome['unchanged']} unchanged, "
            f"{outcome['by_hand']} left to set by hand"
        )


def _publish(
    settings: Settings, allocation: Allocation, events: list[QuotaSet | QuotaChanged], by: str
) -> dict[str, int]:
    """Append the events through ingest (all or nothing); count what happened."""
    from incentive_engine.domain.events import QuotaChanged, event_content

    rows = (*allocation.rows, *allocation.cascaded)
    by_hand = sum(1 for r in rows if not r.allocated)
    stored = duplicates = 0
    if events:
        records = [event_content(e) for e in events]
        report = post(
            settings, records, f"quota allocate {allocation.period} by {by}", scope="quotas"
        )
        stored, duplicates = report.stored, report.duplicates
    changed = sum(1 for e in events if isinstance(e, QuotaChanged))
    return {
        "stored": stored,
        "set": len(events) - changed,
        "changed": changed,
        "unchanged": len(rows) - by_hand - len(events) + duplicates,
        "by_hand": by_hand,
    }


@quota_app.command("list")
def list_command(
    ctx: typer.Context,
    period: Annotated[str | None, typer.Option(help="Only this period, e.g. 2027-Q1.")] = None,
    subject: Annotated[
        QuotaSubject | None, typer.Option(help="Only quotas of reps, teams or territories.")
    ] = None,
    as_of: AsOf = None,
    fmt: Fmt = Format.TABLE,
) -> None:
    """The quotas in force: the latest amount per rep, team or territory and period."""
    from incentive_engine.domain.quotas import subject_name

    wanted = str(period_arg(period)) if period is not None else None
    facts = _facts(ctx, as_of)
    found = []
    for (subj, subject_id, name), entries in facts.quotas.items():
        if not entries or (wanted is not None and name != wanted):
            continue
        if subject is not None and subj is not subject:
            continue
        found.append((Period.parse(name), subj.value, subject_id, subj, entries))
    found.sort(key=lambda f: f[:3])
    table = fmt is Format.TABLE
    rows = []
    for the_period, _, subject_id, subj, entries in found:
        entry = entries[-1]
        rows.append(
            {
                "period": str(the_period),
                "subject": subj.value,
                "id": subject_id,
                "name": subject_name(facts, subj, subject_id),
                "amount": _amount_text(entry.amount, entry.currency, table),
                "currency": entry.currency,
                "effective": entry.effective.isoformat(),
                "event_id": entry.event_id,
                "changes": len(entries) - 1,
            }
        )
    emit(rows, fmt, "quotas in force" + (f", {wanted}" if wanted else ""))


@quota_app.command("rollup")
def rollup_command(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="Period, e.g. 2027-Q1.")],
    as_of: AsOf = None,
    fmt: Fmt = Format.TABLE,
) -> None:
    """Top-down team and territory quotas against the sum of their reps' quotas (a team
    weights each rep by days in the team; a territory by ownership share)."""
    from incentive_engine.domain.quotas import rollup

    the_period = period_arg(period)
    facts = _facts(ctx, as_of)
    found = rollup(facts, the_period)
    if fmt is Format.JSON:
        docs = [r.as_dict() for r in found]
        sys.stdout.write(json.dumps(docs, ensure_ascii=False, indent=2) + "\n")
        return
    table = fmt is Format.TABLE
    rows = []
    for r in found:
        c, difference = r.currency, r.difference
        rows.append(
            {
                "subject": r.subject.value,
                "id": r.subject_id,
                "name": r.name,
                "currency": c,
                "target": "" if r.target is None else _amount_text(r.target, c, table),
                "reps_sum": _amount_text(r.reps_sum, c, table),
                "difference": "" if difference is None else _amount_text(difference, c, table),
                "status": r.status.value,
                "reps": "; ".join(f"{rep}={_amount_text(a, c, table)}" for rep, a in r.reps),
                "note": r.note,
            }
        )
    emit(rows, fmt, f"quota roll-up, {the_period}")
