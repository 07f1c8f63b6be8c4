"""A rep's pages: home (earnings this period and per period of the year, attainment), and the
helpers the statement pages (``api.web.statements``) share. The same services and the same
visibility rule as ``/v1/reps/...``: a rep sees only their own."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api import access
from api.auth import Principal
from api.deps import EngineDep
from api.web.render import page
from api.web.session import WebUser
from incentive_engine.domain.attainment import Attainment, attainment
from incentive_engine.domain.periods import Period
from incentive_engine.domain.visibility import Figure, Role, check, figure_day, may_see
from incentive_engine.services.commissions import (
    EarningsRow,
    Snapshot,
    rep_earnings,
)
from incentive_engine.settings import Settings

router = APIRouter(include_in_schema=False)

OWN_PAGES = (Role.REP, Role.MANAGER)
"""The roles that have pay of their own (their subject is a rep id)."""


def today(request: Request) -> date:
    """Today in the organisation's time zone."""
    settings: Settings = request.app.state.settings
    return datetime.now(UTC).astimezone(ZoneInfo(settings.time_zone)).date()


def current_period(periods: list[Period], day: date) -> Period | None:
    """The period containing the day, else the latest one (a store of past data)."""
    for p in periods:
        if p.start <= day <= p.end:
            return p
    return periods[-1] if periods else None


def refused(request: Request, who: Principal, reason: str) -> HTMLResponse:
    """The 403 page (or fragment): the same refusal as the API's."""
    fragment = bool(request.headers.get("hx-request"))
    template = "fragments/refused.html" if fragment else "refused.html"
    return page(request, template, who, 403, reason=reason)


def visible_periods(snap: Snapshot, who: Principal, rep: str) -> list[Period]:
    """The plan periods of this rep's pay the caller may see, oldest first."""
    facts = snap.facts
    return sorted(
        (p for p in snap.book.periods(facts) if may_see(who, rep, facts, figure_day(p))),
        key=lambda p: p.start,
    )


@router.get("/")
def home(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Home: the signed-in rep's earnings this period and per period of the year, and their
    attainment this period."""
    if who.role not in OWN_PAGES:
        return page(request, "home_other.html", who)
    rep = who.subject
    snap = engine.snapshot()
    periods = visible_periods(snap, who, rep)
    current = current_period(periods, today(request))
    if current is None or rep not in snap.facts.reps:
        return page(request, "home.html", who, rep=rep, current=None)
    year = [p for p in periods if p.start.year == current.start.year]
    rows: list[EarningsRow] = rep_earnings(snap, rep, year)
    access.record(request, who, "earnings", rep)
    now_rows = [r for r in rows if r.period == str(current)]
    mine: Attainment | None = None
    check(who, rep, snap.facts, figure_day(current), "attainment", Figure.ATTAINMENT)
    for row in attainment(snap.facts, current, "rep"):
        if row.subject_id == rep:
            mine = row
    access.record(request, who, "attainment", rep, str(current))
    return page(
        request,
        "home.html",
        who,
        rep=rep,
        name=snap.facts.reps[rep].name,
        current=current,
        now_rows=now_rows,
        rows=rows,
        mine=mine,
    )
