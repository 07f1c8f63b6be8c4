"""Figures for people, the same in every door: money, numbers, percentages, rates, dates and
times formatted with Babel by locale (``1.900.000.000 ₫``, ``109,8 %``, ``20/02/2026`` in
Vietnamese; ``₫1,900,000,000``, ``109.8%``, ``20 Feb 2026`` in English), instants in the
organisation's time zone. The web pages and the CLI's tables use it; machine outputs (JSON,
CSV, the API) never do."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

LOCALES = ("vi", "en")
"""The languages figures are written in, Vietnamese first."""

DATE_PATTERNS = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}
PERCENT_PATTERNS = {"vi": "#,##0.0\u00a0%", "en": "#,##0.0%"}
RATE_PATTERNS = {"vi": "#,##0.####\u00a0%", "en": "#,##0.####%"}
NONE = "–"
"""What a missing figure shows."""


SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})
"""Babel's no-break spaces, as plain spaces (a terminal's text is copied and searched)."""


class Presenter:
    """Figures formatted for one locale and time zone; with ``plain_spaces``, Babel's no-break
    spaces become plain ones (for a terminal; a web page keeps them so figures never wrap)."""

    def __init__(self, locale: str, time_zone: str, *, plain_spaces: bool = False) -> None:
        if locale not in LOCALES:
            raise ValueError(f"locale {locale!r}: choose one of {', '.join(LOCALES)}")
        self.locale = locale
        self.zone = ZoneInfo(time_zone)
        self.plain_spaces = plain_spaces

    def _out(self, text: str) -> str:
        return text.translate(SPACES) if self.plain_spaces else text

    def money(self, amount: Decimal | None, currency: str) -> str:
        """An amount with its currency (``1.900.000.000 ₫`` in vi, ``₫1,900,000,000`` in en)."""
        if amount is None:
            return NONE
        return self._out(format_currency(amount, currency, locale=self.locale))

    def number(self, value: Decimal | int | None) -> str:
        """A number with the locale's separators."""
        return NONE if value is None else self._out(format_decimal(value, locale=self.locale))

    def exact(self, value: Decimal | None) -> str:
        """A number with the locale's separators and every digit it has (an FX rate)."""
        if value is None:
            return NONE
        places = max(0, -int(Decimal(value).normalize().as_tuple().exponent))
        pattern = "#,##0" + ("." + "0" * places if places else "")
        return self._out(format_decimal(value, format=pattern, locale=self.locale))

    def percent(self, value: Decimal | None) -> str:
        """A percentage given in percent (109.8 -> ``109,8 %`` in vi, ``109.8%`` in en)."""
        if value is None:
            return NONE
        return self._out(
            format_percent(
                Decimal(value) / 100, format=PERCENT_PATTERNS[self.locale], locale=self.locale
            )
        )

    def rate(self, value: Decimal | None) -> str:
        """A statement line's rate, given in percent, with the digits it has (``2,5 %``)."""
        if value is None:
            return NONE
        return self._out(
            format_percent(
                Decimal(value) / 100, format=RATE_PATTERNS[self.locale], locale=self.locale
            )
        )

    def date(self, value: date | str | None) -> str:
        """A day (``20/02/2026`` in vi, ``20 Feb 2026`` in en)."""
        if value is None:
            return NONE
        day = date.fromisoformat(value) if isinstance(value, str) else value
        return self._out(format_date(day, DATE_PATTERNS[self.locale], locale=self.locale))

    def datetime(self, value: datetime | str | None) -> str:
        """An instant in the organisation's time zone, to the second, with the zone's offset."""
        if value is None:
            return NONE
        instant = datetime.fromisoformat(value) if isinstance(value, str) else value
        if instant.tzinfo is None:
            return self._out(format_datetime(instant, "dd/MM/yyyy HH:mm:ss", locale=self.locale))
        local = instant.astimezone(self.zone)
        pattern = DATE_PATTERNS[self.locale] + " HH:mm:ss xxx"
        return self._out(format_datetime(local, pattern, tzinfo=self.zone, locale=self.locale))
