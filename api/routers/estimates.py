"""What if I close this deal? A rep's (or a report's) pay of the period with one more won
deal, line by line, computed by the evaluator on the real facts; nothing is stored
(``incentive_engine.services.estimates``, the same service as the web page)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api import access
from api.auth import Principal, Role
from api.deps import EngineDep, require
from incentive_engine.domain import limits
from incentive_engine.services.estimates import DealRequest, estimate_deal
from incentive_engine.settings import Settings

router = APIRouter(prefix="/v1/reps", tags=["reps"])

Estimator = Annotated[Principal, require(Role.REP, Role.MANAGER)]
Name = Annotated[str, Field(min_length=1, max_length=limits.TEXT_MAX_LENGTH)]
Key = Annotated[str, Field(min_length=1, max_length=limits.ID_MAX_LENGTH)]
Amount = Annotated[
    Decimal,
    Field(
        gt=0,
        allow_inf_nan=False,
        max_digits=limits.AMOUNT_MAX_DIGITS,
        decimal_places=limits.AMOUNT_DECIMALS,
        description="Above zero, with at most the currency's minor units (send it as a "
        "string to keep it exact).",
        examples=["60000000"],
    ),
]


class WhatIfRequest(BaseModel):
    """The imagined deal: an amount, and optionally everything else (an open opportunity
    gives its customer, product group and currency; otherwise an existing customer of the
    rep's by id, or a new customer's dimensions)."""

    model_config = ConfigDict(extra="forbid")

    amount: Amount
    currency: str | None = Field(
        None, min_length=3, max_length=3, description="The plan's currency by default."
    )
    close_date: date | None = Field(
        None, description="Today in the organisation's time zone by default."
    )
    product_group: Name | None = Field(None, examples=["cloud"])
    opportunity_id: Key | None = Field(None, description="An open opportunity of the rep's.")
    customer_id: Key | None = Field(None, description="An existing customer of the rep's.")
    region: Name | None = None
    customer_type: Literal["individual", "business"] | None = None
    industry: Name | None = None
    size: Literal["sme", "corporation"] | None = None
    ownership: Literal["private", "state"] | None = None


class LineChangeView(BaseModel):
    """One statement line before and after the deal."""

    component: str
    kind: str
    tier: str | None
    description: str
    base_before: str | None
    base_after: str | None
    rate_before: str | None
    rate_after: str | None
    amount_before: str
    amount_after: str
    difference: str


class PlanEstimateView(BaseModel):
    """One plan's statement of the period now and with the deal."""

    plan_id: str
    plan_version: int
    currency: str
    quota: str | None
    credited_before: str
    credited_after: str
    attainment_before: str | None
    attainment_after: str | None
    total_before: str
    total_after: str
    difference: str
    lines: list[LineChangeView]


class DealView(BaseModel):
    """The imagined deal as the evaluator saw it."""

    deal_id: str
    amount: str
    currency: str
    close_date: str
    product_group: str
    customer: dict[str, object]


class EstimateView(BaseModel):
    """What the deal adds to the rep's pay of the period (per currency), plan by plan."""

    rep_id: str
    period: str
    deal: DealView
    difference: dict[str, str]
    plans: list[PlanEstimateView]


def today_in(settings: Settings) -> date:
    """Today in the organisation's time zone."""
    return datetime.now(UTC).astimezone(ZoneInfo(settings.time_zone)).date()


@router.post("/{rep}/what-if", response_model=EstimateView)
def what_if(
    rep: str, body: WhatIfRequest, request: Request, engine: EngineDep, who: Estimator
) -> EstimateView:
    """What closing this deal would add to the rep's pay of its period, line by line (a rep
    their own, a manager their reports' too). A read: nothing is stored."""
    settings: Settings = request.app.state.settings
    found = estimate_deal(
        engine.snapshot(),
        who,
        rep,
        DealRequest(**body.model_dump()),
        today=today_in(settings),
        settings=settings,
    )
    access.record(request, who, "what-if", rep, str(found.period))
    return EstimateView.model_validate(found.as_dict())
