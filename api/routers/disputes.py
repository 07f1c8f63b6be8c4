"""Disputes of statement lines: raise, read, comment, resolve, and the queue (every step is an
event; the rules live in ``incentive_engine.services.disputes``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal, Role
from api.deps import EngineDep, require
from incentive_engine.services.disputes import (
    Actor,
    Dispute,
    DisputeOutcome,
    DisputeService,
)

router = APIRouter(prefix="/v1/disputes", tags=["disputes"])

Reader = Annotated[Principal, require(Role.REP, Role.MANAGER, Role.FINANCE)]
Resolver = Annotated[Principal, require(Role.MANAGER, Role.FINANCE)]
Money = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=28)]
StatusFilter = Literal["open", "resolved-accepted", "resolved-rejected", "resolved", "all"]


# ---------------------------------------------------------------------- schemas


class RaiseDispute(BaseModel):
    """A dispute of one statement line (send amounts as strings to keep them exact)."""

    model_config = ConfigDict(extra="forbid")

    rep_id: str | None = Field(
        None, min_length=1, max_length=128, description="Whose statement; a rep's own by default."
    )
    period: str = Field(min_length=1, max_length=20, examples=["2026-Q1"])
    line: int = Field(ge=1, le=100_000, description="The statement line's number.")
    plan_id: str | None = Field(
        None, min_length=1, max_length=128, description="Needed when several plans apply."
    )
    reason: str = Field(min_length=1, max_length=500)
    expected_amount: Money
    currency: str | None = Field(
        None, min_length=3, max_length=3, description="The statement's by default."
    )
    attachment: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The name of a supporting document (a file name or reference).",
    )


class CommentRequest(BaseModel):
    """A comment on a dispute."""

    model_config = ConfigDict(extra="forbid")

    comment: str = Field(min_length=1, max_length=4000)


class ResolveRequest(BaseModel):
    """Accept (paying ``amount``, by default expected minus the line's amount) or reject (with
    a reason)."""

    model_config = ConfigDict(extra="forbid")

    outcome: DisputeOutcome
    reason: str | None = Field(None, min_length=1, max_length=400)
    amount: Money | None = None


class CommentView(BaseModel):
    """One comment."""

    event_id: str
    author: str
    role: str
    comment: str
    at: str


class ResolutionView(BaseModel):
    """How a dispute was resolved."""

    outcome: str
    reason: str | None
    resolved_by: str
    at: str
    adjustment_event_id: str | None
    adjustment_amount: str | None
    adjustment_status: Literal["pending", "approved", "rejected"] | None = None
    """An accepted dispute's adjustment: pending approval, approved (paid) or rejected."""


class DisputeView(BaseModel):
    """A dispute, its comments, its resolution and the events behind it."""

    dispute_id: str
    status: Literal["open", "resolved-accepted", "resolved-rejected"]
    rep_id: str
    period: str
    line: int
    plan_id: str
    plan_version: int | None
    component: str | None
    line_amount: str | None
    expected_amount: str
    currency: str
    reason: str
    attachment: str | None = None
    raised_by: str
    raised_role: str | None
    raised_at: str
    comments: list[CommentView]
    resolution: ResolutionView | None
    event_ids: list[str]


class DisputePage(BaseModel):
    """A page of the queue."""

    items: list[DisputeView]
    total: int
    limit: int
    offset: int


# ----------------------------------------------------------------------- routes


def _service(engine: EngineDep) -> DisputeService:
    return DisputeService(engine)


def _actor(who: Principal) -> Actor:
    return Actor(who.role, who.subject)


def _view(dispute: Dispute) -> DisputeView:
    return DisputeView.model_validate(dispute.as_dict())


@router.post("", response_model=DisputeView, status_code=status.HTTP_201_CREATED)
def raise_dispute(body: RaiseDispute, engine: EngineDep, who: Reader) -> DisputeView:
    """Dispute a line of a statement as it stands: a rep their own, a manager a report's,
    finance anyone's."""
    dispute = _service(engine).raise_dispute(
        _actor(who),
        rep_id=body.rep_id,
        period=body.period,
        line=body.line,
        plan_id=body.plan_id,
        reason=body.reason,
        expected_amount=body.expected_amount,
        currency=body.currency,
        attachment=body.attachment,
    )
    return _view(dispute)


@router.get("", response_model=DisputePage)
def queue(
    engine: EngineDep,
    who: Reader,
    status_: Annotated[
        StatusFilter | None,
        Query(
            alias="status",
            description="Default: open for finance and managers, all for reps.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DisputePage:
    """The disputes the caller may read, oldest first: finance all, managers their reports',
    reps their own."""
    found = _service(engine).queue(_actor(who), status_)
    return DisputePage(
        items=[_view(d) for d in found[offset : offset + limit]],
        total=len(found),
        limit=limit,
        offset=offset,
    )


@router.get("/{dispute_id}", response_model=DisputeView)
def get_dispute(dispute_id: str, engine: EngineDep, who: Reader) -> DisputeView:
    """One dispute with its comments and resolution."""
    return _view(_service(engine).get(_actor(who), dispute_id))


@router.post(
    "/{dispute_id}/comments", response_model=DisputeView, status_code=status.HTTP_201_CREATED
)
def comment(dispute_id: str, body: CommentRequest, engine: EngineDep, who: Reader) -> DisputeView:
    """Comment on an open dispute (its rep, a manager above the rep, finance)."""
    return _view(_service(engine).comment(_actor(who), dispute_id, body.comment))


@router.post("/{dispute_id}/resolve", response_model=DisputeView)
def resolve(dispute_id: str, body: ResolveRequest, engine: EngineDep, who: Resolver) -> DisputeView:
    """Accept (proposing the adjustment, paid once a finance user other than the one who
    accepted approves it at /v1/adjustments) or reject (with a reason) an open dispute:
    finance, or the rep's manager. A dispute is resolved once (409 after)."""
    dispute = _service(engine).resolve(
        _actor(who),
        dispute_id,
        outcome=body.outcome,
        reason=body.reason,
        amount=body.amount,
    )
    return _view(dispute)
