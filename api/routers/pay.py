"""Pay: a rep's earnings by period, points and badges, the payouts of a period (JSON or CSV
for payroll) and period close; and the helpers the other read routers share (pages, as-of
instants, cache headers)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from api import access
from api.auth import Principal, Role
from api.deps import Engine, EngineDep, PrincipalDep, check_pay_access, parse_period, require
from api.errors import ApiError
from incentive_engine.domain import visibility
from incentive_engine.domain.events import Payout, PeriodClosed
from incentive_engine.domain.exports import safe_row
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.limits import as_utc
from incentive_engine.domain.periods import Period
from incentive_engine.services.closing import pre_close
from incentive_engine.services.commissions import (
    EarningsRow,
    Snapshot,
    adjustments_total,
    close_period,
    period_payouts,
    plan_currencies,
    rep_earnings,
)
from incentive_engine.services.gamification import held_badges
from incentive_engine.services.integrity import guard_export
from incentive_engine.services.payroll import load_mapping, payroll
from incentive_engine.services.payrun import pay_run, payout_tables
from incentive_engine.services.spreadsheets import XLSX_TYPE, csv_bytes, xlsx
from plans.points import points

router = APIRouter(tags=["pay"])

T = TypeVar("T")

IMMUTABLE = "private, max-age=31536000, immutable"
"""Cache-Control of a figure that can never change (a sealed period's payouts)."""
AS_OF_CACHE = "private, no-cache"
"""Cache-Control of a figure as of a past instant: it changes only when backfilled history
with an earlier source time arrives, so a client keeps it with its ETag and revalidates
(a 304 while it stands)."""

# ------------------------------------------------------------ shared helpers


class Page(BaseModel, Generic[T]):
    """A page of a list: the items, how many there are in all, and the window asked for."""

    items: list[T]
    total: int
    limit: int
    offset: int


Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page (1..1000).")]
Offset = Annotated[
    int, Query(ge=0, le=10**12, description="Items to skip (at most 10^12: a database integer).")
]
AsOf = Annotated[
    Annotated[datetime, AfterValidator(as_utc)] | None,
    Query(
        description="What was known at this instant (UTC if naive): events recorded by then, "
        "and backfilled events whose source system knew them by then."
    ),
]


def window(items: Sequence[T], limit: int, offset: int) -> dict[str, Any]:
    """The page fields of a list already in its stable order."""
    return {
        "items": list(items[offset : offset + limit]),
        "total": len(items),
        "limit": limit,
        "offset": offset,
    }


def instant(value: datetime | None) -> datetime | None:
    """An as-of instant, read as UTC when naive."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def is_past(value: datetime | None) -> bool:
    """Whether an as-of instant is given and already past (its figures change only with
    backfilled history)."""
    return value is not None and value <= datetime.now(UTC)


def today() -> date:
    """Today's date (UTC)."""
    return datetime.now(UTC).date()


def etag_of(content: Any) -> str:
    """A strong ETag: sha256 of the canonical JSON of a response body."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'


def answer(
    request: Request,
    body: BaseModel,
    *,
    immutable: bool,
    status_code: int = 200,
    sealed: bool = False,
) -> Response:
    """The JSON of a body; a figure as of a past instant (``immutable``) comes with an ETag to
    revalidate (a 304 when the client already holds it), a sealed one is also cached for a
    year (it can never change)."""
    content = body.model_dump(mode="json")
    if not immutable:
        return JSONResponse(content, status_code=status_code)
    tag = etag_of(content)
    headers = {"Cache-Control": IMMUTABLE if sealed else AS_OF_CACHE, "ETag": tag}
    held = {t.strip() for t in request.headers.get("If-None-Match", "").split(",")}
    if tag in held or "*" in held:
        return Response(status_code=304, headers=headers)
    return JSONResponse(content, status_code=status_code, headers=headers)


def fresh(
    engine: Engine, key: tuple[object, ...], until: date | None, build: Callable[[], BaseModel]
) -> Response:
    """The JSON of a figure now (not as of an instant), kept by the engine until new events
    may change it (``until``: the last day of the period it is about, None: any day)."""
    body = engine.answer(key, until, lambda: JSONResponse(build().model_dump(mode="json")).body)
    return Response(body, media_type="application/json")


def refused(message: str, fields: Mapping[str, str]) -> ApiError:
    """A service's refusal as an HTTP error: a 422 naming the field of the first candidate
    word (word -> field) the message mentions, or a 409 when it mentions none (the data
    cannot answer as asked)."""
    words = set(message.replace("'", " ").replace(":", " ").replace(",", " ").split())
    field = next((f for word, f in fields.items() if word in words), None)
    if field is None:
        return ApiError(409, message)
    return ApiError(422, message, details=[{"field": field, "reason": message}])


def check_access(who: Principal, rep_id: str, facts: Facts, day: date, what: str) -> None:
    """403 unless the caller may read this rep's figures of the day (the domain's visibility
    rule of pay), whether or not the rep exists."""
    visibility.check(who, rep_id, facts, day, what)


def known_rep(facts: Facts, rep_id: str) -> None:
    """404 for a rep the engine does not know (asked only after access was granted)."""
    if rep_id not in facts.reps:
        raise ApiError(404, f"unknown rep {rep_id!r}")


# ---------------------------------------------------------------- models


class PayoutRow(BaseModel):
    """A rep's pay for a period under one plan: what payroll pays."""

    rep_id: str
    name: str
    period: str
    plan_id: str
    plan_version: int
    currency: str
    earned: Decimal
    adjustments: Decimal
    total: Decimal
    status: Literal["open", "sealed"]
    statement_hash: str


