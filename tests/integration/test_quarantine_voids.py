"""Quarantined and voided events in the engine: the fold leaves them out, snapshots keep the
markers, a void after a snapshot or an as-of cut before a void answer exactly as a fold from
zero would."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from incentive_engine.domain.events import content_hash
from incentive_engine.domain.isolation import Quarantined, Voided
from incentive_engine.services import voids
from incentive_engine.services.commissions import period_statements
from incentive_engine.services.engine import Engine
from incentive_engine.settings import Settings
from incentive_engine.store.facts_codec import canonical_dump, encode_facts, facts_from_sections
from tests.conftest import sqlite_settings
from tests.e2e.test_write_scopes import JUNK_PLAN, insert_raw
from tests.integration.test_snapshots import Q1, T0, answers, from_zero, world


def _junk(settings: Settings) -> None:
    junk = dict(JUNK_PLAN, document={"x": 1}, content_hash=content_hash({"x": 1}))
    insert_raw(settings, junk, recorded_at="2026-01-01T00:00:00.000000+00:00")


def test_quarantined_and_voided_markers_survive_a_snapshot_round_trip(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    with world(settings) as store:
        _junk(settings)
        voids.propose(store, "won-D2", reason="test", by="a", now=T0 + timedelta(days=1))
        [p] = voids.voids(store)
        voids.approve(store, p.proposal.event_id, by="b", now=T0 + timedelta(days=2))
        with Engine(settings, store=store, snapshots=False) as engine:
            facts = engine.snapshot().facts
        [q] = facts.quarantined.values()
        assert isinstance(q, Quarantined) and q.event_id == "plan:example:v2"
        assert q.type == "PlanVersionPublished" and "document" in q.reason
        assert isinstance(facts.voided["won-D2"], Voided)
        assert "D2" not in facts.deals
        copy = facts_from_sections(encode_facts(facts), facts.event_count)
        assert copy.quarantined == facts.quarantined and copy.voided == facts.voided
        assert canonical_dump(copy) == canonical_dump(facts)


def test_a_void_approved_after_a_snapshot_refolds_and_answers_as_from_zero(
    tmp_path: Path,
) -> None:
    settings = sqlite_settings(tmp_path)
    with world(settings) as store:
        with Engine(settings, store=store) as first:
            before = [s.total for s in period_statements(first.snapshot(), Q1)]
            assert first.write_snapshot() is not None
        p = voids.propose(store, "won-D1", reason="dup", by="a", now=T0 + timedelta(days=3))
        voids.approve(store, p.event_id, by="b", now=T0 + timedelta(days=4))
        with Engine(settings, store=store) as engine:
            snap = engine.snapshot()
            assert "D1" not in snap.facts.deals and "won-D1" in snap.facts.voided
            assert answers(snap) == answers(from_zero(store))
            after = [s.total for s in period_statements(snap, Q1)]
            assert after != before
            # What the engine knew before the approval still counts D1.
            cut = T0 + timedelta(days=3, hours=12)
            then = engine.snapshot(cut)
            assert "D1" in then.facts.deals and not then.facts.voided
            assert answers(then) == answers(from_zero(store, cut))


def test_a_long_lived_engine_drops_a_voided_event_it_had_folded(settings: Settings) -> None:
    with world(settings) as store, Engine(settings, store=store, snapshots=False) as engine:
        assert "D2" in engine.snapshot().facts.deals
        p = voids.propose(store, "won-D2", reason="dup", by="a", now=T0 + timedelta(days=3))
        assert "D2" in engine.snapshot().facts.deals  # proposed only
        voids.approve(store, p.event_id, by="b", now=T0 + timedelta(days=4))
        snap = engine.snapshot()
        assert "D2" not in snap.facts.deals
        assert answers(snap) == answers(from_zero(store))


def test_the_store_lists_quarantined_rows_and_reads_past_them(settings: Settings) -> None:
    with world(settings) as store:
        count = sum(1 for _ in store.read())
        _junk(settings)
        assert sum(1 for _ in store.read()) == count
        [q] = store.quarantined()
        assert q.position == store.max_position()
        assert store.raw("plan:example:v2") is not None
