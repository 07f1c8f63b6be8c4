"""Snapshots of the facts: loaded by the Engine instead of folding the log, ignored whenever
they cannot be trusted (another fold version, a flipped byte, another log), and never
changing an answer (a property test against folds from zero, with as-of cuts)."""

from __future__ import annotations

import itertools
import logging
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from incentive_engine.domain import facts as fold
from incentive_engine.domain.events import (
    EVENT_ADAPTER,
    DealLost,
    Event,
    LeadCreated,
    LeadQualified,
    OpportunityCreated,
    OpportunityStageChanged,
)
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import Snapshot, period_statements
from incentive_engine.services.engine import Engine
from incentive_engine.services.replay import replay_facts
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from incentive_engine.store.facts_codec import canonical_dump
from incentive_engine.store.snapshots import sections_table, snapshots_table
from plans.documents import PlanError, PlanVersion, publication
from plans.evaluate import EvaluationError
from tests.conftest import sqlite_settings
from tests.factories import call, customer
from tests.unit.test_properties import PROPERTY, scenarios

Q1 = Period.parse("2026-Q1")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


# ------------------------------------------------------------------ helpers


def pipeline(n: int) -> list[Event]:
    """Leads, opportunities, stage changes, a lost deal and activities: what the lazy
    sections (activities, leads) and the pipeline parts of deals hold."""
    events: list[Event] = []
    for i in range(n):
        events += [
            LeadCreated(
                event_id=f"lead-{i}", lead_id=f"L{i}", source="web", created_date="2026-01-02"
            ),
            LeadQualified(
                event_id=f"lead-q-{i}", lead_id=f"L{i}", qualified_date="2026-01-03", rep_id="an"
            ),
            OpportunityCreated(
                event_id=f"opp-{i}",
                deal_id=f"P{i}",
                rep_id="binh",
                created_date="2026-01-04",
                amount=1_000_000 * (i + 1),
                currency="VND",
                product_group="cloud",
                customer=customer(),
                lead_id=f"L{i}",
            ),
            OpportunityStageChanged(
                event_id=f"stage-{i}", deal_id=f"P{i}", stage="engage", changed_date="2026-01-09"
            ),
            call("an", i),
            call("binh", 59 - i, kind="meeting"),
        ]
    events.append(DealLost(event_id="lost-0", deal_id="P0", lost_date="2026-02-01", reason="x"))
    return events


def answers(snap: Snapshot) -> tuple[bytes, str, list[str] | str]:
    """Everything compared between two ways of getting facts: a canonical dump of every
    field, the facts' repr (which also sees dict order and types) and the Q1 statements'
    hashes (or the evaluation error)."""
    try:
        hashes: list[str] | str = [s.hash for s in period_statements(snap, Q1)]
    except EvaluationError as err:
        hashes = f"error: {err}"
    return canonical_dump(snap.facts), repr(snap.facts), hashes


def from_zero(store: EventStore, as_of: datetime | None = None) -> Snapshot:
    """Facts folded from the start of the log, the reference."""
    from plans.evaluate import PlanBook

    facts = replay_facts(store, as_of=as_of)
    return Snapshot(facts, PlanBook.from_facts(facts))


def world(settings: Settings) -> EventStore:
    """A store holding a small organisation, a plan, deals, leads and activities."""
    from tests.examples.plans import plan, quota, rep, tiered
    from tests.factories import won

    store = EventStore(settings)
    version = plan(tiered())
    store.append(
        [
            rep("an", role="manager"),
            rep("binh", manager_id="an"),
            quota("an", 300_000_000),
            quota("binh", 200_000_000),
            publication(version.plan),
            won("D1", 120_000_000, rep_id="an", close_date="2026-01-20"),
            won("D2", 90_000_000, rep_id="binh", close_date="2026-02-10"),
            *pipeline(3),
        ],
        recorded_at=T0,
    )
    return store


