"""Backfilled history through the doors (CLI and HTTP, SQLite): a reassignment loaded today with
the time the old CRM learned it gives two different statements as of before and after it.

An and Bình, a territory of An's, Q1 quotas of 300,000,000 each, graduated tiers; a deal of
200,000,000 in the territory closed 2026-02-20 naming no rep (known to the CRM 2026-02-21).
The reassignment to Bình effective 2026-02-15 was known to the CRM on 2026-03-01: as of
2026-02-28 An is paid 150M x 2 % + 50M x 5 % = 5,500,000; as of 2026-03-02, Bình is.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from api.auth import Role
from incentive_engine.cli.main import app
from incentive_engine.domain.events import event_content
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import assigned, customer, territory, won

runner = CliRunner()
BEFORE, AFTER = "2026-02-28T23:59:59Z", "2026-03-02T00:00:00Z"


def cli(store: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--store", store, *args])


def setup_events() -> list[Any]:
    return [
        publication(plan(tiered()).plan),
        rep("an"),
        rep("binh"),
        quota("an", 300_000_000),
        quota("binh", 300_000_000),
        quota("an", 300_000_000, "2026-Q2"),
        quota("binh", 300_000_000, "2026-Q2"),
        territory("HCM-SME-RETAIL", region="TP.HCM", size="sme", industry="Retail"),
        assigned("HCM-SME-RETAIL", "an"),
    ]


def deal() -> dict[str, Any]:
    d1 = won("D1", 200_000_000, close_date="2026-02-20", customer=customer(industry="Retail"))
    return event_content(d1) | {"source_recorded_at": "2026-02-21T09:00:00+07:00"}


def reassignment(when: str = "2026-03-01T09:00:00Z") -> dict[str, Any]:
    content = event_content(assigned("HCM-SME-RETAIL", "binh", "2026-02-15", event_id="move-1"))
    return content | {"source_recorded_at": when}


def jsonl(path: Path, records: list[Any]) -> Path:
    lines = [json.dumps(r if isinstance(r, dict) else event_content(r)) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli_store(tmp_path: Path) -> str:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    setup = jsonl(tmp_path / "setup.jsonl", setup_events())
    assert cli(store, "ingest", str(setup), "--known-since", "2025-12-15").exit_code == 0
    assert cli(store, "ingest", str(jsonl(tmp_path / "deal.jsonl", [deal()]))).exit_code == 0
    return store


def cli_total(store: str, rep_id: str, period: str, *as_of: str) -> str:
    result = cli(store, "statement", rep_id, period, "--format", "json", *as_of)
    assert result.exit_code == 0, result.output
    return "".join(doc["total"] for doc in json.loads(result.stdout))


def test_cli_as_of_before_and_after_a_backfilled_reassignment(tmp_path: Path) -> None:
    store = cli_store(tmp_path)
    history = jsonl(tmp_path / "history.jsonl", [reassignment()])
    loaded = cli(store, "ingest", str(history), "--format", "json")
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.stdout)[0]["stored"] == 1

    assert cli_total(store, "an", "2026-Q1", "--as-of", BEFORE) == "5500000"
    assert cli_total(store, "binh", "2026-Q1", "--as-of", BEFORE) == "0"
    assert cli_total(store, "an", "2026-Q1", "--as-of", AFTER) == "0"
    assert cli_total(store, "binh", "2026-Q1", "--as-of", AFTER) == "5500000"
    # --known-since gave the set-up its time: nothing was known before it
    early = cli(store, "statement", "an", "2026-Q1", "--as-of", "2025-12-14")
    assert early.exit_code == 1 and "unknown rep 'an'" in early.output

    explained = cli(store, "audit", "explain", "binh", "2026-Q1", "--format", "json")
    events = [e for chain in json.loads(explained.stdout) for e in chain["events"]]
    move = next(e for e in events if e["event_id"] == "move-1")  # behind several lines
    assert move["source_recorded_at"] == "2026-03-01T09:00:00+00:00"
    assert move["recorded_at"] > "2026-11"  # recorded by the engine on the day of the test

    listed = cli(store, "events", "--as-of", "2026-03-01", "--format", "json")
    assert "move-1" in {e["event_id"] for e in json.loads(listed.stdout)}
    listed = cli(store, "events", "--as-of", "2026-02-28", "--format", "json")
    assert "move-1" not in {e["event_id"] for e in json.loads(listed.stdout)}

    again = cli(store, "ingest", str(history), "--format", "json")
    assert again.exit_code == 0
    assert (json.loads(again.stdout)[0]["stored"], json.loads(again.stdout)[0]["duplicates"]) == (
        0,
        1,
    )


def test_cli_refuses_future_source_times_and_closed_periods_without_the_flag(
    tmp_path: Path,
) -> None:
    store = cli_store(tmp_path)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    future = jsonl(tmp_path / "future.jsonl", [reassignment(tomorrow)])
    refused = cli(store, "ingest", str(future))
    assert refused.exit_code == 1
    assert "future.jsonl:1: event move-1 field 'source_recorded_at'" in refused.stderr
    assert "in the future" in refused.stderr
    whole = cli(store, "ingest", str(future), "--known-since", "2099-01-01")
    assert whole.exit_code == 1 and "in the future" in whole.stderr

    assert cli(store, "period", "close", "2026-Q1", "--by", "finance@vn").exit_code == 0
    history = jsonl(tmp_path / "history.jsonl", [reassignment()])
    closed = cli(store, "ingest", str(history))
    assert closed.exit_code == 1
    assert "backfill into the closed period 2026-Q1" in closed.stderr
    assert "--allow-closed-period" in closed.stderr
    allowed = cli(store, "ingest", str(history), "--allow-closed-period")
    assert allowed.exit_code == 0, allowed.output
    [q2] = json.loads(cli(store, "statement", "binh", "2026-Q2", "--format", "json").stdout)
    [line] = [ln for ln in q2["lines"] if ln["kind"] == "prior_period"]
    assert (line["component"], line["amount"]) == ("prior:2026-Q1", "5500000")
    assert "move-1" in line["event_ids"]


# ------------------------------------------------------------------------------- HTTP


def api_store(tmp_path: Path) -> Settings:
    settings = api_settings(sqlite_settings(tmp_path))
    with EventStore(settings) as store:
        store.append(setup_events(), recorded_at=datetime(2026, 1, 1, tzinfo=UTC))
        d1 = won("D1", 200_000_000, close_date="2026-02-20", customer=customer(industry="Retail"))
        store.append([d1], recorded_at=datetime(2026, 2, 21, tzinfo=UTC))
    return settings


def api_total(c: Any, settings: Settings, rep_id: str, period: str, as_of: str | None) -> str:
    params = {"as_of": as_of} if as_of else {}
    answer = c.get(
        f"/v1/reps/{rep_id}/statements/{period}",
        params=params,
        headers=auth(settings, Role.FINANCE, "finance@vn"),
    )
    assert answer.status_code == 200, answer.text
    if as_of:
        assert answer.headers["Cache-Control"] == "private, no-cache"
    return "".join(doc["total"] for doc in answer.json())


def test_api_as_of_before_and_after_a_backfilled_reassignment(tmp_path: Path) -> None:
    settings = api_store(tmp_path)
    c, key = client(settings), auth(settings, Role.FINANCE, "finance@vn")
    assert api_total(c, settings, "binh", "2026-Q1", AFTER) == "0"  # nothing backfilled yet
    posted = c.post("/v1/events", headers=key, content=json.dumps([reassignment()]))
    assert posted.status_code == 200, posted.text
    assert posted.json()["stored"] == 1
    assert api_total(c, settings, "an", "2026-Q1", BEFORE) == "5500000"
    assert api_total(c, settings, "binh", "2026-Q1", BEFORE) == "0"
    assert api_total(c, settings, "an", "2026-Q1", AFTER) == "0"
    assert api_total(c, settings, "binh", "2026-Q1", AFTER) == "5500000"
    again = c.post("/v1/events", headers=key, content=json.dumps([reassignment("2026-03-05")]))
    assert again.status_code == 200 and again.json()["duplicates"] == 1


def test_api_refusals_name_the_record_and_field(tmp_path: Path) -> None:
    settings = api_store(tmp_path)
    c, key = client(settings), auth(settings, Role.FINANCE, "finance@vn")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    future = c.post("/v1/events", headers=key, content=json.dumps([reassignment(tomorrow)]))
    assert future.status_code == 422
    [detail] = future.json()["error"]["details"]
    assert (detail["index"], detail["event_id"], detail["field"]) == (
        0,
        "move-1",
        "source_recorded_at",
    )
    plain = event_content(won("D7", rep_id="an", close_date="2026-03-03"))
    whole = c.post(
        "/v1/events",
        headers=key,
        params={"known_since": "2099-01-01T00:00:00Z"},
        content=json.dumps([plain]),
    )
    assert whole.status_code == 422
    assert whole.json()["error"]["details"][0]["field"] == "known_since"

    with EventStore(settings) as store:
        from incentive_engine.domain.periods import Period
        from incentive_engine.services.commissions import close_period

        close_period(store, Period.parse("2026-Q1"), closed_by="finance@vn")
    body = json.dumps([reassignment()])
    refused = c.post("/v1/events", headers=key, content=body)
    assert refused.status_code == 422
    assert "allow_closed_period=true" in refused.json()["error"]["details"][0]["reason"]
    allowed = c.post(
        "/v1/events", headers=key, params={"allow_closed_period": "true"}, content=body
    )
    assert allowed.status_code == 200 and allowed.json()["stored"] == 1
    assert api_total(c, settings, "binh", "2026-Q2", None) == "5500000"


# ------------------------------------------------------------------------------- demo


def test_the_demo_loads_its_year_as_backfilled_history(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    made = runner.invoke(app, ["demo", "--reps", "8", "--events", "3000", "--dir", str(directory)])
    assert made.exit_code == 0, made.output
    assert "with the time the old CRM learned them" in made.stdout
    records = [json.loads(line) for line in (directory / "events.jsonl").open(encoding="utf-8")]
    deals = [r for r in records if r["type"] == "DealWon" and r["close_date"] < "2026-11-01"]
    assert deals and all("source_recorded_at" in r for r in deals)  # (later ones: not yet known)
    store = f"sqlite:///{directory / 'store.db'}"

    def payouts(*as_of: str) -> dict[str, str]:
        result = cli(store, "payouts", "2026-Q1", "--format", "json", *as_of)
        assert result.exit_code == 0, result.output
        return {row["rep_id"]: row["total"] for row in json.loads(result.stdout)["items"]}

    mid_march, now = payouts("--as-of", "2026-03-15"), payouts()
    # the plans and quotas were known in December: mid-March pays, but less than now
    assert mid_march and mid_march != now
    assert sum(map(int, mid_march.values())) < sum(map(int, now.values()))


def test_the_audit_pages_show_when_the_source_knew_it(tmp_path: Path) -> None:
    from api.app import create_app
    from tests.e2e.web.test_audit_pages import signed_in

    settings = api_store(tmp_path)
    with EventStore(settings) as store:
        store.append(
            [assigned("HCM-SME-RETAIL", "binh", "2026-02-15", event_id="move-1")],
            source_times={"move-1": datetime(2026, 3, 1, 2, 0, tzinfo=UTC)},
        )
        position = store.position_of("move-1")
    c = signed_in(create_app(settings), settings, Role.FINANCE, "finance@vn")
    explained = c.get("/audit/explain", params={"rep": "binh", "period": "2026-Q1"})
    assert explained.status_code == 200
    assert 'data-test="source-time"' in explained.text and "01/03/2026" in explained.text
    listed = c.get("/audit/events", params={"type": "TerritoryAssigned"})
    assert listed.status_code == 200 and listed.text.count('data-test="source-time"') == 1
    one = c.get(f"/audit/events/{position}")
    assert one.status_code == 200 and 'data-test="source-time"' in one.text
