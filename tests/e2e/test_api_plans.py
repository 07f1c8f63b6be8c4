"""Plans and simulations over HTTP on real stores: validate, publish, list, read, simulate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from incentive_engine.domain.events import content_hash
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import load_plan
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client, seed
from tests.examples.plans import plan, tiered

CATALOG = Path(__file__).resolve().parents[2] / "plans" / "catalog"
FIELD_SALES = (CATALOG / "field-sales-vn.yaml").read_text(encoding="utf-8")
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture
def s(settings: Settings) -> Settings:
    """Both stores: SQLite file and PostgreSQL."""
    configured = api_settings(settings)
    seed(configured)
    return configured


@pytest.fixture
def lite(tmp_path: Path) -> Settings:
    """A SQLite store only (the role matrices and bad input, to keep them fast)."""
    configured = api_settings(sqlite_settings(tmp_path))
    seed(configured)
    return configured


def document(**changes: Any) -> dict[str, Any]:
    """The seed's example plan as a JSON-ready document, with changes."""
    doc = plan(tiered()).plan.document()
    doc.update(changes)
    return doc


def admin(s: Settings) -> dict[str, str]:
    return auth(s, Role.PLAN_ADMIN, "pa")


def headers(s: Settings, role: Role) -> dict[str, str]:
    if role is Role.INTEGRATION:
        return {"X-API-Key": "crm-key-1"}
    return auth(s, role, {"rep": "an", "manager": "mgr"}.get(role.value, role.value))


def log_position(s: Settings) -> int:
    with EventStore(s) as store:
        return store.max_position()


# ------------------------------------------------------------------ validate


def test_validate_answers_the_content_hash_of_json_and_yaml(s: Settings) -> None:
    c = client(s)
    from_yaml = c.post(
        "/v1/plans/validate",
        headers={**admin(s), "Content-Type": "application/yaml; charset=utf-8"},
        content=FIELD_SALES.encode(),
    )
    assert from_yaml.status_code == 200, from_yaml.text
    expected = content_hash(load_plan(FIELD_SALES).document())
    assert from_yaml.json() == {
        "valid": True,
        "plan_id": "field-sales-vn",
        "version": 1,
        "name": "Field sales plan — Vietnam 2026",
        "content_hash": expected,
    }
    as_json = json.dumps(load_plan(FIELD_SALES).document(), ensure_ascii=False)
    from_json = c.post("/v1/plans/validate", headers=admin(s), content=as_json)
    assert from_json.status_code == 200 and from_json.json()["content_hash"] == expected
    exact = c.post(  # numbers are read as exact decimals, never through float
        "/v1/plans/validate",
        headers=auth(s, Role.FINANCE, "fin"),
        content=json.dumps(document()).replace('"rate": "5"', '"rate": 5.000001'),
    )
    assert exact.status_code == 200
    assert exact.json()["content_hash"] != content_hash(document())
    assert log_position(s) == 10  # validating writes nothing


BAD_RATE = FIELD_SALES.replace("        rate: 5\n", "        rate: -5\n", 1)


