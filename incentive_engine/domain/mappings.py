"""Column mappings: how the rows of a CRM export or a spreadsheet become event records. Pure.

A mapping is a YAML document (validated here, errors named at their path like a plan's):
the source's shape (CSV or XLSX, header row, delimiter, encoding, sheet), value maps
(``Doanh nghiệp: business``, owner names to rep ids) and a list of ``events``: for each row,
every output whose ``when`` holds yields one record of its ``type``, its ``fields`` read
from columns (parsed: decimal and thousands separators, date formats, Excel serial dates),
constants or maps, and its ``event_id`` from a column or a stable hash of named columns.

The records then go through ingest's own validation; ``Output.column_of`` names the source
column behind a field so that an error says which cell of which row to fix.

Numbers are read as exact Decimals, never floats.  Reading files belongs to
``services.imports``; this module only sees a row as a dict of cell values.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from incentive_engine.domain.errors import Invalid
from incentive_engine.domain.events import EVENT_CLASSES
from incentive_engine.domain.limits import LimitError, check_structure, explain

__all__ = [
    "Formula",
    "Mapping",
    "MappingError",
    "Output",
    "Produced",
    "Row",
    "convert_group",
    "convert_row",
    "excel_serial",
    "group_key",
    "load_mapping",
    "mapping_from_data",
    "parse_date",
    "parse_number",
]

PASS_THROUGH_FIELDS: tuple[str, ...] = ("source_recorded_at",)
"""Record fields every output may set although no event class declares them here: the time
the source system learned the fact (see the README's two clocks), checked by ingest."""

REP_TABLES = {
    "reps.email": "a rep's e-mail (RepHired.email) → the rep id",
    "reps.name": "a rep's name (RepHired.name) → the rep id",
}
"""Lookup tables a field's ``map`` may name without defining them: the service fills them
from the reps the store knows (matched exactly, then ignoring case)."""

Scalar = str | int | Decimal | bool
Cell = str | int | Decimal | bool | date | datetime | None
"""A cell as a reader hands it over: text (CSV), or an XLSX cell's typed value (numbers as
int or Decimal, never float; dates as date or datetime), or a ``Formula``."""


@dataclass(frozen=True, slots=True)
class Formula:
    """An XLSX cell that holds a formula rather than a value (refused where a field reads it:
    the engine never evaluates a spreadsheet formula)."""

    text: str


class MappingError(Invalid, ValueError):
    """A mapping document that cannot be used, with every problem as (path, reason)."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {path}: {reason}" for path, reason in problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ------------------------------------------------------------------ the document


class Source(_Model):
    """The file's shape."""

    format: Literal["csv", "xlsx"] | None = None
    """``csv`` or ``xlsx``; by default the file's suffix decides."""
    header_row: int = Field(1, ge=1, le=1000)
    """The row holding the column names (rows above it are skipped: a report's title)."""
    delimiter: str = Field(",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    """The CSV file's text encoding (a UTF-8 byte-order mark is always skipped)."""
    sheet: str | None = None
    """The XLSX sheet to read (default: the first)."""

    @model_validator(mode="after")
    def _known_encoding(self) -> Source:
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {self.encoding!r}") from None
        return self


DATE_FORMATS_NAMED = ("iso", "excel-serial")
_TOKENS = re.compile(r"yyyy|dd|mm")


class Parse(_Model):
    """How a cell's text becomes a number or a date."""

    decimal: Literal[".", ","] | None = None
    """The decimal separator of a number (``1.234,56`` has ``,``)."""
    thousands: Literal[".", ",", " ", "'", "none"] | None = None
    """The thousands separator of a number (``390.000.000`` has ``.``); ``none``: no
    grouping allowed."""
    percent: bool = False
    """The number may end with ``%`` (``60%`` is 60)."""
    date: str | None = None
    """A date: ``dd/mm/yyyy``, ``mm/dd/yyyy``, ``yyyy-mm-dd``, ``dd.mm.yyyy`` (any of the
    tokens ``dd``, ``mm``, ``yyyy`` with separators), ``iso`` or ``excel-serial``. A time
    after the date (``20/02/2026 14:30``) is allowed and dropped. A real XLSX date cell or
    a number (an Excel serial) is read whatever the format."""
    datetime: str | None = None
    """A date and time of day: a date format as above followed by ``HH:MM[:SS]``, or
    ``iso``, or ``excel-serial`` (the fraction is the time of day)."""
    utc_offset: str = Field("+00:00", pattern=r"^(Z|[+-]\d{2}:\d{2})$")
    """The offset of a datetime given without one (``+07:00`` for Vietnam)."""

    @model_validator(mode="after")
    def _consistent(self) -> Parse:
        number = self.decimal is not None or self.thousands is not None or self.percent
        if number and (self.date or self.datetime):
            raise ValueError("a cell is a number or a date, not both")
        if self.date and self.datetime:
            raise ValueError("give date or datetime, not both")
        if self.decimal is not None and self.decimal == self.thousands:
            raise ValueError("the decimal and thousands separators must differ")
        for fmt in (self.date, self.datetime):
            if fmt is not None and fmt not in DATE_FORMATS_NAMED:
                tokens = sorted(_TOKENS.findall(fmt))
                if tokens != ["dd", "mm", "yyyy"]:
                    raise ValueError(
                        f"unknown date format {fmt!r}: use iso, excel-serial, or dd, mm and "
                        "yyyy once each with separators (dd/mm/yyyy)"
                    )
        return self

    @property
    def is_number(self) -> bool:
        """Whether the cell is read as a number."""
        return self.decimal is not None or self.thousands is not None or self.percent

    @property
    def offset(self) -> timezone:
        """The UTC offset of naive datetimes."""
        if self.utc_offset == "Z":
            return UTC
        sign = -1 if self.utc_offset[0] == "-" else 1
        hours, minutes = int(self.utc_offset[1:3]), int(self.utc_offset[4:6])
        return timezone(sign * timedelta(hours=hours, minutes=minutes))


class FieldSpec(_Model):
    """One field of a record: a column's cell (mapped, parsed) or a constant ``value``."""

    column: str | None = Field(None, min_length=1, max_length=200)
    value: Scalar | None = None
    map: str | None = None
    """The name of a table in ``maps``: the cell's text is looked up there."""
    parse: Parse | None = None
    default: Scalar | None = None
    """The value when the cell is empty (by default an empty cell leaves the field out)."""
    each: dict[str, FieldSpec] | None = Field(None, min_length=1)
    """A list field (DealWon's ``splits``): one item per row of the group (see the mapping's
    ``group_by``; without it, a one-item list), each item's fields read from its own row:
    ``{each: {rep_id: {column: Split Owner, map: reps.name}, share: {column: Split Percent,
    parse: {percent: true}}}}``."""

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = [x for x in (self.column, self.value, self.each) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of column, value or each")
        if self.column is None and (self.map or self.parse or self.default is not None):
            raise ValueError("a constant value or a list (each) takes no map, parse or default")
        for name, spec in (self.each or {}).items():
            if spec.each is not None:
                raise _PathError(f"each.{name}", "a list item cannot hold a list", relative=True)
        return self

    def specs(self) -> list[FieldSpec]:
        """This spec, or the specs of its list items."""
        return list(self.each.values()) if self.each is not None else [self]


class EventId(_Model):
    """The record's event_id: a column's value, or a stable hash of named columns."""

    column: str | None = Field(None, min_length=1)
    hash: tuple[str, ...] | None = Field(None, min_length=1)
    prefix: str = Field("", max_length=40, pattern=r"^[^\s]*$")

    @model_validator(mode="after")
    def _one_source(self) -> EventId:
        if (self.column is None) == (self.hash is None):
            raise ValueError("give exactly one of column or hash")
        return self


class When(_Model):
    """A row filter on one column's text: ``in`` a list, ``not_in`` a list, or ``present``."""

    column: str = Field(min_length=1)
    in_: tuple[str, ...] | None = Field(None, alias="in", min_length=1)
    not_in: tuple[str, ...] | None = Field(None, min_length=1)
    present: bool | None = None

    @model_validator(mode="after")
    def _one_test(self) -> When:
        tests = [t for t in (self.in_, self.not_in, self.present) if t is not None]
        if len(tests) != 1:
            raise ValueError("give exactly one of in, not_in or present")
        return self

    def holds(self, row: MappingABC[str, Cell]) -> bool:
        """Whether the row passes."""
        text = _text(row.get(self.column))
        if self.present is not None:
            return (text != "") is self.present
        folded = text.casefold()
        if self.in_ is not None:
            return any(folded == v.strip().casefold() for v in self.in_)
        assert self.not_in is not None
        return all(folded != v.strip().casefold() for v in self.not_in)


class Output(_Model):
    """One event each row may yield."""

    type: str
    when: When | tuple[When, ...] | None = None
    """Only rows passing every filter yield this event."""
    event_id: EventId
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    """Event field (dotted for nested: ``customer.region``) → where its value comes from."""

    @model_validator(mode="after")
    def _known(self) -> Output:
        cls = EVENT_CLASSES.get(self.type)
        if cls is None:
            known = ", ".join(sorted(EVENT_CLASSES))
            raise _PathError(
                "type", f"unknown event type {self.type!r}; known types: {known}", relative=True
            )
        for name in self.fields:
            top = name.split(".")[0]
            if top in ("type", "event_id"):
                reason = "set by the output itself (type, event_id)"
                raise _PathError(f"fields.{name}", reason, relative=True)
            shorthands = getattr(cls, "SHORTHANDS", ())
            if top not in cls.model_fields and top not in PASS_THROUGH_FIELDS + shorthands:
                reason = f"{self.type} has no field {top!r}"
                raise _PathError(f"fields.{name}", reason, relative=True)
        return self

    @property
    def filters(self) -> tuple[When, ...]:
        """The row filters, as a tuple."""
        if self.when is None:
            return ()
        return self.when if isinstance(self.when, tuple) else (self.when,)

    def column_of(self, field_path: str) -> str | None:
        """The source column behind a record field (``customer.region``, ``amount``) or one of
        its parents; None for a constant or an unmapped field."""
        if field_path == "event_id":
            ident = self.event_id
            return ident.column or (", ".join(ident.hash) if ident.hash else None)
        return _column_of(self.fields, field_path)

    def item_of(self, field_path: str) -> int | None:
        """The list item (the group's row, counted from 0) a field path is about
        (``splits.1.share`` → 1), None when it is not inside a list field."""
        for name, spec in self.fields.items():
            rest = field_path.removeprefix(name + ".")
            if spec.each is not None and rest != field_path:
                head = rest.split(".")[0]
                return int(head) if head.isdigit() else None
        return None

    def columns(self) -> set[str]:
        """Every column this output reads."""
        found = {w.column for w in self.filters}
        found.update(s.column for f in self.fields.values() for s in f.specs() if s.column)
        found.update(self.event_id.hash or ())
        if self.event_id.column:
            found.add(self.event_id.column)
        return found


def _column_of(fields: MappingABC[str, FieldSpec], field_path: str) -> str | None:
    """The column behind a field path among these fields (inside a list field, its item's)."""
    best: tuple[int, str | None] = (-1, None)
    for name, spec in fields.items():
        covers = field_path == name or field_path.startswith(name + ".")
        if covers and len(name) > best[0]:
            column = spec.column
            if spec.each is not None:
                _, index, rest = (field_path.removeprefix(name) + "..").split(".", 2)
                column = _column_of(spec.each, rest.rstrip(".")) if index.isdigit() else None
            best = (len(name), column)
    return best[1]


class Mapping(_Model):
    """A mapping document."""

    name: str | None = Field(None, max_length=100)
    description: str | None = None
    source: Source = Field(default_factory=Source)
    maps: dict[str, dict[str, Scalar]] = Field(default_factory=dict)
    """Value tables: source text → value (looked up exactly, then ignoring case and
    surrounding spaces)."""
    currency: FieldSpec | None = None
    """The currency of every output whose event has a ``currency`` field it does not set:
    ``{value: VND}`` or ``{column: Currency}``."""
    group_by: tuple[str, ...] | None = Field(None, min_length=1, max_length=10)
    """Rows with the same text in these columns form one group (a Salesforce split report:
    one row per opportunity and split owner), wherever they are in the file, and each output
    yields one event per group rather than per row: its plain fields (and ``when`` filters
    and ``event_id``) must read the same in every row of the group, its list fields
    (``each``) take one item per row."""
    events: tuple[Output, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _maps_known(self) -> Mapping:
        if self.currency is not None and self.currency.each is not None:
            raise _PathError("currency", "the currency is one value, not a list (each)")
        specs = [("currency", self.currency)] if self.currency else []
        for i, out in enumerate(self.events):
            for k, spec in out.fields.items():
                path = f"events.{i}.fields.{k}"
                specs.extend((f"{path}.each.{n}", x) for n, x in (spec.each or {}).items())
                specs.append((path, spec))
        for path, spec in specs:
            known_maps = {*self.maps, *REP_TABLES}
            if spec is not None and spec.map is not None and spec.map not in known_maps:
                known = ", ".join(sorted(known_maps))
                raise _PathError(f"{path}.map", f"no map named {spec.map!r} (maps: {known})")
        return self

    def outputs(self) -> tuple[Output, ...]:
        """The outputs, each with the mapping-wide currency filled in where it applies."""
        if self.currency is None:
            return self.events
        filled = []
        for out in self.events:
            if "currency" in EVENT_CLASSES[out.type].model_fields and "currency" not in out.fields:
                out = out.model_copy(update={"fields": {**out.fields, "currency": self.currency}})
            filled.append(out)
        return tuple(filled)

    def tables(self) -> set[str]:
        """The built-in lookup tables (``REP_TABLES``) the mapping uses."""
        return {
            spec.map
            for out in self.outputs()
            for field_spec in out.fields.values()
            for spec in field_spec.specs()
            if spec.map in REP_TABLES
        }

    def columns(self) -> set[str]:
        """Every column the mapping reads (each must be in the file's header)."""
        found: set[str] = set(self.group_by or ())
        for out in self.outputs():
            found |= out.columns()
        return found


class _PathError(ValueError):
    """A validation problem at a path other than the validator's own: absolute, or (when
    ``relative``) below the validated model's."""

    def __init__(self, path: str, reason: str, *, relative: bool = False) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason
        self.relative = relative


def mapping_from_data(data: Any, source: str = "<mapping>") -> Mapping:
    """Validate a parsed document into a Mapping, or raise MappingError naming each path."""
    if not isinstance(data, dict):
        raise MappingError(source, [("(document)", "a mapping document must be a mapping")])
    try:
        check_structure(data)
    except LimitError as exc:
        raise MappingError(source, [(exc.field, exc.reason)]) from None
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems: list[tuple[str, str]] = []
        errors = exc.errors(include_url=False)
        locs = [tuple(str(p) for p in err["loc"] if not _is_union_tag(p)) for err in errors]
        for loc, err in zip(locs, errors, strict=True):
            if any(other[: len(loc)] == loc and len(other) > len(loc) for other in locs):
                continue  # a parent's echo of its children's errors
            path = ".".join(loc) or "(document)"
            ctx_error = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_error, _PathError):
                path = ".".join([*loc, ctx_error.path]) if ctx_error.relative else ctx_error.path
                reason = ctx_error.reason
            elif err["type"] == "extra_forbidden":
                reason = "unknown field"
            else:
                reason = explain(err).removeprefix("Value error, ")
            if (path, reason) not in problems:
                problems.append((path, reason))
        raise MappingError(source, problems) from None


def _is_union_tag(part: Any) -> bool:
    """Pydantic's names for the members of a union (``When``, ``tuple[When, ...]``)."""
    return isinstance(part, str) and (
        part == "When" or part.startswith(("tuple[", "function-after["))
    )


# ------------------------------------------------------------------------ parsing


class CellError(ValueError):
    """A cell that cannot be read as the mapping asks."""


_CURRENCY_MARKS = re.compile(r"^(?:[A-Z]{3}\s+)?(.*?)(?:\s+[A-Z]{3})?$")
_SYMBOLS = "₫$€¥£"


def parse_number(text: str, decimal: str | None = None, thousands: str | None = None) -> Decimal:
    """An exact Decimal from text written with these separators: ``390.000.000`` (thousands
    ``.``), ``1.234,56`` (decimal ``,``, thousands ``.``), ``(1,234.50)`` negative; a currency
    code or symbol around the number is allowed.  Groups must be of three digits."""
    decimal = decimal or ("," if thousands == "." else ".")
    raw = text.strip().replace("\u00a0", " ")
    body = _CURRENCY_MARKS.match(raw)
    value = (body.group(1) if body else raw).strip().strip(_SYMBOLS).strip()
    negative = False
    if value.startswith("(") and value.endswith(")"):
        negative, value = True, value[1:-1].strip()
    if value[:1] in "+-":
        negative, value = value[0] == "-", value[1:].strip()
    value = value.strip(_SYMBOLS).strip()
    whole, _, fraction = value.partition(decimal)
    if decimal in fraction:
        raise CellError(f"{text!r} is not a number: more than one decimal separator {decimal!r}")
    if thousands and thousands != "none" and thousands in whole:
        groups = whole.split(thousands)
        if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
            raise CellError(
                f"{text!r} is not a number written with {thousands!r} between thousands"
            )
        whole = "".join(groups)
    if not whole.isdigit() or not whole.isascii() or (fraction and not fraction.isdigit()):
        sep = f"decimal {decimal!r}" + (
            f", thousands {thousands!r}" if thousands and thousands != "none" else ""
        )
        raise CellError(f"{text!r} is not a number ({sep})")
    number = Decimal(whole + ("." + fraction if fraction else ""))
    return -number if negative else number


EXCEL_EPOCH = date(1899, 12, 30)
"""Day 0 of Excel's 1900 date system as every serial from 1900-03-01 on counts it (Excel's
fictitious 1900-02-29 shifts the earlier ones)."""


def excel_serial(serial: Decimal | int, *, with_time: bool = False) -> date | datetime:
    """The date (or naive datetime) of an Excel serial number: 46073 is 2026-02-20."""
    number = Decimal(serial)
    if number < 61 or number >= 2958466:
        raise CellError(f"{serial} is not an Excel serial date between 1900-03-01 and 9999")
    days = int(number)
    day = EXCEL_EPOCH + timedelta(days=days)
    fraction = number - days
    if not with_time:
        if fraction:
            raise CellError(f"{serial} has a time of day: parse it as a datetime")
        return day
    seconds = int((fraction * 86400).to_integral_value())
    return datetime.combine(day, time(0)) + timedelta(seconds=seconds)


_TIME = r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(fmt: str) -> re.Pattern[str]:
    found = _PATTERNS.get(fmt)
    if found is None:
        parts, last = [], 0
        for m in _TOKENS.finditer(fmt):
            parts.append(re.escape(fmt[last : m.start()]))
            parts.append(
                {"dd": r"(?P<d>\d{1,2})", "mm": r"(?P<m>\d{1,2})"}.get(m.group(), r"(?P<y>\d{4})")
            )
            last = m.end()
        parts.append(re.escape(fmt[last:]))
        found = _PATTERNS[fmt] = re.compile("^" + "".join(parts) + _TIME + "$")
    return found


def parse_date(
    cell: Cell, fmt: str, *, with_time: bool = False, offset: timezone = UTC
) -> date | datetime:
    """A date (or an aware datetime) from a cell: text in ``fmt`` (``dd/mm/yyyy``, ``iso``,
    ``excel-serial``), a number (an Excel serial), or an XLSX date cell."""
    if isinstance(cell, datetime):
        return _aware(cell, offset) if with_time else cell.date()
    if isinstance(cell, date):
        return datetime.combine(cell, time(0), offset) if with_time else cell
    if isinstance(cell, bool) or cell is None or isinstance(cell, Formula):
        raise CellError(f"{cell!r} is not a date")
    if isinstance(cell, int | Decimal):
        found = excel_serial(cell, with_time=with_time)
        return _aware(found, offset) if isinstance(found, datetime) else found
    text = cell.strip()
    if fmt == "excel-serial" or (re.fullmatch(r"\d{5}(\.\d+)?", text) and fmt != "iso"):
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise CellError(f"{text!r} is not an Excel serial date") from None
        return parse_date(number, fmt, with_time=with_time, offset=offset)
    if fmt == "iso":
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            raise CellError(f"{text!r} is not an ISO date (yyyy-mm-dd)") from None
        return _aware(stamp, offset) if with_time else stamp.date()
    m = _pattern(fmt).match(text)
    if m is None:
        raise CellError(f"{text!r} is not a date written {fmt}")
    try:
        day = date(int(m["y"]), int(m["m"]), int(m["d"]))
        clock = time(int(m["H"] or 0), int(m["M"] or 0), int(m["S"] or 0))
    except ValueError as exc:
        raise CellError(f"{text!r} is not a date written {fmt}: {exc}") from None
    return datetime.combine(day, clock, offset) if with_time else day


def _aware(stamp: datetime, offset: timezone) -> datetime:
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=offset)


def _text(cell: Cell | Formula) -> str:
    """A cell as text for filters, maps and hashes (numbers exact, dates ISO)."""
    if cell is None:
        return ""
    if isinstance(cell, Formula):
        return cell.text
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == time(0) else cell.isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, Decimal):
        return format(cell.normalize(), "f")  # 300, 1234.5: never 3E+2
    return str(cell).strip()


def _lookup(table: MappingABC[str, Scalar], name: str, text: str) -> Scalar:
    if text in table:
        return table[text]
    folded = unicodedata.normalize("NFC", text.strip()).casefold()
    for key, value in table.items():
        if unicodedata.normalize("NFC", key.strip()).casefold() == folded:
            return value
    if name in REP_TABLES:
        raise CellError(f"{text!r} is not the {name.split('.')[1]} of a rep the engine knows")
    shown = ", ".join(list(table)[:8]) + (", ..." if len(table) > 8 else "")
    raise CellError(f"{text!r} is not in the map {name!r} (has: {shown})")


def _value(spec: FieldSpec, cell: Cell | Formula, maps: MappingABC[str, Any]) -> Any:
    """The field's value from its cell (None: leave the field out)."""
    if isinstance(cell, Formula):
        raise CellError(
            f"the cell holds a formula ({cell.text[:60]}), not a value: save the sheet with "
            "values (copy, paste as values) or export it as CSV"
        )
    if _text(cell) == "":
        return spec.default
    value: Any = cell
    if spec.map is not None:
        value = _lookup(maps[spec.map], spec.map, _text(cell))
    parse = spec.parse
    if parse is None:
        if isinstance(value, datetime):
            return _text(value)
        if isinstance(value, date):
            return value.isoformat()
        return value.strip() if isinstance(value, str) else value
    if parse.is_number:
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return Decimal(value)
        text = _text(value)
        if parse.percent:
            text = text.removesuffix("%").strip()
        return parse_number(text, parse.decimal, parse.thousands)
    if parse.date is not None:
        return parse_date(value, parse.date).isoformat()
    if parse.datetime is not None:
        return parse_date(value, parse.datetime, with_time=True, offset=parse.offset).isoformat()
    return value


def _put(target: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


# --------------------------------------------------------------------- conversion


@dataclass(frozen=True, slots=True)
class Produced:
    """One output of one row (or group of rows): the record (or None) and the problems met
    building it, each (column or None, field, reason); ``problem_rows`` gives, for each
    problem, the row of the group it is about (counted from 0)."""

    output: int
    type: str
    record: dict[str, Any] | None
    problems: list[tuple[str | None, str, str]] = field(default_factory=list)
    problem_rows: list[int] = field(default_factory=list)


def event_id_hash(event_type: str, values: Sequence[str]) -> str:
    """The stable id part of a hashed event_id: the first 32 hex digits of the sha256 of the
    JSON array ``[event type, cell text, ...]`` (UTF-8, no spaces)."""
    payload = orjson.dumps([event_type, *values])
    return hashlib.sha256(payload).hexdigest()[:32]


Row = MappingABC[str, Cell | Formula]
Problem = tuple[str | None, str, str]


def convert_row(
    mapping: Mapping,
    row: Row,
    outputs: Sequence[Output] | None = None,
    tables: MappingABC[str, MappingABC[str, Scalar]] | None = None,
) -> list[Produced]:
    """The records one row yields, in the order of the mapping's outputs (``outputs``: the
    mapping's ``outputs()`` when the caller already has them; ``tables``: the built-in
    lookup tables, ``REP_TABLES``, it uses)."""
    return convert_group(mapping, [row], outputs, tables)


def group_key(mapping: Mapping, row: Row) -> tuple[str, ...] | None:
    """The row's group (its ``group_by`` cells as text); None without ``group_by`` or when
    every one of those cells is empty."""
    if mapping.group_by is None:
        return None
    key = tuple(_text(row.get(c)) for c in mapping.group_by)
    return key if any(key) else None


def convert_group(
    mapping: Mapping,
    rows: Sequence[Row],
    outputs: Sequence[Output] | None = None,
    tables: MappingABC[str, MappingABC[str, Scalar]] | None = None,
    numbers: Sequence[int] | None = None,
) -> list[Produced]:
    """The records a group of rows yields (one row: ``convert_row``): each output whose
    filters hold gives one record, its plain fields read from every row and required to
    agree, its list fields (``each``) one item per row.  ``numbers``: the rows' numbers in
    the file, for the reasons."""
    maps = {**{name: {} for name in REP_TABLES}, **(tables or {}), **mapping.maps}
    shown = list(numbers) if numbers is not None else list(range(1, len(rows) + 1))
    produced = []
    for index, out in enumerate(outputs if outputs is not None else mapping.outputs()):
        held = [all(w.holds(row) for w in out.filters) for row in rows]
        if not any(held):
            continue
        problems: list[Problem] = []
        at: list[int] = []
        if not all(held):
            pos = held.index(not held[0])
            column = next(w.column for w in out.filters if w.holds(rows[0]) != w.holds(rows[pos]))
            problems.append((column, "(when)", _disagree(rows, shown, column, pos)))
            at.append(pos)
        built = [_plain(out, row, maps) for row in rows]
        for pos, (_, found) in enumerate(built):
            problems.extend(found)
            at.extend([pos] * len(found))
        record = built[0][0]
        if not problems:
            first = _flat(record)
            for pos, (other, _) in enumerate(built[1:], start=1):
                flat = _flat(other)
                for key in sorted(first.keys() | flat.keys()):
                    if first.get(key) != flat.get(key):
                        column = out.column_of(key)
                        reason = (
                            _disagree(rows, shown, column, pos)
                            if column
                            else (f"differs between rows {shown[0]} and {shown[pos]}")
                        )
                        problems.append((column, key, reason))
                        at.append(pos)
        for name, spec in out.fields.items():
            if spec.each is None:
                continue
            items = []
            for pos, row in enumerate(rows):
                item: dict[str, Any] = {}
                for sub, sub_spec in spec.each.items():
                    path = f"{name}.{pos}.{sub}"
                    try:
                        _fill(item, sub, sub_spec, row, maps)
                    except CellError as exc:
                        problems.append((sub_spec.column, path, str(exc)))
                        at.append(pos)
                items.append(item)
            _put(record, name.split("."), items)
        produced.append(Produced(index, out.type, None if problems else record, problems, at))
    return produced


def _disagree(rows: Sequence[Row], shown: Sequence[int], column: str, pos: int) -> str:
    """The reason of a group whose rows read differently in one column."""
    a, b = _text(rows[0].get(column)), _text(rows[pos].get(column))
    return f"the rows of one group must agree: {a!r} in row {shown[0]}, {b!r} in row {shown[pos]}"


def _flat(record: MappingABC[str, Any], prefix: str = "") -> dict[str, Any]:
    """A record's values by dotted path."""
    found: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, MappingABC):
            found.update(_flat(value, f"{prefix}{key}."))
        else:
            found[prefix + key] = value
    return found


def _fill(
    record: dict[str, Any], name: str, spec: FieldSpec, row: Row, maps: MappingABC[str, Any]
) -> None:
    """Set one plain field of the record from the row (CellError when its cell is bad)."""
    if spec.column is None:
        _put(record, name.split("."), spec.value)
        return
    value = _value(spec, row.get(spec.column), maps)
    if value is not None:
        _put(record, name.split("."), value)


def _plain(
    out: Output, row: Row, maps: MappingABC[str, Any]
) -> tuple[dict[str, Any], list[Problem]]:
    """The record of one row without its list fields, and the problems met."""
    problems: list[Problem] = []
    record: dict[str, Any] = {"type": out.type}
    ident = out.event_id
    if ident.column is not None:
        text = _text(row.get(ident.column))
        if text:
            record["event_id"] = ident.prefix + text
        else:
            problems.append((ident.column, "event_id", "empty: the event_id comes from it"))
    else:
        assert ident.hash is not None
        values = [_text(row.get(c)) for c in ident.hash]
        empty = [c for c, v in zip(ident.hash, values, strict=True) if not v]
        if len(empty) == len(values):
            problems.append((", ".join(empty), "event_id", "empty: the event_id is a hash of it"))
        else:
            record["event_id"] = ident.prefix + event_id_hash(out.type, values)
    for name, spec in out.fields.items():
        if spec.each is not None:
            continue
        try:
            _fill(record, name, spec, row, maps)
        except CellError as exc:
            problems.append((spec.column, name, str(exc)))
    return record, problems


def load_mapping(text: str, source: str = "<mapping>") -> Mapping:
    """A validated mapping from YAML text (numbers read as exact Decimals; aliases bounded as
    in plan documents)."""
    from plans.documents import PlanError, parse_yaml

    try:
        data = parse_yaml(text, source)
    except PlanError as exc:
        raise MappingError(source, exc.problems) from None
    return mapping_from_data(data, source)
