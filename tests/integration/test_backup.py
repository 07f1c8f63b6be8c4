"""Backup and restore: a backup restored into a fresh location gives identical statements
and payouts and a verified chain, keeps what the log cannot rebuild (scenarios, idempotency
keys), is consistent while a writer appends, refuses to overwrite a store unless forced, and
refuses a corrupted backup. SQLite (online backup API) and PostgreSQL (pg_dump)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from incentive_engine.cli.main import app
from incentive_engine.services import backup as service
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from projections.idempotency import recall, remember
from projections.migrations import HEAD
from projections.runner import make_engine
from projections.scenarios import load_scenario, save_scenario
from tests.conftest import PG_DSN, StepClock, sqlite_settings
from tests.factories import call
from tests.integration.test_audit import seeded

READS = (
    ("statement", "an", "2026-Q1", "--format", "json"),  # sealed
    ("payouts", "2026-Q2", "--format", "json"),  # open, computed from the restored log
)


def cli(settings: Settings, *args: str) -> tuple[int, str]:
    key = settings.checkpoint_key_file
    env = {"INCENTIVE_CHECKPOINT_KEY_FILE": str(key)} if key else {}
    result = CliRunner().invoke(app, ["--store", settings.store_url, *args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def outputs(settings: Settings, reads: tuple[tuple[str, ...], ...] = READS) -> list[str]:
    found = []
    for args in reads:
        code, out = cli(settings, *args)
        assert code == 0, out
        found.append(out)
    return found


def prepared(
    settings: Settings, clock: StepClock, reads: tuple[tuple[str, ...], ...] = READS
) -> list[str]:
    """A store with a closed period, a signed checkpoint, read models, a saved scenario and
    an idempotency key; the answers to READS."""
    with EventStore(settings, clock=clock) as store:
        seeded(store, clock)
    for args in (("project",), ("audit", "checkpoint")):
        code, out = cli(settings, *args)
        assert code == 0, out
    views = make_engine(settings.resolved_views_url())
    with views.begin() as conn:
        result = {
            "draft": {"content_hash": "d"},
            "baseline": {"content_hash": "b"},
            "periods": ["2026-Q1", "2026-Q2"],
        }
        save_scenario(conn, "richer", result, log_position=3, saved_at=datetime.now(UTC))
        remember(conn, "k1", "crm", "h" * 64, 201, {"appended": 1})
    views.dispose()
    return outputs(settings, reads)


def kept(settings: Settings) -> None:
    """The restored read-model database holds the scenario and the idempotency key."""
    views = make_engine(settings.resolved_views_url())
    with views.connect() as conn:
        assert load_scenario(conn, "richer") is not None
        assert recall(conn, "k1", "crm") == ("h" * 64, 201, {"appended": 1})
    views.dispose()


def test_a_restored_backup_gives_identical_statements_and_a_verified_chain(
    tmp_path: Path, clock: StepClock
) -> None:
    source = sqlite_settings(tmp_path / "live")
    before = prepared(source, clock)
    code, out = cli(source, "backup", str(tmp_path / "bk"))
    assert code == 0, out
    progress_line, summary = out.splitlines()  # off a terminal: one progress line (stderr)
    assert progress_line.startswith("backup: ") and progress_line.endswith("s")
    assert summary.startswith("backed up 13 events (log position 13)")
    assert oct((tmp_path / "bk").stat().st_mode & 0o777) == "0o700"
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"events.db", "views.db", "checkpoint-key"}
    assert sorted(p.name for p in (tmp_path / "bk").iterdir()) == [
        "checkpoint-key",
        "events.db",
        "manifest.json",
        "views.db",
    ]

    fresh = sqlite_settings(tmp_path / "fresh")
    code, out = cli(fresh, "restore", str(tmp_path / "bk"))
    assert code == 0, out
    assert "restored 13 events" in out and "audit verified" in out
    assert "checkpoint" in out  # verified against the signed checkpoint
    assert outputs(fresh) == before
    kept(fresh)

    code, out = cli(fresh, "restore", str(tmp_path / "bk"))
    assert code == 1 and "not empty: restore refuses to overwrite it (use --force" in out
    code, out = cli(fresh, "restore", str(tmp_path / "bk"), "--force")
    assert code == 0 and "audit verified" in out, out

    with pytest.raises(service.Invalid, match="exists and is not an empty folder"):
        service.backup(source, tmp_path / "bk")
    events = tmp_path / "bk" / "events.db"
    data = bytearray(events.read_bytes())
    data[-100] ^= 0xFF
    events.write_bytes(bytes(data))
    with pytest.raises(service.Invalid, match=r"events\.db does not match its sha256"):
        service.restore(sqlite_settings(tmp_path / "other"), tmp_path / "bk")
    assert not (tmp_path / "other").exists()  # nothing written before the check


def test_a_backup_taken_while_a_writer_appends_is_consistent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One page per step (many steps, the writer committing between them): the copy is
    one snapshot of the log, and it verifies."""
    monkeypatch.setattr(service, "PAGES_PER_STEP", 1)
    settings = sqlite_settings(tmp_path / "live")
    with EventStore(settings) as store:
        store.append([call("an", i) for i in range(300)])
    stop = threading.Event()
    appended = [300]

    def writer() -> None:
        with EventStore(settings) as store:
            n = 300
            while not stop.is_set():
                store.append([call("an", n + i) for i in range(20)])
                n += 20
                appended[0] = n

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen: list[tuple[str, int, int]] = []
        done = service.backup(settings, tmp_path / "bk", progress=lambda *a: seen.append(a))
    finally:
        stop.set()
        thread.join()
    assert len(seen) > 10 and seen[-1][1] == seen[-1][2]  # many steps, the last complete
    assert 300 <= done.events <= appended[0] and done.events == done.position
    restored = service.restore(sqlite_settings(tmp_path / "fresh"), tmp_path / "bk")
    assert restored.verified, restored.summary()
    assert restored.events == done.events


@pytest.mark.postgres
def test_a_postgres_store_restores_from_its_pg_dump(
    tmp_path: Path, clock: StepClock, pg_schema: str
) -> None:
    from incentive_engine.store.checkpoints import create_key_file

    key = tmp_path / "checkpoint-key"
    create_key_file(key)
    settings = Settings(store_url=f"{PG_DSN}?schema={pg_schema}", checkpoint_key_file=key)
    before = prepared(settings, clock, READS[:1])  # each command costs more on PostgreSQL
    done = service.backup(settings, tmp_path / "bk")
    assert (done.events, done.position) == (13, 13)
    assert set(done.files) == {"store.pgdump", "checkpoint-key"}
    with pytest.raises(service.Conflict, match="not empty"):
        service.restore(settings, tmp_path / "bk")
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{pg_schema}" CASCADE')
    restored = service.restore(settings, tmp_path / "bk")
    assert restored.verified, restored.summary()
    assert outputs(settings, READS[:1]) == before
    kept(settings)
    views = make_engine(settings.resolved_views_url())
    with views.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == HEAD
    views.dispose()
