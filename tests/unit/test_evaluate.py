"""Evaluator rules beyond the worked examples: deal-amount tiers, filters on amounts."""

from __future__ import annotations

from decimal import Decimal

from incentive_engine.domain.events import DealAmended
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from plans.evaluate import evaluate
from tests.examples.plans import plan, rep
from tests.factories import won

Q1 = Period.parse("2026-Q1")
DEAL_TIERS = [{"from": 0, "rate": 0}, {"from": 100, "rate": 10}]


def deal_tier_plan(mode: str) -> object:
    return plan({"id": "c", "kind": "rate", "mode": mode, "measure": "deal_amount", "tiers": DEAL_TIERS},
                clawback={"window_days": 30})  # fmt: skip


def test_deal_tiers_measure_the_amount_they_pay_on_after_clawback_rules() -> None:
    """A downward amendment outside the window is ignored both for the tier and the base."""
    events = [rep("a"), won("D1", 150, rep_id="a", close_date="2026-01-10"),
              DealAmended(event_id="am", deal_id="D1", amended_date="2026-03-30", amount=50,
                          currency="VND", reason="late discount")]  # fmt: skip
    retro = evaluate(fold(events), deal_tier_plan("retroactive"), "a", Q1)
    assert retro.total == Decimal(15)  # all 150 at 10 %
    graduated = evaluate(fold(events), deal_tier_plan("graduated"), "a", Q1)
    assert graduated.total == Decimal(5)  # the 50 above 100 at 10 %


def test_split_deals_are_tiered_on_the_whole_deal_and_paid_by_share() -> None:
    events = [rep("a"), rep("b"), won("D1", 150, close_date="2026-01-10",
              splits=[{"rep_id": "a", "share": 50}, {"rep_id": "b", "share": 50}])]  # fmt: skip
    for mode, expected in (("retroactive", Decimal(8)), ("graduated", Decimal(3))):
        s = evaluate(fold(events), deal_tier_plan(mode), "a", Q1)
        assert s.total == expected, mode  # 75 x 10 % = 7.5 -> 8; 50 x 50 % x 10 % = 2.5 -> 3


def test_amount_filter_tests_the_deal_amount_after_clawback_rules() -> None:
    big = plan({"id": "big", "kind": "spiff", "amount_per_deal": 1000,
                "filter": [{"field": "amount", "op": "gte", "value": 100}]},
               clawback={"window_days": 30})  # fmt: skip
    events = [rep("a"), won("D1", 150, rep_id="a", close_date="2026-01-10"),
              DealAmended(event_id="am", deal_id="D1", amended_date="2026-01-20", amount=50,
                          currency="VND", reason="discount inside the window")]  # fmt: skip
    assert evaluate(fold(events), big, "a", Q1).total == 0
    outside = [
        *events[:2],
        events[2].model_copy(update={"amended_date": events[2].amended_date.replace(month=3)}),
    ]
    assert evaluate(fold(outside), big, "a", Q1).total == Decimal(1000)
