"""Observing the HTTP door: every request counted and timed by route template (Prometheus)
and logged as one structured line (request id, method, route, path, status, duration, the
caller's subject and role); ``/metrics`` for a scraper holding the metrics token.

The path is logged without its query string (a display key travels in ``/tv?key=``); no
header is ever logged; the formatter redacts credentials wherever they appear."""

from __future__ import annotations

import hmac
import logging
import time
from typing import Annotated, Any

from fastapi import Header, Request, Response

from api.errors import ApiError
from incentive_engine.observability import http
from incentive_engine.observability.exposition import CONTENT_TYPE, exposition
from incentive_engine.settings import Settings

log = logging.getLogger("incentive_engine.http")

QUIET = frozenset({"/healthz", "/readyz", "/metrics"})
"""Routes probed every few seconds: logged at DEBUG, not INFO."""


def route_of(scope: dict[str, Any], root_path: str) -> str:
    """The template of the route that answered (``/v1/statements/{rep_id}/{period}``), the
    mount it went through (``/static/{path}``), or one label for anything unmatched."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    mounted = str(scope.get("root_path", ""))
    if mounted != root_path and mounted.startswith(root_path):
        return mounted[len(root_path) :] + "/{path}"
    return http.UNMATCHED


class ObserveMiddleware:
    """Pure ASGI middleware, outermost: it sees the final status of every answer (a 413 of
    the body limit, a 500 of the request-id middleware) and the request id given to it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = str(scope.get("root_path", ""))
        method = str(scope["method"])
        status = 500  # unless an answer starts

        async def send_and_see(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        http.IN_PROGRESS.labels(method).inc()
        try:
            await self.app(scope, receive, send_and_see)
        finally:
            http.IN_PROGRESS.labels(method).dec()
            seconds = time.perf_counter() - started
            route = route_of(scope, root_path)
            http.observe(method, route, status, seconds)
            state = scope.get("state", {})
            caller = state.get("caller")
            log.log(
                logging.DEBUG if route in QUIET else logging.INFO,
                "%s %s %s",
                method,
                route,
                status,
                extra={
                    "request_id": state.get("request_id", ""),
                    "method": method,
                    "route": route,
                    "path": scope.get("path", ""),
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "subject": caller[1] if caller else None,
                    "role": caller[0] if caller else None,
                    "client": (scope.get("client") or ("",))[0],
                },
            )


def remember_caller(request: Request, role: str, subject: str) -> None:
    """Note who the caller is, for the request's log line."""
    request.state.caller = (role, subject)


def metrics(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
    """This process's metrics, for a scraper holding ``INCENTIVE_METRICS_TOKEN`` (404 when no
    token is configured: scrape ``serve --metrics-port`` on a private network instead)."""
    settings: Settings = request.app.state.settings
    expected = settings.metrics_token
    if not expected:
        raise ApiError(
            404, "/metrics is not served here: set INCENTIVE_METRICS_TOKEN or use --metrics-port"
        )
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        raise ApiError(401, "the metrics token is missing or wrong")
    return Response(exposition(), media_type=CONTENT_TYPE)
