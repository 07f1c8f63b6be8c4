"""The ``incentive-engine`` command line: the composition root that wires settings, store,
services and read models for the ``demo``, ``ingest``, ``replay``, ``events`` and ``schema``
commands."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from typer.core import TyperGroup

from incentive_engine.cli.adjustments import adjust_app
from incentive_engine.cli.audit import audit_app
from incentive_engine.cli.commissions import commission_commands, period_app
from incentive_engine.cli.common import (
    EXIT_USAGE,
    EngineErrors,
    Format,
    StoreChoice,
    console,
    emit,
    errors,
    facts_source,
    fail,
    iso,
    parse_instant,
    presenter,
    settings_of,
    start_of,
)
from incentive_engine.cli.gamification import gamification_commands
from incentive_engine.cli.imports import mappings_app
from incentive_engine.cli.kpis import kpi_app
from incentive_engine.cli.notify import notify_app
from incentive_engine.cli.observe import (
    MetricsHost,
    MetricsPort,
    count_notifications,
    follow_log,
    observe,
    observed_run,
)
from incentive_engine.cli.operations import backup, db_app, restore, upgrade_on_start
from incentive_engine.cli.plans import plan_app
from incentive_engine.cli.progress import progress
from incentive_engine.cli.quotas import quota_app
from incentive_engine.cli.simulation import simulation_commands
from incentive_engine.cli.territories import attainment_commands, territory_app
from incentive_engine.cli.voids import void_app
from incentive_engine.domain.periods import Period, PeriodKind

if TYPE_CHECKING:
    from incentive_engine.domain.facts import Facts
    from incentive_engine.presentation import Presenter
    from incentive_engine.services.commissions import Snapshot
    from incentive_engine.settings import Settings
    from incentive_engine.store.snapshots import Written

CATALOG = Path(__file__).resolve().parents[2] / "plans" / "catalog"
"""Plan documents that ship with the project."""

app = typer.Typer(
    cls=EngineErrors,
    help="Event-sourced incentive and commission engine.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


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
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the traceback of a connection failure instead of its one-line message.",
        ),
    ] = False,
) -> None:
    """Event-sourced incentive and commission engine."""
    ctx.obj = StoreChoice(store)
    ctx.meta["debug"] = debug


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the event store (a SQLite file, or the tables in a PostgreSQL schema) if it does
    not exist: the commands that only read never create one."""
    from incentive_engine.settings import sqlite_path
    from incentive_engine.store.event_store import EventStore

    settings = settings_of(ctx)
    existed = settings.store_url.startswith("sqlite:") and sqlite_path(settings.store_url).exists()
    with EventStore(settings) as store:
        events = store.max_position()
    said = "exists" if existed or events else "created"
    console.print(f"event store {settings.store_url}: {said} ({events:,} events)", markup=False)


# ------------------------------------------------------------------ schema


@app.command()
def schema(
    event_type: Annotated[
        str | None, typer.Option("--type", help="Only this event type (e.g. DealWon).")
    ] = None,
) -> None:
    """Print the JSON Schema of the event catalogue, for CRM integrators to validate against."""
    from incentive_engine.domain.events import EVENT_CLASSES, catalogue_schema

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

INGEST_SCOPE = "crm+territories+quotas+fx+plans"
"""What ``ingest`` writes unless told otherwise: the facts an operator loads from exports
(CRM facts, territories, quotas, FX rates) and plan versions (their documents validated as
``plan validate`` does).  Closes, manual adjustments, disputes and voids have their own
commands, which keep their rules; ``--allow`` widens the scope for a migration."""


def _scope_or_exit(text: str) -> str:
    """The scope text, or exit 2 with the reason when it names an unknown group or type."""
    from incentive_engine.domain.scopes import ScopeError, parse_scope

    try:
        parse_scope(text)
    except ScopeError as exc:
        errors.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    return text


