"""Plan acceptance: a rep accepts the plan version that pays them, finance records a paper
signature, and the report of who has and has not accepted (the rules live in
``incentive_engine.domain.acceptance``; the service in ``services.acceptance``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.auth import Principal, Role
from api.deps import EngineDep, require
from incentive_engine.domain.acceptance import AcceptanceRow
from incentive_engine.domain.limits import ID_MAX_LENGTH, ID_PATTERN, MAX_VERSION, as_utc
from incentive_engine.services.acceptance import AcceptanceService

router = APIRouter(prefix="/v1/plans", tags=["plans"])

Accepter = Annotated[Principal, require(Role.REP, Role.MANAGER, Role.FINANCE)]
Reader = Annotated[Principal, require(Role.REP, Role.MANAGER, Role.FINANCE, Role.PLAN_ADMIN)]
PlanId = Annotated[str, Path(max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
Version = Annotated[int, Path(ge=1, le=MAX_VERSION)]


class AcceptRequest(BaseModel):
    """An acceptance: a rep's own (``how`` web or api, no ``rep_id`` needed), or a paper
    signature finance records for a rep (``rep_id``, ``how: paper``, when it was signed and
    where the signed copy is)."""

    model_config = ConfigDict(extra="forbid")

    rep_id: str | None = Field(
        None, min_length=1, max_length=ID_MAX_LENGTH, description="The rep; a rep's own by default."
    )
    how: Literal["web", "api", "cli", "paper"] = Field(
        "api", description="api or web for a rep's own; paper for finance recording a signature."
    )
    reference: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        description="Paper only: where the signed copy is (a file name, a document number).",
    )
    accepted_at: Annotated[datetime, AfterValidator(as_utc)] | None = Field(
        None, description="Paper only: when the rep signed (default now)."
    )


class AcceptanceOut(BaseModel):
    """A covered rep and whether (when, how) they accepted the plan version."""

    rep_id: str
    name: str
    plan_id: str
    version: int
    accepted: bool
    accepted_at: str | None
    how: str | None
    reference: str | None
    recorded_by: str | None
    event_id: str | None


class AcceptResult(AcceptanceOut):
    """The acceptance recorded, or the one already given (``already_accepted``)."""

    already_accepted: bool


class AcceptanceReport(BaseModel):
    """Who a plan version covers, accepted or not (those the caller may see)."""

    plan_id: str
    version: int
    accepted: int
    not_accepted: int
    items: list[AcceptanceOut]


def _out(row: AcceptanceRow) -> AcceptanceOut:
    return AcceptanceOut(**row.as_dict())


@router.post(
    "/{plan_id}/versions/{version}/acceptances",
    response_model=AcceptResult,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": AcceptResult, "description": "Already accepted (no change)."}},
)
def accept(
    plan_id: PlanId,
    version: Version,
    body: AcceptRequest,
    response: Response,
    engine: EngineDep,
    who: Accepter,
) -> AcceptResult:
    """Accept a plan version: a rep their own (201; 200 when already accepted), finance a
    rep's paper signature (``how: paper``). A rep accepting for another rep is a 403; a
    version that does not cover the rep is a 422 naming ``rep_id``."""
    result = AcceptanceService(engine).accept(
        who,
        plan_id,
        version,
        how=body.how,
        rep_id=body.rep_id,
        reference=body.reference,
        accepted_at=body.accepted_at,
    )
    if result.already:
        response.status_code = status.HTTP_200_OK
    return AcceptResult(**result.row.as_dict(), already_accepted=result.already)


@router.get("/{plan_id}/versions/{version}/acceptances", response_model=AcceptanceReport)
def acceptances(
    plan_id: PlanId, version: Version, engine: EngineDep, who: Reader
) -> AcceptanceReport:
    """The reps a plan version covers, accepted (when, how) or not: a rep sees their own,
    a manager their reports', finance and plan admins everyone (404 for a version that is not
    published)."""
    rows = AcceptanceService(engine).report(who, plan_id, version)
    done = sum(1 for r in rows if r.accepted)
    return AcceptanceReport(
        plan_id=plan_id,
        version=version,
        accepted=done,
        not_accepted=len(rows) - done,
        items=[_out(r) for r in rows],
    )
