"""Ingest: read CRM exports (JSONL, CSV) or in-memory records, validate, and append to the store.

A first pass validates every record (schema, references, conflicts with what is stored)
without writing, keeping each accepted record's canonical content and hash in a spool (in
memory, spilling to a temporary file for a large source); a second pass appends the spooled
rows in batches, each batch one transaction, without reading, validating or hashing anything
again.  By default a source with any invalid record writes nothing; with dead-lettering, the
valid records are stored and each invalid one is written with its reasons to a dead-letter
file (the source is read once more for those).

Cheap where it can be (issue 18): JSON is read by orjson unless it needs the strict reader
(a fraction, a ``\\u`` escape, a key given twice), the store is asked once per batch which
ids it holds, and a record that is, as given, the canonical content of a stored event is a
duplicate without being validated again (that content was validated when it was stored).

Backfilled history: a record may carry ``source_recorded_at``, the instant its source system
(the CRM the history comes from) learned the fact, or the whole source gets one
(``known_since``; a record's own time wins).  It is taken out of the record before the event
is validated and stored beside the engine's ``recorded_at`` (``store.event_store``: recording
metadata, outside the event's hash).  A source time later than the ingest instant is refused,
and so is a backfilled event whose effective day falls in a closed period unless the writer
allows it (then it is paid as a prior-period adjustment, like any late event).
"""

from __future__ import annotations

import csv
import hashlib
import marshal
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import TypeAdapter, ValidationError

from incentive_engine.domain import limits
from incentive_engine.domain.events import (
    EVENT_ADAPTER,
    EVENT_CLASSES,
    Event,
    EventVoidProposed,
    PeriodClosed,
    UtcDateTime,
    event_hash,
)
from incentive_engine.domain.periods import Period
from incentive_engine.domain.references import DEFINING_TYPES, References
from incentive_engine.domain.scopes import WriteScope
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import AppendReport, EventStore, Row, format_instant

# ------------------------------------------------------------------ records

_LEARNS = frozenset(DEFINING_TYPES)
"""The event types ``References.learn`` learns from (the others introduce nothing)."""

MAX_RECORD_BYTES = Settings.model_fields["max_record_bytes"].default
"""The default longest record (a line of a file)."""


def door_limits(settings: Settings) -> dict[str, Any]:
    """The validation context of a door on these settings: the configured date window."""
    return limits.door_context(limits.DateWindow(settings.date_earliest, settings.date_latest))


@dataclass(frozen=True, slots=True)
class RecordError:
    """Why one record was refused: where it came from, which field, and the reason."""

    source: str
    line: int
    event_id: str | None
    field: str
    reason: str
    unresolved: bool = False
    """A reference to something not (yet) known: the only kind of error that more events
    arriving later can cure (a stream waits a while for it; a file cannot)."""
    forbidden: bool = False
    """The writer may not write this event type (outside its write scope)."""

    def __str__(self) -> str:
        who = f" event {self.event_id}" if self.event_id else ""
        return f"{self.source}:{self.line}:{who} field '{self.field}': {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        """The error as a JSON-ready dict."""
        return {
            "source": self.source,
            "line": self.line,
            "event_id": self.event_id,
            "field": self.field,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as read from a source, before validation (or the reason it is unreadable)."""

    source: str
    line: int
    data: dict[str, Any] | None
    original: str
    error: str | None = None
    error_field: str = "(record)"
    """The field an unreadable record's error is about (a duplicate key, a deep nest)."""
    group: int | None = None
    """Records of one group (the events of one source row) are stored all or none: with
    dead-lettering, one refused record refuses its whole group."""

    @property
    def event_id(self) -> str | None:
        """The record's event_id, if it has a usable one."""
        value = (self.data or {}).get("event_id")
        return value if isinstance(value, str) else None


def _loads(text: str) -> Any:
    """Strict JSON (``limits.loads``): numbers as exact Decimals, no duplicate key, bounded
    nesting, numbers and strings; compact JSON that needs none of its checks is read by
    orjson (``_fast_loads``), to the same value."""
    found = _fast_loads(text)
    return limits.loads(text) if found is None else found


