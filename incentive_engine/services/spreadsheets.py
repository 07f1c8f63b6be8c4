"""Spreadsheets finance opens: tables written as XLSX (one sheet per table, money cells as
numbers in the currency's number format, a frozen header row, columns wide enough) and as
CSV with a UTF-8 byte-order mark (so that Excel reads Vietnamese names). Text that a
spreadsheet would run as a formula never runs: a CSV cell gets the leading ``'`` of
``domain.exports``; an XLSX cell is typed as text (shown exactly as written).

The XLSX bytes are deterministic (fixed document times and zip entry times), so the same
tables give the same file and its sha256 can sit in a manifest."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from incentive_engine.domain.exports import safe_cell
from incentive_engine.domain.money import MINOR_UNITS

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
"""The media type of an XLSX workbook."""

CSV_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"

Kind = Literal["text", "money", "number", "integer"]

SYMBOLS: dict[str, tuple[str, bool]] = {
    "VND": ("₫", False),
    "USD": ("$", True),
    "EUR": ("€", False),
    "JPY": ("¥", True),
    "GBP": ("£", True),
}
"""Currency symbols in number formats, and whether the symbol goes before the number."""

FIXED_TIME = datetime(2000, 1, 1)
"""The document time written in every workbook (the content, not the clock, decides the
bytes)."""

MAX_WIDTH = 60


def money_format(currency: str | None) -> str:
    """The Excel number format of an amount in a currency: its minor units as decimals and
    its symbol (VND ``#,##0 "₫"``, USD ``"$"#,##0.00``); plain ``#,##0.##`` when unknown."""
    if not currency or currency not in MINOR_UNITS:
        return "#,##0.##"
    digits = MINOR_UNITS[currency]
    number = "#,##0" + ("." + "0" * digits if digits else "")
    symbol, before = SYMBOLS.get(currency, (currency, False))
    return f'"{symbol}"{number}' if before else f'{number} "{symbol}"'


@dataclass(frozen=True)
class Column:
    """A column of a table: its header, the row key it reads, how its cells are typed, and
    (for money) the row key holding the currency."""

    header: str
    key: str
    kind: Kind = "text"
    currency_key: str = "currency"


@dataclass(frozen=True)
class Table:
    """A table: the sheet (or file) name, its columns and its rows (dicts by column key)."""

    name: str
    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Any]]


def _number(value: Any) -> Any:
    """A numeric cell value: Decimal kept exact (an int when whole), text parsed as Decimal."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        value = Decimal(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def _text(value: Any) -> str:
    """A cell's plain text (Decimal without exponent)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def xlsx(tables: Sequence[Table]) -> bytes:
    """The tables as an XLSX workbook, one sheet per table in order: header row frozen,
    money cells as numbers in their currency's format, column widths fitted to the text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for table in tables:
        sheet = book.create_sheet(_sheet_name(table.name))
        sheet.append([c.header for c in table.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        widths = [len(c.header) for c in table.columns]
        for row in table.rows:
            values = []
            for index, column in enumerate(table.columns):
                raw = row.get(column.key)
                if column.kind == "text":
                    values.append(_text(raw) if raw is not None else None)
                else:
                    values.append(_number(raw))
                widths[index] = max(widths[index], len(_text(raw)) + 2)
            sheet.append(values)
            line = sheet.max_row
            for index, column in enumerate(table.columns):
                cell = sheet.cell(row=line, column=index + 1)
                if cell.data_type == "f":  # text that would run as a formula stays text
                    cell.data_type = "s"
                if column.kind == "money":
                    cell.number_format = money_format(row.get(column.currency_key))
                elif column.kind == "number":
                    cell.number_format = "#,##0.########"
                elif column.kind == "integer":
                    cell.number_format = "0"
        sheet.freeze_panes = "A2"
        for index, width in enumerate(widths):
            letter = sheet.cell(row=1, column=index + 1).column_letter
            sheet.column_dimensions[letter].width = min(MAX_WIDTH, width + 2)
    book.properties.creator = "incentive-engine"
    book.properties.created = FIXED_TIME
    book.properties.modified = FIXED_TIME
    out = io.BytesIO()
    book.save(out)
    return _fixed_zip_times(out.getvalue())


def _sheet_name(name: str) -> str:
    """A valid sheet name: at most 31 characters, none of ``[]:*?/\\``."""
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)
    return cleaned[:31] or "Sheet"


def _fixed_zip_times(data: bytes) -> bytes:
    """The same zip with every entry's time set to a fixed instant (and the document times
    fixed): deterministic bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _fixed_core(content)
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, content)
    return out.getvalue()


def _fixed_core(content: bytes) -> bytes:
    """The core properties with their modified time fixed (openpyxl stamps the clock)."""
    import re

    return re.sub(
        rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
        rb"\g<1>2000-01-01T00:00:00Z\g<2>",
        content,
    )


def csv_bytes(table: Table) -> bytes:
    """The table as CSV, UTF-8 with a byte-order mark and CRLF line ends (what Excel
    expects); numbers as exact plain text, formula-like text neutralised."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in table.columns])
    for row in table.rows:
        writer.writerow([safe_cell(_text(row.get(c.key))) for c in table.columns])
    return out.getvalue().encode("utf-8")
