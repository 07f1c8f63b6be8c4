"""Territory design, matching, reports and the territory model (pure)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from incentive_engine.domain.events import DealLost, OpportunityCreated, TerritoryModelDefined
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from incentive_engine.domain.references import References
from incentive_engine.domain.territories import (
    TerritoryDesignError,
    coverage_gaps,
    design,
    dimension_values,
    territory_report,
    unassigned,
    unowned,
)
from tests.factories import assigned, customer, hired, territory, won

Q1 = Period.parse("2026-Q1")
DAY = date(2026, 1, 1)
MODEL = TerritoryModelDefined(event_id="model-1", effective_date="2025-01-01", regions=["Hà Nội", "Đà Nẵng", "TP.HCM"],
                              industries=["Bán lẻ", "Sản xuất"], product_groups=["cloud", "hardware"])  # fmt: skip


def test_three_dimensions_of_two_values_make_8_territories_and_four_make_16() -> None:
    values = {
        "region": ["Hà Nội", "TP.HCM"],
        "customer_type": ["individual", "business"],
        "size": ["sme", "corporation"],
    }
    eight = design(values, effective_date=DAY)
    assert len(eight) == 8
    assert (
        eight[0].territory_id == "T-HANOI-INDIVIDUAL-SME"
        and eight[0].name == "Hà Nội · individual · sme"
    )
    assert len({t.territory_id for t in eight}) == 8
    sixteen = design({**values, "ownership": ["private", "state"]}, effective_date=DAY, prefix="VN")
    assert len(sixteen) == 16 and sixteen[-1].territory_id == "VN-TPHCM-BUSINESS-CORPORATION-STATE"
    assert design({"region": ["Đà Nẵng"]}, effective_date=DAY)[0].territory_id == "T-DANANG"


def test_design_errors() -> None:
    with pytest.raises(TerritoryDesignError, match="unknown dimension"):
        design({"colour": ["red"]}, effective_date=DAY)
    with pytest.raises(TerritoryDesignError, match="no values"):
        design({"region": []}, effective_date=DAY)
    with pytest.raises(TerritoryDesignError, match="TerritoryModelDefined"):
        dimension_values("region", fold([]), DAY)
    assert dimension_values("region", fold([MODEL]), DAY) == ("Hà Nội", "Đà Nẵng", "TP.HCM")
    assert dimension_values("size") == ("sme", "corporation")


def test_most_specific_wins_and_ties_go_to_the_smallest_id() -> None:
    events = [hired("a"), hired("b"), hired("c"),
              territory("Z-HCM-RETAIL", region="TP.HCM", industry="Bán lẻ"), assigned("Z-HCM-RETAIL", "a"),
              territory("A-HCM-SME", region="TP.HCM", size="sme"), assigned("A-HCM-SME", "b"),
              territory("HCM", region="TP.HCM"), assigned("HCM", "c"),
              won("D1"), won("D2", customer=customer(size="corporation")), won("D3", customer=customer(industry="Y tế", size="corporation"))]  # fmt: skip
    f = fold(events)
    assert [f.territory_for(f.deals[d])[0].territory_id for d in ("D1", "D2", "D3")] == [
        "A-HCM-SME",
        "Z-HCM-RETAIL",
        "HCM",
    ]


def test_unassigned_and_unowned() -> None:
    events = [hired("a"), territory("HN", region="Hà Nội"), territory("HCM", region="TP.HCM"), assigned("HCM", "a"),
              won("D1", customer=customer(region="Huế")), won("D2", customer=customer(region="Hà Nội")),
              won("D3"), won("D4", rep_id="a", customer=customer(region="Huế"))]  # fmt: skip
    f = fold(events)
    rows = {r.deal_id: r for r in unassigned(f, Q1)}
    assert set(rows) == {"D1", "D2", "D4"}
    assert rows["D1"].reason == "matches no territory"
    assert rows["D2"].reason == "territory HN has no owner on 2026-02-20"
    assert rows["D4"].named_rep == "a"
    assert [t.territory_id for t in unowned(f, DAY)] == ["HN"]


def test_coverage_gaps_over_the_dimensions_in_use() -> None:
    events = [MODEL, territory("HN-BUS", region="Hà Nội", customer_type="business"),
              territory("HN-IND", region="Hà Nội", customer_type="individual"),
              territory("HCM", region="TP.HCM")]  # fmt: skip
    gaps = coverage_gaps(fold(events), DAY)
    assert gaps == [
        {"region": "Đà Nẵng", "customer_type": "individual"},
        {"region": "Đà Nẵng", "customer_type": "business"},
    ]
    assert coverage_gaps(fold([]), DAY) == []


def test_territory_report_counts_customers_prospects_and_revenue() -> None:
    opp = OpportunityCreated(event_id="o1", deal_id="P1", rep_id="a", created_date="2026-02-01", amount=5,
                             currency="VND", product_group="cloud", customer=customer(customer_id="C-9"))  # fmt: skip
    lost = OpportunityCreated(event_id="o2", deal_id="P2", rep_id="a", created_date="2026-02-01", amount=5,
                              currency="VND", product_group="cloud", customer=customer(customer_id="C-8"))  # fmt: skip
    events = [hired("a"), hired("b"), territory("HCM", region="TP.HCM"),
              assigned("HCM", "a"),
              won("D1", 100), won("D2", 50, customer=customer(customer_id="C-2")), won("D3", 70), opp, lost,
              DealLost(event_id="l2", deal_id="P2", lost_date="2026-03-01", reason="price")]  # fmt: skip
    [row] = territory_report(fold(events), Q1)
    assert (row.territory_id, row.reps, row.owners) == ("HCM", 1, "a 100%")
    assert (row.active_customers, row.prospects, row.deals_won, row.revenue) == (
        2,
        1,
        3,
        Decimal(220),
    )


def test_territory_criteria_must_be_in_the_model() -> None:
    refs = References()
    refs.learn(MODEL)
    assert refs.problems(territory("X", region="Hà Nội", industry="Bán lẻ")) == []
    problems = refs.problems(territory("Y", region="Huế", product_group="software"))
    assert [p[0] for p in problems] == ["criteria.region", "criteria.product_group"]
    assert (
        "'Huế' is not in the territory model (allowed: Hà Nội, Đà Nẵng, TP.HCM)" in problems[0][1]
    )
