"""A rep's pages: home (earnings this period and per period of the year, pace to quota, the
next tier, draws, adjustments, what changed, whether the rep accepted the plan versions that
pay them, with an Accept button on their own page; ``/reps/{rep}`` for whoever may see that rep's
pay), and the helpers the statement pages (``api.web.statements``) share. The same services
and the same visibility rule as ``/v1/reps/...``: a rep sees only their own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api import access
from api.auth import Principal
from api.deps import EngineDep
from api.web.charts import Chart, Series
from api.web.i18n import Formatter, formatter
from api.web.render import page
from api.web.session import WebUser
from incentive_engine.domain.acceptance import pending
from incentive_engine.domain.attainment import Attainment, attainment
from incentive_engine.domain.errors import Forbidden
from incentive_engine.domain.periods import Period
from incentive_engine.domain.visibility import Figure, Role, check, figure_day, may_see
from incentive_engine.services.commissions import (
    EarningsRow,
    Snapshot,
)
from incentive_engine.services.home import Progress, rep_home
from incentive_engine.settings import Settings
from projections.visits import Visit, last_visit, remember_visit

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
    """Home: the signed-in rep's (or manager's) own earnings, pace and what changed."""
    if who.role not in OWN_PAGES:
        return page(request, "home_other.html", who)
    return home_of(request, engine, who, who.subject)


@router.get("/reps/{rep}")
def rep_home_page(rep: str, request: Request, engine: EngineDep, who: WebUser) -> Response:
    """A rep's home page as someone allowed to see their pay sees it (their manager on the
    period's day, finance; the rep themselves), read-only; 403 for anyone else."""
    return home_of(request, engine, who, rep)


def home_of(request: Request, engine: EngineDep, who: Principal, rep: str) -> Response:
    """The home page of a rep for a viewer: earnings this period and per period of the year
    (chart), attainment and pace to quota (chart), the next tier or gate, draws and their
    balance, adjustments, and what changed since the viewer's last visit."""
    started = datetime.now(UTC)
    snap = engine.snapshot()
    day = today(request)
    every = snap.book.periods(snap.facts)
    current = current_period(every, day)
    if current is not None:
        try:
            check(who, rep, snap.facts, figure_day(current), "earnings")
        except Forbidden as exc:
            return refused(request, who, str(exc))
    elif rep != who.subject:
        return refused(request, who, "you may not read this rep's earnings")
    periods = visible_periods(snap, who, rep)
    current = current_period(periods, day)
    if current is None or rep not in snap.facts.reps:
        return page(request, "home.html", who, rep=rep, current=None, own=rep == who.subject)
    views = request.app.state.views
    viewer = f"{who.role.value}:{who.subject}"
    before = last_visit(views, viewer, rep)
    found = rep_home(
        snap,
        engine.store,
        rep,
        periods,
        current,
        day,
        None if before is None else before.at,
        head=engine.position,
    )
    access.record(request, who, "earnings", rep)
    now_rows = [r for r in found.rows if r.period == str(current)]
    mine: Attainment | None = None
    check(who, rep, snap.facts, figure_day(current), "attainment", Figure.ATTAINMENT)
    for row in attainment(snap.facts, current, "rep"):
        if row.subject_id == rep:
            mine = row
    access.record(request, who, "attainment", rep, str(current))
    remember_visit(views, viewer, rep, Visit(started, engine.position))
    fmt = formatter(request)
    return page(
        request,
        "home.html",
        who,
        acceptances=pending(
            snap.facts, rep, [v.key for v in snap.book.for_rep(snap.facts, rep, current)]
        ),
        may_accept=rep == who.subject and who.role in OWN_PAGES,
        rep=rep,
        own=rep == who.subject,
        name=snap.facts.reps[rep].name,
        current=current,
        today=day,
        now_rows=now_rows,
        rows=found.rows,
        mine=mine,
        home=found,
        last=before,
        earnings_chart=earnings_chart(found.rows, fmt.gettext),
        pace_charts=[pace_chart(p, fmt) for p in found.progress],
    )


def earnings_chart(rows: list[EarningsRow], _: Callable[[str], str]) -> Chart | None:
    """Earnings per period of the year as bars (the table beside it holds the figures)."""
    shown = [r for r in rows if r.total is not None]
    if not shown:
        return None
    plans = {r.plan_id for r in shown}
    labels = [r.period if len(plans) == 1 else f"{r.period} · {r.plan_id}" for r in shown]
    return Chart(
        "bar",
        labels,
        [Series(_("Total"), [r.total for r in shown])],
        unit="money",
        currency=shown[0].currency,
    )


def pace_chart(progress: Progress, fmt: Formatter) -> Chart | None:
    """Cumulative credited revenue by day against the prorated quota line."""
    if progress.pace is None:
        return None
    days = progress.pace.days
    return Chart(
        "line",
        [fmt.date(d.day) for d in days],
        [
            Series(fmt.gettext("Credited revenue"), [d.credited for d in days]),
            Series(fmt.gettext("Prorated quota"), [d.expected for d in days], dashed=True),
        ],
        unit="money",
        currency=progress.currency,
    )
