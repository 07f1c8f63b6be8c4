"""Shared setup of API tests: a seeded store, a client, and tokens for every role."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role, issue_token
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import won

SECRET = "test-secret-not-for-production-0123456789"


def api_settings(settings: Settings) -> Settings:
    """Settings with a known signing key and an integration API key."""
    return settings.model_copy(
        update={"api_secret": SECRET, "api_keys": {"crm-key-1": "integration:crm"}}
    )


def seed(settings: Settings) -> None:
    """A manager with two reps, quotas, deals and a published plan."""
    events = [
        publication(plan(tiered()).plan),
        rep("mgr", role="manager", name="Trần Thị Quản Lý"),
        rep("an", manager_id="mgr", name="Nguyễn Văn An"),
        rep("binh", manager_id="mgr"),
        rep("chau"),
        quota("an", 300_000_000),
        quota("binh", 300_000_000),
        quota("chau", 300_000_000),
        won("D1", 390_000_000, rep_id="an", close_date="2026-02-10"),
        won("D2", 100_000_000, rep_id="binh", close_date="2026-02-11"),
    ]
    with EventStore(settings) as store:
        store.append(events)


def client(settings: Settings) -> TestClient:
    """A test client of the app on these settings."""
    return TestClient(create_app(settings), raise_server_exceptions=False)


def auth(settings: Settings, role: Role, subject: str) -> dict[str, str]:
    """The Authorization header of a fresh token."""
    return {"Authorization": f"Bearer {issue_token(settings, role, subject)}"}
