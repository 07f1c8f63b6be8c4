"""DESIGN §5 "Clawback across a closed period", end to end on both stores.

Q1 quota 300,000,000, graduated tiers. D1 200,000,000 (Jan 10), D2 100,000,000 (Feb 5),
D3 90,000,000 (Feb 20): Q1 pays 17,700,000 and is closed. On Apr 10 D3 is cancelled,
inside the 90-day window: Q2 carries an adjustment of 10,500,000 - 17,700,000 = -7,200,000
citing the cancellation. Cancelled 120 days after its close date, the payment stands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from incentive_engine.domain.events import DealCancelled
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import (
    CommissionError,
    close_period,
    rep_statements,
    snapshot,
)
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.conftest import StepClock
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import won

Q1, Q2, Q3 = (Period.parse(p) for p in ("2026-Q1", "2026-Q2", "2026-Q3"))


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def setup_q1(store: EventStore, clock: StepClock) -> None:
    clock.set("2026-01-02T00:00:00")
    store.append([publication(plan(tiered("graduated"), clawback={"window_days": 90}).plan),
                  rep("an"), quota("an", 300_000_000), quota("an", 300_000_000, "2026-Q2"),
                  quota("an", 300_000_000, "2026-Q3")])  # fmt: skip
    clock.set("2026-02-21T00:00:00")
    store.append([won("D1", 200_000_000, rep_id="an", close_date="2026-01-10"),
                  won("D2", 100_000_000, rep_id="an", close_date="2026-02-05"),
                  won("D3", 90_000_000, rep_id="an", close_date="2026-02-20")])  # fmt: skip


def statement(store: EventStore, period: Period):  # type: ignore[no-untyped-def]
    [s] = rep_statements(snapshot(store), "an", period)
    return s


def test_cancellation_inside_the_window_is_clawed_back_in_the_first_open_period(
    store: EventStore, clock: StepClock
) -> None:
    setup_q1(store, clock)
    clock.set("2026-04-02T00:00:00")
    closed = close_period(store, Q1, closed_by="finance@vn", now=at("2026-04-02"))
    [payout] = closed.payouts
    assert payout.total == Decimal(17_700_000) and payout.rep_id == "an"
    assert payout.statement_hash == statement(store, Q1).hash  # the sealed figure, recomputable

    clock.set("2026-04-10T00:00:00")
    store.append([DealCancelled(event_id="cancel-D3", deal_id="D3", cancelled_date="2026-04-10",
                                reason="customer withdrew")])  # fmt: skip
    q2 = statement(store, Q2)
    [adjustment] = [ln for ln in q2.lines if ln.kind == "prior_period"]
    assert adjustment.amount == Decimal(-7_200_000)
    assert adjustment.event_ids == ("cancel-D3",)
    assert adjustment.component == "prior:2026-Q1"
    assert q2.total == Decimal(-7_200_000)  # nothing else earned in Q2

    # Q1 itself is never rewritten: its recomputation now says 10,500,000, but what was paid
    # stays sealed in the log.
    assert statement(store, Q1).total == Decimal(10_500_000)

    # Once Q2 is closed with the adjustment, Q3 does not adjust Q1 again.
    clock.set("2026-07-02T00:00:00")
    q2_closed = close_period(store, Q2, closed_by="finance@vn", now=at("2026-07-02"))
    assert [(a.period, a.amount) for a in q2_closed.payouts[0].adjustments] == [
        ("2026-Q1", Decimal(-7_200_000))
    ]
    assert [ln for ln in statement(store, Q3).lines if ln.kind == "prior_period"] == []


def test_cancellation_outside_the_window_leaves_the_payment_standing(
    store: EventStore, clock: StepClock
) -> None:
    setup_q1(store, clock)
    clock.set("2026-04-02T00:00:00")
    close_period(store, Q1, closed_by="finance@vn", now=at("2026-04-02"))
    clock.set("2026-06-20T00:00:00")
    store.append(
        [
            DealCancelled(
                event_id="cancel-D3",
                deal_id="D3",
                cancelled_date="2026-06-20",
                reason="customer withdrew",
            )
        ]
    )  # fmt: skip (120 days after Feb 20)
    assert [ln for ln in statement(store, Q2).lines if ln.kind == "prior_period"] == []
    assert statement(store, Q1).total == Decimal(17_700_000)


def test_closing_rules_are_clear_errors_that_change_nothing(
    store: EventStore, clock: StepClock
) -> None:
    setup_q1(store, clock)
    with pytest.raises(CommissionError, match="has not ended yet"):
        close_period(store, Q1, closed_by="f", now=at("2026-03-31"))
    with pytest.raises(CommissionError, match="close 2026-Q1 first"):
        close_period(store, Q2, closed_by="f", now=at("2026-07-02"))
    close_period(store, Q1, closed_by="f", now=at("2026-04-02"))
    position = store.max_position()
    with pytest.raises(CommissionError, match="already closed"):
        close_period(store, Q1, closed_by="f", now=at("2026-04-03"))
    assert store.max_position() == position


def test_late_deal_and_backdated_reassignment_become_adjustments(
    store: EventStore, clock: StepClock
) -> None:
    from tests.factories import assigned, customer, territory

    setup_q1(store, clock)
    clock.set("2026-01-03T00:00:00")
    store.append([rep("binh"), quota("binh", 300_000_000), quota("binh", 300_000_000, "2026-Q2"),
                  territory("T-HN", region="Hà Nội"), assigned("T-HN", "an")])  # fmt: skip
    clock.set("2026-03-20T00:00:00")
    store.append(
        [won("N1", 30_000_000, close_date="2026-03-15", customer=customer(region="Hà Nội"))]
    )
    clock.set("2026-04-02T00:00:00")
    close_period(
        store, Q1, closed_by="finance@vn", now=at("2026-04-02")
    )  # an: 420M -> paid 20,100,000

    clock.set("2026-04-05T00:00:00")  # a deal closed in March, recorded in April
    store.append([won("LATE", 10_000_000, rep_id="binh", close_date="2026-03-30")])
    clock.set("2026-04-06T00:00:00")  # Hà Nội was Bình's from March 1st, learned only now
    store.append([assigned("T-HN", "binh", "2026-03-01", event_id="backdated")])

    snap = snapshot(store)
    [an_q2] = rep_statements(snap, "an", Q2)
    [binh_q2] = rep_statements(snap, "binh", Q2)
    [an_adj] = [ln for ln in an_q2.lines if ln.kind == "prior_period"]
    [binh_adj] = [ln for ln in binh_q2.lines if ln.kind == "prior_period"]
    assert an_adj.amount == Decimal(-2_400_000)  # N1's 30M left an's top tier (8 %)
    assert an_adj.event_ids == ("backdated",)
    assert binh_adj.amount == Decimal(800_000)  # 40M at 2 %
    assert {"won-LATE", "backdated"} <= set(binh_adj.event_ids)
