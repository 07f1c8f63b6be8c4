"""A board is computed once per snapshot and board (every reader at a log position shares
it), and drawn anew once the log moves."""

from __future__ import annotations

from pathlib import Path

from incentive_engine.domain.leaderboards import Metric
from incentive_engine.domain.periods import Period
from incentive_engine.services.engine import Engine
from incentive_engine.services.gamification import board, standings_of
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.web.boards_seed import activity, seed_boards

Q1 = Period.parse("2026-Q1")


def test_readers_at_one_position_share_the_board_and_a_new_event_redraws_it(
    tmp_path: Path,
) -> None:
    settings = seed_boards(sqlite_settings(tmp_path))
    with Engine(settings) as engine:
        snap = engine.snapshot()
        first = standings_of(snap, Metric.POINTS, Q1, "company")
        assert standings_of(snap, Metric.POINTS, Q1, "company") is first
        assert standings_of(snap, Metric.POINTS, Q1, "team:Hà Nội 1") is not first
        an = next(s for s in first if s.rep_id == "an")
        assert an.value == 57
        assert board(snap, None, Metric.POINTS, Q1).rows[0].rep_id == first[0].rep_id
        with EventStore(settings) as store:
            store.append([activity("late-demo", "an", "demo", "2026-02-02T09:00:00+07:00")])
        moved = engine.snapshot()
        assert moved is not snap
        again = standings_of(moved, Metric.POINTS, Q1, "company")
        assert again is not first
        assert next(s for s in again if s.rep_id == "an").value == 62


def test_a_board_whose_period_ended_before_the_new_events_is_kept(tmp_path: Path) -> None:
    settings = seed_boards(sqlite_settings(tmp_path))
    with Engine(settings) as engine:
        snap = engine.snapshot()
        first = standings_of(snap, Metric.POINTS, Q1, "company")
        with EventStore(settings) as store:  # an activity of Q2 cannot move Q1's board
            store.append([activity("q2-call", "an", "call_connected", "2026-04-02T09:00:00Z")])
        moved = engine.snapshot()
        assert moved is not snap
        assert standings_of(moved, Metric.POINTS, Q1, "company") is first
