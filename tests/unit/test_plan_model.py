"""The plan document: validation errors name the field path and the reason; numbers stay exact."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from incentive_engine.domain.events import content_hash
from plans.documents import PlanError, load_plan, plan_from_data
from plans.evaluate.components import component_kinds
from plans.model import (
    Override,
    Plan,
    RateComponent,
    Spiff,
    TargetIncentive,
    plan_schema,
)

CATALOG = Path(__file__).resolve().parents[2] / "plans" / "catalog"

BASE: dict[str, Any] = {
    "plan_id": "p",
    "version": 1,
    "name": "Plan P",
    "effective_from": "2026-01-01",
    "currency": "VND",
    "period": "quarter",
    "covers": {"roles": ["rep"]},
    "components": [
        {
            "kind": "rate",
            "id": "commission",
            "mode": "graduated",
            "tiers": [
                {"from": 0, "to": 50, "rate": 2},
                {"from": 50, "to": 100, "rate": 5},
                {"from": 100, "rate": 8},
            ],
        }
    ],
}


def problems(change: Callable[[dict[str, Any]], object]) -> list[tuple[str, str]]:
    """The (path, reason) problems of BASE after a change."""
    data = copy.deepcopy(BASE)
    change(data)
    with pytest.raises(PlanError) as caught:
        plan_from_data(data, "plan.yaml")
    assert str(caught.value).startswith("plan.yaml: ")
    return caught.value.problems


def tiers(data: dict[str, Any]) -> list[dict[str, Any]]:
    return data["components"][0]["tiers"]


def one(found: list[tuple[str, str]], path: str, reason: str) -> None:
    assert len(found) == 1, found
    assert found[0][0] == path
    assert reason in found[0][1], found[0][1]


def test_base_is_valid() -> None:
    plan = plan_from_data(copy.deepcopy(BASE))
    assert isinstance(plan.components[0], RateComponent)


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (
            lambda d: tiers(d)[0].update(to=60),
            "components.0",
            "overlap between tier 0 (to 60) and tier 1 (from 50)",
        ),
        (
            lambda d: tiers(d)[0].update(to=40),
            "components.0",
            "gap between tier 0 (to 40) and tier 1 (from 50)",
        ),
        (
            lambda d: tiers(d)[0].update({"from": 10}),
            "components.0",
            "the first tier must start at 0, not 10",
        ),
        (lambda d: tiers(d)[2].update(to=200), "components.0", "the last tier must be open-ended"),
        (
            lambda d: tiers(d)[1].update(rate=-1),
            "components.0.tiers.1.rate",
            "greater than or equal to 0",
        ),
        (lambda d: d["components"][0].update(colour="red"), "components.0.colour", "unknown field"),
        (lambda d: d.update(colour="red"), "colour", "unknown field"),
        (
            lambda d: d["components"][0].update(filter=[{"field": "colour", "value": "x"}]),
            "components.0.filter.0.field",
            "'product_group'",
        ),
        (
            lambda d: d["components"][0].update(
                filter=[{"field": "product_group", "op": "in", "value": "cloud"}]
            ),
            "components.0.filter.0",
            "operator in needs a list",
        ),
        (
            lambda d: d["components"][0].update(
                filter=[{"field": "product_group", "op": "eq", "value": ["a", "b"]}]
            ),
            "components.0.filter.0",
            "operator eq needs one value",
        ),
        (
            lambda d: d["components"][0].update(
                filter=[{"field": "region", "op": "gte", "value": "x"}]
            ),
            "components.0.filter.0",
            "operator gte only applies to amount",
        ),
        (
            lambda d: d["components"][0].update(cap=-1),
            "components.0.cap",
            "greater than or equal to 0",
        ),
        (
            lambda d: d["components"].__setitem__(0, {"kind": "rate", "id": "c", "mode": "flat"}),
            "components.0",
            "a flat rate needs 'rate' and no 'tiers'",
        ),
        (
            lambda d: d["components"].append({"kind": "override", "id": "commission", "rate": 1}),
            "(document)",
            "component ids must be unique: commission repeated",
        ),
        (
            lambda d: d["components"].extend(
                [
                    {"kind": "draw", "id": "d1", "amount": 1},
                    {"kind": "draw", "id": "d2", "amount": 1},
                ]
            ),
            "(document)",
            "a plan has at most one draw",
        ),
        (
            lambda d: d["components"].append(
                {"kind": "spiff", "id": "s", "amount_per_deal": 1, "percent": 1}
            ),
            "components.1",
            "exactly one of 'amount_per_deal' and 'percent'",
        ),
        (
            lambda d: d["components"].append({"kind": "spiff", "id": "s"}),
            "components.1",
            "exactly one of 'amount_per_deal' and 'percent'",
        ),
        (lambda d: d["components"].append({"kind": "bonus", "id": "b"}), "components.1", "'bonus'"),
        (
            lambda d: d.update(effective_to="2025-12-31"),
            "(document)",
            "effective_to is before effective_from",
        ),
        (lambda d: d.update(currency="XYZ"), "currency", "unknown currency 'XYZ'"),
        (lambda d: d.update(covers={}), "covers", "a plan must cover someone"),
    ],
    ids=[
        "overlapping-tiers",
        "gapped-tiers",
        "first-tier-not-at-0",
        "last-tier-with-to",
        "negative-rate",
        "unknown-component-field",
        "unknown-plan-field",
        "filter-on-unknown-field",
        "list-operator-with-one-value",
        "one-value-operator-with-list",
        "ordered-operator-on-text",
        "cap-below-zero",
        "flat-without-rate",
        "duplicate-component-ids",
        "two-draws",
        "spiff-with-both-amounts",
        "spiff-with-neither-amount",
        "unknown-component-kind",
        "ends-before-it-starts",
        "unknown-currency",
        "covers-no-one",
    ],
)
def test_invalid_plans_name_the_path_and_the_reason(
    change: Callable[[dict[str, Any]], object], path: str, reason: str
) -> None:
    one(problems(change), path, reason)


def test_every_problem_is_reported_at_once() -> None:
    def change(d: dict[str, Any]) -> None:
        tiers(d)[1]["rate"] = -1
        d["components"][0]["colour"] = "red"
        d["version"] = 0

    found = dict(problems(change))
    assert set(found) == {"version", "components.0.tiers.1.rate", "components.0.colour"}


def test_yaml_syntax_errors_give_line_and_column() -> None:
    with pytest.raises(PlanError) as caught:
        load_plan("plan_id: [p,\n", "bad.yaml")
    ((where, _reason),) = caught.value.problems
    assert where.startswith("line 2, column")


def test_yaml_numbers_stay_exact_decimals() -> None:
    text = """
