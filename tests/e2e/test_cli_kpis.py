"""The KPI commands end to end on a SQLite store (and one run on PostgreSQL), over the
hand-checked data set of the unit tests."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import typer
from typer.testing import CliRunner

import incentive_engine.cli.main
from incentive_engine.cli.kpis import kpi_app
from incentive_engine.domain.events import event_content
from incentive_engine.domain.kpis import DEFINITIONS
from tests.conftest import postgres_settings
from tests.unit.test_kpis import BUDGET, PRICE, events

app = typer.Typer()
app.callback()(incentive_engine.cli.main.main)
app.add_typer(kpi_app, name="kpi")
runner = CliRunner()


def cli(store: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--store", store, *args])


def seeded(tmp_path: Path, store: str | None = None) -> str:
    store = store or f"sqlite:///{tmp_path / 'events.db'}"
    f = tmp_path / "kpis.jsonl"
    f.write_text(
        "\n".join(json.dumps(event_content(e), ensure_ascii=False) for e in events()) + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(incentive_engine.cli.main.app, ["--store", store, "ingest", str(f)])
    assert result.exit_code == 0, result.output
    return store


def as_json(result) -> list[dict]:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_kpis_as_json_and_csv(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    # win rate by rep in March: an 0 / 1, binh 2 / 3, chi 1 / 2
    rows = as_json(
        cli(store, "kpi", "win_rate", "--period", "2026-03", "--by", "rep", "--format", "json")
    )
    assert [(r["group"], r["won"], r["lost"], r["win_rate_pct"][:5]) for r in rows] == [
        ("an", 0, 1, "0"), ("binh", 2, 1, "66.66"), ("chi", 1, 1, "50"),
    ]  # fmt: skip
    # leads against targets, as CSV: web 3 / 4 = 75 %, social 1 / 2 = 50 %
    result = cli(
        store,
        "kpi",
        "leads",
        "--period",
        "2026-03",
        "--target",
        "web=4",
        "--target",
        "social=2",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["source"], r["leads"], r["target"], r["pct_of_target"]) for r in table] == [
        ("web", "3", "4", "75"), ("social", "1", "2", "50"), ("sales_team", "0", "", ""),
        ("referral", "0", "", ""), ("other", "0", "", ""),
    ]  # fmt: skip
    # loss reasons; a dashed name works too
    reasons = as_json(cli(store, "kpi", "loss-reasons", "--period", "2026-03", "--format", "json"))
    assert [(r["reason"], r["lost"]) for r in reasons] == [(PRICE, 2), (BUDGET, 1)]
    # standing on Feb 14: binh and territory T-HCM are behind pace
    behind = as_json(
        cli(
            store,
            "kpi",
            "behind_pace",
            "--period",
            "2026-Q1",
            "--on",
            "2026-02-14",
            "--format",
            "json",
        )
    )
    assert [(r["by"], r["group"], r["pace_pct"], r["to_be_on_pace"]) for r in behind] == [
        ("rep", "binh", "0", "100000000"), ("territory", "T-HCM", "0", "50000000"),
    ]  # fmt: skip
    # trend: March against February and March 2025
    trend = as_json(
        cli(store, "kpi", "win_rate", "--period", "2026-03", "--trend", "--format", "json")
    )
    won = next(r for r in trend if r["measure"] == "won")
    assert (won["value"], won["previous"], won["year_ago"], won["yoy_change_pct"]) == (
        3,
        0,
        1,
        "200",
    )
    # a table: money with separators, percentages to one decimal
    table_out = cli(store, "kpi", "velocity", "--period", "2026-03")
    assert table_out.exit_code == 0, table_out.output
    assert (
        "2,884,615" in table_out.stdout
        and "75,000,000" in table_out.stdout
        and "50 %" in table_out.stdout
    )
    # the list: every KPI with its definition
    listed = as_json(cli(store, "kpi", "list", "--format", "json"))
    assert {r["kpi"]: r["definition"] for r in listed} == DEFINITIONS


def test_help_prints_the_definitions(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    result = cli(store, "kpi", "calls_per_day", "--help")
    assert result.exit_code == 0
    assert "Calls per working day against a target" in result.stdout and "--target" in result.stdout
    assert "--target" not in cli(store, "kpi", "pipeline", "--help").stdout


def test_errors(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    unknown = cli(store, "kpi", "nope", "--period", "2026-03")
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("unknown KPI 'nope'; KPIs: leads, pipeline, conversion")
    bad_by = cli(store, "kpi", "leads", "--by", "region")
    assert (
        bad_by.exit_code == 2
        and bad_by.stderr == "--by 'region': choose rep, team, territory, company\n"
    )
    bad_target = cli(store, "kpi", "leads", "--target", "web")
    assert bad_target.exit_code == 2 and "--target 'web': write NAME=NUMBER" in bad_target.stderr
    bad_period = cli(store, "kpi", "leads", "--period", "2026-13")
    assert bad_period.exit_code == 2 and "month 13" in bad_period.stderr
    no_trend = cli(store, "kpi", "forecast", "--period", "2026-03", "--trend")
    assert no_trend.exit_code == 1 and "KPI 'forecast' has no trend" in no_trend.stderr
    bad_source = cli(store, "kpi", "leads", "--period", "2026-03", "--target", "tv=3")
    assert bad_source.exit_code == 1 and "target 'tv': lead sources are" in bad_source.stderr


def test_on_postgres(tmp_path: Path, pg_schema: str) -> None:
    store = seeded(tmp_path, postgres_settings(pg_schema).store_url)
    rows = as_json(
        cli(
            store, "kpi", "pipeline", "--period", "2026-03", "--by", "territory", "--format", "json"
        )
    )
    open_ = {(r["group"], r["stage"]): r["value"] for r in rows if r["opportunities"]}
    assert open_ == {
        ("T-HN", "prospect"): "50000000",
        ("T-HN", "acquire"): "100000000",
        ("T-HCM", "engage"): "70000000",
    }
