"""A rep's statement pages: the statement of a period (lines in the reader's language, as of
an earlier day if asked), its CSV download and print view, and a line's explanation (an
htmx fragment). The same services and the same visibility rule as ``/v1/reps/...``: a rep
sees only their own, a manager their reports', finance everyone's."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api import access
from api.auth import Principal
from api.deps import EngineDep
from api.web.errors import BadPageInput, end_of_day, page_period
from api.web.i18n import Formatter, formatter
from api.web.render import SECURITY_HEADERS, page
from api.web.rep import OWN_PAGES, current_period, refused, today, visible_periods
from api.web.session import WebUser
from api.web.wording import Wording
from incentive_engine.domain.acceptance import row_of
from incentive_engine.domain.errors import Forbidden
from incentive_engine.domain.exports import safe_row
from incentive_engine.domain.periods import Period
from incentive_engine.domain.visibility import check, figure_day
from incentive_engine.services.audit_trail import explain_line
from incentive_engine.services.commissions import (
    CommissionError,
    Snapshot,
    find_version,
    rep_statements,
)
from incentive_engine.settings import Settings
from plans.evaluate import EvaluationError, Statement

router = APIRouter(include_in_schema=False)


@router.get("/statements")
def my_statement(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """The signed-in rep's statement of the current period."""
    if who.role not in OWN_PAGES:
        return refused(request, who, "Only reps and managers have statements of their own.")
    snap = engine.snapshot()
    current = current_period(visible_periods(snap, who, who.subject), today(request))
    if current is None:
        return page(request, "home.html", who, rep=who.subject, current=None)
    return RedirectResponse(f"/statements/{who.subject}/{current}", status_code=303)


def statements_of(
    request: Request, who: Principal, snap: Snapshot, rep: str, period: Period, template: str
) -> list[Statement] | Response:
    """The rep's statements of the period as the API computes them, or the page (403 by the
    visibility rule, or why they cannot be computed) to answer instead."""
    try:
        check(who, rep, snap.facts, figure_day(period))
    except Forbidden as exc:
        return refused(request, who, str(exc))
    try:
        return rep_statements(snap, rep, period)
    except (CommissionError, EvaluationError) as exc:
        return page(request, template, who, 404, rep=rep, period=period, reason=str(exc))


def wordings(snap: Snapshot, found: list[Statement], f: Formatter) -> dict[str, Wording]:
    """How to word each statement's lines, by plan id."""
    result = {}
    for s in found:
        try:
            version = find_version(snap, s.plan_id, s.plan_version)
        except CommissionError:
            version = None
        result[s.plan_id] = Wording(s, version, snap.facts, f)
    return result


def as_of_of(request: Request) -> tuple[str | None, datetime | None]:
    """The ``as_of`` day asked for (its text) and the instant it stands for: the end of that
    day in the organisation's time zone; (None, None) for now or a day not yet ended."""
    text = request.query_params.get("as_of") or None
    if text is None:
        return None, None
    settings: Settings = request.app.state.settings
    instant = end_of_day(text, settings.time_zone)
    if instant >= datetime.now(UTC):
        return None, None  # the day has not ended: what the engine knows now
    return text, instant


