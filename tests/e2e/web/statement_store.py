"""A store for the statement and dispute pages: the API tests' people and plan, with a deal
recorded late (after the day an as-of view looks at), so that a past view differs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import won

BEFORE_LATE = "2026-03-01"
"""A day after D1 was recorded and before D3 was."""

TOTAL_BEFORE = Decimal(5_500_000)
"""an's Q1 as of BEFORE_LATE: 200,000,000 credited of 300,000,000 (66.7 %), graduated:
150,000,000 x 2 % + 50,000,000 x 5 %."""

TOTAL_NOW = Decimal(10_000_000)
"""an's Q1 once D3 (90,000,000) is known: 290,000,000 (96.7 %): 150,000,000 x 2 % +
140,000,000 x 5 %."""


def seed_statements(settings: Settings) -> None:
    """Publish the plan and hire people in January, record D1 in February and D3 in March."""
    with EventStore(settings) as store:
        store.append(
            [
                publication(plan(tiered(name="Hoa hồng")).plan),
                rep("mgr", role="manager", name="Trần Thị Quản Lý"),
                rep("an", manager_id="mgr", name="Nguyễn Văn An"),
                rep("binh", manager_id="mgr"),
                rep("chau"),
                quota("an", 300_000_000),
                quota("binh", 300_000_000),
                quota("chau", 300_000_000),
            ],
            recorded_at=datetime(2026, 1, 5, 3, tzinfo=UTC),
        )
        store.append(
            [won("D1", 200_000_000, rep_id="an", close_date="2026-02-10")],
            recorded_at=datetime(2026, 2, 11, 3, tzinfo=UTC),
        )
        store.append(
            [won("D3", 90_000_000, rep_id="an", close_date="2026-02-20")],
            recorded_at=datetime(2026, 3, 5, 3, tzinfo=UTC),
        )
