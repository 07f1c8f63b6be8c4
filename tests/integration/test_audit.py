"""The tamper-evident log: verification finds rows edited, deleted or swapped directly in the
database (SQLite and PostgreSQL), and sealed periods that no longer recompute."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import psycopg

from incentive_engine.domain.periods import Period
from incentive_engine.services.audit import verify
from incentive_engine.services.commissions import close_period
from incentive_engine.services.engine import Engine
from incentive_engine.settings import Settings, postgres_parts, sqlite_path
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from projections.audit_chain import AuditChain
from projections.runner import ProjectionRunner, make_engine
from tests.conftest import PG_DSN, StepClock
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import call, won


def seeded(store: EventStore, clock: StepClock) -> None:
    clock.set("2026-01-02T00:00:00")
    store.append([publication(plan(tiered()).plan), rep("an"), quota("an", 300_000_000)])
    clock.set("2026-02-11T00:00:00")
    store.append(
        [won("D1", 390_000_000, rep_id="an", close_date="2026-02-10")]
        + [call("an", i) for i in range(5)]
    )
    clock.set("2026-04-02T00:00:00")
    close_period(
        store, Period.parse("2026-Q1"), closed_by="finance", now=datetime(2026, 4, 2, tzinfo=UTC)
    )
    clock.set("2026-04-03T00:00:00")
    store.append([call("an", 10 + i) for i in range(3)])


def check(store: EventStore, settings: Settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.resolved_views_url())
    ProjectionRunner(store, engine, [AuditChain()]).run()
    with engine.connect() as conn:
        return verify(Engine(store=store), conn)


def rows(settings: Settings) -> Callable[[str, tuple], None]:
    """An executor of raw SQL on the store's own table (the tampering)."""
    if settings.store_url.startswith("sqlite"):
        import sqlite3

        def run_sqlite(sql: str, params: tuple = ()) -> None:
            with sqlite3.connect(sqlite_path(settings.store_url)) as conn:
                conn.execute(sql.replace("%s", "?").replace("notification_id", "rowid"), params)

        return run_sqlite
    schema = postgres_parts(settings.store_url)["schema"]

    def run_pg(sql: str, params: tuple = ()) -> None:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(sql.replace("stored_events", f'"{schema}".stored_events'), params)

    return run_pg


def state_at(store: EventStore, position: int) -> bytes:
    [[(_, state)]] = [page for page in store.pages(position - 1, until=position)]
    return state


def test_an_untouched_log_verifies(store: EventStore, settings: Settings, clock: StepClock) -> None:
    seeded(store, clock)
    report = check(store, settings)
    assert report.ok, report.findings
    assert report.events == store.max_position() and report.periods == 1


def test_an_edited_event_is_found(store: EventStore, settings: Settings, clock: StepClock) -> None:
    seeded(store, clock)
    check(store, settings)
    target = next(r for r in store.read() if r.event.event_id == "won-D1").position
    data = orjson.loads(state_at(store, target))
    data["event"]["amount"] = "490000000"  # inflate a deal
    rows(settings)(
        "UPDATE stored_events SET state = %s WHERE notification_id = %s",
        (orjson.dumps(data), target),
    )
    report = check(store, settings)
    first = report.findings[0]
    assert (first.kind, first.position, first.event_id) == ("altered", target, "won-D1")
    kinds = {f.kind for f in report.findings}
    assert {"anchor", "statement"} <= kinds  # the sealed Q1 no longer recomputes either


def test_a_deleted_event_is_found(store: EventStore, settings: Settings, clock: StepClock) -> None:
    seeded(store, clock)
    check(store, settings)
    target = next(r for r in store.read() if r.event.event_id == "act-an-2").position
    rows(settings)("DELETE FROM stored_events WHERE notification_id = %s", (target,))
    first = check(store, settings).findings[0]
    assert (first.kind, first.position, first.event_id) == ("removed", target, "act-an-2")


