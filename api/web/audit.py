"""Finance's audit pages: the chain status (the last verification kept, and "Verify now"),
the explanation of any rep's period (paid total, lines, rules, events with their recorded
times and sources), the audit pack download, and the searchable event log with each event's
stored JSON. The same services as ``/v1/audit`` and the CLI's ``audit`` and ``events``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any, Literal, cast
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api import access
from api.auth import Principal, Role
from api.deps import EngineDep
from api.web.errors import BadPageInput, page_period
from api.web.i18n import formatter
from api.web.render import SECURITY_HEADERS, page
from api.web.rep import refused
from api.web.session import WebUser, form_of
from api.web.statements import as_of_of, wordings
from incentive_engine.domain.events import EVENT_CLASSES
from incentive_engine.domain.visibility import figure_day
from incentive_engine.services.audit_trail import audit_pack_zip, explain_period
from incentive_engine.services.commissions import CommissionError, rep_statements
from incentive_engine.services.event_search import (
    MAX_AFTER,
    MAX_ID,
    MAX_LIMIT,
    EventQuery,
    SearchInvalid,
    event_detail,
    search_events,
)
from incentive_engine.services.integrity import (
    IntegrityRefused,
    last_verification,
    run_verification,
)
from incentive_engine.settings import Settings
from plans.evaluate import EvaluationError

router = APIRouter(include_in_schema=False)

FINANCE_ONLY = "Only finance may read the audit pages."


def _zone(request: Request) -> ZoneInfo:
    settings: Settings = request.app.state.settings
    return ZoneInfo(settings.time_zone)


def _finance(request: Request, who: Principal) -> Response | None:
    """The 403 page for anyone but finance, else None."""
    return None if who.role is Role.FINANCE else refused(request, who, FINANCE_ONLY)


@router.get("/audit")
def audit_page(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """The chain status (last verification: when, up to which position, what it found), the
    explanation and audit pack forms, and the way to the event log."""
    if (no := _finance(request, who)) is not None:
        return no
    snap = engine.snapshot()
    periods = [str(p) for p in sorted(snap.book.periods(snap.facts), key=lambda p: p.start)]
    return page(
        request,
        "audit.html",
        who,
        verification=last_verification(request.app.state.views),
        head=engine.store.max_position(),
        periods=periods,
        reps=sorted(snap.facts.reps),
        verified=request.query_params.get("verified") == "1",
    )


@router.post("/audit/verify")
async def verify_now(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Verify the log now (as ``audit verify``), keep the result, and show the status."""
    await form_of(request)
    if (no := _finance(request, who)) is not None:
        return no
    run_verification(engine, request.app.state.views)
    return RedirectResponse("/audit?verified=1", status_code=303)


@router.get("/audit/pack")
def audit_pack(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """The audit pack of ``?period=`` as a zip (the log verified first, as the API does)."""
    if (no := _finance(request, who)) is not None:
        return no
    the_period = page_period(request.query_params.get("period", ""))
    try:
        name, body = audit_pack_zip(engine, the_period, request.app.state.views)
    except IntegrityRefused as exc:
        return page(request, "audit_refused.html", who, 409, reason=str(exc))
    access.record(request, who, "audit pack", "*", str(the_period))
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type="application/zip", headers=headers)


@router.get("/audit/explain")
def explain_form(request: Request, who: WebUser) -> Response:
    """The explanation form's target: on to ``/audit/{rep}/{period}``."""
    if (no := _finance(request, who)) is not None:
        return no
    rep = request.query_params.get("rep", "")
    if not rep or len(rep) > MAX_ID:
        raise BadPageInput("rep", rep[:60], f"a rep id of 1 to {MAX_ID} characters")
    the_period = page_period(request.query_params.get("period", ""))
    return RedirectResponse(f"/audit/{rep}/{the_period}", status_code=303)


