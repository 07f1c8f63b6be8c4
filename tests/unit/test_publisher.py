"""Who an event changes things for (the publisher's pure mapping)."""

from __future__ import annotations

from incentive_engine.domain.events import (
    ActivityLogged,
    ManualAdjustment,
    Payout,
    PeriodClosed,
    QuotaSet,
    TerritoryReassigned,
)
from incentive_engine.domain.facts import fold
from plans.documents import publication
from projections.publisher import Notification, gamification_news, notifications, standings
from tests.examples.plans import plan, rep, tiered
from tests.factories import assigned, customer, hired, territory, won


def ids(facts, event, before=()):  # type: ignore[no-untyped-def]
    return [n.notification_id for n in notifications(facts, event, before)]


def test_deals_notify_the_credited_reps_including_territory_owners() -> None:
    events = [
        hired("an"),
        hired("binh"),
        territory("T", region="TP.HCM"),
        assigned("T", "binh"),
        won("D1", customer=customer()),
    ]
    assert ids(fold(events), events[-1]) == ["statement_changed:won-D1:binh"]


def test_reassignment_notifies_old_and_new_owners() -> None:
    move = TerritoryReassigned(
        event_id="r1", territory_id="T", rep_id="an", effective_date="2026-02-01"
    )
    assert ids(fold([move]), move, ["binh"]) == [
        "statement_changed:r1:binh",
        "statement_changed:r1:an",
    ]


def test_quota_adjustment_close_and_periods() -> None:
    q = QuotaSet(event_id="q1", subject_id="an", period="2026-Q1", amount=1, currency="VND")
    [n] = notifications(fold([q]), q)
    assert (n.kind, n.rep_id, n.period) == ("statement_changed", "an", "2026-Q1")
    m = ManualAdjustment(
        event_id="m1",
        rep_id="an",
        period="2026-Q1",
        amount=-1,
        currency="VND",
        reason="x",
        posted_by="f",
        posted_date="2026-03-01",
    )
    assert ids(fold([m]), m) == ["statement_changed:m1:an"]
    closed = PeriodClosed(
        event_id="close:2026-Q1",
        period="2026-Q1",
        closed_at="2026-04-02T00:00:00Z",
        payouts=[
            Payout(rep_id="an", plan_id="p", version=1, earned=5, total=5, statement_hash="h")
        ],
    )
    assert ids(fold([closed]), closed) == ["period_closed:close:2026-Q1:an"]
    team_quota = QuotaSet(
        event_id="q2", subject="team", subject_id="HCM", period="2026-Q1", amount=1, currency="VND"
    )
    assert notifications(fold([team_quota]), team_quota) == []


# ------------------------------------------------------------------ rank and badge news

BADGE_PLAN = plan(
    tiered(),
    points={"activities": {"call_connected": 1}, "won_deal": 10},
    badges=[{"id": "first", "name": "First win", "kind": "first_won_deal"}],
)


def call_at(rep_id: str, n: int) -> ActivityLogged:
    return ActivityLogged(
        event_id=f"c-{rep_id}-{n}",
        rep_id=rep_id,
        kind="call_connected",
        occurred_at=f"2026-01-05T09:{n:02d}:00+00:00",
    )


def news(before_events: list, page: list) -> list[Notification]:  # type: ignore[type-arg]
    """What gamification news one page brings after a history (the publisher's comparison)."""
    facts = fold(before_events)
    days = sorted({e.effective_day for e in page})
    until = max(e.effective_day for e in before_events + page)
    before = standings(facts, days, until)
    facts.apply_all(page)
    return gamification_news(before, standings(facts, days, until), page[-1].event_id, 42)


def test_overtaking_moves_both_reps_and_names_the_move() -> None:
    history = [publication(BADGE_PLAN.plan), rep("an"), rep("binh")]
    history += [call_at("an", i) for i in range(3)] + [call_at("binh", 0)]
    found = news(history, [call_at("binh", i) for i in range(1, 4)])  # binh 4 > an 3
    moves = {(n.rep_id, n.detail["rank_before"], n.detail["rank"]) for n in found}
    assert moves == {("an", 1, 2), ("binh", 2, 1)}
    assert {n.notification_id for n in found} == {
        "rank_changed:points/2026-Q1/1>2@42:an",
        "rank_changed:points/2026-Q1/2>1@42:binh",
    }
    assert all(n.kind == "rank_changed" and n.period == "2026-Q1" for n in found)


def test_a_first_score_enters_the_board_and_zero_scorers_are_not_ranked() -> None:
    history = [publication(BADGE_PLAN.plan), rep("an"), rep("binh"), rep("chi")]
    history.append(call_at("an", 0))
    found = news(history, [call_at("binh", 1), call_at("binh", 2)])
    moves = {(n.rep_id, n.detail["rank_before"], n.detail["rank"]) for n in found}
    assert moves == {("binh", None, 1), ("an", 1, 2)}  # chi, on zero, holds no place


def test_nothing_changes_nothing_is_sent() -> None:
    history = [publication(BADGE_PLAN.plan), rep("an"), call_at("an", 0)]
    assert news(history, [rep("binh")]) == []


def test_a_first_win_awards_the_badge_once_with_its_evidence() -> None:
    history = [publication(BADGE_PLAN.plan), rep("an")]
    win = won("D1", 45_000_000, rep_id="an", close_date="2026-01-20")
    found = news(history, [win])
    [badge] = [n for n in found if n.kind == "badge_awarded"]
    assert badge.notification_id == "badge_awarded:first/-/2026-01-20:an"
    assert badge.event_id == win.event_id and badge.detail["event_ids"] == [win.event_id]
    assert news([*history, win], [call_at("an", 1)]) == []  # held already: not again
