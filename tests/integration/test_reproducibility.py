"""Same log and plan version give byte-identical statements and hashes on SQLite and
PostgreSQL, in fresh processes, whatever the order in which the events were ingested."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from incentive_engine.demo.generator import generate
from incentive_engine.domain.events import event_content
from plans.documents import load_plan, publication
from tests.conftest import postgres_settings

ROOT = Path(__file__).resolve().parents[2]


def export(path: Path, events: list) -> Path:
    path.write_text(
        "\n".join(json.dumps(event_content(e), ensure_ascii=False) for e in events) + "\n",
        encoding="utf-8",
    )
    return path


def engine(store: str, *args: str) -> str:
    env = {**os.environ, "INCENTIVE_STORE_URL": store}
    done = subprocess.run(
        [sys.executable, "-m", "incentive_engine", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_statements_are_identical_across_stores_processes_and_ingestion_orders(
    tmp_path: Path, pg_schema: str
) -> None:
    plan = load_plan((ROOT / "plans/catalog/field-sales-vn.yaml").read_text(encoding="utf-8"))
    events = [publication(plan), *generate(reps=6, events=1500, seed=3)]
    head = [
        e
        for e in events
        if e.type
        in ("PlanVersionPublished", "RepHired", "TerritoryDefined", "TerritoryAssigned", "QuotaSet")
    ]
    tail = [e for e in events if e not in head]
    shuffled = tail[:]
    random.Random(5).shuffle(shuffled)  # simultaneous and unrelated events in another order
    in_order = export(tmp_path / "in-order.jsonl", events)
    reordered = export(tmp_path / "reordered.jsonl", head + shuffled)
    sqlite = f"sqlite:///{tmp_path / 'events.db'}"
    postgres = postgres_settings(pg_schema).store_url
    engine(sqlite, "ingest", str(in_order))
    engine(postgres, "ingest", str(reordered))
    for period in ("2026-Q1", "2026-Q2"):
        a = engine(sqlite, "payouts", period, "--format", "json")
        b = engine(postgres, "payouts", period, "--format", "json")
        assert a == b
        assert {row["statement_hash"] for row in json.loads(a)}
    first_rep = json.loads(engine(sqlite, "payouts", "2026-Q1", "--format", "json"))[0]["rep_id"]
    one = engine(sqlite, "statement", first_rep, "2026-Q1", "--format", "json")
    other = engine(postgres, "statement", first_rep, "2026-Q1", "--format", "json")
    assert one == other
