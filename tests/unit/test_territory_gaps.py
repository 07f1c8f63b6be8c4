"""Owners over time and coverage gaps of territories (pure), on hand-built facts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from incentive_engine.domain.events import RepTerminated, TerritoryReassigned
from incentive_engine.domain.facts import fold
from incentive_engine.domain.territories import (
    Gap,
    deals_without_owner,
    matches_filter,
    owner_timeline,
    ownership_gaps,
)
from tests.factories import assigned, customer, hired, territory, won

D = date.fromisoformat


def reassigned(tid: str, rep_id: str, day: str) -> TerritoryReassigned:
    return TerritoryReassigned(event_id=f"re-{tid}-{rep_id}-{day}", territory_id=tid,
                               rep_id=rep_id, effective_date=day)  # fmt: skip


EVENTS = [
    hired("x", hire_date="2025-01-01"),
    hired("y", name="Trần Y", hire_date="2025-01-01"),
    RepTerminated(event_id="bye-x", rep_id="x", termination_date="2025-05-31"),
    # T1 exists from 2025-01-01 but is owned only from 2025-03-01
    territory("T1", region="Hà Nội"),
    assigned("T1", "y", "2025-03-01"),
    # T2: x owns it, leaves on 2025-05-31, y takes over on 2025-07-01
    territory("T2", region="TP.HCM"),
    assigned("T2", "x"),
    reassigned("T2", "y", "2025-07-01"),
    # a Hà Nội deal closed while T1 had no owner, and one after
    won("W1", 50_000_000, close_date="2025-02-10", customer=customer(region="Hà Nội")),
    won("W2", 70_000_000, close_date="2025-04-10", customer=customer(region="Hà Nội")),
]


def test_a_territory_unowned_between_its_definition_and_its_first_owner() -> None:
    facts = fold(EVENTS)
    gaps = ownership_gaps(facts, facts.territories["T1"], D("2025-12-31"))
    assert gaps == [Gap("T1", D("2025-01-01"), D("2025-02-28"), "unowned")]
    assert gaps[0].days(D("2025-12-31")) == 59  # 31 + 28 days


def test_a_gap_while_the_owner_has_left_and_before_the_next_owner() -> None:
    facts = fold(EVENTS)
    t2 = facts.territories["T2"]
    timeline = owner_timeline(t2)
    assert [(s.start, s.end, s.owners_text()) for s in timeline] == [
        (D("2025-01-01"), D("2025-06-30"), "x 100%"),
        (D("2025-07-01"), None, "y 100%"),
    ]
    assert ownership_gaps(facts, t2, D("2025-12-31")) == [
        Gap("T2", D("2025-06-01"), D("2025-06-30"), "owner not employed")
    ]
    # looked at before the reassignment, the gap is still open
    assert ownership_gaps(facts, t2, D("2025-06-15")) == [
        Gap("T2", D("2025-06-01"), None, "owner not employed")
    ]
    assert ownership_gaps(facts, t2, D("2025-05-31")) == []


def test_a_never_owned_territory_is_one_open_gap_and_none_before_it_exists() -> None:
    facts = fold([territory("T3", region="Đà Nẵng")])
    t3 = facts.territories["T3"]
    assert owner_timeline(t3) == []
    assert ownership_gaps(facts, t3, D("2025-03-01")) == [
        Gap("T3", D("2025-01-01"), None, "unowned")
    ]
    assert ownership_gaps(facts, t3, D("2024-12-31")) == []


def test_a_same_day_reassignment_replaces_the_first_owner() -> None:
    facts = fold([hired("x"), hired("y"), territory("T4"), assigned("T4", "x", "2025-02-01"),
                  reassigned("T4", "y", "2025-02-01")])  # fmt: skip
    [stint] = owner_timeline(facts.territories["T4"])
    assert (stint.start, stint.end, stint.owners_text()) == (D("2025-02-01"), None, "y 100%")


def test_deals_won_while_their_territory_had_no_owner() -> None:
    facts = fold(EVENTS)
    [deal] = deals_without_owner(facts)
    assert (deal.deal_id, deal.close_date, deal.amount) == (
        "W1",
        D("2025-02-10"),
        Decimal(50_000_000),
    )
    assert "T1" in deal.reason
    assert deals_without_owner(facts, D("2025-02-09")) == []


def test_filtering_by_dimension_values() -> None:
    facts = fold(EVENTS)
    criteria = facts.territories["T1"].definitions[0].criteria
    assert matches_filter(criteria, {"region": "Hà Nội"})
    assert not matches_filter(criteria, {"region": "TP.HCM"})
    assert not matches_filter(criteria, {"industry": "Bán lẻ"})  # left open: no match
    assert matches_filter(criteria, {})
