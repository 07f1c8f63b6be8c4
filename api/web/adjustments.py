"""Manual adjustments in the web app (finance): propose one, the proposals awaiting approval
with approve / reject buttons, and the decided ones.  Every step goes through
``AdjustmentService``, as ``/v1/adjustments`` does, with the same maker–checker rule: a user
never sees an Approve button on their own proposal, and posting one anyway is refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api import access
from api.auth import Principal, Role
from api.deps import EngineDep
from api.errors import status_of
from api.web.disputes import _amount, _FormError
from api.web.i18n import formatter
from api.web.render import page
from api.web.rep import refused
from api.web.session import WebUser, form_of
from incentive_engine.domain.adjustments import Adjustment, AdjustmentError, Status
from incentive_engine.domain.money import MINOR_UNITS
from incentive_engine.domain.references import same_person
from incentive_engine.services.adjustments import AdjustmentService

router = APIRouter(include_in_schema=False)

ONLY_FINANCE = "Only finance may propose, approve or reject adjustments."
DECIDED_SHOWN = 50
"""How many decided proposals the page lists (newest first)."""


def _status_of(exc: AdjustmentError) -> int:
    """The HTTP status of a refused step, as the API answers it (422 for a plain refusal)."""
    return status_of(exc, default=422)


def _page(
    request: Request,
    engine: EngineDep,
    who: Principal,
    *,
    status: int = 200,
    error: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    """The adjustments page: the proposal form, pending proposals, decided ones."""
    service = AdjustmentService(engine)
    found = service.list("all")
    pending = [a for a in found if a.status is Status.PENDING]
    decided = [a for a in reversed(found) if a.status is not Status.PENDING][:DECIDED_SHOWN]
    reps, periods, currency = service.choices()
    shown = sorted({a.proposal.rep_id for a in (*pending, *decided)})
    if shown:
        access.record(request, who, "adjustments", shown)
    chosen = dict(values or {})
    chosen.setdefault("currency", currency or "VND")
    return page(
        request,
        "adjustments.html",
        who,
        status,
        pending=pending,
        decided=decided,
        reps=reps,
        periods=periods,
        currencies=sorted(MINOR_UNITS),
        values=chosen,
        error=error,
        mine=lambda a: same_person(a.proposal.proposed_by, who.subject),
        single_approver=service.single_approver,
        done=request.query_params.get("done"),
        done_id=request.query_params.get("id"),
    )


@router.get("/adjustments")
def adjustments_page(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Propose an adjustment; approve or reject the pending ones; see the decided ones."""
    if who.role is not Role.FINANCE:
        return refused(request, who, ONLY_FINANCE)
    return _page(request, engine, who)


@router.get("/adjustments/pending")
def pending_fragment(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """The pending proposals alone (htmx refresh of the page's list)."""
    if who.role is not Role.FINANCE:
        return refused(request, who, ONLY_FINANCE)
    found = AdjustmentService(engine).list("pending")
    if found:
        access.record(request, who, "adjustments", sorted({a.proposal.rep_id for a in found}))
    return page(
        request,
        "fragments/adjustments_pending.html",
        who,
        pending=found,
        mine=lambda a: same_person(a.proposal.proposed_by, who.subject),
        single_approver=AdjustmentService(engine).single_approver,
    )


@router.post("/adjustments")
async def propose(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Propose (CSRF-checked form): refused with the field named when it could not be paid."""
    fields = await form_of(request)
    if who.role is not Role.FINANCE:
        return refused(request, who, ONLY_FINANCE)
    locale = formatter(request).locale
    try:
        amount = _amount(fields.get("amount", ""), locale, "amount")
        fx_text = fields.get("fx_rate", "").strip()
        fx_rate: Decimal | None = _amount(fx_text, locale, "fx_rate") if fx_text else None
        adjustment, _ = AdjustmentService(engine).propose(
            rep_id=fields.get("rep", ""),
            period=fields.get("period", ""),
            amount=amount,
            currency=fields.get("currency", ""),
            reason=fields.get("reason", "").strip(),
            by=who.subject,
            fx_rate=fx_rate,
        )
    except _FormError as exc:
        error = {"field": exc.field, "message": f"{exc.value!r}", "kind": "number"}
        return _page(request, engine, who, status=422, error=error, values=fields)
    except AdjustmentError as exc:
        error = {"field": exc.field or "", "message": str(exc), "kind": "refused"}
        return _page(request, engine, who, status=_status_of(exc), error=error, values=fields)
    return _done("proposed", adjustment)


@router.post("/adjustments/{proposal_id}/approve")
async def approve(proposal_id: str, request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Approve a pending proposal of another finance user (the proposer is refused, 403)."""
    await form_of(request)
    if who.role is not Role.FINANCE:
        return refused(request, who, ONLY_FINANCE)
    try:
        adjustment = AdjustmentService(engine).approve(proposal_id, by=who.subject)
    except AdjustmentError as exc:
        return _refusal(request, engine, who, proposal_id, exc)
    return _done("approved", adjustment)


@router.post("/adjustments/{proposal_id}/reject")
async def reject(proposal_id: str, request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Reject a pending proposal with a reason (required)."""
    fields = await form_of(request)
    if who.role is not Role.FINANCE:
        return refused(request, who, ONLY_FINANCE)
    try:
        adjustment = AdjustmentService(engine).reject(
            proposal_id, by=who.subject, reason=fields.get("reason", "").strip()
        )
    except AdjustmentError as exc:
        return _refusal(request, engine, who, proposal_id, exc)
    return _done("rejected", adjustment)


def _refusal(
    request: Request, engine: EngineDep, who: Principal, proposal_id: str, exc: AdjustmentError
) -> Response:
    error: dict[str, Any] = {
        "field": exc.field or "",
        "message": str(exc),
        "kind": "decision",
        "proposal": proposal_id,
    }
    return _page(request, engine, who, status=_status_of(exc), error=error)


def _done(what: str, adjustment: Adjustment) -> Response:
    return RedirectResponse(
        f"/adjustments?done={what}&id={adjustment.proposal_id}", status_code=303
    )
