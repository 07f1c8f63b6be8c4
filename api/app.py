"""The FastAPI application: health and readiness now; the /v1 resources build on them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel

from incentive_engine import __version__
from incentive_engine.settings import Settings
from incentive_engine.store import EventStore


class Health(BaseModel):
    """Liveness answer."""

    status: str
    version: str


class Readiness(BaseModel):
    """Readiness answer: the store answers and how far its log goes."""

    status: str
    backend: str
    log_position: int


def get_settings(request: Request) -> Settings:
    """The settings the application was built with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def healthz() -> Health:
    """The process is up."""
    return Health(status="ok", version=__version__)


def readyz(settings: SettingsDep) -> Readiness:
    """The event store answers."""
    try:
        with EventStore(settings) as store:
            position = store.max_position()
            return Readiness(status="ready", backend=store.backend, log_position=position)
    except Exception as exc:  # any store failure means not ready
        raise HTTPException(status_code=503, detail=f"event store unavailable: {exc}") from exc


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for the given settings (environment by default)."""
    app = FastAPI(title="incentive-engine", version=__version__)
    app.state.settings = settings or Settings()
    app.add_api_route("/healthz", healthz, response_model=Health, methods=["GET"])
    app.add_api_route("/readyz", readyz, response_model=Readiness, methods=["GET"])
    return app
