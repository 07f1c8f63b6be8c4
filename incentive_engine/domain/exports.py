"""Cells for spreadsheets: text that a spreadsheet would run as a formula is neutralised.

A CSV (or XLSX) cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is read by Excel, LibreOffice and Google Sheets as a formula (``=HYPERLINK(...)``,
``@SUM(...)``, ``-2+3``): such text gets a leading ``'``, which the spreadsheet shows as
text.  Numbers are left as they are, so that money columns stay numbers: a number value
(int, Decimal, float) and a text that is a plain decimal number (``-7200000``,
``-7,200,000.50``) are not formulas and are never changed.  Booleans and None are left to
the writer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula."""
_PLAIN_NUMBER = re.compile(r"[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")


def safe_cell(value: Any) -> Any:
    """The value to write in a cell: text that would run as a formula gets a leading ``'``."""
    if not isinstance(value, str) or isinstance(value, bool):
        return value
    if value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(row: Sequence[Any]) -> list[Any]:
    """A row of cells, each made safe."""
    return [safe_cell(v) for v in row]


def safe_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row keyed by column, each cell made safe (the keys are the writer's header)."""
    return {k: safe_cell(v) for k, v in row.items()}
