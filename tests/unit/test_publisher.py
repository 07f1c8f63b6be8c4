"""Who an event changes things for (the publisher's pure mapping)."""

from __future__ import annotations

from incentive_engine.events import (
    ManualAdjustment,
    Payout,
    PeriodClosed,
    QuotaSet,
    TerritoryReassigned,
)
from incentive_engine.facts import fold
from projections.publisher import notifications
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
