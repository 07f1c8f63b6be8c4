"""The demo's source times: when the old CRM learned each generated event (issue 16, item 5)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incentive_engine.demo.generator import generate, planned_at, source_times
from incentive_engine.domain.events import (
    Event,
    QuotaSet,
    RepHired,
    TerritoryAssigned,
    TerritoryDefined,
    TerritoryReassigned,
)

SETUP = (RepHired, TerritoryDefined, TerritoryAssigned, QuotaSet)


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return generate(reps=30, events=20_000, seed=7, year=2026)


def test_every_event_has_a_reproducible_source_time(events: list[Event]) -> None:
    times = source_times(events, seed=7)
    assert set(times) == {e.event_id for e in events}
    assert source_times(events, seed=7) == times
    assert source_times(events, seed=8) != times
    assert all(t.tzinfo is UTC for t in times.values())


def test_business_is_known_one_to_four_days_after_it_happens_in_order(
    events: list[Event],
) -> None:
    times = source_times(events, seed=7)
    business = [e for e in events if not isinstance(e, (*SETUP, TerritoryReassigned))]
    lags = {(times[e.event_id].date() - e.effective_day).days for e in business}
    assert lags <= {1, 2, 3, 4} and {1, 4} <= lags
    known = [times[e.event_id] for e in business]
    # in recording order, never earlier than the event before: a cut names only what it knows
    assert known == sorted(known)


def test_the_set_up_is_known_in_december_and_reassignments_weeks_late(
    events: list[Event],
) -> None:
    times = source_times(events, seed=7)
    planned = planned_at(2026)
    assert planned == datetime(2025, 12, 15, 2, 0, tzinfo=UTC)
    for e in events:
        if isinstance(e, (TerritoryDefined, TerritoryAssigned, QuotaSet)):
            assert times[e.event_id] == planned
        elif isinstance(e, RepHired):
            assert times[e.event_id] <= planned
    moves = [e for e in events if isinstance(e, TerritoryReassigned)]
    assert len(moves) == 2
    for e in moves:
        assert 21 <= (times[e.event_id].date() - e.effective_day).days <= 42
