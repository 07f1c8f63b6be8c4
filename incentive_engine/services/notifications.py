"""Notification delivery use cases shared by the doors: each rep's preferences (read, set,
validated), and routing a notification to its targets (webhooks, e-mail) under those
preferences and the one visibility rule (news carrying pay reaches only readers allowed to
see that rep's pay; other readers get it without the figures, or not at all when the news
itself is pay, as a badge is)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine

from incentive_engine.domain.errors import Invalid
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from incentive_engine.domain.visibility import Viewer, figure_day, may_see
from incentive_engine.settings import Settings, WebhookEndpoint
from projections import notifications as ledger

KINDS = ("statement_changed", "rank_changed", "badge_awarded", "period_closed", "dispute_updated")
"""The kinds of news the publisher sends."""
CHANNELS = ("email", "webhook")
"""How news reaches people."""
LANGUAGES = ("vi", "en")
PAY_FIELDS = ("total", "earned", "points")
"""Fields of a notification that are pay: a closed period's paid total, a rep's points (a
plan's board may hide them: left out unless the reader may see the rep's pay)."""
WHOLLY_PAY = ("badge_awarded",)
"""Kinds of news that are pay as a whole: the badges a rep holds are shown to those who may
see their pay (``/v1/reps/{rep}/badges``), so the news goes to no one else."""
EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


@dataclass(frozen=True)
class Preferences:
    """A rep's delivery choices: language, e-mail address, and the channels switched off for
    each kind (everything is on until switched off)."""

    rep_id: str
    language: str
    email: str | None = None
    off: dict[str, list[str]] = field(default_factory=dict)
    """kind -> channels switched off."""
    stored: bool = False

    def wants(self, channel: str, kind: str) -> bool:
        """Whether news of this kind may reach the rep through this channel."""
        return channel not in self.off.get(kind, [])

    def record(self) -> dict[str, Any]:
        """The preferences as a machine-readable record (CLI JSON, the API)."""
        return {
            "rep_id": self.rep_id,
            "language": self.language,
            "email": self.email,
            "channels": {kind: {c: self.wants(c, kind) for c in CHANNELS} for kind in KINDS},
        }


def preferences(views: Engine, rep_id: str, default_language: str) -> Preferences:
    """A rep's preferences (the defaults when none are stored)."""
    with views.connect() as conn:
        stored = ledger.load_preferences(conn, rep_id)
    if stored is None:
        return Preferences(rep_id, default_language)
    return Preferences(
        rep_id,
        stored["language"] or default_language,
        stored["email"],
        {k: list(v) for k, v in stored["channels"].items()},
        stored=True,
    )


def _switch(
    off: dict[str, list[str]], items: Iterable[str], *, on: bool, name: str
) -> dict[str, list[str]]:
    """Channels off per kind after switching ``KIND:CHANNEL`` items on or off (``*`` for
    every kind or channel)."""
    result = {k: set(v) for k, v in off.items()}
    for item in items:
        kind, _, channel = item.partition(":")
        kinds = KINDS if kind == "*" else (kind,)
        channels = CHANNELS if channel in ("*", "") else (channel,)
        if kind != "*" and kind not in KINDS:
            raise Invalid(f"{name} {item!r}: unknown kind {kind!r}; known: {', '.join(KINDS)}")
        if not set(channels) <= set(CHANNELS):
            raise Invalid(
                f"{name} {item!r}: unknown channel {channel!r}; known: {', '.join(CHANNELS)}"
            )
        for k in kinds:
            off_now = result.setdefault(k, set())
            if on:
                off_now.difference_update(channels)
            else:
                off_now.update(channels)
    return {k: sorted(v) for k, v in sorted(result.items()) if v}


def set_preferences(
    views: Engine,
    rep_id: str,
    *,
    default_language: str,
    at: datetime,
    language: str | None = None,
    email: str | None = None,
    clear_email: bool = False,
    enable: Sequence[str] = (),
    disable: Sequence[str] = (),
) -> Preferences:
    """Change a rep's preferences (what is not given stays): language, e-mail address, and
    channels switched on or off as ``KIND:CHANNEL`` (``*`` for all). Invalid input is
    refused naming the field, nothing stored."""
    if language is not None and language not in LANGUAGES:
        raise Invalid(
            f"language {language!r}: choose one of {', '.join(LANGUAGES)}", field="language"
        )
    if email is not None and not EMAIL.match(email):
        raise Invalid(f"email {email!r} is not an e-mail address", field="email")
    current = preferences(views, rep_id, default_language)
    off = _switch(current.off, disable, on=False, name="disable")
    off = _switch(off, enable, on=True, name="enable")
    with views.begin() as conn:
        ledger.save_preferences(
            conn,
            rep_id,
            language=language or (current.language if current.stored else None),
            email=None if clear_email else (email or current.email),
            channels=off,
            at=at,
        )
    return preferences(views, rep_id, default_language)


def carries_pay(message: dict[str, Any]) -> bool:
    """Whether a notification holds a pay figure."""
    return any(message.get(f) is not None for f in PAY_FIELDS)


def without_pay(message: dict[str, Any]) -> dict[str, Any]:
    """The notification with its pay figures left out."""
    return {k: v for k, v in message.items() if k not in PAY_FIELDS}


def pay_day(message: dict[str, Any]) -> date | None:
    """The day whose reporting lines decide who sees the notification's pay: the period's
    last day, or the day a badge was earned."""
    try:
        return figure_day(Period.parse(str(message.get("period"))))
    except ValueError:
        pass
    try:
        return date.fromisoformat(str(message.get("earned_on")))
    except ValueError:
        return None


def endpoint_sees(
    endpoint: WebhookEndpoint, message: dict[str, Any], facts: Callable[[], Facts]
) -> bool:
    """Whether the endpoint's reader may see the pay of the notification's rep."""
    if endpoint.viewer is None:
        return False
    role, _, subject = endpoint.viewer.partition(":")
    day = pay_day(message)
    if day is None:
        return False
    return may_see(Viewer(role, subject), str(message["rep_id"]), facts(), day)  # type: ignore[arg-type]


def route(
    message: dict[str, Any],
    prefs: Preferences,
    settings: Settings,
    facts: Callable[[], Facts],
    now: datetime,
) -> list[dict[str, Any]]:
    """The deliveries a notification makes (rows for the ledger): each webhook endpoint
    taking its kind, and e-mail to the rep's own address, under the rep's preferences."""
    kind = str(message.get("kind"))
    base = {"notification_id": message["id"], "rep_id": message["rep_id"], "kind": kind}
    rows = []
    if prefs.wants("webhook", kind):
        for endpoint in settings.notify_webhooks:
            if endpoint.kinds is not None and kind not in endpoint.kinds:
                continue
            body = message
            pay = kind in WHOLLY_PAY or carries_pay(message)
            if pay and not endpoint_sees(endpoint, message, facts):
                if kind in WHOLLY_PAY:
                    continue
                body = without_pay(message)
            rows.append({**base, "target": f"webhook:{endpoint.name}", "body": body})
    if settings.smtp_host and prefs.email and prefs.wants("email", kind):
        body = {**message, "_email": prefs.email, "_language": prefs.language}
        rows.append({**base, "target": "email", "body": body})
    return [{**r, "created_at": now} for r in rows]
