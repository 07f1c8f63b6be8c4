"""Builders for the worked examples: plans and the facts they are evaluated on."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from incentive_engine.domain.events import QuotaSet, RepHired
from plans.documents import PlanVersion, plan_from_data

GRADUATED_TIERS = [{"from": 0, "rate": 2}, {"from": 50, "rate": 5}, {"from": 100, "rate": 8}]


def plan(*components: dict[str, Any], **fields: Any) -> PlanVersion:
    """A plan version (as if published) with sensible defaults: VND, quarterly, reps."""
    document: dict[str, Any] = {
        "plan_id": "example",
        "version": 1,
        "name": "Example plan",
        "effective_from": "2026-01-01",
        "currency": "VND",
        "period": "quarter",
        "covers": {"roles": ["rep", "manager"]},
        "components": list(components),
    }
    document.update(fields)
    return PlanVersion.draft(plan_from_data(document))


def tiered(mode: str = "graduated", **extra: Any) -> dict[str, Any]:
    """The tiered commission component of DESIGN §5."""
    return {"id": "commission", "kind": "rate", "mode": mode, "tiers": GRADUATED_TIERS, **extra}


def rep(rep_id: str, **kw: Any) -> RepHired:
    """A rep hired 2025-01-01."""
    values: dict[str, Any] = {
        "event_id": f"hire-{rep_id}",
        "rep_id": rep_id,
        "name": rep_id.title(),
        "team": "TP.HCM 1",
        "hire_date": "2025-01-01",
    }
    values.update(kw)
    return RepHired(**values)


def quota(
    rep_id: str, amount: int | str, period: str = "2026-Q1", currency: str = "VND"
) -> QuotaSet:
    """A rep quota."""
    return QuotaSet(
        event_id=f"quota-{rep_id}-{period}",
        subject_id=rep_id,
        period=period,
        amount=Decimal(str(amount)),
        currency=currency,
    )
