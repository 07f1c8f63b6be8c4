"""Territory and attainment commands end to end, on SQLite (and one run on PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from incentive_engine.cli.main import app
from incentive_engine.domain.events import event_content
from tests.conftest import postgres_settings
from tests.examples.plans import quota, rep
from tests.factories import customer, won

runner = CliRunner()


def cli(store: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--store", store, *args])


def seeded(tmp_path: Path, store: str | None = None) -> str:
    store = store or f"sqlite:///{tmp_path / 'events.db'}"
    events = [rep("an", name="Nguyễn Văn An"), rep("binh"), quota("an", 100_000_000),
              won("D1", 40_000_000, close_date="2026-02-10", customer=customer(region="Hà Nội", customer_type="business", size="sme")),
              won("D2", 10_000_000, close_date="2026-02-11", customer=customer(region="Huế"))]  # fmt: skip
    f = tmp_path / "seed.jsonl"
    f.write_text(
        "\n".join(json.dumps(event_content(e), ensure_ascii=False) for e in events) + "\n",
        encoding="utf-8",
    )
    assert cli(store, "ingest", str(f)).exit_code == 0
    return store


def test_model_design_assign_and_reports(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    model = cli(
        store,
        "territory",
        "model",
        "--region",
        "Hà Nội",
        "--region",
        "TP.HCM",
        "--effective",
        "2026-01-01",
    )
    assert model.exit_code == 0, model.output
    dry = cli(
        store,
        "territory",
        "design",
        "--dim",
        "region",
        "--dim",
        "customer_type",
        "--dim",
        "size",
        "--effective",
        "2026-01-01",
        "--format",
        "json",
    )
    assert dry.exit_code == 0, dry.output
    assert len(json.loads(dry.stdout.split("\ndry run")[0])) == 8
    assert "dry run: nothing published" in dry.stdout
    assert (
        json.loads(cli(store, "territory", "list", "--on", "2026-01-02", "--format", "json").stdout)
        == []
    )
    published = cli(
        store,
        "territory",
        "design",
        "--dim",
        "region",
        "--dim",
        "customer_type",
        "--dim",
        "size",
        "--effective",
        "2026-01-01",
        "--publish",
    )
    assert "published 8 territories" in published.stdout
    assert (
        cli(
            store,
            "territory",
            "design",
            "--dim",
            "region=Huế",
            "--effective",
            "2026-01-01",
            "--publish",
        ).exit_code
        == 1
    )
    assign = cli(
        store,
        "territory",
        "assign",
        "T-HANOI-BUSINESS-SME",
        "an:60",
        "binh:40",
        "--effective",
        "2026-01-01",
    )
    assert assign.exit_code == 0 and "TerritoryAssigned" in assign.stdout
    bad = cli(
        store, "territory", "assign", "T-HANOI-BUSINESS-SME", "ghost", "--effective", "2026-01-01"
    )
    assert bad.exit_code == 1 and "unknown rep 'ghost'" in bad.stderr
    over = cli(
        store,
        "territory",
        "assign",
        "T-HANOI-BUSINESS-SME",
        "an:60",
        "binh:60",
        "--effective",
        "2026-01-01",
    )
    assert over.exit_code == 1 and "sum to 120 %" in over.stderr
    listed = {
        r["territory_id"]: r
        for r in json.loads(
            cli(store, "territory", "list", "--on", "2026-02-01", "--format", "json").stdout
        )
    }
    assert listed["T-HANOI-BUSINESS-SME"]["owners"] == "an 60%, binh 40%"
    report = {
        r["territory_id"]: r
        for r in json.loads(cli(store, "territory", "report", "2026-Q1", "--format", "json").stdout)
    }
    assert (
        report["T-HANOI-BUSINESS-SME"]["revenue"] == "40000000"
        and report["T-HANOI-BUSINESS-SME"]["active_customers"] == 1
    )
    unassigned = json.loads(
        cli(store, "territory", "unassigned", "2026-Q1", "--format", "json").stdout
    )
    assert [u["deal_id"] for u in unassigned] == ["D2"]
    assert (
        json.loads(cli(store, "territory", "gaps", "--on", "2026-02-01", "--format", "json").stdout)
        == []
    )
    reassign = cli(
        store,
        "territory",
        "assign",
        "T-HANOI-BUSINESS-SME",
        "binh",
        "--effective",
        "2026-02-01",
        "--reason",
        "an moved",
    )
    assert "TerritoryReassigned" in reassign.stdout
    reps = {
        r["rep"]: r
        for r in json.loads(cli(store, "attainment", "2026-Q1", "--format", "json").stdout)
    }
    assert (
        reps["binh"]["credited"] == "40000000" and reps["an"]["credited"] == "0"
    )  # D1 closed after the reassignment


def test_attainment_by_rep_team_and_territory(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    cli(store, "territory", "model", "--region", "Hà Nội", "--effective", "2026-01-01")
    cli(store, "territory", "design", "--dim", "region", "--effective", "2026-01-01", "--publish")
    cli(store, "territory", "assign", "T-HANOI", "an", "--effective", "2026-01-01")
    reps = {
        r["rep"]: r
        for r in json.loads(
            cli(store, "attainment", "2026-Q1", "--by", "rep", "--format", "json").stdout
        )
    }
    assert (reps["an"]["credited"], reps["an"]["attainment"]) == ("40000000", "40")
    teams = json.loads(
        cli(store, "attainment", "2026-Q1", "--by", "team", "--format", "json").stdout
    )
    assert teams[0]["team"] == "TP.HCM 1" and teams[0]["credited"] == "40000000"
    csv_out = cli(store, "attainment", "2026-Q1", "--by", "territory", "--format", "csv").stdout
    assert csv_out.splitlines()[1].startswith("T-HANOI,Hà Nội,,40000000")
    assert "40,0 %" in cli(store, "attainment", "2026-Q1").stdout  # vi by default
    assert cli(store, "attainment", "2026-Q1", "--by", "galaxy").exit_code == 2


def test_territory_commands_on_postgres(tmp_path: Path, pg_schema: str) -> None:
    store = seeded(tmp_path, postgres_settings(pg_schema).store_url)
    assert (
        cli(
            store, "territory", "model", "--region", "Hà Nội", "--effective", "2026-01-01"
        ).exit_code
        == 0
    )
    assert (
        cli(
            store,
            "territory",
            "design",
            "--dim",
            "region",
            "--effective",
            "2026-01-01",
            "--publish",
        ).exit_code
        == 0
    )
    assert (
        cli(store, "territory", "assign", "T-HANOI", "an", "--effective", "2026-01-01").exit_code
        == 0
    )
    report = json.loads(cli(store, "territory", "report", "2026-Q1", "--format", "json").stdout)
    assert [(r["territory_id"], r["revenue"]) for r in report] == [("T-HANOI", "40000000")]
