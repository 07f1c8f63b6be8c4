"""Languages of the web door: the Babel message catalogues (read from their .po files at
import, no build step), the user's language, and money, numbers, dates and times by locale in
the organisation's time zone."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from fastapi import Request

from incentive_engine.settings import Settings

LOCALES = ("vi", "en")
"""The languages pages are written in, Vietnamese first."""

LOCALE_COOKIE = "ie_lang"
"""The cookie that keeps the language the user chose."""

CATALOGUES = Path(__file__).parent / "locales"

DATE_PATTERNS = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}
PERCENT_PATTERNS = {"vi": "#,##0.0\u00a0%", "en": "#,##0.0%"}
RATE_PATTERNS = {"vi": "#,##0.####\u00a0%", "en": "#,##0.####%"}


def catalogue_files(locale: str) -> list[Path]:
    """A locale's catalogues: ``messages.po`` (shared labels) and one file per area of pages."""
    return sorted((CATALOGUES / locale / "LC_MESSAGES").glob("*.po"))


def read_catalogue(path: Path, locale: str) -> dict[str, str]:
    """One catalogue's translated messages (msgid -> msgstr; untranslated ones left out)."""
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=locale)
    return {
        str(m.id): str(m.string)
        for m in catalogue
        if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string
    }


@cache
def messages(locale: str) -> dict[str, str]:
    """The translated messages of a locale, from all its catalogues."""
    found: dict[str, str] = {}
    for path in catalogue_files(locale):
        found.update(read_catalogue(path, locale))
    return found


def locale_of(request: Request) -> str:
    """The user's language: their choice (cookie), else the setting ``INCENTIVE_WEB_LOCALE``."""
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in LOCALES:
        return chosen
    settings: Settings = request.app.state.settings
    return settings.web_locale


class Formatter:
    """Translation and formatting for one locale and time zone (what templates call)."""

    def __init__(self, locale: str, time_zone: str) -> None:
        self.locale = locale
        self.zone = ZoneInfo(time_zone)
        self._messages = messages(locale)

    def gettext(self, message: str, **values: object) -> str:
        """The message in this locale (the English text when untranslated), with values."""
        text = self._messages.get(message, message)
        return text.format(**values) if values else text

    def money(self, amount: Decimal | None, currency: str) -> str:
        """An amount with its currency (``1.900.000.000 ₫`` in vi, ``₫1,900,000,000`` in en)."""
        if amount is None:
            return "–"
        return format_currency(amount, currency, locale=self.locale)

    def number(self, value: Decimal | int | None) -> str:
        """A number with the locale's separators."""
        return "–" if value is None else format_decimal(value, locale=self.locale)

    def percent(self, value: Decimal | None) -> str:
        """A percentage given in percent (109.8 -> ``109,8 %`` in vi, ``109.8%`` in en)."""
        if value is None:
            return "–"
        return format_percent(
            Decimal(value) / 100, format=PERCENT_PATTERNS[self.locale], locale=self.locale
        )

    def rate(self, value: Decimal | None) -> str:
        """A statement line's rate, given in percent, with the digits it has (``2,5 %``)."""
        if value is None:
            return "–"
        return format_percent(
            Decimal(value) / 100, format=RATE_PATTERNS[self.locale], locale=self.locale
        )

    def date(self, value: date | str | None) -> str:
        """A day (``20/02/2026`` in vi, ``20 Feb 2026`` in en)."""
        if value is None:
            return "–"
        day = date.fromisoformat(value) if isinstance(value, str) else value
        return format_date(day, DATE_PATTERNS[self.locale], locale=self.locale)

    def datetime(self, value: datetime | str | None) -> str:
        """An instant in the organisation's time zone, to the second, with the zone's offset."""
        if value is None:
            return "–"
        instant = datetime.fromisoformat(value) if isinstance(value, str) else value
        if instant.tzinfo is None:
            return format_datetime(instant, "dd/MM/yyyy HH:mm:ss", locale=self.locale)
        local = instant.astimezone(self.zone)
        pattern = DATE_PATTERNS[self.locale] + " HH:mm:ss xxx"
        return format_datetime(local, pattern, tzinfo=self.zone, locale=self.locale)


def formatter(request: Request) -> Formatter:
    """The formatter of this request's language and the organisation's time zone."""
    settings: Settings = request.app.state.settings
    return Formatter(locale_of(request), settings.time_zone)
