"""simulate end to end on both stores: the report, a saved scenario, and an untouched log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incentive_engine.cli.main import app
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from projections.runner import make_engine
from projections.scenarios import load_scenario
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import won

runner = CliRunner()
DRAFT = """plan_id: example
version: 2
name: Richer top tier
effective_from: 2026-01-01
currency: VND
period: quarter
covers: {roles: [rep]}
components:
  - {id: commission, kind: rate, mode: graduated, tiers: [{from: 0, rate: 2}, {from: 50, rate: 5}, {from: 100, rate: 10}]}
"""


@pytest.fixture
def seeded(settings: Settings, tmp_path: Path) -> Settings:
    events = [publication(plan(tiered()).plan), rep("an"), rep("binh"), quota("an", 300_000_000), quota("binh", 300_000_000),
              won("D1", 390_000_000, rep_id="an", close_date="2026-02-10"), won("D2", 100_000_000, rep_id="binh", close_date="2026-02-11")]  # fmt: skip
    with EventStore(settings) as store:
        store.append(events)
    return settings


def test_simulate_reports_saves_and_writes_nothing_to_the_log(
    seeded: Settings, tmp_path: Path
) -> None:
    draft = tmp_path / "draft.yaml"
    draft.write_text(DRAFT, encoding="utf-8")
    with EventStore(seeded) as store:
        before = store.max_position()
    args = [
        "--store",
        seeded.store_url,
        "simulate",
        "--plan",
        str(draft),
        "--baseline",
        "example@1",
        "--from",
        "2026-Q1",
        "--to",
        "2026-Q1",
    ]
    result = runner.invoke(app, [*args, "--format", "json", "--save", "richer-top"])
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)
    assert (report["baseline_total"], report["simulated_total"], report["cost_change"]) == (
        "19700000",
        "21500000",
        "1800000",
    )
    assert [(r["rep_id"], r["difference"]) for r in report["reps"]] == [
        ("an", "1800000"),
        ("binh", "0"),
    ]
    with EventStore(seeded) as store:
        assert store.max_position() == before  # a simulation writes nothing to the log
    with make_engine(seeded.resolved_views_url()).connect() as conn:
        saved = load_scenario(conn, "richer-top")
    assert (
        saved is not None
        and saved["log_position"] == before
        and saved["window"] == "2026-Q1..2026-Q1"
    )
    assert saved["draft_hash"] == report["draft"]["content_hash"]
    table = runner.invoke(app, [*args, "--rep", "an"])
    assert "an 2026-Q1 simulated: 19,500,000 VND" in table.stdout
    [statement] = json.loads(
        runner.invoke(
            app, ["--store", seeded.store_url, "statement", "an", "2026-Q1", "--format", "json"]
        ).stdout
    )
    assert statement["total"] == "17700000"  # later statements are unchanged


def test_simulate_errors(seeded: Settings) -> None:
    base = [
        "--store",
        seeded.store_url,
        "simulate",
        "--baseline",
        "example@1",
        "--from",
        "2026-Q1",
        "--to",
        "2026-Q2",
    ]
    missing = runner.invoke(app, [*base, "--plan", "example@9"])
    assert missing.exit_code == 1 and "not published" in missing.stderr
    assert runner.invoke(app, [*base, "--plan", "nonsense"]).exit_code == 2
