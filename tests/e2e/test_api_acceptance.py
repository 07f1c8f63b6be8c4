"""Plan acceptance through the served app on a SQLite file: a rep accepts their own plan
version, finance records a paper signature, the role matrix of who may accept and read, a
version that does not cover the rep refused naming the field, the acceptance beside each
statement (the statement and its hash unchanged), and the hold on unaccepted plans."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client, seed
from tests.examples.plans import plan, tiered

URL = "/v1/plans/example/versions/1/acceptances"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    found = api_settings(sqlite_settings(tmp_path))
    seed(found)
    with EventStore(found) as store:  # a second plan that covers only the team Hà Nội
        store.append(
            [publication(plan(tiered(), plan_id="hanoi", covers={"teams": ["Hà Nội"]}).plan)]
        )
    return found


@pytest.fixture
def app(settings: Settings) -> TestClient:
    return client(settings)


def test_a_rep_accepts_their_own_plan_once_and_again_is_a_no_op(
    app: TestClient, settings: Settings
) -> None:
    me = auth(settings, Role.REP, "an")
    first = app.post(URL, json={}, headers=me)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["rep_id"] == "an" and body["accepted"] and body["how"] == "api"
    assert body["event_id"] == "accept:example:v1:an" and not body["already_accepted"]
    again = app.post(URL, json={"how": "web"}, headers=me)
    assert again.status_code == 200 and again.json()["already_accepted"]
    assert again.json()["accepted_at"] == body["accepted_at"]


def test_attacks_on_acceptance_are_refused_naming_the_field(
    app: TestClient, settings: Settings
) -> None:
    an = auth(settings, Role.REP, "an")
    other = app.post(URL, json={"rep_id": "binh"}, headers=an)
    assert other.status_code == 403
    assert "only your own plan" in other.text
    paper = app.post(URL, json={"how": "paper"}, headers=an)
    assert paper.status_code == 422
    # a version that does not cover the rep
    wrong = app.post("/v1/plans/hanoi/versions/1/acceptances", json={}, headers=an)
    assert wrong.status_code == 422, wrong.text
    detail = wrong.json()["error"]["details"][0]
    assert detail["field"] == "rep_id" and "does not cover" in detail["reason"]
    missing = app.post("/v1/plans/example/versions/9/acceptances", json={}, headers=an)
    assert missing.status_code == 404
    # a manager never accepts for a report, a plan admin or integration for anyone
    mgr = auth(settings, Role.MANAGER, "mgr")
    assert app.post(URL, json={"rep_id": "an"}, headers=mgr).status_code == 403
    for role in (Role.PLAN_ADMIN, Role.INTEGRATION):
        who = auth(settings, role, "x")
        found = app.post(URL, json={"rep_id": "an", "how": "paper"}, headers=who)
        assert found.status_code == 403, role
    # the generic event door does not take a raw PlanAccepted from finance
    raw = {
        "event_id": "forged",
        "type": "PlanAccepted",
        "rep_id": "an",
        "plan_id": "example",
        "version": 1,
        "accepted_at": "2026-01-02T00:00:00Z",
        "how": "web",
    }
    fin = auth(settings, Role.FINANCE, "fin")
    assert app.post("/v1/events", json=[raw], headers=fin).status_code == 403
    # unknown fields and oversized values are refused
    assert app.post(URL, json={"extra": 1}, headers=an).status_code == 422
    assert app.post(URL, json={"reference": "x" * 501}, headers=an).status_code == 422


def test_finance_records_a_paper_signature_and_the_report_follows_visibility(
    app: TestClient, settings: Settings
) -> None:
    fin = auth(settings, Role.FINANCE, "fin")
    paper = {
        "rep_id": "binh",
        "how": "paper",
        "reference": "HĐ-2026/017",
        "accepted_at": "2026-01-03T00:00:00Z",
    }
    found = app.post(URL, json=paper, headers=fin)
    assert found.status_code == 201, found.text
    assert found.json()["reference"] == "HĐ-2026/017" and found.json()["recorded_by"] == "fin"
    assert app.post(URL, json={"rep_id": "an", "how": "web"}, headers=fin).status_code == 422
    assert app.post(URL, json={}, headers=auth(settings, Role.REP, "an")).status_code == 201

    def report(role: Role, subject: str) -> list[tuple[str, bool]]:
        answer = app.get(URL, headers=auth(settings, role, subject))
        assert answer.status_code == 200, answer.text
        return [(r["rep_id"], r["accepted"]) for r in answer.json()["items"]]

    everyone = [("an", True), ("binh", True), ("chau", False), ("mgr", False)]
    assert report(Role.FINANCE, "fin") == everyone
    assert report(Role.PLAN_ADMIN, "pa") == everyone
    assert report(Role.MANAGER, "mgr") == [("an", True), ("binh", True), ("mgr", False)]
    assert report(Role.REP, "chau") == [("chau", False)]
    totals = app.get(URL, headers=fin).json()
    assert (totals["accepted"], totals["not_accepted"]) == (2, 2)
    assert app.get(URL, headers=auth(settings, Role.INTEGRATION, "crm")).status_code == 403


def test_the_statement_carries_the_acceptance_beside_it_with_the_same_hash(
    app: TestClient, settings: Settings
) -> None:
    me = auth(settings, Role.REP, "an")
    before = app.get("/v1/reps/an/statements/2026-Q1", headers=me).json()[0]
    assert before["acceptance"] == {
        "accepted": False,
        "accepted_at": None,
        "how": None,
        "event_id": None,
    }
    assert app.post(URL, json={}, headers=me).status_code == 201
    after = app.get("/v1/reps/an/statements/2026-Q1", headers=me).json()[0]
    assert after["acceptance"]["accepted"] and after["acceptance"]["how"] == "api"
    assert after["hash"] == before["hash"]
    strip = {"acceptance"}
    assert {k: v for k, v in after.items() if k not in strip} == {
        k: v for k, v in before.items() if k not in strip
    }


def test_the_hold_keeps_unaccepted_pay_out_of_payouts_and_payroll(
    tmp_path: Path, settings: Settings
) -> None:
    fin = auth(settings, Role.FINANCE, "fin")
    plain = client(settings)
    assert plain.post(URL, json={}, headers=auth(settings, Role.REP, "an")).status_code == 201
    open_run = plain.get("/v1/payouts/2026-Q1", headers=fin).json()
    assert open_run["held"] == [] and {r["rep_id"] for r in open_run["items"]} >= {"an", "binh"}
    held_app = client(settings.model_copy(update={"hold_unaccepted": True}))
    found = held_app.get("/v1/payouts/2026-Q1", headers=fin).json()
    assert [r["rep_id"] for r in found["items"]] == ["an"]
    held = {h["rep_id"]: h for h in found["held"]}
    assert set(held) == {"binh", "chau", "mgr"}
    assert held["binh"]["reason"] == "binh has not accepted plan example v1"
    assert held["binh"]["total"] == "2000000"  # 100,000,000 × 2 % (33 % of quota)
    csv = held_app.get("/v1/payouts/2026-Q1?format=csv", headers=fin)
    assert csv.status_code == 200 and csv.headers["X-Payout-Held"] == "3"
    assert "binh" not in csv.text and "an," in csv.text
    checks = held_app.get("/v1/periods/2026-Q1/checks", headers=fin).json()
    unaccepted = next(c for c in checks["checks"] if c["name"] == "unaccepted_plans")
    assert unaccepted["severity"] == "warning" and not unaccepted["blocks"]
    assert [f["subject"] for f in unaccepted["findings"]] == ["binh", "chau", "mgr"]
    assert "held" in unaccepted["findings"][0]["detail"]
