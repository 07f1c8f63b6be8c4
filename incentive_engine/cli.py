"""The ``incentive-engine`` command line: the composition root that wires settings, store,
services and read models for the ``demo``, ``ingest``, ``replay``, ``events`` and ``schema``
commands."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from incentive_engine.cli_plans import plan_app
from incentive_engine.commissions import (
    CommissionError,
    Snapshot,
    close_period,
    find_version,
    payout_of,
    period_statements,
    rep_statements,
    snapshot,
    total_paid,
)
from incentive_engine.events import (
    EVENT_CLASSES,
    QuotaSubject,
    catalogue_schema,
    content_hash,
    describe,
)
from incentive_engine.facts import Facts
from incentive_engine.ingest import IngestService, RawRecord, ingest_paths
from incentive_engine.money import format_money
from incentive_engine.periods import Period, PeriodKind
from incentive_engine.plan_service import publish
from incentive_engine.replay import replay_facts
from incentive_engine.settings import Settings
from incentive_engine.store import EventStore
from plans.documents import load_plan
from plans.evaluate import EvaluationError

CATALOG = Path(__file__).resolve().parents[1] / "plans" / "catalog"
"""Plan documents that ship with the project."""

app = typer.Typer(
    help="Event-sourced incentive and commission engine.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True, highlight=False)


class Format(StrEnum):
    """Output formats of listing commands."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


@app.callback()
def main(
    ctx: typer.Context,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="INCENTIVE_STORE_URL",
            help="Event store URL: sqlite:///PATH (default sqlite:///incentive-engine.db) "
            "or postgresql://USER@HOST:PORT/DB?schema=S.",
        ),
    ] = None,
) -> None:
    """Event-sourced incentive and commission engine."""
    settings = Settings()
    if store:
        settings = settings.model_copy(update={"store_url": store})
    ctx.obj = settings


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def parse_instant(text: str | None) -> datetime | None:
    """Read an ISO date or datetime; a date means the end of that day (UTC)."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.max, tzinfo=UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO date or datetime") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@contextmanager
def _progress(label: str, total: int | None) -> Iterator[Any]:
    """A rich progress bar on stderr (silent when stderr is not a terminal)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not errors.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _emit(rows: list[dict[str, Any]], fmt: Format, title: str | None = None) -> None:
    """Print rows as a table, JSON or CSV."""
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    if fmt is Format.CSV:
        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        sys.stdout.write(out.getvalue())
        return
    table = Table(title=title, show_lines=False)
    for name in rows[0] if rows else []:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    # Piped output has no terminal width: print wide rather than cut cells short.
    out = console if sys.stdout.isatty() else Console(width=200, highlight=False)
    out.print(table)


# ------------------------------------------------------------------ schema


@app.command()
def schema(
    event_type: Annotated[
        str | None, typer.Option("--type", help="Only this event type (e.g. DealWon).")
    ] = None,
) -> None:
    """Print the JSON Schema of the event catalogue, for CRM integrators to validate against."""
    if event_type is None:
        document = catalogue_schema()
    elif event_type in EVENT_CLASSES:
        document = EVENT_CLASSES[event_type].model_json_schema()
    else:
        errors.print(
            f"unknown event type {event_type!r}; known: {', '.join(sorted(EVENT_CLASSES))}"
        )
        raise typer.Exit(2)
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


# ------------------------------------------------------------------ ingest


