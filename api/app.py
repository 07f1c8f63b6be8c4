"""The FastAPI application: health, readiness and the /v1 resources over the same services
as the command line."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

import api.routers
from api import errors
from incentive_engine import __version__
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore


class Health(BaseModel):
    """Liveness answer."""

    status: str
    version: str


class Readiness(BaseModel):
    """Readiness answer: the store answers and how far its log goes."""

    status: str
    backend: str
    log_position: int


def healthz() -> Health:
    """The process is up."""
    return Health(status="ok", version=__version__)


def readyz(request: Request) -> Readiness:
    """The event store answers."""
    settings: Settings = request.app.state.settings
    try:
        with EventStore(settings) as store:
            position = store.max_position()
            return Readiness(status="ready", backend=store.backend, log_position=position)
    except Exception as exc:  # any store failure means not ready
        raise errors.ApiError(503, f"event store unavailable: {type(exc).__name__}") from exc


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for the given settings (environment by default)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if getattr(app.state, "engine", None) is not None:
            app.state.access.close()
            app.state.engine.close()
            app.state.views.dispose()
            app.state.engine = None  # a restarted lifespan opens them again

    app = FastAPI(title="incentive-engine", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = None
    app.state.access = None
    errors.install(app)
    app.add_api_route("/healthz", healthz, response_model=Health, methods=["GET"])
    app.add_api_route("/readyz", readyz, response_model=Readiness, methods=["GET"])

    for router in routers():
        app.include_router(router)
    return app


def routers() -> list[APIRouter]:
    """Every router of the api.routers package (one module per resource), in name order."""
    found = []
    for module in sorted(m.name for m in pkgutil.iter_modules(api.routers.__path__)):
        found.append(importlib.import_module(f"api.routers.{module}").router)
    return found
