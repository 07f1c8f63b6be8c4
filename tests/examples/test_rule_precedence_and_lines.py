"""Issue 17, items 1 and 2: exclusive rule groups (the most specific rule pays), product lines
on deals, commissions per line and on gross margin; arithmetic by hand in the comments."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from incentive_engine.domain.events import DealAmended, DealCancelled
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from incentive_engine.services.ingest import parse_jsonl, validate_record
from plans.documents import PlanError
from plans.evaluate import EvaluationError, evaluate
from tests.examples.plans import plan, rep
from tests.factories import customer, won

Q1 = Period.parse("2026-Q1")
D = Decimal


def line(product: str, category: str, quantity: int, price: int, amount: int, **kw: Any) -> dict:
    """A product line (VND)."""
    return {"product_id": product, "product_category": category, "quantity": quantity,
            "unit_price": price, "amount": amount, **kw}  # fmt: skip


# D1: 300,000,000 VND in three lines
#   1. ERP-PRO  (software)  2 x 60,000,000                  = 120,000,000
#   2. CRM-STD  (software) 10 x 10,000,000 - 20,000,000 off =  80,000,000
#   3. SRV-INST (services)  1 x 100,000,000                 = 100,000,000
#                                                      sum    300,000,000
D1_LINES = [
    line("ERP-PRO", "software", 2, 60_000_000, 120_000_000),
    line("CRM-STD", "software", 10, 10_000_000, 80_000_000, discount=20_000_000),
    line("SRV-INST", "services", 1, 100_000_000, 100_000_000),
]


def three_rules(measure: str | None, group: str | None = "commission") -> list[dict]:
    """A general 2 % rate, 5 % on the software category and 8 % on the product ERP-PRO."""
    extra: dict[str, Any] = {"mode": "flat", "kind": "rate"}
    if group:
        extra["group"] = group
    if measure:
        extra["measure"] = measure
    return [
        {"id": "general", "rate": 2, **extra},
        {"id": "software", "rate": 5, **extra,
         "filter": [{"field": "product_category", "value": "software"}]},
        {"id": "erp_pro", "rate": 8, **extra,
         "filter": [{"field": "product_id", "value": "ERP-PRO"}]},
    ]  # fmt: skip


def test_most_specific_rule_pays_each_line() -> None:
    facts = fold([rep("an"), won("D1", 300_000_000, rep_id="an", lines=D1_LINES)])
    s = evaluate(facts, plan(*three_rules("line_amount")), "an", Q1)
    # line 1 matches all three: the product rule wins, 8 % x 120,000,000 = 9,600,000
    # line 2 matches general and software: 5 % x 80,000,000       = 4,000,000
    # line 3 matches only general: 2 % x 100,000,000               = 2,000,000
    #                                                      total   15,600,000
    paid = [(ln.component, ln.deal_line, ln.base, ln.amount, ln.won_over) for ln in s.lines]
    assert paid == [
        ("general", 3, D(100_000_000), D(2_000_000), ()),
        ("software", 2, D(80_000_000), D(4_000_000), ("general",)),
        ("erp_pro", 1, D(120_000_000), D(9_600_000), ("general", "software")),
    ]
    assert s.total == D(15_600_000)
    assert s.lines[2].description == (
        "erp_pro: deal D1 line 1 (ERP-PRO), 8 % of 120,000,000 VND; "
        "won group commission over general, software"
    )
    assert s.lines[2].as_dict()["won_over"] == ["general", "software"]
    # Without the group every matching rule pays: line 1 at 2 + 5 + 8 = 15 % (18,000,000),
    # line 2 at 2 + 5 = 7 % (5,600,000), line 3 at 2 % (2,000,000): 25,600,000.
    s = evaluate(facts, plan(*three_rules("line_amount", group=None)), "an", Q1)
    assert s.total == D(25_600_000)


def test_most_specific_rule_pays_the_whole_deal_when_measured_per_deal() -> None:
    # Measured per deal, a product condition matches a deal holding that product: D1 holds
    # ERP-PRO, so the product rule pays on the whole deal: 8 % x 300,000,000 = 24,000,000.
    # D2 has no lines (no product, no category): only the general rule matches, 2 % of
    # 50,000,000 = 1,000,000.
    facts = fold([rep("an"), won("D1", 300_000_000, rep_id="an", lines=D1_LINES),
                  won("D2", 50_000_000, rep_id="an")])  # fmt: skip
    s = evaluate(facts, plan(*three_rules(None)), "an", Q1)
    assert [(ln.component, ln.deal_ids, ln.amount) for ln in s.lines] == [
        ("general", ("D2",), D(1_000_000)),
        ("erp_pro", ("D1",), D(24_000_000)),
    ]
    assert s.lines[1].won_over == ("general", "software")
    assert "deal_line" not in s.lines[1].as_dict()


def test_an_explicit_priority_beats_specificity() -> None:
    rules = three_rules("line_amount")
    rules[0] = {**rules[0], "priority": 1}  # the general rate now wins every line it matches
    facts = fold([rep("an"), won("D1", 300_000_000, rep_id="an", lines=D1_LINES)])
    s = evaluate(facts, plan(*rules), "an", Q1)
    assert s.total == D(6_000_000)  # 2 % x 300,000,000
    assert {ln.component for ln in s.lines} == {"general"}


def test_equal_precedence_in_a_group_is_refused_at_validation() -> None:
    software, hardware = (
        {"id": cat, "kind": "rate", "mode": "flat", "rate": 5, "group": "g",
         "filter": [{"field": "product_category", "value": cat}]}
        for cat in ("software", "hardware")
    )  # fmt: skip
    # Measured per deal, one deal can hold a software line and a hardware line: a tie.
    with pytest.raises(PlanError) as refused:
        plan(software, hardware)
    [(path, reason)] = refused.value.problems
    assert path == "components.1.filter"
    assert "'hardware' and 'software' (components.0) in group 'g'" in reason
    # Measured per line, one line has one category: the filters exclude each other.
    plan({**software, "measure": "line_amount"}, {**hardware, "measure": "line_amount"})
    # Two unfiltered rules with the same priority always tie.
    with pytest.raises(PlanError) as refused:
        plan({"id": "a", "kind": "rate", "rate": 1, "group": "g", "priority": 2},
             {"id": "b", "kind": "rate", "rate": 2, "group": "g", "priority": 2})  # fmt: skip
    assert refused.value.problems[0][0] == "components.1.priority"
    # An attainment-tiered rate pays on the period's revenue: it cannot be in a group.
    with pytest.raises(PlanError) as refused:
        plan({"id": "t", "kind": "rate", "mode": "graduated", "group": "g",
              "tiers": [{"from": 0, "rate": 2}, {"from": 100, "rate": 4}]})  # fmt: skip
    assert refused.value.problems[0][0] == "components.0.group"


def test_lines_that_do_not_sum_to_the_amount_are_refused_at_ingest() -> None:
    record = {"type": "DealWon", "event_id": "won-X1", "deal_id": "X1", "amount": "300000000",
              "currency": "VND", "close_date": "2026-02-10", "product_group": "erp",
              "customer": customer(), "rep_id": "an",
              "lines": [*D1_LINES[:2], line("SRV-INST", "services", 1, 90_000_000, 90_000_000)]}  # fmt: skip
    [raw] = parse_jsonl([json.dumps(record)], "deals.jsonl")
    [error] = validate_record(raw)
    assert (error.event_id, error.field) == ("won-X1", "lines")
    # 120,000,000 + 80,000,000 + 90,000,000 = 290,000,000, not 300,000,000
    assert "sum to 290000000 (120000000 + 80000000 + 90000000)" in error.reason
    assert "not to the deal amount 300000000" in error.reason
    # A line whose amount is not quantity x unit_price - discount names the line.
    record["lines"] = [line("ERP-PRO", "software", 2, 60_000_000, 110_000_000)]
    record["amount"] = "110000000"
    [raw] = parse_jsonl([json.dumps(record)], "deals.jsonl")
    [error] = validate_record(raw)
    assert error.field == "lines.0"
    assert "is not quantity x unit_price - discount = 2 x 60000000 - 0 = 120000000" in error.reason


# M1: 200,000,000 VND split 60/40 between an and binh
#   1. LIC-ERP (software) 4 x 40,000,000 - 10,000,000 = 150,000,000, cost 90,000,000: margin 60,000,000
#   2. SRV-IMP (services) 1 x 50,000,000             =  50,000,000, cost 30,000,000: margin 20,000,000
#   deal margin 80,000,000
M1_LINES = [
    line("LIC-ERP", "software", 4, 40_000_000, 150_000_000, discount=10_000_000, cost=90_000_000),
    line("SRV-IMP", "services", 1, 50_000_000, 50_000_000, cost=30_000_000),
]
SPLIT = [{"rep_id": "an", "share": 60}, {"rep_id": "binh", "share": 40}]
MARGIN = {"id": "margin", "kind": "rate", "mode": "flat", "rate": 10, "measure": "margin"}


def margin_facts(*extra: object) -> Any:
    deal = won("M1", 200_000_000, splits=SPLIT, close_date="2026-02-10", lines=M1_LINES)
    return fold([rep("an"), rep("binh"), deal, *extra])


def test_margin_commission_with_a_split() -> None:
    facts = margin_facts()
    an, binh = (evaluate(facts, plan(MARGIN), r, Q1) for r in ("an", "binh"))
    # an: 60 % of the 80,000,000 margin = 48,000,000, at 10 % = 4,800,000
    # binh: 40 % of 80,000,000 = 32,000,000, at 10 % = 3,200,000 (together 10 % of 80,000,000)
    assert (an.lines[0].base, an.total) == (D(48_000_000), D(4_800_000))
    assert (binh.lines[0].base, binh.total) == (D(32_000_000), D(3_200_000))
    assert an.lines[0].description == (
        "margin: deal M1, 10 % of margin 48,000,000 VND x 60 % share"
    )
    # Per line, on software only: 60,000,000 x 60 % = 36,000,000, at 10 % = 3,600,000.
    per_line = {**MARGIN, "measure": "line_margin",
                "filter": [{"field": "product_category", "value": "software"}]}  # fmt: skip
    assert evaluate(facts, plan(per_line), "an", Q1).total == D(3_600_000)


def test_clawback_share_applies_to_lines_in_proportion() -> None:
    # Cancelled 20 days after closing, inside the 90-day window, with a 50 % clawback share:
    # the deal counts 100,000,000, each line half of its amount and of its cost, the margin
    # 40,000,000; an: 60 % = 24,000,000, at 10 % = 2,400,000.
    cancel = DealCancelled(event_id="cancel-M1", deal_id="M1", cancelled_date="2026-03-02",
                           reason="returned half")  # fmt: skip
    s = evaluate(margin_facts(cancel), plan(MARGIN, clawback={"share": 50}), "an", Q1)
    assert (s.lines[0].base, s.total) == (D(24_000_000), D(2_400_000))
    assert "cancel-M1" in s.lines[0].event_ids


def test_margin_without_a_cost_names_the_deal_and_line() -> None:
    lines = [M1_LINES[0], line("SRV-IMP", "services", 1, 50_000_000, 50_000_000)]
    facts = fold([rep("an"), won("M2", 200_000_000, rep_id="an", lines=lines)])
    with pytest.raises(EvaluationError, match=r"deal M2 line 2 \(SRV-IMP\) has no cost"):
        evaluate(facts, plan(MARGIN), "an", Q1)
    facts = fold([rep("an"), won("M3", 200_000_000, rep_id="an")])
    with pytest.raises(EvaluationError, match="deal M3 has no product lines"):
        evaluate(facts, plan(MARGIN), "an", Q1)


def test_line_level_spiff() -> None:
    spiff = {"id": "hw_bonus", "kind": "spiff", "amount_per_deal": 1_000_000,
             "measure": "line_amount",
             "filter": [{"field": "product_category", "value": "hardware"}]}  # fmt: skip
    lines = [
        line("SRV-01", "hardware", 2, 30_000_000, 60_000_000),
        line("SW-OS", "software", 1, 20_000_000, 20_000_000),
        line("SRV-02", "hardware", 1, 20_000_000, 20_000_000),
    ]
    facts = fold([rep("an"), won("S1", 100_000_000, rep_id="an", lines=lines),
                  won("S2", 40_000_000, rep_id="an", product_group="hardware")])  # fmt: skip
    s = evaluate(facts, plan(spiff), "an", Q1)
    # two hardware lines on S1: 2 x 1,000,000; S2 has no lines, so no hardware line
    assert [(ln.deal_ids, ln.deal_line, ln.amount) for ln in s.lines] == [
        (("S1",), 1, D(1_000_000)),
        (("S1",), 3, D(1_000_000)),
    ]
    assert s.lines[0].description == "hw_bonus: deal S1 line 1 (SRV-01), 1,000,000 VND per line"
    percent = {**spiff, "amount_per_deal": None, "percent": 3}
    # 3 % of 60,000,000 + 3 % of 20,000,000 = 1,800,000 + 600,000
    assert evaluate(facts, plan(percent), "an", Q1).total == D(2_400_000)


def test_an_amendment_with_lines_replaces_them() -> None:
    rate = {"id": "sw", "kind": "rate", "mode": "flat", "rate": 5, "measure": "line_amount",
            "filter": [{"field": "product_category", "value": "software"}]}  # fmt: skip
    new_lines = [
        line("ERP-PRO", "software", 3, 60_000_000, 180_000_000),
        line("SRV-INST", "services", 1, 100_000_000, 100_000_000),
    ]
    amended = DealAmended(event_id="amend-D1", deal_id="D1", amended_date="2026-03-01",
                          amount=280_000_000, currency="VND", reason="one more licence",
                          lines=new_lines)  # fmt: skip
    before = fold([rep("an"), won("D1", 300_000_000, rep_id="an", lines=D1_LINES)])
    after = fold([rep("an"), won("D1", 300_000_000, rep_id="an", lines=D1_LINES), amended])
    # before: 5 % x (120,000,000 + 80,000,000) = 10,000,000; after: 5 % x 180,000,000
    assert evaluate(before, plan(rate), "an", Q1).total == D(10_000_000)
    assert evaluate(after, plan(rate), "an", Q1).total == D(9_000_000)
    # An amendment without lines scales the lines in proportion: 300,000,000 -> 150,000,000
    # halves each line: 5 % x (60,000,000 + 40,000,000) = 5,000,000.
    halved = DealAmended(event_id="amend-D1", deal_id="D1", amended_date="2026-03-01",
                         amount=150_000_000, currency="VND", reason="half returned")  # fmt: skip
    facts = fold([rep("an"), won("D1", 300_000_000, rep_id="an", lines=D1_LINES), halved])
    assert evaluate(facts, plan(rate), "an", Q1).total == D(5_000_000)


def test_tiers_measured_on_each_line() -> None:
    # Graduated tiers on each line's amount: [0, 100,000,000) at 1 %, [100,000,000, ∞) at 3 %.
    # line 1 (120,000,000): 100,000,000 x 1 % + 20,000,000 x 3 % = 1,000,000 + 600,000
    # line 2 (80,000,000):   80,000,000 x 1 %                    =   800,000
    # line 3 (100,000,000): 100,000,000 x 1 %                    = 1,000,000
    #                                                      total   3,400,000
    tiers = {"id": "lines", "kind": "rate", "mode": "graduated", "measure": "line_amount",
             "tiers": [{"from": 0, "rate": 1}, {"from": 100_000_000, "rate": 3}]}  # fmt: skip
    facts = fold([rep("an"), won("D1", 300_000_000, rep_id="an", lines=D1_LINES)])
    s = evaluate(facts, plan(tiers), "an", Q1)
    assert [(ln.deal_line, ln.amount) for ln in s.lines] == [
        (1, D(1_000_000)), (1, D(600_000)), (2, D(800_000)), (3, D(1_000_000)),
    ]  # fmt: skip
    assert s.total == D(3_400_000)


def test_spiffs_in_a_group_with_windows_that_do_not_overlap() -> None:
    # Two spiffs of one group with the same precedence are allowed when their windows cannot
    # both hold; a third, unwindowed, with a priority, wins every deal it matches.
    jan = {"id": "jan", "kind": "spiff", "amount_per_deal": 300_000, "group": "promo",
           "window": {"from": "2026-01-01", "to": "2026-01-31"}}  # fmt: skip
    feb = {**jan, "id": "feb", "amount_per_deal": 500_000,
           "window": {"from": "2026-02-01", "to": "2026-02-28"}}  # fmt: skip
    facts = fold([rep("an"), won("J", 10_000_000, rep_id="an", close_date="2026-01-20"),
                  won("F", 10_000_000, rep_id="an", close_date="2026-02-20")])  # fmt: skip
    s = evaluate(facts, plan(jan, feb), "an", Q1)
    assert [(ln.component, ln.deal_ids) for ln in s.lines] == [("jan", ("J",)), ("feb", ("F",))]
    with pytest.raises(PlanError):  # an unwindowed member ties with both
        plan(jan, feb, {**jan, "id": "any", "window": None})
    vip = {**jan, "id": "vip", "window": None, "priority": 1, "amount_per_deal": 1_000_000}
    s = evaluate(facts, plan(jan, feb, vip), "an", Q1)
    assert s.total == D(2_000_000)
    assert [ln.won_over for ln in s.lines] == [("jan",), ("feb",)]
