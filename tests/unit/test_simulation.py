"""Retroactive simulation, checked by hand on a small dataset (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from incentive_engine.domain.simulation import SimulationError, simulate, window
from plans.evaluate import evaluate
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import won

Q1, Q2 = Period.parse("2026-Q1"), Period.parse("2026-Q2")
D = Decimal


def history() -> list:
    return [rep("an"), rep("binh"), quota("an", 300_000_000), quota("binh", 300_000_000),
            quota("an", 300_000_000, "2026-Q2"), quota("binh", 300_000_000, "2026-Q2"),
            won("D1", 390_000_000, rep_id="an", close_date="2026-02-10"),
            won("D2", 100_000_000, rep_id="binh", close_date="2026-02-11")]  # fmt: skip


def richer() -> object:
    tiers = [{"from": 0, "rate": 2}, {"from": 50, "rate": 5}, {"from": 100, "rate": 10}]
    return plan(
        {"id": "commission", "kind": "rate", "mode": "graduated", "tiers": tiers}, version=2
    )


def test_a_higher_top_tier_checked_by_hand() -> None:
    facts = fold(history())
    result = simulate(facts, richer(), plan(tiered()), window(Q1, Q2))
    by_rep = {r.rep_id: r for r in result.reps}
    # an: baseline 3,000,000 + 7,500,000 + 90,000,000 x 8 % = 17,700,000;
    #     draft     3,000,000 + 7,500,000 + 90,000,000 x 10 % = 19,500,000 (+1,800,000, +10.2 %)
    assert (by_rep["an"].baseline, by_rep["an"].simulated, by_rep["an"].difference) == (
        D(17_700_000),
        D(19_500_000),
        D(1_800_000),
    )
    assert by_rep["an"].change.quantize(D("0.01")) == D("10.17")
    # binh: 100,000,000 of 300,000,000 = 33 %: 2 % under both
    assert (by_rep["binh"].baseline, by_rep["binh"].simulated) == (D(2_000_000), D(2_000_000))
    assert (result.baseline_total, result.simulated_total, result.cost_change) == (
        D(19_700_000),
        D(21_500_000),
        D(1_800_000),
    )
    dist = result.distribution()
    assert (dist["gain"], dist["lose"], dist["unchanged"]) == (1, 0, 1)
    assert (dist["gains 5–20 %"], dist["within ±5 %"]) == (1, 1)
    line = result.statements[("an", "2026-Q1", "simulated")].lines[-1]
    assert (line.rate, line.amount) == (D(10), D(9_000_000))


def test_simulation_changes_nothing_later_statements_show() -> None:
    facts = fold(history())
    before = evaluate(facts, plan(tiered()), "an", Q1).hash
    simulate(facts, richer(), plan(tiered()), window(Q1, Q2))
    assert evaluate(facts, plan(tiered()), "an", Q1).hash == before


def test_points_changes_are_reported_as_ranks() -> None:
    with_points = plan(
        tiered(),
        points={"won_deal": 10, "per_amount": {"step": 100_000_000, "points": 1}},
        version=2,
    )
    result = simulate(fold(history()), with_points, plan(tiered()), [Q1])
    by_rep = {r.rep_id: r for r in result.reps}
    assert (by_rep["an"].baseline_points, by_rep["an"].simulated_points) == (D(0), D(13))
    assert result.points_ranks() == [("an", 1, 1), ("binh", 2, 2)]


def test_windows_and_mismatches_are_clear_errors() -> None:
    assert [str(p) for p in window(Q1, Period.parse("2026-Q4"))] == [
        "2026-Q1",
        "2026-Q2",
        "2026-Q3",
        "2026-Q4",
    ]
    with pytest.raises(SimulationError, match="not a window"):
        window(Q2, Q1)
    with pytest.raises(SimulationError, match="pays per quarter"):
        simulate(fold(history()), richer(), plan(tiered()), [Period.parse("2026-01")])
    with pytest.raises(SimulationError, match="pays in USD"):
        simulate(fold(history()), plan(tiered(), currency="USD"), plan(tiered()), [Q1])


def test_cost_change_in_percent_and_the_movers_checked_by_hand() -> None:
    poorer = plan(
        {
            "id": "commission",
            "kind": "rate",
            "mode": "graduated",
            "tiers": [{"from": 0, "rate": 1}, {"from": 50, "rate": 5}, {"from": 100, "rate": 10}],
        },
        version=2,
    )
    result = simulate(fold(history()), poorer, plan(tiered()), [Q1])
    # an: 1,500,000 + 7,500,000 + 9,000,000 = 18,000,000 (+300,000);
    # binh: 100,000,000 x 1 % = 1,000,000 (-1,000,000); total 19,700,000 -> 19,000,000
    assert result.cost_change == D(-700_000)
    assert result.cost_change_percent is not None
    assert result.cost_change_percent.quantize(D("0.0001")) == D("-3.5533")
    gainers, losers = result.movers()
    assert [(r.rep_id, r.difference) for r in gainers] == [("an", D(300_000))]
    assert [(r.rep_id, r.difference) for r in losers] == [("binh", D(-1_000_000))]
    assert result.movers(0) == ([], [])
    assert result.as_dict()["cost_change_percent"] == str(result.cost_change_percent)


def test_nothing_paid_under_the_baseline_has_no_percent_change() -> None:
    result = simulate(fold([rep("an")]), richer(), plan(tiered()), [Q1])
    assert result.cost_change_percent is None