@app.command()
def ingest(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="JSONL (.jsonl) or CSV (.csv) files.")],
    dead_letter: Annotated[
        Path | None,
        typer.Option(
            "--dead-letter",
            help="Store the valid records and append each invalid one, with its reasons, "
            "to this JSONL file (default: a file with any invalid record writes nothing).",
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
    show: Annotated[int, typer.Option(help="Errors to print per file.")] = 20,
) -> None:
    """Validate and append events from CRM export files; idempotent by event_id."""
    settings = _settings(ctx)
    with EventStore(settings) as store:
        service = IngestService(store)
        try:
            with _progress("ingest", None) as advance:
                reports = ingest_paths(service, files, dead_letter=dead_letter, progress=advance)
        except (FileNotFoundError, ValueError) as exc:
            errors.print(str(exc))
            raise typer.Exit(2) from None
    if fmt is Format.JSON:
        sys.stdout.write(
            json.dumps([r.as_dict() for r in reports], ensure_ascii=False, indent=2) + "\n"
        )
    else:
        for r in reports:
            for err in r.errors[:show]:
                errors.print(str(err), markup=False, highlight=False)
            if len(r.errors) > show:
                errors.print(f"... and {len(r.errors) - show} more errors in {r.source}")
        rows = [{k: v for k, v in r.as_dict().items() if k != "errors"} for r in reports]
        _emit(rows, fmt, "ingest")
        for r in reports:
            if r.errors and not r.written:
                errors.print(
                    f"{r.source}: {r.invalid} invalid record(s): nothing from this file was "
                    "stored (fix them, or use --dead-letter PATH to store the valid ones)"
                )
    if any(r.errors or r.conflicts for r in reports):
        raise typer.Exit(1)


# ------------------------------------------------------------------ replay


def _fold(settings: Settings, as_of: datetime | None) -> tuple[Facts, int]:
    with EventStore(settings) as store:
        total = store.max_position()
        with _progress("replay", total) as advance:
            facts = replay_facts(store, as_of=as_of, progress=advance)
    return facts, total


@app.command()
def replay(
    ctx: typer.Context,
    as_of: Annotated[
        str | None,
        typer.Option(help="Only what was recorded by this instant (ISO date or datetime, UTC)."),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Rebuild the read models from zero first.")
    ] = False,
    fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """Replay the log: fold it into facts (as of an instant if asked) and bring the read
    models up to date from their tracking positions."""
    from projections.runner import ProjectionRunner, make_engine

    settings = _settings(ctx)
    cut = parse_instant(as_of)
    started = datetime.now(UTC)
    facts, _total = _fold(settings, cut)
    seconds = (datetime.now(UTC) - started).total_seconds()
    applied = 0
    if cut is None:
        with EventStore(settings) as store:
            runner = ProjectionRunner(store, make_engine(settings.resolved_views_url()))
            if rebuild:
                runner.rebuild()
            with _progress("read models", runner.lag()) as advance:
                applied = runner.run(progress=advance)
    summary = facts.summary()
    rate = summary["events"] / seconds if seconds > 0 else 0.0
    rows = [{"fact": k, "count": v} for k, v in summary.items()]
    _emit(rows, fmt, f"what the engine knows{f' as of {cut.isoformat()}' if cut else ''}")
    if fmt is Format.TABLE:
        console.print(
            f"replayed {summary['events']:,} events in {seconds:.2f}s ({rate:,.0f} events/s); "
            f"read models: {applied:,} new events applied"
        )


# ------------------------------------------------------------------ events


@app.command()
def events(
    ctx: typer.Context,
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="Event type (repeatable).")
    ] = None,
    rep: Annotated[str | None, typer.Option(help="Only events naming this rep.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Effective on or after (ISO date/time).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Effective on or before (ISO date/time).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Recorded on or before (ISO date/time).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    after: Annotated[int, typer.Option(help="Start after this log position (paging).")] = 0,
    fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """List events in log order, filtered by type, rep, effective time and recorded time."""
    from projections.event_log import EventIndex, event_index, event_reps
    from projections.runner import ProjectionRunner, make_engine

    for t in event_type or ():
        if t not in EVENT_CLASSES:
            raise typer.BadParameter(
                f"unknown event type {t!r}; known: {', '.join(sorted(EVENT_CLASSES))}"
            )
    settings = _settings(ctx)
    with EventStore(settings) as store:
        runner = ProjectionRunner(store, make_engine(settings.resolved_views_url()), [EventIndex()])
        runner.run()
    ix = event_index.c
    query = select(ix.position, ix.recorded_at, ix.type, ix.event_id, ix.effective_at, ix.summary)
    query = query.where(ix.position > after)
    if event_type:
        query = query.where(ix.type.in_(event_type))
    if rep:
        query = query.where(
            ix.position.in_(select(event_reps.c.position).where(event_reps.c.rep_id == rep))
        )
    if since:
        query = query.where(ix.effective_at >= _start_of(since))
    if until:
        query = query.where(ix.effective_at <= parse_instant(until))
    if as_of:
        query = query.where(ix.recorded_at <= parse_instant(as_of))
    query = query.order_by(ix.position).limit(limit)
    with runner.engine.connect() as conn:
        rows = [
            {
                "position": r.position,
                "recorded_at": _iso(r.recorded_at),
                "type": r.type,
                "event_id": r.event_id,
                "effective": _iso(r.effective_at),
                "summary": r.summary,
            }
            for r in conn.execute(query)
        ]
    _emit(rows, fmt, "events")


def _start_of(text: str) -> datetime:
    if len(text) == 10:
        try:
            return datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not an ISO date or datetime") from None
    value = parse_instant(text)
    assert value is not None
    return value


def _iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


# -------------------------------------------------------------------- demo


@app.command()
def demo(
    ctx: typer.Context,
    reps: Annotated[int, typer.Option(min=1, max=10_000, help="Field reps.")] = 30,
    n_events: Annotated[
        int, typer.Option("--events", min=100, help="Approximate events.")
    ] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo store and its CRM export go.")
    ] = Path("incentive-engine-demo"),
) -> None:
    """Generate a Vietnamese sales organisation's year, ingest it into a fresh embedded
    store, and print what the engine knows."""
    from incentive_engine.demo_data import generate
    from incentive_engine.ingest import parse_jsonl

    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    export = directory / "events.jsonl"
    generated = generate(reps=reps, events=n_events, seed=seed)
    with export.open("w", encoding="utf-8") as handle:
        for e in generated:
            handle.write(
                json.dumps(e.model_dump(mode="json", exclude_none=True), ensure_ascii=False)
            )
            handle.write("\n")
    settings = Settings(store_url=f"sqlite:///{directory / 'store.db'}")
    ctx.obj = settings
    console.print(f"generated {len(generated):,} events for {reps} reps -> {export}")
    started = datetime.now(UTC)
    with EventStore(settings) as store:
        service = IngestService(store)
        with _progress("ingest", len(generated)) as advance:
            lines = export.read_text(encoding="utf-8").splitlines()
            report = service.ingest(
                str(export), lambda: parse_jsonl(lines, str(export)), progress=advance
            )
    seconds = (datetime.now(UTC) - started).total_seconds()
    if report.errors:
        for err in report.errors[:20]:
            errors.print(str(err), markup=False)
        raise typer.Exit(1)
    console.print(
        f"ingested {report.stored:,} events into {settings.store_url} in {seconds:.2f}s "
        f"({report.stored / max(seconds, 1e-9):,.0f} events/s)"
    )
    with EventStore(settings) as store:
        for path in sorted(CATALOG.glob("*.yaml")):
            result = publish(
                store, load_plan(path.read_text(encoding="utf-8"), str(path)), published_by="demo"
            )
            v = result.version
            console.print(
                f"published plan {v.plan.plan_id} v{v.plan.version} ({v.content_hash[:19]}…)"
            )
    facts, _ = _fold(settings, None)
    _print_overview(facts)
    _print_pay(settings)
    hint = f"incentive-engine --store {settings.store_url}"
    console.print(
        f"\nnext:\n  {hint} statement REP 2026-Q1\n  {hint} payouts 2026-Q1 --format csv\n"
        f"  {hint} explain REP 2026-Q1 1\n  {hint} events --type DealWon --limit 10"
    )


def _print_pay(settings: Settings) -> None:
    """The demo's pay: Q1 payouts per rep and the top earner's statement."""
    with EventStore(settings) as store:
        snap = snapshot(store)
    q1 = Period.parse("2026-Q1")
    found = period_statements(snap, q1)
    if not found:
        return
    ranked = sorted(found, key=lambda s: (-s.total, s.rep_id))
    rows = [
        {
            "rep": s.rep_id,
            "name": snap.facts.reps[s.rep_id].name,
            "plan": f"{s.plan_id}@{s.plan_version}",
            "attainment": "-"
            if s.attainment is None
            else f"{s.attainment.quantize(Decimal('0.1'))} %",
            "earned": format_money(s.total, s.currency),
        }
        for s in ranked[:10]
    ]
    _emit(rows, Format.TABLE, f"top earners, {q1} (of {len(found)} statements)")
    by_currency: dict[str, Decimal] = {}
    for s in found:
        by_currency[s.currency] = by_currency.get(s.currency, Decimal(0)) + s.total
    for currency, amount in sorted(by_currency.items()):
        console.print(f"{q1} payouts: {format_money(amount, currency)} for {len(found)} statements")
    top = ranked[0]
    rows = [
        {
            "#": ln.number,
            "component": ln.component,
            "description": ln.description,
            "amount": format_money(ln.amount, top.currency),
        }
        for ln in top.lines
    ]
    _emit(
        rows, Format.TABLE, f"statement of {snap.facts.reps[top.rep_id].name} ({top.rep_id}), {q1}"
    )
    console.print(f"total {format_money(top.total, top.currency)} · statement {top.hash}")


def _print_overview(facts: Facts) -> None:
    """What the engine knows: organisation, territories, deals by region, top reps."""
    _emit(
        [{"fact": k, "count": v} for k, v in facts.summary().items()],
        Format.TABLE,
        "what the engine knows",
    )
    teams: dict[str, list[str]] = {}
    for rep in sorted(facts.reps.values(), key=lambda r: r.rep_id):
        last = rep.placements[-1] if rep.placements else None
        if last is not None and rep.termination_date is None:
            teams.setdefault(last.team, []).append(rep.rep_id)
    _emit(
        [{"team": t, "people": len(ids)} for t, ids in sorted(teams.items())],
        Format.TABLE,
        "teams",
    )
    won = facts.won_deals()
    if not won:
        return
    year = won[-1].won.close_date.year  # type: ignore[union-attr]
    by_region: dict[str, list[Any]] = {}
    for d in won:
        by_region.setdefault(d.attributes["region"] or "?", []).append(d)
    currency = won[0].won.currency  # type: ignore[union-attr]
    _emit(
        [
            {
                "region": region,
                "deals won": len(ds),
                "revenue": format_money(
                    sum((d.amount for d in ds if d.cancellation is None), Decimal(0)), currency
                ),
                "cancelled": sum(1 for d in ds if d.cancellation is not None),
            }
            for region, ds in sorted(by_region.items())
        ],
        Format.TABLE,
        f"deals won in {year}",
    )
    quarter = Period.containing(date(year, 1, 1), PeriodKind.QUARTER)
    top = sorted(
        ((facts.credited_revenue(r, quarter), r) for r in facts.reps if facts.reps[r].hire_date),
        key=lambda x: (-x[0], x[1]),
    )[:10]
    rows = []
    for revenue, rep_id in top:
        q = facts.quota(QuotaSubject.REP, rep_id, quarter)
        attainment = f"{revenue / q.amount * 100:.1f} %" if q and q.amount else "-"
        rows.append(
            {
                "rep": rep_id,
                "name": facts.reps[rep_id].name,
                "credited": format_money(revenue, currency),
                "quota": format_money(q.amount, currency) if q else "-",
                "attainment": attainment,
            }
        )
    _emit(rows, Format.TABLE, f"top reps by credited revenue, {quarter}")


if __name__ == "__main__":  # pragma: no cover
    app()


# ------------------------------------------------------------- commissions

period_app = typer.Typer(help="Close periods: seal what is paid.", no_args_is_help=True)
app.add_typer(period_app, name="period")
app.add_typer(plan_app, name="plan")


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _fail(message: str, code: int = 1) -> NoReturn:
    errors.print(message, markup=False)
    raise typer.Exit(code)


def _snapshot(settings: Settings, as_of: str | None) -> Snapshot:
    with EventStore(settings) as store:
        return snapshot(store, as_of=parse_instant(as_of))


def _money(amount: Decimal | None, currency: str) -> str:
    return "" if amount is None else format_money(amount, currency)


@app.command()
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
    snap = _snapshot(_settings(ctx), as_of)
    try:
        version = None
        if plan_version is not None:
            plan_id, _, number = plan_version.partition("@")
            if not number.isdigit():
                raise typer.BadParameter(
                    f"{plan_version!r} is not PLAN@VERSION (e.g. field-sales-vn@2)"
                )
            version = find_version(snap, plan_id, int(number))
        found = rep_statements(snap, rep, _period(period), plan_version=version)
    except (CommissionError, EvaluationError) as exc:
        _fail(str(exc))
    if fmt is Format.JSON:
        docs = [{**s.as_dict(), "hash": s.hash} for s in found]
        sys.stdout.write(json.dumps(docs, ensure_ascii=False, indent=2) + "\n")
        return
    for s in found:
        rows = [
            {
                "#": ln.number,
                "component": ln.component,
                "kind": ln.kind,
                "description": ln.description,
                "base": _money(ln.base, s.currency)
                if ln.kind not in ("target_incentive",)
                else ln.base,
                "tier": ln.tier or "",
                "rate": "" if ln.rate is None else ln.rate,
                "amount": _money(ln.amount, s.currency),
            }
            for ln in s.lines
        ]
        if fmt is Format.CSV:
            _emit(rows, fmt)
            continue
        name = snap.facts.reps[s.rep_id].name
        attainment = "-" if s.attainment is None else f"{s.attainment.quantize(Decimal('0.1'))} %"
        console.print(
            f"{name} ({s.rep_id}) · {s.period} · plan {s.plan_id} v{s.plan_version} "
            f"({s.plan_hash[:19]}…)\nquota {_money(s.quota, s.currency) or '-'} · credited "
            f"{_money(s.credited, s.currency)} · attainment {attainment}"
        )
        _emit(rows, fmt, "statement")
        for component, subtotal in s.subtotals().items():
            console.print(f"  {component}: {_money(subtotal, s.currency)}")
        console.print(f"total {_money(s.total, s.currency)} · statement {s.hash}")


@app.command()
def payouts(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="Period, e.g. 2026-Q1.")],
    as_of: Annotated[str | None, typer.Option(help="What the engine knew at this instant.")] = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="csv is ready for payroll import.")
    ] = Format.TABLE,
) -> None:
    """Every rep's pay for a period (sealed figures once closed), for finance and payroll."""
    snap = _snapshot(_settings(ctx), as_of)
    the_period = _period(period)
    closed = snap.facts.closed_periods.get(str(the_period))
    try:
        found = (
            [payout_of(s) for s in period_statements(snap, the_period)]
            if closed is None
            else list(closed.payouts)
        )
    except EvaluationError as exc:
        _fail(str(exc))
    currency = {v.plan.plan_id: v.plan.currency for v in snap.book.versions}
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
    if fmt is Format.TABLE:
        for row in rows:
            for key in ("earned", "adjustments", "total"):
                row[key] = _money(Decimal(row[key]), row["currency"] or "VND")
            row["statement_hash"] = row["statement_hash"][:19] + "…"
        _emit(rows, fmt, f"payouts {the_period} ({'sealed' if closed else 'open'})")
        by_currency: dict[str, Decimal] = {}
        for p in found:
            c = currency.get(p.plan_id, "")
            by_currency[c] = by_currency.get(c, Decimal(0)) + p.total
        for c, amount in sorted(by_currency.items()):
            console.print(f"total {_money(amount, c)} for {len(found)} statements")
        return
    _emit(rows, fmt)