def _fast_loads(text: str) -> dict[str, Any] | None:
    """An object read by orjson when the strict reader would read the same value: no key
    given twice (a key dropped by orjson would leave the text with more colons than orjson's
    own writing of what it read: one per key, and those inside strings), no fraction (orjson
    reads a float; the strict reader an exact Decimal), no ``\\u`` escape and nothing long
    or deep enough for the strict reader's walk; else None (the strict reader then reads it,
    and names any problem)."""
    if len(text) > limits.MAX_STRING or "\\u" in text:
        return None
    if text.count("[") + text.count("{") > limits.MAX_DEPTH:
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or not _exact(data):
        return None
    if orjson.dumps(data).count(b":") != text.count(":"):
        return None  # a key given twice
    return data


def _exact(value: dict[str, Any] | list[Any]) -> bool:
    """Whether a value read by orjson holds no float (nested values included)."""
    items = value.values() if type(value) is dict else value
    kinds = set(map(type, items))
    if kinds <= _SCALARS:
        return True
    if float in kinds:
        return False
    return all(_exact(item) for item in items if type(item) is dict or type(item) is list)


_SCALARS = frozenset((str, int, bool, type(None)))


class _Unreadable:
    """A line that is not a record: longer than the limit (skipped without being read into
    memory), or not UTF-8 text."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _bounded_lines(handle: IO[bytes], limit: int) -> Iterator[str | _Unreadable]:
    """The lines of a binary file as text, each read at most ``limit`` bytes at a time: a
    longer line is skipped in chunks, and it or a line that is not UTF-8 stands as an
    _Unreadable."""
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:
                rest = handle.readline(1 << 16)
                if not rest or rest.endswith(b"\n"):
                    break
            yield _Unreadable(f"the line is longer than {limit} bytes")
            continue
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            yield _Unreadable("the line is not UTF-8 text")


def read_jsonl(path: Path, max_bytes: int = MAX_RECORD_BYTES) -> Iterator[RawRecord]:
    """Records of a JSON Lines file, one object per non-blank line of at most ``max_bytes``."""
    with path.open("rb") as handle:
        yield from parse_jsonl(_bounded_lines(handle, max_bytes), str(path))


def parse_jsonl(lines: Iterable[str | _Unreadable], source: str) -> Iterator[RawRecord]:
    """Records of JSON Lines text, one object per non-blank line."""
    for number, line in enumerate(lines, start=1):
        if isinstance(line, _Unreadable):
            yield RawRecord(source, number, None, "", line.reason)
            continue
        text = line.strip()
        if not text:
            continue
        try:
            data = _loads(text)
        except limits.LimitError as exc:
            yield RawRecord(source, number, None, text[:1000], exc.reason, exc.field)
            continue
        if not isinstance(data, dict):
            yield RawRecord(source, number, None, text[:1000], "a record must be a JSON object")
            continue
        yield RawRecord(source, number, data, text)


def read_csv(path: Path, max_bytes: int = MAX_RECORD_BYTES) -> Iterator[RawRecord]:
    """Records of a CSV file with a header row (see ``parse_csv`` for the column rules); a
    line longer than ``max_bytes`` is refused and ends the file."""
    with path.open("rb") as handle:
        lines = _bounded_lines(handle, max_bytes)
        first = True
        texts: list[str] = []

        def text_lines() -> Iterator[str]:
            nonlocal first
            for number, line in enumerate(lines, start=1):
                if isinstance(line, _Unreadable):
                    texts.append(f"line {number}: {line.reason}")
                    return
                if first:
                    line, first = line.removeprefix("\ufeff"), False
                yield line

        yield from parse_csv(text_lines(), str(path))
        if texts:
            yield RawRecord(str(path), 0, None, "", texts[0] + "; the rest is not read")


def parse_csv(handle: IO[str] | Iterable[str], source: str) -> Iterator[RawRecord]:
    """Records of CSV text.  Empty cells are absent fields; a dotted header such as
    ``customer.region`` fills a nested field; a cell holding a JSON array or object
    (``[{"rep_id": "an", "share": 60}, ...]``) is read as JSON."""
    reader = csv.reader(handle)
    rows = _csv_rows(reader)
    header = next(rows, None)
    if header is None:
        return
    if isinstance(header, csv.Error):
        yield RawRecord(source, reader.line_num, None, "", f"not valid CSV: {header}")
        return
    header = [h.strip() for h in header]
    for row in rows:
        if isinstance(row, csv.Error):
            yield RawRecord(source, reader.line_num, None, "", f"not valid CSV: {row}")
            return
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        original = ",".join(row)
        if len(row) != len(header):
            yield RawRecord(
                source, number, None, original,
                f"has {len(row)} cells but the header has {len(header)} columns",
            )  # fmt: skip
            continue
        data: dict[str, Any] = {}
        try:
            for name, cell in zip(header, row, strict=True):
                value = cell.strip()
                if value == "":
                    continue
                parsed: Any = _loads(value) if value[0] in "[{" else value
                _put(data, name.split("."), parsed)
            limits.check_structure(data)
        except limits.LimitError as exc:
            yield RawRecord(source, number, None, original[:1000], exc.reason, exc.field)
            continue
        except ValueError as exc:
            yield RawRecord(source, number, None, original, f"cell is not valid JSON: {exc}")
            continue
        yield RawRecord(source, number, data, original)


def _csv_rows(reader: Any) -> Iterator[list[str] | csv.Error]:
    """The rows of a CSV reader; a malformed row (a field beyond csv's size limit, a bad
    quote) ends them as the error itself."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield exc
            return
        yield row


