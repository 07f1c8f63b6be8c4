"""The HTTP door's health and readiness endpoints, on a real SQLite store."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from incentive_engine.settings import Settings
from incentive_engine.store import EventStore
from tests.factories import hired


def test_health_and_readiness(tmp_path: Path) -> None:
    settings = Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}")
    with EventStore(settings) as store:
        store.append([hired("an")])
    client = TestClient(create_app(settings))
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz").json()
    assert ready == {"status": "ready", "backend": "sqlite", "log_position": 1}


def test_not_ready_when_the_store_cannot_be_reached() -> None:
    settings = Settings(store_url="postgresql://nobody@127.0.0.1:1/none")
    client = TestClient(create_app(settings))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "event store unavailable" in response.json()["detail"]
