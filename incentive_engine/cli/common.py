"""Plumbing shared by the command-line modules: consoles, output formats, settings from
the root context, the engine every command reads facts through, clean failures, and
reading instants and periods."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NoReturn

import click
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from incentive_engine.domain.errors import EngineError, Invalid
from incentive_engine.domain.money import format_money
from incentive_engine.domain.periods import Period

if TYPE_CHECKING:  # the heavy layers are imported by the commands that use them
    from incentive_engine.domain.facts import Facts
    from incentive_engine.presentation import Presenter
    from incentive_engine.services.commissions import Snapshot
    from incentive_engine.services.engine import Engine
    from incentive_engine.services.ingest import SourceReport
    from incentive_engine.settings import Settings
    from incentive_engine.store.event_store import EventStore
    from plans.ref import PlanRef

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True, highlight=False)
"""Errors go to stderr unwrapped, so that they can be grepped whole."""


class Format(StrEnum):
    """Output formats of listing commands."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
"""Exit codes: done; refused or failed (any engine error: not found, forbidden, conflict,
invalid, unavailable; a record refused at ingest; an audit that found tampering; a payout
list with a statement that cannot be computed); a usage error (an unknown option, a value
that does not parse). ``audit verify`` exits 3 for an intact log with unresolved quarantined
events; ``EXIT_NO_STORE`` (4) and ``EXIT_UNAVAILABLE`` (5) are in ``cli.failures``."""


class EngineErrors(TyperGroup):
    """The root command group: an engine error raised by any command is its message on
    stderr and exit 1, and a service that cannot be reached (PostgreSQL, Kafka, a locked
    SQLite file) one line and exit 5, in this one place instead of in every command (the
    traceback only with ``--debug``)."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; map an engine error or a connection failure to its message and
        exit code."""
        try:
            return super().invoke(ctx)
        except EngineError as exc:
            fail(str(exc), EXIT_REFUSED)
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("typer", "click") or ctx.meta.get("debug"):
                raise
            from incentive_engine.cli.failures import EXIT_UNAVAILABLE, unavailable

            try:
                store_url = settings_of(ctx).store_url
            except Exception:  # settings that do not parse: the original error stands
                raise exc from None
            line = unavailable(exc, store_url, ctx.meta.get("kafka_bootstrap"))
            if line is None:
                raise
            fail(line, EXIT_UNAVAILABLE)


@dataclass(frozen=True)
class StoreChoice:
    """The root command's ``--store``, kept as given: settings are read (from the environment
    and ``.env``) only by the commands that need them, not for ``--help``."""

    store_url: str | None


def settings_of(ctx: typer.Context) -> Settings:
    """The settings of this run: the environment's, with the root command's ``--store``
    (a command such as ``demo`` may leave settings of its own)."""
    from incentive_engine.settings import Settings

    obj = ctx.find_root().obj
    if isinstance(obj, Settings):
        return obj
    settings = Settings()
    if isinstance(obj, StoreChoice) and obj.store_url:
        settings = settings.model_copy(update={"store_url": obj.store_url})
    refuse_missing_store(ctx, settings.store_url)
    return settings


def command_names(ctx: click.Context) -> tuple[str, ...]:
    """The names of the running command below the root (``("adjust", "list")``)."""
    names: list[str] = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return tuple(reversed(names))


def refuse_missing_store(ctx: click.Context, store_url: str) -> None:
    """Exit 4 naming the path when a command that only reads is pointed at a SQLite store
    that does not exist (it would otherwise create an empty one and answer from it); a
    ``--follow`` worker starts on an empty store, as ``serve`` and ``worker`` do."""
    from incentive_engine.cli.failures import EXIT_NO_STORE, missing_store, only_reads

    if ctx.params.get("follow"):  # a worker (project/publish --follow) waits for a writer
        return
    if only_reads(command_names(ctx)):
        refusal = missing_store(store_url)
        if refusal is not None:
            fail(refusal, EXIT_NO_STORE)


def presenter(ctx: typer.Context) -> Presenter:
    """How tables for people show figures: money, numbers, percentages, dates and times by
    ``INCENTIVE_LOCALE`` (default ``INCENTIVE_WEB_LOCALE``) in the organisation's time zone,
    as the web pages do. Never for JSON or CSV output."""
    from incentive_engine.presentation import Presenter

    settings = settings_of(ctx)
    return Presenter(settings.locale or settings.web_locale, settings.time_zone, plain_spaces=True)


def engine_of(ctx: typer.Context) -> Engine:
    """The application core on the configured store: the one way a command reads facts
    (use it as a context manager; it closes the store it opened)."""
    from incentive_engine.services.engine import Engine

    return Engine(settings_of(ctx))


def facts_source(store: EventStore) -> Callable[[], Facts]:
    """The facts the pay read models are derived from: an engine's on the store a projector
    runs on, caught up when asked (read models never fold the log themselves)."""
    from incentive_engine.services.engine import Engine

    engine = Engine(store=store)
    return lambda: engine.snapshot().facts