class PayoutFailure(BaseModel):
    """A covered rep's statement that cannot be computed (for example a quarantined event
    concerns it), so the rep has no row among the payouts."""

    rep_id: str
    plan_id: str
    plan_version: int
    error: str


class HeldOut(BaseModel):
    """A payout held (``INCENTIVE_HOLD_UNACCEPTED``): its rep has not accepted the plan
    version that pays it; left out of the payable rows and total until they accept."""

    rep_id: str
    name: str
    plan_id: str
    plan_version: int
    total: Decimal
    reason: str


class Payouts(Page[PayoutRow]):
    """A period's payouts (sealed figures once it is closed), by rep id then plan; the
    statements that cannot be computed are listed apart in ``failures`` (empty when every
    covered rep's pay is there), and the payouts held until their rep accepts the plan in
    ``held`` (only with ``INCENTIVE_HOLD_UNACCEPTED``)."""

    period: str
    status: Literal["open", "sealed"]
    closed_at: datetime | None = None
    closed_by: str | None = None
    failures: list[PayoutFailure] = []
    held: list[HeldOut] = []


class Earnings(Page[EarningsRow]):
    """Every plan period of a rep, from the plan's start to the latest period with data."""

    rep_id: str


class PointsLineOut(BaseModel):
    """Points earned (or removed by a daily cap) at an instant, by a rule, from events."""

    plan_id: str
    plan_version: int
    at: datetime
    rule: str
    description: str
    points: Decimal
    event_ids: list[str]


class PlanPoints(BaseModel):
    """A rep's points under one plan version."""

    plan_id: str
    plan_version: int
    plan_hash: str
    points: Decimal
    reached_at: datetime | None


class Points(Page[PointsLineOut]):
    """A rep's points for a period: the lines (paged), the total and the total per plan."""

    rep_id: str
    period: str
    points: Decimal
    plans: list[PlanPoints]


class BadgeOut(BaseModel):
    """A badge held, with the day and the events that earned it."""

    badge_id: str
    name: str
    earned_on: date
    scope: str
    plan_id: str
    plan_version: int
    event_ids: list[str]


class Badges(Page[BadgeOut]):
    """The badges a rep holds on a day."""

    rep_id: str
    on: date


