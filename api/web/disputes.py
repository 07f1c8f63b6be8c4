"""Disputes in the web app: raise one from a statement line, the list of the disputes the
reader may see (a rep their own, a manager their reports' and their own, finance all), a
dispute's page with its comment thread, and the comment and resolve forms. Every step goes
through ``DisputeService``, as ``/v1/disputes`` does, with the same rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import NumberFormatError, parse_decimal
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api import access
from api.auth import Principal, Role
from api.deps import EngineDep
from api.errors import status_of
from api.web.errors import page_period
from api.web.i18n import formatter
from api.web.render import page
from api.web.rep import refused
from api.web.session import WebUser, form_of
from api.web.statements import statements_of, wordings
from incentive_engine.domain.errors import Forbidden
from incentive_engine.domain.visibility import figure_day
from incentive_engine.services.disputes import (
    STATUS_FILTERS,
    Actor,
    Dispute,
    DisputeError,
    DisputeOutcome,
    DisputeService,
    may_resolve,
)

router = APIRouter(include_in_schema=False)

READERS = (Role.REP, Role.MANAGER, Role.FINANCE)
"""The roles that have disputes (as the API's ``Reader``)."""


def _actor(who: Principal) -> Actor:
    return Actor(who.role, who.subject)


def _status_of(exc: DisputeError) -> int:
    """The HTTP status of a refused step, as the API answers it (422 for a plain refusal)."""
    return status_of(exc, default=422)


def _amount(text: str, locale: str, field: str) -> Decimal:
    """An amount typed in the reader's notation (``1.500.000`` in vi, ``1,500,000`` in en)."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "").removesuffix("₫")
    try:
        value = parse_decimal(cleaned, locale=locale)
    except NumberFormatError:
        raise _FormError(field, text) from None
    if not value.is_finite() or abs(value) >= Decimal(10) ** 18:
        raise _FormError(field, text)
    return value


class _FormError(Exception):
    """A form field that cannot be read."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(field)
        self.field = field
        self.value = value


@router.get("/disputes")
def disputes_page(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """The disputes the reader may see, oldest first, with their status: by default a rep's
    all, a manager's and finance's open ones (their queue)."""
    if who.role not in READERS:
        return refused(request, who, "Only reps, managers and finance have disputes.")
    chosen = request.query_params.get("status") or None
    if chosen not in (None, *STATUS_FILTERS):
        chosen = None
    found = DisputeService(engine).queue(_actor(who), chosen)
    reps = sorted({d.raised.rep_id for d in found})
    if reps:
        access.record(request, who, "disputes", reps)
    return page(
        request,
        "disputes.html",
        who,
        disputes=found,
        chosen=chosen or ("all" if who.role is Role.REP else "open"),
        filters=STATUS_FILTERS,
    )


def _new_form(
    request: Request,
    engine: EngineDep,
    who: Principal,
    values: dict[str, str],
    error: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The form raising a dispute of one line, the line shown as the reader's statement page
    shows it (refused as that page is)."""
    rep, plan_id = values.get("rep", ""), values.get("plan", "")
    the_period = page_period(values.get("period", ""))
    try:
        number = int(values.get("line", ""))
    except ValueError:
        number = 0
    snap = engine.snapshot()
    found = statements_of(request, who, snap, rep, the_period, "dispute_new.html")
    if isinstance(found, Response):
        return found
    statement = next((s for s in found if s.plan_id == plan_id), None)
    line = None
    if statement is not None:
        line = next((ln for ln in statement.lines if ln.number == number), None)
    if statement is None or line is None:
        reason = f"{rep} {the_period} has no line {number} under plan {plan_id}"
        return page(request, "dispute_new.html", who, 404, reason=reason, rep=rep)
    access.record(request, who, "statement", rep, str(the_period))
    description = wordings(snap, [statement], formatter(request))[plan_id].describe(line)
    return page(
        request,
        "dispute_new.html",
        who,
        status,
        rep=rep,
        period=the_period,
        statement=statement,
        line=line,
        description=description,
        values=values,
        error=error,
        reason=None,
    )


@router.get("/disputes/new")
def new_dispute(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """The form raising a dispute of a statement line (``?rep=&period=&plan=&line=``)."""
    if who.role not in READERS:
        return refused(request, who, "Only reps, managers and finance may raise disputes.")
    return _new_form(request, engine, who, dict(request.query_params))


@router.post("/disputes")
async def raise_dispute(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Raise the dispute (CSRF-checked form) through the service the API uses; its page next."""
    fields = await form_of(request)
    if who.role not in READERS:
        return refused(request, who, "Only reps, managers and finance may raise disputes.")
    locale = formatter(request).locale
    try:
        expected = _amount(fields.get("expected_amount", ""), locale, "expected_amount")
        line = int(fields.get("line", "0"))
        dispute = DisputeService(engine).raise_dispute(
            _actor(who),
            rep_id=fields.get("rep") or None,
            period=fields.get("period", ""),
            line=line,
            plan_id=fields.get("plan") or None,
            reason=fields.get("reason", "").strip(),
            expected_amount=expected,
            attachment=fields.get("attachment", "").strip() or None,
        )
    except _FormError as exc:
        error = {"field": exc.field, "value": exc.value, "message": ""}
        return _new_form(request, engine, who, fields, error, 422)
    except ValueError as exc:
        if isinstance(exc, DisputeError):
            if isinstance(exc, Forbidden):
                return refused(request, who, str(exc))
            error = {"field": exc.field or "", "value": "", "message": str(exc)}
            return _new_form(request, engine, who, fields, error, _status_of(exc))
        error = {"field": "line", "value": fields.get("line", ""), "message": ""}
        return _new_form(request, engine, who, fields, error, 422)
    return RedirectResponse(f"/disputes/{dispute.dispute_id}", status_code=303)


def _detail(
    request: Request,
    engine: EngineDep,
    who: Principal,
    dispute_id: str,
    error: str | None = None,
    status: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    """A dispute's page (refused, 403, to whoever may not read it)."""
    service = DisputeService(engine)
    try:
        dispute: Dispute = service.get(_actor(who), dispute_id)
    except DisputeError as exc:
        if isinstance(exc, Forbidden):
            return refused(request, who, str(exc))
        return page(request, "dispute.html", who, _status_of(exc), dispute=None, reason=str(exc))
    raised = dispute.raised
    day = figure_day(page_period(raised.period))
    access.record(request, who, "disputes", raised.rep_id, raised.period)
    context: dict[str, Any] = {
        "dispute": dispute,
        "raised": raised,
        "may_resolve": may_resolve(_actor(who), raised.rep_id, service.snap.facts, day),
        "error": error,
        "values": values or {},
        "reason": None,
    }
    return page(request, "dispute.html", who, status, **context)


@router.get("/disputes/{dispute_id}")
def dispute_page(dispute_id: str, request: Request, engine: EngineDep, who: WebUser) -> Response:
    """One dispute: the line disputed, the comment thread, the resolution, and the comment and
    resolve forms the reader may use."""
    if who.role not in READERS:
        return refused(request, who, "Only reps, managers and finance have disputes.")
    return _detail(request, engine, who, dispute_id)


@router.post("/disputes/{dispute_id}/comments")
async def comment(dispute_id: str, request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Comment on an open dispute (its rep, a manager who may read it, finance)."""
    fields = await form_of(request)
    if who.role not in READERS:
        return refused(request, who, "Only reps, managers and finance have disputes.")
    text = fields.get("comment", "").strip()
    try:
        DisputeService(engine).comment(_actor(who), dispute_id, text)
    except DisputeError as exc:
        if isinstance(exc, Forbidden):
            return refused(request, who, str(exc))
        return _detail(request, engine, who, dispute_id, str(exc), _status_of(exc), fields)
    return RedirectResponse(f"/disputes/{dispute_id}", status_code=303)


@router.post("/disputes/{dispute_id}/resolve")
async def resolve(dispute_id: str, request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Accept (paying the amount given, by default expected minus the line's amount) or
    reject (with a reason) an open dispute: finance, or the rep's manager."""
    fields = await form_of(request)
    if who.role not in (Role.MANAGER, Role.FINANCE):
        return refused(request, who, "Only finance or the rep's manager may resolve disputes.")
    try:
        outcome = DisputeOutcome(fields.get("outcome", ""))
    except ValueError:
        message = "outcome: choose accepted or rejected"
        return _detail(request, engine, who, dispute_id, message, 422, fields)
    amount = None
    if fields.get("amount", "").strip():
        try:
            amount = _amount(fields["amount"], formatter(request).locale, "amount")
        except _FormError:
            message = f"amount: {fields['amount']!r} is not an amount"
            return _detail(request, engine, who, dispute_id, message, 422, fields)
    try:
        DisputeService(engine).resolve(
            _actor(who),
            dispute_id,
            outcome=outcome,
            reason=fields.get("reason", "").strip() or None,
            amount=amount,
        )
    except DisputeError as exc:
        if isinstance(exc, Forbidden):
            return refused(request, who, str(exc))
        return _detail(request, engine, who, dispute_id, str(exc), _status_of(exc), fields)
    return RedirectResponse(f"/disputes/{dispute_id}", status_code=303)
