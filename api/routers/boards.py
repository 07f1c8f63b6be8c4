"""Leaderboards (never pay) and sales KPIs with their definitions."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api import access
from api.auth import Principal, Role
from api.deps import EngineDep, parse_period, require
from api.errors import ApiError
from api.routers.pay import AsOf, Limit, Offset, Page, answer, instant, is_past, refused, window
from incentive_engine.domain import visibility
from incentive_engine.domain.kpis import KPIS, KpiError, kpi, parse_targets, trend
from incentive_engine.domain.kpis.base import NONE
from incentive_engine.domain.leaderboards import Metric
from incentive_engine.domain.periods import Period, PeriodKind
from incentive_engine.domain.visibility import BoardVisibility
from incentive_engine.services.gamification import board

router = APIRouter(tags=["boards"])

HUMANS = (Role.REP, Role.MANAGER, Role.FINANCE, Role.PLAN_ADMIN)
ANALYSTS = (Role.MANAGER, Role.FINANCE, Role.PLAN_ADMIN)
KPI_FIELDS = {
    "target": "target",
    "targets": "target",
    "period": "period",
    "by": "by",
    "trend": "trend",
    "currency": "currency",
}
"""Words of a KPI refusal and the query parameter each points at."""

# ------------------------------------------------------------ leaderboards


class Standing(BaseModel):
    """A rep's place on a board: rank, value, when it was reached, and movement since the
    previous period (None: new on the board). Never pay: ``value`` is null where the board's
    policy hides other reps' values from the caller."""

    rank: int
    rep_id: str
    name: str
    value: Decimal | None
    reached_at: datetime | None
    previous_rank: int | None
    movement: int | None


class Board(Page[Standing]):
    """A leaderboard page, with the caller's own standing when they are on it."""

    metric: Metric
    scope: str
    period: str
    visibility: BoardVisibility
    """What the board shows of reps whose pay the caller may not see (the plans' policy)."""
    you: Standing | None = None