class CloseRequest(BaseModel):
    """Who closes the period (recorded in the log)."""

    model_config = ConfigDict(extra="forbid")

    closed_by: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    override_integrity: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
        | None
    ) = None
    """Close although the log fails verification: the reason, recorded on the PeriodClosed
    event (refused with a 409 without it)."""
    override_reason: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
        | None
    ) = None
    """Close although blocking pre-close checks fail: the reason, stored on the PeriodClosed
    event with the names of the checks it overrides (refused with a 409 without it; never
    over statements that cannot be computed)."""


class Closed(BaseModel):
    """A closed period: every covered rep's sealed payout and statement hash."""

    period: str
    closed_at: datetime
    closed_by: str | None
    statements_hash: str | None
    checkpoint: int | None = None
    integrity_override: str | None = None
    override_reason: str | None = None
    overridden_checks: list[str] = []
    payouts: list[PayoutRow]


class FindingOut(BaseModel):
    """One thing a pre-close check found: what it concerns and why."""

    kind: str
    subject: str
    detail: str


class CheckOut(BaseModel):
    """A pre-close check: blocking or warning, whether an override may lift it, whether it
    passes, and its findings."""

    name: str
    severity: Literal["blocking", "warning"]
    overridable: bool
    passed: bool
    blocks: bool
    findings: list[FindingOut]


class PreCloseChecks(BaseModel):
    """A period's pre-close checks; ``closable`` when no blocking check fails (else only
    with an override reason, and never over statements that cannot be computed)."""

    period: str
    status: Literal["open", "sealed"]
    closable: bool
    blocking: list[str]
    checks: list[CheckOut]


# ------------------------------------------------------------- earnings


