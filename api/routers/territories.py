"""Territories and their owners, quotas (listed, and allocated from history), and attainment
against quota per rep, team or territory."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api import access
from api.auth import Principal, Role
from api.deps import EngineDep, parse_period, require
from api.errors import ApiError
from api.routers.pay import (
    AsOf,
    Limit,
    Offset,
    Page,
    answer,
    instant,
    is_past,
    refused,
    today,
    window,
)
from incentive_engine.domain import visibility
from incentive_engine.domain.attainment import attainment
from incentive_engine.domain.events import (
    QuotaChanged,
    QuotaSet,
    QuotaSubject,
    Share,
)
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from incentive_engine.domain.quotas import (
    Method,
    QuotaError,
    allocate,
    default_reason,
    to_events,
)
from incentive_engine.domain.visibility import Figure, figure_day
from incentive_engine.services.quotas import (
    PreviewRow,
    Published,
    PublishRefused,
    preview,
    publish,
    quotas_in_force,
    territories_on,
)

router = APIRouter(tags=["territories"])

PLANNERS = (Role.MANAGER, Role.FINANCE, Role.PLAN_ADMIN)

# -------------------------------------------------------------- territories


class OwnerShare(BaseModel):
    """One owner of a territory and their share in percent."""

    rep_id: str
    share: Decimal


class OwnerStintOut(BaseModel):
    """Who owned the territory from one day to another (``end`` null: still on the day)."""

    start: date
    end: date | None
    owners: list[OwnerShare]


class GapOut(BaseModel):
    """Days the territory had nobody to cover it: ``unowned`` or ``owner not employed``."""

    start: date
    end: date | None
    reason: str


class TerritoryOut(BaseModel):
    """A territory as defined on a day, with its owners then, over time, and its gaps."""

    territory_id: str
    name: str
    criteria: dict[str, str]
    owners: list[OwnerShare]
    owned_since: date | None
    history: list[OwnerStintOut]
    gaps: list[GapOut]


class Territories(Page[TerritoryOut]):
    """The territories in force on a day, by territory id."""

    on: date


@router.get("/v1/territories", response_model=Territories)
def territories(
    request: Request,
    engine: EngineDep,
    who: Annotated[Principal, require(*PLANNERS)],
    on: Annotated[date | None, Query(description="Definitions and owners on this day.")] = None,
    as_of: AsOf = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """Territories in force on a day (default today), with their criteria and owners."""
    day = on or today()
    as_of = instant(as_of)
    facts = engine.snapshot(as_of).facts
    rows = [
        TerritoryOut(
            territory_id=t.territory_id,
            name=t.name,
            criteria=t.criteria,
            owners=_shares(t.owners),
            owned_since=t.owned_since,
            history=[
                OwnerStintOut(start=s.start, end=s.end, owners=_shares(s.owners))
                for s in t.timeline
            ],
            gaps=[GapOut(start=g.start, end=g.end, reason=g.reason) for g in t.gaps],
        )
        for t in territories_on(facts, day)
    ]
    body = Territories(on=day, **window(rows, limit, offset))
    return answer(request, body, immutable=is_past(as_of) and on is not None)


def _shares(owners: tuple[Share, ...]) -> list[OwnerShare]:
    return [OwnerShare(rep_id=s.rep_id, share=s.share) for s in owners]


# ------------------------------------------------------------------- quotas


class QuotaOut(BaseModel):
    """The quota in force for a rep, team or territory and period (its latest entry)."""

    period: str
    subject: QuotaSubject
    subject_id: str
    name: str
    amount: Decimal
    currency: str
    effective: date
    event_id: str
    changes: int


class Quotas(Page[QuotaOut]):
    """Quotas in force, by period, subject kind and id."""


@router.get("/v1/quotas", response_model=Quotas)
def quotas(
    request: Request,
    engine: EngineDep,
    who: Annotated[Principal, require(*PLANNERS)],
    period: Annotated[str | None, Query(description="Only this period, e.g. 2027-Q1.")] = None,
    subject: Annotated[
        QuotaSubject | None, Query(description="Only quotas of reps, teams or territories.")
    ] = None,
    as_of: AsOf = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """The quotas in force: the latest amount per rep, team or territory and period. A
    manager sees their own and their reports' rep quotas (on the period's last day), plan
    admins and finance every quota; team and territory quotas are shown to every caller."""
    wanted = str(parse_period(period)) if period is not None else None
    as_of = instant(as_of)
    facts = engine.snapshot(as_of).facts
    rows = [
        QuotaOut(
            period=str(q.period),
            subject=q.subject,
            subject_id=q.subject_id,
            name=q.name,
            amount=q.latest.amount,
            currency=q.latest.currency,
            effective=q.latest.effective,
            event_id=q.latest.event_id,
            changes=q.changes,
        )
        for q in quotas_in_force(facts, who, period=wanted, subject=subject)
    ]
    reps = [r.subject_id for r in rows if r.subject is QuotaSubject.REP]
    access.record(request, who, "quotas", reps, wanted)
    return answer(request, Quotas(**window(rows, limit, offset)), immutable=is_past(as_of))


# --------------------------------------------------------------- attainment


class AttainmentOut(BaseModel):
    """Credited revenue, quota and attainment (percent) of a rep, team or territory."""

    subject: Literal["rep", "team", "territory"]
    subject_id: str
    name: str
    period: str
    currency: str | None
    quota: Decimal | None
    credited: Decimal
    attainment: Decimal | None
    note: str


class Attainments(Page[AttainmentOut]):
    """Attainment rows for a period, by subject id."""

    period: str
    by: Literal["rep", "team", "territory"]


def _visible(
    who: Principal, facts: Facts, by: str, period: Period
) -> tuple[set[str] | None, str | None]:
    """(the subject ids the caller may see, None for all; or why they may see none)."""
    if who.role is Role.REP and by != "rep":
        return set(), "a rep sees only their own attainment (by=rep)"
    if by == "rep" and who.role not in visibility.PAY_READERS:
        return set(), (
            f"the {who.role.value} role sees attainment by team, territory or company, not "
            "per rep (a rep's credited revenue and attainment give their pay)"
        )
    return visibility.visible_groups(who, facts, by, period, Figure.ATTAINMENT), None


@router.get("/v1/attainment/{period}", response_model=Attainments)
def attainment_of(
    period: str,
    request: Request,
    engine: EngineDep,
    who: Annotated[Principal, require(Role.REP, Role.MANAGER, Role.FINANCE, Role.PLAN_ADMIN)],
    by: Annotated[
        Literal["rep", "team", "territory"], Query(description="Rows per rep, team or territory.")
    ] = "rep",
    rep: Annotated[str | None, Query(description="Only this rep's row (by=rep).")] = None,
    prorate: Annotated[bool, Query(description="Prorate rep quotas by days employed.")] = True,
    as_of: AsOf = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """Credited revenue against quota per rep, team or territory. Finance and plan admins
    see every row; a manager their own, their reports' and their teams' and territories';
    a rep only their own row."""
    the_period = parse_period(period)
    as_of = instant(as_of)
    facts = engine.snapshot(as_of).facts
    if rep is not None:
        if by != "rep":
            reason = "rep filters rows by rep: use it with by=rep"
            raise ApiError(422, reason, details=[{"field": "rep", "reason": reason}])
        visibility.check(who, rep, facts, figure_day(the_period), "attainment", Figure.ATTAINMENT)
        if rep not in facts.reps:
            raise ApiError(404, f"unknown rep {rep!r}")
    visible, why = _visible(who, facts, by, the_period)
    if why is not None:
        raise ApiError(403, why)
    found = attainment(facts, the_period, by, prorate=prorate)
    rows = [
        AttainmentOut(
            subject=a.subject,
            subject_id=a.subject_id,
            name=a.name,
            period=a.period,
            currency=a.currency,
            quota=a.quota,
            credited=a.credited,
            attainment=a.attainment,
            note=a.note,
        )
        for a in found
        if (visible is None or a.subject_id in visible) and (rep is None or a.subject_id == rep)
    ]
    if by == "rep":
        access.record(request, who, "attainment", [r.subject_id for r in rows], str(the_period))
    body = Attainments(period=str(the_period), by=by, **window(rows, limit, offset))
    return answer(request, body, immutable=is_past(as_of))


# --------------------------------------------------------------- allocation


class AllocateRequest(BaseModel):
    """How to allocate a period's quotas (a dry run unless ``dry_run`` is false). Amounts and
    rates are exact decimals: send them as strings to keep every digit."""

    model_config = ConfigDict(extra="forbid")

    period: str = Field(description="The period to allocate, e.g. 2027-Q1.")
    method: Method
    rate: Decimal = Field(Decimal(0), description="Growth rate in percent (20 means +20 %).")
    market: dict[str, Decimal] | None = Field(
        None, description="Market growth per region in percent (market method)."
    )
    target: Decimal | None = Field(None, description="Scale the allocations to sum to this.")
    currency: str = Field("VND", min_length=3, max_length=3)
    cascade: bool = Field(False, description="Also give territory owners their share.")
    dry_run: bool = Field(True, description="Only compute the table (default).")
    published_by: str | None = Field(
        None, max_length=200, description="Who publishes (default: the caller)."
    )
    reason: str | None = Field(None, max_length=500, description="Why (on changed quotas).")


class AllocationRowOut(BaseModel):
    """One proposed quota, its history, and what publishing does with it. ``last_year``,
    ``basis`` and ``raw`` are null when they are pay the caller may not see (a rep's credited
    revenue, for plan admins): then the quota proposed is shown, not the revenue behind it."""

    subject: QuotaSubject
    subject_id: str
    name: str
    last_year: Decimal | None
    basis: Decimal | None
    raw: Decimal | None
    allocated: Decimal
    share: Decimal
    note: str
    action: str


class AllocationOut(BaseModel):
    """The proposed quotas with their totals, and what was published (None: a dry run)."""

    period: str
    base: str
    history: list[str]
    method: Method
    currency: str
    rate: Decimal
    market: dict[str, Decimal]
    target: Decimal | None
    total: Decimal
    raw_total: Decimal | None
    last_year_total: Decimal | None
    implied_change: Decimal | None
    rows: list[AllocationRowOut]
    cascaded: list[AllocationRowOut]
    dry_run: bool
    published: Published | None


ALLOCATION_FIELDS = {
    "cascade": "cascade",
    "target": "target",
    "market": "market",
    "currency": "currency",
    "method": "method",
    "rate": "rate",
    "reason": "reason",
}
"""Words of an allocation refusal and the body field each points at."""


@router.post("/v1/quotas/allocate", response_model=AllocationOut)
def allocate_quotas(
    request: Request,
    engine: EngineDep,
    who: Annotated[Principal, require(Role.FINANCE, Role.PLAN_ADMIN)],
    body: Annotated[AllocateRequest, Body()],
) -> AllocationOut:
    """Propose a period's quotas from the same period last year (uplift, growth, average or
    market); with ``dry_run`` false, publish them as QuotaSet / QuotaChanged events through
    ingest (publishing the same allocation again changes nothing)."""
    the_period = parse_period(body.period)
    facts = engine.snapshot().facts
    by = (body.published_by or "").strip() or who.subject
    try:
        allocation = allocate(
            facts,
            the_period,
            method=body.method,
            currency=body.currency,
            rate=body.rate,
            market=body.market,
            target=body.target,
            cascade=body.cascade,
        )
        reason = (body.reason or "").strip() or default_reason(allocation, by)
        events: list[QuotaSet | QuotaChanged] = (
            [] if body.dry_run else to_events(allocation, facts, reason=reason)
        )
    except QuotaError as exc:
        raise refused(str(exc), ALLOCATION_FIELDS) from None
    seen = preview(facts, who, allocation)
    rows = [_row(r) for r in seen.rows]
    shown = [r.subject_id for r in rows if r.subject is QuotaSubject.REP]
    access.record(request, who, "quota allocation", shown, str(allocation.period))
    cascaded = [_row(r) for r in seen.cascaded]
    published = None
    if not body.dry_run:
        source = f"http:{request.state.request_id} quota allocate {allocation.period} by {by}"
        try:
            published = publish(engine.store, allocation, events, source)
        except PublishRefused as exc:
            raise ApiError(422, str(exc), details=exc.details) from None
    return AllocationOut(
        period=str(allocation.period),
        base=str(allocation.base),
        history=[str(p) for p in allocation.history],
        method=allocation.method,
        currency=allocation.currency,
        rate=allocation.rate,
        market=dict(allocation.market),
        target=allocation.target,
        total=allocation.total,
        raw_total=allocation.raw_total if seen.totals else None,
        last_year_total=allocation.last_year_total if seen.totals else None,
        implied_change=allocation.implied_change if seen.totals else None,
        rows=rows,
        cascaded=cascaded,
        dry_run=body.dry_run,
        published=published,
    )


def _row(seen: PreviewRow) -> AllocationRowOut:
    row = seen.row
    return AllocationRowOut(
        subject=row.subject,
        subject_id=row.subject_id,
        name=row.name,
        last_year=row.last_year if seen.history else None,
        basis=row.basis if seen.history else None,
        raw=row.raw if seen.history else None,
        allocated=row.allocated,
        share=row.share,
        note=row.note if seen.history else "",
        action=seen.action,
    )
