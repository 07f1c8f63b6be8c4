"""The store of the leaderboard, badge and TV tests: DESIGN §5's gamification example (An
scores 57 points in 2026-Q1), a previous quarter for movement, a second team, badges."""

from __future__ import annotations

from typing import Any

from incentive_engine.domain.events import ActivityLogged
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.e2e.api_helpers import api_settings
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import customer, won

RULES = {
    "activities": {"call_connected": 1, "call_unanswered": 0, "meeting": 3, "demo": 5},
    "won_deal": 10,
    "per_amount": {"step": 10_000_000, "points": 1},
    "new_customer": 20,
}
"""DESIGN §5: connected call 1, unanswered 0, meeting 3, demo 5, won deal 10 plus 1 per
full 10,000,000 credited, new customer 20."""
BADGES = [
    {"id": "first", "name": "First won deal", "kind": "first_won_deal"},
    {"id": "streak3", "name": "Three days in a row", "kind": "activity_streak", "count": 3},
]


def activity(event_id: str, rep_id: str, kind: str, at: str) -> ActivityLogged:
    """An activity of a rep at an instant."""
    return ActivityLogged(event_id=event_id, rep_id=rep_id, kind=kind, occurred_at=at)


def q1_of_an() -> list[Any]:
    """DESIGN §5: 12 connected calls, 4 unanswered, 2 meetings, 1 demo and one won
    45,000,000 deal with a new customer: 12 + 0 + 6 + 5 + (10 + 4) + 20 = 57 points."""
    events: list[Any] = []
    days = ("2026-01-05", "2026-01-06", "2026-01-07")  # Monday to Wednesday: a streak
    for n in range(12):
        events.append(activity(f"an-call-{n}", "an", "call_connected",
                               f"{days[n % 3]}T02:{n:02d}:00Z"))  # fmt: skip
    for n in range(4):
        events.append(activity(f"an-miss-{n}", "an", "call_unanswered", f"2026-01-08T02:0{n}:00Z"))
    events += [
        activity("an-meet-1", "an", "meeting", "2026-01-12T03:00:00Z"),
        activity("an-meet-2", "an", "meeting", "2026-01-13T03:00:00Z"),
        activity("an-demo-1", "an", "demo", "2026-01-14T03:00:00Z"),
        won("D-AN", 45_000_000, rep_id="an", close_date="2026-02-10",
            customer=customer(customer_id="C-NEW", is_new=True)),
    ]  # fmt: skip
    return events


def seed_boards(settings: Settings) -> Settings:
    """mgr manages An and Bình (team TP.HCM 1); Châu is in team Hà Nội 1. In 2025-Q4 Bình led
    (two demos) ahead of An (one meeting); in 2026-Q1 An leads with 57 points."""
    configured = api_settings(settings)
    events: list[Any] = [
        publication(plan(tiered(), effective_from="2025-10-01", points=RULES,
                         badges=BADGES).plan),
        rep("mgr", role="manager", name="Trần Thị Quản Lý"),
        rep("an", manager_id="mgr", name="Nguyễn Văn An"),
        rep("binh", manager_id="mgr", name="Lê Thị Bình"),
        rep("chau", team="Hà Nội 1", name="Phạm Minh Châu"),
        quota("an", 300_000_000),
        quota("binh", 300_000_000),
        quota("chau", 300_000_000),
        activity("binh-q4-demo-1", "binh", "demo", "2025-11-03T03:00:00Z"),
        activity("binh-q4-demo-2", "binh", "demo", "2025-11-04T03:00:00Z"),
        activity("an-q4-meet", "an", "meeting", "2025-11-05T03:00:00Z"),
        *q1_of_an(),
        won("D-BINH", 100_000_000, rep_id="binh", close_date="2026-02-11"),
        activity("binh-meet", "binh", "meeting", "2026-01-05T03:00:00Z"),
        activity("chau-demo", "chau", "demo", "2026-03-02T03:00:00Z"),
    ]  # fmt: skip
    with EventStore(configured) as store:
        store.append(events)
    return configured
