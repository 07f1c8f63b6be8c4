"""The CLI of imports: ``ingest FILE --mapping NAME|PATH`` and ``mappings`` (the catalogue)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from incentive_engine.cli.common import Format, emit, errors
from incentive_engine.cli.progress import progress

if TYPE_CHECKING:
    from incentive_engine.domain.scopes import WriteScope
    from incentive_engine.services.imports import ImportReport
    from incentive_engine.settings import Settings

SHOWN_EVENTS = 5


def ingest_mapped(
    settings: Settings,
    files: list[Path],
    mapping_name: str,
    *,
    scope: WriteScope,
    sheet: str | None,
    dry_run: bool,
    dead_letter: Path | None,
    fmt: Format,
    show: int,
    known_since: datetime | None = None,
    allow_closed_period: bool = False,
) -> None:
    """Import CSV or XLSX files through a mapping (``--dry-run``: validate, store nothing);
    ``known_since`` and ``allow_closed_period`` as for any ingest (backfilled history)."""
    from incentive_engine.domain.mappings import MappingError
    from incentive_engine.services.imports import SourceError, import_file, resolve_mapping
    from incentive_engine.services.ingest import DeadLetters, IngestService
    from incentive_engine.store.event_store import EventStore

    try:
        mapping = resolve_mapping(mapping_name)
    except (MappingError, SourceError) as exc:
        errors.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    reports: list[ImportReport] = []
    letters = DeadLetters(dead_letter) if dead_letter is not None and not dry_run else None
    try:
        with EventStore(settings) as store:
            service = IngestService(
                store,
                scope=scope,
                writer="ingest",
                known_since=known_since,
                allow_closed_period=allow_closed_period,
            )
            for path in files:
                with progress("import", None, unit="records") as advance:
                    reports.append(
                        import_file(
                            service, path, mapping, sheet=sheet, dry_run=dry_run,
                            dead_letters=letters, progress=advance,
                        )
                    )  # fmt: skip
    except (FileNotFoundError, SourceError) as exc:
        errors.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    finally:
        if letters is not None:
            letters.close()
    if fmt is Format.JSON:
        sys.stdout.write(
            json.dumps([r.as_dict() for r in reports], ensure_ascii=False, indent=2) + "\n"
        )
    else:
        for r in reports:
            _tell(r, show)
    if any(r.report.errors or r.report.conflicts for r in reports):
        raise typer.Exit(1)


def _tell(r: ImportReport, show: int) -> None:
    """One file's outcome for people: errors on stderr, counts (and a dry run's events)."""
    report = r.report
    for err in report.errors[:show]:
        errors.print(str(err), markup=False, highlight=False)
    if len(report.errors) > show:
        errors.print(f"... and {len(report.errors) - show} more errors in {report.source}")
    counts = [{"event type": k, "events": v} for k, v in sorted(r.counts.items())]
    if r.dry_run:
        emit(counts, Format.TABLE, f"{report.source}: {r.rows} rows would give (dry run)")
        if r.sample:
            print(f"first events (of {sum(r.counts.values())}):")
            for event in r.sample[:SHOWN_EVENTS]:
                print(json.dumps(event, ensure_ascii=False))
        verdict = (
            f"{report.invalid} row(s) with problems: nothing would be stored as it is"
            if report.errors
            else "no problems: nothing was stored (dry run)"
        )
        errors.print(f"{report.source}: {verdict}", markup=False)
        return
    stored = "" if report.written else ", valid events (none stored)"
    emit(counts, Format.TABLE, f"{report.source}: {r.rows} rows read{stored}")
    row = {k: v for k, v in report.as_dict().items() if k not in ("errors",)}
    emit([row], Format.TABLE, "ingest")
    if report.errors and not report.written:
        errors.print(
            f"{report.source}: {report.invalid} row(s) with problems: nothing from this file "
            "was stored (fix them, or use --dead-letter PATH to store the valid ones)",
            markup=False,
        )


mappings_app = typer.Typer(help="Column mappings for CSV and XLSX imports.", no_args_is_help=False)


@mappings_app.callback(invoke_without_command=True)
def mappings(
    ctx: typer.Context,
    fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """List the shipped mappings (use one with `ingest FILE --mapping NAME`)."""
    if ctx.invoked_subcommand is not None:
        return
    from incentive_engine.services.imports import catalogue

    rows = [{"mapping": k, "description": v} for k, v in catalogue().items()]
    emit(rows, fmt, "mappings")


@mappings_app.command("show")
def show_mapping(name: Annotated[str, typer.Argument(help="A shipped mapping's name.")]) -> None:
    """Print a shipped mapping's YAML (copy it to adapt it)."""
    from incentive_engine.services.imports import SourceError, mapping_text

    try:
        sys.stdout.write(mapping_text(name))
    except SourceError as exc:
        errors.print(str(exc), markup=False)
        raise typer.Exit(2) from None


@mappings_app.command("validate")
def validate_mapping(path: Annotated[Path, typer.Argument(help="A mapping YAML file.")]) -> None:
    """Check a mapping file: every problem named at its path."""
    from incentive_engine.domain.mappings import MappingError
    from incentive_engine.services.imports import SourceError, resolve_mapping

    try:
        mapping = resolve_mapping(str(path))
    except (MappingError, SourceError) as exc:
        errors.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    print(f"{path}: valid ({len(mapping.events)} event outputs, columns: "
          f"{', '.join(sorted(mapping.columns()))})")  # fmt: skip
