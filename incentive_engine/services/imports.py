"""Imports: CSV and XLSX files read through a column mapping into the one ingest path.

Every door calls ``import_file`` (a path) or ``import_bytes`` (an upload).  The rows of the
file become records by ``domain.mappings``; the records are validated and stored by
``services.ingest`` exactly as a JSONL file's are (all or nothing by default, dead letters
on request, the writer's scope).  Each error is given back at its source: the row number
as a spreadsheet shows it (the header row counts) and the column, beside the event field.

A dry run converts and validates the whole file and stores nothing.

A row is atomic: when it yields several events (an opportunity, its stage, its win) and one
is refused, none of that row's events is stored, also with dead letters or a partial import
(each of them is dead-lettered, naming the row).

XLSX files are read as stored values: a cell holding a formula is refused where the mapping
reads it (the engine never evaluates a formula), and a header row with an unnamed cell
between named ones (merged header cells) is refused whole.  Numbers are exact: an XLSX
number is taken from its stored decimal text (``repr`` of the value, which reproduces it).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as clock_time
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import IO, Any

import openpyxl
import orjson
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from incentive_engine.domain.limits import LimitError, check_structure
from incentive_engine.domain.mappings import (
    Cell,
    Formula,
    Mapping,
    MappingError,
    Output,
    Scalar,
    convert_group,
    convert_row,
    group_key,
    load_mapping,
)
from incentive_engine.domain.scopes import WriteScope
from incentive_engine.services.ingest import (
    DeadLetters,
    IngestService,
    Progress,
    RawRecord,
    RecordError,
    SourceReport,
)
from incentive_engine.store.event_store import EventStore

__all__ = [
    "ImportReport",
    "MappedError",
    "MappingError",
    "SourceError",
    "TooManyRows",
    "catalogue",
    "choose_mapping",
    "csv_rows",
    "import_bytes",
    "import_file",
    "import_source",
    "import_upload",
    "mapping_text",
    "resolve_mapping",
    "xlsx_rows",
]

SAMPLE_SIZE = 5
"""Records shown by a dry run."""

FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx"}


class SourceError(ValueError):
    """A file (or mapping) that cannot be imported at all: nothing is read from it."""


class TooManyRows(SourceError):
    """A file with more data rows than the import limit (``import_max_rows``)."""


# ------------------------------------------------------------------- the catalogue


def _catalogue_dir() -> Any:
    return resources.files("incentive_engine") / "imports" / "catalog"


def catalogue() -> dict[str, str]:
    """The shipped mappings: name → description."""
    found = {}
    for entry in sorted(_catalogue_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            name = entry.name.removesuffix(".yaml")
            found[name] = load_mapping(entry.read_text("utf-8"), name).description or ""
    return found


def mapping_text(name: str) -> str:
    """A shipped mapping's YAML text."""
    entry = _catalogue_dir() / f"{name}.yaml"
    if "/" in name or not entry.is_file():
        raise SourceError(f"no shipped mapping named {name!r} (shipped: {', '.join(catalogue())})")
    return str(entry.read_text("utf-8"))


def resolve_mapping(name_or_path: str, *, allow_path: bool = True) -> Mapping:
    """A shipped mapping by name, or (``allow_path``) a mapping file; MappingError when the
    document is invalid, SourceError when there is no such mapping."""
    entry = _catalogue_dir() / f"{name_or_path}.yaml"
    if "/" not in name_or_path and entry.is_file():
        return load_mapping(entry.read_text("utf-8"), name_or_path)
    path = Path(name_or_path)
    if allow_path and path.is_file():
        return load_mapping(path.read_text("utf-8"), str(path))
    names = ", ".join(catalogue())
    what = "no shipped mapping" + (" or mapping file" if allow_path else "")
    raise SourceError(f"{what} named {name_or_path!r} (shipped: {names})")


