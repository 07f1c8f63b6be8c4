"""The web door for people: server-rendered pages (Jinja2 + htmx) in the API's own FastAPI
process, on the same services and the same visibility rule as the API's routers; its
front-end files are served from the package (``static/``), never from a CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from api.web import (
    acceptance,
    account,
    adjustments,
    audit,
    boards,
    closing,
    disputes,
    docs,
    imports,
    inbox,
    oidc,
    payrun,
    plans,
    quotas,
    rep,
    simulate,
    statements,
    team,
    tv,
    whatif,
)
from api.web.errors import BadPageInput, bad_input_page
from api.web.session import SignInRequired, to_sign_in

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and ``/docs`` on the application."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.oidc = oidc.OidcClient.from_settings(app.state.settings)
    # simulate before plans (/plans/simulate is not a plan id), inbox before disputes
    # (/disputes/inbox is not a dispute id), rep last (its / and /reps/{rep})
    for module in (
        docs,
        account,
        oidc,
        simulate,
        inbox,
        adjustments,
        audit,
        boards,
        closing,
        disputes,
        imports,
        payrun,
        acceptance,
        plans,
        quotas,
        statements,
        team,
        tv,
        whatif,
        rep,
    ):
        app.include_router(module.router)

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return to_sign_in(request, exc)

    app.add_exception_handler(SignInRequired, sign_in_required)

    async def bad_page_input(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadPageInput)
        return bad_input_page(request, exc)

    app.add_exception_handler(BadPageInput, bad_page_input)
