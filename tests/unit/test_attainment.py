"""Attainment per rep, team and territory; proration; currencies (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from incentive_engine.domain.attainment import AttainmentError, attainment, rep_quota
from incentive_engine.domain.events import FxRateSet, QuotaSet, RepTransferred
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from plans.evaluate import EvaluationError, evaluate
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import assigned, customer, territory, won

Q1 = Period.parse("2026-Q1")
D = Decimal


def by_id(rows: list) -> dict:
    return {r.subject_id: r for r in rows}


def test_rep_attainment_with_proration_switch() -> None:
    events = [
        rep("an", hire_date="2026-02-01"),
        quota("an", 300_000_000),
        won("D1", 196_666_667, rep_id="an"),
    ]
    [row] = attainment(fold(events), Q1, "rep")
    assert (row.quota, row.credited, row.attainment) == (D(196_666_667), D(196_666_667), D(100))
    [flat] = attainment(fold(events), Q1, "rep", prorate=False)
    assert flat.quota == D(300_000_000)
    assert rep_quota(fold(events), "an", Q1) == (D(196_666_667), "VND", ("quota-an-2026-Q1",))


def test_team_attainment_counts_members_by_team_on_the_close_date_and_prorates_transfers() -> None:
    events = [rep("an", team="HN"), rep("binh", team="HN"), quota("an", 90_000_000), quota("binh", 90_000_000),
              RepTransferred(event_id="tr", rep_id="binh", effective_date="2026-02-15", team="HCM"),
              won("D1", 40_000_000, rep_id="binh", close_date="2026-02-01"),
              won("D2", 30_000_000, rep_id="binh", close_date="2026-03-01")]  # fmt: skip
    rows = by_id(attainment(fold(events), Q1, "team"))
    # binh spent Jan 1 - Feb 14 (45 of 90 days) in HN: half of 90,000,000 counts there.
    assert rows["HN"].quota == D(135_000_000) and rows["HN"].credited == D(40_000_000)
    assert rows["HCM"].quota == D(45_000_000) and rows["HCM"].credited == D(30_000_000)
    assert rows["HN"].note == "sum of members' quotas"
    top_down = [
        *events,
        QuotaSet(
            event_id="tq",
            subject="team",
            subject_id="HN",
            period="2026-Q1",
            amount=200_000_000,
            currency="VND",
        ),
    ]
    assert by_id(attainment(fold(top_down), Q1, "team"))["HN"].quota == D(200_000_000)


def test_territory_attainment_counts_deals_in_the_territory_whoever_is_credited() -> None:
    events = [rep("an"), territory("HCM", region="TP.HCM"), assigned("HCM", "an"),
              QuotaSet(event_id="tq", subject="territory", subject_id="HCM", period="2026-Q1", amount=100, currency="VND"),
              won("D1", 30, rep_id="an"), won("D2", 20), won("D3", 99, customer=customer(region="Huế"))]  # fmt: skip
    [row] = attainment(fold(events), Q1, "territory")
    assert (row.subject_id, row.credited, row.attainment) == ("HCM", D(50), D(50))


def test_credit_in_another_currency_is_converted_at_the_close_date_rate() -> None:
    events = [rep("an"), quota("an", 300_000_000), won("U1", 10_000, rep_id="an", currency="USD", close_date="2026-02-10"),
              FxRateSet(event_id="fx1", base="USD", quote="VND", rate=25_000, rate_date="2026-01-01"),
              FxRateSet(event_id="fx2", base="USD", quote="VND", rate=26_000, rate_date="2026-02-11")]  # fmt: skip
    [row] = attainment(fold(events), Q1, "rep")
    assert row.credited == D(250_000_000)  # the Jan 1 rate is the one in force on Feb 10
    s = evaluate(fold(events), plan(tiered("graduated")), "an", Q1)
    assert s.credited == D(250_000_000)


def test_missing_fx_rate_is_a_clear_error() -> None:
    events = [rep("an"), quota("an", 300_000_000), won("U1", 10_000, rep_id="an", currency="USD")]
    with pytest.raises(
        AttainmentError, match="deal U1 is in USD, needed in VND: no FX rate USD->VND"
    ):
        attainment(fold(events), Q1, "rep")
    with pytest.raises(EvaluationError, match="deal U1 is in USD"):
        evaluate(fold(events), plan(tiered("graduated")), "an", Q1)


def test_quota_in_another_currency_than_the_plan_is_an_error() -> None:
    events = [rep("an"), quota("an", 300_000, currency="USD"), won("D1", 1, rep_id="an")]
    with pytest.raises(EvaluationError, match="quota of an for 2026-Q1 is in USD, not VND"):
        evaluate(fold(events), plan(tiered("graduated")), "an", Q1)
