"""Hard limits on input: the value rules every event and plan obeys, and strict JSON reading.

One place for what the engine accepts (README "Security / Input limits" has the table):

- **ids** are 1..128 printable characters: no whitespace and no control, format (zero-width,
  bidi, BOM, soft hyphen), surrogate, private-use or unassigned character;
- **text** is at most 500 characters (comments 4,000) with no control character other than
  tab and line breaks, no bidi control and no lone surrogate;
- **amounts** have at most 18 digits before the decimal point and 6 after it (the largest
  currency's 3 minor units plus 3), so that every sum and rounding of a statement stays
  exact within Decimal's 28 digits; plan money (targets, amounts per deal, caps, draws, tier
  bounds) is bounded the same way, rates and multipliers as the plan model says;
- **dates** lie in a window, 2000-01-01..2100-12-31 unless configured (the doors pass the
  configured window in the validation context; events read back from the store are not
  checked again, so that narrowing the window never makes a stored event unreadable);
- **JSON** is read strictly: a duplicate key, NaN or Infinity, an integer of more than 30
  digits, a number literal of more than 60 characters, nesting deeper than 32, a string
  longer than 100,000 characters or a lone surrogate, NUL or other control character in any
  string (escaped, since raw ones are not JSON) is refused with a :class:`LimitError` naming
  the field where it can.

Door limits (body size, records per batch, bytes per record) are settings
(``incentive_engine.settings``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationInfo

from incentive_engine.domain.errors import Invalid

# ------------------------------------------------------------------ the numbers

ID_MAX_LENGTH = 128
"""Characters of an id."""
TEXT_MAX_LENGTH = 500
"""Characters of a text field (a dispute comment: 4,000)."""
AMOUNT_INTEGER_DIGITS = 18
"""Digits before the decimal point of an amount."""
AMOUNT_DECIMALS = 6
"""Digits after the decimal point of an amount."""
AMOUNT_MAX_DIGITS = AMOUNT_INTEGER_DIGITS + AMOUNT_DECIMALS
"""Digits of an amount in all (pydantic's ``max_digits`` with ``decimal_places``)."""
RATE_INTEGER_DIGITS = 12
"""Digits before the decimal point of an FX rate."""
RATE_DECIMALS = 12
"""Digits after the decimal point of an FX rate."""
MAX_VERSION = 1_000_000
"""The highest plan version, statement line or other counter an event or plan may carry."""
MAX_POSITION = 2**62
"""The highest log position an event may name."""
EARLIEST = date(2000, 1, 1)
"""The earliest date accepted by default."""
LATEST = date(2100, 12, 31)
"""The latest date accepted by default."""
MAX_DEPTH = 32
"""Nesting of JSON arrays and objects."""
MAX_STRING = 100_000
"""Characters of any one JSON string (fields have their own, lower limits)."""
MAX_INT_DIGITS = 30
"""Digits of a JSON integer."""
MAX_NUMBER_CHARS = 60
"""Characters of a JSON number literal with a fraction or an exponent."""

ID_PATTERN = r"^[^\s\p{C}]+$"
"""An id: printable, no whitespace, no control/format/surrogate/private/unassigned (``\\p{C}``)."""
TEXT_PATTERN = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$"
"""Text: no control character other than tab, line feed and carriage return, no bidi control."""
_SUSPECT_ESCAPE = re.compile(r"\\u(?:00[01]|[dD][89a-fA-F])")
"""An escape that may smuggle in a control character or a surrogate: the text is then walked
(short texts with few brackets and no such escape cannot break a limit the walk checks)."""
_BAD_IN_JSON = re.compile(r"[\x00-\x08\x0B\x0C\x0E-\x1F\ud800-\udfff]")
"""What an escape may smuggle into a JSON string: controls other than tab and line breaks,
and lone surrogates."""


PATTERN_REASONS = {
    ID_PATTERN: "an id holds printable characters only: no whitespace, control, zero-width, "
    "bidi, surrogate or other invisible character",
    TEXT_PATTERN: "text may not hold a control character (other than tab and line breaks) "
    "or a bidi control",
}


def explain(error: Mapping[str, Any]) -> str:
    """The reason of one pydantic error, in words for people where the limits are concerned
    (a character pattern), else pydantic's own message."""
    if error.get("type") == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern")
        if pattern in PATTERN_REASONS:
            return PATTERN_REASONS[pattern]
    return str(error["msg"])


class LimitError(Invalid, ValueError):
    """Input beyond a hard limit: the field (a dotted path, or ``(record)``) and the reason."""

    def __init__(self, reason: str, field: str = "(record)") -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


# -------------------------------------------------------------------- dates


@dataclass(frozen=True, slots=True)
class DateWindow:
    """The dates input may carry (both ends included)."""

    earliest: date = EARLIEST
    latest: date = LATEST

    def check(self, day: date) -> None:
        """Raise ValueError when the day is outside the window."""
        if not self.earliest <= day <= self.latest:
            raise ValueError(f"{day} is outside {self.earliest}..{self.latest}")


DEFAULT_WINDOW = DateWindow()
STORED: dict[str, Any] = {"window": None}
"""Validation context for what the store gives back: no date window (it was checked on the
way in, perhaps under another configuration)."""


def door_context(window: DateWindow) -> dict[str, Any]:
    """Validation context for a door with this date window."""
    return {"window": window}


def _window(info: ValidationInfo) -> DateWindow | None:
    context = info.context
    if (type(context) is dict or isinstance(context, Mapping)) and "window" in context:
        found: DateWindow | None = context["window"]
        return found
    return DEFAULT_WINDOW


def check_day(value: date, info: ValidationInfo) -> date:
    """A date (or datetime) inside the context's window (pydantic after-validator)."""
    window = _window(info)
    if window is not None:
        window.check(value.date() if isinstance(value, datetime) else value)
    return value


def as_utc(instant: datetime) -> datetime:
    """An instant in UTC: one without a time zone is read as UTC (the rule of every door: API
    query parameters, CLI options, event fields)."""
    offset = instant.utcoffset()
    if offset is None:
        return instant.replace(tzinfo=UTC)
    return instant if offset == timedelta(0) else instant.astimezone(UTC)


# --------------------------------------------------------------------- JSON


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise LimitError(f"key {key!r} is given twice", key)
            seen.add(key)
    return found


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise LimitError(f"an integer has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _decimal(text: str) -> Decimal:
    if len(text) > MAX_NUMBER_CHARS:
        raise LimitError(f"a number has more than {MAX_NUMBER_CHARS} characters")
    return Decimal(text)


def _constant(text: str) -> Any:
    raise LimitError(f"{text} is not a number JSON allows")


_DECODER = json.JSONDecoder(
    parse_float=_decimal,
    parse_int=_integer,
    parse_constant=_constant,
    object_pairs_hook=_no_duplicates,
)


def loads(text: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Strict JSON: numbers as exact Decimals (ints as ints), within every limit above;
    LimitError (a ValueError) otherwise, naming the field where it can."""
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise LimitError(f"nested too deeply (more than {max_depth} levels)") from None
    except json.JSONDecodeError as exc:
        raise LimitError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    suspect = _SUSPECT_ESCAPE.search(text) is not None
    if suspect or len(text) > MAX_STRING or text.count("[") + text.count("{") > max_depth:
        check_structure(value, max_depth=max_depth, escaped=suspect)
    return value


def check_structure(value: Any, *, max_depth: int = MAX_DEPTH, escaped: bool = True) -> None:
    """Nesting, string lengths and (when ``escaped``: the text had ``\\u`` escapes) the
    characters of every string and key of a parsed JSON value; LimitError otherwise."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            _check_string(item, path, escaped)
            continue
        if isinstance(item, dict):
            children: Any = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        if depth > max_depth:
            raise LimitError(
                f"nested too deeply (more than {max_depth} levels)", path or "(record)"
            )
        for key, child in children:
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
                _check_string(key, where, escaped)
            stack.append((child, depth + 1, where))


def _check_string(text: str, path: str, escaped: bool) -> None:
    if len(text) > MAX_STRING:
        raise LimitError(f"a string is longer than {MAX_STRING} characters", path or "(record)")
    if escaped:
        bad = _BAD_IN_JSON.search(text)
        if bad is not None:
            char = bad.group()
            what = "a lone surrogate" if 0xD800 <= ord(char) <= 0xDFFF else "a control character"
            raise LimitError(f"{what} (U+{ord(char):04X}) is not allowed", path or "(record)")
