"""The HTTP API on real stores: health, authentication, statements by role, event ingest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from api.auth import Role, issue_token
from incentive_engine.domain.events import event_content
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.e2e.api_helpers import api_settings, auth, client, seed
from tests.factories import call, hired, won


@pytest.fixture
def s(settings: Settings) -> Settings:
    configured = api_settings(settings)
    seed(configured)
    return configured


def test_health_and_readiness(s: Settings) -> None:
    c = client(s)
    assert c.get("/healthz").json()["status"] == "ok"
    ready = c.get("/readyz").json()
    assert ready["status"] == "ready" and ready["log_position"] > 0


def test_not_ready_when_the_store_cannot_be_reached() -> None:
    c = client(Settings(store_url="postgresql://nobody@127.0.0.1:1/none"))
    response = c.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "unavailable"
    assert body["error"]["message"].startswith("event store unavailable")
    assert "Traceback" not in response.text and body["request_id"]


def test_authentication_is_required_and_checked(s: Settings) -> None:
    c = client(s)
    url = "/v1/reps/an/statements/2026-Q1"
    missing = c.get(url)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
    assert c.get(url, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    expired = issue_token(s, Role.REP, "an", now=datetime.now(UTC) - timedelta(days=2))
    response = c.get(url, headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]
    forged = issue_token(
        s.model_copy(update={"api_secret": "another-signing-key-entirely-0123456789"}),
        Role.FINANCE,
        "eve",
    )
    assert c.get(url, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert c.get(url, headers={"X-API-Key": "wrong"}).status_code == 401


@pytest.mark.parametrize(
    ("role", "subject", "rep", "status"),
    [
        (Role.REP, "an", "an", 200),
        (Role.REP, "binh", "an", 403),  # changing the id in the URL does not reveal pay
        (Role.REP, "an", "ghost", 403),  # nor does probing ids
        (Role.MANAGER, "mgr", "an", 200),
        (Role.MANAGER, "mgr", "chau", 403),  # not their report
        (Role.MANAGER, "an", "binh", 403),
        (Role.FINANCE, "fin", "an", 200),
        (Role.FINANCE, "fin", "ghost", 404),
        (Role.PLAN_ADMIN, "pa", "an", 403),
        (Role.INTEGRATION, "crm", "an", 403),
    ],
)
def test_statement_access_by_role(
    s: Settings, role: Role, subject: str, rep: str, status: int
) -> None:
    response = client(s).get(f"/v1/reps/{rep}/statements/2026-Q1", headers=auth(s, role, subject))
    assert response.status_code == status, response.text
    if status == 200:
        [doc] = response.json()
        assert doc["rep_id"] == rep and doc["hash"].startswith("sha256:")
        assert response.headers["ETag"] and response.headers["X-Request-ID"]


def test_statement_content_as_of_and_bad_input(s: Settings) -> None:
    c, h = client(s), auth(s, Role.FINANCE, "fin")
    [doc] = c.get("/v1/reps/an/statements/2026-Q1", headers=h).json()
    assert doc["total"] == "17700000" and [ln["amount"] for ln in doc["lines"]] == [
        "3000000",
        "7500000",
        "7200000",
    ]
    past = c.get(
        "/v1/reps/an/statements/2026-Q1", headers=h, params={"as_of": "2000-01-01T00:00:00Z"}
    )
    assert past.status_code == 404
    bad = c.get("/v1/reps/an/statements/2026-Q9", headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "period"
    assert (
        c.get(
            "/v1/reps/an/statements/2026-Q1", headers=h, params={"plan_version": "example@9"}
        ).status_code
        == 404
    )


def test_events_ingest_all_or_nothing_with_per_record_errors(s: Settings) -> None:
    c = client(s)
    key = {"X-API-Key": "crm-key-1"}
    good = [event_content(hired("dung")), event_content(call("dung", 1))]
    bad = {**event_content(won("D9", rep_id="ghost")), "amount": "5"}
    response = c.post("/v1/events", headers=key, content=json.dumps([*good, bad]))
    assert response.status_code == 422
    [detail] = response.json()["error"]["details"]
    assert (detail["index"], detail["field"]) == (2, "rep_id") and "unknown rep 'ghost'" in detail[
        "reason"
    ]
    with EventStore(s) as store:
        assert store.get("hire-dung") is None  # nothing stored
    ok = c.post("/v1/events", headers=key, content=json.dumps({"events": good}))
    assert ok.status_code == 200 and ok.json()["stored"] == 2
    again = c.post("/v1/events", headers=key, content=json.dumps(good)).json()
    assert [r["status"] for r in again["records"]] == ["duplicate", "duplicate"]
    partial = c.post(
        "/v1/events",
        headers=key,
        params={"partial": "true"},
        content=json.dumps([event_content(call("dung", 2)), bad]),
    ).json()
    assert [r["status"] for r in partial["records"]] == ["stored", "refused"]


def test_events_keep_decimals_exact_and_refuse_non_json(s: Settings) -> None:
    c, key = client(s), {"X-API-Key": "crm-key-1"}
    deal = json.dumps(event_content(won("D7", rep_id="an"))).replace(
        '"100000000"', "1234567890123.565001"
    )
    assert c.post("/v1/events", headers=key, content=f"[{deal}]").status_code == 200
    with EventStore(s) as store:
        assert store.get("won-D7").event.amount == Decimal("1234567890123.565001")  # type: ignore[union-attr]
    assert c.post("/v1/events", headers=key, content="{not json").status_code == 400
    assert c.post("/v1/events", headers=key, content="[]").status_code == 422


def test_idempotency_key_makes_a_retry_safe(s: Settings) -> None:
    c = client(s)
    headers = {"X-API-Key": "crm-key-1", "Idempotency-Key": "batch-42"}
    body = json.dumps([event_content(call("an", 7))])
    first = c.post("/v1/events", headers=headers, content=body)
    retry = c.post("/v1/events", headers=headers, content=body)
    assert first.json() == retry.json() and retry.headers["Idempotent-Replayed"] == "true"
    other = c.post(
        "/v1/events", headers=headers, content=json.dumps([event_content(call("an", 8))])
    )
    assert other.status_code == 409


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER, Role.PLAN_ADMIN])
def test_only_integration_and_finance_may_push_events(s: Settings, role: Role) -> None:
    response = client(s).post("/v1/events", headers=auth(s, role, "an"), content="[]")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
