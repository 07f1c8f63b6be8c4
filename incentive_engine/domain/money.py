"""Money: ISO 4217 currencies, their minor units, half-up rounding to them, and FX lookup."""

from __future__ import annotations

import bisect
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from incentive_engine.domain.errors import Invalid

# Minor units per ISO 4217 for the currencies the engine accepts.  A currency
# missing here is rejected at ingest with a clear error rather than guessed.
MINOR_UNITS: dict[str, int] = {
    "AED": 2, "AUD": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2, "CZK": 2,
    "DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2,
    "INR": 2, "JPY": 0, "KHR": 2, "KRW": 0, "LAK": 2, "MXN": 2, "MYR": 2,
    "NOK": 2, "NZD": 2, "PHP": 2, "PLN": 2, "SAR": 2, "SEK": 2, "SGD": 2,
    "THB": 2, "TRY": 2, "TWD": 2, "USD": 2, "VND": 0, "ZAR": 2,
}  # fmt: skip


class UnknownCurrencyError(Invalid, ValueError):
    """Raised for a currency code the engine does not know."""


def check_currency(code: str) -> str:
    """Return the currency code if the engine knows it, else raise a clear error."""
    if code not in MINOR_UNITS:
        known = ", ".join(sorted(MINOR_UNITS))
        raise UnknownCurrencyError(f"unknown currency {code!r}; known currencies: {known}")
    return code


def minor_units(currency: str) -> int:
    """Return the number of decimal places of a currency's minor unit."""
    return MINOR_UNITS[check_currency(currency)]


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round an amount half-up to the currency's minor units (the only rounding rule)."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal, currency: str) -> str:
    """Format an amount with thousands separators and its currency code."""
    places = minor_units(currency)
    return f"{round_money(amount, currency):,.{places}f} {currency}"


def fx_rate_in(
    rates: dict[tuple[str, str], list[tuple[date, str, Decimal]]], base: str, quote: str, day: date
) -> Decimal:
    """The rate converting base into quote on a day from (day, event id, rate) lists by
    currency pair: the latest set on or before the day, else the inverse of the latest
    quote->base rate; a LookupError without either."""
    if base == quote:
        return Decimal(1)
    direct = rates.get((base, quote))
    if direct:
        i = bisect.bisect_right(direct, (day, "\uffff"), key=lambda r: (r[0], r[1]))
        if i:
            return direct[i - 1][2]
    inverse = rates.get((quote, base))
    if inverse:
        i = bisect.bisect_right(inverse, (day, "\uffff"), key=lambda r: (r[0], r[1]))
        if i:
            return Decimal(1) / inverse[i - 1][2]
    raise LookupError(f"no FX rate {base}->{quote} on or before {day} (publish an FxRateSet)")
