"""The TV leaderboard: a full-screen board for an office screen (large type, dark, no
navigation) that follows the log by itself, opened with a read-only display key.

The key (``incentive-engine tv-key NAME``: a token signed like the API's, with the display
audience, which every API route and every other page refuses) is given once in
``/tv?key=...``; it is then kept in an HttpOnly, SameSite=Strict cookie and the browser is
sent to a key-less address, so the key stays out of logs and history. Revoking the screen
(``tv-key revoke NAME``) or retiring the signing key sends the screen back to the key page at
its next poll. The board fragment is polled every few seconds with the log position it shows;
while the log has not moved, the answer is 204 and htmx keeps the page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import AuthError, Display
from api.deps import EngineDep, authenticator, limiter
from api.errors import ApiError
from api.observe import remember_caller
from api.web.boards import METRIC_LABELS, BadRequest, parse_metric, parse_period
from api.web.i18n import locale_of
from api.web.render import page
from api.web.rep import today
from api.web.session import safe_target, secure
from incentive_engine.domain.errors import Invalid
from incentive_engine.domain.leaderboards import LeaderboardError
from incentive_engine.domain.visibility import on_display
from incentive_engine.services.gamification import board, board_day, board_policy
from plans.evaluate import EvaluationError

router = APIRouter(include_in_schema=False)

DISPLAY_COOKIE = "ie_display"
DEFAULT_BOARD = "/tv/points/quarter"
ROWS = 12
"""How many rows a screen shows."""
EVERY = 5
"""Seconds between two polls of the board (``?every=`` chooses 2 to 60)."""


class NoDisplay(Exception):
    """No display key, or one that is expired, revoked or not a display key."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason or "no display key")
        self.reason = reason


def verify_key(request: Request, key: str) -> Display:
    """The screen a display key names, counted by the API's bad-credential limiter."""
    client = request.client.host if request.client else "unknown"
    limits = limiter(request)
    wait = limits.retry_after(client)
    if wait is not None:
        raise NoDisplay(f"too many bad keys from {client}: try again in {wait} s")
    try:
        display = authenticator(request).from_display_key(key)
    except AuthError as exc:
        limits.failed(client)
        raise NoDisplay(str(exc)) from None
    remember_caller(request, "display", display.subject)
    return display


def screen(request: Request) -> Display:
    """The screen of this browser's display cookie, or NoDisplay."""
    key = request.cookies.get(DISPLAY_COOKIE)
    if not key:
        raise NoDisplay(None)
    return verify_key(request, key)


def key_page(request: Request, reason: str | None) -> Response:
    """The page a screen without a valid key shows (htmx: go there, forgetting the key)."""
    if request.headers.get("hx-request"):
        response: Response = Response(status_code=401, headers={"HX-Redirect": "/tv"})
    else:
        response = page(request, "tv_key.html", None, 401, reason=reason)
    response.delete_cookie(DISPLAY_COOKIE, path="/tv")
    return response


@router.get("/tv")
def tv_start(request: Request, key: str | None = None, next: str = DEFAULT_BOARD) -> Response:
    """Open a screen: keep the display key in a cookie and go on to a key-less board."""
    target = safe_target(next) if next.startswith("/tv/") else DEFAULT_BOARD
    try:
        if key is None:
            screen(request)
        else:
            verify_key(request, key)
    except NoDisplay as exc:
        return key_page(request, exc.reason)
    response = RedirectResponse(target, status_code=303)
    if key is not None:
        response.set_cookie(
            DISPLAY_COOKIE, key, httponly=True, samesite="strict", secure=secure(request),
            path="/tv", max_age=400 * 24 * 3600,
        )  # fmt: skip
    return response


def _board(
    request: Request, engine: EngineDep, metric: str, period: str, scope: str, since: str | None
) -> dict[str, Any] | None:
    """What a screen shows (None: the same as ``since``, the log has not moved), or
    BadRequest / LeaderboardError / a refusal (ApiError 403)."""
    snap = engine.snapshot()
    the_metric = parse_metric(metric)
    the_period = parse_period(period, board_day(snap, today(request)))
    if not on_display(the_metric, board_policy(snap, the_metric, the_period)):
        raise ApiError(403, f"the {the_metric.value} board is not shown on screens: it reveals pay")
    token = f"{engine.position}:{the_period}:{scope}:{locale_of(request)}"
    if since == token:
        return None
    shown = board(snap, None, the_metric, the_period, scope)
    return {"board": shown, "rows": shown.rows[:ROWS], "since": token,
            "label": METRIC_LABELS[the_metric]}  # fmt: skip


def _tv(
    request: Request,
    engine: EngineDep,
    metric: str,
    period: str,
    scope: str,
    every: int,
    template: str,
    since: str | None = None,
) -> Response:
    try:
        screen(request)
    except NoDisplay as exc:
        return key_page(request, exc.reason)
    every = min(max(every, 2), 60)
    context = {"metric": metric, "period": period, "scope": scope, "every": every}
    try:
        found = _board(request, engine, metric, period, scope, since)
    except BadRequest as exc:
        return page(request, template, None, 422, error=str(exc), field=exc.field, **context)
    except LeaderboardError as exc:
        status = 422 if isinstance(exc, Invalid) else 409
        return page(request, template, None, status, error=str(exc), field=exc.field, **context)
    except EvaluationError as exc:
        return page(request, template, None, 409, error=str(exc), field=None, **context)
    except ApiError as exc:
        return page(request, template, None, exc.status_code, error=str(exc.detail),
                    field="metric", **context)  # fmt: skip
    if found is None:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return page(request, template, None, error=None, **context, **found)


@router.get("/tv/{metric}/{period}")
def tv_page(
    metric: str,
    request: Request,
    engine: EngineDep,
    period: str,
    scope: str = "company",
    every: int = EVERY,
) -> Response:
    """A full-screen board for an office screen (display key only)."""
    return _tv(request, engine, metric, period, scope, every, "tv.html")


@router.get("/tv/{metric}/{period}/board")
def tv_board(
    metric: str,
    request: Request,
    engine: EngineDep,
    period: str,
    scope: str = "company",
    every: int = EVERY,
    since: str | None = None,
) -> Response:
    """The screen's board fragment, polled: 204 while the log has not moved since ``since``."""
    return _tv(request, engine, metric, period, scope, every, "fragments/tv_board.html", since)
