"""Stored events the engine cannot use, where money moves and where the log is read (issue 13
§1 "nothing stored can break the engine" and §4): `audit verify` reports quarantined events
and whether they are voided, `period close` refuses while one concerns the period naming
every rep it blocks, the payouts of one broken rep never hide the others (JSON, CSV, CLI),
the events listing marks voided and quarantined events, disputes ignore voided dispute
events and the notification publisher skips voided events.

Each test ran against the base commit (70af4da) and failed there; see the branch's report."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import orjson
from typer.testing import CliRunner

from api.auth import Role
from incentive_engine.cli.main import app
from incentive_engine.domain.periods import Period
from incentive_engine.services import voids
from incentive_engine.services.commissions import CloseRefused, close_period
from incentive_engine.services.engine import Engine
from incentive_engine.services.integrity import checkpoint_after_verify, views_of
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import StepClock
from tests.e2e.api_helpers import api_settings, auth, client, seed
from tests.e2e.test_write_scopes import JUNK_PLAN, insert_raw
from tests.integration.test_audit import rows, state_at
from tests.integration.test_integrity import cli_verify, ready

runner = CliRunner()

JUNK_ADJUSTMENT = {
    "type": "ManualAdjustment", "event_id": "adj-junk", "rep_id": "an", "period": "2026-Q1",
    "amount": "a lot", "currency": "VND", "reason": "bonus", "posted_by": "crm",
    "posted_date": "2026-03-01",
}  # fmt: skip
"""A stored adjustment of rep an that no longer validates: it concerns an's statements only."""


def _void(store: EventStore, event_id: str) -> str:
    """Void a stored event (two finance users); the approval's event id."""
    proposal = voids.propose(store, event_id, reason="junk", by="fin-a")
    return voids.approve(store, proposal.event_id, by="fin-b").event_id


def _sign(settings: Settings, store: EventStore) -> None:
    engine = Engine(settings, store=store)
    views = views_of(engine)
    try:
        checkpoint_after_verify(engine, views, reason="test")
    finally:
        views.dispose()


# ------------------------------------------------------------------ audit verify