@router.get("/v1/reps/{rep}/earnings", response_model=Earnings)
def earnings(
    rep: str,
    request: Request,
    engine: EngineDep,
    who: PrincipalDep,
    as_of: AsOf = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """A rep's earnings in every plan period from the plan's start to the latest with data:
    earned, adjustments of closed periods, total and open/sealed. Reps see their own,
    managers their reports' (the periods in which they were reports, on each period's last
    day), finance everyone's."""
    as_of = instant(as_of)
    snap = engine.snapshot(as_of)
    facts = snap.facts
    shown = [
        p
        for p in snap.book.periods(facts)
        if visibility.may_see(who, rep, facts, visibility.figure_day(p))
    ]
    if not shown:  # no period to show: refused unless the caller may see the rep now
        check_pay_access(who, rep, facts, (as_of or datetime.now(UTC)).date())
    known_rep(facts, rep)

    def build() -> Earnings:
        rows = rep_earnings(snap, rep, shown)
        return Earnings(rep_id=rep, **window(rows, limit, offset))

    if as_of is None:
        key = ("earnings", rep, tuple(str(p) for p in shown), limit, offset)
        response = fresh(engine, key, None, build)
        access.record(request, who, "earnings", rep)
        return response
    body = build()
    access.record(request, who, "earnings", rep)
    return answer(request, body, immutable=is_past(as_of))


# --------------------------------------------------------- points, badges


@router.get("/v1/reps/{rep}/points", response_model=Points)
def rep_points(
    rep: str,
    request: Request,
    engine: EngineDep,
    who: PrincipalDep,
    period: Annotated[str, Query(description="Day, week, month, quarter or year.")],
    as_of: AsOf = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """A rep's points for a period, line by line (when, by which rule, from which events),
    with the total. Reps see their own, managers their reports', finance everyone's."""
    the_period = parse_period(period)
    as_of = instant(as_of)
    snap = engine.snapshot(as_of)
    check_access(who, rep, snap.facts, visibility.figure_day(the_period), "points")
    known_rep(snap.facts, rep)
    if as_of is None:
        key = ("points", rep, str(the_period), limit, offset)
        response = fresh(
            engine, key, the_period.end, lambda: _points(snap, rep, the_period, limit, offset)
        )
        access.record(request, who, "points", rep, str(the_period))
        return response
    body = _points(snap, rep, the_period, limit, offset)
    access.record(request, who, "points", rep, str(the_period))
    return answer(request, body, immutable=is_past(as_of))


def _points(snap: Snapshot, rep: str, the_period: Period, limit: int, offset: int) -> Points:
    """A rep's points of a period (404 when no plan with points rules covers them)."""
    versions = [
        v for v in snap.book.gamified_for(snap.facts, rep, the_period) if v.plan.points is not None
    ]
    if not versions:
        raise ApiError(404, f"no published plan with points rules covers {rep} in {the_period}")
    lines: list[PointsLineOut] = []
    plans: list[PlanPoints] = []
    for version in versions:
        s = points(snap.facts, version, rep, the_period)
        plans.append(
            PlanPoints(
                plan_id=s.plan_id,
                plan_version=s.plan_version,
                plan_hash=s.plan_hash,
                points=s.total,
                reached_at=s.reached_at,
            )
        )
        lines += [
            PointsLineOut(
                plan_id=s.plan_id,
                plan_version=s.plan_version,
                at=ln.at,
                rule=ln.rule,
                description=ln.description,
                points=ln.points,
                event_ids=list(ln.event_ids),
            )
            for ln in s.lines
        ]
    return Points(
        rep_id=rep,
        period=str(the_period),
        points=sum((p.points for p in plans), Decimal(0)),
        plans=plans,
        **window(lines, limit, offset),
    )


@router.get("/v1/reps/{rep}/badges", response_model=Badges)
def rep_badges(
    rep: str,
    request: Request,
    engine: EngineDep,
    who: PrincipalDep,
    on: Annotated[
        date | None, Query(description="Badges held on this day (default today).")
    ] = None,
    as_of: AsOf = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """The badges a rep holds on a day, each with the day and the events that earned it.
    Reps see their own, managers their reports', finance everyone's."""
    day = on or today()
    as_of = instant(as_of)
    snap = engine.snapshot(as_of)
    check_access(who, rep, snap.facts, day, "badges")
    known_rep(snap.facts, rep)
    held = [
        BadgeOut(**{**asdict(b), "event_ids": list(b.event_ids)})
        for b in held_badges(snap, rep, day)
    ]
    access.record(request, who, "badges", rep, day.isoformat())
    body = Badges(rep_id=rep, on=day, **window(held, limit, offset))
    return answer(request, body, immutable=is_past(as_of) and on is not None)


# ---------------------------------------------------------------- payouts


def _payout_rows(
    snap: Snapshot, period: Period, found: Sequence[Payout], status: Literal["open", "sealed"]
) -> list[PayoutRow]:
    currency = plan_currencies(snap)
    reps = snap.facts.reps
    return [
        PayoutRow(
            rep_id=p.rep_id,
            name=reps[p.rep_id].name if p.rep_id in reps else "",
            period=str(period),
            plan_id=p.plan_id,
            plan_version=p.version,
            currency=currency.get(p.plan_id, ""),
            earned=p.earned,
            adjustments=adjustments_total(p),
            total=p.total,
            status=status,
            statement_hash=p.statement_hash,
        )
        for p in sorted(found, key=lambda x: (x.rep_id, x.plan_id))
    ]


CSV_COLUMNS = (
    "rep_id",
    "name",
    "period",
    "plan",
    "currency",
    "earned",
    "adjustments",
    "total",
    "status",
    "statement_hash",
)


def _csv(rows: list[PayoutRow]) -> str:
    """Payroll CSV; text cells that a spreadsheet would run as a formula are neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            safe_row(
                [
                    r.rep_id,
                    r.name,
                    r.period,
                    f"{r.plan_id}@{r.plan_version}",
                    r.currency,
                    str(r.earned),
                    str(r.adjustments),
                    str(r.total),
                    r.status,
                    r.statement_hash,
                ]
            )
        )
    return out.getvalue()


@router.get(
    "/v1/payouts/{period}",
    response_model=Payouts,
    responses={200: {"content": {"text/csv": {}}}},
)
def payouts(
    period: str,
    request: Request,
    engine: EngineDep,
    who: Annotated[Principal, require(Role.FINANCE)],
    as_of: AsOf = None,
    fmt: Annotated[
        Literal["json", "csv", "xlsx"] | None,
        Query(
            alias="format",
            description="csv for payroll (or send 'Accept: text/csv'); xlsx for a workbook "
            "(sheets payouts, adjustments, and failures with partial=true).",
        ),
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    partial: Annotated[
        bool,
        Query(
            description="CSV and XLSX only: export the computable reps' rows when some statements "
            "cannot be computed (refused with 409 otherwise); the count of missing "
            "statements is in the X-Payout-Failures header."
        ),
    ] = False,
) -> Response:
    """Every rep's pay for a period (sealed figures once closed), by rep id then plan:
    paged JSON, or the whole list as CSV for payroll. Finance only. A rep whose statement
    cannot be computed never hides the others: the JSON lists it in ``failures``; the CSV
    is refused (409 naming the reps) unless ``partial=true``."""
    the_period = parse_period(period)
    as_of = instant(as_of)
    wants_csv = fmt == "csv" or (fmt is None and "text/csv" in request.headers.get("Accept", ""))
    if wants_csv or fmt == "xlsx":  # the payroll export: verified first, refused (409) on failure
        guard_export(
            engine, the_period, what=f"the payouts of {the_period}", views=request.app.state.views
        )
    snap = engine.snapshot(as_of)
    hold = engine.settings.hold_unaccepted
    found = period_payouts(snap, the_period, hold=hold)
    closed = found.closed
    if wants_csv or fmt == "xlsx":
        found.require_complete(the_period, partial=partial)
    if fmt == "xlsx":
        run = pay_run(snap, the_period, hold=hold)
        access.record(request, who, "payouts", [r.rep_id for r in run.rows], str(the_period))
        return Response(
            xlsx(payout_tables(run)),
            media_type=XLSX_TYPE,
            headers={
                "Content-Disposition": f'attachment; filename="payouts-{the_period}.xlsx"',
                "X-Payout-Failures": str(len(run.failures)),
                **({"X-Payout-Held": str(len(run.held))} if run.held else {}),
            },
        )
    status: Literal["open", "sealed"] = "sealed" if closed is not None else "open"
    rows = _payout_rows(snap, the_period, found.payouts, status)
    access.record(request, who, "payouts", [r.rep_id for r in rows], str(the_period))
    immutable = closed is not None or is_past(as_of)
    if wants_csv:
        text = _csv(rows)
        headers = {
            "Content-Disposition": f'attachment; filename="payouts-{the_period}.csv"',
            "Vary": "Accept",
        }
        if found.failures:
            headers["X-Payout-Failures"] = str(len(found.failures))
        if found.held:
            headers["X-Payout-Held"] = str(len(found.held))
        if immutable:
            cache = IMMUTABLE if closed is not None else AS_OF_CACHE
            headers |= {"Cache-Control": cache, "ETag": etag_of(text)}
        return Response(text, media_type="text/csv; charset=utf-8", headers=headers)
    body = Payouts(
        period=str(the_period),
        status=status,
        closed_at=closed.closed_at if closed else None,
        closed_by=closed.closed_by if closed else None,
        failures=[
            PayoutFailure(
                rep_id=f.rep_id, plan_id=f.plan_id, plan_version=f.plan_version, error=f.error
            )
            for f in found.failures
        ],
        held=[
            HeldOut(
                rep_id=h.payout.rep_id,
                name=snap.facts.reps[h.payout.rep_id].name
                if h.payout.rep_id in snap.facts.reps
                else "",
                plan_id=h.payout.plan_id,
                plan_version=h.payout.version,
                total=h.payout.total,
                reason=h.reason,
            )
            for h in found.held
        ],
        **window(rows, limit, offset),
    )
    response = answer(request, body, immutable=immutable, sealed=closed is not None)
    response.headers["Vary"] = "Accept"
    if found.failures:  # as on the CSV: a client need not read the body to know
        response.headers["X-Payout-Failures"] = str(len(found.failures))
    return response


# ---------------------------------------------------------------- payroll


@router.get(
    "/v1/payroll/{period}",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, XLSX_TYPE: {}}}},
)
def payroll_export(
    period: str,
    request: Request,
    engine: EngineDep,
    who: Annotated[Principal, require(Role.FINANCE)],
    fmt: Annotated[
        Literal["csv", "xlsx"],
        Query(alias="format", description="csv (UTF-8 with a BOM) or xlsx."),
    ] = "csv",
    partial: Annotated[
        bool,
        Query(
            description="Export the computable reps when some statements cannot be computed "
            "(refused with 409 otherwise)."
        ),
    ] = False,
) -> Response:
    """The payroll export of a period: one row per rep and pay code, in the columns of the
    mapping file (``INCENTIVE_PAYROLL_COLUMNS``; default rep id, employee number, pay code,
    amount, currency). The log is verified against the last signed checkpoint first
    (refused with 409 when it fails). Finance only."""
    the_period = parse_period(period)
    mapping = load_mapping(request.app.state.settings.payroll_columns)
    found = payroll(engine, the_period, mapping, partial=partial, views=request.app.state.views)
    access.record(request, who, "payroll", sorted({r.rep_id for r in found.rows}), str(the_period))
    table = found.table()
    name = f"payroll-{the_period}.{fmt}"
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Payout-Failures": str(len(found.failures)),
    }
    if found.held:
        headers["X-Payroll-Held"] = str(len(found.held))
    if fmt == "xlsx":
        return Response(xlsx([table]), media_type=XLSX_TYPE, headers=headers)
    return Response(csv_bytes(table), media_type="text/csv; charset=utf-8", headers=headers)


# ------------------------------------------------------------------ close


@router.post("/v1/periods/{period}/close", response_model=Closed, status_code=201)
def close(
    period: str,
    request: Request,
    engine: EngineDep,
    who: Annotated[Principal, require(Role.FINANCE)],
    body: Annotated[CloseRequest, Body()],
) -> Response:
    """Seal a period's payouts and statement hashes in the log (refused with a 409 when it is
    already closed, the previous period is still open, it has not ended, or the log fails
    verification without ``override_integrity``). Finance only."""
    the_period = parse_period(period)
    event: PeriodClosed = close_period(
        engine,
        the_period,
        closed_by=body.closed_by,
        override_integrity=body.override_integrity,
        override_reason=body.override_reason,
        views=request.app.state.views,
    )
    snap = engine.snapshot()
    access.record(request, who, "close", [p.rep_id for p in event.payouts], str(the_period))
    result = Closed(
        period=event.period,
        closed_at=event.closed_at,
        closed_by=event.closed_by,
        statements_hash=event.statements_hash,
        checkpoint=event.checkpoint,
        integrity_override=event.integrity_override,
        override_reason=event.override_reason,
        overridden_checks=list(event.overridden_checks or ()),
        payouts=_payout_rows(snap, the_period, event.payouts, "sealed"),
    )
    return answer(request, result, immutable=False, status_code=201)


@router.get("/v1/periods/{period}/checks", response_model=PreCloseChecks)
def checks(
    period: str,
    request: Request,
    engine: EngineDep,
    who: Annotated[Principal, require(Role.FINANCE)],
) -> Response:
    """The pre-close checks of a period (what ``POST .../close`` applies): reps whose
    statement cannot be computed, deals credited to nobody, unowned territories, missing FX
    rates, adjustments awaiting approval, open disputes, and what changed since the last
    pay-run view. Finance only."""
    the_period = parse_period(period)
    found = pre_close(engine, the_period, views=request.app.state.views)
    reps = sorted({f.subject for c in found.checks for f in c.findings if f.kind == "rep"})
    if reps:
        access.record(request, who, "checks", reps, str(the_period))
    body = PreCloseChecks(
        period=str(the_period),
        status="sealed" if found.closed is not None else "open",
        closable=not found.blocking,
        blocking=[c.name for c in found.blocking],
        checks=[
            CheckOut(
                name=c.name,
                severity=c.severity.value,
                overridable=c.overridable,
                passed=c.passed,
                blocks=c.blocks,
                findings=[
                    FindingOut(kind=f.kind, subject=f.subject, detail=f.detail) for f in c.findings
                ],
            )
            for c in found.checks
        ],
    )
    return answer(request, body, immutable=False)