def test_swapped_events_are_found(store: EventStore, settings: Settings, clock: StepClock) -> None:
    seeded(store, clock)
    check(store, settings)
    a, b = (r.position for r in list(store.read())[4:6])
    sa, sb = state_at(store, a), state_at(store, b)
    run = rows(settings)
    run("UPDATE stored_events SET state = %s WHERE notification_id = %s", (sb, a))
    run("UPDATE stored_events SET state = %s WHERE notification_id = %s", (sa, b))
    first = check(store, settings).findings[0]
    assert (first.kind, first.position) == ("reordered", a)


def test_a_rewritten_chain_is_caught_by_the_anchor(
    store: EventStore, settings: Settings, clock: StepClock
) -> None:
    """Editing an event before the close and rebuilding the chain read model to match still
    fails: the signed checkpoint and the link sealed in PeriodClosed no longer match."""
    seeded(store, clock)
    target = next(r for r in store.read() if r.event.event_id == "act-an-1").position
    data = orjson.loads(state_at(store, target))
    data["event"]["kind"] = "demo"
    rows(settings)(
        "UPDATE stored_events SET state = %s WHERE notification_id = %s",
        (orjson.dumps(data), target),
    )
    engine = make_engine(settings.resolved_views_url())
    ProjectionRunner(store, engine, [AuditChain()]).rebuild()
    report = check(store, settings)
    kinds = [f.kind for f in report.findings]
    assert kinds[:1] == ["rebuilt"] and "anchor" in kinds


def test_cli_verify(store: EventStore, settings: Settings, clock: StepClock) -> None:
    from typer.testing import CliRunner

    from incentive_engine.cli.main import app

    seeded(store, clock)
    result = CliRunner().invoke(app, ["--store", settings.store_url, "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "closed period(s) recompute to their seals" in result.stdout
    rows(settings)("DELETE FROM stored_events WHERE notification_id = %s", (3,))
    bad = CliRunner().invoke(
        app, ["--store", settings.store_url, "audit", "verify", "--format", "json"]
    )
    assert bad.exit_code == 1 and "removed" in bad.stdout
    assert "can no longer be recomputed" in bad.stdout


def test_audit_explain_and_export_pack(
    store: EventStore, settings: Settings, clock: StepClock, tmp_path
) -> None:
    import csv
    import hashlib
    import json
    from decimal import Decimal

    from typer.testing import CliRunner

    from incentive_engine.cli.main import app

    seeded(store, clock)
    cli = CliRunner()
    explained = cli.invoke(
        app,
        ["--store", settings.store_url, "audit", "explain", "an", "2026-Q1", "--format", "json"],
    )
    assert explained.exit_code == 0, explained.output
    chains = json.loads(explained.stdout)
    assert [c["line"]["amount"] for c in chains] == ["3000000", "7500000", "7200000"]
    assert {e["event_id"] for e in chains[2]["events"]} == {"won-D1", "quota-an-2026-Q1"}
    assert all(e["recorded_at"] for c in chains for e in c["events"])
    assert chains[0]["rule"]["component"]["mode"] == "graduated"

    exported = cli.invoke(
        app, ["--store", settings.store_url, "audit", "export", "2026-Q1", "--dir", str(tmp_path)]
    )
    assert exported.exit_code == 0, exported.output
    pack = tmp_path / "2026-Q1"
    manifest = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "sealed" and manifest["statements"] == 1
    for name, digest in manifest["files"].items():
        assert digest == "sha256:" + hashlib.sha256((pack / name).read_bytes()).hexdigest()
    with (pack / "payouts.csv").open(encoding="utf-8") as handle:
        [payout] = list(csv.DictReader(handle))
    with (pack / "statement_lines.csv").open(encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    assert (
        sum(Decimal(r["amount"]) for r in lines) == Decimal(payout["total"]) == Decimal(17_700_000)
    )
    with (pack / "events.csv").open(encoding="utf-8") as handle:
        events = {r["event_id"]: r for r in csv.DictReader(handle)}
    assert (
        events["won-D1"]["recorded_at"].startswith("2026-02-11")
        and events["won-D1"]["type"] == "DealWon"
    )
    plans = json.loads((pack / "plans.json").read_text(encoding="utf-8"))
    assert (
        plans[0]["content_hash"].startswith("sha256:")
        and plans[0]["document"]["plan_id"] == "example"
    )
