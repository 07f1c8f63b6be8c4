"""One JSON error shape for every failure, a request id on every response, and the one
mapping of the engine's errors (``incentive_engine.domain.errors``) to HTTP statuses."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from incentive_engine.domain.errors import (
    Conflict,
    EngineError,
    Forbidden,
    Invalid,
    NotFound,
    Unavailable,
)

log = logging.getLogger("incentive_engine.api")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "too_many_requests",
    500: "internal",
    503: "unavailable",
}


STATUSES: tuple[tuple[type[EngineError], int], ...] = (
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
    (Invalid, 422),
    (Unavailable, 503),
)
"""The HTTP status of each kind of engine error (the first base an error has); any other
engine error is a refusal the data cannot answer: 409."""


def status_of(exc: EngineError, default: int = 409) -> int:
    """The HTTP status of an engine error (``default`` for one of no known kind)."""
    return next((status for base, status in STATUSES if isinstance(exc, base)), default)


class ErrorBody(BaseModel):
    """The error itself."""

    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """Every error response: the error and the request id (also in the X-Request-ID header)."""

    error: ErrorBody
    request_id: str


class ApiError(HTTPException):
    """An HTTP error with a machine-readable code and optional details."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        details: Any = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code = code or CODES.get(status, "error")
        self.details = details


def _body(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    extra: dict[str, str] | None = None,
) -> JSONResponse:
    request_id = getattr(request.state, "request_id", "")
    payload = ErrorResponse(
        error=ErrorBody(code=code, message=message, details=details), request_id=request_id
    )
    headers = {**(extra or {}), "X-Request-ID": request_id}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(payload.model_dump(mode="json"), status_code=status, headers=headers)


REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
"""A caller's X-Request-ID that is kept (a UUID, a trace id, ``svc-123``...)."""


class RequestIdMiddleware:
    """Pure ASGI middleware: a request id for every request (the caller's X-Request-ID, or a
    new one) in ``request.state`` and the response headers, and a JSON 500 without a stack
    trace for anything unhandled.  (Cheaper than BaseHTTPMiddleware: no extra task.)"""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next(
            (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), ""
        )
        # A caller's id is kept only when it is a plain id: it is logged and echoed, so it
        # must not smuggle a line break, markup or a credential into either.
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:  # never a stack trace in a response
            log.exception("request %s failed", request_id, extra={"request_id": request_id})
            if started:
                raise
            body = (
                ErrorResponse(
                    error=ErrorBody(
                        code="internal", message="internal error; quote the request id"
                    ),
                    request_id=request_id,
                )
                .model_dump_json()
                .encode()
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"x-request-id", request_id.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


def install(app: FastAPI) -> None:
    """Add the request-id middleware and the error handlers to an application."""
    app.add_middleware(RequestIdMiddleware)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _body(request, exc.status_code, exc.code, str(exc.detail), exc.details, exc.headers)

    @app.exception_handler(EngineError)
    async def engine_error(request: Request, exc: EngineError) -> JSONResponse:
        status = status_of(exc)
        details = None
        if status == 422:  # the input at fault, as request validation reports it
            details = [{"field": exc.field or "(request)", "reason": str(exc)}]
        return _body(request, status, CODES[status], str(exc), details)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        status = exc.status_code
        return _body(request, status, CODES.get(status, "error"), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "field": ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path")),
                "reason": e["msg"],
            }
            for e in exc.errors()
        ]
        return _body(request, 422, "invalid", "the request is not valid", details)
