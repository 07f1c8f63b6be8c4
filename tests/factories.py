"""Small builders of valid events for tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from incentive_engine.domain.events import (
    ActivityLogged,
    DealWon,
    RepHired,
    TerritoryAssigned,
    TerritoryDefined,
)


def hired(rep_id: str, name: str = "Nguyễn Văn An", team: str = "TP.HCM 1", **kw: Any) -> RepHired:
    """A RepHired with sensible defaults."""
    values: dict[str, Any] = {
        "event_id": f"hire-{rep_id}",
        "rep_id": rep_id,
        "name": name,
        "team": team,
        "hire_date": "2025-01-01",
    }
    values.update(kw)
    return RepHired(**values)


def customer(**kw: Any) -> dict[str, Any]:
    """Customer attributes for a deal."""
    values: dict[str, Any] = {
        "customer_id": "C-1",
        "region": "TP.HCM",
        "customer_type": "business",
        "industry": "Bán lẻ",
        "size": "sme",
    }
    values.update(kw)
    return values


def won(deal_id: str, amount: str | int = 100_000_000, **kw: Any) -> DealWon:
    """A DealWon with sensible defaults (VND, cloud, closed 2026-02-20)."""
    values: dict[str, Any] = {
        "event_id": f"won-{deal_id}",
        "deal_id": deal_id,
        "amount": Decimal(str(amount)),
        "currency": "VND",
        "close_date": "2026-02-20",
        "product_group": "cloud",
        "customer": customer(),
    }
    values.update(kw)
    return DealWon(**values)


def territory(territory_id: str, **criteria: Any) -> TerritoryDefined:
    """A territory defined from 2025-01-01."""
    return TerritoryDefined(
        event_id=f"def-{territory_id}",
        territory_id=territory_id,
        name=territory_id,
        criteria=criteria,
        effective_date="2025-01-01",
    )


def assigned(
    territory_id: str, rep_id: str, day: str = "2025-01-01", **kw: Any
) -> TerritoryAssigned:
    """A single-owner territory assignment."""
    return TerritoryAssigned(
        event_id=kw.pop("event_id", f"asg-{territory_id}-{rep_id}-{day}"),
        territory_id=territory_id,
        rep_id=rep_id,
        effective_date=day,
    )


def call(rep_id: str, n: int, kind: str = "call_connected") -> ActivityLogged:
    """An activity at 09:00 UTC on 2026-01-05 plus n minutes."""
    return ActivityLogged(
        event_id=f"act-{rep_id}-{n}",
        rep_id=rep_id,
        kind=kind,
        occurred_at=f"2026-01-05T09:{n % 60:02d}:00+00:00",
    )
