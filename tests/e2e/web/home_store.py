"""A store of its own for the home page tests: a monthly plan with a 40 % gate, graduated
tiers and a recoverable draw of 5,000,000; September and October 2026 closed; an October deal
cancelled in November, inside the clawback window (an adjustment carried into November).

Hand-computed (quota 100,000,000 a month; tiers 0/50/100 % at 2/5/8 %):
- Sep: S1 50,000,000 (50 %) earns 1,000,000; the draw tops up 4,000,000; owed 4,000,000.
- Oct: O1 200,000,000 + O2 100,000,000 (300 %) earn 1,000,000 + 2,500,000 + 16,000,000 =
  19,500,000; 4,000,000 recovered; paid 15,500,000; owed 0. Both months closed.
- Nov 20: O2 cancelled (inside 90 days). October recomputed: 200 % earns 11,500,000, 4,000,000
  recovered: 7,500,000; November carries 7,500,000 - 15,500,000 = -8,000,000.
- Nov: N1 20,000,000 (20 %, below the gate) earns 0: the draw tops up 5,000,000; owed 5,000,000.
- Dec (the current period): X1 30,000,000 on 1 Dec (30 %): the next step is the 40 % gate,
  10,000,000 away; earned 0, the draw tops up 5,000,000; owed 10,000,000.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from incentive_engine.domain.events import DealCancelled
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import close_period
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import won

MONTHS = ("2026-09", "2026-10", "2026-11", "2026-12")
DRAW_BALANCE = Decimal(10_000_000)
NEXT_GATE_NEEDS = Decimal(10_000_000)
ADJUSTMENT = Decimal(-8_000_000)


def draw_plan():  # type: ignore[no-untyped-def]
    """The monthly plan: gated graduated tiers and a recoverable draw."""
    return plan(
        tiered("graduated", gate=40),
        {"id": "draw", "kind": "draw", "amount": 5_000_000, "recoverable": True},
        plan_id="monthly",
        name="Monthly with draw",
        period="month",
        effective_from="2026-09-01",
        clawback={"window_days": 90},
    ).plan


def seed_home(settings: Settings) -> None:
    """Seed the store and close September and October."""
    events = [
        publication(draw_plan()),
        rep("mgr", role="manager", name="Trần Thị Quản Lý"),
        rep("an", manager_id="mgr", name="Nguyễn Văn An"),
        rep("binh", manager_id="mgr", name="Lê Văn Bình"),
        *(quota("an", 100_000_000, m) for m in MONTHS),
        *(quota("binh", 100_000_000, m) for m in MONTHS),
        won("S1", 50_000_000, rep_id="an", close_date="2026-09-10"),
        won("O1", 200_000_000, rep_id="an", close_date="2026-10-05"),
        won("O2", 100_000_000, rep_id="an", close_date="2026-10-15"),
        won("B1", 60_000_000, rep_id="binh", close_date="2026-10-07"),
    ]
    now = datetime.now(UTC)
    with EventStore(settings) as store:
        store.append(events)
        for month in ("2026-09", "2026-10"):
            close_period(store, Period.parse(month), closed_by="finance@vn", now=now)
        store.append(
            [
                DealCancelled(
                    event_id="cancel-O2",
                    deal_id="O2",
                    cancelled_date="2026-11-20",
                    reason="customer withdrew",
                ),
                won("N1", 20_000_000, rep_id="an", close_date="2026-11-03"),
                won("X1", 30_000_000, rep_id="an", close_date="2026-12-01"),
            ]
        )
