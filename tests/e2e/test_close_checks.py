"""Pre-close checks and the close rule through the API (on both stores) and the CLI: a
close is refused while a blocking check fails, accepted with a written override reason
that is stored on the PeriodClosed event, and an empty reason is refused."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.auth import Role
from incentive_engine.cli.main import app
from incentive_engine.domain.events import PeriodClosed, event_content
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client, seed
from tests.factories import assigned, customer, territory, won

URL = "/v1/periods/2026-Q1/close"
ORPHAN = won("D9", 5_000_000, close_date="2026-03-05", customer=customer(region="Hà Nội"))
"""A deal of Q1 naming no rep, in a territory nobody owns: two blocking findings."""


def seeded(settings: Settings) -> Settings:
    s = api_settings(settings)
    seed(s)
    with EventStore(s) as store:
        store.append([territory("T-HN", region="Hà Nội"), ORPHAN])
    return s


def stored_close(s: Settings) -> PeriodClosed:
    with EventStore(s) as store:
        [found] = [r.event for r in store.read(types=["PeriodClosed"])]
    assert isinstance(found, PeriodClosed)
    return found


def test_checks_refusal_override_on_both_stores(settings: Settings) -> None:
    s = seeded(settings)
    c, h = client(s), auth(s, Role.FINANCE, "fin")
    checks = c.get("/v1/periods/2026-Q1/checks", headers=h)
    assert checks.status_code == 200, checks.text
    doc = checks.json()
    assert doc["closable"] is False and doc["status"] == "open"
    assert doc["blocking"] == ["deals_without_credit", "unowned_territories"]
    by_name = {x["name"]: x for x in doc["checks"]}
    assert [(f["kind"], f["subject"]) for f in by_name["deals_without_credit"]["findings"]] == [
        ("deal", "D9")
    ]
    assert by_name["unowned_territories"]["findings"][0]["subject"] == "T-HN"
    assert by_name["changes_since_pay_run"]["findings"][0]["detail"].endswith("never viewed")
    assert by_name["statement_errors"]["passed"] and not by_name["statement_errors"]["overridable"]

    refused = c.post(URL, headers=h, json={"closed_by": "fin"})
    assert refused.status_code == 409, refused.text
    message = refused.json()["error"]["message"]
    assert "deals_without_credit (deal D9" in message and "override" in message
    empty = c.post(URL, headers=h, json={"closed_by": "fin", "override_reason": "   "})
    assert empty.status_code == 422
    assert empty.json()["error"]["details"][0]["field"] == "override_reason"
    assert c.get("/v1/payouts/2026-Q1", headers=h).json()["status"] == "open"  # nothing closed

    reason = "D9 là hợp đồng nội bộ, không tính hoa hồng"
    closed = c.post(URL, headers=h, json={"closed_by": "Kế toán", "override_reason": reason})
    assert closed.status_code == 201, closed.text
    body = closed.json()
    assert body["override_reason"] == reason
    assert body["overridden_checks"] == ["deals_without_credit", "unowned_territories"]
    event = stored_close(s)
    assert event.override_reason == reason
    assert event.overridden_checks == ("deals_without_credit", "unowned_territories")
    assert c.get("/v1/periods/2026-Q1/checks", headers=h).json()["status"] == "sealed"


def test_fixing_the_crediting_lets_the_period_close_without_override(tmp_path: Path) -> None:
    s = seeded(sqlite_settings(tmp_path))
    c, h = client(s), auth(s, Role.FINANCE, "fin")
    with EventStore(s) as store:  # another user assigns the territory: D9 is credited
        store.append([assigned("T-HN", "chau")])
    doc = c.get("/v1/periods/2026-Q1/checks", headers=h).json()
    assert doc["closable"] is True and doc["blocking"] == []
    closed = c.post(URL, headers=h, json={"closed_by": "fin", "override_reason": "not needed"})
    assert closed.status_code == 201, closed.text
    assert closed.json()["override_reason"] is None and closed.json()["overridden_checks"] == []
    event = stored_close(s)
    assert "override_reason" not in event_content(event)  # left out: hash as before
    assert {p.rep_id: p.total for p in event.payouts}["chau"] > 0  # D9 paid to the owner


def test_cli_override_reason(tmp_path: Path) -> None:
    s = seeded(sqlite_settings(tmp_path))
    runner = CliRunner()
    store = ["--store", s.store_url]
    checks = runner.invoke(app, [*store, "period", "checks", "2026-Q1", "--format", "json"])
    assert checks.exit_code == 0, checks.output
    rows = json.loads(checks.stdout)
    assert {(r["check"], r["state"]) for r in rows if r["subject"] == "deal D9"} == {
        ("deals_without_credit", "BLOCKS")
    }
    refused = runner.invoke(app, [*store, "period", "close", "2026-Q1", "--by", "fin"])
    assert refused.exit_code == 1 and "deals_without_credit" in refused.stderr
    empty = runner.invoke(
        app, [*store, "period", "close", "2026-Q1", "--by", "fin", "--override-reason", " "]
    )
    assert empty.exit_code == 1 and "override reason is empty" in empty.stderr
    done = runner.invoke(app, [*store, "period", "close", "2026-Q1", "--by", "fin",
                               "--override-reason", "house account"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "closed 2026-Q1" in done.stdout and "recorded reason: house account" in done.stderr
    assert stored_close(s).override_reason == "house account"
