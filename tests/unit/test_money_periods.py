"""Money rounding and period arithmetic."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from incentive_engine.domain.money import UnknownCurrencyError, format_money, round_money
from incentive_engine.domain.periods import Period, PeriodKind


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("37.03695", "USD", "37.04"),
        ("3086419.725", "VND", "3086420"),
        ("0.5", "JPY", "1"),
        ("2.5", "VND", "3"),
        ("-2.5", "VND", "-3"),
        ("1.005", "EUR", "1.01"),
    ],
)
def test_round_half_up_to_minor_units(amount: str, currency: str, expected: str) -> None:
    assert round_money(Decimal(amount), currency) == Decimal(expected)


def test_unknown_currency_is_a_clear_error() -> None:
    with pytest.raises(UnknownCurrencyError, match="unknown currency 'ABC'"):
        round_money(Decimal(1), "ABC")


def test_format_money() -> None:
    assert format_money(Decimal("196666666.67"), "VND") == "196,666,667 VND"


def test_quarter_arithmetic() -> None:
    q1 = Period.parse("2026-Q1")
    assert (q1.start, q1.end, q1.days) == (date(2026, 1, 1), date(2026, 3, 31), 90)
    assert str(q1.next()) == "2026-Q2"
    assert str(q1.previous()) == "2025-Q4"
    assert date(2026, 2, 15) in q1
    assert date(2026, 4, 1) not in q1


def test_months_years_and_leap_years() -> None:
    assert Period.parse("2028-02").days == 29
    assert Period.parse("2026").days == 365
    assert str(Period.containing(date(2026, 8, 9), PeriodKind.QUARTER)) == "2026-Q3"
    assert str(Period.containing(date(2026, 8, 9), PeriodKind.MONTH)) == "2026-08"


@pytest.mark.parametrize("text", ["2026-13", "2026-Q0", "26-Q1", "Q1-2026", ""])
def test_bad_period_names_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="period"):
        Period.parse(text)