@app.command()
def ingest(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="JSONL (.jsonl) or CSV (.csv) files of events; with --mapping, CSV or XLSX "
            "exports (.csv, .xlsx) of a CRM or a spreadsheet."
        ),
    ],
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
    scope: Annotated[
        str,
        typer.Option(
            help="Event types the files may hold: groups or type names joined by '+' "
            "(crm = org, pipeline, deals, activities, leads). A file holding another type "
            "is refused whole.",
        ),
    ] = INGEST_SCOPE,
    allow: Annotated[
        list[str] | None,
        typer.Option(
            "--allow",
            help="Widen the scope by a group or event type (repeatable): e.g. --allow plans, "
            "--allow PeriodClosed for a migration.",
        ),
    ] = None,
    mapping: Annotated[
        str | None,
        typer.Option(
            "--mapping",
            help="Read the files through a column mapping: a shipped one by name "
            "(salesforce-opportunities, hubspot-deals, vietnamese-spreadsheet, activities, "
            "...; see `incentive-engine mappings`) or a mapping YAML file.",
        ),
    ] = None,
    sheet: Annotated[
        str | None,
        typer.Option("--sheet", help="The XLSX sheet to read (default: the first)."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="With --mapping: convert and validate, print the counts per event type, the "
            "first events and the problems; store nothing.",
        ),
    ] = False,
    known_since: Annotated[
        str | None,
        typer.Option(
            "--known-since",
            help="Backfilled history: the instant the source system knew every record of "
            "the files (ISO date = its start, or datetime; UTC unless a zone is given). A "
            "record's own source_recorded_at wins. --as-of cuts on it.",
        ),
    ] = None,
    allow_closed_period: Annotated[
        bool,
        typer.Option(
            "--allow-closed-period",
            help="Let backfilled events fall in a closed period: the difference is paid as "
            "a prior-period adjustment in the first open period.",
        ),
    ] = False,
) -> None:
    """Validate and append events from CRM export files; idempotent by event_id."""
    from incentive_engine.domain.scopes import parse_scope
    from incentive_engine.services.ingest import IngestService, ingest_paths
    from incentive_engine.store.event_store import EventStore

    settings = settings_of(ctx)
    wanted = parse_scope(_scope_or_exit("+".join([scope, *(allow or [])])))
    since = start_of(known_since) if known_since is not None else None
    if mapping is not None:
        from incentive_engine.cli.imports import ingest_mapped

        ingest_mapped(
            settings, files, mapping, scope=wanted, sheet=sheet, dry_run=dry_run,
            dead_letter=dead_letter, fmt=fmt, show=show, known_since=since,
            allow_closed_period=allow_closed_period,
        )  # fmt: skip
        return
    if dry_run or sheet is not None:
        errors.print("--dry-run and --sheet need --mapping")
        raise typer.Exit(2)
    with EventStore(settings) as store:
        service = IngestService(
            store,
            scope=wanted,
            writer="ingest",
            known_since=since,
            allow_closed_period=allow_closed_period,
        )
        try:
            with progress("ingest", None, unit="records") as advance:
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
        emit(rows, fmt, "ingest")
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
    from incentive_engine.services.engine import Engine

    with Engine(settings) as engine:
        total = engine.store.max_position()
        facts = engine.snapshot(as_of).facts
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
    from incentive_engine.store.event_store import EventStore
    from projections.runner import ProjectionRunner, make_engine

    settings = settings_of(ctx)
    cut = parse_instant(as_of)
    written = None
    if cut is None:
        facts, seconds, written = _fold_and_snapshot(settings)
    else:
        started = datetime.now(UTC)
        facts, _total = _fold(settings, cut)
        seconds = (datetime.now(UTC) - started).total_seconds()
    applied = 0
    if cut is None:
        with EventStore(settings) as store:
            views = make_engine(settings.resolved_views_url())
            runner = ProjectionRunner(store, views, facts=facts_source(store))
            if rebuild:
                runner.rebuild()
            with progress("read models", runner.lag()) as advance:
                applied = runner.run(progress=advance)
    summary = facts.summary()
    rate = summary["events"] / seconds if seconds > 0 else 0.0
    rows = [{"fact": k, "count": v} for k, v in summary.items()]
    emit(rows, fmt, f"what the engine knows{f' as of {cut.isoformat()}' if cut else ''}")
    for item in facts.quarantined.values():
        errors.print(f"warning: {item.describe()}", markup=False)
    if fmt is Format.TABLE:
        console.print(
            f"replayed {summary['events']:,} events in {seconds:.2f}s ({rate:,.0f} events/s); "
            f"read models: {applied:,} new events applied"
        )
        if written is not None:
            console.print(_snapshot_line(written))


def _fold_and_snapshot(settings: Settings) -> tuple[Facts, float, Written | None]:
    """Fold the whole log from zero (a replay trusts no snapshot) and store a snapshot of
    the facts at the log's head; returns the facts, the fold's seconds and the snapshot."""
    from incentive_engine.services.engine import Engine

    with Engine(settings, snapshots=False) as engine:
        with progress("replay", engine.store.max_position()) as advance:
            report = engine.catch_up(progress=advance)
        written = engine.write_snapshot()
        return engine.snapshot().facts, report.seconds, written


