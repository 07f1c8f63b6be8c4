"""DESIGN §5 "Gamification points", and the badge rules, caps and revocation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from incentive_engine.domain.events import ActivityLogged, DealCancelled, LeadCreated
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from plans.points import badges, points
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import customer, won

Q1 = Period.parse("2026-Q1")
RULES = {"activities": {"call_connected": 1, "call_unanswered": 0, "meeting": 3, "demo": 5},
         "won_deal": 10, "per_amount": {"step": 10_000_000, "points": 1}, "new_customer": 20}  # fmt: skip


def activity(n: int, kind: str, day: str = "2026-01-05", rep_id: str = "an") -> ActivityLogged:
    return ActivityLogged(event_id=f"a-{rep_id}-{kind}-{day}-{n}", rep_id=rep_id, kind=kind,
                          occurred_at=f"{day}T{2 + n // 60:02d}:{n % 60:02d}:00+00:00")  # fmt: skip


def test_points_worked_example_scores_57() -> None:
    events = [rep("an")]
    events += [activity(i, "call_connected") for i in range(12)]
    events += [activity(i, "call_unanswered") for i in range(4)]
    events += [activity(i, "meeting") for i in range(2)] + [activity(0, "demo")]
    events += [
        won("D1", 45_000_000, rep_id="an", close_date="2026-01-20", customer=customer(is_new=True))
    ]
    s = points(fold(events), plan(tiered(), points=RULES), "an", Q1)
    by_rule: dict[str, Decimal] = {}
    for ln in s.lines:
        by_rule[ln.rule] = by_rule.get(ln.rule, Decimal(0)) + ln.points
    assert by_rule == {"activity:call_connected": 12, "activity:call_unanswered": 0, "activity:meeting": 6,
                       "activity:demo": 5, "won_deal": 10, "per_amount": 4, "new_customer": 20}  # fmt: skip
    assert s.total == 57
    assert str(s.reached_at) == "2026-01-20 00:00:00+00:00"


def test_daily_cap_stops_gaming() -> None:
    capped = plan(tiered(), points={**RULES, "daily_caps": {"call_connected": 50}})
    events = [rep("an")] + [activity(i, "call_connected") for i in range(70)]
    events += [activity(i, "call_connected", day="2026-01-06") for i in range(10)]
    s = points(fold(events), capped, "an", Q1)
    assert s.total == 60  # 50 (capped from 70) + 10
    [cap] = [ln for ln in s.lines if ln.rule.startswith("cap:")]
    assert cap.points == -20 and "2026-01-05" in cap.description


def test_leads_earn_points_by_source() -> None:
    rules = {"leads": {"referral": 5, "web": 1}}
    events = [rep("an"), LeadCreated(event_id="l1", lead_id="L1", source="referral", created_date="2026-02-01", rep_id="an"),
              LeadCreated(event_id="l2", lead_id="L2", source="web", created_date="2026-02-01", rep_id="an"),
              LeadCreated(event_id="l3", lead_id="L3", source="social", created_date="2026-02-01", rep_id="an")]  # fmt: skip
    assert points(fold(events), plan(tiered(), points=rules), "an", Q1).total == 6


def test_clawback_revokes_points_and_badges() -> None:
    badge_plan = plan(
        tiered(),
        points=RULES,
        badges=[{"id": "first", "name": "First blood", "kind": "first_won_deal"}],
    )
    events = [rep("an"), won("D1", 45_000_000, rep_id="an", close_date="2026-01-20")]
    assert points(fold(events), badge_plan, "an", Q1).total == 14
    assert [b.badge_id for b in badges(fold(events), badge_plan, "an", date(2026, 3, 31))] == [
        "first"
    ]
    cancelled = [
        *events,
        DealCancelled(event_id="c1", deal_id="D1", cancelled_date="2026-02-01", reason="refund"),
    ]
    assert points(fold(cancelled), badge_plan, "an", Q1).total == 0
    assert badges(fold(cancelled), badge_plan, "an", date(2026, 3, 31)) == []


def test_deals_in_period_and_quota_club_badges() -> None:
    rules = [{"id": "hat-trick", "name": "Hat-trick", "kind": "deals_in_period", "count": 3},
             {"id": "club", "name": "Quota club", "kind": "quota_club"}]  # fmt: skip
    events = [rep("an"), quota("an", 100_000_000)]
    events += [won(f"D{i}", 40_000_000, rep_id="an", close_date=f"2026-0{i}-10") for i in (1, 2, 3)]
    held = {
        b.badge_id: b
        for b in badges(fold(events), plan(tiered(), badges=rules), "an", date(2026, 3, 31))
    }
    assert held["hat-trick"].earned_on == date(2026, 3, 10) and held["hat-trick"].scope == "2026-Q1"
    assert held["club"].earned_on == date(2026, 3, 10)  # 120 % reached with the third deal
    assert "won-D3" in held["club"].event_ids
    early = badges(fold(events), plan(tiered(), badges=rules), "an", date(2026, 2, 28))
    assert early == []


def test_activity_streak_counts_working_days_and_skips_weekends() -> None:
    rules = [
        {
            "id": "streak5",
            "name": "Five days on the phone",
            "kind": "activity_streak",
            "count": 5,
            "activity": "call_connected",
        }
    ]
    days = [
        "2026-01-07",
        "2026-01-08",
        "2026-01-09",
        "2026-01-12",
        "2026-01-13",
    ]  # Wed..Tue over a weekend
    events = [rep("an")] + [activity(0, "call_connected", day=d) for d in days]
    [streak] = badges(fold(events), plan(tiered(), badges=rules), "an", date(2026, 3, 31))
    assert streak.earned_on == date(2026, 1, 13) and streak.scope == "2026-01-07..2026-01-13"
    broken = [rep("an")] + [activity(0, "call_connected", day=d) for d in days if d != "2026-01-09"]
    assert badges(fold(broken), plan(tiered(), badges=rules), "an", date(2026, 3, 31)) == []
    demo_only = [rep("an")] + [activity(0, "demo", day=d) for d in days]
    assert badges(fold(demo_only), plan(tiered(), badges=rules), "an", date(2026, 3, 31)) == []
