"""Operator mistakes refused, not absorbed (issue 19 item 1), and feedback on long commands
(item 7): a read-only command never creates a store, `demo --dir` never deletes a folder it
did not write, an unreachable PostgreSQL or Kafka and a locked SQLite file are one line with
their own exit code, `project` says how many events were new, and a long command off a
terminal prints one summary line instead of a bar.

Each test failed on the base commit (089538d): the store was created and an empty payroll
printed with exit 0, the folder deleted, a traceback printed with exit 1."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from incentive_engine.cli.failures import EXIT_NO_STORE, EXIT_UNAVAILABLE, only_reads
from incentive_engine.cli.main import _not_a_demo, app
from incentive_engine.cli.progress import progress, track
from incentive_engine.domain.events import event_content
from tests.e2e.test_cli_commissions import cli, seed, sqlite_store
from tests.examples.plans import rep

runner = CliRunner()


def test_a_command_that_only_reads_never_creates_a_store(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "events.db"
    store = f"sqlite:///{path}"
    for args in (
        ["payouts", "2026-Q1"],
        ["statement", "an", "2026-Q1"],
        ["kpi", "leads"],
        ["notify"],
    ):
        result = cli(store, *args)
        assert result.exit_code == EXIT_NO_STORE, result.output
        assert str(path) in result.stderr and "init" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not path.parent.exists()  # nothing created: no store, no read models, no folder
    assert only_reads(("project",)) and only_reads(("kpi", "leads"))
    assert not only_reads(("plan", "publish")) and not only_reads(("adjust", "propose"))
    created = cli(store, "init")
    assert created.exit_code == 0 and "created (0 events)" in created.stdout
    assert cli(store, "init").stdout.strip().endswith("exists (0 events)")
    empty = cli(store, "payouts", "2026-Q1")
    assert empty.exit_code == 0 and "none" in empty.stdout
    fresh = f"sqlite:///{tmp_path / 'first-write.db'}"  # the first write creates one
    assert cli(fresh, "ingest", str(seed(tmp_path))).exit_code == 0


def test_demo_refuses_a_folder_it_did_not_write(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "thesis.docx").write_text("two years of work", encoding="utf-8")
    refused = runner.invoke(app, ["demo", "--dir", str(folder), "--events", "100", "--reps", "2"])
    assert refused.exit_code == 2, refused.output
    assert "'thesis.docx'" in refused.stderr and "--force" in refused.stderr
    assert (folder / "thesis.docx").exists()
    assert _not_a_demo(folder) == "'thesis.docx'"
    previous = tmp_path / "demo"
    previous.mkdir()
    for name in ("events.jsonl", "store.db", "store.db.lock", "store.views.db", "store.secret"):
        (previous / name).write_bytes(b"")
    assert _not_a_demo(previous) is None  # a previous demo is replaced without asking
    (tmp_path / "plain-file").write_text("x", encoding="utf-8")
    assert _not_a_demo(tmp_path / "plain-file") == "a file of that name"


def test_demo_force_replaces_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "old.txt").write_text("old", encoding="utf-8")
    args = ["demo", "--dir", str(folder), "--events", "100", "--reps", "2", "--force"]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert not (folder / "old.txt").exists() and (folder / "store.db").exists()


def test_unreachable_postgresql_is_one_line_naming_the_address() -> None:
    store = "postgresql://postgres@127.0.0.1:1/test?schema=nowhere"
    result = cli(store, "payouts", "2026-Q1")
    assert result.exit_code == EXIT_UNAVAILABLE, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("cannot reach PostgreSQL at 127.0.0.1:1 (database test, schema nowhere)")
    assert "check --store" in line and "Traceback" not in result.output
    debug = runner.invoke(app, ["--debug", "--store", store, "payouts", "2026-Q1"])
    assert debug.exit_code == 1 and type(debug.exception).__module__.startswith("psycopg")


def test_unreachable_kafka_is_one_line_after_its_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCENTIVE_KAFKA_WAIT_SECONDS", "0.5")
    store = f"sqlite:///{tmp_path / 'events.db'}"
    assert cli(store, "init").exit_code == 0
    result = cli(store, "publish", "--bootstrap", "127.0.0.1:1")
    assert result.exit_code == EXIT_UNAVAILABLE, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("cannot reach Kafka at 127.0.0.1:1") and "--bootstrap" in line


def test_a_locked_sqlite_store_is_one_line_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store(tmp_path)
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps(event_content(rep("dung"))) + "\n", encoding="utf-8")
    monkeypatch.setenv("INCENTIVE_SQLITE_LOCK_SECONDS", "1")
    holder = sqlite3.connect(tmp_path / "events.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another process writing, for as long as it likes
        result = cli(store, "ingest", str(new))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == EXIT_UNAVAILABLE, result.output
    [line] = [ln for ln in result.stderr.strip().splitlines() if "locked" in ln]
    assert line.startswith(f"the SQLite store {tmp_path / 'events.db'} is locked")


def test_project_says_how_many_events_were_new_and_summarises_off_a_terminal(
    tmp_path: Path,
) -> None:
    store = sqlite_store(tmp_path)
    first = cli(store, "project")
    assert first.exit_code == 0 and "applied 7 new event(s); lag 0" in first.stdout
    assert "project: 7 events in" in first.stderr  # one line, not a redrawn bar
    again = cli(store, "project")
    assert "applied 0 new event(s); lag 0" in again.stdout
    replay = cli(store, "replay")
    assert replay.exit_code == 0 and "replay: 7 events in" in replay.stderr


def test_a_raw_adjustment_in_a_currency_the_plan_does_not_pay_is_refused(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    record = {"type": "ManualAdjustment", "event_id": "adj-usd", "rep_id": "an",
              "period": "2026-Q1", "amount": "100", "currency": "USD", "reason": "bonus",
              "posted_by": "fin", "posted_date": "2026-03-01"}  # fmt: skip
    raw = tmp_path / "adjustments.jsonl"
    raw.write_text(json.dumps(record) + "\n", encoding="utf-8")
    refused = cli(store, "ingest", str(raw), "--allow", "adjustments")
    assert refused.exit_code == 1, refused.output
    assert "currency" in refused.stderr and "an's plan pays in VND, not USD" in refused.stderr
    payouts = cli(store, "payouts", "2026-Q1")  # nothing stored: every rep is paid
    assert payouts.exit_code == 0, payouts.output
    record |= {"event_id": "adj-vnd", "currency": "VND", "amount": "1000000"}
    raw.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert cli(store, "ingest", str(raw), "--allow", "adjustments").exit_code == 0


def test_progress_is_a_bar_on_a_terminal_and_one_line_otherwise() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True, width=100)
    with progress("replay", 10, console=terminal) as advance:
        advance(10)
    drawn = terminal.file.getvalue()  # type: ignore[attr-defined]
    assert "replay" in drawn and "10/10" in drawn and "events in" not in drawn
    piped = Console(file=io.StringIO(), force_terminal=False)
    with progress("audit export", None, unit="rows", console=piped) as advance:
        advance(3)
        advance(4)
    [line] = piped.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert line.startswith("audit export: 7 rows in ") and line.endswith("s")
    assert list(track(iter("abc"), "backup", 3, unit="pages")) == ["a", "b", "c"]
