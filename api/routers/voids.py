"""Voiding a bad stored event: finance proposes, a different finance user approves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from api.auth import Principal, Role
from api.deps import EngineDep, require
from incentive_engine.services import voids as void_service

router = APIRouter(prefix="/v1/voids", tags=["voids"])

Finance = Annotated[Principal, require(Role.FINANCE)]


class VoidProposal(BaseModel):
    """What to void and why."""

    event_id: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=500)


class VoidOut(BaseModel):
    """A void proposal and where it stands."""

    proposal_id: str
    target_event_id: str
    target_type: str | None
    target_position: int | None
    reason: str
    proposed_by: str
    proposed_at: str
    status: str
    approval_id: str | None
    approved_by: str | None
    approved_at: str | None


def _status(engine: EngineDep, proposal_id: str) -> dict[str, Any]:
    for status in void_service.voids(engine.store):
        if status.proposal.event_id == proposal_id:
            return status.as_dict()
    raise void_service.VoidNotFound(f"no void proposal {proposal_id!r}")  # pragma: no cover


@router.get("", response_model=list[VoidOut])
def list_voids(engine: EngineDep, who: Finance) -> list[dict[str, Any]]:
    """Every void proposal, approved or waiting for a second finance user."""
    return [s.as_dict() for s in void_service.voids(engine.store)]


@router.post("", response_model=VoidOut, status_code=201)
def propose_void(
    engine: EngineDep, who: Finance, body: Annotated[VoidProposal, Body()]
) -> dict[str, Any]:
    """Propose to void a stored event (also one that no longer validates); nothing changes
    until a different finance user approves."""
    proposal = void_service.propose(engine.store, body.event_id, reason=body.reason, by=who.subject)
    return _status(engine, proposal.event_id)


@router.post("/{proposal_id}/approve", response_model=VoidOut)
def approve_void(engine: EngineDep, who: Finance, proposal_id: str) -> dict[str, Any]:
    """Approve a void proposed by someone else (403 for its proposer): every figure is then
    computed as if the event had never been stored."""
    void_service.approve(engine.store, proposal_id, by=who.subject)
    return _status(engine, proposal_id)
