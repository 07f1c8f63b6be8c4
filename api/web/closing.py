"""Closing a period in the web app (finance only): the pre-close checks with their findings,
the close form (confirmation, CSRF, an override reason while blocking checks fail), and
the sealed result of a closed period. The checks come from ``services.closing`` and the
close from ``close_period``, as ``GET /v1/periods/{period}/checks`` and
``POST /v1/periods/{period}/close`` do, with the same rule."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api import access
from api.auth import Principal, Role
from api.deps import EngineDep
from api.web.errors import page_period
from api.web.render import page
from api.web.rep import refused, today
from api.web.session import WebUser, form_of
from incentive_engine.domain.errors import EngineError, Invalid
from incentive_engine.domain.events import PeriodClosed
from incentive_engine.domain.periods import Period
from incentive_engine.services.closing import PreClose, period_to_close, pre_close
from incentive_engine.services.commissions import close_period, plan_currencies

router = APIRouter(include_in_schema=False)

ONLY_FINANCE = "Only finance may close periods."

LINKS = {
    "rep": "/statements/{subject}/{period}",
    "dispute": "/disputes/{subject}",
    "deal": "/audit/events?deal={subject}",
    "territory": "/territories",
    "adjustment": "/adjustments",
}
"""Where a finding's subject is shown (the audit event log and the territory pages are the
finance and plan-admin areas' own)."""


def _link(kind: str, subject: str, period: Period) -> str | None:
    found = LINKS.get(kind)
    return found.format(subject=subject, period=period) if found else None


def _sealed(closed: PeriodClosed, currencies: dict[str, str]) -> dict[str, Any]:
    """The sealed totals of a closed period by currency, with its payouts."""
    totals: dict[str, Decimal] = {}
    for p in closed.payouts:
        currency = currencies.get(p.plan_id, "")
        totals[currency] = totals.get(currency, Decimal(0)) + p.total
    rows = sorted(closed.payouts, key=lambda p: (p.rep_id, p.plan_id))
    return {"totals": sorted(totals.items()), "payouts": rows, "currencies": currencies}


def _context(request: Request, engine: EngineDep, who: Principal, period: Period) -> dict[str, Any]:
    """What the close page and its fragment show."""
    snap = engine.snapshot()
    found: PreClose = pre_close(engine, period, views=request.app.state.views, snap=snap)
    reps = sorted({f.subject for c in found.checks for f in c.findings if f.kind == "rep"})
    sealed = None
    if found.closed is not None:
        sealed = _sealed(found.closed, plan_currencies(snap))
        reps = sorted({p.rep_id for p in found.closed.payouts})
    if reps:
        access.record(request, who, "close", reps, str(period))
    return {
        "period": period,
        "checks": found.checks,
        "blocking": found.blocking,
        "hard": [c for c in found.blocking if not c.overridable],
        "closed": found.closed,
        "sealed": sealed,
        "ended": period.end < today(request),
        "link": lambda kind, subject: _link(kind, subject, period),
        "names": {r: rep.name for r, rep in snap.facts.reps.items()},
    }


def _page(
    request: Request,
    engine: EngineDep,
    who: Principal,
    period: Period,
    *,
    error: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = _context(request, engine, who, period)
    return page(request, "close.html", who, status, error=error, values=values or {}, **context)


@router.get("/close")
def close_home(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """The period to close next: the oldest that has ended and is still open."""
    if who.role is not Role.FINANCE:
        return refused(request, who, ONLY_FINANCE)
    found = period_to_close(engine.snapshot(), today(request))
    if found is None:
        return page(request, "close.html", who, period=None, checks=[], closed=None)
    return RedirectResponse(f"/close/{found}", status_code=303)


@router.get("/close/{period}")
def close_page(period: str, request: Request, engine: EngineDep, who: WebUser) -> Response:
    """A period's pre-close checks and the close form; once closed, its sealed result."""
    if who.role is not Role.FINANCE:
        return refused(request, who, ONLY_FINANCE)
    return _page(request, engine, who, page_period(period))


@router.get("/close/{period}/checks")
def checks_fragment(period: str, request: Request, engine: EngineDep, who: WebUser) -> Response:
    """The pre-close checks alone (htmx: run them again without leaving the page)."""
    if who.role is not Role.FINANCE:
        return refused(request, who, ONLY_FINANCE)
    context = _context(request, engine, who, page_period(period))
    return page(request, "fragments/close_checks.html", who, **context)


@router.post("/close/{period}")
async def close(period: str, request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Close the period (CSRF-checked form, confirmation required) through ``close_period``:
    refused while blocking checks fail unless an override reason is written."""
    fields = await form_of(request)
    if who.role is not Role.FINANCE:
        return refused(request, who, ONLY_FINANCE)
    the_period = page_period(period)
    if fields.get("confirm") != "yes":
        error = {"field": "confirm", "message": "confirm that you have checked the figures"}
        return _page(request, engine, who, the_period, error=error, values=fields, status=422)
    reason = fields.get("override_reason", "").strip() or None
    try:
        close_period(
            engine,
            the_period,
            closed_by=who.subject,
            override_reason=reason,
            views=request.app.state.views,
        )
    except EngineError as exc:
        status = 422 if isinstance(exc, Invalid) else 409
        error = {"field": exc.field or "", "message": str(exc)}
        return _page(request, engine, who, the_period, error=error, values=fields, status=status)
    return RedirectResponse(f"/close/{the_period}", status_code=303)
