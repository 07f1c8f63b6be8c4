"""Leaderboards and KPIs over HTTP on real stores: content, bad input, and each role's access
(boards for every human role and never pay; KPIs for managers, finance and plan admins)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from incentive_engine.domain.events import ActivityLogged
from incentive_engine.domain.kpis import DEFINITIONS, KPIS
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client, seed
from tests.examples.plans import plan, tiered

RULES = {
    "activities": {"meeting": 3},
    "won_deal": 10,
    "per_amount": {"step": 10_000_000, "points": 1},
}
PAY_WORDS = ("pay", "commission", "earned", "total_paid", "amount", "statement")


def seed_boards(settings: Settings) -> Settings:
    """The shared seed, plus points rules and a meeting for Binh."""
    configured = api_settings(settings)
    seed(configured)
    with EventStore(configured) as store:
        store.append(
            [
                publication(plan(tiered(), version=2, points=RULES).plan),
                ActivityLogged(
                    event_id="m1", rep_id="binh", kind="meeting", occurred_at="2026-01-05T03:00:00Z"
                ),
            ]
        )
    return configured


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return seed_boards(sqlite_settings(tmp_path_factory.mktemp("boards")))


@pytest.fixture(scope="module")
def c(shared: Settings) -> TestClient:
    return client(shared)


# -------------------------------------------------------------- leaderboards


def test_points_board_on_both_stores(settings: Settings) -> None:
    s = seed_boards(settings)
    response = client(s).get(
        "/v1/leaderboards/points", params={"period": "2026-Q1"}, headers=auth(s, Role.REP, "binh")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(r["rank"], r["rep_id"], r["value"]) for r in body["items"]] == [
        (1, "an", "49"),
        (2, "binh", "23"),
        (3, "chau", "0"),
        (4, "mgr", "0"),
    ]
    assert body["you"]["rep_id"] == "binh" and body["you"]["rank"] == 2
    assert (body["metric"], body["scope"], body["period"], body["total"]) == (
        "points",
        "company",
        "2026-Q1",
        4,
    )


@pytest.mark.parametrize(
    "metric", ["points", "revenue", "attainment", "deals_won", "new_customers"]
)
def test_no_board_shows_pay(shared: Settings, c: TestClient, metric: str) -> None:
    body = c.get(
        f"/v1/leaderboards/{metric}",
        params={"period": "2026-Q1"},
        headers=auth(shared, Role.REP, "an"),
    ).json()
    assert body["items"]
    for row in body["items"]:
        assert set(row) == {
            "rank",
            "rep_id",
            "name",
            "value",
            "reached_at",
            "previous_rank",
            "movement",
        }
        assert not any(word in key for key in row for word in PAY_WORDS)


def test_board_pages_scopes_and_as_of(shared: Settings, c: TestClient) -> None:
    h = auth(shared, Role.MANAGER, "mgr")
    page = c.get("/v1/leaderboards/revenue", params={"period": "2026-Q1", "limit": 1, "offset": 1},
                 headers=h).json()  # fmt: skip
    assert [r["rep_id"] for r in page["items"]] == ["binh"] and page["total"] == 4
    team = c.get("/v1/leaderboards/deals_won", params={"period": "2026-02", "scope": "team:TP.HCM 1"},
                 headers=h).json()  # fmt: skip
    assert [(r["rep_id"], r["value"]) for r in team["items"][:2]] == [("an", "1"), ("binh", "1")]
    past = c.get("/v1/leaderboards/revenue", headers=h,
                 params={"period": "2026-Q1", "as_of": "2026-01-01T00:00:00Z"})  # fmt: skip
    assert past.status_code == 200 and past.json()["items"] == []
    assert past.headers["Cache-Control"] == "private, no-cache"  # backfill may change it
    assert c.get(past.url, headers={**h, "If-None-Match": past.headers["ETag"]}).status_code == 304
    now = c.get("/v1/leaderboards/revenue", params={"period": "2026-Q1"}, headers=h)
    assert "ETag" not in now.headers and "Cache-Control" not in now.headers


@pytest.mark.parametrize(
    ("params", "metric", "field"),
    [
        ({}, "salary", "metric"),
        ({"period": "2026-Q9"}, "points", "period"),
        ({"period": "2026-W02"}, "attainment", "period"),  # attainment is per quota period
        ({"scope": "team:Nowhere"}, "points", "scope"),
        ({"scope": "galaxy"}, "points", "scope"),
        ({"scope": "territory:T-NONE"}, "revenue", "scope"),
        ({"limit": 0}, "points", "limit"),
        ({"as_of": "soon"}, "points", "as_of"),
    ],
)
def test_board_bad_input(
    shared: Settings, c: TestClient, params: dict, metric: str, field: str
) -> None:
    response = c.get(
        f"/v1/leaderboards/{metric}", params=params, headers=auth(shared, Role.FINANCE, "fin")
    )
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["error"]["details"]]


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.REP, 200), (Role.MANAGER, 200), (Role.FINANCE, 200), (Role.PLAN_ADMIN, 200),
     (Role.INTEGRATION, 403)],
)  # fmt: skip
def test_board_access_by_role(shared: Settings, c: TestClient, role: Role, status: int) -> None:
    response = c.get(
        "/v1/leaderboards/points", params={"period": "2026-Q1"}, headers=auth(shared, role, "x")
    )
    assert response.status_code == status, response.text


# ---------------------------------------------------------------------- KPIs


def test_kpi_catalogue(shared: Settings, c: TestClient) -> None:
    body = c.get(
        "/v1/kpis", params={"limit": 1000}, headers=auth(shared, Role.PLAN_ADMIN, "pa")
    ).json()
    assert [k["name"] for k in body["items"]] == list(KPIS) and body["total"] == len(KPIS)
    assert {k["name"]: k["definition"] for k in body["items"]} == DEFINITIONS
    leads = body["items"][0]
    assert (leads["group"], leads["trend"], leads["targets"]) == ("leads", True, "sources")


def test_kpi_rows_trend_and_pages(shared: Settings, c: TestClient) -> None:
    h = auth(shared, Role.MANAGER, "mgr")
    body = c.get("/v1/kpis/deal_size", params={"period": "2026-Q1", "by": "rep"}, headers=h).json()
    assert [(r["group"], r["deals"], r["total"]) for r in body["items"]] == [
        ("an", 1, "390000000"),
        ("binh", 1, "100000000"),
    ]
    assert (body["name"], body["by"], body["period"], body["trend"]) == (
        "deal_size",
        "rep",
        "2026-Q1",
        False,
    )
    company = c.get("/v1/kpis/win_rate", params={"period": "2026-Q1"}, headers=h).json()
    assert company["items"] == []  # the company less mgr's team is chau alone: not shown
    h = auth(shared, Role.FINANCE, "fin")
    company = c.get("/v1/kpis/win_rate", params={"period": "2026-Q1"}, headers=h).json()
    assert company["items"] == [{"group": "company", "won": 2, "lost": 0, "win_rate_pct": "100"}]
    trend = c.get(
        "/v1/kpis/win_rate", params={"period": "2026-Q1", "trend": "true"}, headers=h
    ).json()
    assert trend["trend"] is True
    assert [(r["measure"], r["value"], r["previous"]) for r in trend["items"]] == [
        ("won", 2, 0),
        ("lost", 0, 0),
        ("win_rate_pct", "100", None),
    ]
    page = c.get("/v1/kpis/deal_size", params={"period": "2026-Q1", "by": "rep", "offset": 1},
                 headers=h).json()  # fmt: skip
    assert [r["group"] for r in page["items"]] == ["binh"] and page["total"] == 2
    on = c.get(
        "/v1/kpis/win_rate", params={"period": "2026-Q1", "on": "2026-02-10"}, headers=h
    ).json()
    assert on["on"] == "2026-02-10" and on["items"][0]["won"] == 1
    past = c.get("/v1/kpis/win_rate", params={"period": "2026-Q1", "as_of": "2026-01-01T00:00:00Z"},
                 headers=h)  # fmt: skip
    assert past.headers["Cache-Control"] == "private, no-cache"  # backfill may change it
    assert past.json()["items"][0]["won"] == 0


def test_unknown_kpi_is_404(shared: Settings, c: TestClient) -> None:
    response = c.get("/v1/kpis/happiness", headers=auth(shared, Role.FINANCE, "fin"))
    assert (
        response.status_code == 404
        and "unknown KPI 'happiness'" in response.json()["error"]["message"]
    )


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("win_rate", {"by": "galaxy"}, "by"),
        ("win_rate", {"period": "2026-Q9"}, "period"),
        ("win_rate", {"period": "2026-W02"}, "period"),  # KPIs are by month, quarter or year
        ("forecast", {"period": "2026-Q1", "trend": "true"}, "trend"),  # no trend
        ("win_rate", {"period": "2026-Q1", "target": "web=40"}, "target"),  # takes no targets
        ("leads", {"period": "2026-Q1", "target": "web"}, "target"),
        ("leads", {"period": "2026-Q1", "target": "nowhere=4"}, "target"),
        ("deal_size", {"period": "2026-Q1", "currency": "XYZ"}, "currency"),
        ("win_rate", {"on": "2026-13-01"}, "on"),
        ("win_rate", {"trend": "maybe"}, "trend"),
        ("win_rate", {"limit": 1001}, "limit"),
    ],
)
def test_kpi_bad_input(
    shared: Settings, c: TestClient, name: str, params: dict, field: str
) -> None:
    response = c.get(f"/v1/kpis/{name}", params=params, headers=auth(shared, Role.FINANCE, "fin"))
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["error"]["details"]]


@pytest.mark.parametrize("url", ["/v1/kpis", "/v1/kpis/win_rate?period=2026-Q1"])
@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.MANAGER, 200), (Role.FINANCE, 200), (Role.PLAN_ADMIN, 200), (Role.REP, 403),
     (Role.INTEGRATION, 403)],
)  # fmt: skip
def test_kpi_access_by_role(
    shared: Settings, c: TestClient, url: str, role: Role, status: int
) -> None:
    response = c.get(url, headers=auth(shared, role, "mgr"))
    assert response.status_code == status, response.text


@pytest.mark.parametrize("url", ["/v1/leaderboards/points", "/v1/kpis", "/v1/kpis/win_rate"])
def test_credentials_are_required(c: TestClient, url: str) -> None:
    response = c.get(url)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