@app.command()
def explain(
    ctx: typer.Context,
    rep: Annotated[str, typer.Argument(help="Rep id.")],
    period: Annotated[str, typer.Argument(help="Period.")],
    line: Annotated[int, typer.Argument(help="Statement line number.")],
    as_of: Annotated[str | None, typer.Option(help="What the engine knew at this instant.")] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """The chain behind one statement line: the events, the rule, and the arithmetic."""
    settings = _settings(ctx)
    snap = _snapshot(settings, as_of)
    try:
        found = rep_statements(snap, rep, _period(period))
    except (CommissionError, EvaluationError) as exc:
        _fail(str(exc))
    s = found[0]
    chosen = next((ln for ln in s.lines if ln.number == line), None)
    if chosen is None:
        _fail(f"{rep} {period} has lines 1..{len(s.lines)}, not {line}")
    version = find_version(snap, s.plan_id, s.plan_version)
    rule = next(
        (
            c.model_dump(mode="json", by_alias=True, exclude_none=True)
            for c in version.plan.components
            if c.id == chosen.component
        ),
        None,
    )
    with EventStore(settings) as store:
        evidence = []
        for event_id in chosen.event_ids:
            recorded = store.get(event_id)
            if recorded is None:
                continue
            evidence.append(
                {
                    "event_id": event_id,
                    "type": recorded.event.type,  # type: ignore[attr-defined]
                    "position": recorded.position,
                    "effective": recorded.event.effective_at.isoformat(),
                    "recorded_at": recorded.recorded_at.isoformat(),
                    "source": recorded.source,
                    "summary": describe(recorded.event),
                }
            )
    chain = {
        "statement": {
            "rep_id": s.rep_id,
            "period": s.period,
            "hash": s.hash,
            "total": str(s.total),
        },
        "line": chosen.as_dict(),
        "rule": {
            "plan_id": s.plan_id,
            "version": s.plan_version,
            "plan_hash": s.plan_hash,
            "component": rule,
        },
        "events": evidence,
    }
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(chain, ensure_ascii=False, indent=2) + "\n")
        return
    console.print(f"line {chosen.number} of {s.rep_id} {s.period}: {chosen.description}")
    console.print(
        f"  amount {_money(chosen.amount, s.currency)} = base "
        f"{_money(chosen.base, s.currency) or '-'} x rate {chosen.rate or '-'} "
        f"(tier {chosen.tier or '-'}), rounded half-up to {s.currency}"
    )
    console.print(
        f"  rule: plan {s.plan_id} v{s.plan_version} ({s.plan_hash}), "
        f"component {json.dumps(rule, ensure_ascii=False)}"
    )
    _emit(evidence, fmt, "events behind the line")


