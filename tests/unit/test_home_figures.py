"""The rep home page's pure figures: the next tier or gate and the revenue that reaches it,
pace to quota by day, and the changes that concern a rep (hand-computed, DESIGN §5)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from incentive_engine.domain.attainment import pace
from incentive_engine.domain.changes import changes_from_facts, changes_from_log, since
from incentive_engine.domain.events import (
    DealCancelled,
    DisputeCommented,
    DisputeRaised,
    ManualAdjustment,
    QuotaChanged,
    TerritoryReassigned,
)
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from plans.evaluate import evaluate
from plans.evaluate.credits import credits_for
from plans.thresholds import next_step
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import assigned, customer, territory, won

D = Decimal
Q1 = Period.parse("2026-Q1")
QUOTA = D(300_000_000)


def gated_plan():  # type: ignore[no-untyped-def]
    return plan(tiered("graduated", gate=40)).plan


# ----------------------------------------------------------------- next step


@pytest.mark.parametrize(
    ("credited", "kind", "bound", "needed"),
    [
        (D(0), "gate", D(40), D(120_000_000)),
        (D(100_000_000), "gate", D(40), D(20_000_000)),  # DESIGN §5: 33.3 % pays 0
        (D(120_000_000), "tier", D(50), D(30_000_000)),  # gate passed at exactly 40 %
        (D(150_000_000), "tier", D(100), D(150_000_000)),  # 50 % reaches [50, 100): bound inclusive
        (D(299_999_999), "tier", D(100), D(1)),
    ],
)
def test_next_step_is_the_gate_or_tier_above_attainment_with_the_revenue_that_reaches_it(
    credited: Decimal, kind: str, bound: Decimal, needed: Decimal
) -> None:
    found = next_step(gated_plan(), QUOTA, credited)
    assert found is not None
    assert (found.kind, found.bound, found.revenue_needed, found.currency) == (
        kind,
        bound,
        needed,
        "VND",
    )
    assert found.component == "commission"


def test_no_next_step_above_the_top_tier_or_without_a_quota() -> None:
    assert next_step(gated_plan(), QUOTA, D(390_000_000)) is None  # 130 %: the top tier
    assert next_step(gated_plan(), QUOTA, D(300_000_000)) is None  # exactly 100 % reaches it
    assert next_step(gated_plan(), None, D(1)) is None
    flat = plan({"id": "c", "kind": "rate", "rate": 2}).plan
    assert next_step(flat, QUOTA, D(0)) is None  # a flat rate has no step


def test_next_step_rounds_to_the_currency_and_reads_bands_of_a_target_incentive() -> None:
    usd = plan(tiered("retroactive"), currency="USD").plan
    # quota 1,000.01 x 50 % = 500.005 - 100 = 400.005 -> 400.01 (half-up, cents)
    found = next_step(usd, D("1000.01"), D(100))
    assert found is not None and found.revenue_needed == D("400.01")
    bands = plan({"id": "ti", "kind": "target_incentive", "target": 10_000_000,
                  "bands": [{"from": 0, "multiplier": 1}, {"from": 80, "multiplier": 2}]}).plan  # fmt: skip
    step = next_step(bands, QUOTA, D(200_000_000))
    assert step is not None and (step.kind, step.bound, step.rate) == ("band", D(80), D(2))
    assert step.revenue_needed == D(40_000_000)


# ---------------------------------------------------------------------- pace


def test_pace_cumulates_credit_by_close_day_against_the_prorated_quota() -> None:
    credits = [(date(2026, 1, 10), D(200_000_000)), (date(2026, 2, 5), D(100_000_000)),
               (date(2026, 2, 5), D(50_000_000)), (date(2025, 12, 31), D(999))]  # fmt: skip
    found = pace(Q1, QUOTA, "VND", credits, date(2026, 2, 14))
    assert len(found.days) == 90
    # Feb 14 is day 45 of 90: 300,000,000 x 45 / 90 = 150,000,000 expected
    assert found.today == date(2026, 2, 14)
    assert found.expected_by_today == D(150_000_000)
    assert found.credited_by_today == D(350_000_000)
    assert found.ahead == D(200_000_000)
    first, tenth = found.days[0], found.days[9]
    assert (first.credited, first.expected) == (D(0), D(3_333_333))  # 300,000,000 / 90, rounded
    assert (tenth.day, tenth.credited) == (date(2026, 1, 10), D(200_000_000))
    assert found.days[44].credited == D(350_000_000)
    assert found.days[45].credited is None  # after today: not known yet
    assert found.days[-1].expected == QUOTA


def test_pace_of_a_past_period_runs_to_its_end_and_of_a_future_one_is_empty() -> None:
    done = pace(Q1, QUOTA, "VND", [(date(2026, 3, 31), D(10))], date(2026, 12, 1))
    assert (done.today, done.expected_by_today, done.credited_by_today) == (Q1.end, QUOTA, D(10))
    ahead = pace(Q1, QUOTA, "VND", [], date(2025, 12, 1))
    assert (ahead.expected_by_today, ahead.credited_by_today) == (D(0), D(0))
    assert all(d.credited is None for d in ahead.days)


def test_pace_uses_the_statements_crediting_splits_and_territory() -> None:
    events = [rep("an"), rep("binh"), quota("an", 300_000_000),
              territory("T1", region="HCM"), assigned("T1", "an"),
              won("D1", 100_000_000, splits=[{"rep_id": "an", "share": 60}, {"rep_id": "binh", "share": 40}],
                  close_date="2026-01-20"),
              won("D2", 50_000_000, close_date="2026-02-01", customer=customer(region="HCM"))]  # fmt: skip
    facts = fold(events)
    version = plan(tiered()).plan
    credits = [(c.deal.won.close_date, c.amount) for c in credits_for(facts, version, "an", Q1)]  # type: ignore[union-attr]
    found = pace(Q1, QUOTA, "VND", credits, date(2026, 3, 31))
    assert found.credited_by_today == D(110_000_000)  # 60 % of D1 + D2 by territory
    statement = evaluate(facts, plan(tiered()), "an", Q1)
    assert found.credited_by_today == statement.credited


# ------------------------------------------------------------------- changes


def test_changes_name_what_concerns_the_rep_with_recorded_times() -> None:
    events = [rep("an"), rep("binh"), quota("an", 300_000_000),
              QuotaChanged(event_id="qc-an", subject_id="an", period="2026-Q1", amount=D(250_000_000),
                           currency="VND", effective_date="2026-02-01", reason="re-plan"),
              territory("T1", region="HCM"), assigned("T1", "an"),
              TerritoryReassigned(event_id="re-T1", territory_id="T1", rep_id="binh",
                                  effective_date="2026-03-01"),
              won("D1", 100_000_000, rep_id="an", close_date="2026-01-20"),
              won("D2", 100_000_000, rep_id="binh", close_date="2026-01-20"),
              DealCancelled(event_id="cancel-D1", deal_id="D1", cancelled_date="2026-02-02",
                            reason="customer withdrew"),
              ManualAdjustment(event_id="adj-1", rep_id="an", period="2026-Q1", amount=D(-5),
                               currency="VND", reason="typo", posted_by="fin", posted_date="2026-02-03")]  # fmt: skip
    facts = fold(events)
    facts.recorded.update({e.event_id: f"2026-0{i % 9 + 1}-01T00:00:00.000000+00:00"
                           for i, e in enumerate(events)})  # fmt: skip
    found = changes_from_facts(facts, "an", [Q1])
    kinds = {c.event_id: c.kind for c in found}
    assert kinds == {
        "won-D1": "deal_won",
        "cancel-D1": "deal_cancelled",
        "quota-an-2026-Q1": "quota_set",
        "qc-an": "quota_changed",
        "adj-1": "adjustment",
        "asg-T1-an-2025-01-01": "territory_gained",
        "re-T1": "territory_lost",
    }
    assert [c.recorded for c in found] == sorted((c.recorded for c in found), reverse=True)
    won_d1 = next(c for c in found if c.kind == "deal_won")
    assert won_d1.values["amount"] == D(100_000_000) and won_d1.period == "2026-Q1"
    lost = next(c for c in found if c.kind == "territory_lost")
    assert lost.values["others"] == "binh" and lost.period == "2026-Q1"
    # since: strictly after the instant
    cut = "2026-07-01T00:00:00.000000+00:00"
    assert {c.event_id for c in since(found, cut)} == {
        e for e, t in facts.recorded.items() if t > cut and e in kinds
    }
    assert since(found, None) == found


def test_disputes_and_lost_deals_come_from_the_log_for_the_rep_only() -> None:
    facts = fold([rep("an"), rep("binh")])
    raised = DisputeRaised(event_id="dr-1", dispute_id="dsp-1", rep_id="an", period="2026-Q1",
                           line=1, plan_id="example", reason="missing deal",
                           expected_amount=D(1), currency="VND", raised_by="an", raised_role="rep",
                           raised_at="2026-02-01T00:00:00+00:00")  # fmt: skip
    other = raised.model_copy(update={"event_id": "dr-2", "dispute_id": "dsp-2", "rep_id": "binh"})
    comment = DisputeCommented(event_id="dc-1", dispute_id="dsp-1", author="mgr", role="manager",
                               comment="looking", at="2026-02-02T00:00:00+00:00")  # fmt: skip
    found = changes_from_log(facts, "an", [(raised, "2026-02-01T00:00:00.000000+00:00"),
                                           (other, "2026-02-01T00:00:01.000000+00:00"),
                                           (comment, "2026-02-02T00:00:00.000000+00:00")], [Q1])  # fmt: skip
    assert [(c.event_id, c.kind, c.period) for c in found] == [
        ("dc-1", "dispute_commented", "2026-Q1"),
        ("dr-1", "dispute_raised", "2026-Q1"),
    ]