def _put(target: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        nested = target.setdefault(key, {})
        if not isinstance(nested, dict):
            raise ValueError(f"column {'.'.join(path)} conflicts with column {key}")
        target = nested
    target[path[-1]] = value


def read_file(path: Path, max_bytes: int = MAX_RECORD_BYTES) -> Iterator[RawRecord]:
    """Records of a ``.jsonl``/``.ndjson``/``.json`` or ``.csv`` file, each line of at most
    ``max_bytes``."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return read_jsonl(path, max_bytes)
    if suffix == ".csv":
        return read_csv(path, max_bytes)
    raise ValueError(f"{path}: unsupported file type {suffix!r}; use .jsonl or .csv")


# ---------------------------------------------------------------- validation


def validate_record(
    record: RawRecord, context: dict[str, Any] | None = None
) -> Event | list[RecordError]:
    """The record as an event, or the list of its errors (field and reason each); ``context``
    carries the door's date window (``limits.door_context``)."""
    if record.data is None:
        return [
            RecordError(record.source, record.line, None, record.error_field, record.error or "")
        ]
    try:
        return EVENT_ADAPTER.validate_python(record.data, context=context)
    except ValidationError as exc:
        return _errors(record, exc)


SOURCE_TIME = "source_recorded_at"
"""The record field of backfilled history: when the source system learned the fact."""

_INSTANT: TypeAdapter[datetime] = TypeAdapter(UtcDateTime)


def split_source_time(
    record: RawRecord,
    now: datetime,
    known_since: datetime | None = None,
    context: dict[str, Any] | None = None,
) -> tuple[RawRecord, datetime | None, list[RecordError]]:
    """The record without its ``source_recorded_at``, the source time (the record's own, else
    ``known_since``, else None) and its errors: not an instant (read as UTC without a time
    zone), outside the date window, or later than ``now`` (the ingest instant)."""
    data = record.data
    if data is None or SOURCE_TIME not in data:
        return record, (known_since if data is not None else None), []
    given = data[SOURCE_TIME]
    rest = {k: v for k, v in data.items() if k != SOURCE_TIME}
    record = RawRecord(
        record.source, record.line, rest, record.original, record.error, record.error_field
    )

    def refused(reason: str) -> tuple[RawRecord, None, list[RecordError]]:
        error = RecordError(record.source, record.line, record.event_id, SOURCE_TIME, reason)
        return record, None, [error]

    if not isinstance(given, str):
        return refused(f"must be an ISO 8601 date-time text (got {given!r:.80})")
    try:
        when = _INSTANT.validate_python(given, context=context)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        return refused(f"{limits.explain(err)} (got {given!r:.80})")
    if when > now:
        return refused(
            f"{format_instant(when)} is in the future (the ingest instant is "
            f"{format_instant(now)}): a source cannot have learned a fact later than it is sent"
        )
    return record, when, []


def _errors(record: RawRecord, exc: ValidationError) -> list[RecordError]:
    errors = []
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        if loc and loc[0] in EVENT_CLASSES:
            loc = loc[1:]  # the union's tag, not a field
        name = ".".join(str(part) for part in loc) or (
            "type" if err["type"].startswith("union_tag") else "(record)"
        )
        reason = limits.explain(err)
        if err["type"] == "union_tag_invalid":
            reason = f"unknown event type {record.data.get('type')!r}" if record.data else reason
            reason += "; known types: " + ", ".join(sorted(EVENT_CLASSES))
        elif err["type"] == "union_tag_not_found":
            reason = "missing: every record needs a 'type'"
        elif "input" in err and err["type"] not in ("missing", "extra_forbidden"):
            shown = repr(err["input"])
            reason += f" (got {shown if len(shown) <= 80 else shown[:77] + '...'})"
        if err["type"] == "extra_forbidden":
            reason = "unknown field"
        if err["type"] == "plan_document":
            # The plan document's own problems, each at its path (as ``plan validate`` says).
            ctx = err.get("ctx") or {}
            prefix = "" if ctx.get("event_fields") else "document."
            for path, why in ctx.get("problems", []):
                field_name = prefix + (path if path != "(document)" else "").rstrip(".")
                errors.append(
                    RecordError(
                        record.source, record.line, record.event_id,
                        field_name or "document", why,
                    )
                )  # fmt: skip
            continue
        errors.append(RecordError(record.source, record.line, record.event_id, name, reason))
    return errors


def scope_errors(
    records: Iterable[RawRecord], scope: WriteScope, who: str = "this writer"
) -> list[RecordError]:
    """The records whose event type is outside the writer's scope, each refused naming the
    type and what the writer may write (records without a known type are left to
    validation, which names the known types)."""
    found = []
    for record in records:
        kind = (record.data or {}).get("type")
        if isinstance(kind, str) and kind in EVENT_CLASSES and not scope.allows(kind):
            found.append(
                RecordError(
                    record.source, record.line, record.event_id, "type",
                    scope.refusal(kind, who), forbidden=True,
                )
            )  # fmt: skip
    return found


# -------------------------------------------------------------------- service


@dataclass
class SourceReport:
    """What ingesting one source did."""

    source: str
    records: int = 0
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    errors: list[RecordError] = field(default_factory=list)
    dead_lettered: int = 0
    written: bool = False
    stored_ids: list[str] = field(default_factory=list)
    duplicate_ids: list[str] = field(default_factory=list)

    @property
    def invalid(self) -> int:
        """Number of distinct records refused."""
        return len({(e.source, e.line) for e in self.errors})

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "source": self.source,
            "records": self.records,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "invalid": self.invalid,
            "dead_lettered": self.dead_lettered,
            "written": self.written,
            "errors": [e.as_dict() for e in self.errors],
        }


