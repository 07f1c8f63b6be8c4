"""Request bodies within limits: a size cap checked on Content-Length and while the body
streams (413 before it is held in memory), and strict JSON parsed off the event loop."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError, ErrorBody, ErrorResponse
from incentive_engine.domain import limits


class BodyLimitMiddleware:
    """Pure ASGI middleware: a request whose Content-Length, or whose streamed body, passes
    ``max_bytes`` is answered 413 at once (the rest of its body is never read); a JSON body is
    then parsed strictly, off the event loop, and refused (400/422, naming the field) when it
    is not JSON or passes a limit (duplicate key, nesting, number size, control characters),
    whichever route it is for.  The parsed value is kept for ``read_json``."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _answer(scope, send, 413, "too_large", *self._too_large())
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await _answer(scope, send, 413, "too_large", *self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if body and (kind == b"application/json" or kind.endswith(b"+json")):
            try:
                parsed = await run_in_threadpool(parse_json, body)
            except ApiError as exc:
                await _answer(scope, send, exc.status_code, exc.code, str(exc.detail), exc.details)
                return
            scope.setdefault("state", {})[_PARSED] = parsed
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            message: dict[str, Any] = await receive()
            return message

        await self.app(scope, replay, send)

    def _too_large(self) -> tuple[str, list[dict[str, str]]]:
        reason = f"at most {self.max_bytes} bytes"
        return (
            f"the request body is larger than {self.max_bytes} bytes",
            [{"field": "(body)", "reason": reason}],
        )


_PARSED = "json_body"


async def _answer(
    scope: dict[str, Any], send: Any, status: int, code: str, message: str, details: Any
) -> None:
    request_id = scope.get("state", {}).get("request_id", "")
    body = ErrorResponse(
        error=ErrorBody(code=code, message=message, details=details), request_id=request_id
    )
    headers = [(b"content-type", b"application/json")]
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.model_dump_json().encode()})


def parse_json(body: bytes) -> Any:
    """Strict JSON of a body (``limits.loads``): 400 when it is not JSON or UTF-8, 422 naming
    the field when it passes a limit (a duplicate key, deep nesting, a huge number)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8 text") from None
    try:
        return limits.loads(text)
    except limits.LimitError as exc:
        status = 400 if exc.reason.startswith("not valid JSON") else 422
        message = (
            f"the body is not JSON: {exc.reason}"
            if status == 400
            else f"field '{exc.field}': {exc.reason}"
        )
        raise ApiError(
            status, message, details=[{"field": exc.field, "reason": exc.reason}]
        ) from None


async def read_json(request: Request) -> Any:
    """The request's JSON body, within every limit: parsed once, off the event loop (by the
    middleware for a JSON content type, here for any other)."""
    state = request.scope.get("state", {})
    if _PARSED in state:
        return state[_PARSED]
    body = await request.body()
    return await run_in_threadpool(parse_json, body)
