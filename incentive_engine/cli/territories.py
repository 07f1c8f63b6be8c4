"""The territory commands (model, design, assign, list, report, unassigned, gaps) and the
attainment command."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

import typer

from incentive_engine.cli.common import (
    EngineErrors,
    Format,
    console,
    emit,
    money,
    parse_instant,
    period_arg,
    post,
    presenter,
    settings_of,
    snapshot_of,
)

if TYPE_CHECKING:
    from incentive_engine.domain.attainment import Subject
    from incentive_engine.domain.facts import Facts


territory_app = typer.Typer(
    cls=EngineErrors,
    help="Design territories, assign them, and report on them.",
    no_args_is_help=True,
)
attainment_commands = typer.Typer()
"""Top-level commands, merged into the main application."""

AsOf = Annotated[str | None, typer.Option(help="What the engine knew at this instant.")]
Fmt = Annotated[Format, typer.Option("--format")]


def _facts(ctx: typer.Context, as_of: str | None) -> Facts:
    return snapshot_of(ctx, parse_instant(as_of)).facts


def _day(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO date (YYYY-MM-DD)") from None


@territory_app.command("model")
def model(
    ctx: typer.Context,
    region: Annotated[list[str], typer.Option(help="A region (repeatable).")],
    industry: Annotated[list[str] | None, typer.Option(help="An industry (repeatable).")] = None,
    product_group: Annotated[
        list[str] | None, typer.Option(help="A product group (repeatable).")
    ] = None,
    effective: Annotated[str | None, typer.Option(help="Effective date (default today).")] = None,
) -> None:
    """Publish the territory model: the values territories may use for region, industry
    and product group."""
    from incentive_engine.domain.events import content_hash

    record: dict[str, Any] = {
        "type": "TerritoryModelDefined",
        "effective_date": _day(effective).isoformat(),
        "regions": region,
        "industries": industry or [],
        "product_groups": product_group or [],
    }
    record["event_id"] = "territory-model:" + content_hash(record).removeprefix("sha256:")[:16]
    report = post(settings_of(ctx), [record], "territory model", scope="territories")
    state = "already published" if report.duplicates else "published"
    console.print(f"{state}: territory model {record['event_id']} ({len(region)} regions)")


@territory_app.command("design")
def design_command(
    ctx: typer.Context,
    dim: Annotated[
        list[str],
        typer.Option(help="Dimension (repeatable), optionally with values: region=Hà Nội,TP.HCM"),
    ],
    effective: Annotated[str | None, typer.Option(help="Effective date (default today).")] = None,
    prefix: Annotated[str, typer.Option(help="Prefix of the territory ids.")] = "T",
    publish: Annotated[bool, typer.Option("--publish", help="Append the definitions.")] = False,
    fmt: Fmt = Format.TABLE,
) -> None:
    """Territories as every combination of the chosen dimensions' values (values from the
    territory model unless given): a dry run unless --publish."""
    from incentive_engine.domain.events import event_content
    from incentive_engine.domain.territories import design, dimension_values

    day = _day(effective)
    facts = _facts(ctx, None)
    values: dict[str, list[str]] = {}
    for item in dim:
        name, _, given = item.partition("=")
        name = name.strip()
        chosen = [v.strip() for v in given.split(",") if v.strip()] if given else None
        values[name] = chosen or list(dimension_values(name, facts, day))
    events = design(values, effective_date=day, prefix=prefix)
    rows = [
        {"territory_id": e.territory_id, "name": e.name, "criteria": _criteria(e.criteria)}
        for e in events
    ]
    emit(rows, fmt, f"{len(events)} territories from {' x '.join(values)}")
    if not publish:
        console.print("dry run: nothing published (add --publish)")
        return
    report = post(
        settings_of(ctx),
        [event_content(e) for e in events],
        "territory design",
        scope="territories",
    )
    console.print(f"published {report.stored} territories ({report.duplicates} already there)")


def _criteria(criteria: Any) -> str:
    data = criteria.model_dump(mode="json", exclude_none=True)
    return ", ".join(f"{k}={v}" for k, v in data.items())


@territory_app.command("assign")
def assign(
    ctx: typer.Context,
    territory: Annotated[str, typer.Argument(help="Territory id.")],
    owners: Annotated[
        list[str], typer.Argument(help="Owners: REP, or REP:SHARE for several (shares sum to 100).")
    ],
    effective: Annotated[str, typer.Option(help="Effective date (may be in the past).")],
    reason: Annotated[str | None, typer.Option(help="Why (for a reassignment).")] = None,
) -> None:
    """Give a territory its owner(s) from a date; a territory already owned is reassigned
    (a past date re-credits the deals closed since, adjusting closed periods)."""
    from incentive_engine.domain.events import content_hash

    shares = []
    for owner in owners:
        rep, _, share = owner.partition(":")
        try:
            shares.append({"rep_id": rep, "share": Decimal(share) if share else Decimal(100)})
        except InvalidOperation:
            raise typer.BadParameter(f"{owner!r}: the share after ':' must be a number") from None
    day = _day(effective)
    facts = _facts(ctx, None)
    known = facts.territories.get(territory)
    kind = "TerritoryReassigned" if known is not None and known.ownerships else "TerritoryAssigned"
    record: dict[str, Any] = {
        "type": kind,
        "territory_id": territory,
        "owners": shares,
        "effective_date": day.isoformat(),
    }
    if kind == "TerritoryReassigned" and reason:
        record["reason"] = reason
    record["event_id"] = "ownership:" + content_hash(record).removeprefix("sha256:")[:20]
    report = post(settings_of(ctx), [record], "territory assign", scope="territories")
    owners_text = ", ".join(f"{s['rep_id']} {s['share']}%" for s in shares)
    state = "already recorded" if report.duplicates else "recorded"
    console.print(f"{state}: {kind} {territory} -> {owners_text} from {day}")


@territory_app.command("list")
def list_territories(
    ctx: typer.Context,
    on: Annotated[str | None, typer.Option(help="Definitions and owners on this day.")] = None,
    as_of: AsOf = None,
    fmt: Fmt = Format.TABLE,
) -> None:
    """Territories in force on a day, with their criteria and owners."""
    from incentive_engine.domain.territories import in_force

    facts, day = _facts(ctx, as_of), _day(on)
    rows = [
        {
            "territory_id": t.territory_id,
            "name": t.definition.name,
            "criteria": _criteria(t.definition.criteria),
            "owners": t.owners_text(),
            "since": t.ownership.effective.isoformat() if t.ownership else "",
        }
        for t in in_force(facts, day)
    ]
    emit(rows, fmt, f"territories on {day}")


@territory_app.command("report")
def report(ctx: typer.Context, period: str, as_of: AsOf = None, fmt: Fmt = Format.TABLE) -> None:
    """Per territory: owners, reps, active customers, prospects, deals won and revenue."""
    from incentive_engine.domain.territories import territory_report, unowned

    facts, the_period = _facts(ctx, as_of), period_arg(period)
    rows = [
        {
            "territory_id": r.territory_id,
            "name": r.name,
            "owners": r.owners,
            "reps": r.reps,
            "active_customers": r.active_customers,
            "prospects": r.prospects,
            "deals_won": r.deals_won,
            "revenue": str(r.revenue) if fmt is not Format.TABLE else f"{r.revenue:,}",
        }
        for r in territory_report(facts, the_period)
    ]
    emit(rows, fmt, f"territories, {the_period}")
    if fmt is Format.TABLE:
        nobody = unowned(facts, the_period.end)
        if nobody:
            console.print("without an owner: " + ", ".join(t.territory_id for t in nobody))


@territory_app.command("unassigned")
def unassigned_command(
    ctx: typer.Context, period: str, as_of: AsOf = None, fmt: Fmt = Format.TABLE
) -> None:
    """Won deals that fall in no territory, or in one without an owner on the close date."""
    from incentive_engine.domain.territories import unassigned

    facts, the_period = _facts(ctx, as_of), period_arg(period)
    rows = [
        {
            "deal_id": d.deal_id,
            "close_date": d.close_date.isoformat(),
            "amount": money(d.amount, d.currency),
            "named_rep": d.named_rep or "",
            "attributes": d.attributes,
            "reason": d.reason,
        }
        for d in unassigned(facts, the_period)
    ]
    emit(rows, fmt, f"unassigned deals, {the_period}")


@territory_app.command("gaps")
def gaps(
    ctx: typer.Context,
    on: Annotated[str | None, typer.Option(help="Territories in force on this day.")] = None,
    as_of: AsOf = None,
    fmt: Fmt = Format.TABLE,
) -> None:
    """Coverage gaps: combinations of dimension values no territory covers."""
    from incentive_engine.domain.territories import coverage_gaps

    facts, day = _facts(ctx, as_of), _day(on)
    rows: list[dict[str, Any]] = [dict(g) for g in coverage_gaps(facts, day)]
    emit(rows, fmt, f"coverage gaps on {day}")
    if fmt is Format.TABLE and not rows:
        console.print("no gaps: every combination is covered")


@attainment_commands.command("attainment")
def attainment_command(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="Period, e.g. 2026-Q1.")],
    by: Annotated[str, typer.Option(help="rep, team or territory.")] = "rep",
    prorate: Annotated[
        bool, typer.Option("--prorate/--no-prorate", help="Prorate rep quotas by days employed.")
    ] = True,
    as_of: AsOf = None,
    fmt: Fmt = Format.TABLE,
) -> None:
    """Credited revenue, quota and attainment per rep, team or territory for a period."""
    from incentive_engine.domain.attainment import attainment

    if by not in ("rep", "team", "territory"):
        raise typer.BadParameter(f"--by {by!r}: choose rep, team or territory")
    subject: Subject = by  # type: ignore[assignment]
    facts, the_period = _facts(ctx, as_of), period_arg(period)
    found = attainment(facts, the_period, subject, prorate=prorate)
    people = presenter(ctx) if fmt is Format.TABLE else None  # tables for people only
    rows = [
        {
            by: a.subject_id,
            "name": a.name,
            "quota": (
                str(a.quota) if people is None else people.money(a.quota, a.currency or "VND")
            )
            if a.quota is not None
            else "",
            "credited": str(a.credited)
            if people is None
            else people.money(a.credited, a.currency or "VND"),
            "attainment": ""
            if a.attainment is None
            else (str(a.attainment) if people is None else people.percent(a.attainment)),
            "note": a.note,
        }
        for a in found
    ]
    emit(rows, fmt, f"attainment by {by}, {the_period}")