Progress = Callable[[int], None]
"""Called with the number of records just handled."""


class DeadLetters:
    """A JSONL file receiving each refused record with its reasons."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[bytes] | None = None

    def write(self, record: RawRecord, errors: Sequence[RecordError]) -> None:
        """Append one refused record."""
        entry = {
            "source": record.source,
            "line": record.line,
            "errors": [{"field": e.field, "reason": e.reason} for e in errors],
            "record": record.data if record.data is not None else record.original,
        }
        self.write_entry(entry)

    def write_entry(self, entry: dict[str, Any]) -> None:
        """Append one entry as a JSON line (an import writes its rows and columns)."""
        if self._handle is None:
            self._handle = self.path.open("ab")
        self._handle.write(orjson.dumps(entry, default=str) + b"\n")

    def close(self) -> None:
        """Flush and close the file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


SpooledRow = tuple[str, str, bytes, str, datetime | None]
"""A ``Row`` as the spool keeps it (a plain tuple)."""


def _to_file(entry: tuple[tuple[str, int], SpooledRow | str]) -> tuple[Any, ...]:
    """A spooled entry in plain values ``marshal`` writes (its source time as ISO text)."""
    key, row = entry
    if isinstance(row, tuple) and row[4] is not None:
        return key, (*row[:4], row[4].isoformat())
    return key, row