@period_app.command("close")
def period_close(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="Period to close, e.g. 2026-Q1.")],
    by: Annotated[str, typer.Option("--by", help="Who closes it (recorded in the log).")],
) -> None:
    """Seal a period's payouts (per-rep totals and statement hashes) in the log."""
    settings = _settings(ctx.find_root())
    with EventStore(settings) as store:
        try:
            event = close_period(store, _period(period), closed_by=by)
        except CommissionError as exc:
            _fail(str(exc))
    console.print(
        f"closed {event.period}: {len(event.payouts)} statements, total "
        f"{total_paid(event.payouts):,} sealed ({event.statements_hash})"
    )


@app.command()
def adjust(
    ctx: typer.Context,
    rep: Annotated[str, typer.Argument(help="Rep id.")],
    period: Annotated[str, typer.Argument(help="Period the adjustment is paid in.")],
    amount: Annotated[
        str, typer.Option(help="Amount, negative to deduct (e.g. --amount -250000).")
    ],
    currency: Annotated[str, typer.Option(help="Currency of the amount.")],
    reason: Annotated[str, typer.Option(help="Why (shown on the statement).")],
    by: Annotated[str, typer.Option("--by", help="Who posts it.")],
    posted: Annotated[str | None, typer.Option(help="Posting date (default today).")] = None,
) -> None:
    """Post a manual adjustment (finance): its own line on the rep's statement."""
    settings = _settings(ctx)
    day = posted or datetime.now(UTC).date().isoformat()
    record = {
        "type": "ManualAdjustment",
        "rep_id": rep,
        "period": period,
        "amount": amount,
        "currency": currency,
        "reason": reason,
        "posted_by": by,
        "posted_date": day,
    }
    record["event_id"] = "adj-" + content_hash(record).removeprefix("sha256:")[:20]
    with EventStore(settings) as store:
        raw = RawRecord("adjust", 1, record, json.dumps(record, ensure_ascii=False))
        report = IngestService(store).ingest("adjust", lambda: [raw])
    for err in report.errors:
        errors.print(str(err), markup=False)
    if report.errors:
        raise typer.Exit(1)
    state = "already posted" if report.duplicates else "posted"
    console.print(f"{state}: {record['event_id']} {rep} {period} {amount} {currency.upper()}")
