"""Disputes over HTTP on real stores: the whole story, access by role, bad input, the queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import close_period
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client, seed
from tests.factories import won

STATEMENT = "/v1/reps/{rep}/statements/2026-Q1"


def seeded(settings: Settings) -> Settings:
    """The API seed, plus a deal for chau (no manager) so that chau has a line too."""
    configured = api_settings(settings)
    seed(configured)
    with EventStore(configured) as store:
        store.append([won("D3", 200_000_000, rep_id="chau", close_date="2026-03-01")])
    return configured


@pytest.fixture
def s(settings: Settings) -> Settings:
    """Both stores: SQLite file and PostgreSQL."""
    return seeded(settings)


@pytest.fixture
def lite(tmp_path: Path) -> Settings:
    """A SQLite store only (the role matrices, to keep them fast)."""
    return seeded(sqlite_settings(tmp_path))


def headers(s: Settings, role: Role, subject: str) -> dict[str, str]:
    if role is Role.INTEGRATION:
        return {"X-API-Key": "crm-key-1"}
    return auth(s, role, subject)


def raise_dispute(
    c: TestClient, s: Settings, role: Role = Role.REP, subject: str = "an", **body: Any
) -> dict[str, Any]:
    payload = {
        "period": "2026-Q1",
        "line": 2,
        "reason": "D1 should pay more",
        "expected_amount": "9000000",
    }
    payload.update(body)
    response = c.post("/v1/disputes", headers=headers(s, role, subject), json=payload)
    assert response.status_code == 201, response.text
    return response.json()


def statement(c: TestClient, s: Settings, rep: str = "an") -> dict[str, Any]:
    response = c.get(STATEMENT.format(rep=rep), headers=auth(s, Role.FINANCE, "fin"))
    assert response.status_code == 200, response.text
    [doc] = response.json()
    return doc


# ------------------------------------------------------------------- stories


def test_an_accepted_dispute_pays_the_difference_as_a_statement_line(s: Settings) -> None:
    c = client(s)
    before = statement(c, s)
    assert before["total"] == "17700000"
    dispute = raise_dispute(c, s, reason="the second tier misses D1's amendment")
    did = dispute["dispute_id"]
    assert dispute["status"] == "open" and dispute["rep_id"] == "an"
    assert (dispute["line"], dispute["component"], dispute["line_amount"]) == (
        2,
        "commission",
        "7500000",
    )
    assert (dispute["plan_id"], dispute["plan_version"], dispute["currency"]) == (
        "example",
        1,
        "VND",
    )
    assert (dispute["raised_by"], dispute["raised_role"]) == ("an", "rep")

    commented = c.post(
        f"/v1/disputes/{did}/comments",
        headers=auth(s, Role.MANAGER, "mgr"),
        json={"comment": "Đúng rồi, D1 was amended upwards"},
    )
    assert commented.status_code == 201, commented.text
    [note] = commented.json()["comments"]
    assert (note["author"], note["role"]) == ("mgr", "manager")
    assert note["comment"] == "Đúng rồi, D1 was amended upwards"

    fin = auth(s, Role.FINANCE, "fin")
    accepted = c.post(f"/v1/disputes/{did}/resolve", headers=fin, json={"outcome": "accepted"})
    assert accepted.status_code == 200, accepted.text
    doc = accepted.json()
    assert doc["status"] == "resolved-accepted"
    resolution = doc["resolution"]
    assert resolution["resolved_by"] == "fin" and resolution["adjustment_amount"] == "1500000"
    assert resolution["adjustment_status"] == "pending"

    # Accepting proposes the adjustment: nothing is paid until a second finance user approves.
    proposal_id = resolution["adjustment_event_id"]
    assert statement(c, s) == before
    [pending] = c.get("/v1/adjustments?status=pending", headers=fin).json()
    assert (pending["proposal_id"], pending["dispute_id"]) == (proposal_id, did)
    own = c.post(f"/v1/adjustments/{proposal_id}/approve", headers=fin)
    assert own.status_code == 403 and "different finance user" in own.text
    assert statement(c, s) == before
    approved = c.post(
        f"/v1/adjustments/{proposal_id}/approve", headers=auth(s, Role.FINANCE, "controller")
    )
    assert approved.status_code == 200, approved.text
    doc = c.get(f"/v1/disputes/{did}", headers=fin).json()
    assert doc["resolution"]["adjustment_status"] == "approved"

    after = statement(c, s)
    manual = after["lines"][-1]
    assert manual["kind"] == "manual" and manual["amount"] == "1500000"
    assert manual["event_ids"] == [proposal_id, approved.json()["decision_id"]]
    assert did in manual["description"]
    assert after["total"] == "19200000" and after["lines"][:3] == before["lines"]

    again = c.post(f"/v1/disputes/{did}/resolve", headers=fin, json={"outcome": "accepted"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    late = c.post(f"/v1/disputes/{did}/comments", headers=fin, json={"comment": "paid"})
    assert late.status_code == 409
    assert statement(c, s)["total"] == "19200000"  # one adjustment only

    seen = c.get(f"/v1/disputes/{did}", headers=auth(s, Role.REP, "an")).json()
    assert seen == doc
    with EventStore(s) as store:
        types = ["DisputeRaised", "DisputeCommented", "DisputeResolved", "AdjustmentProposed"]
        logged = [r.event for r in store.read(types=types)]
    assert [e.type for e in logged] == [  # type: ignore[attr-defined]
        "DisputeRaised",
        "DisputeCommented",
        "AdjustmentProposed",
        "DisputeResolved",
    ]
    assert {e.event_id for e in logged} == set(doc["event_ids"])


def test_a_rejected_dispute_keeps_the_statement(s: Settings) -> None:
    c = client(s)
    before = statement(c, s)
    did = raise_dispute(c, s, line=3, expected_amount="8000000")["dispute_id"]
    mgr = auth(s, Role.MANAGER, "mgr")
    no_reason = c.post(f"/v1/disputes/{did}/resolve", headers=mgr, json={"outcome": "rejected"})
    assert no_reason.status_code == 422
    assert no_reason.json()["error"]["details"][0]["field"] == "reason"
    rejected = c.post(
        f"/v1/disputes/{did}/resolve",
        headers=mgr,
        json={"outcome": "rejected", "reason": "8 % is the top tier's rate"},
    )
    assert rejected.status_code == 200, rejected.text
    doc = rejected.json()
    assert doc["status"] == "resolved-rejected"
    assert doc["resolution"]["reason"] == "8 % is the top tier's rate"
    assert doc["resolution"]["adjustment_event_id"] is None
    after = statement(c, s)
    assert after == before and after["hash"] == before["hash"]
    again = c.post(
        f"/v1/disputes/{did}/resolve",
        headers=auth(s, Role.FINANCE, "fin"),
        json={"outcome": "accepted", "amount": "1"},
    )
    assert again.status_code == 409


def test_a_rep_cannot_raise_or_read_another_reps_disputes(lite: Settings) -> None:
    c = client(lite)
    binh = auth(lite, Role.REP, "binh")
    refused = c.post(
        "/v1/disputes",
        headers=binh,
        json={
            "rep_id": "an",
            "period": "2026-Q1",
            "line": 1,
            "reason": "x",
            "expected_amount": "1",
        },
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    did = raise_dispute(c, lite)["dispute_id"]
    assert c.get(f"/v1/disputes/{did}", headers=binh).status_code == 403
    assert c.get("/v1/disputes/no-such-id", headers=binh).status_code == 403  # no probing
    comment = c.post(f"/v1/disputes/{did}/comments", headers=binh, json={"comment": "hi"})
    assert comment.status_code == 403
    queue = c.get("/v1/disputes", headers=binh, params={"status": "all"}).json()
    assert queue["total"] == 0 and queue["items"] == []
    own = c.post(
        f"/v1/disputes/{did}/resolve",
        headers=auth(lite, Role.REP, "an"),
        json={"outcome": "accepted"},
    )
    assert own.status_code == 403


# -------------------------------------------------------------------- access


@pytest.mark.parametrize(
    ("role", "subject", "rep", "status"),
    [
        (Role.REP, "an", None, 201),  # their own by default
        (Role.REP, "an", "an", 201),
        (Role.REP, "binh", "an", 403),
        (Role.REP, "an", "ghost", 403),  # the same answer as for a real rep
        (Role.MANAGER, "mgr", "an", 201),
        (Role.MANAGER, "mgr", "chau", 403),  # not their report
        (Role.MANAGER, "binh", "an", 403),
        (Role.FINANCE, "fin", "chau", 201),
        (Role.FINANCE, "fin", "ghost", 404),
        (Role.FINANCE, "fin", None, 422),  # finance names the rep
        (Role.PLAN_ADMIN, "pa", "an", 403),
        (Role.INTEGRATION, "crm", "an", 403),
    ],
)
def test_raising_by_role(
    lite: Settings, role: Role, subject: str, rep: str | None, status: int
) -> None:
    body: dict[str, Any] = {
        "period": "2026-Q1",
        "line": 1,
        "reason": "check",
        "expected_amount": "5000000",
    }
    if rep is not None:
        body["rep_id"] = rep
    response = client(lite).post("/v1/disputes", headers=headers(lite, role, subject), json=body)
    assert response.status_code == status, response.text
    if status == 201:
        assert response.json()["raised_by"] == subject
        assert response.json()["raised_role"] == role.value


@pytest.mark.parametrize(
    ("role", "subject", "read", "comment", "resolve"),
    [
        (Role.REP, "an", 200, 201, 403),
        (Role.REP, "binh", 403, 403, 403),
        (Role.MANAGER, "mgr", 200, 201, 200),
        (Role.MANAGER, "binh", 403, 403, 403),
        (Role.FINANCE, "fin", 200, 201, 200),
        (Role.PLAN_ADMIN, "pa", 403, 403, 403),
        (Role.INTEGRATION, "crm", 403, 403, 403),
    ],
)
def test_reading_commenting_and_resolving_by_role(
    lite: Settings, role: Role, subject: str, read: int, comment: int, resolve: int
) -> None:
    c = client(lite)
    did = raise_dispute(c, lite)["dispute_id"]
    h = headers(lite, role, subject)
    assert c.get(f"/v1/disputes/{did}", headers=h).status_code == read
    queue = c.get("/v1/disputes", headers=h, params={"status": "all"})
    may_queue = role in (Role.REP, Role.MANAGER, Role.FINANCE)
    assert queue.status_code == (200 if may_queue else 403)
    if may_queue:  # the queue holds only what the caller may read
        expected = [did] if read == 200 else []
        assert [d["dispute_id"] for d in queue.json()["items"]] == expected
    posted = c.post(f"/v1/disputes/{did}/comments", headers=h, json={"comment": "noted"})
    assert posted.status_code == comment, posted.text
    resolved = c.post(
        f"/v1/disputes/{did}/resolve", headers=h, json={"outcome": "accepted", "amount": "250000"}
    )
    assert resolved.status_code == resolve, resolved.text
    if resolve == 200:
        resolution = resolved.json()["resolution"]
        assert resolution["adjustment_amount"] == "250000"
        assert resolution["adjustment_status"] == "pending"
        approve = f"/v1/adjustments/{resolution['adjustment_event_id']}/approve"
        approver = auth(lite, Role.FINANCE, "controller")
        assert c.post(approve, headers=approver).status_code == 200
        assert statement(c, lite)["lines"][-1]["amount"] == "250000"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/disputes"),
        ("get", "/v1/disputes"),
        ("get", "/v1/disputes/dsp-1"),
        ("post", "/v1/disputes/dsp-1/comments"),
        ("post", "/v1/disputes/dsp-1/resolve"),
    ],
)
def test_every_dispute_endpoint_needs_credentials(lite: Settings, method: str, path: str) -> None:
    c = client(lite)
    response = c.request(method, path, json={})
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    bad = c.request(method, path, json={}, headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"line": 9}, 422, "line"),  # the statement has 3 lines
        ({"line": 0}, 422, "line"),
        ({"line": "two"}, 422, "line"),
        ({"period": "2026-Q9"}, 422, "period"),
        ({"period": "2026-Q2"}, 422, "line"),  # an empty statement has no line 2
        ({"currency": "USD"}, 422, "currency"),
        ({"expected_amount": "lots"}, 422, "expected_amount"),
        ({"expected_amount": "NaN"}, 422, "expected_amount"),
        ({"reason": ""}, 422, "reason"),
        ({"reason": None}, 422, "reason"),
        ({"colour": "red"}, 422, "colour"),
        ({"plan_id": "other-plan"}, 404, None),
    ],
)
def test_bad_disputes_are_refused_with_the_field(
    lite: Settings, changes: dict[str, Any], status: int, field: str | None
) -> None:
    body: dict[str, Any] = {
        "period": "2026-Q1",
        "line": 2,
        "reason": "check",
        "expected_amount": "9000000",
    }
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}
    response = client(lite).post("/v1/disputes", headers=auth(lite, Role.REP, "an"), json=body)
    assert response.status_code == status, response.text
    if field is not None:
        assert field in [d["field"] for d in response.json()["error"]["details"]]
    with EventStore(lite) as store:
        assert list(store.read(types=["DisputeRaised"])) == []  # nothing was written


def test_a_line_is_disputed_once_at_a_time_and_ids_must_exist(lite: Settings) -> None:
    c = client(lite)
    fin = auth(lite, Role.FINANCE, "fin")
    first = raise_dispute(c, lite)
    twice = c.post(
        "/v1/disputes",
        headers=auth(lite, Role.REP, "an"),
        json={"period": "2026-Q1", "line": 2, "reason": "again", "expected_amount": "1"},
    )
    assert twice.status_code == 409 and first["dispute_id"] in twice.json()["error"]["message"]
    assert c.get("/v1/disputes/no-such-id", headers=fin).status_code == 404
    for path in ("comments", "resolve"):
        body = {"comment": "x"} if path == "comments" else {"outcome": "accepted"}
        assert c.post(f"/v1/disputes/no-such-id/{path}", headers=fin, json=body).status_code == 404
    rejected = c.post(
        f"/v1/disputes/{first['dispute_id']}/resolve",
        headers=fin,
        json={"outcome": "rejected", "reason": "right as paid"},
    )
    assert rejected.status_code == 200
    assert raise_dispute(c, lite, reason="new evidence")["status"] == "open"  # closed: again


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "withdrawn"}, "outcome"),
        ({}, "outcome"),
        ({"outcome": "accepted", "amount": "0"}, "amount"),
        ({"outcome": "accepted", "amount": "a lot"}, "amount"),
        ({"outcome": "rejected", "reason": "no", "amount": "5"}, "amount"),
        ({"outcome": "rejected", "reason": "   "}, "reason"),
        ({"outcome": "accepted", "by": "me"}, "by"),
    ],
)
def test_bad_resolutions_are_refused(lite: Settings, body: dict[str, Any], field: str) -> None:
    c = client(lite)
    did = raise_dispute(c, lite, expected_amount="7500000")["dispute_id"]  # no difference
    if body == {"outcome": "accepted", "amount": "0"}:
        defaulted = c.post(
            f"/v1/disputes/{did}/resolve",
            headers=auth(lite, Role.FINANCE, "fin"),
            json={"outcome": "accepted"},
        )
        assert defaulted.status_code == 422  # expected equals the line: nothing to pay
    response = c.post(
        f"/v1/disputes/{did}/resolve", headers=auth(lite, Role.FINANCE, "fin"), json=body
    )
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["error"]["details"]]
    assert c.get(f"/v1/disputes/{did}", headers=auth(lite, Role.REP, "an")).json()["status"] == (
        "open"
    )


def test_comments_must_say_something(lite: Settings) -> None:
    c = client(lite)
    did = raise_dispute(c, lite)["dispute_id"]
    h = auth(lite, Role.REP, "an")
    for body in ({}, {"comment": ""}, {"comment": "x" * 4001}, {"text": "hi"}):
        assert c.post(f"/v1/disputes/{did}/comments", headers=h, json=body).status_code == 422


# --------------------------------------------------------------------- queue


def test_the_queue_by_role_status_and_page(s: Settings) -> None:
    c = client(s)
    fin, mgr = auth(s, Role.FINANCE, "fin"), auth(s, Role.MANAGER, "mgr")
    a1 = raise_dispute(c, s, line=1, expected_amount="3500000")["dispute_id"]
    a2 = raise_dispute(c, s, line=2)["dispute_id"]
    b1 = raise_dispute(c, s, subject="binh", line=1, expected_amount="2500000")["dispute_id"]
    c1 = raise_dispute(c, s, Role.FINANCE, "fin", rep_id="chau", line=1, expected_amount="5000000")[
        "dispute_id"
    ]
    assert c.post(f"/v1/disputes/{a1}/resolve", headers=fin, json={"outcome": "accepted"})
    assert c.post(
        f"/v1/disputes/{b1}/resolve", headers=mgr, json={"outcome": "rejected", "reason": "no"}
    )

    def ids(h: dict[str, str], **params: Any) -> list[str]:
        response = c.get("/v1/disputes", headers=h, params=params)
        assert response.status_code == 200, response.text
        return [d["dispute_id"] for d in response.json()["items"]]

    assert ids(fin) == [a2, c1]  # finance: every open one, oldest first
    assert ids(fin, status="all") == [a1, a2, b1, c1]
    assert ids(fin, status="resolved") == [a1, b1]
    assert ids(fin, status="resolved-accepted") == [a1]
    assert ids(fin, status="resolved-rejected") == [b1]
    assert ids(mgr) == [a2]  # their reports' open ones, not chau's
    assert ids(mgr, status="all") == [a1, a2, b1]
    rep = auth(s, Role.REP, "an")
    mine = c.get("/v1/disputes", headers=rep).json()  # a rep: all their own, with status
    assert [(d["dispute_id"], d["status"]) for d in mine["items"]] == [
        (a1, "resolved-accepted"),
        (a2, "open"),
    ]
    page = c.get("/v1/disputes", headers=fin, params={"status": "all", "limit": 2, "offset": 1})
    assert page.json()["total"] == 4 and page.json()["limit"] == 2 and page.json()["offset"] == 1
    assert [d["dispute_id"] for d in page.json()["items"]] == [a2, b1]
    for params in ({"status": "closed"}, {"limit": 0}, {"limit": 501}, {"offset": -1}):
        assert c.get("/v1/disputes", headers=fin, params=params).status_code == 422


def test_accepting_a_dispute_of_a_closed_period_pays_it_in_the_next_one(lite: Settings) -> None:
    with EventStore(lite) as store:
        close_period(store, Period.parse("2026-Q1"), closed_by="fin")
    c = client(lite)
    did = raise_dispute(c, lite)["dispute_id"]
    fin = auth(lite, Role.FINANCE, "fin")
    accepted = c.post(f"/v1/disputes/{did}/resolve", headers=fin, json={"outcome": "accepted"})
    assert accepted.status_code == 200, accepted.text
    q2 = c.get("/v1/reps/an/statements/2026-Q2", headers=fin).json()[0]
    assert q2["lines"] == []  # proposed, not yet approved
    proposal_id = accepted.json()["resolution"]["adjustment_event_id"]
    second = auth(lite, Role.FINANCE, "controller")
    assert c.post(f"/v1/adjustments/{proposal_id}/approve", headers=second).status_code == 200
    q2 = c.get("/v1/reps/an/statements/2026-Q2", headers=fin).json()[0]
    assert [(ln["kind"], ln["amount"]) for ln in q2["lines"]] == [("prior_period", "1500000")]
