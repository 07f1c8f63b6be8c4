"""Integrity enforced where money moves: signed checkpoints of the audit chain catch what the
chain read model alone cannot (truncation, forgeries written in at the end, a chain rebuilt
to hide an edit, deleted read models), on SQLite and PostgreSQL; closing a period and
exporting pay refuse a log that fails; statements say how far their log is verified."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth import Role, issue_token
from incentive_engine.cli.main import app as cli_app
from incentive_engine.domain.periods import Period
from incentive_engine.services.audit import VerifyReport
from incentive_engine.services.commissions import close_period
from incentive_engine.services.engine import Engine
from incentive_engine.services.integrity import (
    IntegrityRefused,
    IntervalCheckpoints,
    checkpoint_after_verify,
    run_verification,
    statement_status,
    views_of,
)
from incentive_engine.settings import Settings, sqlite_path
from incentive_engine.store.checkpoints import CheckpointKeyError, load_keys
from incentive_engine.store.event_store import EventStore
from projections.audit_chain import AuditChain
from projections.base import metadata
from projections.runner import ProjectionRunner, make_engine
from tests.conftest import StepClock
from tests.integration.test_audit import rows, seeded, state_at

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def with_copy(settings: Settings, tmp_path: Path) -> Settings:
    """The settings with a checkpoint file copy (as an operator keeps off the database host)."""
    return settings.model_copy(update={"checkpoint_file": tmp_path / "copy" / "checkpoints.jsonl"})


def ready(store: EventStore, settings: Settings, clock: StepClock) -> int:
    """Seed the log (Q1 closed: checkpoints #1 and #2), append a few events, sign checkpoint
    #3 at the end of the log; returns the last position."""
    store.settings = settings  # the close in seeded() reads the store's settings
    seeded(store, clock)
    clock.set("2026-04-04T00:00:00")
    engine = Engine(settings, store=store)
    views = views_of(engine)
    try:
        cp = checkpoint_after_verify(engine, views, reason="test")
    finally:
        views.dispose()
    assert cp.number == 3 and cp.position == store.max_position() == cp.count
    return cp.position


def check(store: EventStore, settings: Settings) -> VerifyReport:
    """Verify as `audit verify` does (and extend the chain afterwards)."""
    engine = Engine(settings, store=store)
    views = views_of(engine)
    try:
        return run_verification(engine, views)
    finally:
        views.dispose()


def cli_verify(settings: Settings) -> tuple[int, list[dict]]:
    """`audit verify --format json` with these settings: exit code and findings."""
    env = {
        "INCENTIVE_STORE_URL": settings.store_url,
        "INCENTIVE_CHECKPOINT_KEY_FILE": str(settings.checkpoint_key_file or ""),
        "INCENTIVE_CHECKPOINT_FILE": str(settings.checkpoint_file or ""),
    }
    env = {k: v for k, v in env.items() if v}
    result = CliRunner().invoke(cli_app, ["audit", "verify", "--format", "json"], env=env)
    return result.exit_code, json.loads(result.stdout or "[]")


def first(report: VerifyReport) -> tuple[str, int | None]:
    assert not report.ok, "verification passed"
    return report.findings[0].kind, report.findings[0].position


def forged_state(store: EventStore, like: int, event_id: str) -> bytes:
    """A forged DealWon: the state of won-D1 with another id and amount, and the recorded
    time of the event at ``like`` (to pass for an old event)."""
    won = next(r for r in store.read() if r.event.event_id == "won-D1").position
    data = orjson.loads(state_at(store, won))
    data["event"]["event_id"] = event_id
    data["event"]["amount"] = "990000000"
    data["event"]["close_date"] = "2026-04-03"
    data["recorded_at"] = orjson.loads(state_at(store, like))["recorded_at"]
    return orjson.dumps(data)


def insert_row(settings: Settings, position: int, event_id: str, state: bytes) -> None:
    rows(settings)(
        "INSERT INTO stored_events (notification_id, originator_id, originator_version, topic, "
        "state) VALUES (%s, %s, 1, 'DealWon', %s)",
        (position, event_id, state),
    )


# ------------------------------------------------------------- each kind of change


def test_an_untouched_log_verifies_up_to_its_last_checkpoint(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    end = ready(store, settings, clock)
    report = check(store, settings)
    assert report.ok, report.findings
    assert report.summary() == f"verified up to checkpoint #3 at position {end}"
    assert cli_verify(settings) == (0, [])


def test_deleting_the_last_event_is_found(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    end = ready(store, settings, clock)
    rows(settings)("DELETE FROM stored_events WHERE notification_id = %s", (end,))
    assert first(check(store, settings)) == ("removed", end)
    code, findings = cli_verify(settings)
    assert code == 1 and (findings[0]["kind"], findings[0]["position"]) == ("removed", end)


def test_deleting_the_last_ten_events_is_found(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    end = ready(store, settings, clock)
    rows(settings)("DELETE FROM stored_events WHERE notification_id > %s", (end - 10,))
    assert first(check(store, settings)) == ("removed", end - 9)


def test_deleting_the_last_events_and_their_chain_rows_is_found_by_the_checkpoint(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    """The attacker also trims the chain read model: the signed count and head still say."""
    end = ready(store, settings, clock)
    rows(settings)("DELETE FROM stored_events WHERE notification_id > %s", (end - 2,))
    with make_engine(settings.resolved_views_url()).begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM audit_chain WHERE position > {end - 2}")
    assert first(check(store, settings)) == ("removed", end - 1)


def test_a_forged_event_inserted_at_the_end_is_found(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    end = ready(store, settings, clock)
    insert_row(settings, end + 1, "won-FORGED", forged_state(store, end, "won-FORGED"))
    report = check(store, settings)
    assert first(report) == ("inserted", end + 1)
    assert report.findings[0].event_id == "won-FORGED"
    code, findings = cli_verify(settings)
    assert code == 1 and findings[0]["kind"] == "inserted"


def test_a_forged_event_inserted_in_the_middle_is_found(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    ready(store, settings, clock)
    k = 5
    run = rows(settings)
    forged = forged_state(store, k, "won-FORGED")
    run("UPDATE stored_events SET notification_id = notification_id + 1000 "
        "WHERE notification_id > %s", (k,))  # fmt: skip
    run("UPDATE stored_events SET notification_id = notification_id - 999 "
        "WHERE notification_id > %s", (k + 1000,))  # fmt: skip
    insert_row(settings, k + 1, "won-FORGED", forged)
    report = check(store, settings)
    assert first(report) == ("inserted", k + 1)
    assert "checkpoint" in {f.kind for f in report.findings}  # the signed count is one short


def test_a_rebuilt_chain_is_caught_by_the_signed_checkpoint(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    """An event after the close is edited and the chain read model recomputed to match: only
    the signed checkpoint still knows (no PeriodClosed anchor covers it)."""
    end = ready(store, settings, clock)
    data = orjson.loads(state_at(store, end))
    data["event"]["kind"] = "demo"
    rows(settings)(
        "UPDATE stored_events SET state = %s WHERE notification_id = %s",
        (orjson.dumps(data), end),
    )
    views = make_engine(settings.resolved_views_url())
    runner = ProjectionRunner(store, views, [AuditChain()])
    runner.rebuild()
    runner.run()
    views.dispose()
    report = check(store, settings)
    kind, position = first(report)
    assert kind == "rebuilt" and position is not None and position <= end
    assert [f.kind for f in report.findings] == ["rebuilt"]  # no anchor covers it


def drop_read_models(settings: Settings) -> None:
    """Delete the read-model database (SQLite: the file; PostgreSQL: every read-model table)."""
    url = settings.resolved_views_url()
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    views = make_engine(url)
    metadata.drop_all(views)
    views.dispose()


def test_deleted_read_models_verify_from_the_file_copy(
    store: EventStore, settings: Settings, clock: StepClock, tmp_path: Path
) -> None:
    settings = with_copy(settings, tmp_path)
    end = ready(store, settings, clock)
    assert len(settings.checkpoint_file.read_text().splitlines()) == 3
    data = orjson.loads(state_at(store, end - 1))
    data["event"]["kind"] = "demo"
    rows(settings)(
        "UPDATE stored_events SET state = %s WHERE notification_id = %s",
        (orjson.dumps(data), end - 1),
    )
    drop_read_models(settings)
    report = check(store, settings)
    kind, position = first(report)
    assert kind == "altered" and position is not None and position <= end - 1
    assert any("chain read model is missing" in w for w in report.warnings)
    code, _ = cli_verify(settings)
    assert code == 1


def test_deleted_read_models_without_a_copy_are_found(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    """No file copy: the checkpoint sealed in PeriodClosed is gone with the read models."""
    ready(store, settings, clock)
    drop_read_models(settings)
    report = check(store, settings)
    assert [f.kind for f in report.findings] == ["checkpoint"]
    assert "2026-Q1 was closed at checkpoint #1" in report.findings[0].detail


def test_an_untouched_log_with_deleted_read_models_and_a_copy_verifies(
    store: EventStore, settings: Settings, clock: StepClock, tmp_path: Path
) -> None:
    settings = with_copy(settings, tmp_path)
    ready(store, settings, clock)
    drop_read_models(settings)
    report = check(store, settings)
    assert report.ok, report.findings
    assert report.checkpoint is not None and report.checkpoint.number == 3


def test_a_forged_checkpoint_is_a_finding(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    end = ready(store, settings, clock)
    rows(settings)("DELETE FROM stored_events WHERE notification_id = %s", (end,))
    with make_engine(settings.resolved_views_url()).begin() as conn:  # hide the truncation
        conn.exec_driver_sql(f"UPDATE integrity_checkpoints SET count = {end - 1} WHERE number = 3")
        conn.exec_driver_sql(f"DELETE FROM audit_chain WHERE position = {end}")
    report = check(store, settings)
    assert "does not carry a valid signature" in report.findings[0].detail
    assert report.findings[0].kind == "checkpoint"


# ------------------------------------------------------------- where money moves


def tamper(store: EventStore, settings: Settings) -> None:
    rows(settings)("DELETE FROM stored_events WHERE notification_id = %s", (store.max_position(),))


def test_close_refuses_a_log_that_fails_and_records_an_override(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    ready(store, settings, clock)
    tamper(store, settings)
    clock.set("2026-07-02T00:00:00")
    q2 = Period.parse("2026-Q2")
    at = datetime(2026, 7, 2, tzinfo=UTC)
    with pytest.raises(IntegrityRefused, match="closing 2026-Q2 refused: the log FAILED at"):
        close_period(store, q2, closed_by="finance", now=at)
    assert "2026-Q2" not in Engine(store=store).snapshot().facts.closed_periods
    event = close_period(
        store, q2, closed_by="finance", now=at, override_integrity="payroll deadline; CASE-7"
    )
    stored = store.get("close:2026-Q2")
    assert stored is not None and stored.event.integrity_override == "payroll deadline; CASE-7"
    assert event.checkpoint is not None


def test_a_close_on_a_sound_log_records_no_override_and_keeps_old_hashes(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    ready(store, settings, clock)
    closed = store.get("close:2026-Q1")
    assert closed is not None and closed.event.integrity_override is None
    assert "integrity_override" not in closed.event.canonical.decode()
    assert closed.event.checkpoint == 1


def test_cli_close_payouts_and_audit_pack_refuse_a_failing_log(
    store: EventStore, settings: Settings, clock: StepClock, tmp_path: Path
) -> None:
    ready(store, settings, clock)
    tamper(store, settings)
    env = {"INCENTIVE_STORE_URL": settings.store_url}
    if settings.checkpoint_key_file:
        env["INCENTIVE_CHECKPOINT_KEY_FILE"] = str(settings.checkpoint_key_file)
    cli = CliRunner()
    csv_out = cli.invoke(cli_app, ["payouts", "2026-Q1", "--format", "csv"], env=env)
    assert csv_out.exit_code == 1 and "refused: the log FAILED" in csv_out.stderr
    pack = cli.invoke(cli_app, ["audit", "export", "2026-Q1", "--dir", str(tmp_path)], env=env)
    assert pack.exit_code == 1 and "refused" in pack.stderr
    close = cli.invoke(cli_app, ["period", "close", "2026-Q2", "--by", "fin"], env=env)
    assert close.exit_code == 1 and "closing 2026-Q2 refused" in close.stderr
    shown = cli.invoke(cli_app, ["statement", "an", "2026-Q1"], env=env)
    assert shown.exit_code == 0 and "integrity: FAILED at position" in shown.stdout


def test_statement_shows_how_far_its_log_is_verified(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    end = ready(store, settings, clock)
    views = make_engine(settings.resolved_views_url())
    assert statement_status(views, end) == f"verified up to checkpoint #3 at position {end}"
    store.append([])  # nothing
    later = statement_status(views, end + 4)
    assert later.endswith(f"not verified since {end}")
    views.dispose()
    env = {"INCENTIVE_STORE_URL": settings.store_url}
    if settings.checkpoint_key_file:
        env["INCENTIVE_CHECKPOINT_KEY_FILE"] = str(settings.checkpoint_key_file)
    shown = CliRunner().invoke(cli_app, ["statement", "an", "2026-Q1"], env=env)
    assert f"integrity: verified up to checkpoint #3 at position {end}" in shown.stdout


def test_api_close_payouts_export_and_statement(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    end = ready(store, settings, clock)
    settings = settings.model_copy(
        update={"api_secret": "integrity-test-secret-0123456789-abcdefghijkl"}
    )
    fin = {"Authorization": f"Bearer {issue_token(settings, Role.FINANCE, 'fin')}"}
    with TestClient(create_app(settings)) as c:
        doc = c.get("/v1/reps/an/statements/2026-Q1", headers=fin)
        assert doc.status_code == 200
        assert doc.headers["X-Integrity"] == f"verified up to checkpoint #3 at position {end}"
        assert c.get("/v1/payouts/2026-Q1?format=csv", headers=fin).status_code == 200
        tamper(store, settings)
        verified = c.get("/v1/audit/verify", headers=fin).json()
        assert not verified["ok"] and verified["findings"][0]["kind"] == "removed"
        assert verified["summary"].startswith(f"FAILED at position {end}")
        doc = c.get("/v1/reps/an/statements/2026-Q1", headers=fin)
        assert doc.headers["X-Integrity"].startswith(f"FAILED at position {end}")
        refused = c.get("/v1/payouts/2026-Q1?format=csv", headers=fin)
        assert refused.status_code == 409 and "refused" in refused.text
        assert c.get("/v1/audit/export/2026-Q1", headers=fin).status_code == 409
        clock.set("2026-07-02T00:00:00")
        url = "/v1/periods/2026-Q2/close"
        assert c.post(url, headers=fin, json={"closed_by": "fin"}).status_code == 409
        closed = c.post(url, headers=fin, json={"closed_by": "fin", "override_integrity": "ok'd"})
        assert closed.status_code == 201, closed.text
        assert closed.json()["integrity_override"] == "ok'd"


# ------------------------------------------------------------- keys and intervals


def test_the_embedded_key_is_created_private_and_refused_when_readable_by_others(
    tmp_path: Path,
) -> None:
    settings = Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}")
    keys = load_keys(settings)
    key = tmp_path / "events.db.checkpoint-key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and keys.private is not None
    assert load_keys(settings).key_id == keys.key_id  # kept, not replaced
    assert not list(tmp_path.glob(".*tmp"))
    os.chmod(key, 0o644)
    with pytest.raises(CheckpointKeyError, match="readable by others"):
        load_keys(settings)


def test_a_public_key_alone_verifies(
    store: EventStore, settings: Settings, clock: StepClock, tmp_path: Path
) -> None:
    ready(store, settings, clock)
    pem = tmp_path / "checkpoint.pub"
    pem.write_text(
        CliRunner()
        .invoke(
            cli_app,
            ["audit", "public-key"],
            env={
                "INCENTIVE_STORE_URL": settings.store_url,
                "INCENTIVE_CHECKPOINT_KEY_FILE": str(settings.checkpoint_key_file or ""),
            }
            if settings.checkpoint_key_file
            else {"INCENTIVE_STORE_URL": settings.store_url},
        )
        .stdout
    )
    verify_only = settings.model_copy(
        update={"checkpoint_key_file": tmp_path / "absent", "checkpoint_public_key_file": pem}
    )
    with pytest.raises(CheckpointKeyError):  # a configured key file must exist
        load_keys(verify_only)
    assert pem.read_text().startswith("-----BEGIN PUBLIC KEY-----")


def test_interval_checkpoints_follow_the_log(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    from tests.factories import call

    end = ready(store, settings, clock)
    engine = Engine(settings, store=store)
    views = views_of(engine)
    now = [0.0]
    interval = IntervalCheckpoints(
        engine, views, every_events=5, every_seconds=60, clock=lambda: now[0]
    )
    assert interval.maybe() is None  # nothing new
    clock.set("2026-04-05T00:00:00")
    store.append([call("an", 100 + i) for i in range(3)])
    assert interval.maybe() is None  # 3 < 5 events, and not yet a minute
    now[0] = 61
    cp = interval.maybe()
    assert cp is not None and (cp.number, cp.position, cp.count) == (4, end + 3, end + 3)
    store.append([call("an", 200 + i) for i in range(5)])
    assert interval.maybe() is not None  # 5 events
    views.dispose()
    assert check(store, settings).ok
