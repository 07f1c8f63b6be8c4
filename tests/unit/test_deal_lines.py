"""Deal product lines at ingest and in the fold: validation, byte-identical deals without
lines, amendments replacing lines, snapshots keeping them; precedence helpers of groups."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from incentive_engine.domain.events import DealAmended
from incentive_engine.domain.facts import FOLD_VERSION, fold
from incentive_engine.store.facts_codec import decode_section, encode_section
from plans.model import Condition, RateComponent, exclusive, specificity
from tests.examples.test_rule_precedence_and_lines import D1_LINES, line
from tests.factories import won


def test_a_deal_without_lines_dumps_as_it_always_did() -> None:
    assert b"lines" not in won("D1").canonical
    assert won("D1").lines is None
    assert FOLD_VERSION >= 4


@pytest.mark.parametrize(
    ("lines", "field", "reason"),
    [
        ([], "lines", "at least one line"),
        ([line("A", "x", 1, 10, 10, currency="USD")], "lines", "line 0 is in USD"),
        ([line("A", "x", 1, 10, 0, discount=20)], "lines.0", "discount 20 is more than"),
        ([line("A", "x", 0, 10, 0)], "lines.0.quantity", "greater than 0"),
        ([line("A", "x", 1, -10, -10)], "lines.0.unit_price", "greater than or equal to 0"),
    ],
)
def test_bad_lines_are_refused_naming_the_field(lines: list, field: str, reason: str) -> None:
    with pytest.raises(ValidationError) as refused:
        won("D1", 10, lines=lines)
    error = refused.value.errors()[0]
    assert ".".join(str(p) for p in error["loc"]) == field
    assert reason in error["msg"]


def test_amendments_replace_lines_and_snapshots_keep_them() -> None:
    amended = DealAmended(event_id="a1", deal_id="D1", amended_date="2026-03-01",
                          amount=120_000_000, currency="VND", reason="less",
                          lines=[D1_LINES[0]])  # fmt: skip
    facts = fold([won("D1", 300_000_000, lines=D1_LINES), amended])
    deal = facts.deals["D1"]
    assert [ln.product_id for ln in deal.lines or ()] == ["ERP-PRO"]
    assert [ln.product_id for ln in deal.won.lines or ()] == ["ERP-PRO", "CRM-STD", "SRV-INST"]
    back = decode_section("deals", encode_section(facts, "deals"))
    assert back["D1"].amendments[0].lines == deal.amendments[0].lines
    assert back["D1"].won.lines[1].discount == Decimal(20_000_000)
    with pytest.raises(ValidationError, match="sum to 120000000"):
        DealAmended(event_id="a2", deal_id="D1", amended_date="2026-03-01", amount=1,
                    currency="VND", reason="x", lines=[D1_LINES[0]])  # fmt: skip


def cond(field: str, value: object, op: str = "eq") -> Condition:
    return Condition.model_validate({"field": field, "op": op, "value": value})


def rule(*conditions: Condition) -> RateComponent:
    return RateComponent(id="r", rate=Decimal(1), filter=conditions)


def test_specificity_and_exclusion() -> None:
    assert specificity(()) == (0, 0)
    assert specificity((cond("region", "HN"), cond("product_category", "sw"))) == (2, 2)
    assert specificity((cond("product_id", "X"),)) == (3, 1)
    assert specificity((cond("product_id", "X", "ne"),)) == (1, 1)
    hn, hcm = rule(cond("region", "HN")), rule(cond("region", ["HCM", "HN"], "in"))
    assert not exclusive(hn, hcm, per_line=False)
    assert exclusive(hn, rule(cond("region", "HN", "ne")), per_line=False)
    assert exclusive(rule(cond("new_customer", True)), rule(cond("new_customer", False)), False)
    big, small = rule(cond("amount", 100, "gte")), rule(cond("amount", 99, "lte"))
    assert exclusive(big, small, per_line=False)
    sw, hw = rule(cond("product_category", "sw")), rule(cond("product_category", "hw"))
    assert exclusive(sw, hw, per_line=True) and not exclusive(sw, hw, per_line=False)
