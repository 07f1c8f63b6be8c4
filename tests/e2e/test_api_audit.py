"""The audit API on real stores (finance only): explain chains, verification of the
tamper-evident log (including a row edited in the database), and the audit pack as a zip."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import orjson
import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client, seed
from tests.integration.test_audit import rows, state_at

URLS = ["/v1/audit/an/2026-Q1", "/v1/audit/verify", "/v1/audit/export/2026-Q1"]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    configured = api_settings(sqlite_settings(tmp_path_factory.mktemp("audit")))
    seed(configured)
    return configured


@pytest.fixture(scope="module")
def c(shared: Settings) -> TestClient:
    return client(shared)


def fin(s: Settings) -> dict[str, str]:
    return auth(s, Role.FINANCE, "fin")


def test_explain_walks_every_line_to_its_rule_and_events(shared: Settings, c: TestClient) -> None:
    body = c.get("/v1/audit/an/2026-Q1", headers=fin(shared)).json()
    [statement] = body["statements"]
    assert statement["total"] == "17700000" and statement["hash"].startswith("sha256:")
    assert [ch["line"]["amount"] for ch in body["chains"]] == ["3000000", "7500000", "7200000"]
    first = body["chains"][0]
    assert first["rule"]["component"]["id"] == "commission"
    assert {e["event_id"] for e in first["events"]} >= {"won-D1", "quota-an-2026-Q1"}
    assert all(e["recorded_at"] and e["position"] > 0 for e in first["events"])
    past = c.get(
        "/v1/audit/an/2026-Q1", params={"as_of": "2030-01-01T00:00:00Z"}, headers=fin(shared)
    )
    assert past.status_code == 200 and "Cache-Control" not in past.headers  # not a past instant


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/v1/audit/an/2026-Q9", 422, "period"),
        ("/v1/audit/an/2026-Q1?as_of=never", 422, "as_of"),
        ("/v1/audit/export/2026-13", 422, "period"),
        ("/v1/audit/ghost/2026-Q1", 404, None),
        ("/v1/audit/an/2025-Q1", 404, None),  # no plan covered An then
    ],
)
def test_explain_and_export_bad_input(
    shared: Settings, c: TestClient, url: str, status: int, field: str | None
) -> None:
    response = c.get(url, headers=fin(shared))
    assert response.status_code == status, response.text
    if field is not None:
        assert field in [d["field"] for d in response.json()["error"]["details"]]


def test_export_is_a_zip_of_the_audit_pack(shared: Settings, c: TestClient) -> None:
    response = c.get("/v1/audit/export/2026-Q1", headers=fin(shared))
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert 'filename="audit-pack-2026-Q1.zip"' in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as pack:
        names = set(pack.namelist())
        assert {"2026-Q1/manifest.json", "2026-Q1/statements.json", "2026-Q1/payouts.csv"} <= names
        statements = json.loads(pack.read("2026-Q1/statements.json"))
        assert [s["rep_id"] for s in statements] == ["an", "binh", "chau", "mgr"]
        manifest = json.loads(pack.read("2026-Q1/manifest.json"))
        for name, digest in manifest["files"].items():  # the pack checks itself
            assert digest == "sha256:" + hashlib.sha256(pack.read(f"2026-Q1/{name}")).hexdigest()
    assert (manifest["period"], manifest["status"], manifest["statements"]) == (
        "2026-Q1",
        "open",
        4,
    )


def test_verify_finds_an_edited_row_on_both_stores(settings: Settings) -> None:
    s = api_settings(settings)
    seed(s)
    c = client(s)
    clean = c.get("/v1/audit/verify", headers=fin(s))
    assert clean.status_code == 200, clean.text
    assert clean.json() == {
        "ok": True,
        "status": "ok",
        "intact": True,
        "events": 10,
        "periods": 0,
        "summary": "not verified: no signed checkpoint covers the log (up to 10)",
        "warnings": [],
        "findings": [],
        "quarantined": [],
    }
    with EventStore(s) as store:
        target = next(r for r in store.read() if r.event.event_id == "won-D1").position
        data = orjson.loads(state_at(store, target))
    data["event"]["amount"] = "490000000"  # inflate a deal behind the chain's back
    rows(s)(
        "UPDATE stored_events SET state = %s WHERE notification_id = %s",
        (orjson.dumps(data), target),
    )
    tampered = c.get("/v1/audit/verify", headers=fin(s))
    assert tampered.status_code == 200
    body = tampered.json()
    assert body["ok"] is False
    first = body["findings"][0]
    assert (first["kind"], first["position"], first["event_id"]) == ("altered", target, "won-D1")


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.FINANCE, 200), (Role.REP, 403), (Role.MANAGER, 403), (Role.PLAN_ADMIN, 403),
     (Role.INTEGRATION, 403)],
)  # fmt: skip
def test_audit_is_for_finance_only(
    shared: Settings, c: TestClient, url: str, role: Role, status: int
) -> None:
    response = c.get(url, headers=auth(shared, role, "an"))
    assert response.status_code == status, response.text


@pytest.mark.parametrize("url", URLS)
def test_credentials_are_required(c: TestClient, url: str) -> None:
    response = c.get(url)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
