"""The projection runner and replay, against real stores and real read-model databases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from incentive_engine.services.engine import Engine
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore, RecordedEvent
from projections.event_log import EventCounts, EventIndex, count_by_type, event_index, event_reps
from projections.runner import ProjectionRunner, make_engine
from projections.schema import ReadModelOutdated, reset_read_models
from tests.factories import call, hired


class Boom(RuntimeError):
    pass


class CrashingCounts(EventCounts):
    """Event counts that crash once the given position is reached (a power cut mid-page)."""

    def __init__(self, crash_at: int | None) -> None:
        self.crash_at = crash_at

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        super().apply(conn, events)
        if self.crash_at is not None and events[-1].position >= self.crash_at:
            raise Boom("crash while applying")


def fill(store: EventStore, n: int = 2_000) -> None:
    store.append([hired("an"), hired("binh", name="Trần Thị Bình")])
    events = [call("an" if i % 2 else "binh", i) for i in range(n - 2)]
    for start in range(0, len(events), 500):
        store.append(events[start : start + 500])


def runner(
    store: EventStore, settings: Settings, projections: list | None = None
) -> ProjectionRunner:
    chosen = projections if projections is not None else [EventIndex(), EventCounts()]
    return ProjectionRunner(
        store, make_engine(settings.resolved_views_url()), chosen, page_size=300
    )


def counts(r: ProjectionRunner) -> dict[str, int]:
    with r.engine.connect() as conn:
        return count_by_type(conn)


def test_runner_applies_everything_once_and_tracks_its_position(
    store: EventStore, settings: Settings
) -> None:
    fill(store)
    r = runner(store, settings)
    assert r.run() == 2_000
    assert r.positions() == {
        "event_index": store.max_position(),
        "event_counts": store.max_position(),
    }
    assert counts(r) == {"ActivityLogged": 1_998, "RepHired": 2}
    assert r.run() == 0 and r.lag() == 0
    store.append([call("an", 5000)])
    assert r.run() == 1
    assert counts(r)["ActivityLogged"] == 1_999


def test_crash_mid_run_then_restart_applies_no_event_twice(
    store: EventStore, settings: Settings
) -> None:
    fill(store)
    crash_at = list(store.read())[1_000].position
    first = runner(store, settings, [EventIndex(), CrashingCounts(crash_at)])
    with pytest.raises(Boom):
        first.run()
    stopped = first.positions()["event_counts"]
    assert 0 < stopped < crash_at  # the crashing page was rolled back, index and counts alike
    assert first.positions()["event_index"] == stopped
    assert sum(counts(first).values()) == len([r for r in store.read() if r.position <= stopped])
    again = runner(store, settings, [EventIndex(), CrashingCounts(None)])
    again.run()
    assert counts(again) == {"ActivityLogged": 1_998, "RepHired": 2}
    with again.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(event_index)).scalar() == 2_000


def test_rebuild_from_zero_gives_the_same_read_model(store: EventStore, settings: Settings) -> None:
    fill(store, 500)
    r = runner(store, settings)
    r.run()
    before = counts(r)
    r.rebuild()
    assert r.positions() == {"event_index": 0, "event_counts": 0}
    assert counts(r) == {}
    r.run()
    assert counts(r) == before


def test_a_new_projection_version_is_refused_until_a_migration_rebuilds_it(
    store: EventStore, settings: Settings
) -> None:
    """A version number no longer empties a read model silently: the runner refuses, and the
    migration helper that resets it (what a revision bumping the version calls) lets it
    rebuild from the log."""
    fill(store, 300)
    runner(store, settings).run()

    class CountsV2(EventCounts):
        version = 2

    with pytest.raises(ReadModelOutdated, match=r"event_counts.*version 1.*db upgrade"):
        runner(store, settings, [EventIndex(), CountsV2()])
    views = make_engine(settings.resolved_views_url())
    with views.begin() as conn:
        assert reset_read_models(conn, {"event_counts": ["event_counts"]}) == ["event_counts"]
    r = runner(store, settings, [EventIndex(), CountsV2()])
    assert r.positions()["event_counts"] == 0
    assert r.positions()["event_index"] == 300  # untouched
    r.run()
    assert counts(r) == {"ActivityLogged": 298, "RepHired": 2}


def test_a_late_projection_catches_up_without_touching_the_others(
    store: EventStore, settings: Settings
) -> None:
    fill(store, 400)
    runner(store, settings, [EventIndex()]).run()
    both = runner(store, settings)
    assert both.positions()["event_counts"] == 0
    both.run()
    assert counts(both)["ActivityLogged"] == 398
    with both.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(event_index)).scalar() == 400
        reps = conn.execute(
            select(event_reps.c.rep_id, func.count()).group_by(event_reps.c.rep_id)
        ).all()
    assert dict(reps) == {"an": 200, "binh": 200}


def test_killed_replay_process_resumes_where_it_stopped(settings: Settings) -> None:
    with EventStore(settings) as store:
        fill(store, 12_000)
    env = {**os.environ, "INCENTIVE_STORE_URL": settings.store_url}
    cmd = [sys.executable, "-m", "incentive_engine", "replay"]
    engine = make_engine(settings.resolved_views_url())
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    position = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with engine.connect() as conn:
                position = sum(count_by_type(conn).values())
        except Exception:  # tables not created yet
            position = 0
        if position >= 2_000:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < position < 12_000, f"the kill landed outside the run ({position})"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    with engine.connect() as conn:
        assert count_by_type(conn) == {"ActivityLogged": 11_998, "RepHired": 2}
        assert conn.execute(select(func.count()).select_from(event_index)).scalar() == 12_000


def test_follow_keeps_read_models_current_until_stopped(
    store: EventStore, settings: Settings
) -> None:
    fill(store, 100)
    r = runner(store, settings)
    stop = threading.Event()
    worker = threading.Thread(target=r.follow, args=(stop,), kwargs={"poll_seconds": 0.05})
    worker.start()
    try:
        store.append([call("an", 9_000 + i) for i in range(50)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and r.lag() > 0:
            time.sleep(0.02)
        assert r.lag() == 0
        assert counts(r)["ActivityLogged"] == 148
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()


def test_statements_read_model_follows_the_log_and_survives_a_restart(
    store: EventStore, settings: Settings
) -> None:
    from plans.documents import publication
    from projections.statements import Statements, stored_statements
    from tests.examples.plans import plan, quota, rep, tiered
    from tests.factories import won

    store.append(
        [
            publication(plan(tiered("graduated")).plan),
            rep("an"),
            rep("binh"),
            rep("chau"),
            quota("an", 300_000_000),
            won("D1", 390_000_000, rep_id="an", close_date="2026-02-10"),
            won("B1", 10_000_000, rep_id="binh", close_date="2026-02-11"),
        ]
    )
    engine = Engine(store=store)  # the door's engine: the read model is handed its facts
    first = runner(store, settings, [Statements(lambda: engine.snapshot().facts)])
    first.run()
    with first.engine.connect() as conn:
        rows = {(r["rep_id"], r["period"]): r for r in stored_statements(conn)}
    assert rows[("an", "2026-Q1")]["total"] == "17700000"
    assert rows[("an", "2026-Q1")]["status"] == "open"
    assert "no quota" in rows[("binh", "2026-Q1")]["error"]  # one bad rep never hides the others
    assert (rows[("chau", "2026-Q1")]["total"], rows[("chau", "2026-Q1")]["error"]) == ("0", None)
    store.append([won("D2", 30_000_000, rep_id="an", close_date="2026-03-01")])
    first.run()
    with first.engine.connect() as conn:
        after = {(r["rep_id"], r["period"]): r for r in stored_statements(conn, "2026-Q1")}
    assert after[("an", "2026-Q1")]["total"] == "20100000"  # + 30,000,000 at 8 %
    restarted = runner(store, settings, [Statements(lambda: Engine(store=store).snapshot().facts)])
    assert restarted.positions()["statements"] == store.max_position()  # tracked with its rows
    assert restarted.run() == 0  # a restart reads nothing again
    with restarted.engine.connect() as conn:
        again = {(r["rep_id"], r["period"]): r for r in stored_statements(conn, "2026-Q1")}
    assert again == after
    with restarted.engine.connect() as conn:
        from projections.statements import attainment_table

        rows = {(r.subject, r.subject_id): r for r in conn.execute(attainment_table.select())}
    assert rows[("rep", "an")].credited == "420000000" and rows[("rep", "an")].attainment == "140"
    assert rows[("team", "TP.HCM 1")].quota == "300000000"


def test_pay_and_gamification_views_rebuild_identically_from_zero_and_incrementally(
    settings: Settings, tmp_path: Path
) -> None:
    """Statements and attainment: the rows after appending in steps and running after each
    step equal the rows of one run over the whole log from zero."""
    from incentive_engine.demo.generator import generate
    from plans.documents import load_plan, publication
    from projections.statements import Statements, attainment_table, statements_table

    plan = load_plan(
        (Path(__file__).resolve().parents[2] / "plans/catalog/field-sales-vn.yaml").read_text(
            encoding="utf-8"
        )
    )
    events = [publication(plan), *generate(reps=5, events=2_500, seed=11)]
    tables = (statements_table, attainment_table)

    def dump(engine) -> dict:  # type: ignore[no-untyped-def]
        with engine.connect() as conn:
            return {t.name: sorted(tuple(r) for r in conn.execute(t.select())) for t in tables}

    with EventStore(settings) as store:
        engine = Engine(store=store)
        views = make_engine(settings.resolved_views_url())
        facts = Statements(lambda: engine.snapshot().facts)
        incremental = ProjectionRunner(store, views, [facts], page_size=400)
        for start in range(0, len(events), 700):
            store.append(events[start : start + 700])
            incremental.run()
        stepwise = dump(incremental.engine)
        assert stepwise["statements"] and stepwise["attainment"]
        incremental.rebuild()
        from_zero = Engine(store=store)
        fresh = ProjectionRunner(
            store, views, [Statements(lambda: from_zero.snapshot().facts)], page_size=1000
        )
        fresh.run()
        assert dump(fresh.engine) == stepwise
