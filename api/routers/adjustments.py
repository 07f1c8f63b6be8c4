"""Manual adjustments with maker–checker approval: propose, list, approve, reject (finance
only; the rules live in ``incentive_engine.domain.adjustments`` and the service)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal, Role
from api.deps import EngineDep, require
from incentive_engine.domain.adjustments import Adjustment
from incentive_engine.services.adjustments import AdjustmentService

router = APIRouter(prefix="/v1/adjustments", tags=["adjustments"])

Finance = Annotated[Principal, require(Role.FINANCE)]
Money = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=28)]
StatusFilter = Literal["pending", "approved", "rejected", "decided", "all"]


class ProposeAdjustment(BaseModel):
    """A manual adjustment to propose (send amounts as strings to keep them exact)."""

    model_config = ConfigDict(extra="forbid")

    rep_id: str = Field(min_length=1, max_length=128)
    period: str = Field(min_length=1, max_length=20, examples=["2026-Q1"])
    amount: Money = Field(description="Negative to deduct.")
    currency: str = Field(min_length=3, max_length=3, examples=["VND"])
    fx_rate: Money | None = Field(
        None,
        gt=0,
        description="Units of the plan's currency per unit of `currency`: required when the "
        "rep's plan pays another currency, refused otherwise.",
    )
    reason: str = Field(min_length=1, max_length=500)


class RejectAdjustment(BaseModel):
    """Why a proposal is rejected."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class AdjustmentView(BaseModel):
    """A proposed adjustment and where it stands."""

    proposal_id: str
    status: Literal["pending", "approved", "rejected"]
    rep_id: str
    period: str
    amount: str
    currency: str
    fx_rate: str | None
    paid_amount: str
    paid_currency: str
    reason: str
    dispute_id: str | None
    proposed_by: str
    proposed_at: str
    decision_id: str | None
    decided_by: str | None
    decided_at: str | None
    rejection_reason: str | None
    single_approver: bool


def _view(adjustment: Adjustment) -> AdjustmentView:
    return AdjustmentView.model_validate(adjustment.as_dict())


@router.post("", response_model=AdjustmentView, status_code=status.HTTP_201_CREATED)
def propose(body: ProposeAdjustment, engine: EngineDep, who: Finance) -> AdjustmentView:
    """Propose an adjustment: checked now (the rep, a period their plan pays, a currency it
    pays or a stated FX rate) and paid only once a different finance user approves it."""
    adjustment, _ = AdjustmentService(engine).propose(
        rep_id=body.rep_id,
        period=body.period,
        amount=body.amount,
        currency=body.currency,
        reason=body.reason,
        by=who.subject,
        fx_rate=body.fx_rate,
    )
    return _view(adjustment)


@router.get("", response_model=list[AdjustmentView])
def list_adjustments(
    engine: EngineDep,
    who: Finance,
    status_: Annotated[StatusFilter, Query(alias="status")] = "all",
    period: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
) -> list[AdjustmentView]:
    """Proposals, oldest first: pending (awaiting approval), approved, rejected, decided, all."""
    return [_view(a) for a in AdjustmentService(engine).list(status_, period)]


@router.post("/{proposal_id}/approve", response_model=AdjustmentView)
def approve(proposal_id: str, engine: EngineDep, who: Finance) -> AdjustmentView:
    """Approve a pending proposal (403 for its proposer: a different finance user must
    approve; 409 once decided): it is paid from now on."""
    return _view(AdjustmentService(engine).approve(proposal_id, by=who.subject))


@router.post("/{proposal_id}/reject", response_model=AdjustmentView)
def reject(
    proposal_id: str, body: RejectAdjustment, engine: EngineDep, who: Finance
) -> AdjustmentView:
    """Reject a pending proposal with a reason (409 once decided): it is never paid."""
    return _view(AdjustmentService(engine).reject(proposal_id, by=who.subject, reason=body.reason))
