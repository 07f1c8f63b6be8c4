"""Leaderboards: metrics, scopes, deterministic ties, rank movement (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from incentive_engine.domain.events import ActivityLogged, RepTransferred
from incentive_engine.domain.facts import fold
from incentive_engine.domain.leaderboards import LeaderboardError, Metric, leaderboard
from incentive_engine.domain.periods import Period
from plans.documents import publication
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import assigned, customer, territory, won

Q1, Q2 = Period.parse("2026-Q1"), Period.parse("2026-Q2")
POINTS_PLAN = plan(tiered(), points={"activities": {"call_connected": 1}, "won_deal": 10})


def call(rep_id: str, day: str, n: int = 0) -> ActivityLogged:
    return ActivityLogged(
        event_id=f"c-{rep_id}-{day}-{n}",
        rep_id=rep_id,
        kind="call_connected",
        occurred_at=f"{day}T03:{n:02d}:00Z",
    )


def book_for(events: list):  # type: ignore[no-untyped-def]
    from plans.evaluate import PlanBook

    f = fold([publication(POINTS_PLAN.plan), *events])
    return f, PlanBook.from_facts(f)


def board(events: list, metric: Metric, period: Period = Q1, scope: str = "company") -> list:
    f, book = book_for(events)
    return [(s.rank, s.rep_id, s.value) for s in leaderboard(f, book, metric, period, scope)]


def test_ties_go_to_who_reached_the_score_first_then_rep_id() -> None:
    events = [rep("an"), rep("binh"), rep("chau"),
              call("binh", "2026-01-05"), call("an", "2026-01-06"), call("chau", "2026-01-05")]  # fmt: skip
    assert board(events, Metric.POINTS) == [(1, "binh", 1), (2, "chau", 1), (3, "an", 1)]


def test_revenue_deals_and_new_customers() -> None:
    events = [rep("an"), rep("binh"),
              won("D1", 50, rep_id="an", close_date="2026-01-10", customer=customer(is_new=True)),
              won("D2", 30, rep_id="binh", close_date="2026-01-11"), won("D3", 30, rep_id="binh", close_date="2026-01-12")]  # fmt: skip
    assert board(events, Metric.REVENUE) == [(1, "binh", 60), (2, "an", 50)]
    assert board(events, Metric.DEALS_WON) == [(1, "binh", 2), (2, "an", 1)]
    assert board(events, Metric.NEW_CUSTOMERS) == [(1, "an", 1), (2, "binh", 0)]


def test_attainment_board_and_its_period_rules() -> None:
    events = [rep("an"), rep("binh"), quota("an", 100), quota("binh", 50),
              won("D1", 60, rep_id="an"), won("D2", 40, rep_id="binh")]  # fmt: skip
    assert board(events, Metric.ATTAINMENT) == [(1, "binh", Decimal(80)), (2, "an", Decimal(60))]
    with pytest.raises(LeaderboardError, match="per quota period"):
        board(events, Metric.ATTAINMENT, Period.parse("2026-W02"))


def test_rank_movement_since_the_previous_period() -> None:
    events = [rep("an"), rep("binh"), call("an", "2026-03-02", 1), call("an", "2026-03-02", 2), call("binh", "2026-03-02"),
              call("binh", "2026-04-06", 1), call("binh", "2026-04-06", 2), call("an", "2026-04-07")]  # fmt: skip
    f, book = book_for(events)
    standings = {s.rep_id: s for s in leaderboard(f, book, Metric.POINTS, Q2)}
    assert (standings["binh"].rank, standings["binh"].movement) == (1, 1)
    assert (standings["an"].rank, standings["an"].movement) == (2, -1)


def test_scopes_and_periods() -> None:
    events = [rep("an", team="HN"), rep("binh", team="HCM"), territory("T", region="TP.HCM"), assigned("T", "binh"),
              RepTransferred(event_id="tr", rep_id="an", effective_date="2026-03-01", team="HCM"),
              call("an", "2026-01-05"), call("binh", "2026-01-05"), call("binh", "2026-01-06")]  # fmt: skip
    assert [r for _, r, _ in board(events, Metric.POINTS, scope="team:HCM")] == [
        "binh",
        "an",
    ]  # an moved in March
    assert [r for _, r, _ in board(events, Metric.POINTS, scope="territory:T")] == ["binh"]
    assert board(events, Metric.POINTS, Period.parse("2026-01-05")) == [
        (1, "an", 1),
        (2, "binh", 1),
    ]
    assert board(events, Metric.POINTS, Period.parse("2026-W02")) == [(1, "binh", 2), (2, "an", 1)]
    with pytest.raises(LeaderboardError, match="unknown team"):
        board(events, Metric.POINTS, scope="team:Nowhere")
    with pytest.raises(LeaderboardError, match="use company"):
        board(events, Metric.POINTS, scope="galaxy")