@pytest.mark.parametrize(
    ("content", "kind", "status", "field", "reason"),
    [
        (BAD_RATE, "application/yaml", 422, "components.0.tiers.1.rate", "greater than"),
        ("plan_id: [unclosed\n", "application/yaml", 422, "line ", "expected"),
        ("- just\n- a list\n", "text/yaml", 422, "(document)", "mapping"),
        (json.dumps(document(colour="red")), "application/json", 422, "colour", "unknown field"),
        (json.dumps(document(version=0)), "application/json", 422, "version", "greater than"),
        (json.dumps(document(period="week")), "application/json", 422, "(document)", "week"),
        (json.dumps({"plan_id": "x"}), "application/json", 422, "name", "Field required"),
        ("{not json", "application/json", 400, None, "not JSON"),
        (b"\xff\xfe", "application/yaml", 400, None, "UTF-8"),
    ],
)
def test_invalid_documents_list_each_problem_with_its_path(
    lite: Settings,
    content: str | bytes,
    kind: str,
    status: int,
    field: str | None,
    reason: str,
) -> None:
    response = client(lite).post(
        "/v1/plans/validate",
        headers={**admin(lite), "Content-Type": kind},
        content=content if isinstance(content, bytes) else content.encode(),
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    if field is None:
        assert reason in error["message"]
        return
    problems = {d["field"]: d["reason"] for d in error["details"]}
    assert any(f.startswith(field) for f in problems), problems
    assert any(reason in r for f, r in problems.items() if f.startswith(field)), problems


# ------------------------------------------------------------------- publish


def test_publish_list_and_read_versions(s: Settings) -> None:
    c, h = client(s), admin(s)
    first = c.post("/v1/plans", headers={**h, **YAML}, content=FIELD_SALES.encode())
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["plan_id"], body["version"], body["already_published"]) == (
        "field-sales-vn",
        1,
        False,
    )
    assert body["event_id"] == "plan:field-sales-vn:v1" and body["position"] == 11
    again = c.post("/v1/plans", headers={**h, **YAML}, content=FIELD_SALES.encode())
    assert again.status_code == 200 and again.json()["already_published"] is True
    taken = c.post("/v1/plans", headers=h, json=document(name="Another example"))
    assert taken.status_code == 409 and "immutable" in taken.json()["error"]["message"]
    v3 = c.post("/v1/plans", headers=h, json=document(version=3))
    assert v3.status_code == 201
    lower = c.post("/v1/plans", headers=h, json=document(version=2))
    assert lower.status_code == 409 and "must rise" in lower.json()["error"]["message"]
    invalid = c.post("/v1/plans", headers=h, json=document(version="two"))
    assert (
        invalid.status_code == 422 and invalid.json()["error"]["details"][0]["field"] == "version"
    )
    assert log_position(s) == 12  # the refusals stored nothing

    listed = c.get("/v1/plans", headers=auth(s, Role.FINANCE, "fin")).json()
    assert [(v["plan_id"], v["version"]) for v in listed["items"]] == [
        ("example", 1),
        ("example", 3),
        ("field-sales-vn", 1),
    ]
    assert listed["total"] == 3 and listed["items"][2]["content_hash"] == body["content_hash"]
    page = c.get("/v1/plans", headers=h, params={"limit": 1, "offset": 1}).json()
    assert [v["version"] for v in page["items"]] == [3] and page["total"] == 3
    one = c.get("/v1/plans", headers=h, params={"plan_id": "field-sales-vn"}).json()
    assert one["total"] == 1

    detail = c.get("/v1/plans/field-sales-vn/versions/1", headers=h)
    assert detail.status_code == 200
    doc = detail.json()
    assert doc["published_by"] == "pa" and doc["recorded_at"]
    assert doc["document"] == load_plan(FIELD_SALES).document()
    assert doc["effective_from"] == "2026-01-01" and doc["period"] == "quarter"
    assert c.get("/v1/plans/field-sales-vn/versions/2", headers=h).status_code == 404
    assert c.get("/v1/plans/nope/versions/1", headers=h).status_code == 404
    assert c.get("/v1/plans/example/versions/two", headers=h).status_code == 422
    for params in ({"limit": 0}, {"offset": -1}):
        assert c.get("/v1/plans", headers=h, params=params).status_code == 422


def test_the_plan_schema_is_served(lite: Settings) -> None:
    schema = client(lite).get("/v1/plans/schema", headers=admin(lite)).json()
    assert "components" in schema["properties"] and schema["$schema"].startswith("https://")


# --------------------------------------------------------------- simulations


def test_simulate_a_draft_or_a_published_version_writes_nothing(s: Settings) -> None:
    c = client(s)
    position = log_position(s)
    body = {
        "plan": document(version=2, components=[tiered("retroactive")]),
        "baseline": "example@1",
        "from": "2026-Q1",
        "to": "2026-Q1",
    }
    response = c.post("/v1/simulations", headers=auth(s, Role.FINANCE, "fin"), json=body)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["draft"]["version"] == 2 and report["baseline"]["version"] == 1
    assert report["periods"] == ["2026-Q1"]
    an = next(r for r in report["reps"] if r["rep_id"] == "an")
    assert (an["baseline"], an["simulated"], an["difference"]) == (
        "17700000",
        "31200000",
        "13500000",
    )
    assert log_position(s) == position

    published = c.post(
        "/v1/plans",
        headers=admin(s),
        json=document(version=2, components=[tiered("retroactive")]),
    )
    assert published.status_code == 201
    again = c.post(
        "/v1/simulations",
        headers=admin(s),
        json={
            "plan_version": "example@2",
            "baseline": "example@1",
            "from": "2026-Q1",
            "to": "2026-Q2",
        },
    )
    assert again.status_code == 200, again.text
    assert again.json()["periods"] == ["2026-Q1", "2026-Q2"]
    assert again.json()["simulated_total"] == report["simulated_total"]


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"plan_version": "example@1"}, 422, "plan"),  # both plan and plan_version
        ({"plan": None}, 422, "plan"),  # neither
        ({"baseline": "example"}, 422, "baseline"),
        ({"baseline": "nope@1"}, 404, None),
        ({"from": "2026-13"}, 422, "period"),
        ({"from": "2026-01", "to": "2026-03"}, 422, "from"),  # months against a quarterly plan
        ({"from": "2026-Q2", "to": "2026-Q1"}, 422, "from"),
        ({"plan": {"plan_id": "x"}}, 422, "plan.name"),
        ({"plan": document(currency="USD", version=2)}, 422, "from"),
        ({"colour": "red"}, 422, "colour"),
        ({"baseline": None}, 422, "baseline"),
        ({"plan": "not a document"}, 422, "plan"),
        ({"from": "2026-Q1", "to": "2200-Q1"}, 422, "to"),  # past the longest window
    ],
)
def test_bad_simulations_are_refused(
    lite: Settings, changes: dict[str, Any], status: int, field: str | None
) -> None:
    body: dict[str, Any] = {
        "plan": document(version=2),
        "baseline": "example@1",
        "from": "2026-Q1",
        "to": "2026-Q1",
    }
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}
    response = client(lite).post("/v1/simulations", headers=admin(lite), json=body)
    assert response.status_code == status, response.text
    if field is not None:
        fields = [d["field"] for d in response.json()["error"]["details"]]
        assert any(f.startswith(field) for f in fields), fields


