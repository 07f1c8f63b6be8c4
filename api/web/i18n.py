"""Languages of the web door: the Babel message catalogues (read from their .po files at
import, no build step), the user's language, and money, numbers, dates and times by locale in
the organisation's time zone (``incentive_engine.presentation``, shared with the CLI)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from fastapi import Request

from incentive_engine.presentation import (
    DATE_PATTERNS,
    LOCALES,
    PERCENT_PATTERNS,
    RATE_PATTERNS,
    Presenter,
)
from incentive_engine.settings import Settings

__all__ = [
    "CATALOGUES",
    "DATE_PATTERNS",
    "LOCALES",
    "LOCALE_COOKIE",
    "PERCENT_PATTERNS",
    "RATE_PATTERNS",
    "Formatter",
    "catalogue_files",
    "formatter",
    "locale_of",
    "messages",
    "read_catalogue",
]

LOCALE_COOKIE = "ie_lang"
"""The cookie that keeps the language the user chose."""

CATALOGUES = Path(__file__).parent / "locales"


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


class Formatter(Presenter):
    """Translation, and figures formatted for one locale and time zone (what templates call:
    ``money``, ``number``, ``percent``, ``rate``, ``date``, ``datetime`` come from
    ``incentive_engine.presentation``, the same as the CLI's tables)."""

    def __init__(self, locale: str, time_zone: str) -> None:
        super().__init__(locale, time_zone)
        self._messages = messages(locale)

    def gettext(self, message: str, **values: object) -> str:
        """The message in this locale (the English text when untranslated), with values."""
        text = self._messages.get(message, message)
        return text.format(**values) if values else text


def formatter(request: Request) -> Formatter:
    """The formatter of this request's language and the organisation's time zone."""
    settings: Settings = request.app.state.settings
    return Formatter(locale_of(request), settings.time_zone)
