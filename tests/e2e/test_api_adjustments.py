"""Manual adjustments over HTTP on both stores: finance proposes, a different finance user
approves or rejects; only an approved adjustment is paid, checked against the engine."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import rep_statements
from incentive_engine.services.engine import Engine
from incentive_engine.settings import Settings
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client, seed

URL = "/v1/adjustments"
Q1 = Period.parse("2026-Q1")
BASE_TOTAL = Decimal(17_700_000)
"""an's Q1 total before any adjustment (the seed's graduated example)."""


def seeded(settings: Settings, **update: Any) -> Settings:
    configured = api_settings(settings).model_copy(update=update)
    seed(configured)
    return configured


@pytest.fixture
def s(settings: Settings) -> Settings:
    """Both stores: SQLite file and PostgreSQL."""
    return seeded(settings)


@pytest.fixture
def lite(tmp_path: Path) -> Settings:
    """A SQLite store only (bad input, to keep it fast)."""
    return seeded(sqlite_settings(tmp_path))


def engine_total(s: Settings, rep: str = "an") -> Decimal:
    """The rep's Q1 total as the engine computes it (not through HTTP)."""
    with Engine(s) as engine:
        [statement] = rep_statements(engine.snapshot(), rep, Q1)
    return statement.total


def propose(c: TestClient, s: Settings, by: str = "fin-a", **body: Any) -> Any:
    payload = {"rep_id": "an", "period": "2026-Q1", "amount": "1500000", "currency": "VND",
               "reason": "Thưởng nóng tháng 3"}  # fmt: skip
    payload.update(body)
    return c.post(URL, headers=auth(s, Role.FINANCE, by), json=payload)


def test_an_adjustment_is_paid_only_once_a_second_finance_user_approves(s: Settings) -> None:
    c = client(s)
    a, b = auth(s, Role.FINANCE, "fin-a"), auth(s, Role.FINANCE, "fin-b")
    proposed = propose(c, s)
    assert proposed.status_code == 201, proposed.text
    doc = proposed.json()
    pid = doc["proposal_id"]
    assert (doc["status"], doc["proposed_by"], doc["paid_amount"]) == (
        "pending",
        "fin-a",
        "1500000",
    )
    assert engine_total(s) == BASE_TOTAL  # pending: never paid
    assert [
        p["proposal_id"] for p in c.get(URL, headers=b, params={"status": "pending"}).json()
    ] == [pid]

    own = c.post(f"{URL}/{pid}/approve", headers=a)
    assert own.status_code == 403, own.text
    assert "fin-a proposed this adjustment" in own.json()["error"]["message"]
    assert "different finance user" in own.json()["error"]["message"]
    assert engine_total(s) == BASE_TOTAL

    approved = c.post(f"{URL}/{pid}/approve", headers=b)
    assert approved.status_code == 200, approved.text
    decided = approved.json()
    assert (decided["status"], decided["decided_by"], decided["single_approver"]) == (
        "approved", "fin-b", False,
    )  # fmt: skip
    assert engine_total(s) == BASE_TOTAL + 1_500_000
    [doc] = c.get("/v1/reps/an/statements/2026-Q1", headers=b).json()
    manual = doc["lines"][-1]
    assert (manual["kind"], manual["amount"]) == ("manual", "1500000")
    assert manual["event_ids"] == [pid, decided["decision_id"]]
    assert Decimal(doc["total"]) == engine_total(s)

    for action, body in (("approve", None), ("reject", {"reason": "too late"})):
        again = c.post(f"{URL}/{pid}/{action}", headers=auth(s, Role.FINANCE, "fin-c"), json=body)
        assert again.status_code == 409, again.text
        assert "already approved by fin-b" in again.json()["error"]["message"]
    assert engine_total(s) == BASE_TOTAL + 1_500_000  # paid once
    assert c.get(URL, headers=a, params={"status": "pending"}).json() == []
    assert [
        p["proposal_id"] for p in c.get(URL, headers=a, params={"status": "approved"}).json()
    ] == [pid]


def test_a_rejected_adjustment_is_never_paid_and_needs_a_reason(s: Settings) -> None:
    c = client(s)
    pid = propose(c, s, amount="-250000", reason="phone bill").json()["proposal_id"]
    b = auth(s, Role.FINANCE, "fin-b")
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        refused = c.post(f"{URL}/{pid}/reject", headers=b, json=body)
        assert refused.status_code == 422, refused.text
        assert "reason" in refused.text
    rejected = c.post(f"{URL}/{pid}/reject", headers=b, json={"reason": "already deducted"})
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["rejection_reason"]) == (
        "rejected", "already deducted",
    )  # fmt: skip
    late = c.post(f"{URL}/{pid}/approve", headers=auth(s, Role.FINANCE, "fin-c"))
    assert late.status_code == 409
    assert engine_total(s) == BASE_TOTAL


