"""The FastAPI application: health, readiness and the /v1 resources over the same services
as the command line."""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

import api.routers
from api import errors, web
from api.body import BodyLimitMiddleware
from api.deps import warm_up
from api.observe import ObserveMiddleware, metrics
from incentive_engine import __version__
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from projections.runner import make_engine, tracked_positions


class Health(BaseModel):
    """Liveness answer."""

    status: str
    version: str


class ReadModel(BaseModel):
    """How far a read model (or the notification publisher) has applied the log."""

    position: int
    lag: int
    """Log positions it is behind the log's head."""


class Readiness(BaseModel):
    """Readiness answer: the store and the read-model database answer; how far the log goes,
    how far this process's facts and each read model have applied it."""

    status: str
    backend: str
    log_position: int
    facts_position: int | None = None
    """The log position this process's facts are folded to (None before the first request
    that needed them); they catch up on the next request that reads them."""
    facts_lag: int | None = None
    read_models: dict[str, ReadModel] = {}
    """Each read model's position and lag (kept current by ``project --follow``)."""


def healthz() -> Health:
    """The process is up."""
    return Health(status="ok", version=__version__)


def readyz(request: Request) -> Readiness:
    """The event store answers."""
    settings: Settings = request.app.state.settings
    try:
        with EventStore(settings) as store:
            position, backend = store.max_position(), store.backend
    except Exception as exc:  # any store failure means not ready
        raise errors.ApiError(503, f"event store unavailable: {type(exc).__name__}") from exc
    views = getattr(request.app.state, "views", None)
    try:
        if views is not None:
            tracked = tracked_positions(views)
        else:  # not opened yet (no request needed it): a connection of its own, closed after
            views = make_engine(settings.resolved_views_url(), pooled=False)
            try:
                tracked = tracked_positions(views)
            finally:
                views.dispose()
    except Exception as exc:
        raise errors.ApiError(
            503, f"read-model database unavailable: {type(exc).__name__}"
        ) from exc
    engine = request.app.state.engine
    facts = engine.position if engine is not None else None
    return Readiness(
        status="ready",
        backend=backend,
        log_position=position,
        facts_position=facts,
        facts_lag=None if facts is None else max(0, position - facts),
        read_models={
            name: ReadModel(position=at, lag=max(0, position - at))
            for name, at in sorted(tracked.items())
        },
    )


def create_app(settings: Settings | None = None, *, warm: bool = False) -> FastAPI:
    """Build the application for the given settings (environment by default); ``warm``: load
    the facts in a thread at start (``serve``), not on the first request that needs them."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warming = threading.Thread(target=warm_up, args=(app,), name="warm-up", daemon=True)
        if warm:
            warming.start()
        yield
        if warming.is_alive():
            warming.join()  # never close the engine under a fold
        if getattr(app.state, "engine", None) is not None:
            app.state.access.close()
            app.state.engine.close()
            app.state.views.dispose()
            app.state.engine = None  # a restarted lifespan opens them again

    app = FastAPI(title="incentive-engine", version=__version__, lifespan=lifespan, docs_url=None)
    app.state.settings = settings
    app.state.engine = None
    # Inside the request-id middleware (added next), so that a 413 carries the request id.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.state.access = None
    errors.install(app)
    # Outermost: counts and logs every answer, with the status the client gets.
    app.add_middleware(ObserveMiddleware)
    app.add_api_route("/healthz", healthz, response_model=Health, methods=["GET"])
    app.add_api_route("/readyz", readyz, response_model=Readiness, methods=["GET"])
    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)

    for router in routers():
        app.include_router(router)
    web.install(app)  # pages for people and /docs, served from the package's own files
    app.openapi = lambda: document_errors(app)  # type: ignore[method-assign]
    return app


ERROR_STATUSES = {
    "400": "The body is not JSON (or not UTF-8).",
    "401": "Credentials are missing or not valid.",
    "403": "The caller's role may not do this.",
    "404": "Not found.",
    "409": "A conflict with what is stored.",
    "413": "The body, or the batch, is larger than the configured limit.",
    "422": "The request is not valid: each field and the reason.",
    "429": "Too many bad credentials from this client: wait for Retry-After seconds.",
}
"""The error answers every operation may give, all in the one error body shape."""


SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A token from `incentive-engine token` or the identity provider.",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key of INCENTIVE_API_KEYS (machine clients).",
    },
}
"""How callers authenticate, declared in the OpenAPI document (either one)."""


def document_errors(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document with the error answers declared on every operation, each with the
    one error body (``ErrorResponse``) instead of FastAPI's default validation error shape."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (errors.ErrorBody, errors.ErrorResponse):
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(found.pop("$defs", {}))
        components[model.__name__] = found
    schema["components"]["securitySchemes"] = SECURITY_SCHEMES
    ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            wanted = ERROR_STATUSES if path.startswith("/v1/") else {}
            if wanted:  # /docs' Authorize button: a bearer token or an API key
                operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
            for status, description in wanted.items():
                responses[status] = {
                    "description": description,
                    "content": {"application/json": {"schema": ref}},
                }
            if path == "/readyz":
                responses["503"] = {
                    "description": "The event store or the read-model database does not answer.",
                    "content": {"application/json": {"schema": ref}},
                }
    app.openapi_schema = schema
    return schema


def routers() -> list[APIRouter]:
    """Every router of the api.routers package (one module per resource), in name order."""
    found = []
    for module in sorted(m.name for m in pkgutil.iter_modules(api.routers.__path__)):
        found.append(importlib.import_module(f"api.routers.{module}").router)
    return found