def _snapshot_line(written: Written) -> str:
    return (
        f"snapshot of the facts at position {written.position:,} written "
        f"({written.bytes / 1e6:,.1f} MB in {written.seconds:.2f}s)"
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
        str | None,
        typer.Option(
            help="Known on or before (ISO date/time): recorded, or for backfilled history "
            "known to its source system."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    after: Annotated[int, typer.Option(help="Start after this log position (paging).")] = 0,
    counts: Annotated[
        bool, typer.Option("--counts", help="How many events of each type the log holds.")
    ] = False,
    fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """List events in log order, filtered by type, rep, effective time and recorded time
    (or count the whole log's events by type). Each row's status says whether the event is
    voided (voided_by: the approval; left out of every figure) or quarantined (a stored
    event that no longer validates, listed with the reason; its times may be unknown)."""
    from sqlalchemy import select

    from incentive_engine.domain.events import EVENT_CLASSES
    from incentive_engine.store.event_store import EventStore
    from projections.event_log import (
        EventCounts,
        EventIndex,
        count_by_type,
        event_index,
        event_reps,
    )
    from projections.runner import ProjectionRunner, make_engine

    for t in event_type or ():
        if t not in EVENT_CLASSES:
            raise typer.BadParameter(
                f"unknown event type {t!r}; known: {', '.join(sorted(EVENT_CLASSES))}"
            )
    settings = settings_of(ctx)
    with EventStore(settings) as store:
        views = make_engine(settings.resolved_views_url())
        runner = ProjectionRunner(store, views, [EventIndex(), EventCounts()])
        runner.run()
    if counts:
        with views.connect() as conn:
            found = count_by_type(conn)
        emit([{"type": t, "events": n} for t, n in found.items()], fmt, "events by type")
        return
    ix = event_index.c
    query = select(
        ix.position,
        ix.recorded_at,
        ix.source_recorded_at,
        ix.type,
        ix.event_id,
        ix.effective_at,
        ix.summary,
        ix.quarantined,
    )
    query = query.where(ix.position > after)
    if event_type:
        query = query.where(ix.type.in_(event_type))
    if rep:
        query = query.where(
            ix.position.in_(select(event_reps.c.position).where(event_reps.c.rep_id == rep))
        )
    if since:
        query = query.where(ix.effective_at >= start_of(since))
    if until:
        query = query.where(ix.effective_at <= parse_instant(until))
    if as_of:
        query = query.where(ix.known_at <= parse_instant(as_of))
    query = query.order_by(ix.position).limit(limit)
    with EventStore(settings) as store:
        voided = store.voids()
    with runner.engine.connect() as conn:
        rows = [
            {
                "position": r.position,
                "recorded_at": iso(r.recorded_at) if r.recorded_at else "",
                "type": r.type,
                "event_id": r.event_id,
                "effective": iso(r.effective_at) if r.effective_at else "",
                "summary": r.summary,
                "status": _listed_status(r.event_id in voided, r.quarantined is not None),
                "voided_by": voided.get(r.event_id, ""),
                "source_recorded_at": iso(r.source_recorded_at) if r.source_recorded_at else "",
            }
            for r in conn.execute(query)
        ]
    emit(rows, fmt, "events")


def _listed_status(voided: bool, quarantined: bool) -> str:
    """An event's status in the listing: a void resolves a quarantined event."""
    return "voided" if voided else "quarantined" if quarantined else ""


# ------------------------------------------------------------ long-running


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Run the HTTP API (FastAPI under uvicorn) on the configured store."""
    import uvicorn

    from api.app import create_app
    from api.auth import check_keys

    settings = settings_of(ctx)
    try:
        # refuse to start rather than fail every authenticated request: a missing or weak
        # signing key, a key file others may read, an unusable identity-provider key
        check_keys(settings)
    except RuntimeError as exc:
        fail(str(exc))
    observe(settings, metrics_port, metrics_host)
    upgrade_on_start(ctx)
    # Our logging (JSON or text, one line a request with its id), not uvicorn's.
    uvicorn.run(
        create_app(settings, warm=True), host=host, port=port, log_config=None, access_log=False
    )


class _IssueByDefault(TyperGroup):
    """``token ROLE SUBJECT`` stays short for ``token issue ROLE SUBJECT``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Insert ``issue`` when the first word names no subcommand."""
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["issue", *args]
        return super().parse_args(ctx, args)


token_app = typer.Typer(
    cls=_IssueByDefault,
    help="Issue API tokens (`token ROLE SUBJECT`) and revoke them.",
    no_args_is_help=True,
)


@token_app.command("issue")
def token_issue(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="rep, manager, finance, plan_admin or integration.")],
    subject: Annotated[str, typer.Argument(help="Who: the rep id for reps and managers.")],
    minutes: Annotated[
        int | None,
        typer.Option(
            help="Lifetime in minutes (default INCENTIVE_TOKEN_MINUTES, 30; at most 1440)."
        ),
    ] = None,
) -> None:
    """Issue an API token (signed with the newest key); its id and expiry go to stderr."""
    from api.auth import Role, issue

    try:
        chosen = Role(role)
    except ValueError:
        raise typer.BadParameter(
            f"role {role!r}: choose {', '.join(r.value for r in Role)}"
        ) from None
    try:
        issued = issue(settings_of(ctx), chosen, subject, minutes=minutes)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--minutes") from None
    except RuntimeError as exc:
        fail(str(exc))
    sys.stdout.write(issued.token + "\n")
    errors.print(
        f"token id {issued.jti}, key {issued.kid}, expires {iso(issued.expires)}", markup=False
    )


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[
        str | None, typer.Option("--id", help="Deny the token with this id (its jti).")
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="Deny the subject's tokens issued at or before --before.")
    ] = None,
    before: Annotated[str, typer.Option(help="With --subject: 'now' or an ISO instant.")] = "now",
    reason: Annotated[str, typer.Option(help="Why (kept with the revocation).")] = "",
) -> None:
    """Revoke API tokens: one by id, or all of a subject's issued before an instant. Every
    API process sees it within INCENTIVE_API_REVOCATION_REFRESH_SECONDS."""
    import time

    from projections.runner import make_engine
    from projections.tokens import revoke_id, revoke_subject

    if (token_id is None) == (subject is None):
        raise typer.BadParameter("give exactly one of --id or --subject")
    instant = time.time()
    if before != "now":
        parsed = parse_instant(before)
        assert parsed is not None
        instant = parsed.timestamp()
    from sqlalchemy.exc import SQLAlchemyError

    engine = make_engine(settings_of(ctx).resolved_views_url())
    try:
        if token_id is not None:
            revoke_id(engine, token_id, now=time.time(), reason=reason)
            console.print(f"revoked token {token_id}", markup=False)
        else:
            assert subject is not None
            revoke_subject(engine, subject, before=instant, reason=reason)
            when = datetime.fromtimestamp(int(instant), UTC)
            said = f"revoked {subject}'s tokens issued at or before {iso(when)}"
            console.print(said, markup=False)
    except SQLAlchemyError as exc:
        fail(f"could not record the revocation in the read-model database: {exc}")
    finally:
        engine.dispose()


app.add_typer(token_app, name="token")

tv_key_app = typer.Typer(
    cls=_IssueByDefault,
    help="Display keys for office screens (`tv-key NAME`): the TV boards and nothing else.",
    no_args_is_help=True,
)


@tv_key_app.command("issue")
def tv_key_issue(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The screen's name: a-z, 0-9 and '-'.")],
    days: Annotated[int, typer.Option(help="Lifetime in days (at most 400).")] = 365,
    rotate: Annotated[
        bool, typer.Option(help="Revoke the screen's earlier keys first (a rotation).")
    ] = False,
) -> None:
    """Issue a read-only display key for an office screen; open ``/tv?key=KEY`` on the screen
    once (the key then lives in an HttpOnly cookie, not in the address). The key shows
    leaderboards without pay; every API route and every other page refuses it."""
    import time

    from api.auth import DISPLAY_NAME, DISPLAY_PREFIX, issue_display_key

    if not DISPLAY_NAME.match(name):
        raise typer.BadParameter(f"screen name {name!r}: use 1 to 40 of a-z, 0-9 and '-'")
    settings = settings_of(ctx)
    if rotate:
        _revoke_screen(settings, DISPLAY_PREFIX + name, "rotated")
        time.sleep(1.0 - time.time() % 1.0)  # the new key is issued after the revocation
    try:
        issued = issue_display_key(settings, name, days=days)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    except RuntimeError as exc:
        fail(str(exc))
    sys.stdout.write(issued.token + "\n")
    errors.print(
        f"display key for screen {name!r} (subject {DISPLAY_PREFIX}{name}), id {issued.jti}, "
        f"key {issued.kid}, expires {iso(issued.expires)}; open /tv?key=... on the screen",
        markup=False,
    )


@tv_key_app.command("revoke")
def tv_key_revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The screen's name.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the revocation).")] = "",
) -> None:
    """Revoke every display key of a screen issued until now: the screen shows the key page
    within INCENTIVE_API_REVOCATION_REFRESH_SECONDS."""
    from api.auth import DISPLAY_PREFIX

    _revoke_screen(settings_of(ctx), DISPLAY_PREFIX + name, reason)
    console.print(f"revoked the display keys of screen {name!r}", markup=False)


def _revoke_screen(settings: Settings, subject: str, reason: str) -> None:
    """Deny every key of a display subject issued until now (kept for good, unlike an id)."""
    import time

    from sqlalchemy.exc import SQLAlchemyError

    from projections.runner import make_engine
    from projections.tokens import revoke_subject

    engine = make_engine(settings.resolved_views_url())
    try:
        revoke_subject(engine, subject, before=time.time(), reason=reason)
    except SQLAlchemyError as exc:
        fail(f"could not record the revocation in the read-model database: {exc}")
    finally:
        engine.dispose()


app.add_typer(tv_key_app, name="tv-key")


def _remember_bootstrap(ctx: typer.Context, value: str) -> str:
    """Keep the broker address where a connection failure's message finds it."""
    ctx.meta["kafka_bootstrap"] = value
    return value


Bootstrap = Annotated[
    str,
    typer.Option(
        envvar="INCENTIVE_KAFKA_BOOTSTRAP",
        help="Kafka brokers, host:port,...",
        callback=_remember_bootstrap,
    ),
]
"""The broker address option shared by the Kafka commands."""


@app.command()
def worker(
    ctx: typer.Context,
    bootstrap: Bootstrap,
    topic: Annotated[str, typer.Option(help="Events topic.")] = "incentive.events",
    dead_letter_topic: Annotated[
        str, typer.Option(help="Where refused messages go.")
    ] = "incentive.events.dead",
    group: Annotated[str, typer.Option(help="Consumer group.")] = "incentive-engine",
    max_records: Annotated[
        int, typer.Option(min=1, help="Messages per poll, stored as one batch.")
    ] = 5000,
    processes: Annotated[
        int, typer.Option(min=1, help="Worker processes in the group on this machine.")
    ] = 1,
    reference_wait: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds a message naming a rep, deal or territory not stored yet waits "
            "for it (its events may travel through another partition) before it is "
            "dead-lettered.",
        ),
    ] = 10.0,
    scope: Annotated[
        str,
        typer.Option(
            help="Event types this topic may write: groups or type names joined by '+' "
            "(crm, territories, quotas, fx, ...). Other messages are dead-lettered.",
        ),
    ] = "crm",
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Ingest events from a Kafka topic in a consumer group (stops cleanly on SIGTERM); with
    --processes N and --metrics-port P, the Nth process serves its metrics on P + N."""
    import signal
    import threading

    from incentive_engine.kafka.worker import IngestWorker, WorkerConfig, run_processes

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    config = WorkerConfig(
        bootstrap,
        topic,
        dead_letter_topic,
        group,
        max_records=max_records,
        reference_wait_s=reference_wait,
        scope=_scope_or_exit(scope),
        metrics_port=metrics_port,
        metrics_host=metrics_host,
    )
    observe(settings_of(ctx), metrics_port if processes == 1 else None, metrics_host)
    console.print(
        f"consuming {topic} from {bootstrap} in group {group} "
        f"({processes} process{'es' if processes > 1 else ''})"
    )
    if processes > 1:
        stats = run_processes(settings_of(ctx), config, processes, stop)
    else:
        stats = IngestWorker(settings_of(ctx), config).run(stop)
    console.print(
        f"stopped: {stats.stored} stored, {stats.duplicates} duplicates, "
        f"{stats.dead_lettered} dead-lettered, {stats.waited} waits for a reference"
    )


@app.command("dead-letters")
def dead_letters_command(
    ctx: typer.Context,
    bootstrap: Bootstrap,
    topic: Annotated[str, typer.Option(help="Dead-letter topic.")] = "incentive.events.dead",
    redrive_to: Annotated[
        str | None,
        typer.Option(
            "--redrive-to",
            help="Send the letters not redriven before back to this events topic "
            "(original bytes and key), once the cause is fixed.",
        ),
    ] = None,
    wait: Annotated[
        float, typer.Option(min=0.5, help="Listing: seconds of quiet that end the read.")
    ] = 5,
    fmt: Annotated[Format, typer.Option("--format", help="table, json or csv.")] = Format.TABLE,
) -> None:
    """List the refused messages (partition, offset, key, event, reasons), or redrive them."""
    import base64

    from incentive_engine.kafka.worker import dead_letters, redrive

    if redrive_to is not None:
        sent = redrive(bootstrap, topic, redrive_to)
        console.print(f"redrove {sent} dead letter(s) from {topic} to {redrive_to}")
        return
    rows = []
    for letter in dead_letters(bootstrap, topic, timeout_s=wait):
        try:
            event_id = json.loads(base64.b64decode(letter["original"])).get("event_id")
        except (ValueError, AttributeError):
            event_id = None  # not JSON, or not an object: the reasons say so
        rows.append(
            {
                "partition": letter["partition"],
                "offset": letter["offset"],
                "key": letter["key"],
                "event_id": event_id,
                "reasons": "; ".join(f"{e['field']}: {e['reason']}" for e in letter["errors"]),
            }
        )
    emit(rows, fmt, title=f"dead letters on {topic}")


@app.command("publish")
def publish_command(
    ctx: typer.Context,
    bootstrap: Bootstrap,
    topic: Annotated[str, typer.Option(help="Outbound topic.")] = "incentive.notifications",
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep publishing until SIGTERM.")
    ] = False,
    poll: Annotated[float, typer.Option(min=0.05, help="Seconds between polls when idle.")] = 1.0,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Publish what changed for whom (keyed by rep, stable ids) from the log's tracking position."""
    import signal
    import threading

    from kafka import KafkaProducer

    from incentive_engine.services.replay import facts_until
    from incentive_engine.store.event_store import EventStore
    from projections.publisher import Publisher
    from projections.runner import ProjectionRunner, make_engine

    settings = settings_of(ctx)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        bootstrap_timeout_ms=int(settings.kafka_wait_seconds * 1000),
    )
    with EventStore(settings) as store:
        publisher = Publisher(
            producer, topic, store=store, refold=lambda position: facts_until(store, position)
        )
        runner = ProjectionRunner(store, make_engine(settings.resolved_views_url()), [publisher])
        publisher.prime(*facts_until(store, runner.positions()[publisher.name]))
        if follow:
            stop = threading.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            observe(settings, metrics_port, metrics_host)
            follow_log(runner, stop, "publisher", poll, after_run=count_notifications(publisher))
        else:
            runner.run()
    producer.close()
    console.print(f"published {publisher.sent} notification(s) to {topic}")


