"""Signing in and out, and choosing the language: the forms of the account area."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import verify
from api.errors import ApiError
from api.web.i18n import LOCALE_COOKIE, LOCALES
from api.web.oidc import client_of
from api.web.render import page
from api.web.session import (
    SESSION_COOKIE,
    form_of,
    safe_target,
    secure,
    start_session,
)

router = APIRouter(include_in_schema=False)


@router.get("/sign-in")
def sign_in_page(request: Request, next: str = "/", expired: int = 0) -> Response:
    """The sign-in form."""
    reason = "Your session has ended: sign in again." if expired else None
    oidc = client_of(request)
    return page(
        request,
        "sign_in.html",
        None,
        next=safe_target(next),
        error=reason,
        provider=oidc.name if oidc else None,
    )


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Check the token like the API does, then keep it in the session cookie."""
    fields = await form_of(request)
    token = fields.get("token", "").strip()
    target = safe_target(fields.get("next"))
    if not token or len(token) > 8192:
        return page(request, "sign_in.html", None, 401, next=target, error="Paste a token.")
    try:
        verify(request, authorization=f"Bearer {token}")
    except ApiError as exc:
        error = (
            "Too many failed sign-ins: wait a moment."
            if exc.status_code == 429
            else "This token is not valid, has expired or was revoked."
        )
        return page(request, "sign_in.html", None, exc.status_code, next=target, error=error)
    return start_session(request, token, target)


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """Forget the session cookie."""
    await form_of(request)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language")
async def choose_language(request: Request) -> Response:
    """Keep the language the user chose (a year-long cookie) and go back to the page."""
    fields = await form_of(request)
    chosen = fields.get("lang", "")
    response = RedirectResponse(safe_target(fields.get("next")), status_code=303)
    if chosen in LOCALES:
        response.set_cookie(
            LOCALE_COOKIE,
            chosen,
            max_age=365 * 86_400,
            httponly=True,
            samesite="strict",
            secure=secure(request),
            path="/",
        )
    return response
