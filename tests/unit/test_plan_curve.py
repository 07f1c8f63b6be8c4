"""The payout curve of a plan (the evaluator's own handlers over attainment), where a
validation path sits in YAML text, plan YAML written back, and the publishing reason kept
out of the canonical JSON when absent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from incentive_engine.services.plan_drafts import check
from plans.curve import payout_curve
from plans.documents import load_plan, plan_yaml, publication
from plans.yaml_lines import line_of
from tests.examples.plans import plan, tiered

QUOTA = Decimal(300_000_000)


def at(mode: str, level: int, **extra: object) -> Decimal:
    curve = payout_curve(plan(tiered(mode, **extra)).plan, QUOTA, [Decimal(level)])
    return curve.points[0].total


def test_the_curve_pays_design_5_at_130_percent() -> None:
    assert at("graduated", 130) == Decimal(17_700_000)
    assert at("retroactive", 130) == Decimal(31_200_000)


def test_the_curve_reads_gates_caps_and_tier_bounds_like_a_statement() -> None:
    assert at("graduated", 33, gate=40) == 0
    assert at("graduated", 50, gate=40) == Decimal(3_000_000)  # DESIGN §5 gate
    assert at("retroactive", 130, cap=25_000_000) == Decimal(25_000_000)  # DESIGN §5 cap
    assert at("retroactive", 50) == Decimal(7_500_000)  # a lower bound is inclusive
    assert at("graduated", 100) == Decimal(10_500_000)


def test_the_default_curve_runs_from_0_to_200_percent_and_names_what_it_leaves_out() -> None:
    spiff = {"id": "bonus", "kind": "spiff", "amount_per_deal": 500_000}
    curve = payout_curve(plan(tiered(), spiff).plan, QUOTA)
    assert [p.attainment for p in curve.points] == [Decimal(x) for x in range(0, 201, 10)]
    assert curve.components == ("commission",) and curve.left_out == ("bonus",)
    assert curve.points[0].total == 0 and curve.points[-1].revenue == Decimal(600_000_000)
    with pytest.raises(ValueError):
        payout_curve(plan(tiered()).plan, Decimal(0))


TEXT = """plan_id: p
version: 1
components:
  - id: commission
    kind: rate
    tiers:
      - from: 0
        rate: 2
      - from: 50
        rate: -5
"""


def test_a_validation_path_is_found_on_its_line() -> None:
    assert line_of(TEXT, "components.0.tiers.1.rate") == 10
    assert line_of(TEXT, "components.0.tiers.1") == 9
    assert line_of(TEXT, "components.0.missing") == 4  # the component that lacks it
    assert line_of(TEXT, "line 7, column 3") == 7
    assert line_of(TEXT, "(document)") is None
    assert line_of("a: [", "a") is None


def test_check_reports_each_problem_at_its_path_and_line() -> None:
    problems = {p.path: p for p in check(TEXT).problems}
    assert problems["components.0.tiers.1.rate"].line == 10
    assert "greater than or equal to 0" in problems["components.0.tiers.1.rate"].reason
    assert problems["name"].line is None  # a missing top-level field has no line


def test_a_plan_written_back_as_yaml_validates_into_the_same_plan() -> None:
    with open("plans/catalog/field-sales-vn.yaml", encoding="utf-8") as handle:
        original = load_plan(handle.read())
    text = plan_yaml(original)
    assert "rate: 5\n" in text and "cap: 400000000\n" in text  # numbers plainly
    assert check(text).plan == original


def test_an_absent_or_blank_reason_keeps_the_publishing_events_hash() -> None:
    version = plan(tiered()).plan
    bare = publication(version)
    assert publication(version, reason="  ").canonical == bare.canonical
    why = publication(version, reason="New tiers for 2026")
    assert why.reason == "New tiers for 2026" and b'"reason"' in why.canonical
    assert b'"reason"' not in bare.canonical