def tamper(settings: Settings, section: str) -> None:
    """Flip one byte in the middle of a stored section of the newest snapshot."""
    from projections.runner import make_engine

    views = make_engine(settings.resolved_views_url())
    t, s = snapshots_table, sections_table
    with views.begin() as conn:
        newest = conn.execute(select(t.c.id).order_by(t.c.position.desc())).scalars().first()
        where = (s.c.snapshot_id == newest) & (s.c.name == section)
        body = bytearray(conn.execute(select(s.c.body).where(where)).scalar_one())
        body[len(body) // 2] ^= 0x01
        conn.execute(update(s).where(where).values(body=bytes(body)))
    views.dispose()


# ------------------------------------------------------------------ the engine


def test_the_engine_starts_from_the_snapshot_and_folds_only_the_tail(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    with world(settings) as store:
        with Engine(settings, store=store) as first:
            assert first.snapshot() is not None and first.last_fold is not None
            assert first.last_fold.source == "zero"
            written = first.write_snapshot()
            assert written is not None and written.position == store.max_position()
        store.append([call("an", 40), call("binh", 41)], recorded_at=T0 + timedelta(days=1))
        with Engine(settings, store=store) as engine:
            snap = engine.snapshot()
            report = engine.last_fold
            assert report is not None and report.source == "snapshot"
            assert report.snapshot_position == written.position
            assert report.events_folded == 2 and engine.position == written.position + 2
            assert "snapshot at position" in report.describe()
            assert snap.facts.deferred == ("activities", "leads")  # tail activities wait
            assert answers(snap) == answers(from_zero(store))
            assert snap.facts.deferred == ()
            assert engine.write_snapshot() is not None  # a newer position: written
            assert engine.write_snapshot() is None  # nothing new: not written again


def test_a_bumped_fold_version_is_ignored_and_rebuilt(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with world(settings) as store:
        with Engine(settings, store=store) as engine:
            engine.write_snapshot()
        monkeypatch.setattr(fold, "FOLD_VERSION", fold.FOLD_VERSION + 1)
        with Engine(settings, store=store) as engine:
            snap = engine.snapshot()
            report = engine.last_fold
            assert report is not None and report.source == "zero"
            assert any("fold version" in reason for reason in report.ignored)
            assert answers(snap) == answers(from_zero(store))
            assert engine.write_snapshot() is not None  # rebuilt under the new version
        with Engine(settings, store=store) as engine:
            engine.snapshot()
            assert engine.last_fold is not None and engine.last_fold.source == "snapshot"
            assert engine.last_fold.ignored == ()  # the newest is valid: older ones not read


def test_a_flipped_byte_is_detected_and_the_snapshot_ignored(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with world(settings) as store:
        with Engine(settings, store=store) as engine:
            engine.write_snapshot()
        tamper(settings, "deals")
        with caplog.at_level(logging.WARNING), Engine(settings, store=store) as engine:
            snap = engine.snapshot()
            report = engine.last_fold
            assert report is not None and report.source == "zero"
            assert any("deals checksum mismatch" in reason for reason in report.ignored)
            assert answers(snap) == answers(from_zero(store))
        assert "checksum mismatch" in caplog.text


@pytest.mark.parametrize("section", ["activities", "leads", "deal_pipeline"])
def test_a_corrupt_lazy_section_is_folded_from_the_log_instead(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, section: str
) -> None:
    settings = sqlite_settings(tmp_path)
    with world(settings) as store:
        with Engine(settings, store=store) as engine:
            engine.write_snapshot()
        tamper(settings, section)
        with caplog.at_level(logging.WARNING), Engine(settings, store=store) as engine:
            snap = engine.snapshot()
            assert engine.last_fold is not None and engine.last_fold.source == "snapshot"
            assert answers(snap) == answers(from_zero(store))  # reads every section
        assert f"section {section} unusable" in caplog.text


def test_a_snapshot_of_another_log_is_not_trusted(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    with world(settings) as store, Engine(settings, store=store) as engine:
        engine.write_snapshot()
    for leftover in tmp_path.glob("events.db*"):
        leftover.unlink()  # a new store beside the old read models
    with EventStore(settings) as store:
        store.append(pipeline(5), recorded_at=T0)  # a different record at the same position
        store.append([call("an", 50)], recorded_at=T0)
        with Engine(settings, store=store) as engine:
            snap = engine.snapshot()
            assert engine.last_fold is not None and engine.last_fold.source == "zero"
            assert any("another record" in reason for reason in engine.last_fold.ignored)
            assert answers(snap) == answers(from_zero(store))


def test_as_of_uses_a_snapshot_only_when_it_holds_nothing_recorded_after_the_cut(
    tmp_path: Path,
) -> None:
    settings = sqlite_settings(tmp_path)
    with world(settings) as store:
        store.append([call("an", 30)], recorded_at=T0 + timedelta(days=2))
        with Engine(settings, store=store) as engine:
            engine.write_snapshot()
        store.append([call("binh", 31)], recorded_at=T0 + timedelta(days=3))
        with Engine(settings, store=store) as engine:
            for cut, source in [
                (T0 + timedelta(days=1), "zero"),  # before the snapshot's last record
                (T0 + timedelta(days=2), "snapshot"),  # at it
                (T0 + timedelta(days=4), "snapshot"),  # after the tail too
            ]:
                snap = engine.snapshot(cut)
                assert engine.last_fold is not None and engine.last_fold.source == source
                assert engine.last_fold.as_of == cut
                assert answers(snap) == answers(from_zero(store, cut))


# ------------------------------------------------------------------ the property


@st.composite
def recorded_logs(draw: st.DrawFn) -> tuple[list[tuple[datetime, list[Event]]], int]:
    """A random valid log (a plan, an organisation, deals, leads, activities) cut into
    batches recorded at random, not necessarily increasing, instants; and the number of
    batches after which the snapshot is taken."""
    version, events = draw(scenarios())
    published = EVENT_ADAPTER.validate_json(publication(version.plan).canonical)
    try:  # as stored: a few generated plans do not survive JSON (publish refuses those)
        PlanVersion.from_event(published)
    except PlanError:
        assume(False)
    events = [published, *events, *pipeline(draw(st.integers(0, 3)))]
    cuts = sorted(draw(st.lists(st.integers(1, len(events) - 1), max_size=4, unique=True)))
    bounds = [0, *cuts, len(events)]
    batches = [
        (T0 + timedelta(hours=draw(st.integers(0, 6))), events[lo:hi])
        for lo, hi in itertools.pairwise(bounds)
    ]
    return batches, draw(st.integers(1, len(batches)))


@settings(PROPERTY, max_examples=40)  # each example is a real SQLite store
@given(recorded_logs())
def test_snapshot_and_tail_answer_exactly_as_a_fold_from_zero(
    log: tuple[list[tuple[datetime, list[Event]]], int],
) -> None:
    """Snapshot + tail gives the same facts (canonical dump, repr) and the same statement
    hashes as a fold from zero: now, and as of instants before, at and after the
    snapshot's recorded-time high-water mark."""
    batches, taken_after = log
    with tempfile.TemporaryDirectory() as tmp:
        settings = sqlite_settings(Path(tmp))
        with EventStore(settings) as store:
            for when, batch in batches[:taken_after]:
                store.append(batch, recorded_at=when)
            with Engine(settings, store=store) as engine:
                assert engine.write_snapshot() is not None
            for when, batch in batches[taken_after:]:
                store.append(batch, recorded_at=when)
            high = max(when for when, _ in batches[:taken_after])
            instants = {when for when, _ in batches} | {high - timedelta(microseconds=1)}
            with Engine(settings, store=store) as engine:
                assert answers(engine.snapshot()) == answers(from_zero(store))
                assert engine.last_fold is not None and engine.last_fold.source == "snapshot"
                used: set[str] = set()
                for cut in sorted(instants):
                    got = engine.snapshot(cut)
                    assert engine.last_fold is not None
                    used.add(engine.last_fold.source)
                    assert answers(got) == answers(from_zero(store, cut)), cut
                assert "snapshot" in used  # the cut at the high-water mark used it


def test_facts_with_deferred_fields_behave_like_plain_facts(tmp_path: Path) -> None:
    """Equality, copies and folding more events work before the lazy fields are read."""
    import copy

    settings = sqlite_settings(tmp_path)
    with world(settings) as store:
        with Engine(settings, store=store) as engine:
            engine.write_snapshot()
        with Engine(settings, store=store) as engine:
            facts: Facts = engine.snapshot().facts
            twin = copy.deepcopy(facts)
            more: list[Any] = [call("an", 58), call("an", 57)]
            facts.apply_all(more)
            assert twin.deferred == ("activities", "leads")
            assert facts != twin  # reads both: the copy loads its own
            twin.apply_all(more)
            assert facts == twin and repr(facts) == repr(twin)
            with pytest.raises(AttributeError):
                _ = facts.no_such_field  # type: ignore[attr-defined]


def test_events_kept_waiting_change_nothing_but_their_lazy_field() -> None:
    """Each event type that waits for a deferred field changes no other field when folded
    (else waiting would change answers)."""
    from incentive_engine.store.facts_codec import SECTIONS, encode_section

    empty = Facts()
    for event in pipeline(1):
        name = fold.LAZY_EVENTS.get(type(event))
        if name is None:
            continue
        facts = Facts()
        facts.apply(event)
        changed = {s for s in SECTIONS if encode_section(facts, s) != encode_section(empty, s)}
        assert changed == {name}, (type(event).__name__, changed)


def test_replay_and_project_write_snapshots_that_the_next_command_loads(tmp_path: Path) -> None:
    """replay writes a snapshot at the head; project writes one only when the log moved."""
    from typer.testing import CliRunner

    from incentive_engine.cli.main import app

    settings = sqlite_settings(tmp_path)
    world(settings).close()
    cli, store_url = CliRunner(), ["--store", settings.store_url]
    done = cli.invoke(app, [*store_url, "replay"])
    assert done.exit_code == 0, done.output
    assert "snapshot of the facts at position 26 written" in done.output
    done = cli.invoke(app, [*store_url, "project"])
    assert done.exit_code == 0 and "snapshot" not in done.output  # nothing new
    with EventStore(settings) as store:
        store.append([call("an", 44)], recorded_at=T0)
    done = cli.invoke(app, [*store_url, "project"])
    assert "snapshot of the facts at position 27 written" in done.output, done.output
    with Engine(settings) as engine:
        engine.snapshot()
        assert engine.last_fold is not None and engine.last_fold.source == "snapshot"
        assert engine.last_fold.snapshot_position == 27 and engine.last_fold.events_folded == 0


def test_the_follow_schedule_writes_after_enough_new_events_or_time(tmp_path: Path) -> None:
    """project --follow's schedule: a snapshot once N events are new, or once the interval
    has passed with anything new; never for nothing new."""
    from incentive_engine.services.engine import SnapshotSchedule

    settings = sqlite_settings(tmp_path)
    with world(settings) as store, Engine(settings, store=store) as engine:
        schedule = SnapshotSchedule(engine, every_events=3, every_seconds=3600)
        assert schedule.tick() is not None  # the whole log is new
        store.append([call("an", 45), call("an", 46)], recorded_at=T0)
        assert schedule.tick() is None  # 2 new < 3
        store.append([call("an", 47)], recorded_at=T0)
        written = schedule.tick()
        assert written is not None and written.position == store.max_position()
        store.append([call("an", 48)], recorded_at=T0)
        schedule.every_seconds = 0
        assert schedule.tick() is not None  # the interval passed, 1 new event
        assert schedule.tick() is None  # nothing new
        assert len(schedule.written) == 3


def test_a_closed_engine_leaves_no_database_connection_open(pg_schema: str) -> None:
    """An engine opens the read-model database for its snapshots; closing it must release
    those connections (answers outlive their engine), or a long-lived process that opens
    engines exhausts PostgreSQL's connection limit."""
    from tests.conftest import postgres_settings

    settings = postgres_settings(pg_schema)
    with EventStore(settings) as store:
        store.append([call("an", 1)])
    kept = []
    for _ in range(3):
        with Engine(settings) as engine:
            kept.append(engine.snapshot())
            engine.write_snapshot()
            pool = engine._views.pool  # type: ignore[union-attr]
            assert pool.checkedin() > 0  # the snapshot store used a connection
        assert pool.checkedin() == 0  # and closing the engine released it