def test_verify_reports_a_quarantined_event_until_it_is_voided(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    ready(store, settings, clock)
    insert_raw(settings, JUNK_PLAN, recorded_at="2026-04-04T00:00:01.000000+00:00")
    clock.set("2026-04-05T00:00:00")
    _sign(settings, store)  # the junk row is there at the last checkpoint: an old event
    code, found = cli_verify(settings)
    assert code == 3, found[0]["detail"]  # intact, but unresolved
    [row] = [r for r in found if r["event_id"] == "plan:example:v2"]
    assert row["kind"] == "quarantined" and row["position"] == store.max_position()
    assert "document" in row["detail"] and "at the last signed checkpoint" in row["detail"]
    s = api_settings(settings)
    fin = auth(s, Role.FINANCE, "fin")
    body = client(s).get("/v1/audit/verify", headers=fin).json()
    assert (body["ok"], body["status"], body["intact"]) == (False, "quarantined", True)
    [q] = body["quarantined"]
    assert q["event_id"] == "plan:example:v2" and q["status"] == "unresolved" and q["covered"]
    approval = _void(store, "plan:example:v2")
    code, found = cli_verify(settings)
    assert code == 0, found
    [row] = [r for r in found if r["event_id"] == "plan:example:v2"]
    assert row["kind"] == "voided" and approval in row["detail"]
    body = client(s).get("/v1/audit/verify", headers=fin).json()
    assert (body["ok"], body["status"]) == (True, "ok")
    assert body["quarantined"][0]["status"] == "voided"
    assert body["quarantined"][0]["voided_by"] == approval


def test_verify_names_a_chained_event_edited_into_one_that_no_longer_validates(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    ready(store, settings, clock)
    target = next(r for r in store.read() if r.event.event_id == "won-D1").position
    data = orjson.loads(state_at(store, target))
    data["event"]["amount"] = "not a number"
    rows(settings)(
        "UPDATE stored_events SET state = %s WHERE notification_id = %s",
        (orjson.dumps(data), target),
    )
    code, found = cli_verify(settings)
    assert code == 1
    first = found[0]
    assert (first["kind"], first["position"], first["event_id"]) == ("altered", target, "won-D1")
    assert "no longer validates" in first["detail"]
    [q] = [r for r in found if r["kind"] == "quarantined"]
    assert q["position"] == target and "edited since" in q["detail"]


# ------------------------------------------------------------------ period close


def test_close_refuses_naming_every_rep_a_quarantined_plan_blocks_then_closes_once_voided(
    settings: Settings,
) -> None:
    s = api_settings(settings)
    seed(s)
    insert_raw(s, JUNK_PLAN, recorded_at="2026-04-01T00:00:00.000000+00:00")
    c = client(s)
    fin = auth(s, Role.FINANCE, "fin")
    body = {"closed_by": "fin", "override_integrity": "we know"}
    refused = c.post("/v1/periods/2026-Q1/close", json=body, headers=fin)
    assert refused.status_code == 409, refused.text
    message = refused.json()["error"]["message"]
    assert "plan:example:v2" in message and "override does not apply" in message
    assert all(f"{rep}: " in message for rep in ("an", "binh", "chau")), message
    with EventStore(s) as store:
        assert "close:2026-Q1" not in {r.event.event_id for r in store.read()}
        _void(store, "plan:example:v2")
    closed = client(s).post("/v1/periods/2026-Q1/close", json={"closed_by": "fin"}, headers=fin)
    assert closed.status_code == 201, closed.text


def test_close_refusal_lists_only_the_reps_a_quarantined_adjustment_concerns(
    settings: Settings,
) -> None:
    seed(settings)
    insert_raw(settings, JUNK_ADJUSTMENT, recorded_at="2026-04-01T00:00:00.000000+00:00")
    with EventStore(settings) as store:
        try:
            close_period(
                store, Period.parse("2026-Q1"), closed_by="fin",
                now=datetime(2026, 4, 2, tzinfo=UTC), override_integrity="anyway",
            )  # fmt: skip
        except CloseRefused as exc:
            message = str(exc)
        else:
            raise AssertionError("closed with a quarantined adjustment")
    assert "1 statement(s) cannot be computed" in message and "adj-junk" in message
    assert "an: " in message and "binh: " not in message


# ------------------------------------------------------------------ payouts


def _payout_reads(s: Settings, **params: Any) -> Any:
    return client(s).get("/v1/payouts/2026-Q1", params=params, headers=auth(s, Role.FINANCE, "fin"))


def test_payouts_of_one_broken_rep_never_hide_the_others(settings: Settings) -> None:
    s = api_settings(settings)
    seed(s)
    insert_raw(s, JUNK_ADJUSTMENT, recorded_at="2026-04-01T00:00:00.000000+00:00")
    r = _payout_reads(s)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [row["rep_id"] for row in body["items"]] == ["binh", "chau", "mgr"]
    [failure] = body["failures"]
    assert failure["rep_id"] == "an" and "adj-junk" in failure["error"]
    assert r.headers["X-Payout-Failures"] == "1"  # the JSON says it in a header too
    refused = _payout_reads(s, format="csv")
    assert refused.status_code == 409
    assert "an" in refused.json()["error"]["message"]
    assert "adj-junk" in refused.json()["error"]["message"]
    partial = _payout_reads(s, format="csv", partial="true")
    assert partial.status_code == 200, partial.text
    assert partial.headers["X-Payout-Failures"] == "1"
    table = list(csv.DictReader(io.StringIO(partial.text)))
    assert [row["rep_id"] for row in table] == ["binh", "chau", "mgr"]
    # The CLI says the same: the CSV is refused unless --partial; the other formats list
    # the computable reps and the failures, and exit 1.
    cli = ["--store", s.store_url, "payouts", "2026-Q1"]
    out = runner.invoke(app, [*cli, "--format", "csv"])
    assert out.exit_code == 1 and out.stdout == "" and "adj-junk" in out.stderr
    out = runner.invoke(app, [*cli, "--format", "csv", "--partial"])
    assert out.exit_code == 0, out.output
    assert [row["rep_id"] for row in csv.DictReader(io.StringIO(out.stdout))] == [
        "binh",
        "chau",
        "mgr",
    ]
    assert "adj-junk" in out.stderr
    out = runner.invoke(app, [*cli, "--format", "json"])
    listed = json.loads(out.stdout)  # the API's document: the failing rep listed with its error
    assert out.exit_code == 1 and [r["rep_id"] for r in listed["items"]] == ["binh", "chau", "mgr"]
    [failure] = listed["failures"]
    assert failure["rep_id"] == "an" and "adj-junk" in failure["error"]
    with EventStore(s) as store:
        _void(store, "adj-junk")
    fixed = _payout_reads(s, format="csv")
    assert fixed.status_code == 200 and "X-Payout-Failures" not in fixed.headers
    assert [r["rep_id"] for r in csv.DictReader(io.StringIO(fixed.text))] == [
        "an", "binh", "chau", "mgr",
    ]  # fmt: skip
    assert _payout_reads(s).json()["failures"] == []


# ------------------------------------------------------------------ the log read back


def test_the_events_listing_marks_voided_and_quarantined_events(settings: Settings) -> None:
    seed(settings)
    insert_raw(settings, JUNK_PLAN, recorded_at="2026-04-01T00:00:00.000000+00:00")
    with EventStore(settings) as store:
        approval = _void(store, "won-D2")
    cli = ["--store", settings.store_url, "events", "--format", "json", "--limit", "100"]
    out = runner.invoke(app, cli)
    assert out.exit_code == 0, out.output
    listed = {r["event_id"]: r for r in json.loads(out.stdout)}
    assert listed["won-D2"]["status"] == "voided" and listed["won-D2"]["voided_by"] == approval
    junk = listed["plan:example:v2"]
    assert junk["status"] == "quarantined" and "document" in junk["summary"]
    assert listed["won-D1"]["status"] == "" and listed["won-D1"]["voided_by"] == ""
    with EventStore(settings) as store:
        fixed = _void(store, "plan:example:v2")
    listed = {r["event_id"]: r for r in json.loads(runner.invoke(app, cli).stdout)}
    assert listed["plan:example:v2"]["status"] == "voided"
    assert listed["plan:example:v2"]["voided_by"] == fixed


def test_a_voided_dispute_resolution_reopens_the_dispute(settings: Settings) -> None:
    s = api_settings(settings)
    seed(s)
    c = client(s)
    an, fin = auth(s, Role.REP, "an"), auth(s, Role.FINANCE, "fin")
    raised = c.post(
        "/v1/disputes",
        headers=an,
        json={"period": "2026-Q1", "line": 2, "reason": "more", "expected_amount": "9000000"},
    )
    assert raised.status_code == 201, raised.text
    did = raised.json()["dispute_id"]
    rejected = c.post(
        f"/v1/disputes/{did}/resolve", headers=fin, json={"outcome": "rejected", "reason": "no"}
    )
    assert rejected.status_code == 200, rejected.text
    with EventStore(s) as store:
        [resolution] = [r.event.event_id for r in store.read(types=("DisputeResolved",))]
        _void(store, resolution)
    seen = client(s).get(f"/v1/disputes/{did}", headers=fin)
    assert seen.status_code == 200 and seen.json()["status"] == "open", seen.text
    again = client(s).post(
        f"/v1/disputes/{did}/resolve", headers=fin, json={"outcome": "rejected", "reason": "no"}
    )
    assert again.status_code == 200, again.text
