"""The pay API on real stores: earnings, points, badges, payouts (JSON and CSV) and period
close, with each role's access (a rep never reads another rep's pay by changing the URL)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from incentive_engine.domain.events import ActivityLogged, RepTransferred
from incentive_engine.domain.periods import Period, PeriodKind
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client, seed
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import customer, won

RULES = {"activities": {"call_connected": 1, "meeting": 3}, "won_deal": 10,
         "per_amount": {"step": 10_000_000, "points": 1}, "new_customer": 20}  # fmt: skip
BADGES = [{"id": "first", "name": "First won deal", "kind": "first_won_deal"}]


def seed_pay(settings: Settings) -> Settings:
    """The shared seed, plus version 2 of the plan with points and badges, a meeting, and a
    second quarter (a quota and a deal for An)."""
    configured = api_settings(settings)
    seed(configured)
    with EventStore(configured) as store:
        store.append(
            [
                publication(plan(tiered(), version=2, points=RULES, badges=BADGES).plan),
                ActivityLogged(
                    event_id="m1", rep_id="binh", kind="meeting", occurred_at="2026-01-05T03:00:00Z"
                ),
                quota("an", 300_000_000, "2026-Q2"),
                won("D3", 50_000_000, rep_id="an", close_date="2026-04-15",
                    customer=customer(customer_id="C-2", is_new=True)),
            ]
        )  # fmt: skip
    return configured


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One seeded SQLite store for the read-only tests of this module."""
    return seed_pay(sqlite_settings(tmp_path_factory.mktemp("pay")))


@pytest.fixture(scope="module")
def c(shared: Settings) -> TestClient:
    return client(shared)


@pytest.fixture
def fresh(tmp_path: Path) -> Settings:
    """A seeded SQLite store of its own (for tests that close periods)."""
    return seed_pay(sqlite_settings(tmp_path))


def fin(s: Settings) -> dict[str, str]:
    return auth(s, Role.FINANCE, "fin")


# ------------------------------------------------------------------- access

ACCESS = [
    (Role.REP, "an", "an", 200),
    (Role.REP, "binh", "an", 403),  # changing the id in the URL does not reveal pay
    (Role.REP, "an", "ghost", 403),  # nor does probing ids
    (Role.MANAGER, "mgr", "an", 200),
    (Role.MANAGER, "mgr", "mgr", 200),
    (Role.MANAGER, "mgr", "chau", 403),  # not their report
    (Role.MANAGER, "an", "binh", 403),
    (Role.FINANCE, "fin", "an", 200),
    (Role.FINANCE, "fin", "ghost", 404),
    (Role.PLAN_ADMIN, "pa", "an", 403),
    (Role.INTEGRATION, "crm", "an", 403),
]
REP_URLS = {
    "earnings": "/v1/reps/{rep}/earnings",
    "points": "/v1/reps/{rep}/points?period=2026-Q1",
    "badges": "/v1/reps/{rep}/badges?on=2026-03-31",
}


@pytest.mark.parametrize("what", sorted(REP_URLS))
@pytest.mark.parametrize(("role", "subject", "rep", "status"), ACCESS)
def test_rep_figures_by_role(
    shared: Settings, c: TestClient, what: str, role: Role, subject: str, rep: str, status: int
) -> None:
    response = c.get(REP_URLS[what].format(rep=rep), headers=auth(shared, role, subject))
    assert response.status_code == status, response.text
    body = response.json()
    if status == 200:
        assert body["rep_id"] == rep
    else:
        assert body["error"]["code"] == {403: "forbidden", 404: "not_found"}[status]
        assert "ghost" not in body["error"]["message"] or role is Role.FINANCE