def _from_file(entry: tuple[Any, ...]) -> tuple[tuple[str, int], SpooledRow | str]:
    """The spooled entry ``_to_file`` wrote."""
    key, row = entry
    if isinstance(row, tuple) and row[4] is not None:
        return key, (*row[:4], datetime.fromisoformat(row[4]))
    return key, row


class _Spool:
    """The rows a first pass accepted, in order, for the second pass to store: in memory up
    to ``limit`` rows, the rest written with ``marshal`` (plain values only: reading it back
    runs no code) to an anonymous temporary file in chunks (a file of millions of records is
    never held whole)."""

    def __init__(self, limit: int = 20_000, chunk: int = 5_000) -> None:
        self.limit = limit
        self.chunk = chunk
        self.held: list[tuple[tuple[str, int], SpooledRow | str]] = []
        self.file: IO[bytes] | None = None
        self.chunks = 0

    def add(self, key: tuple[str, int], row: SpooledRow | str) -> None:
        """Keep one accepted record: its (source, line), the row to store (``Row``'s fields)
        or, when the store already holds the same content (a duplicate), its event id."""
        self.held.append((key, row))
        if len(self.held) >= self.limit or (self.file is not None and len(self.held) >= self.chunk):
            self._spill()

    def _spill(self) -> None:
        if self.file is None:
            self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        marshal.dump([_to_file(entry) for entry in self.held], self.file)
        self.chunks += 1
        self.held = []

    def __iter__(self) -> Iterator[tuple[tuple[str, int], SpooledRow | str]]:
        if self.file is not None:
            self.file.seek(0)
            for _ in range(self.chunks):
                yield from map(_from_file, marshal.load(self.file))
        yield from self.held

    def clear(self) -> None:
        """Forget every row (a check is run again)."""
        self.close()
        self.held, self.chunks = [], 0

    def close(self) -> None:
        """Remove the temporary file."""
        if self.file is not None:
            self.file.close()
            self.file = None


