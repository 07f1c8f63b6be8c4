"""Plan diffs: field by field, components matched by id, numbers compared by value."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

from plans.diff import Change, diff_plans, render, same
from plans.documents import load_plan, plan_from_data
from plans.model import Plan

CATALOG = Path(__file__).resolve().parents[2] / "plans" / "catalog"


def field_sales() -> Plan:
    return load_plan((CATALOG / "field-sales-vn.yaml").read_text(encoding="utf-8"))


def edited(plan: Plan, **changes: Any) -> Plan:
    """The plan's document with top-level changes, validated again."""
    data = copy.deepcopy(plan.document())
    data.update(changes)
    return plan_from_data(data)


def test_a_plan_does_not_differ_from_itself() -> None:
    assert diff_plans(field_sales(), field_sales()) == []


def test_numbers_are_compared_by_value() -> None:
    a = field_sales()
    text = (CATALOG / "field-sales-vn.yaml").read_text(encoding="utf-8")
    b = load_plan(text.replace("rate: 2\n", "rate: 2.0\n").replace("share: 100", "share: 100.00"))
    assert a.document() != b.document()  # "2" vs "2.0": different documents...
    assert diff_plans(a, b) == []  # ...with the same meaning


def test_plan_fields_first_in_a_fixed_order_then_components() -> None:
    a = field_sales()
    data = copy.deepcopy(a.document())
    data["components"][0]["tiers"][1]["rate"] = "5.5"
    data["clawback"]["window_days"] = 60
    data["name"] = "Field sales plan — Vietnam 2026 (H2)"
    data["effective_to"] = "2026-12-31"
    data["covers"]["teams"] = ["TP.HCM 1"]
    b = plan_from_data(data)
    assert diff_plans(a, b) == [
        Change(
            "name",
            "changed",
            "Field sales plan — Vietnam 2026",
            "Field sales plan — Vietnam 2026 (H2)",
        ),
        Change("effective_to", "added", None, "2026-12-31"),
        Change("covers.teams", "changed", "[]", "[TP.HCM 1]"),
        Change("clawback.window_days", "changed", "90", "60"),
        Change("components.commission.tiers.1.rate", "changed", "5", "5.5"),
    ]
    back = diff_plans(b, a)
    assert Change("effective_to", "removed", "2026-12-31", None) in back
    assert Change("components.commission.tiers.1.rate", "changed", "5.5", "5") in back


def test_components_are_matched_by_id_not_position() -> None:
    a = field_sales()
    data = copy.deepcopy(a.document())
    data["components"].reverse()  # same components, another order
    assert diff_plans(a, plan_from_data(data)) == []


def test_added_components_in_b_order_then_removed_ones() -> None:
    a = field_sales()
    data = copy.deepcopy(a.document())
    cloud = data["components"].pop(1)
    data["components"].insert(0, {"kind": "draw", "id": "draw", "amount": "5000000"})
    data["components"].append({"kind": "override", "id": "team", "rate": "1"})
    changes = diff_plans(a, plan_from_data(data))
    assert [(c.where, c.kind) for c in changes] == [
        ("components.draw", "added"),
        ("components.team", "added"),
        ("components.cloud-q1", "removed"),
    ]
    assert changes[0].after == "{id: draw, kind: draw, amount: 5000000, recoverable: true}"
    assert changes[0].before is None
    assert changes[2].before is not None and "amount_per_deal: 500000" in changes[2].before
    assert cloud["id"] == "cloud-q1"


def test_tiers_added_and_removed_by_position() -> None:
    a = field_sales()
    data = copy.deepcopy(a.document())
    tiers = data["components"][0]["tiers"]
    tiers[2]["to"] = "150"
    tiers.append({"from": "150", "rate": "10"})
    b = plan_from_data(data)
    assert diff_plans(a, b) == [
        Change("components.commission.tiers.2.to", "added", None, "150"),
        Change("components.commission.tiers.3", "added", None, "{from: 150, rate: 10}"),
    ]
    assert diff_plans(b, a) == [
        Change("components.commission.tiers.2.to", "removed", "150", None),
        Change("components.commission.tiers.3", "removed", "{from: 150, rate: 10}", None),
    ]


def test_filters_and_optional_fields() -> None:
    a = field_sales()
    data = copy.deepcopy(a.document())
    commission, cloud, new_customer = data["components"]
    del commission["cap"]
    commission["filter"] = [{"field": "region", "op": "in", "value": ["Hà Nội", "TP.HCM"]}]
    cloud["filter"][0]["value"] = "software"
    new_customer["filter"][0]["value"] = False
    assert diff_plans(a, plan_from_data(data)) == [
        Change(
            "components.commission.filter.0",
            "added",
            None,
            "{field: region, op: in, value: [Hà Nội, TP.HCM]}",
        ),
        Change("components.commission.cap", "removed", "400000000", None),  # b's fields first
        Change("components.cloud-q1.filter.0.value", "changed", "cloud", "software"),
        Change("components.new-customer.filter.0.value", "changed", "true", "false"),
    ]


def test_component_kind_change_shows_field_by_field() -> None:
    a = plan_from_data(
        {
            "plan_id": "p",
            "version": 1,
            "name": "P",
            "effective_from": "2026-01-01",
            "currency": "VND",
            "period": "month",
            "covers": {"reps": ["an"]},
            "components": [{"kind": "spiff", "id": "x", "percent": 1}],
        }
    )
    b = edited(
        a, period="quarter", currency="USD", components=[{"kind": "override", "id": "x", "rate": 1}]
    )
    assert diff_plans(a, b) == [
        Change("currency", "changed", "VND", "USD"),
        Change("period", "changed", "month", "quarter"),
        Change("components.x.kind", "changed", "spiff", "override"),
        Change("components.x.rate", "added", None, "1"),
        Change("components.x.depth", "added", None, "direct"),
        Change("components.x.percent", "removed", "1", None),
        Change("components.x.filter", "removed", "[]", None),
    ]


def test_diff_of_the_two_catalog_plans_is_deterministic() -> None:
    managers = load_plan((CATALOG / "sales-managers-vn.yaml").read_text(encoding="utf-8"))
    first = diff_plans(field_sales(), managers)
    assert first == diff_plans(field_sales(), managers)
    assert [c.where for c in first] == [
        "name",
        "covers.roles",
        "components.team-override",
        "components.team-target",
        "components.commission",
        "components.cloud-q1",
        "components.new-customer",
    ]
    assert first[0].as_dict() == {
        "where": "name",
        "kind": "changed",
        "before": "Field sales plan — Vietnam 2026",
        "after": "Sales managers plan — Vietnam 2026",
    }


def test_same_and_render() -> None:
    assert same(Decimal("2"), Decimal("2.00")) and same(2, Decimal("2.0"))
    assert not same(True, Decimal(1)) and not same(True, 1)
    assert not same("2", Decimal(2))
    assert same([Decimal("1.0")], (Decimal(1),))
    assert render(Decimal("2.50")) == "2.5" and render(Decimal("400000000")) == "400000000"
    assert render(Decimal("1E+2")) == "100"
    assert render(None) == "None"
