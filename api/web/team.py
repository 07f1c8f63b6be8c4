"""The manager's "My team" page: for a period (default the current one), the reports the
visibility rule lets the manager see on the period's day, each with attainment, credited,
quota, pace, earnings and status, a chart of attainment per report, and the team's totals.
Finance may pick any manager (``?manager=``): finance sees everyone's pay. Reps and other
roles get the 403 page."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import access
from api.deps import EngineDep
from api.web.charts import Chart, Series
from api.web.i18n import Formatter, formatter
from api.web.render import page
from api.web.rep import current_period, refused, today
from api.web.session import WebUser
from incentive_engine.domain.periods import Period
from incentive_engine.domain.visibility import Figure, Role, figure_day, may_see
from incentive_engine.services.team import Team, managers_on, team_of

router = APIRouter(include_in_schema=False)

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class TargetChart(Chart):
    """A bar chart whose line series (the 100 % target) is drawn over the bars, with a
    target mark on every bar (seen even with a single report)."""

    def config(self, locale: str) -> dict[str, object]:
        """The chart's description, its line series on top and marked at each bar."""
        found = super().config(locale)
        datasets = found["datasets"]
        assert isinstance(datasets, list)
        for dataset in datasets:
            if dataset.get("type") == "line":
                dataset.update(order=-1, pointStyle="line", pointRadius=28, pointBorderWidth=2)
        return found


def attainment_chart(team: Team, fmt: Formatter) -> Chart:
    """Attainment per report as bars, with the 100 % line (and, in the current period, the
    attainment an even pace reaches by today)."""
    labels = [r.name or r.rep_id for r in team.rows]
    series = [
        Series(fmt.gettext("Attainment"), [r.attainment for r in team.rows]),
        Series("100 %", [HUNDRED for _ in team.rows], dashed=True, kind="line"),
    ]
    if team.current:
        expected = [
            None if r.expected is None or not r.quota else r.expected * HUNDRED / r.quota
            for r in team.rows
        ]
        series.insert(1, Series(fmt.gettext("Expected by today"), expected))
    return TargetChart("bar", labels, series, unit="percent")


@router.get("/team")
def team_page(
    request: Request,
    engine: EngineDep,
    who: WebUser,
    period: str | None = None,
    manager: str | None = None,
) -> Response:
    """A manager's team in a period: each report's attainment, pace, earnings and status,
    a chart of attainment per report, and the team's totals."""
    if who.role not in (Role.MANAGER, Role.FINANCE):
        return refused(request, who, "Only managers have a team.")
    snap = engine.snapshot()
    facts = snap.facts
    periods = sorted(snap.book.periods(facts), key=lambda p: p.start)
    day = today(request)
    chosen: Period | None = current_period(periods, day)
    problem = None
    if period:
        try:
            chosen = Period.parse(period)
        except ValueError as exc:
            problem = f"period: {exc}"
    boss = manager or (who.subject if who.role is Role.MANAGER else None)
    context = {
        "periods": periods,
        "chosen": chosen,
        "manager": boss,
        "managers": [],
        "team": None,
        "problem": problem,
        "chart": None,
    }
    if who.role is Role.FINANCE and chosen is not None:
        context["managers"] = [
            (m, facts.reps[m].name if m in facts.reps else m)
            for m in managers_on(facts, figure_day(chosen))
        ]
    if problem is not None or chosen is None or boss is None:
        return page(request, "team.html", who, 422 if problem else 200, **context)
    if boss != who.subject and not may_see(who, boss, facts, figure_day(chosen), Figure.ATTAINMENT):
        return refused(request, who, "you may not read this rep's pay")
    team = team_of(snap, who, boss, chosen, day)
    shown = [r.rep_id for r in team.rows]
    if shown:
        access.record(request, who, "team", shown, str(chosen))
    context["team"] = team
    context["name"] = facts.reps[boss].name if boss in facts.reps else boss
    context["chart"] = attainment_chart(team, formatter(request)) if team.rows else None
    return page(request, "team.html", who, **context)
