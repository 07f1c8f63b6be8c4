"""Plan acceptance on the pages: the Accept button of a rep's home (a rep accepts their own
plan version), and the paper signature finance records for a rep from the plan version page.
The same service and rules as ``POST /v1/plans/{plan}/versions/{v}/acceptances``."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import EngineDep
from api.web.errors import BadPageInput
from api.web.i18n import formatter
from api.web.rep import refused
from api.web.session import WebUser, form_of
from incentive_engine.domain.errors import EngineError, Forbidden
from incentive_engine.domain.visibility import Role
from incentive_engine.services.acceptance import AcceptanceService

router = APIRouter(include_in_schema=False)

SELF = (Role.REP, Role.MANAGER)
"""Who accepts their own plan on their home page."""


def _signed_on(text: str) -> datetime | None:
    """The day a paper was signed (its start, UTC), or None when not given."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        raise BadPageInput("signed_on", text[:40], "a day as YYYY-MM-DD") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@router.post("/plans/{plan_id}/versions/{version}/accept")
async def accept(
    plan_id: str, version: int, request: Request, engine: EngineDep, who: WebUser
) -> Response:
    """Accept a plan version: the signed-in rep their own (back to their home), or finance a
    rep's paper signature (back to the plan version page). Another rep's plan: 403."""
    fields = await form_of(request)
    if who.role in SELF:
        how, rep_id, back = "web", who.subject, "/"
        reference, at = None, None
    elif who.role is Role.FINANCE:
        how, rep_id = "paper", fields.get("rep_id", "")[:128] or None
        reference = fields.get("reference", "")[:500].strip() or None
        at = _signed_on(fields.get("signed_on", "").strip())
        back = f"/plans/{plan_id}/versions/{version}#acceptance"
    else:
        reason = formatter(request).gettext("Only the rep or finance records an acceptance.")
        return refused(request, who, reason)
    if who.role in SELF and fields.get("rep_id", who.subject) != who.subject:
        return refused(
            request, who, formatter(request).gettext("You may accept only your own plan.")
        )
    try:
        await run_in_threadpool(
            AcceptanceService(engine).accept,
            who,
            plan_id,
            version,
            how=how,
            rep_id=rep_id,
            reference=reference,
            accepted_at=at,
        )
    except Forbidden as exc:
        return refused(request, who, str(exc))
    except EngineError as exc:
        raise BadPageInput(exc.field or "version", f"{plan_id} v{version}", str(exc)) from None
    return RedirectResponse(back, status_code=303)