# ------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One data row: its number as a spreadsheet shows it, its cells by column name, or the
    reason it cannot be read."""

    number: int
    cells: dict[str, Cell | Formula]
    error: str | None = None


def _header(cells: list[Any], number: int, columns: Callable[[int], str]) -> list[str]:
    """The column names of the header row; an unnamed cell between named ones (merged
    header cells) or a repeated name refuses the file."""
    names = ["" if c is None else str(c).strip() for c in cells]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise SourceError(f"row {number} (the header row) is empty")
    for i, name in enumerate(names):
        if not name:
            raise SourceError(
                f"the header row {number} has no name in column {columns(i)} (merged or "
                "empty header cells): give every column its own name in one header row"
            )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise SourceError(f"the header row {number} names column {name!r} twice")
        seen.add(name)
    return names


def _row(
    number: int, header: list[str], values: list[Any], columns: Callable[[int], str]
) -> SourceRow | None:
    """A data row by column name (None when blank); cells beyond the header must be empty."""
    if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
        return None
    extra = [
        columns(i)
        for i in range(len(header), len(values))
        if values[i] is not None and str(values[i]).strip()
    ]
    cells = {name: (values[i] if i < len(values) else None) for i, name in enumerate(header)}
    if extra:
        return SourceRow(number, cells, f"has values beyond the header's columns ({extra[0]})")
    return SourceRow(number, cells)


def csv_rows(handle: IO[bytes], mapping: Mapping) -> Iterator[SourceRow]:
    """The data rows of CSV bytes in the mapping's encoding and delimiter."""
    source = mapping.source
    encoding = (
        "utf-8-sig"
        if source.encoding.replace("_", "-").lower() in ("utf-8", "utf8")
        else source.encoding
    )
    text = io.TextIOWrapper(handle, encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=source.delimiter)
    header: list[str] | None = None
    number = 0

    def column(i: int) -> str:
        return f"{i + 1} ({header[i]!r})" if header and i < len(header) else str(i + 1)

    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except UnicodeDecodeError:
            raise SourceError(f"row {number + 1}: the file is not {source.encoding} text") from None
        except csv.Error as exc:
            raise SourceError(f"row {number + 1}: not valid CSV: {exc}") from None
        number += 1
        if number < source.header_row:
            continue
        if header is None:
            header = _header(list(values), number, lambda i: str(i + 1))
            _check_columns(mapping, header)
            continue
        row = _row(number, header, list(values), column)
        if row is not None:
            yield row
    if header is None:
        raise SourceError(f"the file has no header row (row {source.header_row})")


def _xlsx_value(cell: Any) -> Cell | Formula:
    """An XLSX cell's value: exact numbers (never float), dates, text, or a Formula."""
    value = cell.value
    if getattr(cell, "data_type", None) == "f" or (
        isinstance(value, str) and value.startswith("=") and getattr(cell, "data_type", "") == "f"
    ):
        return Formula(str(value))
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, clock_time):
        return value.isoformat()
    if value is None or isinstance(value, str | int | bool | date | datetime | Decimal):
        return value
    return str(value)