def _instant(field: str, text: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """``YYYY-MM-DD`` (the day's start, or its end) or ``YYYY-MM-DDTHH:MM[:SS]`` in the
    organisation's time zone, as UTC; BadPageInput naming the field otherwise."""
    value: datetime | None = None
    if len(text) <= 25:
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                value = datetime.combine(day, time.max if end else time.min, tzinfo=zone)
            else:
                value = datetime.fromisoformat(text)
                value = value.replace(tzinfo=zone) if value.tzinfo is None else value
        except ValueError:
            value = None
    if value is None or not 1900 <= value.year <= 2999:
        example = "2026-02-28 or 2026-02-28T17:30"
        raise BadPageInput(field, text[:60], f"a day or a time, for example {example}")
    return value.astimezone(UTC)


def _number(field: str, text: str | None, default: int, low: int, high: int) -> int:
    """A whole number of the query within bounds; BadPageInput naming the field otherwise."""
    if text is None or text == "":
        return default
    if len(text) > 20 or not text.isdigit() or not low <= int(text) <= high:
        raise BadPageInput(field, text[:60], f"a whole number from {low} to {high}")
    return int(text)


def event_query(params: Mapping[str, str], types: list[str], zone: ZoneInfo) -> EventQuery:
    """The search asked for by the event log's query string (BadPageInput for a bad value)."""
    on = params.get("on") or "effective"
    if on not in ("effective", "recorded"):
        raise BadPageInput("on", on[:60], "effective or recorded")
    since, until, as_of = (params.get(k) or None for k in ("since", "until", "as_of"))
    query = EventQuery(
        types=tuple(t for t in types if t),
        rep=params.get("rep") or None,
        deal=params.get("deal") or None,
        since=None if since is None else _instant("since", since, zone, end=False),
        until=None if until is None else _instant("until", until, zone, end=True),
        on=cast(Literal["effective", "recorded"], on),
        as_of=None if as_of is None else _instant("as_of", as_of, zone, end=True),
        after=_number("after", params.get("after"), 0, 0, MAX_AFTER),
        limit=_number("limit", params.get("limit"), 50, 1, MAX_LIMIT),
    )
    try:
        return query.checked()
    except SearchInvalid as exc:
        field = exc.field or "query"
        raise BadPageInput(field, str(params.get(field, ""))[:60], str(exc)) from None


@router.get("/audit/events")
def events_page(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """The event log: filtered by type, rep, deal, effective or recorded time range and an
    as-of cut, in log order, a bounded page at a time (``after`` a position)."""
    if (no := _finance(request, who)) is not None:
        return no
    params = request.query_params
    types = params.getlist("type")
    if len(types) > len(EVENT_CLASSES):
        raise BadPageInput("type", str(len(types)), "at most one of each event type")
    query = event_query(params, types, _zone(request))
    found = search_events(engine, request.app.state.views, query)
    shown = {k: v for k, v in params.multi_items() if k != "after" and v}
    next_url = None
    if found.next_after is not None:
        next_url = "/audit/events?" + urlencode([*shown.items(), ("after", found.next_after)])
    values: dict[str, Any] = {k: params.get(k, "") for k in ("rep", "deal", "since", "until",
                                                             "as_of", "on", "limit")}  # fmt: skip
    return page(
        request,
        "audit_events.html",
        who,
        found=found,
        query=query,
        values=values,
        chosen=set(types),
        types=sorted(EVENT_CLASSES),
        next_url=next_url,
        first_url="/audit/events?" + urlencode(list(shown.items())) if query.after else None,
    )


@router.get("/audit/events/{position}")
def event_page(position: str, request: Request, engine: EngineDep, who: WebUser) -> Response:
    """One event: its row and its stored content as JSON (an htmx fragment, or a page)."""
    if (no := _finance(request, who)) is not None:
        return no
    number = _number("position", position, 0, 1, MAX_AFTER)
    found = event_detail(engine, request.app.state.views, number)
    fragment = bool(request.headers.get("hx-request"))
    template = "fragments/audit_event.html" if fragment else "audit_event.html"
    if found is None:
        return page(request, template, who, 404, detail=None, position=number)
    return page(request, template, who, detail=found, position=number)


@router.get("/audit/{rep}/{period}")
def explanation_page(
    rep: str, period: str, request: Request, engine: EngineDep, who: WebUser
) -> Response:
    """A rep's period explained: the paid total, each line, the rule (plan component) behind
    it, and the events behind that with their effective and recorded times and sources;
    as of the end of an earlier day with ``?as_of=YYYY-MM-DD``."""
    if (no := _finance(request, who)) is not None:
        return no
    the_period = page_period(period)
    as_of_text, as_of = as_of_of(request)
    snap = engine.snapshot(as_of)
    try:
        found = explain_period(snap, engine.store, rep, the_period)
        statements = rep_statements(snap, rep, the_period)
    except (CommissionError, EvaluationError) as exc:
        return page(request, "audit_explain.html", who, 404, rep=rep, period=the_period,
                    reason=str(exc), found=None)  # fmt: skip
    access.record(request, who, "explain", rep, str(the_period))
    words = wordings(snap, statements, formatter(request))
    closed = snap.facts.closed_periods.get(str(the_period))
    descriptions = {
        (s.plan_id, ln.number): words[s.plan_id].describe(ln) for s in statements for ln in s.lines
    }
    rules = {
        (c["rule"]["plan_id"], c["line"]["number"]): json.dumps(
            c["rule"]["component"], ensure_ascii=False, indent=2
        )
        for c in found["chains"]
    }
    rep_facts = snap.facts.reps.get(rep)
    return page(
        request,
        "audit_explain.html",
        who,
        rep=rep,
        name=rep_facts.name if rep_facts else rep,
        team=rep_facts.team_on(figure_day(the_period)) if rep_facts else None,
        period=the_period,
        found=found,
        statements=statements,
        descriptions=descriptions,
        rules=rules,
        sealed=closed is not None,
        as_of=as_of_text,
        reason=None,
    )
