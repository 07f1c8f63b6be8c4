"""Who may write what (issue 13, part 1): write scopes at every door, plan documents validated
inside every PlanVersionPublished, a bad stored event never breaks the engine, and voiding.

Each test ran against the base commit (fa5ca30) and failed there; see the branch's report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from api.auth import Role
from incentive_engine.cli.main import app
from incentive_engine.domain.events import content_hash, event_content
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.e2e.api_helpers import api_settings, auth, client, seed
from tests.examples.plans import plan

runner = CliRunner()
KEY = {"X-API-Key": "crm-key-1"}

JUNK = {"junk": True}
JUNK_PLAN = {
    "type": "PlanVersionPublished",
    "event_id": "plan:example:v2",
    "plan_id": "example",
    "version": 2,
    "effective_from": "2026-01-01",
    "document": JUNK,
    "content_hash": content_hash(JUNK),
}
"""A new version of the seeded plan whose document is junk, with a matching hash."""


def _adjustment(amount: str = "1000000000000") -> dict[str, Any]:
    return {
        "type": "ManualAdjustment", "event_id": "adj-big", "rep_id": "an", "period": "2026-Q1",
        "amount": amount, "currency": "VND", "reason": "bonus", "posted_by": "crm",
        "posted_date": "2026-03-01",
    }  # fmt: skip


def _close() -> dict[str, Any]:
    return {
        "type": "PeriodClosed", "event_id": "close:2026-Q1", "period": "2026-Q1",
        "closed_at": "2026-04-02T00:00:00Z",
        "payouts": [{"rep_id": "an", "plan_id": "example", "version": 1, "earned": "1",
                     "total": "1", "statement_hash": "sha256:00"}],
    }  # fmt: skip


def _rich_plan() -> dict[str, Any]:
    """A valid plan paying 100 % of revenue, published as a new version."""
    doc = plan({"id": "all", "kind": "rate", "rate": 100}, version=2).plan
    return event_content(publication(doc))


def insert_raw(settings: Settings, data: dict[str, Any], *, recorded_at: str) -> None:
    """Write one event straight into the store's table, as an older version or a hand-made
    SQL statement would, bypassing every check."""
    state = orjson.dumps(
        {"event": data, "recorded_at": recorded_at, "source": "sql", "hash": "sha256:00"}
    )
    with EventStore(settings) as store:
        table = store.recorder.events_table_name  # type: ignore[attr-defined]
        datastore = store.recorder.datastore  # type: ignore[attr-defined]
        with datastore.transaction(commit=True) as c:
            if store.backend == "sqlite":
                c.execute(
                    f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
                    "VALUES (?, 1, ?, ?)",
                    (data["event_id"], data["type"], state),
                )
            else:
                c.execute(
                    f'INSERT INTO "{datastore.schema}"."{table}" '
                    "(originator_id, originator_version, topic, state) VALUES (%s, 1, %s, %s)",
                    (data["event_id"], data["type"], state),
                )


def stored_ids(settings: Settings) -> list[str]:
    with EventStore(settings) as store:
        return [r.event.event_id for r in store.read()]


# ------------------------------------------------------------------ write scopes


@pytest.mark.parametrize(
    "record",
    [_adjustment(), _close(), _rich_plan(), JUNK_PLAN],
    ids=["adjustment", "close", "plan-100pct", "junk-plan"],
)
def test_integration_key_may_write_crm_facts_only(settings: Settings, record: dict) -> None:
    s = api_settings(settings)
    seed(s)
    before = stored_ids(s)
    c = client(s)
    hire = {"type": "RepHired", "event_id": "hire-dung", "rep_id": "dung", "name": "Dũng",
            "team": "T", "hire_date": "2026-01-01"}  # fmt: skip
    for partial in ("false", "true"):
        r = c.post(f"/v1/events?partial={partial}", json=[hire, record], headers=KEY)
        assert r.status_code == 403, r.text
        message = r.json()["error"]["message"]
        assert record["type"] in message and "nothing was stored" in message
        assert "RepHired" in message and "DealWon" in message  # what the key may write
    assert stored_ids(s) == before
    assert c.post("/v1/events", json=[hire], headers=KEY).status_code == 200
    assert (
        c.get("/v1/reps/an/statements/2026-Q1", headers=auth(s, Role.FINANCE, "f")).status_code
        == 200
    )


def test_a_key_configured_for_quotas_may_write_them_and_existing_values_stay_valid(
    tmp_path: Path,
) -> None:
    from tests.conftest import sqlite_settings

    s = api_settings(sqlite_settings(tmp_path)).model_copy(
        update={
            "api_keys": {"crm-key-1": "integration:crm", "q-key": "integration:hubspot:crm+quotas"}
        }
    )
    seed(s)
    c = client(s)
    quota = {"type": "QuotaSet", "event_id": "q-an-q2", "subject_id": "an", "period": "2026-Q2",
             "amount": 1, "currency": "VND"}  # fmt: skip
    assert c.post("/v1/events", json=[quota], headers=KEY).status_code == 403
    assert c.post("/v1/events", json=[quota], headers={"X-API-Key": "q-key"}).status_code == 200
    bad = s.model_copy(update={"api_keys": {"k": "integration:x:crm+nonsense"}})
    r = client(bad).post("/v1/events", json=[quota], headers={"X-API-Key": "k"})
    assert r.status_code == 401 and "nonsense" in r.json()["error"]["message"]


def test_finance_may_not_close_publish_or_pay_an_adjustment_through_the_event_door(
    settings: Settings,
) -> None:
    s = api_settings(settings)
    seed(s)
    c = client(s)
    finance = auth(s, Role.FINANCE, "fin")
    # an adjustment is paid only once a second finance user approves it (/v1/adjustments): a
    # raw ManualAdjustment would skip the second pair of eyes
    for record in (_close(), _rich_plan(), _adjustment("5")):
        r = c.post("/v1/events", json=[record], headers=finance)
        assert r.status_code == 403 and record["type"] in r.json()["error"]["message"]
    fx = {"type": "FxRateSet", "event_id": "fx-1", "base": "USD", "quote": "VND",
          "rate": "25000", "rate_date": "2026-01-01"}  # fmt: skip
    assert c.post("/v1/events", json=[fx], headers=finance).status_code == 200


def test_cli_ingest_scope_and_allow(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    f = tmp_path / "close.jsonl"
    f.write_text(json.dumps(_close()) + "\n", encoding="utf-8")
    refused = runner.invoke(app, ["--store", db, "ingest", str(f)])
    assert refused.exit_code == 1
    assert "may not write PeriodClosed" in refused.stderr
    crm_only = runner.invoke(app, ["--store", db, "ingest", "--scope", "crm", str(f)])
    assert crm_only.exit_code == 1 and "scope crm" in crm_only.stderr
    unknown = runner.invoke(app, ["--store", db, "ingest", "--allow", "nonsense", str(f)])
    assert unknown.exit_code == 2 and "unknown write scope 'nonsense'" in unknown.stderr
    allowed = runner.invoke(app, ["--store", db, "ingest", "--allow", "PeriodClosed", str(f)])
    assert allowed.exit_code == 0, allowed.output


# ------------------------------------------------------- plan documents, every door


def test_junk_plan_document_is_refused_at_every_door_with_errors_at_the_path(
    settings: Settings, tmp_path: Path
) -> None:
    s = api_settings(settings)
    seed(s)
    before = stored_ids(s)
    bad = dict(JUNK_PLAN, event_id="plan:bad:v1", plan_id="bad", version=1,
               document={"plan_id": "bad", "version": 1, "name": "Bad",
                         "effective_from": "2026-01-01", "currency": "VND", "period": "quarter",
                         "covers": {"roles": ["rep"]},
                         "components": [{"id": "c", "kind": "rate", "rate": "lots"}]})  # fmt: skip
    bad["content_hash"] = content_hash(bad["document"])
    r = client(s).post("/v1/events", json=[bad], headers=auth(s, Role.FINANCE, "fin"))
    assert r.status_code == 403  # finance does not publish raw plans; the CLI may
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(bad) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["--store", s.store_url, "ingest", str(f)])
    assert result.exit_code == 1
    assert "field 'document.components.0.rate'" in result.stderr
    assert stored_ids(s) == before


# --------------------------------------------- a bad stored event never breaks it


def _reads(s: Settings) -> dict[str, int]:
    c = client(s)
    finance, an, chau = (
        auth(s, Role.FINANCE, "fin"), auth(s, Role.REP, "an"), auth(s, Role.REP, "chau"),
    )  # fmt: skip
    return {
        "statement-an": c.get("/v1/reps/an/statements/2026-Q1", headers=an).status_code,
        "earnings-an": c.get("/v1/reps/an/earnings", headers=an).status_code,
        "payouts": c.get("/v1/payouts/2026-Q1", headers=finance).status_code,
        "board": c.get("/v1/leaderboards/points?period=2026-Q1", headers=chau).status_code,
        "disputes": c.get("/v1/disputes", headers=finance).status_code,
        "attainment": c.get("/v1/attainment/2026-Q1", headers=finance).status_code,
    }


def test_a_junk_plan_written_into_the_database_is_isolated_then_voided(
    settings: Settings,
) -> None:
    s = api_settings(settings)
    seed(s)
    insert_raw(s, JUNK_PLAN, recorded_at="2026-04-01T00:00:00.000000+00:00")
    reads = _reads(s)
    assert all(code < 500 for code in reads.values()), reads
    assert reads["earnings-an"] == 200 and reads["board"] == 200
    assert reads["disputes"] == 200 and reads["attainment"] == 200
    c = client(s)
    r = c.get("/v1/reps/an/statements/2026-Q1", headers=auth(s, Role.REP, "an"))
    assert r.status_code == 409 and "plan:example:v2" in r.json()["error"]["message"]
    earnings = c.get("/v1/reps/an/earnings", headers=auth(s, Role.REP, "an")).json()
    assert "plan:example:v2" in earnings["items"][0]["error"]
    # Finance repairs it without editing the database: propose, a second user approves.
    one, two = auth(s, Role.FINANCE, "fin-a"), auth(s, Role.FINANCE, "fin-b")
    proposed = c.post("/v1/voids", json={"event_id": "plan:example:v2", "reason": "junk"},
                      headers=one)  # fmt: skip
    assert proposed.status_code == 201, proposed.text
    pid = proposed.json()["proposal_id"]
    assert proposed.json()["target_type"] == "PlanVersionPublished"
    assert c.post(f"/v1/voids/{pid}/approve", headers=one).status_code == 403  # self-approval
    still = c.get("/v1/reps/an/statements/2026-Q1", headers=auth(s, Role.REP, "an"))
    assert still.status_code == 409
    approved = c.post(f"/v1/voids/{pid}/approve", headers=two)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    fixed = client(s).get("/v1/reps/an/statements/2026-Q1", headers=auth(s, Role.REP, "an"))
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()[0]["total"] == "17700000"
    with EventStore(s) as store:  # the log is never edited: the junk row stays, voided
        assert store.raw("plan:example:v2") is not None
        assert store.voids() == {"plan:example:v2": approved.json()["approval_id"]}


def test_the_cli_reports_a_quarantined_event_without_a_traceback(
    settings: Settings,
) -> None:
    s = api_settings(settings)
    seed(s)
    insert_raw(s, JUNK_PLAN, recorded_at="2026-04-01T00:00:00.000000+00:00")
    store = s.store_url

    def cli(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["--store", store, *args])

    statement = cli("statement", "an", "2026-Q1")
    assert statement.exit_code == 1 and isinstance(statement.exception, SystemExit)
    assert "plan:example:v2" in statement.stderr and "Traceback" not in statement.output
    chau = cli("statement", "chau", "2026-Q1")
    assert chau.exit_code == 1 and "plan:example:v2" in chau.stderr  # same plan: affected
    payouts = cli("payouts", "2026-Q1")
    assert payouts.exit_code == 1, payouts.output
    assert isinstance(payouts.exception, SystemExit)
    assert "plan:example:v2" in payouts.stderr
    for args in (("replay",), ("project",), ("leaderboard", "points", "--period", "2026-Q1")):
        result = cli(*args)
        assert isinstance(result.exception, SystemExit | None), (args, result.exception)
        assert result.exit_code in (0, 1), (args, result.output)
    assert "quarantined" in cli("replay").output
    proposed = cli("void", "propose", "plan:example:v2", "--reason", "junk", "--by", "fin-a")
    assert proposed.exit_code == 0, proposed.output
    pid = json.loads(cli("void", "list", "--format", "json").stdout)[0]["proposal_id"]
    own = cli("void", "approve", pid, "--by", "fin-a")
    assert own.exit_code == 1 and "two-person rule" in own.stderr
    assert cli("void", "approve", pid, "--by", "fin-b").exit_code == 0
    fixed = cli("statement", "an", "2026-Q1", "--format", "json")
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.stdout)[0]["total"] == "17700000"
    assert cli("payouts", "2026-Q1").exit_code == 0


# ------------------------------------------------------------------ voiding


def test_a_void_of_a_closed_period_event_becomes_a_cited_adjustment(settings: Settings) -> None:
    s = api_settings(settings)
    seed(s)
    c = client(s)
    one, two = auth(s, Role.FINANCE, "fin-a"), auth(s, Role.FINANCE, "fin-b")
    closed = c.post("/v1/periods/2026-Q1/close", headers=one, json={"closed_by": "fin-a"})
    assert closed.status_code == 201, closed.text
    r = c.post("/v1/voids", json={"event_id": "won-D1", "reason": "duplicate deal"}, headers=one)
    pid = r.json()["proposal_id"]
    approval = c.post(f"/v1/voids/{pid}/approve", headers=two).json()["approval_id"]
    q2 = c.get("/v1/reps/an/statements/2026-Q2", headers=two)
    assert q2.status_code == 200, q2.text
    [statement] = q2.json()
    [line] = [ln for ln in statement["lines"] if ln["kind"] == "prior_period"]
    assert line["amount"] == "-17700000"  # Q1 recomputed without D1: nothing
    assert approval in line["event_ids"]
    sealed = c.get("/v1/payouts/2026-Q1", headers=two).json()
    assert any(row["total"] == "17700000" for row in sealed["items"])  # never rewritten
    with EventStore(s) as store:
        assert store.get("won-D1") is not None  # the voided event stays in the log


def test_void_refusals(settings: Settings) -> None:
    s = api_settings(settings)
    seed(s)
    c = client(s)
    one = auth(s, Role.FINANCE, "fin-a")
    assert (
        c.post("/v1/voids", json={"event_id": "nope", "reason": "x"}, headers=one).status_code
        == 404
    )
    rep = auth(s, Role.REP, "an")
    assert (
        c.post("/v1/voids", json={"event_id": "won-D1", "reason": "x"}, headers=rep).status_code
        == 403
    )
    r = c.post("/v1/events", json=[{"type": "EventVoidProposed", "event_id": "v",
                                    "target_event_id": "won-D1", "reason": "x",
                                    "proposed_by": "a", "proposed_at": "2026-04-01T00:00:00Z"}],
               headers=KEY)  # fmt: skip
    assert r.status_code == 403


def test_a_self_approved_void_written_into_the_database_counts_for_nothing(
    settings: Settings,
) -> None:
    s = api_settings(settings)
    seed(s)
    at = "2026-04-01T00:00:00.000000+00:00"
    insert_raw(s, {"type": "EventVoidProposed", "event_id": "v1", "target_event_id": "won-D1",
                   "reason": "x", "proposed_by": "eve", "proposed_at": at}, recorded_at=at)  # fmt: skip
    insert_raw(s, {"type": "EventVoidApproved", "event_id": "v1a", "proposal_id": "v1",
                   "target_event_id": "won-D1", "approved_by": " EVE ", "approved_at": at},
               recorded_at=at)  # fmt: skip
    r = client(s).get("/v1/reps/an/statements/2026-Q1", headers=auth(s, Role.REP, "an"))
    assert r.status_code == 200 and r.json()[0]["total"] == "17700000"
