"""Leaderboard, points and badges commands end to end (SQLite, and once on PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from incentive_engine.cli.main import app
from incentive_engine.domain.events import ActivityLogged, event_content
from plans.documents import publication
from tests.conftest import postgres_settings
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import customer, won

runner = CliRunner()
RULES = {"activities": {"call_connected": 1, "meeting": 3}, "won_deal": 10,
         "per_amount": {"step": 10_000_000, "points": 1}, "new_customer": 20}  # fmt: skip
BADGES = [{"id": "first", "name": "First won deal", "kind": "first_won_deal"}]


def cli(store: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--store", store, *args])


def seeded(tmp_path: Path, store: str | None = None) -> str:
    store = store or f"sqlite:///{tmp_path / 'events.db'}"
    events = [publication(plan(tiered(), points=RULES, badges=BADGES).plan),
              rep("an", name="Nguyễn Văn An"), rep("binh", name="Trần Thị Bình"), quota("an", 100_000_000), quota("binh", 100_000_000),
              ActivityLogged(event_id="m1", rep_id="binh", kind="meeting", occurred_at="2026-01-05T03:00:00Z"),
              won("D1", 45_000_000, rep_id="an", close_date="2026-01-20", customer=customer(is_new=True))]  # fmt: skip
    f = tmp_path / "seed.jsonl"
    f.write_text(
        "\n".join(json.dumps(event_content(e), ensure_ascii=False) for e in events) + "\n",
        encoding="utf-8",
    )
    assert cli(store, "ingest", str(f)).exit_code == 0
    return store


def test_leaderboard_points_and_badges(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    board = json.loads(
        cli(store, "leaderboard", "points", "--period", "2026-Q1", "--format", "json").stdout
    )
    assert [(r["rank"], r["rep_id"], r["value"]) for r in board] == [
        (1, "an", "34"),
        (2, "binh", "3"),
    ]
    assert all("pay" not in key and "commission" not in key for key in board[0])
    revenue = json.loads(
        cli(store, "leaderboard", "revenue", "--period", "2026-01", "--format", "json").stdout
    )
    assert revenue[0]["rep_id"] == "an" and revenue[0]["value"] == "45000000"
    mine = cli(store, "leaderboard", "points", "--period", "2026-Q1", "--rep", "binh", "--top", "1")
    assert "◀ you" in mine.stdout and "Trần Thị Bình" in mine.stdout
    points = json.loads(cli(store, "points", "an", "2026-Q1", "--format", "json").stdout)
    assert points["points"] == "34" and points["total"] == 3  # the total, and the lines
    assert {p["rule"]: p["points"] for p in points["items"]} == {
        "won_deal": "10",
        "per_amount": "4",
        "new_customer": "20",
    }
    assert all(p["event_ids"] == ["won-D1"] for p in points["items"])
    held = json.loads(cli(store, "badges", "an", "--on", "2026-03-31", "--format", "json").stdout)
    assert [(b["badge_id"], b["earned_on"]) for b in held] == [("first", "2026-01-20")]
    assert (
        json.loads(cli(store, "badges", "an", "--on", "2026-01-19", "--format", "json").stdout)
        == []
    )


def test_gamification_errors(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    assert cli(store, "points", "ghost", "2026-Q1").exit_code == 1
    assert cli(store, "leaderboard", "salary").exit_code == 2
    bad_scope = cli(
        store, "leaderboard", "points", "--period", "2026-Q1", "--scope", "team:Nowhere"
    )
    assert bad_scope.exit_code == 1 and "unknown team 'Nowhere'" in bad_scope.stderr
    weekly_attainment = cli(store, "leaderboard", "attainment", "--period", "2026-W03")
    assert weekly_attainment.exit_code == 1 and "per quota period" in weekly_attainment.stderr


def test_leaderboard_on_postgres(tmp_path: Path, pg_schema: str) -> None:
    store = seeded(tmp_path, postgres_settings(pg_schema).store_url)
    board = json.loads(
        cli(store, "leaderboard", "points", "--period", "2026-Q1", "--format", "json").stdout
    )
    assert [(r["rep_id"], r["value"]) for r in board] == [("an", "34"), ("binh", "3")]
