"""Bad input in a page's URL or form answered as a page (or an htmx fragment) in the reader's
language, naming the field and the value, never the API's JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response

from incentive_engine.domain.periods import Period


class BadPageInput(Exception):
    """A value in a page's URL or query that cannot be read (answered 422, as a page)."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


def page_period(text: str) -> Period:
    """A period of a page's URL, or BadPageInput naming it."""
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise BadPageInput("period", text, str(exc)) from None


def end_of_day(text: str, zone: str) -> datetime:
    """``YYYY-MM-DD`` as the last instant of that day in the organisation's time zone (in
    UTC): what the engine knew at the end of the day; BadPageInput otherwise."""
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise BadPageInput("as_of", text, "a day as YYYY-MM-DD, for example 2026-02-28")
    return datetime.combine(day, time.max, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def bad_input_page(request: Request, exc: BadPageInput) -> Response:
    """The 422 page (or fragment) naming the bad value, in the reader's language."""
    from api.web.render import page  # render imports the session, which this module avoids
    from api.web.session import SignInRequired, signed_in

    try:
        who = signed_in(request)
    except SignInRequired:  # pragma: no cover - the route signed the user in first
        who = None
    fragment = bool(request.headers.get("hx-request"))
    template = "fragments/bad_input.html" if fragment else "bad_input.html"
    return page(request, template, who, 422, error=exc)