@app.command()
def project(
    ctx: typer.Context,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep applying new events until stopped (SIGTERM).")
    ] = False,
    poll: Annotated[float, typer.Option(min=0.05, help="Seconds between polls when idle.")] = 1.0,
    snapshot_every: Annotated[
        int, typer.Option(min=1, help="With --follow: a snapshot after this many new events.")
    ] = 100_000,
    snapshot_seconds: Annotated[
        float,
        typer.Option(min=1, help="With --follow: a snapshot this often when anything is new."),
    ] = 600.0,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Bring the read models up to date from their tracking positions (the projection worker)
    and store a snapshot of the facts at the end (with --follow: every N events or seconds)."""
    import signal
    import threading

    from incentive_engine.domain.errors import EngineError
    from incentive_engine.observability.pipeline import CHECKPOINTS, CHECKPOINTS_REFUSED
    from incentive_engine.services.engine import Engine, SnapshotSchedule
    from incentive_engine.services.integrity import IntervalCheckpoints
    from incentive_engine.store.event_store import EventStore
    from projections.runner import ProjectionRunner, make_engine

    settings = settings_of(ctx)
    if follow:  # the long-running projector logs as configured, the migration line too
        observe(settings, metrics_port, metrics_host)
    upgrade_on_start(ctx)
    views = make_engine(settings.resolved_views_url())
    with EventStore(settings) as store, Engine(settings, store=store, views=views) as engine:
        runner = ProjectionRunner(store, views, facts=lambda: engine.snapshot().facts)
        schedule = SnapshotSchedule(
            engine, every_events=snapshot_every, every_seconds=snapshot_seconds
        )
        if not follow:
            with progress("project", runner.lag()) as advance:
                applied = runner.run(progress=advance)
            console.print(f"applied {applied:,} new event(s); lag {runner.lag()}")
            written = schedule.flush()
            if written is not None:
                console.print(_snapshot_line(written))
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        checkpoints = IntervalCheckpoints(
            engine,
            views,
            every_events=settings.checkpoint_every_events,
            every_seconds=settings.checkpoint_every_seconds,
        )
        console.print(
            f"following the log (poll every {poll}s; a signed checkpoint every "
            f"{settings.checkpoint_every_events:,} events or "
            f"{settings.checkpoint_every_seconds:g}s); stop with SIGTERM"
        )
        while not stop.is_set():
            applied = observed_run(runner, "projector")
            schedule.tick()
            if applied == 0:
                stop.wait(poll)
            try:
                signed = checkpoints.maybe()
            except EngineError as exc:  # a log that fails verification is not signed
                CHECKPOINTS_REFUSED.inc()
                errors.print(f"checkpoint refused: {exc}", markup=False)
                continue
            if signed is not None:
                CHECKPOINTS.inc()
                console.print(
                    f"checkpoint #{signed.number} at position {signed.position}", markup=False
                )
        schedule.flush()
        console.print(f"stopped ({len(schedule.written)} snapshot(s) written)")


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
        Path,
        typer.Option(
            "--dir",
            help="Where the demo store and its CRM export go: a new or empty folder, or a "
            "previous demo's (replaced).",
        ),
    ] = Path("incentive-engine-demo"),
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace --dir even if it holds files that are not a previous demo."
        ),
    ] = False,
) -> None:
    """Generate a Vietnamese sales organisation's year, ingest it into a fresh embedded
    store as backfilled history (each event with the time the old CRM learned it, so that
    --as-of shows what was known then), and print what the engine knows."""
    from incentive_engine.demo.generator import generate, planned_at, source_times
    from incentive_engine.domain.scopes import parse_scope
    from incentive_engine.services.engine import Engine
    from incentive_engine.services.ingest import IngestService, parse_jsonl
    from incentive_engine.services.plan_publishing import publish
    from incentive_engine.settings import Settings
    from incentive_engine.store.event_store import EventStore
    from plans.documents import load_plan

    if directory.exists():
        foreign = _not_a_demo(directory)
        if foreign and not force:
            fail(
                f"--dir {directory} holds {foreign} that a demo did not write: the demo "
                "replaces its folder; choose a new or empty folder, or add --force to delete "
                "everything in it",
                EXIT_USAGE,
            )
        if directory.is_dir():
            shutil.rmtree(directory)
        else:
            directory.unlink()
    directory.mkdir(parents=True)
    export = directory / "events.jsonl"
    generated = generate(reps=reps, events=n_events, seed=seed)
    # When the old CRM learned each event; one not known yet at this instant (the demo
    # year runs to 31 December) has none and is known from when it is recorded.
    known, now = source_times(generated, seed=seed), datetime.now(UTC)
    planned: datetime | None = planned_at()
    if planned is not None and planned > now:
        planned = None
    backfilled = 0
    with export.open("w", encoding="utf-8") as handle:
        for e in generated:
            record = e.model_dump(mode="json", exclude_none=True)
            when = known.get(e.event_id)
            if when is not None and when <= now:
                record["source_recorded_at"] = when.isoformat()
                backfilled += 1
            handle.write(json.dumps(record, ensure_ascii=False))
            handle.write("\n")
    settings = Settings(store_url=f"sqlite:///{directory / 'store.db'}")
    ctx.obj = settings
    console.print(
        f"generated {len(generated):,} events for {reps} reps -> {export} "
        f"({backfilled:,} with the time the old CRM learned them)"
    )
    started = datetime.now(UTC)
    with EventStore(settings) as store:
        service = IngestService(store, scope=parse_scope("all"), writer="demo")
        with progress("ingest", len(generated), unit="records") as advance:
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
                store,
                load_plan(path.read_text(encoding="utf-8"), str(path)),
                published_by="demo",
                known_since=planned,  # agreed with the year's quotas, in December
            )
            v = result.version
            console.print(
                f"published plan {v.plan.plan_id} v{v.plan.version} ({v.content_hash[:19]}…)"
            )
    with Engine(settings) as engine:  # this demo's store, not the --store option's
        snap = engine.snapshot()
        engine.write_snapshot()  # `serve` and every query start from it, not from zero
    people = presenter(ctx)
    _print_overview(snap.facts, people)
    _print_pay(snap, people)
    hint = f"incentive-engine --store {settings.store_url}"
    console.print(
        f"\nnext:\n  {hint} statement REP 2026-Q1\n  {hint} payouts 2026-Q1 --format csv\n"
        f"  {hint} payouts 2026-Q1 --as-of 2026-03-15   (what the old CRM knew then)\n"
        f"  {hint} explain REP 2026-Q1 1\n  {hint} events --type DealWon --limit 10"
    )


DEMO_FILES = ("events.jsonl", "store.")
"""What a demo writes in its folder: the CRM export, and the store with its companions
(``store.db``, ``store.db.lock``, ``store.views.db``, ``store.secret``...)."""


def _not_a_demo(directory: Path) -> str | None:
    """What in an existing --dir a demo did not write (None: empty, or a previous demo)."""
    if not directory.is_dir():
        return "a file of that name"
    foreign = sorted(
        p.name
        for p in directory.iterdir()
        if not (p.is_file() and (p.name == DEMO_FILES[0] or p.name.startswith(DEMO_FILES[1])))
    )
    if not foreign:
        return None
    shown = ", ".join(repr(n) for n in foreign[:3])
    return shown + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")


def _print_pay(snap: Snapshot, people: Presenter) -> None:
    """The demo's pay: Q1 payouts per rep and the top earner's statement."""
    from incentive_engine.domain.leaderboards import Metric, leaderboard
    from incentive_engine.services.commissions import period_statements

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
            "attainment": people.percent(s.attainment),
            "earned": people.money(s.total, s.currency),
        }
        for s in ranked[:10]
    ]
    emit(rows, Format.TABLE, f"top earners, {q1} (of {len(found)} statements)")
    by_currency: dict[str, Decimal] = {}
    for s in found:
        by_currency[s.currency] = by_currency.get(s.currency, Decimal(0)) + s.total
    for currency, amount in sorted(by_currency.items()):
        console.print(f"{q1} payouts: {people.money(amount, currency)} for {len(found)} statements")
    top = ranked[0]
    rows = [
        {
            "#": ln.number,
            "component": ln.component,
            "description": ln.description,
            "amount": people.money(ln.amount, top.currency),
        }
        for ln in top.lines
    ]
    emit(
        rows, Format.TABLE, f"statement of {snap.facts.reps[top.rep_id].name} ({top.rep_id}), {q1}"
    )
    console.print(f"total {people.money(top.total, top.currency)} · statement {top.hash}")
    _print_kpis(snap.facts, q1, people)
    board = leaderboard(snap.facts, snap.book, Metric.POINTS, q1)
    emit(
        [
            {
                "rank": st.rank,
                "rep": st.rep_id,
                "name": st.name,
                "points": people.number(st.value),
                "reached": people.date(st.reached_at.date()) if st.reached_at else "",
                "movement": "new" if st.movement is None else f"{st.movement:+d}",
            }
            for st in board[:10]
        ],
        Format.TABLE,
        f"points leaderboard, {q1}",
    )


def _print_kpis(facts: Facts, period: Period, people: Presenter) -> None:
    """A KPI summary for the company (definitions: `incentive-engine kpi list`)."""
    from incentive_engine.domain.kpis import kpi

    [o] = kpi(facts, "outcomes", period)
    [c] = kpi(facts, "call_outcomes", period)
    [d] = kpi(facts, "calls_per_day", period)
    leads = kpi(facts, "leads", period)
    currency = str(o["currency"])
    rows = [
        {
            "kpi": "win rate",
            "value": f"{people.percent(o['win_rate_pct'])} ({o['won']} won, {o['lost']} lost)",
        },
        {"kpi": "average deal size", "value": people.money(o["average_deal_size"], currency)},
        {"kpi": "sales cycle", "value": f"{people.number(o['sales_cycle_days'])} days"},
        {
            "kpi": "sales velocity",
            "value": f"{people.money(o['velocity_per_day'], currency)} a day",
        },
        {
            "kpi": "new / existing customer deals",
            "value": f"{o['new_customer_deals']} / {o['existing_customer_deals']}",
        },
        {
            "kpi": "calls per rep per working day",
            "value": f"{people.number(d['calls_per_day'])} "
            f"({people.percent(c['connected_pct'])} connected)",
        },
        {
            "kpi": "leads by source",
            "value": ", ".join(f"{r['source']} {r['leads']}" for r in leads),
        },
    ]
    emit(rows, Format.TABLE, f"KPI summary, {period}")


def _print_overview(facts: Facts, people: Presenter) -> None:
    """What the engine knows: organisation, territories, deals by region, top reps."""
    from incentive_engine.domain.attainment import attainment
    from incentive_engine.domain.territories import territory_report

    emit(
        [{"fact": k, "count": v} for k, v in facts.summary().items()],
        Format.TABLE,
        "what the engine knows",
    )
    teams: dict[str, list[str]] = {}
    for rep in sorted(facts.reps.values(), key=lambda r: r.rep_id):
        last = rep.placements[-1] if rep.placements else None
        if last is not None and rep.termination_date is None:
            teams.setdefault(last.team, []).append(rep.rep_id)
    emit(
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
    emit(
        [
            {
                "region": region,
                "deals won": len(ds),
                "revenue": people.money(
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
    teams = [
        {
            "team": a.subject_id,
            "quota": people.money(a.quota, a.currency or currency),
            "credited": people.money(a.credited, a.currency or currency),
            "attainment": people.percent(a.attainment),
        }
        for a in attainment(facts, quarter, "team")
        if a.quota is not None
    ]
    emit(teams, Format.TABLE, f"attainment by team, {quarter}")
    territories = [
        {
            "territory": r.territory_id,
            "owners": r.owners,
            "customers": r.active_customers,
            "prospects": r.prospects,
            "revenue": people.money(r.revenue, currency),
        }
        for r in territory_report(facts, quarter)
    ]
    emit(territories, Format.TABLE, f"territories, {quarter}")


app.add_typer(period_app, name="period")
app.add_typer(plan_app, name="plan")
app.add_typer(territory_app, name="territory")
app.add_typer(quota_app, name="quota")
app.add_typer(audit_app, name="audit")
app.add_typer(kpi_app, name="kpi")
app.add_typer(void_app, name="void")
app.add_typer(adjust_app, name="adjust")
app.add_typer(mappings_app, name="mappings")
app.add_typer(notify_app, name="notify")
app.add_typer(db_app, name="db")
app.command("backup")(backup)
app.command("restore")(restore)
for commands in (
    commission_commands,
    attainment_commands,
    gamification_commands,
    simulation_commands,
):
    app.registered_commands.extend(commands.registered_commands)