@pytest.mark.parametrize(
    "url",
    [
        *(u.format(rep="an") for u in REP_URLS.values()),
        "/v1/payouts/2026-Q1",
        "/v1/periods/2026-Q1/close",
    ],
)
def test_credentials_are_required(c: TestClient, url: str) -> None:
    response = c.post(url, json={"closed_by": "x"}) if url.endswith("close") else c.get(url)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.FINANCE, 200),
        (Role.REP, 403),
        (Role.MANAGER, 403),
        (Role.PLAN_ADMIN, 403),
        (Role.INTEGRATION, 403),
    ],
)
def test_payouts_are_for_finance_only(
    shared: Settings, c: TestClient, role: Role, status: int
) -> None:
    response = c.get("/v1/payouts/2026-Q1", headers=auth(shared, role, "an"))
    assert response.status_code == status, response.text


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER, Role.PLAN_ADMIN, Role.INTEGRATION])
def test_only_finance_closes_periods(shared: Settings, c: TestClient, role: Role) -> None:
    response = c.post(
        "/v1/periods/2026-Q1/close", headers=auth(shared, role, "mgr"), json={"closed_by": "x"}
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_a_former_report_s_pay_is_seen_for_the_periods_they_reported(fresh: Settings) -> None:
    """An moves from mgr to a new manager on 2026-04-01: mgr keeps An's Q1 figures (An
    reported to mgr on Q1's last day) and loses Q2's; the new manager the other way round.
    /earnings and /statements decide alike, on each period's last day, never on today."""
    with EventStore(fresh) as store:
        store.append(
            [
                rep("dung", role="manager"),
                RepTransferred(
                    event_id="move-an",
                    rep_id="an",
                    effective_date="2026-04-01",
                    team="Hà Nội 1",
                    manager_id="dung",
                ),
            ]
        )
    c = client(fresh)
    for manager, seen, hidden in (("mgr", "2026-Q1", "2026-Q2"), ("dung", "2026-Q2", "2026-Q1")):
        h = auth(fresh, Role.MANAGER, manager)
        earnings = c.get("/v1/reps/an/earnings", headers=h)
        assert earnings.status_code == 200, earnings.text
        assert [e["period"] for e in earnings.json()["items"]] == [seen]
        assert c.get(f"/v1/reps/an/statements/{seen}", headers=h).status_code == 200
        refused = c.get(f"/v1/reps/an/statements/{hidden}", headers=h)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["message"] == "you may not read this rep's pay"
    everything = c.get("/v1/reps/an/earnings", headers=fin(fresh)).json()["items"]
    assert [e["period"] for e in everything] == ["2026-Q1", "2026-Q2"]  # finance: all
    # a manager An never reported to sees nothing, whether or not the rep exists
    for who in ("chau", "binh"):
        h = auth(fresh, Role.MANAGER, who)
        assert c.get("/v1/reps/an/earnings", headers=h).status_code == 403


# ------------------------------------------------------------------ content


def test_earnings_per_plan_period(shared: Settings, c: TestClient) -> None:
    body = c.get("/v1/reps/an/earnings", headers=auth(shared, Role.REP, "an")).json()
    assert body["total"] == 2 and (body["limit"], body["offset"]) == (100, 0)
    q1, q2 = body["items"]
    assert (q1["period"], q1["earned"], q1["total"], q1["status"]) == (
        "2026-Q1",
        "17700000",
        "17700000",
        "open",
    )
    assert (q1["plan_id"], q1["plan_version"], q1["currency"]) == ("example", 2, "VND")
    assert (q2["period"], q2["total"], q2["adjustments"]) == ("2026-Q2", "1000000", "0")
    assert "Cache-Control" not in c.get("/v1/reps/an/earnings", headers=fin(shared)).headers


def test_points_and_badges(shared: Settings, c: TestClient) -> None:
    h = auth(shared, Role.MANAGER, "mgr")
    body = c.get("/v1/reps/an/points", params={"period": "2026-Q1"}, headers=h).json()
    assert body["points"] == "49" and body["period"] == "2026-Q1"
    assert {ln["rule"]: ln["points"] for ln in body["items"]} == {
        "won_deal": "10",
        "per_amount": "39",
    }
    assert all(ln["event_ids"] == ["won-D1"] for ln in body["items"])
    [plan_points] = body["plans"]
    assert (plan_points["plan_id"], plan_points["plan_version"], plan_points["points"]) == (
        "example",
        2,
        "49",
    )
    page = c.get("/v1/reps/an/points", params={"period": "2026-Q1", "limit": 1, "offset": 1},
                 headers=h).json()  # fmt: skip
    assert page["items"] == body["items"][1:] and page["total"] == 2
    week = c.get("/v1/reps/binh/points", params={"period": "2026-W02"}, headers=h).json()
    assert week["points"] == "3" and week["items"][0]["rule"] == "activity:meeting"
    held = c.get("/v1/reps/an/badges", params={"on": "2026-03-31"}, headers=h).json()
    assert [(b["badge_id"], b["earned_on"], b["event_ids"]) for b in held["items"]] == [
        ("first", "2026-02-10", ["won-D1"])
    ]
    early = c.get("/v1/reps/an/badges", params={"on": "2026-02-09"}, headers=h).json()
    assert early["items"] == [] and early["total"] == 0


def test_points_without_points_rules_is_404(shared: Settings, c: TestClient) -> None:
    response = c.get("/v1/reps/an/points", params={"period": "2025-Q1"}, headers=fin(shared))
    assert response.status_code == 404
    assert "no published plan with points rules" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/reps/an/points?period=2026-Q9", "period"),
        ("/v1/reps/an/points", "period"),  # required
        ("/v1/reps/an/badges?on=2026-02-30", "on"),
        ("/v1/reps/an/earnings?limit=0", "limit"),
        ("/v1/reps/an/earnings?limit=1001", "limit"),
        ("/v1/reps/an/earnings?offset=-1", "offset"),
        ("/v1/reps/an/earnings?as_of=yesterday", "as_of"),
        ("/v1/payouts/2026-Q9", "period"),
        ("/v1/payouts/2026-Q1?format=ods", "format"),
        ("/v1/payouts/2026-Q1?limit=5000", "limit"),
    ],
)
def test_bad_input_names_the_field(shared: Settings, c: TestClient, url: str, field: str) -> None:
    response = c.get(url, headers=fin(shared))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in [d["field"] for d in error["details"]]


