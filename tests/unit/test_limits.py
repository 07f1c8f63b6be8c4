"""The pure value rules of ``domain/limits`` and formula-safe export cells."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from incentive_engine.domain import limits
from incentive_engine.domain.events import EVENT_ADAPTER, event_content
from incentive_engine.domain.exports import safe_cell, safe_row
from tests.factories import won


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": 1, "a": 2}', "twice"),
        ("[" * 40 + "]" * 40, "deep"),
        ("[" * 5000 + "]" * 5000, "deep"),
        ('{"a": NaN}', "NaN"),
        ('{"a": ' + "9" * 31 + "}", "digits"),
        ('{"a": 1.' + "1" * 70 + "}", "characters"),
        ('{"a": "x\\ud800"}', "surrogate"),
        ('{"a\\u0000": 1}', "control"),
        ("{", "not valid JSON"),
    ],
)
def test_strict_json_refuses(text: str, reason: str) -> None:
    with pytest.raises(limits.LimitError, match=reason):
        limits.loads(text)


def test_strict_json_reads_exact_decimals_and_names_the_field() -> None:
    assert limits.loads('{"a": [1.10, 2]}') == {"a": [Decimal("1.10"), 2]}
    with pytest.raises(limits.LimitError) as caught:
        limits.loads('{"a": {"b": "\\u0007"}}')
    assert caught.value.field == "a.b"


def test_naive_instants_are_utc() -> None:
    assert limits.as_utc(datetime(2030, 1, 1)) == datetime(2030, 1, 1, tzinfo=UTC)


def test_the_date_window_is_configurable_and_not_applied_to_stored_events() -> None:
    record = event_content(won("D1", close_date="2026-02-20"))
    record["close_date"] = "1995-05-05"
    with pytest.raises(ValidationError, match=r"outside 2000-01-01\.\.2100-12-31"):
        EVENT_ADAPTER.validate_python(record)
    wide = limits.door_context(limits.DateWindow(date(1990, 1, 1), date(2100, 12, 31)))
    assert EVENT_ADAPTER.validate_python(record, context=wide).effective_day == date(1995, 5, 5)
    assert EVENT_ADAPTER.validate_python(record, context=limits.STORED)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-7200000", "-7200000"),
        ("-7,200,000.50", "-7,200,000.50"),
        ("Nguyễn Văn An", "Nguyễn Văn An"),
        (Decimal("-7200000"), Decimal("-7200000")),
        (-5, -5),
        (None, None),
    ],
)
def test_export_cells_neutralise_formulas_but_not_numbers(value: object, expected: object) -> None:
    assert safe_cell(value) == expected
    assert safe_row([value]) == [expected]