class IngestService:
    """Validates records and appends them to the store: the one ingest path of every door."""

    def __init__(
        self,
        store: EventStore,
        *,
        scope: WriteScope,
        writer: str = "this writer",
        batch_size: int | None = None,
        known_since: datetime | None = None,
        allow_closed_period: bool = False,
        allow_hint: str = "--allow-closed-period",
    ) -> None:
        self.store = store
        self.known_since = known_since
        """The source time of every record without its own ``source_recorded_at``."""
        self.allow_closed_period = allow_closed_period
        """Whether backfilled events may fall in a closed period (paid as adjustments)."""
        self.allow_hint = allow_hint
        """How the writer's door allows a closed period, for the refusal's words."""
        self.scope = scope
        """The event types this writer may append (``domain.scopes``): every record of
        another type is refused, naming the type and the scope."""
        self.writer = writer
        self.batch_size = batch_size or store.settings.batch_size
        self.context = door_limits(store.settings)
        """Validation context: the configured date window."""
        self._refs: References | None = None
        self._refs_position = 0

    def references(self) -> References:
        """Identifiers known to the store, kept current from the log."""
        if self._refs is None:
            self._refs = References()
        for recorded in self.store.read(self._refs_position, types=DEFINING_TYPES):
            self._refs.learn(recorded.event)
            self._refs_position = max(self._refs_position, recorded.position)
        return self._refs

    def ingest(
        self,
        source: str,
        records: Callable[[], Iterable[RawRecord]],
        *,
        dead_letters: DeadLetters | None = None,
        progress: Progress | None = None,
        recorded_at: datetime | None = None,
    ) -> SourceReport:
        """Validate then store one source; ``records`` is called once per pass.  The ingest
        instant (``recorded_at``, else the store's clock, read once) bounds source times."""
        report = SourceReport(source)
        now = recorded_at if recorded_at is not None else self.store.clock()
        known_since = self.known_since
        if known_since is not None and known_since > now:
            report.errors = [
                RecordError(
                    source, 0, None, "known_since",
                    f"known since {format_instant(known_since)} is in the future (the ingest "
                    f"instant is {format_instant(now)})",
                )
            ]  # fmt: skip
            return report
        first = records()
        # The first pass validates every record and keeps each accepted one's row (content,
        # hash) in a spool, so the second stores them without reading, validating or hashing
        # them again; a file's rows spill to a temporary file so that memory stays bounded.
        spool = _Spool()
        try:
            bad = self._check(first, report, now, spool)
            if dead_letters is not None and report.errors:
                bad = self._whole_groups(
                    records, first if isinstance(first, list | tuple) else None,
                    report, now, bad, spool,
                )  # fmt: skip
            if report.errors and (dead_letters is None or any(e.forbidden for e in report.errors)):
                # Out-of-scope records refuse the whole source, even with dead-lettering: a
                # writer that sends what it may not write is misconfigured or hostile.
                return report
            if dead_letters is not None and bad:
                again = first if isinstance(first, list | tuple) else records()
                for record in again:
                    errors = bad.get((record.source, record.line))
                    if errors is not None:
                        dead_letters.write(record, errors)
                        report.dead_lettered += 1
            self._store(spool, bad, report, progress, recorded_at)
        finally:
            spool.close()
        report.written = True
        return report

    def _store(
        self,
        spool: _Spool,
        bad: dict[tuple[str, int], list[RecordError]],
        report: SourceReport,
        progress: Progress | None,
        recorded_at: datetime | None,
    ) -> None:
        """Second pass: append the spooled rows of the records not refused, in batches (one
        transaction each); a row the first pass found already stored with the same content
        is a duplicate without asking the store again (nothing stored is ever changed)."""
        batch: list[Row] = []
        handled = 0
        for key, row in spool:
            if key in bad:
                continue
            handled += 1
            if isinstance(row, str):
                report.duplicates += 1
                report.duplicate_ids.append(row)
            else:
                batch.append(Row(*row))
            if handled >= self.batch_size:
                self._append(batch, report, progress, handled, recorded_at)
                batch, handled = [], 0
        if handled:
            self._append(batch, report, progress, handled, recorded_at)

    def check(self, source: str, records: Callable[[], Iterable[RawRecord]]) -> SourceReport:
        """Validate one source exactly as ``ingest`` would, storing nothing (a dry run)."""
        report = SourceReport(source)
        self._check(records(), report, self.store.clock())
        return report

    def _whole_groups(
        self,
        records: Callable[[], Iterable[RawRecord]],
        first: Iterable[RawRecord] | None,
        report: SourceReport,
        now: datetime,
        bad: dict[tuple[str, int], list[RecordError]],
        spool: _Spool,
    ) -> dict[tuple[str, int], list[RecordError]]:
        """Refuse every record of a group with a refused record, checking again without the
        refused groups (whose valid records then vouch for nothing later) until none is left;
        the ``spool`` holds the rows of the last check."""
        spoiled: set[tuple[str, int]] = set()
        refused = dict(bad)
        while True:
            groups = self._groups(first if first is not None else records(), set(refused))
            fresh = set(groups) - spoiled
            if not fresh:
                break
            spoiled |= fresh
            report.records = 0
            spool.clear()
            again = self._check(first if first is not None else records(), report, now,
                                spool, spoiled)  # fmt: skip
            for key, errors in refused.items():  # the group's own errors stand
                again.setdefault(key, errors)
            refused = again
        for members in (groups[g] for g in spoiled):
            for record in members:
                refused.setdefault(
                    (record.source, record.line),
                    [RecordError(
                        record.source, record.line, record.event_id, "(row)",
                        "not stored: another event of the same row was refused (a row's "
                        "events are stored all together or not at all)",
                    )],
                )  # fmt: skip
        report.errors = [e for key in sorted(refused) for e in refused[key]]
        return refused

    @staticmethod
    def _groups(
        records: Iterable[RawRecord], refused: set[tuple[str, int]]
    ) -> dict[tuple[str, int], list[RawRecord]]:
        """The groups holding a refused record, with their records."""
        members: dict[tuple[str, int], list[RawRecord]] = {}
        spoiled: set[tuple[str, int]] = set()
        for record in records:
            if record.group is None:
                continue
            key = (record.source, record.group)
            members.setdefault(key, []).append(record)
            if (record.source, record.line) in refused:
                spoiled.add(key)
        return {key: members[key] for key in spoiled}

    def _append(
        self,
        batch: list[Row],
        report: SourceReport,
        progress: Progress | None,
        handled: int,
        recorded_at: datetime | None = None,
    ) -> None:
        if batch:
            outcome: AppendReport = self.store.append_rows(
                batch, source=report.source, recorded_at=recorded_at
            )
            report.stored += len(outcome.stored)
            report.duplicates += len(outcome.duplicates)
            report.stored_ids.extend(event_id for event_id, _ in outcome.stored)
            report.duplicate_ids.extend(outcome.duplicates)
            report.conflicts += len(outcome.conflicts)
        # the identifiers the batch introduced are learnt from the log by ``references``
        if progress is not None:
            progress(handled)

    def _check(
        self,
        records: Iterable[RawRecord],
        report: SourceReport,
        now: datetime,
        spool: _Spool | None = None,
        skipped: set[tuple[str, int]] | None = None,
    ) -> dict[tuple[str, int], list[RecordError]]:
        """First pass: every record's errors, keyed by (source, line); writes nothing to the
        store.  Each record that passes every check but the references (checked once the
        whole source is read) goes to the ``spool`` as the row to store.  Records of the
        ``skipped`` groups (source, group) are passed over."""
        local = self.references().copy()
        bad: dict[tuple[str, int], list[RecordError]] = {}
        deferred: list[tuple[RawRecord, Event]] = []
        offered: dict[str, tuple[str, int]] = {}
        closed: list[tuple[str, Period]] | None = None

        def refuse(record: RawRecord, errors: list[RecordError]) -> None:
            bad.setdefault((record.source, record.line), []).extend(errors)

        def offer(record: RawRecord, event_id: str, h: str) -> bool:
            """Whether the content is the first given for its id in the source (else
            refused as a conflict)."""
            first = offered.setdefault(event_id, (h, record.line))
            if first[0] != h:
                refuse(record, [_conflict(record, event_id, f"given at line {first[1]}")])
                return False
            return True

        source = iter(records)
        while chunk := list(islice(source, self.batch_size)):
            # what the store holds of the chunk's ids: one read per chunk
            stored = self.store.stored_hashes({i for r in chunk if (i := r.event_id)})
            for record in chunk:
                report.records += 1
                if (
                    skipped
                    and record.group is not None
                    and (record.source, record.group) in skipped
                ):
                    continue
                outside = scope_errors((record,), self.scope, self.writer)
                if outside:
                    refuse(record, outside)
                    continue
                record, when, problems = split_source_time(
                    record, now, self.known_since, self.context
                )
                if problems:
                    refuse(record, problems)
                    continue
                key = (record.source, record.line)
                known = stored.get(record.event_id or "")
                if known is not None and _raw_digest(record.data) == known:
                    # The record is, as given, the canonical content of a stored event: a
                    # duplicate, which stores nothing (that event was validated when stored).
                    eid = record.event_id or ""
                    if offer(record, eid, known) and spool is not None:
                        spool.add(key, eid)
                    continue
                event = validate_record(record, self.context)
                if not isinstance(event, Event):
                    refuse(record, event)
                    continue
                if (
                    isinstance(event, EventVoidProposed)
                    and event.target_event_id not in offered
                    and self.store.position_of(event.target_event_id) is None
                ):
                    missing = f"no stored event {event.target_event_id!r} to void"
                    at = (record.source, record.line, event.event_id)
                    refuse(record, [RecordError(*at, "target_event_id", missing)])
                    continue
                h = _digest(event)
                if not offer(record, event.event_id, h):
                    continue
                known = stored.get(event.event_id)
                refusal = None
                if known is not None and known != h:
                    refusal = _conflict(record, event.event_id, "already stored")
                elif (
                    when is not None
                    and known is None  # a duplicate stores nothing
                    and not self.allow_closed_period
                    and not isinstance(event, PeriodClosed)
                ):
                    if closed is None:
                        closed = self.closed_periods()
                    refusal = self._closed_refusal(record, event, closed)
                if refusal is not None:
                    refuse(record, [refusal])
                elif spool is not None:
                    if known is not None:  # a duplicate: stores nothing
                        spool.add(key, event.event_id)
                    else:
                        row = (event.event_id, event.type, event.canonical, h, when)  # type: ignore[attr-defined]
                        spool.add(key, row)
                if local.problems(event):
                    deferred.append((record, event))  # may be resolved later in the source
                if event.type in _LEARNS:  # type: ignore[attr-defined]
                    local.learn(event)  # (the other types introduce nothing)
        for record, event in deferred:
            problems = local.problems(event)
            if problems:
                refuse(
                    record,
                    [
                        RecordError(record.source, record.line, event.event_id, f, r, True)
                        for f, r in problems
                    ],
                )
        report.errors = [e for key in sorted(bad) for e in bad[key]]
        return bad

    def closed_periods(self) -> list[tuple[str, Period]]:
        """The periods closed in the store (not voided), by name."""
        voided = self.store.voids()
        found = []
        for recorded in self.store.read(types=("PeriodClosed",)):
            event = recorded.event
            if isinstance(event, PeriodClosed) and event.event_id not in voided:
                try:
                    found.append((event.period, Period.parse(event.period)))
                except ValueError:  # pragma: no cover - names are validated at ingest
                    continue
        return found

    def _closed_refusal(
        self, record: RawRecord, event: Event, closed: list[tuple[str, Period]]
    ) -> RecordError | None:
        """The refusal of a backfilled event whose effective day is in a closed period."""
        day = event.effective_day
        for name, period in closed:
            if day in period:
                return RecordError(
                    record.source, record.line, event.event_id, SOURCE_TIME,
                    f"backfill into the closed period {name}: the event's effective day "
                    f"{day.isoformat()} falls in it; allow it with {self.allow_hint} to pay "
                    "the difference as a prior-period adjustment",
                )  # fmt: skip
        return None


