"""Money: ISO 4217 currencies, their minor units, half-up rounding to them, FX lookup, and
sharing an amount exactly (largest remainder)."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

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


def allocate(total: Decimal, weights: Mapping[str, Decimal], currency: str) -> dict[str, Decimal]:
    """Share ``total`` among keys in proportion to their weights, in the currency's minor
    units, so that the shares sum to exactly ``total`` (largest-remainder method).

    Each key first gets its exact quota (total x weight / sum of weights) rounded down to a
    minor unit; the units left over go one each to the keys with the largest remainders,
    ties broken by key (ascending).  Exact: computed on fractions, never on rounded
    quotients.  A key of zero weight gets zero.  ValueError when ``total`` is negative or
    not in the currency's minor units, when a weight is negative, or when there is
    something to share but no weight to share it by."""
    unit = Decimal(1).scaleb(-minor_units(currency))
    if total < 0:
        raise ValueError(f"cannot share a negative amount ({total})")
    if total != round_money(total, currency):
        raise ValueError(f"{total} is not in {currency}'s minor units ({unit})")
    negative = sorted(k for k, w in weights.items() if w < 0)
    if negative:
        raise ValueError(f"negative weight for {', '.join(negative)}")
    units = int(total / unit)
    whole = sum((Fraction(w) for w in weights.values()), Fraction(0))
    if units and not whole:
        raise ValueError(f"nothing to share {total} {currency} by: every weight is zero")
    floors: dict[str, int] = {}
    remainders: dict[str, Fraction] = {}
    for key in sorted(weights):
        quota = Fraction(units) * Fraction(weights[key]) / whole if whole else Fraction(0)
        floors[key] = quota.numerator // quota.denominator
        remainders[key] = quota - floors[key]
    left = units - sum(floors.values())
    for key in sorted(remainders, key=lambda k: (-remainders[k], k))[:left]:
        floors[key] += 1
    return {key: (unit * n).quantize(unit) for key, n in floors.items()}