def snapshot_of(ctx: typer.Context, as_of: datetime | None = None) -> Snapshot:
    """Facts and plan versions from the engine: now, or as of an instant."""
    with engine_of(ctx) as engine:
        snap = engine.snapshot(as_of)
        tell_fold(engine)
        return snap


SLOW_FOLD_SECONDS = 1.0
"""A fold that took longer than this is reported on stderr, saying why it was needed."""


def tell_fold(engine: Engine) -> None:
    """Say on stderr where the facts came from when it cost time or passed over snapshots
    (an as-of before the newest snapshot folds from the start of the log)."""
    report = engine.last_fold
    if report is not None and (report.seconds >= SLOW_FOLD_SECONDS or report.ignored):
        errors.print(report.describe(), markup=False)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a message on stderr (never read as markup) and exit with the code."""
    errors.print(message, markup=False)
    raise typer.Exit(code)


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


def start_of(text: str) -> datetime:
    """Read an ISO date or datetime; a date means the start of that day (UTC)."""
    if len(text) == 10:
        try:
            return datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not an ISO date or datetime") from None
    value = parse_instant(text)
    assert value is not None
    return value


def iso(value: datetime) -> str:
    """ISO text of a datetime, read as UTC when naive (as SQLite returns them)."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def period_arg(text: str) -> Period:
    """A period argument, or a usage error naming it."""
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def plan_ref_arg(text: str, *, latest: bool = False, or_file: bool = False) -> PlanRef:
    """A PLAN@VERSION argument (PLAN@latest too with ``latest``), or a usage error naming
    it (saying a file was looked for too with ``or_file``)."""
    from plans.ref import PlanRef

    try:
        return PlanRef.parse(text, latest=latest)
    except Invalid as exc:
        raise typer.BadParameter(f"{exc}{', nor a plan file' if or_file else ''}") from None


def number(value: Decimal) -> str:
    """Whole numbers as integers; fractions (attainment %, shared points) to one decimal."""
    if value == value.to_integral_value():
        return str(value.to_integral_value())
    return str(value.quantize(Decimal("0.1")))


def money(amount: Decimal | None, currency: str) -> str:
    """An amount with separators and currency ('' for none)."""
    return "" if amount is None else format_money(amount, currency)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def emit(rows: list[dict[str, Any]], fmt: Format, title: str | None = None) -> None:
    """Print rows as a table, JSON or CSV."""
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    if fmt is Format.CSV:  # formula-safe: text such as "=HYPERLINK(..." is never run
        from incentive_engine.domain.exports import safe_record

        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(safe_record(row) for row in rows)
        sys.stdout.write(out.getvalue())
        return
    if not rows:
        console.print(f"{title or 'rows'}: none", markup=False)
        return
    table = Table(title=Text(title) if title else None, show_lines=False)
    for name in rows[0] if rows else []:
        table.add_column(name, overflow="fold")
    for row in rows:  # Text cells: a value such as "[bold]" is never read as markup
        table.add_row(*(Text(_cell(v)) for v in row.values()))
    # Piped output has no terminal width: print wide rather than cut cells short.
    out_console = console if sys.stdout.isatty() else Console(width=200, highlight=False)
    out_console.print(table)


def post(
    settings: Settings, records: list[dict[str, Any]], source: str, *, scope: str
) -> SourceReport:
    """Append records through the ingest service (validation and references, all or nothing)
    within the command's write scope; print each refused record's reasons and exit 1 if any
    was refused."""
    from incentive_engine.domain.scopes import parse_scope
    from incentive_engine.services.ingest import IngestService, RawRecord
    from incentive_engine.store.event_store import EventStore

    with EventStore(settings) as store:
        raws = [
            RawRecord(source, i, r, json.dumps(r, ensure_ascii=False, default=str))
            for i, r in enumerate(records, start=1)
        ]
        service = IngestService(store, scope=parse_scope(scope), writer=f"'{source}'")
        report = service.ingest(source, lambda: raws)
    for err in report.errors:
        errors.print(str(err), markup=False)
    if report.errors:
        raise typer.Exit(1)
    return report


def record_access(
    ctx: typer.Context, resource: str, reps: list[str], period: str | None = None
) -> None:
    """Record in the access log that the person at the terminal read these reps' pay
    (origin ``cli:<OS user>``; written before the command ends)."""
    import getpass

    from projections.access_log import AccessLog
    from projections.runner import make_engine

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a container)
        user = "unknown"
    views = make_engine(settings_of(ctx).resolved_views_url())
    try:
        log = AccessLog(views)
        log.record(
            actor_role="cli",
            actor=user,
            origin=f"cli:{user}",
            resource=resource,
            reps=reps,
            period=period,
        )
        log.close()
    finally:
        views.dispose()