@router.get("/v1/leaderboards/{metric}", response_model=Board)
def leaderboard_of(
    metric: Metric,
    request: Request,
    engine: EngineDep,
    who: Annotated[Principal, require(*HUMANS)],
    scope: Annotated[str, Query(description="company, team:NAME or territory:ID.")] = "company",
    period: Annotated[
        str | None, Query(description="Day, week, month, quarter or year (default this quarter).")
    ] = None,
    as_of: AsOf = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """Reps ranked by points, revenue, attainment, deals won or new customers in a scope and
    period; ties go to who reached the value first, then rep id. Boards never show pay:
    other reps' values are shown as the plans' board policy allows (by default points only),
    while finance, the rep and their managers see the values."""
    the_period = (
        parse_period(period)
        if period is not None
        else Period.containing(datetime.now(UTC).date(), PeriodKind.QUARTER)
    )
    as_of = instant(as_of)
    snap = engine.snapshot(as_of)

    def build() -> tuple[Board, list[str]]:
        shown = board(snap, who, metric, the_period, scope)
        rows = [Standing(**asdict(r)) for r in shown.rows]
        body = Board(
            metric=metric,
            scope=scope,
            period=str(the_period),
            visibility=shown.visibility,
            you=next((r for r in rows if r.rep_id == who.subject), None),
            **window(rows, limit, offset),
        )
        return body, list(shown.revealed(who.subject))

    if as_of is None:  # what the caller may see of a board depends on who they are
        key = ("board", metric, scope, str(the_period), who.role, who.subject, limit, offset)

        def render() -> tuple[bytes, list[str]]:
            body, revealed = build()
            return JSONResponse(body.model_dump(mode="json")).body, revealed

        content, revealed = engine.answer(key, the_period.end, render)
        response: Response = Response(content, media_type="application/json")
    else:
        body, revealed = build()
        response = answer(request, body, immutable=is_past(as_of) and period is not None)
    access.record(request, who, f"leaderboard {metric.value}", revealed, str(the_period))
    return response


# -------------------------------------------------------------------- KPIs


class KpiInfo(BaseModel):
    """A KPI: its name, group, definition, whether it has a trend and which targets it takes."""

    name: str
    group: str
    definition: str
    trend: bool
    targets: Literal["sources", "calls"] | None


class KpiRows(Page[dict[str, Any]]):
    """A page of a KPI's rows (their columns depend on the KPI; money and ratios as exact
    decimal text, ratios in percent)."""

    name: str
    by: str
    period: str
    on: date | None
    trend: bool


def _plain(value: Any) -> Any:
    """A KPI cell as JSON: decimals as exact text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


@router.get("/v1/kpis", response_model=Page[KpiInfo])
def kpi_catalogue(
    who: Annotated[Principal, require(*ANALYSTS)],
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Every KPI with its group and definition, in the order of the five groups."""
    rows = [
        KpiInfo(
            name=k.name,
            group=k.group,
            definition=k.definition,
            trend=bool(k.measures),
            targets=k.targets,
        )
        for k in KPIS.values()
    ]
    return window(rows, limit, offset)


@router.get("/v1/kpis/{name}", response_model=KpiRows)
def kpi_rows(
    name: str,
    request: Request,
    engine: EngineDep,
    who: Annotated[Principal, require(*ANALYSTS)],
    by: Annotated[
        Literal["rep", "team", "territory", "company"], Query(description="How rows are grouped.")
    ] = "company",
    period: Annotated[
        str | None, Query(description="Month, quarter or year (default this month).")
    ] = None,
    as_of: AsOf = None,
    on: Annotated[
        date | None,
        Query(description="The day to stand on (default: as_of's day, else today in the period)."),
    ] = None,
    with_trend: Annotated[
        bool, Query(alias="trend", description="Previous period and a year earlier.")
    ] = False,
    target: Annotated[
        list[str] | None, Query(description="NAME=NUMBER, repeatable (leads, calls_per_day).")
    ] = None,
    currency: Annotated[str | None, Query(description="Report money in this currency.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """A KPI's rows per rep, team, territory or the company for a period, or its trend
    (period over period and year over year). Managers, finance and plan admins. Grouped by
    rep, a manager gets their own and their reports' rows only (the others are omitted) and
    a plan admin is refused; a team or territory row is omitted when it would reveal one
    person the caller may not see (a team of one)."""
    if name not in KPIS:
        raise ApiError(404, f"unknown KPI {name!r}; KPIs: {', '.join(KPIS)}")
    as_of = instant(as_of)
    try:
        targets = parse_targets(target)
    except KpiError as exc:
        raise ApiError(422, str(exc), details=[{"field": "target", "reason": str(exc)}]) from None
    now = datetime.now(UTC).date()
    anchor = on or (as_of.date() if as_of else None)
    the_period = (
        parse_period(period)
        if period is not None
        else Period.containing(anchor or now, PeriodKind.MONTH)
    )
    day = anchor or (now if now in the_period else None)
    snap = engine.snapshot(as_of)
    if by == "rep" and who.role not in visibility.PAY_READERS:
        reason = f"the {who.role.value} role sees KPIs by team, territory or company, not by rep"
        raise ApiError(403, reason)
    shown = visibility.visible_groups(who, snap.facts, by, the_period)
    compute = trend if with_trend else kpi
    try:
        rows = compute(
            snap.facts, name, the_period, by, as_of=day, targets=targets, currency=currency
        )
    except KpiError as exc:
        raise refused(str(exc), KPI_FIELDS) from None
    plain = [
        {k: _plain(v) for k, v in row.items()}
        for row in rows
        if shown is None or row.get("group", NONE) in shown or row.get("group", NONE) == NONE
    ]
    if by == "rep":
        reps = [r["group"] for r in plain if r.get("group") != NONE]
        access.record(request, who, f"kpi {name}", reps, str(the_period))
    body = KpiRows(
        name=name,
        by=by,
        period=str(the_period),
        on=day,
        trend=with_trend,
        **window(plain, limit, offset),
    )
    return answer(request, body, immutable=is_past(as_of))
