"""The pay run page for finance: every rep's earned, adjustments (by the closed period they
correct), draws, total and status for a period, the figures of ``GET /v1/payouts/{period}``
(the same service), sortable and filterable by team (htmx swaps the table), totals per
currency, a histogram of totals, and the downloads finance opens: payouts as XLSX or CSV
(UTF-8 with a BOM) and the payroll export. Each view is remembered per viewer
(``projections.visits``, subject ``pay-run:{period}``) for "what changed since the last
pay-run view". Finance only: every other role gets the 403 page."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api import access
from api.auth import Principal
from api.deps import EngineDep
from api.web.boards import fragment_wanted
from api.web.charts import Chart, Series
from api.web.errors import page_period
from api.web.i18n import Formatter, formatter
from api.web.render import SECURITY_HEADERS, page
from api.web.rep import current_period, refused, today
from api.web.session import WebUser
from incentive_engine.domain.periods import Period
from incentive_engine.domain.visibility import Role
from incentive_engine.services.commissions import PayoutsIncomplete
from incentive_engine.services.integrity import IntegrityRefused, guard_export
from incentive_engine.services.payroll import MappingError, load_mapping, payroll
from incentive_engine.services.payrun import SORT_KEYS, PayRun, bands, pay_run, payout_tables
from incentive_engine.services.spreadsheets import CSV_TYPE, XLSX_TYPE, Table, csv_bytes, xlsx
from projections.visits import Visit, remember_visit

router = APIRouter(include_in_schema=False)

NOT_FINANCE = "Only finance may open the pay run."


def visit_subject(period: Period | str) -> str:
    """The subject under which a view of a period's pay run is remembered."""
    return f"pay-run:{period}"


def _finance(request: Request, who: Principal) -> Response | None:
    """The 403 page (or fragment) for anyone but finance."""
    if who.role is not Role.FINANCE:
        return refused(request, who, NOT_FINANCE)
    return None


@router.get("/pay-run")
def pay_run_start(
    request: Request, engine: EngineDep, who: WebUser, period: str | None = None
) -> Response:
    """The pay run of the period picked (``?period=``), else of the current (or latest)."""
    if (denied := _finance(request, who)) is not None:
        return denied
    if period:
        chosen = page_period(period)
    else:
        snap = engine.snapshot()
        periods = sorted(snap.book.periods(snap.facts), key=lambda p: p.start)
        found = current_period(periods, today(request))
        if found is None:
            return page(request, "pay_run.html", who, run=None, periods=[], chosen=None)
        chosen = found
    kept = {k: v for k, v in request.query_params.items() if k in ("team", "sort", "order") and v}
    query = f"?{urlencode(kept)}" if kept else ""
    return RedirectResponse(f"/pay-run/{chosen}{query}", status_code=303)


def histogram(run: PayRun, fmt: Formatter) -> list[tuple[str, Chart]]:
    """A histogram of totals per currency: how many reps' totals fall in each band."""
    charts = []
    currencies = sorted({r.currency for r in run.rows})
    for currency in currencies:
        found = bands([r.total for r in run.rows if r.currency == currency])
        labels = [
            fmt.money(b.low, currency)
            if b.low == b.high
            else f"{fmt.money(b.low, currency)} – {fmt.money(b.high, currency)}"
            for b in found
        ]
        chart = Chart("bar", labels, [Series(fmt.gettext("Reps"), [b.count for b in found])])
        charts.append((currency, chart))
    return charts


def _query(team: str, sort: str, order: str, **extra: str) -> str:
    """A query string of the chosen team, sort and order (empty values left out)."""
    kept = {"team": team, "sort": sort, "order": order, **extra}
    text = urlencode({k: v for k, v in kept.items() if v})
    return f"?{text}" if text else ""


@router.get("/pay-run/{period}.xlsx")
def payouts_xlsx(
    period: str, request: Request, engine: EngineDep, who: WebUser, partial: bool = False
) -> Response:
    """The payouts of the period as an XLSX workbook (as ``?format=xlsx`` of the API)."""
    return _payouts_download(request, engine, who, period, "xlsx", partial)


@router.get("/pay-run/{period}.csv")
def payouts_csv(
    period: str, request: Request, engine: EngineDep, who: WebUser, partial: bool = False
) -> Response:
    """The payouts of the period as CSV, UTF-8 with a BOM (Excel reads Vietnamese names)."""
    return _payouts_download(request, engine, who, period, "csv", partial)


