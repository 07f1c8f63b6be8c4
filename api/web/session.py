"""Signing in to the web door: a token from ``incentive-engine token`` (what the API accepts)
kept in an HttpOnly, SameSite=Strict cookie, checked on every request by the API's own
authenticator and bad-credential limiter; a double-submit CSRF token on every form that
writes; sign-out. An expired or revoked token sends the user back to the sign-in page.

The token is the only credential: another way of signing in (an OpenID Connect provider)
needs only to end in ``start_session`` with a token the authenticator accepts."""

from __future__ import annotations

import hmac
import html
import secrets
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import Principal
from api.deps import verify
from api.errors import ApiError

SESSION_COOKIE = "ie_session"
CSRF_COOKIE = "ie_csrf"
CSRF_FIELD = "csrf"
MAX_FORM_BYTES = 16_384
"""A sign-in or language form is small; anything larger is refused before parsing."""


class SignInRequired(Exception):
    """No session, or its token is expired, revoked or not valid: go to the sign-in page."""

    def __init__(self, target: str, reason: str | None = None) -> None:
        super().__init__(reason or "sign in")
        self.target = target
        self.reason = reason


def secure(request: Request) -> bool:
    """Whether the page was served over https (then cookies are Secure)."""
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.lower() == "https"


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (from its cookie, or a new one set with the response)."""
    found = getattr(request.state, "csrf", None) or request.cookies.get(CSRF_COOKIE)
    if not found or len(found) > 100:
        found = secrets.token_urlsafe(32)
    request.state.csrf = found
    return found


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Send the CSRF cookie when the browser does not hold this request's token yet."""
    token = csrf_token(request)
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure(request), path="/"
        )


async def form_of(request: Request, limit: int = MAX_FORM_BYTES) -> dict[str, str]:
    """A submitted form's fields, after the CSRF check (403 when the token is missing or does
    not match the cookie's); a form larger than ``limit`` bytes is refused (413)."""
    body = await request.body()
    if len(body) > limit:
        raise ApiError(413, f"the form is larger than {limit} bytes")
    try:
        fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
    except UnicodeDecodeError:
        raise ApiError(400, "the form is not UTF-8") from None
    _check_csrf(request, fields.get(CSRF_FIELD, ""))
    return fields


def _check_csrf(request: Request, sent: str) -> None:
    """403 unless the form's CSRF token matches the browser's cookie."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise ApiError(403, "the form's CSRF token is missing or does not match: reload the page")


async def upload_form(
    request: Request, max_files: int = 2, max_fields: int = 10
) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """A submitted multipart form (an upload): its text fields and its files (name → (file
    name, bytes)), after the same CSRF check as ``form_of``; the body is bounded by the
    door's body limit (413), a form that is not multipart is refused (415)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise ApiError(415, "send the form as multipart/form-data")
    try:
        form = await request.form(max_files=max_files, max_fields=max_fields)
    except Exception as exc:  # a malformed multipart body
        raise ApiError(400, f"the form cannot be read: {exc}") from None
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(key, value)
        elif key not in files and value.filename:
            files[key] = (value.filename, await value.read())
    _check_csrf(request, fields.get(CSRF_FIELD, ""))
    return fields, files


def signed_in(request: Request) -> Principal:
    """The signed-in user, verified like a bearer token (expiry, revocation, bad-credential
    limit); SignInRequired otherwise."""
    token = request.cookies.get(SESSION_COOKIE)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise SignInRequired(target)
    try:
        return verify(request, authorization=f"Bearer {token}")
    except ApiError as exc:
        raise SignInRequired(target, str(exc.detail)) from None


WebUser = Annotated[Principal, Depends(signed_in)]


def safe_target(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def start_session(request: Request, token: str, target: str, *, via_page: bool = False) -> Response:
    """Keep the token in the session cookie and go on to the target page. After a
    cross-site navigation (an identity provider's redirect) the browser would withhold the
    SameSite=Strict cookie from a redirect's next request, so ``via_page`` answers a page that
    moves on by itself (a same-site navigation) instead of a redirect."""
    where = safe_target(target)
    response: Response
    if via_page:
        link = html.escape(where, quote=True)
        response = HTMLResponse(
            f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url='
            f'{link}"><title>incentive-engine</title><a href="{link}">{link}</a>',
            headers={"Cache-Control": "no-store", "Referrer-Policy": "same-origin"},
        )
    else:
        response = RedirectResponse(where, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure(request), path="/"
    )
    return response


def to_sign_in(request: Request, exc: SignInRequired) -> Response:
    """Send the browser to the sign-in page (htmx follows ``HX-Redirect``), forgetting a
    session that no longer holds."""
    location = "/sign-in?next=" + quote(safe_target(exc.target), safe="/")
    if exc.reason:
        location += "&expired=1"
    if request.headers.get("hx-request"):
        response: Response = Response(status_code=401, headers={"HX-Redirect": location})
    else:
        response = RedirectResponse(location, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