def test_a_currency_the_plan_cannot_pay_is_refused_at_proposal_unless_converted(
    lite: Settings,
) -> None:
    c = client(lite)
    usd = propose(c, lite, amount="100.50", currency="USD")
    assert usd.status_code == 422, usd.text
    [detail] = usd.json()["error"]["details"]
    assert detail["field"] == "currency" and "pays in VND, not USD" in detail["reason"]
    # At a stated rate: 100.50 × 25,431.5 = 2,555,865.75 → 2,555,866 VND (half-up, once).
    converted = propose(c, lite, amount="100.50", currency="USD", fx_rate="25431.5")
    assert converted.status_code == 201, converted.text
    doc = converted.json()
    assert (doc["amount"], doc["currency"], doc["fx_rate"]) == ("100.50", "USD", "25431.5")
    assert (doc["paid_amount"], doc["paid_currency"]) == ("2555866", "VND")
    approve = f"{URL}/{doc['proposal_id']}/approve"
    assert c.post(approve, headers=auth(lite, Role.FINANCE, "fin-b")).status_code == 200
    assert engine_total(lite) == BASE_TOTAL + 2_555_866
    needless = propose(c, lite, fx_rate="1.5")
    assert (
        needless.status_code == 422 and needless.json()["error"]["details"][0]["field"] == "fx_rate"
    )


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"rep_id": "ghost"}, 404, "rep_id"),
        ({"period": "2026-02"}, 422, "period"),  # the plan is quarterly
        ({"period": "2025-Q4"}, 422, "period"),  # before the plan and the hire
        ({"period": "2026-Q9"}, 422, "period"),
        ({"amount": "0"}, 422, "amount"),
        ({"amount": "a lot"}, 422, "amount"),
        ({"currency": "XXX"}, 422, "currency"),
        ({"reason": ""}, 422, "reason"),
        ({"proposed_by": "someone"}, 422, "proposed_by"),
    ],
)
def test_bad_proposals_are_refused_with_the_field(
    lite: Settings, body: dict[str, Any], status: int, field: str
) -> None:
    c = client(lite)
    answer = propose(c, lite, **body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    if status == 404:
        assert "unknown rep 'ghost'" in error["message"]
    else:
        assert error["details"][0]["field"] == field, answer.text
    assert c.get(URL, headers=auth(lite, Role.FINANCE, "f")).json() == []


def test_unknown_proposals_and_bad_filters(lite: Settings) -> None:
    c = client(lite)
    f = auth(lite, Role.FINANCE, "f")
    assert c.post(f"{URL}/nope/approve", headers=f).status_code == 404
    assert c.post(f"{URL}/nope/reject", headers=f, json={"reason": "x"}).status_code == 404
    assert c.get(URL, headers=f, params={"status": "open"}).status_code == 422


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER, Role.PLAN_ADMIN, Role.INTEGRATION])
def test_only_finance_proposes_decides_or_lists(lite: Settings, role: Role) -> None:
    c = client(lite)
    pid = propose(c, lite).json()["proposal_id"]
    h = auth(lite, role, "mgr" if role is Role.MANAGER else "an")
    assert c.get(URL, headers=h).status_code == 403
    assert c.post(URL, headers=h, json={"rep_id": "an"}).status_code == 403
    assert c.post(f"{URL}/{pid}/approve", headers=h).status_code == 403
    assert c.post(f"{URL}/{pid}/reject", headers=h, json={"reason": "x"}).status_code == 403
    assert len(c.get(URL, headers=auth(lite, Role.FINANCE, "f")).json()) == 1
    assert engine_total(lite) == BASE_TOTAL


def test_single_approver_mode_lets_the_proposer_approve_and_says_so(tmp_path: Path) -> None:
    s = seeded(sqlite_settings(tmp_path), adjustments_single_approver=True)
    c = client(s)
    pid = propose(c, s).json()["proposal_id"]
    own = c.post(f"{URL}/{pid}/approve", headers=auth(s, Role.FINANCE, "fin-a"))
    assert own.status_code == 200, own.text
    assert (own.json()["decided_by"], own.json()["single_approver"]) == ("fin-a", True)
    assert engine_total(s) == BASE_TOTAL + 1_500_000


def test_raw_writes_cannot_bypass_the_second_pair_of_eyes(lite: Settings) -> None:
    c = client(lite)
    f = auth(lite, Role.FINANCE, "fin-a")
    raw = {"type": "ManualAdjustment", "event_id": "adj-raw", "rep_id": "an", "period": "2026-Q1",
           "amount": "1", "currency": "VND", "reason": "x", "posted_by": "fin-a",
           "posted_date": "2026-03-01"}  # fmt: skip
    assert c.post("/v1/events", headers=f, json=[raw]).status_code == 403
    pid = propose(c, lite).json()["proposal_id"]
    approval = {"type": "AdjustmentApproved", "event_id": "self", "proposal_id": pid,
                "approved_by": "fin-a", "approved_at": "2026-03-02T00:00:00Z"}  # fmt: skip
    assert c.post("/v1/events", headers=f, json=[approval]).status_code == 403
    assert engine_total(lite) == BASE_TOTAL
