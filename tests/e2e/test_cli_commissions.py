"""Commission commands end to end: statement, payouts, explain, adjust and period close."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from typer.testing import CliRunner

from incentive_engine.cli.main import app
from incentive_engine.domain.events import event_content
from plans.documents import publication
from tests.conftest import postgres_settings
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import won

runner = CliRunner()


def seed(tmp_path: Path) -> Path:
    events = [publication(plan(tiered("graduated")).plan), rep("an", name="Nguyễn Văn An"), rep("binh"),
              quota("an", 300_000_000), quota("binh", 100_000_000),
              won("D1", 390_000_000, rep_id="an", close_date="2026-02-10"),
              won("D2", 50_000_000, rep_id="binh", close_date="2026-03-10")]  # fmt: skip
    f = tmp_path / "seed.jsonl"
    f.write_text(
        "\n".join(json.dumps(event_content(e), ensure_ascii=False) for e in events) + "\n",
        encoding="utf-8",
    )
    return f


def cli(store: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--store", store, *args])


def sqlite_store(tmp_path: Path) -> str:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    assert cli(store, "ingest", str(seed(tmp_path))).exit_code == 0
    return store


def test_statement_table_and_json(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    table = cli(store, "statement", "an", "2026-Q1")
    assert table.exit_code == 0, table.output
    assert "Nguyễn Văn An" in table.stdout and "17.700.000 ₫" in table.stdout  # vi by default
    [doc] = json.loads(cli(store, "statement", "an", "2026-Q1", "--format", "json").stdout)
    assert doc["total"] == "17700000" and doc["hash"].startswith("sha256:")
    assert [ln["amount"] for ln in doc["lines"]] == ["3000000", "7500000", "7200000"]
    before_anything = cli(store, "statement", "an", "2026-Q1", "--as-of", "2000-01-01")
    assert before_anything.exit_code == 1 and "unknown rep 'an'" in before_anything.stderr


def test_statement_errors_are_clear(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    unknown = cli(store, "statement", "ghost", "2026-Q1")
    assert unknown.exit_code == 1 and "unknown rep 'ghost'" in unknown.stderr
    bad_period = cli(store, "statement", "an", "2026-Q9")
    assert bad_period.exit_code == 2 and "2026-Q9" in bad_period.output
    missing = cli(store, "statement", "an", "2026-Q1", "--plan-version", "example@7")
    assert missing.exit_code == 1 and "not published" in missing.stderr


def test_payouts_csv_for_payroll(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    result = cli(store, "payouts", "2026-Q1", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["rep_id"], r["total"], r["status"]) for r in rows] == [
        ("an", "17700000", "open"),
        ("binh", "1000000", "open"),
    ]
    assert "total 18.700.000 ₫" in cli(store, "payouts", "2026-Q1").stdout


def test_explain_walks_from_line_to_events(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    result = cli(store, "explain", "an", "2026-Q1", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    chain = json.loads(result.stdout)
    assert chain["line"]["amount"] == "7200000" and chain["line"]["tier"] == "[100 %, ∞)"
    assert chain["rule"]["component"]["mode"] == "graduated"
    assert {e["event_id"] for e in chain["events"]} == {"won-D1", "quota-an-2026-Q1"}
    assert all(e["recorded_at"] and e["source"] for e in chain["events"])
    assert cli(store, "explain", "an", "2026-Q1", "9").exit_code == 1


def test_close_adjust_and_sealed_payouts(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    closed = cli(store, "period", "close", "2026-Q1", "--by", "finance@vn")
    assert closed.exit_code == 0, closed.output
    assert "closed 2026-Q1: 2 statements" in closed.stdout
    again = cli(store, "period", "close", "2026-Q1", "--by", "finance@vn")
    assert again.exit_code == 1 and "already closed" in again.stderr
    sealed = list(
        csv.DictReader(io.StringIO(cli(store, "payouts", "2026-Q1", "--format", "csv").stdout))
    )
    assert {r["status"] for r in sealed} == {"sealed"}
    adjustment = ["adjust", "an", "2026-Q1", "--amount", "-250000", "--currency", "VND", "--reason", "phone bill",
                  "--by", "finance@vn", "--posted", "2026-04-05"]  # fmt: skip
    posted = cli(store, *adjustment)
    assert posted.exit_code == 0, posted.output
    assert posted.stdout.startswith("proposed: adj-") and "awaits approval" in posted.stdout
    assert cli(store, *adjustment).stdout.startswith("already proposed: adj-")
    proposal_id = posted.stdout.split()[1]
    # Not paid until a second finance user approves it.
    assert (
        json.loads(cli(store, "statement", "an", "2026-Q2", "--format", "json").stdout)[0]["lines"]
        == []
    )
    approved = cli(store, "adjust", "approve", proposal_id, "--by", "controller@vn")
    assert approved.exit_code == 0, approved.output
    # Q1 is closed: the adjustment posted for Q1 surfaces in Q2 as a prior-period line.
    q2 = cli(store, "statement", "an", "2026-Q2", "--format", "json")
    assert q2.exit_code == 0, q2.output
    [doc] = json.loads(q2.stdout)
    [line] = doc["lines"]
    assert (line["kind"], line["component"], line["amount"]) == (
        "prior_period",
        "prior:2026-Q1",
        "-250000",
    )
    assert line["event_ids"][0] == proposal_id
    bad = cli(
        store,
        "adjust",
        "ghost",
        "2026-Q2",
        "--amount",
        "1",
        "--currency",
        "VND",
        "--reason",
        "x",
        "--by",
        "f",
    )
    assert bad.exit_code == 1 and "unknown rep 'ghost'" in bad.stderr


def test_close_on_postgres(tmp_path: Path, pg_schema: str) -> None:
    store = postgres_settings(pg_schema).store_url
    assert cli(store, "ingest", str(seed(tmp_path))).exit_code == 0
    assert cli(store, "period", "close", "2026-Q1", "--by", "finance@vn").exit_code == 0
    rows = list(
        csv.DictReader(io.StringIO(cli(store, "payouts", "2026-Q1", "--format", "csv").stdout))
    )
    assert [(r["rep_id"], r["total"], r["status"]) for r in rows] == [
        ("an", "17700000", "sealed"),
        ("binh", "1000000", "sealed"),
    ]


def test_a_base_that_is_not_money_is_shown_as_a_number(tmp_path: Path) -> None:
    """A target incentive's base is a slice of attainment and a KPI bonus's the KPI's value:
    the statement table, the CSV and explain must not print them as amounts of dong."""
    target = {"id": "target", "kind": "target_incentive", "target": 10_000_000,
              "bands": [{"from": 0, "multiplier": 1}]}  # fmt: skip
    deals = {"id": "deals", "kind": "kpi_bonus", "kpi": "deals_won",
             "thresholds": [{"at": 1, "amount": 1_000_000}]}  # fmt: skip
    events = [publication(plan(target, deals).plan), rep("an"), quota("an", 300_000_000),
              won("D1", 150_000_000, rep_id="an", close_date="2026-02-10")]  # fmt: skip
    f = tmp_path / "seed.jsonl"
    f.write_text("\n".join(json.dumps(event_content(e)) for e in events) + "\n", encoding="utf-8")
    store = f"sqlite:///{tmp_path / 'events.db'}"
    assert cli(store, "ingest", str(f)).exit_code == 0
    [doc] = json.loads(cli(store, "statement", "an", "2026-Q1", "--format", "json").stdout)
    # 150,000,000 of a 300,000,000 quota: 50 % attainment, x 1 of the 10,000,000 target
    assert [(ln["kind"], ln["base"], ln["amount"]) for ln in doc["lines"]] == [
        ("target_incentive", "50", "5000000"),
        ("kpi_bonus", "1", "1000000"),
    ]
    table = cli(store, "statement", "an", "2026-Q1").stdout
    assert "50 ₫" not in table and "│ 1 ₫" not in table, table
    rows = list(
        csv.DictReader(
            io.StringIO(cli(store, "statement", "an", "2026-Q1", "--format", "csv").stdout)
        )
    )
    assert [r["base"] for r in rows] == ["50", "1"]
    explained = cli(store, "explain", "an", "2026-Q1", "2").stdout
    assert "base 1 x rate" in explained, explained


def test_the_statement_page_shows_a_base_that_is_not_money_as_a_number(tmp_path: Path) -> None:
    """The web statement shows a target incentive's base (attainment) without a currency."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.auth import Role, issue_token
    from tests.conftest import sqlite_settings
    from tests.e2e.api_helpers import api_settings

    target = {"id": "target", "kind": "target_incentive", "target": 10_000_000,
              "bands": [{"from": 0, "multiplier": 1}]}  # fmt: skip
    events = [publication(plan(target).plan), rep("an"), quota("an", 300_000_000),
              won("D1", 150_000_000, rep_id="an", close_date="2026-02-10")]  # fmt: skip
    f = tmp_path / "seed.jsonl"
    f.write_text("\n".join(json.dumps(event_content(e)) for e in events) + "\n", encoding="utf-8")
    settings = api_settings(sqlite_settings(tmp_path))
    assert cli(settings.store_url, "ingest", str(f)).exit_code == 0
    client = TestClient(create_app(settings))
    client.cookies.set("ie_session", issue_token(settings, Role.REP, "an"))
    page = client.get("/statements/an/2026-Q1")
    assert page.status_code == 200, page.text[:300]
    cells = re.findall(r'<td class="num">([^<]*)</td>', page.text)
    assert "50" in cells and not any(c.startswith("50") and "₫" in c for c in cells), cells
