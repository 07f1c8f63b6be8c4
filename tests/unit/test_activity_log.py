"""Compact fact structures (issue 18): a rep's activities held as columns, and the events the
facts hold sharing equal values, read exactly as the tuples and events they replace."""

from __future__ import annotations

import copy
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from incentive_engine.domain.activity_log import Activity, ActivityLog
from incentive_engine.domain.events import (
    ActivityKind,
    ActivityLogged,
    DealWon,
    OpportunityCreated,
)
from incentive_engine.domain.facts import fold
from incentive_engine.domain.kpis.activity import customers_approached
from incentive_engine.domain.kpis.frame import facts_on
from incentive_engine.domain.periods import Period
from incentive_engine.domain.sharing import Sharing
from tests.factories import customer

START = datetime(2026, 1, 5, 8, tzinfo=UTC)
KINDS = list(ActivityKind)


def activities(n: int, seed: int) -> list[Activity]:
    """Activities of one rep with clashing times and ids of different lengths."""
    rng = random.Random(seed)
    return [
        Activity(
            START + timedelta(hours=rng.randrange(0, 24 * 40), seconds=rng.choice((0, 1))),
            f"evt-{rng.randrange(10 ** rng.randrange(1, 9))}-{i}",
            "an",
            rng.choice(KINDS),
            rng.choice((None, "cus-1", "cus-2", "khách-3")),
            rng.choice((None, None, "D1", "D2")),
        )
        for i in range(n)
    ]


def log_of(items: list[Activity]) -> ActivityLog:
    log = ActivityLog("an")
    for a in items:
        log.add(a.occurred_at, a.event_id, a.kind, a.customer_id, a.deal_id)
    return log


def test_a_log_reads_as_the_sorted_activities_whatever_the_order_added() -> None:
    items = activities(300, seed=1)
    for seed in range(5):
        shuffled = items[:]
        random.Random(seed).shuffle(shuffled)
        log = log_of(shuffled)
        assert list(log) == sorted(items)
        assert len(log) == 300 and log[0] == min(items) and log[-1] == max(items)
        assert log[10:13] == sorted(items)[10:13]
        assert all(a.occurred_at.tzinfo is UTC for a in log)


def test_between_and_until_cut_as_the_tuples_did() -> None:
    items = sorted(activities(200, seed=2))
    log = log_of(items)
    start, end = datetime(2026, 1, 20, tzinfo=UTC), datetime(2026, 2, 3, tzinfo=UTC)
    assert list(log.between(start, end)) == [a for a in items if start <= a.occurred_at < end]
    day = date(2026, 1, 31)
    cut = log.until(day)
    assert list(cut) == [a for a in items if a.occurred_at.date() <= day]
    cut.add(START, "evt-late", ActivityKind.EMAIL, "cus-new", None)  # the cut grows alone
    assert list(log) == items


def test_columns_round_trip_and_bad_columns_are_refused() -> None:
    log = log_of(activities(50, seed=3))
    again = ActivityLog.from_columns("an", log.columns())
    assert again == log and list(again) == list(log)
    assert copy.deepcopy(log) == log
    times, ids, kinds, customers, deals, names = log.columns()
    with pytest.raises(ValueError, match="different lengths"):
        ActivityLog.from_columns("an", (times, ids[:-1], kinds, customers, deals, names))
    with pytest.raises(ValueError, match="order"):
        ActivityLog.from_columns("an", (times[::-1], ids[::-1], kinds, customers, deals, names))
    with pytest.raises(ValueError, match="out of range"):
        ActivityLog.from_columns("an", (times, ids, kinds, [99] * len(times), deals, names))


def test_the_fold_and_the_cut_of_facts_hold_activity_logs() -> None:
    items = activities(40, seed=4)
    events = [
        ActivityLogged(event_id=a.event_id, rep_id="an", kind=a.kind, occurred_at=a.occurred_at,
                       customer_id=a.customer_id, deal_id=a.deal_id)
        for a in items
    ]  # fmt: skip
    facts = fold(events)
    assert list(facts.activities["an"]) == sorted(items)
    assert facts.summary()["activities"] == 40
    cut = facts_on(facts, date(2026, 1, 10)).activities
    assert list(cut.get("an", [])) == [
        a for a in sorted(items) if a.occurred_at.date() <= date(2026, 1, 10)
    ]


def test_held_events_share_equal_values_and_stay_equal() -> None:
    def opportunity(event_id: str, deal_id: str) -> OpportunityCreated:
        return OpportunityCreated(
            event_id=event_id, deal_id=deal_id, rep_id="an", created_date="2026-01-02",
            amount=5, currency="VND", product_group="cloud", customer=customer(),
        )  # fmt: skip

    first, second = opportunity("o1", "D1"), opportunity("o2", "D2")
    before = (first.model_dump(), second.model_dump(), second.digest)
    sharing = Sharing()
    held = [sharing.event(first), sharing.event(second)]
    assert (held[0].model_dump(), held[1].model_dump()) == before[:2]
    assert held[1].customer is held[0].customer and held[1].rep_id is held[0].rep_id
    assert held[1].created_date is held[0].created_date
    assert "digest" not in held[1].__dict__ and held[1].digest == before[2]
    won = DealWon(event_id="w1", deal_id="D1", rep_id="an", close_date="2026-01-09",
                  amount="1.0", currency="VND", product_group="cloud", customer=customer())  # fmt: skip
    assert str(sharing.event(won).amount) == "1.0"  # Decimals are never swapped for equal ones
    assert fold([first, second]).deals["D2"].created == opportunity("o2", "D2")


def test_customers_approached_counts_as_the_scan_of_every_activity_did() -> None:
    """The KPI now cuts each rep's log at the period; the old definition scanned every
    activity in time order: the counts agree on every month and grouping."""
    rng = random.Random(5)
    events = [
        ActivityLogged(
            event_id=f"e{i:04d}", rep_id=rng.choice(("an", "binh", "chau")),
            kind=rng.choice(KINDS), occurred_at=START + timedelta(hours=rng.randrange(24 * 120)),
            customer_id=rng.choice((None, *(f"cus-{n}" for n in range(12)))),
        )
        for i in range(400)
    ]  # fmt: skip
    facts = fold(events)
    everything = sorted(a for log in facts.activities.values() for a in log)
    for month in ("2026-01", "2026-02", "2026-03", "2026-04"):
        period = Period.parse(month)
        for by in ("rep", "company"):
            seen: set[tuple[str, str]] = set()
            expected: dict[str, int] = {}
            for a in everything:
                group = (
                    (a.rep_id if by == "rep" else "company")
                    if a.occurred_at.date() in period
                    else None
                )
                if a.customer_id is None or (a.rep_id, a.customer_id) in seen:
                    continue
                seen.add((a.rep_id, a.customer_id))
                if group is not None:
                    expected[group] = expected.get(group, 0) + 1
            rows = customers_approached(facts, period, by)
            assert {r["group"]: r["approached"] for r in rows if r["approached"]} == expected