def test_a_yaml_alias_bomb_is_refused_at_once(lite: Settings) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    response = client(lite).post(
        "/v1/plans/validate", headers={**admin(lite), **YAML}, content="\n".join(lines)
    )
    assert response.status_code == 422, response.text
    assert "aliases" in response.json()["error"]["details"][0]["reason"]


def test_a_simulation_body_must_be_json(lite: Settings) -> None:
    response = client(lite).post("/v1/simulations", headers=admin(lite), content="{nope")
    assert response.status_code == 400


# -------------------------------------------------------------------- access


def call(c: TestClient, s: Settings, endpoint: str, h: dict[str, str]) -> int:
    """Call one endpoint with a valid request; its status."""
    match endpoint:
        case "validate":
            r = c.post("/v1/plans/validate", headers=h, json=document())
        case "publish":
            r = c.post("/v1/plans", headers=h, json=document(version=5))
        case "list":
            r = c.get("/v1/plans", headers=h)
        case "version":
            r = c.get("/v1/plans/example/versions/1", headers=h)
        case "schema":
            r = c.get("/v1/plans/schema", headers=h)
        case _:
            body = {"plan": document(version=2), "baseline": "example@1", "from": "2026-Q1"}
            r = c.post("/v1/simulations", headers=h, json={**body, "to": "2026-Q1"})
    return r.status_code


ENDPOINTS = ("validate", "publish", "list", "version", "schema", "simulate")


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.PLAN_ADMIN, (200, 201, 200, 200, 200, 200)),
        (Role.FINANCE, (200, 403, 200, 200, 200, 200)),  # finance reads and simulates
        (Role.MANAGER, (403,) * 6),
        (Role.REP, (403,) * 6),
        (Role.INTEGRATION, (403,) * 6),
    ],
)
def test_plan_endpoints_by_role(lite: Settings, role: Role, expected: tuple[int, ...]) -> None:
    c = client(lite)
    got = tuple(call(c, lite, e, headers(lite, role)) for e in ENDPOINTS)
    assert dict(zip(ENDPOINTS, got, strict=True)) == dict(zip(ENDPOINTS, expected, strict=True))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_plan_endpoints_need_credentials(lite: Settings, endpoint: str) -> None:
    c = client(lite)
    assert call(c, lite, endpoint, {}) == 401
    assert call(c, lite, endpoint, {"Authorization": "Bearer nonsense"}) == 401


def test_publishing_records_who_and_why(s: Settings) -> None:
    api = client(s)
    doc = document(version=2, name="Example plan, v2")
    answer = api.post("/v1/plans?reason=New%20tiers%20for%20Q2", json=doc, headers=admin(s))
    assert answer.status_code == 201, answer.text
    found = api.get("/v1/plans/example/versions/2", headers=admin(s)).json()
    assert found["published_by"] == "pa" and found["reason"] == "New tiers for Q2"
    first = api.get("/v1/plans/example/versions/1", headers=admin(s)).json()
    assert first["reason"] is None  # the seed's event, stored without one, keeps its hash
    too_long = api.post("/v1/plans?reason=" + "x" * 501, json=document(version=3), headers=admin(s))
    assert too_long.status_code == 422
