"""The command line, end to end, on real SQLite files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incentive_engine.cli.main import app
from incentive_engine.domain.events import event_content
from tests.conftest import postgres_settings
from tests.factories import call, hired, won

runner = CliRunner()


def run(*args: str, store: Path | str | None = None):  # type: ignore[no-untyped-def]
    prefix = ["--store", store if isinstance(store, str) else f"sqlite:///{store}"] if store else []
    return runner.invoke(app, [*prefix, *args])


def write(path: Path, events: list) -> Path:
    path.write_text(
        "\n".join(
            json.dumps(e if isinstance(e, dict) else event_content(e), ensure_ascii=False)
            for e in events
        )
        + "\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("command", ["demo", "ingest", "replay", "events", "schema"])
def test_every_command_has_help(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_schema_prints_the_catalogue() -> None:
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert "DealWon" in json.dumps(schema)
    one = json.loads(run("schema", "--type", "DealWon").stdout)
    assert one["title"] == "DealWon"
    assert run("schema", "--type", "Nope").exit_code == 2


def test_ingest_then_list_and_filter_events(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    f = write(
        tmp_path / "a.jsonl",
        [hired("an"), hired("binh", name="Trần Thị Bình"), won("D1", rep_id="an"), call("binh", 1)],
    )
    result = run("ingest", str(f), "--format", "json", store=db)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["stored"] == 4
    listed = json.loads(run("events", "--format", "json", store=db).stdout)
    assert [e["event_id"] for e in listed] == ["hire-an", "hire-binh", "won-D1", "act-binh-1"]
    deals = json.loads(run("events", "--type", "DealWon", "--format", "json", store=db).stdout)
    assert [e["event_id"] for e in deals] == ["won-D1"]
    assert "100,000,000 VND" in deals[0]["summary"]
    binh = json.loads(run("events", "--rep", "binh", "--format", "json", store=db).stdout)
    assert [e["event_id"] for e in binh] == ["hire-binh", "act-binh-1"]
    window = json.loads(
        run(
            "events", "--since", "2026-02-01", "--until", "2026-02-28", "--format", "json", store=db
        ).stdout
    )
    assert [e["event_id"] for e in window] == ["won-D1"]
    csv_out = run("events", "--type", "RepHired", "--format", "csv", store=db).stdout
    assert csv_out.splitlines()[0].startswith("position,recorded_at,type")
    assert "Trần Thị Bình" in run("events", "--rep", "binh", store=db).stdout
    assert run("events", "--type", "Nope", store=db).exit_code != 0


def test_ingest_reports_errors_with_file_line_and_field(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    f = write(
        tmp_path / "bad.jsonl",
        [hired("an"), event_content(won("D1", rep_id="an")) | {"amount": "-1"}],
    )
    result = run("ingest", str(f), store=db)
    assert result.exit_code == 1
    assert f"{f}:2: event won-D1 field 'amount'" in result.stderr
    assert "nothing from this file was stored" in result.stderr
    assert json.loads(run("events", "--format", "json", store=db).stdout) == []
    letters = tmp_path / "dead.jsonl"
    result = run("ingest", str(f), "--dead-letter", str(letters), "--format", "json", store=db)
    assert json.loads(result.stdout)[0]["stored"] == 1
    assert json.loads(letters.read_text(encoding="utf-8"))["errors"][0]["field"] == "amount"


def test_ingest_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run("ingest", str(tmp_path / "nope.jsonl"), store=tmp_path / "e.db")
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_replay_summary_and_as_of(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    run("ingest", str(write(tmp_path / "a.jsonl", [hired("an"), won("D1", rep_id="an")])), store=db)
    result = run("replay", "--format", "json", store=db)
    assert result.exit_code == 0, result.output
    summary = {row["fact"]: row["count"] for row in json.loads(result.stdout)}
    assert summary["reps"] == 1 and summary["deals_won"] == 1
    before = json.loads(run("replay", "--as-of", "2000-01-01", "--format", "json", store=db).stdout)
    assert {row["fact"]: row["count"] for row in before}["events"] == 0
    assert "events/s" in run("replay", "--rebuild", store=db).stdout


def test_same_commands_on_postgres(tmp_path: Path, pg_schema: str) -> None:
    url = postgres_settings(pg_schema).store_url
    f = write(tmp_path / "a.jsonl", [hired("an", name="Phạm Thị Hồng"), call("an", 1)])
    assert run("ingest", str(f), store=url).exit_code == 0
    listed = json.loads(run("events", "--rep", "an", "--format", "json", store=url).stdout)
    assert [e["event_id"] for e in listed] == ["hire-an", "act-an-1"]
    assert "Phạm Thị Hồng" in listed[0]["summary"]
    again = json.loads(run("ingest", str(f), "--format", "json", store=url).stdout)
    assert again[0]["duplicates"] == 2


def test_demo_builds_a_store_publishes_plans_and_prints_pay(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    result = run("demo", "--reps", "8", "--events", "3000", "--dir", str(directory))
    assert result.exit_code == 0, result.output
    assert (directory / "events.jsonl").exists() and (directory / "store.db").exists()
    assert "published plan field-sales-vn v1" in result.stdout
    assert "published plan sales-managers-vn v1" in result.stdout
    assert "top earners, 2026-Q1" in result.stdout
    assert "2026-Q1 payouts:" in result.stdout
    store = f"sqlite:///{directory / 'store.db'}"
    payouts = run("payouts", "2026-Q1", "--format", "json", store=store)
    assert payouts.exit_code == 0 and json.loads(payouts.stdout)["items"]
    again = run("demo", "--reps", "8", "--events", "3000", "--dir", str(directory))
    assert again.exit_code == 0 and again.stdout.splitlines()[0] == result.stdout.splitlines()[0]


def test_events_counts_by_type_from_the_counts_read_model(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    f = write(tmp_path / "a.jsonl", [hired("an"), call("an", 1), call("an", 2), won("D1")])
    assert run("ingest", str(f), store=db).exit_code == 0
    first = json.loads(run("events", "--counts", "--format", "json", store=db).stdout)
    assert {r["type"]: r["events"] for r in first} == {
        "ActivityLogged": 2,
        "DealWon": 1,
        "RepHired": 1,
    }
    run("ingest", str(write(tmp_path / "b.jsonl", [call("an", 3)])), store=db)
    again = json.loads(run("events", "--counts", "--format", "json", store=db).stdout)
    assert {r["type"]: r["events"] for r in again}["ActivityLogged"] == 3  # counted once each


def test_a_slow_or_as_of_fold_says_where_the_facts_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import incentive_engine.cli.common as common

    db = tmp_path / "events.db"
    f = write(tmp_path / "a.jsonl", [hired("an"), call("an", 1), won("D1", rep_id="an")])
    assert run("ingest", str(f), store=db).exit_code == 0
    assert "snapshot of the facts at position" in run("replay", store=db).stdout
    monkeypatch.setattr(common, "SLOW_FOLD_SECONDS", 0.0)  # report every fold
    now = run("kpi", "win_rate", "--period", "2026-01", store=db)
    assert now.exit_code == 0, now.output
    assert "snapshot at position 3 + 0 events" in now.stderr
    before = run("kpi", "win_rate", "--period", "2026-01", "--as-of", "2000-01-01", store=db)
    assert before.exit_code == 0, before.output
    assert "as of 2000-01-01T23:59:59.999999+00:00: folded 0 events from the start" in before.stderr