def _payouts_download(
    request: Request, engine: EngineDep, who: Principal, period: str, kind: str, partial: bool
) -> Response:
    if (denied := _finance(request, who)) is not None:
        return denied
    the_period = page_period(period)
    try:
        guard_export(
            engine, the_period, what=f"the payouts of {the_period}", views=request.app.state.views
        )
    except IntegrityRefused as exc:
        return _cannot(request, who, the_period, str(exc))
    snap = engine.snapshot()
    run = pay_run(snap, the_period, hold=engine.settings.hold_unaccepted)
    if run.failures and not partial:
        reps = ", ".join(dict.fromkeys(f.rep_id for f in run.failures))
        return _cannot(
            request,
            who,
            the_period,
            f"the statements of {reps} cannot be computed: download the other reps' payouts "
            "with the partial download, or void or repair the event cited",
        )
    access.record(request, who, "payouts", [r.rep_id for r in run.rows], str(the_period))
    tables = payout_tables(run)
    return _file(tables, kind, f"payouts-{the_period}")


@router.get("/pay-run/{period}/payroll.{kind}")
def payroll_download(
    period: str,
    kind: str,
    request: Request,
    engine: EngineDep,
    who: WebUser,
    partial: bool = False,
) -> Response:
    """The payroll export of the period (CSV with a BOM, or XLSX) in the configured columns;
    the log is verified first (refused with the reason when it fails)."""
    if (denied := _finance(request, who)) is not None:
        return denied
    the_period = page_period(period)
    if kind not in ("csv", "xlsx"):
        return page(request, "pay_run_refused.html", who, 404, period=the_period,
                    reason=f"no payroll export as {kind!r}: csv or xlsx")  # fmt: skip
    try:
        mapping = load_mapping(request.app.state.settings.payroll_columns)
        found = payroll(engine, the_period, mapping, partial=partial, views=request.app.state.views)
    except (IntegrityRefused, PayoutsIncomplete, MappingError) as exc:
        return _cannot(request, who, the_period, str(exc))
    access.record(request, who, "payroll", sorted({r.rep_id for r in found.rows}), str(the_period))
    return _file([found.table()], kind, f"payroll-{the_period}")


def _file(tables: list[Table], kind: str, stem: str) -> Response:
    """A download: the tables as a workbook, or the first as CSV with a BOM."""
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{stem}.{kind}"'}
    if kind == "xlsx":
        return Response(xlsx(tables), media_type=XLSX_TYPE, headers=headers)
    return Response(csv_bytes(tables[0]), media_type=CSV_TYPE, headers=headers)


def _cannot(request: Request, who: Principal, period: Period, reason: str) -> Response:
    """The page saying why a download is refused (409: the data cannot answer as asked)."""
    return page(request, "pay_run_refused.html", who, 409, period=period, reason=reason)


@router.get("/pay-run/{period}")
def pay_run_page(
    period: str,
    request: Request,
    engine: EngineDep,
    who: WebUser,
    team: str = "",
    sort: str = "rep",
    order: str = "asc",
) -> Response:
    """The pay run of a period (or, for htmx, its table fragment): sorted by a column
    (``?sort=total&order=desc``), filtered by team (``?team=``)."""
    if (denied := _finance(request, who)) is not None:
        return denied
    the_period = page_period(period)
    started = datetime.now(UTC)
    snap = engine.snapshot()
    everything = pay_run(snap, the_period, hold=engine.settings.hold_unaccepted)
    sort = sort if sort in SORT_KEYS else "rep"
    order = "desc" if order == "desc" else "asc"
    shown = everything.of_team(team if team in everything.teams else "").sorted_by(
        sort, order == "desc"
    )
    reps = [r.rep_id for r in shown.rows] + [f.rep_id for f in shown.failures]
    if reps:
        access.record(request, who, "pay run", sorted(set(reps)), str(the_period))
    remember_visit(
        request.app.state.views,
        f"{who.role.value}:{who.subject}",
        visit_subject(the_period),
        Visit(started, engine.position),
    )
    fmt = formatter(request)
    fragment = fragment_wanted(request)
    periods = sorted(snap.book.periods(snap.facts), key=lambda p: p.start)
    chosen_team = team if team in everything.teams else ""
    return page(
        request,
        "fragments/pay_run_table.html" if fragment else "pay_run.html",
        who,
        run=shown,
        everything=everything,
        periods=periods,
        chosen=the_period,
        team=chosen_team,
        sort=sort,
        order=order,
        query=lambda **extra: _query(chosen_team, sort, order, **extra),
        sort_link=lambda key: _query(
            chosen_team, key, "desc" if key == sort and order == "asc" else "asc"
        ),
        charts=histogram(shown, fmt),
    )