def _conflict(record: RawRecord, event_id: str, where: str) -> RecordError:
    return RecordError(
        record.source, record.line, event_id, "event_id",
        f"conflict: event {event_id} was {where} with different content",
    )  # fmt: skip


_CANONICAL = getattr(Event.__dict__.get("canonical"), "func", None)
_DIGEST = getattr(Event.__dict__.get("digest"), "func", None)


def _digest(event: Event) -> str:
    """``event_hash(event)``, computing and caching ``canonical`` and ``digest`` without
    ``functools.cached_property``'s per-call lock (Python 3.11): a fifth of the hashing."""
    if _CANONICAL is None or _DIGEST is None:  # not cached properties (any more)
        return event_hash(event)
    cached = event.__dict__
    if "canonical" not in cached:
        cached["canonical"] = _CANONICAL(event)
    if "digest" not in cached:
        cached["digest"] = _DIGEST(event)
    digest: str = cached["digest"]
    return digest


def _raw_digest(data: dict[str, Any] | None) -> str | None:
    """The content hash the record would have if, as given, it were an event's canonical
    content (``Event.digest``), or None when it holds what canonical content never does
    (a Decimal of the strict reader)."""
    try:
        canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def ingest_paths(
    service: IngestService,
    paths: Sequence[Path],
    *,
    dead_letter: Path | None = None,
    progress: Progress | None = None,
) -> list[SourceReport]:
    """Ingest files one by one (each all-or-nothing unless dead-lettering)."""
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        read_file(path)  # fail early on an unsupported type
    limit = service.store.settings.max_record_bytes
    letters = DeadLetters(dead_letter) if dead_letter is not None else None
    try:
        return [
            service.ingest(
                str(path),
                lambda p=path: read_file(p, limit),
                dead_letters=letters,
                progress=progress,
            )
            for path in paths
        ]
    finally:
        if letters is not None:
            letters.close()