def xlsx_rows(handle: IO[bytes], mapping: Mapping, sheet: str | None = None) -> Iterator[SourceRow]:
    """The data rows of an XLSX workbook's sheet (``sheet``, the mapping's, or the first)."""
    try:
        book = openpyxl.load_workbook(handle, read_only=True, data_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise SourceError(f"not an XLSX workbook ({exc})") from None
    try:
        wanted = sheet or mapping.source.sheet
        if wanted is not None:
            if wanted not in book.sheetnames:
                raise SourceError(f"no sheet {wanted!r} (sheets: {', '.join(book.sheetnames)})")
            ws = book[wanted]
        else:
            ws = book.worksheets[0]
        header: list[str] | None = None

        def column(i: int) -> str:
            return get_column_letter(i + 1)

        for number, cells in enumerate(ws.iter_rows(), start=1):
            if number < mapping.source.header_row:
                continue
            values = [_xlsx_value(c) for c in cells]
            if header is None:
                formulas = [column(i) for i, v in enumerate(values) if isinstance(v, Formula)]
                if formulas:
                    raise SourceError(
                        f"the header row {number} holds a formula in column {formulas[0]}"
                    )
                header = _header(values, number, column)
                _check_columns(mapping, header)
                continue
            row = _row(number, header, values, column)
            if row is not None:
                yield row
        if header is None:
            raise SourceError(f"the sheet has no header row (row {mapping.source.header_row})")
    finally:
        book.close()


def _check_columns(mapping: Mapping, header: list[str]) -> None:
    missing = sorted(mapping.columns() - set(header))
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise SourceError(
            f"the file has no column {names} that the mapping reads "
            f"(its columns: {', '.join(header)})"
        )


def format_of(name: str, mapping: Mapping) -> str:
    """``csv`` or ``xlsx``: the mapping's, else by the file name's suffix."""
    if mapping.source.format is not None:
        return mapping.source.format
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise SourceError(f"{name}: unsupported file type {suffix!r}; use .csv or .xlsx")
    return FORMATS[suffix]


# ---------------------------------------------------------------------- conversion


@dataclass(frozen=True, slots=True, kw_only=True)
class MappedError(RecordError):
    """An error of an imported record, named at its source: the row (``line``) and column."""

    column: str | None = None
    event_type: str = ""

    def __str__(self) -> str:
        where = f"row {self.line}" + (f", column {self.column!r}" if self.column else "")
        what = f"{self.event_type} field '{self.field}'" if self.event_type else self.field
        return f"{self.source}: {where}: {what}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        """The error as a JSON-ready dict (``row`` and ``column`` of the source)."""
        return {
            "source": self.source,
            "row": self.line,
            "column": self.column,
            "event_type": self.event_type or None,
            "event_id": self.event_id,
            "field": self.field,
            "reason": self.reason,
        }


@dataclass
class _Trace:
    """Where each record (by its line in the stream of records) came from."""

    rows: dict[int, tuple[int, int, str]] = field(default_factory=dict)
    """record line → (row number, output index or -1 for an unreadable row, event type)"""
    problems: dict[int, list[tuple[str | None, str, str]]] = field(default_factory=dict)
    problem_rows: dict[int, list[int]] = field(default_factory=dict)
    """record line → the row number of each of its problems (a group's records)"""
    groups: dict[int, tuple[int, ...]] = field(default_factory=dict)
    """record line → the row numbers of its group (``group_by``; a group of several rows)"""
    cells: dict[int, str] = field(default_factory=dict)
    sample: dict[int, dict[str, Any]] = field(default_factory=dict)
    rows_read: int = 0


def rep_tables(store: EventStore, names: set[str]) -> dict[str, dict[str, Scalar]]:
    """The built-in lookup tables a mapping uses (``reps.email``, ``reps.name``), from the
    reps the store knows (a later hire of the same name or e-mail wins)."""
    tables: dict[str, dict[str, Scalar]] = {name: {} for name in names}
    if not names:
        return tables
    for recorded in store.read(0, types=("RepHired",)):
        event = recorded.event
        if "reps.name" in tables:
            tables["reps.name"][event.name] = event.rep_id
        if "reps.email" in tables and getattr(event, "email", None):
            tables["reps.email"][event.email] = event.rep_id
    return tables


def _counted(rows: Iterable[SourceRow], trace: _Trace, max_rows: int | None) -> Iterator[SourceRow]:
    """The rows, counted; TooManyRows past ``max_rows`` data rows."""
    trace.rows_read = 0
    for row in rows:
        trace.rows_read += 1
        if max_rows is not None and trace.rows_read > max_rows:
            raise TooManyRows(
                f"more than {max_rows:,} data rows (row {row.number} is past the limit): "
                "nothing was stored; split the file, or raise INCENTIVE_IMPORT_MAX_ROWS"
            )
        yield row


def _grouped(mapping: Mapping, rows: Iterable[SourceRow]) -> Iterator[list[SourceRow]]:
    """The rows in groups: by ``group_by`` (a group's rows wherever they are in the file,
    groups in the order of their first row; the file is held in memory, bounded by the row
    cap), else one row each.  An unreadable row, or one without a group key, is alone."""
    if mapping.group_by is None:
        yield from ([row] for row in rows)
        return
    groups: dict[tuple[str, ...], list[SourceRow]] = {}
    alone: list[list[SourceRow]] = []
    order: list[tuple[str, ...] | int] = []
    for row in rows:
        key = None if row.error is not None else group_key(mapping, row.cells)
        if key is None:
            order.append(len(alone))
            alone.append([row])
        elif key in groups:
            groups[key].append(row)
        else:
            order.append(key)
            groups[key] = [row]
    for key in order:
        yield alone[key] if isinstance(key, int) else groups[key]


def _records(
    mapping: Mapping,
    rows: Iterable[SourceRow],
    source: str,
    trace: _Trace,
    tables: dict[str, dict[str, Scalar]] | None = None,
    max_rows: int | None = None,
) -> Iterator[RawRecord]:
    """The records of the rows (each error a record with its reason), traced to their rows;
    TooManyRows past ``max_rows`` data rows."""
    outputs = mapping.outputs()
    line = 0
    for group in _grouped(mapping, _counted(rows, trace, max_rows)):
        row = group[0]
        numbers = tuple(r.number for r in group)
        cells = row.cells if len(group) == 1 else [r.cells for r in group]
        original = orjson.dumps(cells, default=str).decode()
        if row.error is not None:
            line += 1
            trace.rows[line] = (row.number, -1, "")
            yield RawRecord(source, line, None, original, row.error, "(row)")
            continue
        if mapping.group_by is None:
            made_all = convert_row(mapping, row.cells, outputs, tables)
        else:
            if len(group) == 1 and group_key(mapping, row.cells) is None:
                line += 1
                trace.rows[line] = (row.number, -1, "")
                columns = ", ".join(mapping.group_by)
                reason = f"empty in the column(s) the rows are grouped by ({columns})"
                yield RawRecord(source, line, None, original, reason, "(row)", row.number)
                continue
            made_all = convert_group(mapping, [r.cells for r in group], outputs, tables, numbers)
        for made in made_all:
            line += 1
            trace.rows[line] = (row.number, made.output, made.type)
            if len(group) > 1:
                trace.groups[line] = numbers
            if made.record is None:
                trace.problems[line] = made.problems
                trace.problem_rows[line] = [numbers[i] for i in made.problem_rows]
                _, name, reason = made.problems[0]
                yield RawRecord(source, line, None, original, reason, name, row.number)
                continue
            try:
                check_structure(made.record)
            except LimitError as exc:
                yield RawRecord(source, line, None, original, exc.reason, exc.field, row.number)
                continue
            if len(trace.sample) < SAMPLE_SIZE * 4:
                trace.sample[line] = made.record
            yield RawRecord(source, line, made.record, original, group=row.number)


def _translate(
    errors: Iterable[RecordError], trace: _Trace, outputs: tuple[Output, ...]
) -> list[MappedError]:
    """Errors of records as errors of rows and columns (a group's: the row of the list item
    at fault, else its first row, naming the others)."""
    found = []
    for err in errors:
        row, index, kind = trace.rows.get(err.line, (err.line, -1, ""))
        problems = trace.problems.get(err.line)
        if problems is not None:
            at = trace.problem_rows.get(err.line) or [row] * len(problems)
            for (column, name, reason), where in zip(problems, at, strict=True):
                found.append(
                    MappedError(err.source, where, None, name, reason, column=column,
                                event_type=kind)
                )  # fmt: skip
            continue
        column = outputs[index].column_of(err.field) if index >= 0 else None
        reason = err.reason
        if index >= 0 and column is None and reason.startswith("Field required"):
            reason += " (no column gives it: add it to the mapping's fields)"
        elif column is not None and reason.startswith("Field required"):
            reason = "empty, but the event needs it"
        group = trace.groups.get(err.line)
        if group is not None:
            item = outputs[index].item_of(err.field) if index >= 0 else None
            if item is not None and item < len(group):
                row = group[item]
            else:
                reason += f" (the group of rows {', '.join(map(str, group))})"
        found.append(
            MappedError(
                err.source, row, err.event_id, err.field, reason,
                unresolved=err.unresolved, forbidden=err.forbidden,
                column=column, event_type=kind,
            )
        )  # fmt: skip
    return found


class _RowLetters:
    """Dead letters of an import: each refused record with its row, columns and cells."""

    def __init__(self, inner: DeadLetters, trace: _Trace, outputs: tuple[Output, ...]) -> None:
        self.inner, self.trace, self.outputs = inner, trace, outputs

    def write(self, record: RawRecord, errors: Iterable[RecordError]) -> None:
        """Append one refused record."""
        mapped = _translate(errors, self.trace, self.outputs)
        row = mapped[0].line if mapped else record.line
        self.inner.write_entry(
            {
                "source": record.source,
                "row": row,
                "event_type": mapped[0].event_type if mapped else None,
                "errors": [
                    {"column": e.column, "field": e.field, "reason": e.reason} for e in mapped
                ],
                "record": record.data,
                "cells": orjson.loads(record.original) if record.original else None,
            }
        )


# ------------------------------------------------------------------------ the use case


@dataclass
class ImportReport:
    """What importing one file did (or, in a dry run, would do)."""

    report: SourceReport
    mapping: str
    dry_run: bool
    rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    """Valid records per event type: stored (or duplicates), or in a dry run, to be stored."""
    sample: list[dict[str, Any]] = field(default_factory=list)
    """The first valid records, as events (with the row each came from)."""

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        body = self.report.as_dict()
        body["errors"] = [e.as_dict() for e in self.report.errors]
        return {
            **body,
            "mapping": self.mapping,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "counts": dict(sorted(self.counts.items())),
            "sample": self.sample,
        }


def import_source(
    service: IngestService,
    name: str,
    opener: Callable[[], IO[bytes]],
    mapping: Mapping,
    *,
    sheet: str | None = None,
    dry_run: bool = False,
    dead_letters: DeadLetters | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import one file (``opener`` gives its bytes afresh for each pass) through a mapping."""
    kind = format_of(name, mapping)
    if kind == "csv" and sheet is not None:
        raise SourceError("--sheet applies to XLSX workbooks only")
    trace = _Trace()
    outputs = mapping.outputs()
    tables = rep_tables(service.store, mapping.tables())
    max_rows = service.store.settings.import_max_rows

    def records() -> Iterator[RawRecord]:
        handle = opener()
        try:
            rows = (
                xlsx_rows(handle, mapping, sheet) if kind == "xlsx" else csv_rows(handle, mapping)
            )
            yield from _records(mapping, rows, name, trace, tables, max_rows)
        finally:
            handle.close()

    if dry_run:
        report = service.check(name, records)
    else:
        letters = _RowLetters(dead_letters, trace, outputs) if dead_letters is not None else None
        report = service.ingest(name, records, dead_letters=letters, progress=progress)  # type: ignore[arg-type]
    refused = {e.line for e in report.errors}
    counts = Counter(
        kind for line, (_, index, kind) in trace.rows.items() if index >= 0 and line not in refused
    )
    sample = [
        {"row": trace.rows[line][0], **record}
        for line, record in trace.sample.items()
        if line not in refused
    ][:SAMPLE_SIZE]
    report.errors = list(_translate(report.errors, trace, outputs))
    label = mapping.name or "(mapping)"
    return ImportReport(report, label, dry_run, trace.rows_read, dict(counts), _jsonable(sample))


def _jsonable(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=str))


def import_file(
    service: IngestService,
    path: Path,
    mapping: Mapping,
    *,
    sheet: str | None = None,
    dry_run: bool = False,
    dead_letters: DeadLetters | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a CSV or XLSX file through a mapping."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return import_source(
        service, str(path), lambda: path.open("rb"), mapping,
        sheet=sheet, dry_run=dry_run, dead_letters=dead_letters, progress=progress,
    )  # fmt: skip


def import_bytes(
    service: IngestService,
    name: str,
    data: bytes,
    mapping: Mapping,
    *,
    sheet: str | None = None,
    dry_run: bool = False,
    dead_letters: DeadLetters | None = None,
) -> ImportReport:
    """Import an uploaded CSV or XLSX file (its bytes) through a mapping."""
    return import_source(
        service, name, lambda: io.BytesIO(data), mapping,
        sheet=sheet, dry_run=dry_run, dead_letters=dead_letters,
    )  # fmt: skip


class _Discard:
    """A dead-letter sink that keeps nothing (the refused rows are in the report)."""

    def write_entry(self, entry: dict[str, Any]) -> None:
        """Drop the entry."""


def choose_mapping(name: str | None, uploaded: tuple[str, bytes] | None) -> Mapping:
    """The mapping of an upload (HTTP, web): an uploaded mapping document (file name, bytes)
    wins over a shipped mapping's name; never a path on the server.  MappingError when the
    document is invalid, SourceError when there is no such shipped mapping or none given."""
    if uploaded is not None:
        return load_mapping(uploaded[1].decode("utf-8", errors="replace"), uploaded[0])
    if not name:
        raise SourceError("name a mapping or upload a mapping file")
    return resolve_mapping(name, allow_path=False)


def import_upload(
    store: EventStore,
    name: str,
    data: bytes,
    mapping: Mapping,
    *,
    scope: WriteScope,
    writer: str,
    sheet: str | None = None,
    dry_run: bool = False,
    partial: bool = False,
) -> ImportReport:
    """Import an uploaded file for a person or a machine at a door (``POST /v1/imports``,
    the web's import page) within the writer's scope: all or nothing, or (``partial``) the
    valid rows stored and the refused ones reported."""
    service = IngestService(store, scope=scope, writer=writer)
    letters: Any = _Discard() if partial else None
    return import_bytes(
        service, name, data, mapping, sheet=sheet, dry_run=dry_run, dead_letters=letters
    )