plan_id: p
version: 1
name: Plan P
effective_from: 2026-01-01
currency: VND
period: quarter
covers: {roles: [rep]}
components:
  - kind: rate
    id: c
    rate: 2.345
    cap: 400_000_000
  - kind: spiff
    id: s
    percent: 0.1
"""
    plan = load_plan(text)
    rate, spiff = plan.components
    assert isinstance(rate, RateComponent) and isinstance(spiff, Spiff)
    assert rate.rate == Decimal("2.345") and str(rate.rate) == "2.345"
    assert rate.cap == Decimal(400_000_000)
    assert spiff.percent == Decimal("0.1") and str(spiff.percent) == "0.1"
    assert plan.document()["components"][0]["rate"] == "2.345"


def test_yaml_infinity_is_refused() -> None:
    with pytest.raises(PlanError) as caught:
        load_plan(json.dumps(BASE).replace('"rate": 8', '"rate": .inf'), "inf.yaml")
    assert "not a finite number" in str(caught.value)


@pytest.mark.parametrize("name", ["field-sales-vn", "sales-managers-vn"])
def test_catalog_plans_load(name: str) -> None:
    path = CATALOG / f"{name}.yaml"
    plan = load_plan(path.read_text(encoding="utf-8"), str(path))
    assert plan.plan_id == name and plan.version == 1
    assert plan.currency == "VND" and plan.period.value == "quarter"
    assert str(plan.effective_from) == "2026-01-01"
    assert content_hash(plan.document()).startswith("sha256:")


def test_field_sales_catalog_plan_says_what_the_brief_says() -> None:
    plan = load_plan((CATALOG / "field-sales-vn.yaml").read_text(encoding="utf-8"))
    assert plan.covers.roles == ("rep",) and plan.crediting == "named"
    assert plan.clawback.window_days == 90 and plan.clawback.share == 100
    commission, cloud, new_customer = plan.components
    assert isinstance(commission, RateComponent)
    assert commission.mode.value == "graduated" and commission.measure.value == "attainment"
    assert [(t.start, t.end, t.rate) for t in commission.tiers] == [
        (0, 50, 2),
        (50, 100, 5),
        (100, None, 8),
    ]
    assert commission.gate == 40 and commission.cap == 400_000_000
    assert isinstance(cloud, Spiff) and cloud.amount_per_deal == 500_000
    assert [(c.field.value, c.op.value, c.value) for c in cloud.filter] == [
        ("product_group", "eq", "cloud")
    ]
    assert cloud.window is not None
    assert (str(cloud.window.start), str(cloud.window.end)) == ("2026-01-01", "2026-03-31")
    assert isinstance(new_customer, Spiff) and new_customer.percent == 1
    assert [(c.field.value, c.value) for c in new_customer.filter] == [("new_customer", True)]


def test_managers_catalog_plan_says_what_the_brief_says() -> None:
    plan = load_plan((CATALOG / "sales-managers-vn.yaml").read_text(encoding="utf-8"))
    assert plan.covers.roles == ("manager",)
    override, target = plan.components
    assert (
        isinstance(override, Override) and override.rate == 1 and override.depth.value == "direct"
    )
    assert isinstance(target, TargetIncentive) and target.target == 60_000_000 and target.gate == 30
    assert [(b.start, b.end, b.multiplier) for b in target.bands] == [
        (0, 50, Decimal("0.5")),
        (50, 100, 1),
        (100, None, Decimal("1.5")),
    ]


def test_json_schema_lists_every_component_kind() -> None:
    schema = plan_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    items = schema["properties"]["components"]["items"]
    mapping = items["discriminator"]["mapping"]
    kinds = component_kinds()
    assert {
        "rate",
        "target_incentive",
        "spiff",
        "override",
        "draw",
        "team_pool",
        "kpi_bonus",
    } <= set(kinds)
    assert set(mapping) == set(kinds)
    for kind, model in kinds.items():
        assert mapping[kind] == f"#/$defs/{model.__name__}"
        assert schema["$defs"][model.__name__]["properties"]["kind"]["const"] == kind
    assert schema["title"] == Plan.__name__
    kpi = schema["$defs"]["KpiBonus"]["properties"]
    assert {"kpi", "scope", "activity", "thresholds", "bands", "target", "cap"} <= set(kpi)
    assert all(kpi[name].get("description") for name in ("kpi", "scope", "thresholds", "bands"))
    assert "win_rate" in schema["$defs"]["PayableKpi"]["enum"]
    tier = schema["$defs"]["Tier"]["properties"]
    assert {"from", "to", "rate"} <= set(tier)  # the document's names, not Python's