def test_payouts_json_paged_and_csv(shared: Settings, c: TestClient) -> None:
    h = fin(shared)
    body = c.get("/v1/payouts/2026-Q1", headers=h).json()
    assert body["status"] == "open" and body["total"] == 4 and body["closed_at"] is None
    assert [(p["rep_id"], p["total"]) for p in body["items"]] == [
        ("an", "17700000"),
        ("binh", "2000000"),
        ("chau", "0"),
        ("mgr", "0"),
    ]
    page = c.get("/v1/payouts/2026-Q1", params={"limit": 2, "offset": 1}, headers=h).json()
    assert [p["rep_id"] for p in page["items"]] == ["binh", "chau"]
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)
    for response in (
        c.get("/v1/payouts/2026-Q1", params={"format": "csv"}, headers=h),
        c.get("/v1/payouts/2026-Q1", headers={**h, "Accept": "text/csv"}),
    ):
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["rep_id"] for r in rows] == ["an", "binh", "chau", "mgr"]
        assert rows[0]["plan"] == "example@2" and rows[0]["total"] == "17700000"
        assert rows[0]["name"] == "Nguyễn Văn An"
    past = c.get("/v1/payouts/2026-Q1", params={"as_of": "2026-01-01T00:00:00Z"}, headers=h)
    assert past.status_code == 200 and past.json()["items"] == []
    assert past.headers["Cache-Control"] == "private, no-cache"  # backfill may change it


# --------------------------------------------------------------- period close


def test_close_refusals_and_bad_bodies(fresh: Settings) -> None:
    c, h = client(fresh), fin(fresh)
    current = Period.containing(datetime.now(UTC).date(), PeriodKind.QUARTER)
    not_ended = c.post(f"/v1/periods/{current}/close", headers=h, json={"closed_by": "fin"})
    assert not_ended.status_code == 409 and "has not ended" in not_ended.json()["error"]["message"]
    out_of_order = c.post("/v1/periods/2026-Q2/close", headers=h, json={"closed_by": "fin"})
    assert out_of_order.status_code == 409
    assert (
        out_of_order.json()["error"]["message"]
        == "close 2026-Q1 first: periods are closed in order"
    )
    for body, field in (({}, "closed_by"), ({"closed_by": "  "}, "closed_by"),
                        ({"closed_by": "x", "extra": 1}, "extra")):  # fmt: skip
        response = c.post("/v1/periods/2026-Q1/close", headers=h, json=body)
        assert response.status_code == 422, response.text
        assert field in [d["field"] for d in response.json()["error"]["details"]]
    bad = c.post("/v1/periods/2026-Q5/close", headers=h, json={"closed_by": "fin"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "period"
    assert c.get("/v1/payouts/2026-Q1", headers=h).json()["status"] == "open"  # nothing closed


def test_close_seals_payouts_and_earnings_on_both_stores(settings: Settings) -> None:
    s = seed_pay(settings)
    c, h = client(s), fin(s)
    closed = c.post("/v1/periods/2026-Q1/close", headers=h, json={"closed_by": "Kế toán"})
    assert closed.status_code == 201, closed.text
    doc = closed.json()
    assert doc["period"] == "2026-Q1" and doc["closed_by"] == "Kế toán"
    assert [(p["rep_id"], p["total"], p["status"]) for p in doc["payouts"]] == [
        ("an", "17700000", "sealed"),
        ("binh", "2000000", "sealed"),
        ("chau", "0", "sealed"),
        ("mgr", "0", "sealed"),
    ]
    again = c.post("/v1/periods/2026-Q1/close", headers=h, json={"closed_by": "fin"})
    assert again.status_code == 409
    assert again.json()["error"]["message"].startswith("period 2026-Q1 is already closed")
    # A late deal in the closed quarter becomes an adjustment of the first open one.
    with EventStore(s) as store:
        store.append([won("D4", 10_000_000, rep_id="an", close_date="2026-03-01")])
    sealed = c.get("/v1/payouts/2026-Q1", headers=h)
    assert sealed.json()["status"] == "sealed" and sealed.json()["items"][0]["total"] == "17700000"
    assert sealed.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    tag = sealed.headers["ETag"]
    assert c.get("/v1/payouts/2026-Q1", headers={**h, "If-None-Match": tag}).status_code == 304
    earnings = c.get("/v1/reps/an/earnings", headers=auth(s, Role.REP, "an")).json()["items"]
    assert [
        (e["period"], e["status"], e["earned"], e["adjustments"], e["total"]) for e in earnings
    ] == [
        ("2026-Q1", "sealed", "17700000", "0", "17700000"),
        ("2026-Q2", "open", "1000000", "800000", "1800000"),
    ]
