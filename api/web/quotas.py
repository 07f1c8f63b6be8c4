"""Plan admins' quota and territory pages: the territories with their owners over time and
coverage gaps (``/territories``), the quotas in force with their history and the roll-ups
with over/under flags (``/quotas``), and quota allocation: a preview (the dry run of
``POST /v1/quotas/allocate``) then publishing, with confirmation, through the same service.

Who may do what follows the API: managers, finance and plan admins read territories and
quotas (a manager their own team's), finance and plan admins allocate and publish. Last
year's revenue behind a proposed rep quota is pay: shown only to who may see it (not to
plan admins), as the API answers it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import access
from api.auth import Principal
from api.deps import EngineDep
from api.web.errors import BadPageInput, end_of_day, page_period
from api.web.render import page
from api.web.rep import current_period, refused, today
from api.web.session import WebUser, form_of
from incentive_engine.domain.attainment import AttainmentError
from incentive_engine.domain.events import QuotaSubject
from incentive_engine.domain.facts import DIMENSIONS, Facts
from incentive_engine.domain.money import MINOR_UNITS
from incentive_engine.domain.periods import Period
from incentive_engine.domain.quotas import (
    TERRITORY_METHODS,
    Allocation,
    Method,
    QuotaError,
    allocate,
    default_reason,
    to_events,
)
from incentive_engine.domain.territories import FIXED_VALUES
from incentive_engine.domain.visibility import Figure, Role, may_see
from incentive_engine.services.commissions import Snapshot
from incentive_engine.services.quotas import (
    PublishRefused,
    preview,
    publish,
    quotas_in_force,
    rollups,
    territories_on,
    unowned_deals,
)
from incentive_engine.settings import Settings

router = APIRouter(include_in_schema=False)

READERS = (Role.MANAGER, Role.FINANCE, Role.PLAN_ADMIN)
"""Who reads territories and quotas (as ``GET /v1/territories`` and ``GET /v1/quotas``)."""
PLANNERS = (Role.FINANCE, Role.PLAN_ADMIN)
"""Who allocates and publishes quotas (as ``POST /v1/quotas/allocate``)."""

MAX_TEXT = 200


# -------------------------------------------------------------- territories


@dataclass(frozen=True)
class UnownedDeal:
    """A won deal in a territory without an owner on its close date (its amount hidden when
    it is a named rep's credited revenue the reader may not see)."""

    deal_id: str
    close_date: date
    territory: str
    amount: Decimal | None
    currency: str


def _unowned_deals(snap: Snapshot, who: Principal, day: date) -> list[UnownedDeal]:
    facts = snap.facts
    found = []
    for d in unowned_deals(snap, day):
        hidden = d.named_rep is not None and not may_see(
            who, d.named_rep, facts, d.close_date, Figure.ATTAINMENT
        )
        territory = d.reason.split(" ")[1]
        amount = None if hidden else d.amount
        found.append(UnownedDeal(d.deal_id, d.close_date, territory, amount, d.currency))
    return found


def _day(text: str | None, field: str, default: date) -> date:
    if not text:
        return default
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise BadPageInput(field, text[:MAX_TEXT], "a day as YYYY-MM-DD") from None


@router.get("/territories")
def territories_page(
    request: Request,
    engine: EngineDep,
    who: WebUser,
    on: str | None = None,
    as_of: str | None = None,
) -> Response:
    """The territories in force on a day (filtered by dimension values), their owners over
    time, the days each had nobody to cover it, and won deals with no owner on their close
    date; ``as_of`` shows what the engine knew at the end of that day."""
    if who.role not in READERS:
        return refused(request, who, "Only managers, finance and plan admins see territories.")
    settings: Settings = request.app.state.settings
    day = _day(on, "on", today(request))
    instant = end_of_day(as_of[:MAX_TEXT], settings.time_zone) if as_of else None
    wanted: dict[str, str] = {}
    for dimension in DIMENSIONS:
        value = request.query_params.get(dimension, "").strip()
        if len(value) > MAX_TEXT:
            raise BadPageInput(dimension, value[:MAX_TEXT], "too long")
        if value:
            wanted[dimension] = value
    snap = engine.snapshot(instant)
    facts = snap.facts
    rows = territories_on(facts, day, wanted)
    everything = territories_on(facts, day)
    choices = {
        d: sorted(
            {t.criteria[d] for t in everything if d in t.criteria} | set(FIXED_VALUES.get(d, ()))
        )
        for d in DIMENSIONS
    }
    names = {r: facts.reps[r].name for r in facts.reps}
    return page(
        request,
        "territories.html",
        who,
        rows=rows,
        day=day,
        as_of=as_of or "",
        wanted=wanted,
        choices=choices,
        dimensions=DIMENSIONS,
        names=names,
        gaps=sum(len(t.gaps) for t in rows),
        unowned=_unowned_deals(snap, who, day),
    )


# ------------------------------------------------------------------- quotas


def _periods(facts: Facts, book_periods: list[Period]) -> list[Period]:
    found = {Period.parse(name) for (_, _, name) in facts.quotas} | set(book_periods)
    return sorted(found, key=lambda p: (p.start, p.end))


def _quotas_context(
    request: Request, engine: EngineDep, who: Principal, period: str | None
) -> dict[str, Any]:
    """What the quotas page shows for a period: the quotas in force with their history,
    and the roll-ups (as far as the reader may see them)."""
    snap = engine.snapshot()
    facts = snap.facts
    periods = _periods(facts, list(snap.book.periods(facts)))
    chosen = page_period(period[:MAX_TEXT]) if period else current_period(periods, today(request))
    lines = quotas_in_force(facts, who, period=str(chosen)) if chosen else []
    reps = [q.subject_id for q in lines if q.subject is QuotaSubject.REP]
    if chosen is not None:
        access.record(request, who, "quotas", reps, str(chosen))
    found, why = [], None
    try:
        found = rollups(facts, who, chosen) if chosen else []
    except (AttainmentError, QuotaError) as exc:  # an amount without an FX rate: say so
        why = str(exc)
    return {
        "periods": periods,
        "chosen": chosen,
        "lines": lines,
        "rollups": found,
        "rollup_problem": why,
        "methods": [m.value for m in Method],
        "currencies": sorted(MINOR_UNITS),
        "planner": who.role in PLANNERS,
        "form": {
            "period": str(chosen.next()) if chosen else "",
            "method": "uplift",
            "currency": "VND",
            "rate": "0",
        },
        "preview": None,
        "problem": None,
        "published": None,
    }


@router.get("/quotas")
def quotas_page(
    request: Request, engine: EngineDep, who: WebUser, period: str | None = None
) -> Response:
    """The quotas of a period (set and changed over time), the roll-ups of quotas against
    credited revenue per team, territory, region and the company, and (for finance and plan
    admins) the allocation form."""
    if who.role not in READERS:
        return refused(request, who, "Only managers, finance and plan admins see quotas.")
    return page(request, "quotas.html", who, **_quotas_context(request, engine, who, period))


class _FormProblem(Exception):
    """A field of the allocation form that cannot be used."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _decimal(text: str, field: str) -> Decimal:
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "").replace("%", "")
    if len(cleaned) > 40:
        raise _FormProblem(field, "too long")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise _FormProblem(field, "not a number (use digits and a dot: 12.5)") from None
    if not value.is_finite() or abs(value) >= Decimal(10) ** 18:
        raise _FormProblem(field, "not a number in range")
    return value


def _market(text: str) -> dict[str, Decimal] | None:
    """``Region=pct`` pairs separated by ``;`` or new lines."""
    if not text.strip():
        return None
    found = {}
    for part in text.replace("\n", ";").split(";"):
        if not part.strip():
            continue
        region, sep, pct = part.partition("=")
        if not sep or not region.strip():
            raise _FormProblem("market", f"{part.strip()[:60]!r} is not REGION=PERCENT")
        found[region.strip()] = _decimal(pct, "market")
    return found


ALLOCATION_FIELDS = (
    ("cascade", "cascade"),
    ("target", "target"),
    ("market", "market"),
    ("currency", "currency"),
    ("method", "method"),
    ("rate", "rate"),
    ("reason", "reason"),
)
"""Words of an allocation refusal and the form field each points at (as the API's)."""


def _field_of(message: str) -> str:
    lowered = message.lower()
    for word, field in ALLOCATION_FIELDS:
        if word in lowered:
            return field
    return "period"


def _allocation(facts: Facts, fields: dict[str, str]) -> tuple[Allocation, dict[str, str]]:
    """The allocation the form asks for (and the form's values, to show them again)."""
    form = {k: fields.get(k, "")[:MAX_TEXT] for k in ("period", "method", "rate", "market",
            "target", "currency", "cascade", "reason")}  # fmt: skip
    form["market"] = fields.get("market", "")[:1000]
    try:
        period = Period.parse(form["period"].strip())
    except ValueError as exc:
        raise _FormProblem("period", str(exc)) from None
    method = form["method"].strip()
    if method not in {m.value for m in Method}:
        raise _FormProblem("method", f"unknown method {method[:40]!r}")
    rate = _decimal(form["rate"] or "0", "rate")
    target = _decimal(form["target"], "target") if form["target"].strip() else None
    market = _market(form["market"])
    cascade = form["cascade"] == "on"
    if cascade and Method(method) not in TERRITORY_METHODS:
        raise _FormProblem("cascade", "cascade needs a territory method (growth, average, market)")
    try:
        found = allocate(
            facts,
            period,
            method=method,
            currency=form["currency"].strip() or "VND",
            rate=rate,
            market=market,
            target=target,
            cascade=cascade,
        )
    except QuotaError as exc:
        raise _FormProblem(_field_of(str(exc)), str(exc)) from None
    return found, form


async def _planning(request: Request, who: Principal) -> dict[str, str] | Response:
    fields = await form_of(request)
    if who.role not in PLANNERS:
        return refused(request, who, "Only finance and plan admins allocate quotas.")
    return fields


@router.post("/quotas/allocate")
async def allocate_preview(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """The allocation's preview (the API's dry run): per rep or territory the quota in
    force, the one proposed, the change and what publishing does; nothing is stored."""
    fields = await _planning(request, who)
    if isinstance(fields, Response):
        return fields
    return _preview_page(request, engine, who, fields)


def _preview_page(
    request: Request,
    engine: EngineDep,
    who: Principal,
    fields: dict[str, str],
    status: int = 200,
    problem: tuple[str, str] | None = None,
) -> Response:
    facts = engine.snapshot().facts
    fragment = bool(request.headers.get("hx-request"))
    template = "fragments/allocation.html" if fragment else "quotas.html"
    context = {} if fragment else _quotas_context(request, engine, who, fields.get("view"))
    try:
        allocation, form = _allocation(facts, fields)
    except _FormProblem as exc:
        form = {k: fields.get(k, "")[:MAX_TEXT] for k in fields if k != "csrf"}
        context.update(form=form, problem=(exc.field, exc.reason), preview=None)
        return page(request, template, who, 422, **context)
    seen = preview(facts, who, allocation)
    shown = [
        r.row.subject_id for r in (*seen.rows, *seen.cascaded) if r.row.subject is QuotaSubject.REP
    ]
    access.record(request, who, "quota allocation", shown, str(allocation.period))
    form["reason"] = form["reason"] or default_reason(allocation, who.subject)
    context.update(form=form, preview=seen, problem=problem, published=None)
    return page(request, template, who, status, **context)


@router.post("/quotas/publish")
async def publish_allocation(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Publish the previewed allocation (after confirmation), as ``POST /v1/quotas/allocate``
    with ``dry_run`` false: QuotaSet / QuotaChanged events through ingest. Refused when the
    allocation changed since the preview (the new preview is shown)."""
    fields = await _planning(request, who)
    if isinstance(fields, Response):
        return fields
    facts = engine.snapshot().facts
    try:
        allocation, form = _allocation(facts, fields)
    except _FormProblem:
        return _preview_page(request, engine, who, fields)
    seen = preview(facts, who, allocation)
    if fields.get("fingerprint") != seen.fingerprint:
        problem = ("fingerprint", "The allocation changed since the preview: check it again.")
        return _preview_page(request, engine, who, fields, 409, problem)
    if fields.get("confirm") != "yes":
        problem = ("confirm", "Tick the box to confirm publishing these quotas.")
        return _preview_page(request, engine, who, fields, 422, problem)
    reason = form["reason"].strip() or default_reason(allocation, who.subject)
    try:
        events = to_events(allocation, facts, reason=reason)
        source = (
            f"web:{request.state.request_id} quota allocate {allocation.period} by {who.subject}"
        )
        outcome = publish(engine.store, allocation, events, source)
    except PublishRefused as exc:
        details = "; ".join(str(d.get("reason")) for d in exc.details)[:500]
        return _preview_page(request, engine, who, fields, 422, ("reason", f"{exc}: {details}"))
    except QuotaError as exc:
        return _preview_page(request, engine, who, fields, 422, (_field_of(str(exc)), str(exc)))
    context = _quotas_context(request, engine, who, str(allocation.period))
    context.update(published=outcome, published_period=str(allocation.period))
    return page(request, "quotas.html", who, **context)