@router.get("/statements/{rep}/{period}.csv")
def statement_csv(
    rep: str, period: str, request: Request, engine: EngineDep, who: WebUser
) -> Response:
    """The statement as CSV (UTF-8 with a BOM so that Excel reads Vietnamese names): one row
    per line with its rule, tier, base, rate, amount, plan version and statement hash."""
    the_period = page_period(period)
    as_of_text, as_of = as_of_of(request)
    snap = engine.snapshot(as_of)
    found = statements_of(request, who, snap, rep, the_period, "statement.html")
    if isinstance(found, Response):
        return found
    access.record(request, who, "statement", rep, str(the_period))
    f = formatter(request)
    _ = f.gettext
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            _("Rep"),
            _("Period"),
            _("Plan"),
            _("plan version"),
            _("Line"),
            _("Rule"),
            _("Kind"),
            _("Description"),
            _("Tier"),
            _("Base"),
            _("Rate (%)"),
            _("Amount"),
            _("Currency"),
            _("Statement hash"),
        ]
    )
    words = wordings(snap, found, f)
    for s in found:
        for ln in s.lines:
            writer.writerow(
                safe_row(
                    [
                        rep,
                        str(the_period),
                        s.plan_id,
                        s.plan_version,
                        ln.number,
                        ln.component,
                        ln.kind,
                        words[s.plan_id].describe(ln),
                        ln.tier or "",
                        _plain(ln.base),
                        _plain(ln.rate),
                        _plain(ln.amount),
                        s.currency,
                        s.hash,
                    ]
                )
            )
    suffix = f"-as-of-{as_of_text}" if as_of_text else ""
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="statement-{rep}-{the_period}{suffix}.csv"',
    }
    return Response(out.getvalue().encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers=headers)  # fmt: skip


def _plain(value: Decimal | None) -> str:
    """A number as exact plain text for a spreadsheet (no exponent), empty when absent."""
    return "" if value is None else format(value, "f")


@router.get("/statements/{rep}/{period}")
def statement_page(
    rep: str, period: str, request: Request, engine: EngineDep, who: WebUser
) -> Response:
    """A rep's statement for a period: every line with its rule, tier, base, rate and amount
    in the reader's language, the statement hash and plan version; as of the end of an
    earlier day with ``?as_of=YYYY-MM-DD``; as CSV with ``?format=csv``."""
    the_period = page_period(period)
    if request.query_params.get("format") == "csv":
        return statement_csv(rep, period, request, engine, who)
    as_of_error = None
    try:
        as_of_text, as_of = as_of_of(request)
    except BadPageInput as exc:
        as_of_error, as_of_text, as_of = exc, None, None
    snap = engine.snapshot(as_of)
    found = statements_of(request, who, snap, rep, the_period, "statement.html")
    if isinstance(found, Response):
        return found
    access.record(request, who, "statement", rep, str(the_period))
    f = formatter(request)
    return page(
        request,
        "statement.html",
        who,
        422 if as_of_error else 200,
        rep=rep,
        period=the_period,
        statements=found,
        accepted={
            s.plan_id: row_of(snap.facts, s.rep_id, s.plan_id, s.plan_version) for s in found
        },
        words=wordings(snap, found, f),
        reason=None,
        as_of=as_of_text,
        as_of_error=as_of_error,
        as_of_value=request.query_params.get("as_of", ""),
        printed_at=datetime.now(UTC),
        today=today(request),
    )


@router.get("/statements/{rep}/{period}/{plan_id}/lines/{number}")
def line_explanation(
    rep: str,
    period: str,
    plan_id: str,
    number: int,
    request: Request,
    engine: EngineDep,
    who: WebUser,
) -> Response:
    """The explanation of one statement line (an htmx fragment): the rule, and the events
    behind it with their effective and recorded times (as of a day, like the page)."""
    the_period = page_period(period)
    _text, as_of = as_of_of(request)
    snap = engine.snapshot(as_of)
    found = statements_of(request, who, snap, rep, the_period, "fragments/missing.html")
    if isinstance(found, Response):
        return found
    statement = next((s for s in found if s.plan_id == plan_id), None)
    line = (
        None
        if statement is None
        else next((ln for ln in statement.lines if ln.number == number), None)
    )
    if statement is None or line is None:
        reason = f"{rep} {the_period} has no line {number} under plan {plan_id}"
        return page(request, "fragments/missing.html", who, 404, reason=reason)
    chain = explain_line(snap, engine.store, statement, line)
    access.record(request, who, "explain", rep, str(the_period))
    words = wordings(snap, [statement], formatter(request))
    return page(
        request,
        "fragments/explanation.html",
        who,
        chain=chain,
        line=line,
        statement=statement,
        description=words[statement.plan_id].describe(line),
    )
