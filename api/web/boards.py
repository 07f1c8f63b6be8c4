"""Leaderboards and badges: the boards the plans define (points, revenue, attainment, deals
won, new customers) for a day to a year, the company, a team or a territory, the reader's own
row highlighted with its movement; and the badges a rep holds. The same service and the same
visibility rule as ``/v1/leaderboards`` and ``/v1/reps/{rep}/badges``: never anyone's pay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api import access
from api.auth import Principal
from api.deps import EngineDep
from api.web.charts import Chart, Series
from api.web.i18n import formatter
from api.web.render import page
from api.web.rep import OWN_PAGES, refused, today
from api.web.session import WebUser
from incentive_engine.domain.errors import Forbidden, Invalid
from incentive_engine.domain.leaderboards import LeaderboardError, Metric
from incentive_engine.domain.periods import Period, PeriodKind
from incentive_engine.domain.visibility import Role, check
from incentive_engine.services.commissions import Snapshot
from incentive_engine.services.gamification import (
    HeldBadge,
    ShownBoard,
    board,
    board_day,
    held_badges,
    scopes,
)
from plans.evaluate import EvaluationError

router = APIRouter(include_in_schema=False)

READERS = (Role.REP, Role.MANAGER, Role.FINANCE, Role.PLAN_ADMIN)
"""The roles that read boards (as ``/v1/leaderboards`` admits)."""

KINDS = tuple(k.value for k in PeriodKind)
METRIC_LABELS = {
    Metric.POINTS: "Points",
    Metric.REVENUE: "Revenue",
    Metric.ATTAINMENT: "Attainment",
    Metric.DEALS_WON: "Deals won",
    Metric.NEW_CUSTOMERS: "New customers",
}
KIND_LABELS = {"day": "Day", "week": "Week", "month": "Month", "quarter": "Quarter", "year": "Year"}
TOP = 10
"""How many rows the chart of the top of a board draws."""


class BadRequest(ValueError):
    """A board asked for wrongly: the message and the field it names."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Asked:
    """A board as asked for: metric, period and scope."""

    metric: Metric
    period: Period
    scope: str


def parse_metric(text: str) -> Metric:
    """A metric by name, or BadRequest naming the field."""
    try:
        return Metric(text)
    except ValueError:
        names = ", ".join(m.value for m in Metric)
        raise BadRequest(f"unknown board {text!r}: choose {names}", "metric") from None


def parse_period(text: str, day: date) -> Period:
    """``day``..``year`` (the one containing the day) or a named period (``2026-Q1``)."""
    if text in KINDS:
        return Period.containing(day, PeriodKind(text))
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise BadRequest(str(exc), "period") from None


def asked(snap: Snapshot, request: Request, metric: str, period: str, scope: str) -> Asked:
    """The board asked for by the query, or BadRequest naming the wrong field."""
    return Asked(parse_metric(metric), parse_period(period, board_day(snap, today(request))), scope)


def top_chart(shown: ShownBoard, reader: str | None, label: str) -> Chart | None:
    """A bar chart of the top of the board (only the values the reader may see)."""
    rows = [r for r in shown.rows[:TOP] if r.value is not None]
    if len(rows) < 2:
        return None
    unit = {Metric.REVENUE: "money", Metric.ATTAINMENT: "percent"}.get(shown.metric, "number")
    return Chart(
        "bar",
        [f"{r.rank}. {r.name}" for r in rows],
        [Series(label, [r.value for r in rows], highlight=[r.rep_id == reader for r in rows])],
        unit=unit,  # type: ignore[arg-type]
        currency=shown.currency,
        horizontal=True,
    )


def fragment_wanted(request: Request) -> bool:
    """Whether htmx asked for the board alone (not a history restore, which wants a page)."""
    return bool(request.headers.get("hx-request")) and not request.headers.get(
        "hx-history-restore-request"
    )


@router.get("/leaderboards")
def leaderboards(
    request: Request,
    engine: EngineDep,
    who: WebUser,
    metric: str = "points",
    period: str = "quarter",
    scope: str = "company",
) -> Response:
    """The leaderboards page (or, for htmx, the board fragment): a board per metric, period
    and scope, the reader's row highlighted, and their badges."""
    if who.role not in READERS:
        return refused(request, who, f"the {who.role.value} role may not read leaderboards")
    snap = engine.snapshot()
    fragment = fragment_wanted(request)
    template = "fragments/board.html" if fragment else "leaderboards.html"
    context: dict[str, object] = {
        "metrics": METRIC_LABELS,
        "kinds": KIND_LABELS,
        "scopes": scopes(snap.facts),
        "chosen": {"metric": metric, "period": period, "scope": scope},
        "badges": None,
    }
    if not fragment and who.role in OWN_PAGES:
        context["badges"] = own_badges(request, who, snap)
    if scope == "team":  # "my team": the reader's team on the board's day
        mine = snap.facts.reps.get(who.subject)
        team = mine.team_on(board_day(snap, today(request))) if mine else None
        scope = f"team:{team}" if team else scope
    try:
        wanted = asked(snap, request, metric, period, scope)
        shown = board(snap, who, wanted.metric, wanted.period, wanted.scope)
    except BadRequest as exc:
        return page(request, template, who, 422, error=str(exc), field=exc.field, **context)
    except LeaderboardError as exc:
        status = 422 if isinstance(exc, Invalid) else 409
        return page(request, template, who, status, error=str(exc), field=exc.field, **context)
    except EvaluationError as exc:
        return page(request, template, who, 409, error=str(exc), field=None, **context)
    access.record(
        request, who, f"leaderboard {wanted.metric.value}", shown.revealed(who.subject),
        str(wanted.period),
    )  # fmt: skip
    kind = wanted.period.kind.value
    context["chosen"] = {"metric": wanted.metric.value, "period": kind, "scope": scope}
    return page(
        request,
        template,
        who,
        board=shown,
        you=shown.you(who.subject),
        chart=top_chart(
            shown, who.subject, formatter(request).gettext(METRIC_LABELS[wanted.metric])
        ),
        error=None,
        **context,
    )


def own_badges(request: Request, who: Principal, snap: Snapshot) -> list[HeldBadge]:
    """The reader's own badges held today (recorded as a read of their own figures)."""
    day = today(request)
    found = held_badges(snap, who.subject, day) if who.subject in snap.facts.reps else []
    access.record(request, who, "badges", who.subject, day.isoformat())
    return found


@router.get("/badges")
def my_badges(who: WebUser) -> Response:
    """The signed-in rep's badges."""
    return RedirectResponse(f"/badges/{who.subject}", status_code=303)


@router.get("/badges/{rep}")
def badges_page(rep: str, request: Request, engine: EngineDep, who: WebUser) -> Response:
    """The badges a rep holds today, each with the day and the events that earned it: the
    rep, their managers and finance (as ``/v1/reps/{rep}/badges``)."""
    snap = engine.snapshot()
    day = today(request)
    try:
        check(who, rep, snap.facts, day, "badges")
    except Forbidden as exc:
        return refused(request, who, str(exc))
    held = held_badges(snap, rep, day) if rep in snap.facts.reps else []
    access.record(request, who, "badges", rep, day.isoformat())
    name = snap.facts.reps[rep].name if rep in snap.facts.reps else rep
    return page(request, "badges.html", who, rep=rep, name=name, badges=held, day=day)
