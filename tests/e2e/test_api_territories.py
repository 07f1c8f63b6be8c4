"""Territories, quotas, attainment and quota allocation over HTTP on real stores: content,
bad input, and each role's access (a rep sees only their own attainment row)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from incentive_engine.domain.events import QuotaSet
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client, seed
from tests.factories import assigned, territory

IMMUTABLE = "private, no-cache"  # as of a past instant: revalidate (backfill)


def seed_territories(settings: Settings) -> Settings:
    """The shared seed, plus two territories (TP.HCM owned by An, Hà Nội by Châu) and a
    territory quota."""
    configured = api_settings(settings)
    seed(configured)
    with EventStore(configured) as store:
        store.append(
            [
                territory("T-HCM", region="TP.HCM"),
                territory("T-HN", region="Hà Nội"),
                assigned("T-HCM", "an"),
                assigned("T-HN", "chau"),
                QuotaSet(event_id="quota-T-HCM", subject="territory", subject_id="T-HCM",
                         period="2026-Q1", amount=400_000_000, currency="VND"),
            ]
        )  # fmt: skip
    return configured


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return seed_territories(sqlite_settings(tmp_path_factory.mktemp("territories")))


@pytest.fixture(scope="module")
def c(shared: Settings) -> TestClient:
    return client(shared)


@pytest.fixture
def fresh(tmp_path: Path) -> Settings:
    return seed_territories(sqlite_settings(tmp_path))


def fin(s: Settings) -> dict[str, str]:
    return auth(s, Role.FINANCE, "fin")


# -------------------------------------------------------------- territories


def test_territories_with_owners(shared: Settings, c: TestClient) -> None:
    h = auth(shared, Role.MANAGER, "mgr")
    body = c.get("/v1/territories", params={"on": "2026-03-31"}, headers=h).json()
    assert body["on"] == "2026-03-31" and body["total"] == 2
    assert [(t["territory_id"], t["criteria"], t["owners"]) for t in body["items"]] == [
        ("T-HCM", {"region": "TP.HCM"}, [{"rep_id": "an", "share": "100"}]),
        ("T-HN", {"region": "Hà Nội"}, [{"rep_id": "chau", "share": "100"}]),
    ]
    assert body["items"][0]["owned_since"] == "2025-01-01"
    page = c.get("/v1/territories", params={"on": "2026-03-31", "offset": 1, "limit": 1}, headers=h)
    assert [t["territory_id"] for t in page.json()["items"]] == ["T-HN"]
    before = c.get("/v1/territories", params={"on": "2024-12-31"}, headers=h).json()
    assert before["items"] == []
    past = c.get(
        "/v1/territories", params={"on": "2026-03-31", "as_of": "2026-01-01T00:00:00Z"}, headers=h
    )
    assert past.json()["items"] == [] and past.headers["Cache-Control"] == IMMUTABLE


def test_quotas_filtered_and_sorted(shared: Settings, c: TestClient) -> None:
    h = fin(shared)
    body = c.get("/v1/quotas", params={"period": "2026-Q1"}, headers=h).json()
    assert [(q["subject"], q["subject_id"], q["amount"]) for q in body["items"]] == [
        ("rep", "an", "300000000"),
        ("rep", "binh", "300000000"),
        ("rep", "chau", "300000000"),
        ("territory", "T-HCM", "400000000"),
    ]
    assert body["items"][3]["name"] == "T-HCM" and body["items"][0]["name"] == "Nguyễn Văn An"
    only = c.get("/v1/quotas", params={"subject": "territory"}, headers=h).json()
    assert [q["subject_id"] for q in only["items"]] == ["T-HCM"]
    assert c.get("/v1/quotas", params={"period": "2027-Q1"}, headers=h).json()["total"] == 0


# --------------------------------------------------------------- attainment


@pytest.mark.parametrize(
    ("role", "subject", "params", "status", "rows"),
    [
        (Role.FINANCE, "fin", {}, 200, ["an", "binh", "chau", "mgr"]),
        (Role.PLAN_ADMIN, "pa", {}, 403, None),  # revenue and attainment per rep are pay
        (Role.PLAN_ADMIN, "pa", {"by": "territory"}, 200, []),  # one owner each: one person
        (Role.MANAGER, "mgr", {}, 200, ["an", "binh", "mgr"]),
        (Role.MANAGER, "mgr", {"rep": "an"}, 200, ["an"]),
        (Role.MANAGER, "mgr", {"rep": "chau"}, 403, None),  # not their report
        (Role.MANAGER, "mgr", {"by": "territory"}, 200, ["T-HCM"]),  # owned by a report
        # the team also has chau, not a report: its total less the reports' is chau's
        (Role.MANAGER, "mgr", {"by": "team"}, 200, []),
        (Role.REP, "an", {}, 200, ["an"]),
        (Role.REP, "an", {"rep": "an"}, 200, ["an"]),
        (Role.REP, "an", {"rep": "binh"}, 403, None),  # another rep's id in the URL
        (Role.REP, "an", {"rep": "ghost"}, 403, None),  # probing ids
        (Role.REP, "an", {"by": "team"}, 403, None),
        (Role.FINANCE, "fin", {"rep": "ghost"}, 404, None),
        (Role.FINANCE, "fin", {"by": "territory"}, 200, ["T-HCM", "T-HN"]),
        (Role.INTEGRATION, "crm", {}, 403, None),
    ],
)
def test_attainment_by_role(
    shared: Settings,
    c: TestClient,
    role: Role,
    subject: str,
    params: dict,
    status: int,
    rows: list[str] | None,
) -> None:
    response = c.get("/v1/attainment/2026-Q1", params=params, headers=auth(shared, role, subject))
    assert response.status_code == status, response.text
    if rows is not None:
        assert [r["subject_id"] for r in response.json()["items"]] == rows


def test_attainment_figures_and_pages(shared: Settings, c: TestClient) -> None:
    h = fin(shared)
    body = c.get("/v1/attainment/2026-Q1", params={"limit": 1}, headers=h).json()
    [an] = body["items"]
    assert (an["quota"], an["credited"], an["attainment"]) == ("300000000", "390000000", "130")
    assert (body["total"], body["by"], body["period"]) == (4, "rep", "2026-Q1")
    hcm = c.get("/v1/attainment/2026-Q1", params={"by": "territory"}, headers=h).json()["items"][0]
    assert (hcm["credited"], hcm["attainment"]) == ("490000000", "122.5")
    past = c.get("/v1/attainment/2026-Q1", params={"as_of": "2026-01-01T00:00:00Z"}, headers=h)
    assert past.headers["Cache-Control"] == IMMUTABLE and past.headers["ETag"]


# --------------------------------------------------------------- allocation


def test_allocate_dry_run_then_publish_on_both_stores(settings: Settings) -> None:
    s = seed_territories(settings)
    c, h = client(s), auth(s, Role.PLAN_ADMIN, "pa")
    request = {"period": "2027-Q1", "method": "uplift", "rate": "20"}
    dry = c.post("/v1/quotas/allocate", headers=h, json=request)
    assert dry.status_code == 200, dry.text
    table = dry.json()
    assert table["dry_run"] is True and table["published"] is None
    assert [(r["subject_id"], r["allocated"], r["action"]) for r in table["rows"]] == [
        ("an", "468000000", "set"),
        ("binh", "120000000", "set"),
        ("chau", "0", "by hand"),
    ]
    assert (table["total"], table["implied_change"]) == ("588000000", "20.00")
    assert c.get("/v1/quotas", params={"period": "2027-Q1"}, headers=h).json()["total"] == 0
    published = c.post("/v1/quotas/allocate", headers=h, json={**request, "dry_run": False})
    assert published.status_code == 200, published.text
    assert published.json()["published"] == {
        "stored": 2,
        "set": 2,
        "changed": 0,
        "unchanged": 0,
        "by_hand": 1,
    }
    quotas = c.get("/v1/quotas", params={"period": "2027-Q1"}, headers=h).json()["items"]
    assert [(q["subject_id"], q["amount"]) for q in quotas] == [
        ("an", "468000000"),
        ("binh", "120000000"),
    ]
    again = c.post("/v1/quotas/allocate", headers=h, json={**request, "dry_run": False}).json()
    assert again["published"] == {"stored": 0, "set": 0, "changed": 0, "unchanged": 2, "by_hand": 1}
    assert [r["action"] for r in again["rows"]] == ["unchanged", "unchanged", "by hand"]


def test_allocate_by_territory_with_target_and_cascade(fresh: Settings) -> None:
    c = client(fresh)
    body = c.post(
        "/v1/quotas/allocate",
        headers=fin(fresh),
        json={
            "period": "2027-Q1",
            "method": "growth",
            "rate": 10,
            "target": "600000000",
            "cascade": True,
        },
    ).json()
    assert [(r["subject_id"], r["allocated"]) for r in body["rows"]] == [
        ("T-HCM", "600000000"),
        ("T-HN", "0"),
    ]
    assert [(r["subject_id"], r["allocated"]) for r in body["cascaded"]] == [
        ("an", "600000000"),
        ("chau", "0"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"period": "2027-Q9", "method": "uplift"}, "period"),
        ({"period": "2027-Q1", "method": "magic"}, "method"),
        ({"period": "2027-Q1"}, "method"),
        ({"period": "2027-Q1", "method": "uplift", "rate": "lots"}, "rate"),
        ({"period": "2027-Q1", "method": "uplift", "rate": "-150"}, "rate"),
        ({"period": "2027-Q1", "method": "uplift", "market": {"TP.HCM": 8}}, "market"),
        ({"period": "2027-Q1", "method": "market"}, "market"),
        ({"period": "2027-Q1", "method": "uplift", "cascade": True}, "cascade"),
        ({"period": "2027-Q1", "method": "uplift", "target": "-5"}, "target"),
        ({"period": "2027-Q1", "method": "uplift", "currency": "XYZ"}, "currency"),
        ({"period": "2027-Q1", "method": "uplift", "dry_run": "perhaps"}, "dry_run"),
        ({"period": "2027-Q1", "method": "uplift", "surprise": 1}, "surprise"),
    ],
)
def test_allocate_bad_input(shared: Settings, c: TestClient, body: dict, field: str) -> None:
    response = c.post("/v1/quotas/allocate", headers=fin(shared), json=body)
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["error"]["details"]]


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/v1/territories", {"on": "2026-02-30"}, "on"),
        ("/v1/territories", {"limit": 0}, "limit"),
        ("/v1/quotas", {"period": "2026-Q9"}, "period"),
        ("/v1/quotas", {"subject": "planet"}, "subject"),
        ("/v1/quotas", {"offset": -3}, "offset"),
        ("/v1/attainment/2026-Q9", {}, "period"),
        ("/v1/attainment/2026-Q1", {"by": "planet"}, "by"),
        ("/v1/attainment/2026-Q1", {"by": "team", "rep": "an"}, "rep"),
        ("/v1/attainment/2026-Q1", {"as_of": "later"}, "as_of"),
    ],
)
def test_lists_bad_input(
    shared: Settings, c: TestClient, url: str, params: dict, field: str
) -> None:
    response = c.get(url, params=params, headers=fin(shared))
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["error"]["details"]]


@pytest.mark.parametrize("url", ["/v1/territories", "/v1/quotas"])
@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.MANAGER, 200), (Role.FINANCE, 200), (Role.PLAN_ADMIN, 200), (Role.REP, 403),
     (Role.INTEGRATION, 403)],
)  # fmt: skip
def test_lists_access_by_role(
    shared: Settings, c: TestClient, url: str, role: Role, status: int
) -> None:
    assert c.get(url, headers=auth(shared, role, "mgr")).status_code == status


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.FINANCE, 200), (Role.PLAN_ADMIN, 200), (Role.MANAGER, 403), (Role.REP, 403),
     (Role.INTEGRATION, 403)],
)  # fmt: skip
def test_allocate_access_by_role(shared: Settings, c: TestClient, role: Role, status: int) -> None:
    response = c.post("/v1/quotas/allocate", headers=auth(shared, role, "mgr"),
                      json={"period": "2027-Q1", "method": "uplift"})  # fmt: skip
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", "/v1/territories"), ("get", "/v1/quotas"), ("get", "/v1/attainment/2026-Q1"),
     ("post", "/v1/quotas/allocate")],
)  # fmt: skip
def test_credentials_are_required(c: TestClient, method: str, url: str) -> None:
    response = c.request(
        method, url, json={"period": "2027-Q1", "method": "uplift"} if method == "post" else None
    )
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
