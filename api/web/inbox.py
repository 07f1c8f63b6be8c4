"""Finance's disputes inbox: every open dispute with its age, the line disputed, the rep's
reason and the explanation of that line side by side; comment, accept or reject (with a
reason) from the inbox. Each step goes through ``DisputeService`` (accepting does whatever
the service's accept does), as ``/v1/disputes`` does; finance only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api import access
from api.auth import Principal, Role
from api.deps import EngineDep
from api.web.disputes import _status_of
from api.web.errors import page_period
from api.web.i18n import formatter
from api.web.render import page
from api.web.rep import refused, today
from api.web.session import WebUser, form_of
from api.web.statements import wordings
from incentive_engine.domain.errors import Forbidden
from incentive_engine.domain.visibility import Viewer
from incentive_engine.services.dispute_inbox import inbox
from incentive_engine.services.disputes import DisputeError, DisputeOutcome, DisputeService
from incentive_engine.settings import Settings

router = APIRouter(include_in_schema=False)

FINANCE_ONLY = "Only finance has the disputes inbox."
MAX_FILTER = 40
"""A period or team filter longer than this matches nothing and is dropped."""


def _actor(who: Principal) -> Viewer:
    return Viewer(who.role, who.subject)


def _inbox_page(
    request: Request,
    engine: EngineDep,
    who: Principal,
    status: int = 200,
    error: dict[str, str] | None = None,
) -> Response:
    """The inbox, filtered by ``?period=`` and ``?team=``, with the result of the last step
    (``?done=``) or the error of a refused one."""
    query = request.query_params
    period = (query.get("period") or "")[:MAX_FILTER] or None
    if period is not None:
        period = str(page_period(period))
    team = (query.get("team") or "")[:MAX_FILTER] or None
    settings: Settings = request.app.state.settings
    found = inbox(engine, _actor(who), today(request), settings.time_zone, period=period, team=team)
    reps = sorted({i.dispute.raised.rep_id for i in found.items})
    if reps:
        access.record(request, who, "disputes", reps)
    f = formatter(request)
    snap = engine.snapshot()
    described: dict[str, str] = {}
    for item in found.items:
        if item.statement is not None and item.line is not None:
            words = wordings(snap, [item.statement], f)[item.statement.plan_id]
            described[item.dispute.dispute_id] = words.describe(item.line)
    done: dict[str, Any] | None = None
    done_id = query.get("done")
    if done_id and len(done_id) <= 64:
        try:
            done = DisputeService(engine).get(_actor(who), done_id).as_dict()
        except DisputeError:
            done = None
    return page(
        request,
        "disputes_inbox.html",
        who,
        status,
        inbox=found,
        described=described,
        period=period,
        team=team,
        done=done,
        error=error,
    )


@router.get("/disputes/inbox")
def inbox_page(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Every open dispute, oldest first, with its age, the line disputed, the rep's reason and
    the line's explanation side by side; filtered by period and team."""
    if who.role is not Role.FINANCE:
        return refused(request, who, FINANCE_ONLY)
    return _inbox_page(request, engine, who)


def _refused_step(
    request: Request, engine: EngineDep, who: Principal, dispute_id: str, exc: DisputeError
) -> Response:
    if isinstance(exc, Forbidden):
        return refused(request, who, str(exc))
    error = {"dispute": dispute_id, "field": exc.field or "", "message": str(exc)}
    return _inbox_page(request, engine, who, _status_of(exc), error)


@router.post("/disputes/inbox/{dispute_id}/comment")
async def inbox_comment(
    dispute_id: str, request: Request, engine: EngineDep, who: WebUser
) -> Response:
    """Comment on an open dispute from the inbox."""
    fields = await form_of(request)
    if who.role is not Role.FINANCE:
        return refused(request, who, FINANCE_ONLY)
    try:
        DisputeService(engine).comment(_actor(who), dispute_id, fields.get("comment", "").strip())
    except DisputeError as exc:
        return _refused_step(request, engine, who, dispute_id, exc)
    return RedirectResponse(f"/disputes/inbox#d-{dispute_id}", status_code=303)


@router.post("/disputes/inbox/{dispute_id}/resolve")
async def inbox_resolve(
    dispute_id: str, request: Request, engine: EngineDep, who: WebUser
) -> Response:
    """Accept (through the service's accept) or reject with a reason (required)."""
    fields = await form_of(request)
    if who.role is not Role.FINANCE:
        return refused(request, who, FINANCE_ONLY)
    try:
        outcome = DisputeOutcome(fields.get("outcome", ""))
    except ValueError:
        error = {"dispute": dispute_id, "field": "outcome", "message": "choose accept or reject"}
        return _inbox_page(request, engine, who, 422, error)
    reason = fields.get("reason", "").strip() or None
    try:
        DisputeService(engine).resolve(_actor(who), dispute_id, outcome=outcome, reason=reason)
    except DisputeError as exc:
        return _refused_step(request, engine, who, dispute_id, exc)
    return RedirectResponse(f"/disputes/inbox?done={dispute_id}", status_code=303)
