"""Simulate a draft plan against its published baseline over a window of history, in the
browser: a form (the plan document as YAML, the window, the baseline) whose result htmx swaps
in, or the whole page answers without JavaScript. The same service and visibility rule as
``POST /v1/simulations`` and the CLI ``simulate``: per-rep rows are pay, so finance sees every
rep's figures and a plan admin the anonymised report; reps and managers are refused."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api import access
from api.auth import Principal
from api.deps import Engine, EngineDep
from api.web.charts import Chart, Series
from api.web.i18n import formatter
from api.web.render import page
from api.web.rep import refused, today
from api.web.session import MAX_FORM_BYTES, WebUser, form_of
from incentive_engine.domain.errors import EngineError, Forbidden, NotFound
from incentive_engine.domain.periods import Period
from incentive_engine.domain.simulation import BUCKETS, Simulation
from incentive_engine.domain.visibility import Role
from incentive_engine.services import simulations
from incentive_engine.services.commissions import Snapshot
from incentive_engine.services.ingest import door_limits
from plans.documents import PlanError, PlanVersion, plan_yaml

router = APIRouter(include_in_schema=False)

READERS = (Role.PLAN_ADMIN, Role.FINANCE)
"""Who may simulate (as the API's ``POST /v1/simulations``)."""

ONLY_PLANS = "Only plan admins and finance may simulate plans."

NEW_EARNINGS = "new earnings"
"""The band of reps paid nothing under the baseline (no percent change)."""

TOP = 5
"""How many of the biggest gainers and losers are named."""


@dataclass(frozen=True)
class FormError:
    """Why the form was refused: the field it names, the message, and each problem of the
    document at its path (as ``plan validate`` reports them)."""

    field: str
    message: str
    problems: list[tuple[str, str]] = field(default_factory=list)
    status: int = 422


@dataclass(frozen=True)
class Row:
    """One rep's line of the table."""

    rep_id: str
    name: str
    baseline: Decimal
    simulated: Decimal
    difference: Decimal
    change: Decimal | None
    errors: list[str]


@dataclass(frozen=True)
class Rank:
    """One rep's rank on the points board of the window, before and after."""

    rep_id: str
    name: str
    before: int
    after: int
    points_before: Decimal
    points_after: Decimal


@dataclass(frozen=True)
class View:
    """What the result shows, read from the report the API answers to the same reader."""

    report: dict[str, Any]
    currency: str
    rows: list[Row]
    gainers: list[Row]
    losers: list[Row]
    ranks: list[Rank]
    chart: Chart
    aggregated: bool

    def figure(self, name: str) -> Decimal | None:
        """A total of the report as a number (None when the report has none)."""
        value = self.report.get(name)
        return None if value is None else Decimal(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _row(r: dict[str, Any]) -> Row:
    return Row(
        r["rep_id"],
        r["name"],
        Decimal(r["baseline"]),
        Decimal(r["simulated"]),
        Decimal(r["difference"]),
        _decimal(r["change_percent"]),
        list(r["errors"]),
    )


def histogram(report: dict[str, Any], gettext: Any, reps: str) -> Chart:
    """How many reps fall in each band of change (the engine's bands, then the reps paid
    nothing under the baseline), the losing bands highlighted."""
    counts = report["distribution"]
    bands = [name for name, _, _ in BUCKETS] + [NEW_EARNINGS]
    losing = [high is not None and high <= 0 for _, _, high in BUCKETS] + [False]
    series = Series(reps, [counts[b] for b in bands], highlight=losing)
    return Chart("bar", [gettext(b) for b in bands], [series], extra={"integer": True})


def view_of(request: Request, result: Simulation, report: dict[str, Any]) -> View:
    """The result page's figures: the report as the reader may see it, the table, the
    movers, the points ranks (where the draft changes the points rules) and the histogram."""
    fmt = formatter(request)
    aggregated = bool(report.get("aggregated"))
    rows = [] if aggregated else [_row(r) for r in report["reps"]]
    by_id = {r.rep_id: r for r in rows}
    gainers: list[Row] = []
    losers: list[Row] = []
    ranks: list[Rank] = []
    if not aggregated:
        up, down = result.movers(TOP)
        gainers = [by_id[r.rep_id] for r in up]
        losers = [by_id[r.rep_id] for r in down]
        reps = {r.rep_id: r for r in result.reps}
        ranks = [
            Rank(
                rep_id,
                reps[rep_id].name,
                before,
                after,
                reps[rep_id].baseline_points or Decimal(0),
                reps[rep_id].simulated_points or Decimal(0),
            )
            for rep_id, before, after in result.points_ranks()
        ]
    return View(
        report=report,
        currency=result.baseline.plan.currency,
        rows=rows,
        gainers=gainers,
        losers=losers,
        ranks=ranks,
        chart=histogram(report, fmt.gettext, fmt.gettext("Reps")),
        aggregated=aggregated,
    )


# ------------------------------------------------------------------------- running


def limits(request: Request) -> tuple[int, int]:
    """The largest document (the largest record the engine takes: a plan is published as
    one event) and the largest form that can carry it (URL-encoded, at most 3 bytes a byte)."""
    settings = request.app.state.settings
    document: int = settings.max_record_bytes
    return document, min(3 * document + MAX_FORM_BYTES, settings.max_body_bytes)


def simulate(
    request: Request, engine: Engine, who: Principal, values: dict[str, str]
) -> tuple[Simulation, dict[str, Any]] | FormError:
    """The simulation of the form's draft against its baseline over the window, and the
    report the reader may see; or the error to show (Forbidden when it would reveal one
    rep's pay to a plan admin)."""
    settings = request.app.state.settings
    snap = engine.snapshot()
    try:
        draft = simulations.draft_from_text(
            values["document"],
            "document",
            context=door_limits(settings),
            max_bytes=limits(request)[0],
        )
    except simulations.DocumentTooLarge as exc:
        return FormError("document", str(exc), status=413)
    except PlanError as exc:
        return FormError("document", "The plan document is not valid.", list(exc.problems))
    try:
        chosen = int(values["baseline"]) if values["baseline"] else None
    except ValueError:
        return FormError("baseline", "Choose a published version as the baseline.")
    try:
        base = simulations.baseline_for(snap, draft, chosen)
        periods = simulations.periods_between(values["start"], values["end"], draft.plan.period)
        result = simulations.run(snap, draft, base, periods)
        report = simulations.report(who, snap, result)
    except Forbidden:
        raise
    except NotFound as exc:
        return FormError("baseline", str(exc))
    except EngineError as exc:
        where = {"from": "start", "to": "end"}.get(exc.field or "", exc.field or "start")
        return FormError(where, str(exc))
    return result, report


# -------------------------------------------------------------------------- the form

FIELDS = ("document", "start", "end", "baseline")


def published_versions(snap: Snapshot) -> list[PlanVersion]:
    """Every published version, by plan id then version."""
    return sorted(snap.book.versions, key=lambda v: v.key)


def default_window(version: PlanVersion, day: Any) -> tuple[str, str]:
    """From the plan's first period to the period of today (or its last day, if earlier)."""
    plan = version.plan
    first = Period.containing(plan.effective_from, plan.period)
    last_day = min(day, plan.effective_to) if plan.effective_to else day
    last = Period.containing(last_day, plan.period) if last_day >= plan.effective_from else first
    return str(first), str(last)


def form_context(
    request: Request, snap: Snapshot, values: dict[str, str], chosen: PlanVersion | None
) -> dict[str, Any]:
    """The form's choices: every published version (to load one), the baselines of the
    draft's plan, and the size limit of the document."""
    versions = published_versions(snap)
    plan_id = chosen.plan.plan_id if chosen is not None else None
    return {
        "values": values,
        "versions": versions,
        "chosen": chosen,
        "baselines": [v for v in versions if v.plan.plan_id == plan_id],
        "max_document": limits(request)[0],
    }


def _loaded(request: Request, snap: Snapshot) -> PlanVersion | None:
    """The published version asked for (``?plan=ID&version=N``, the latest without a
    version), else the first published plan's latest version; None when none is."""
    versions = published_versions(snap)
    plan_id = request.query_params.get("plan", "").strip()[:128]
    number = request.query_params.get("version", "").strip()[:12]
    if plan_id:
        mine = [v for v in versions if v.plan.plan_id == plan_id]
        if number.isdigit():
            mine = [v for v in mine if v.plan.version == int(number)]
        if not mine:
            return None
        return mine[-1]
    if not versions:
        return None
    first = versions[0].plan.plan_id
    return [v for v in versions if v.plan.plan_id == first][-1]


@router.get("/plans/simulate")
def simulate_page(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """The form: the document of a published version (``?plan=ID&version=N``) to edit, the
    window and the baseline, and a Simulate button."""
    if who.role not in READERS:
        return refused(request, who, ONLY_PLANS)
    snap = engine.snapshot()
    chosen = _loaded(request, snap)
    query = request.query_params
    status = 200
    missing = None
    if chosen is None and query.get("plan"):
        status = 404
        missing = f"{query.get('plan', '')[:128]} v{query.get('version', '')[:12]}".strip()
    start, end = default_window(chosen, today(request)) if chosen is not None else ("", "")
    values = {
        "document": plan_yaml(chosen.plan) if chosen is not None else "",
        "start": query.get("start", start)[:20],
        "end": query.get("end", end)[:20],
        "baseline": "",
    }
    return page(
        request,
        "simulate.html",
        who,
        status,
        missing=missing,
        error=None,
        view=None,
        **form_context(request, snap, values, chosen),
    )


@router.post("/plans/simulate")
async def simulate_post(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Simulate the form's draft (CSRF-checked): the result as an htmx fragment, or the
    whole page with the form as sent. Nothing is written."""
    if who.role not in READERS:
        return refused(request, who, ONLY_PLANS)
    fields = await form_of(request, limits(request)[1])
    values = {name: fields.get(name, "") for name in FIELDS}
    for name in ("start", "end", "baseline"):
        values[name] = values[name].strip()[:40]
    try:
        outcome = await run_in_threadpool(simulate, request, engine, who, values)
    except Forbidden as exc:
        return refused(request, who, str(exc))
    error, view = None, None
    if isinstance(outcome, FormError):
        error = outcome
    else:
        result, report = outcome
        if not report.get("aggregated"):
            reps = [r.rep_id for r in result.reps]
            access.record(request, who, "simulation", reps, result.periods[0])
        view = view_of(request, result, report)
    status = error.status if error is not None else 200
    if request.headers.get("hx-request"):
        return page(request, "fragments/simulation.html", who, status, error=error, view=view)
    snap = engine.snapshot()
    chosen = None
    if view is not None:
        chosen = next(
            (v for v in snap.book.versions if v.plan.plan_id == result.draft.plan.plan_id), None
        )
    return page(
        request,
        "simulate.html",
        who,
        status,
        missing=None,
        error=error,
        view=view,
        **form_context(request, snap, values, chosen),
    )
