"""The plan admin's pages: plans and their versions (who published them, when and why), a
version rendered as readable rules with the chart of its payout curve, the diff of two
versions, and drafts: a YAML editor validated as you type (htmx), saved beside the read
models (never an event, never paid), its impact simulated, then published with a reason
through the same service as ``POST /v1/plans``. Plan admins read and write; finance reads."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.auth import Principal
from api.deps import EngineDep
from api.web.charts import Chart, Series
from api.web.errors import BadPageInput
from api.web.i18n import Formatter, formatter
from api.web.render import page
from api.web.rep import refused, today
from api.web.session import WebUser, form_of
from incentive_engine.domain.acceptance import PLAN_READERS, acceptance_rows, may_read_version
from incentive_engine.domain.errors import EngineError
from incentive_engine.domain.money import round_money
from incentive_engine.domain.periods import Period
from incentive_engine.domain.simulation import BUCKETS, SimulationForbidden
from incentive_engine.domain.visibility import Role, Viewer
from incentive_engine.services import plan_drafts
from incentive_engine.services.ingest import door_limits
from incentive_engine.services.plan_publishing import (
    PlanPublishError,
    Publication,
    publications,
)
from plans.curve import Curve, payout_curve
from plans.diff import diff_plans
from plans.documents import PlanError, plan_yaml
from plans.model import Plan

router = APIRouter(include_in_schema=False)

READERS = PLAN_READERS
"""Who reads plans and drafts (as ``GET /v1/plans``)."""
WRITERS = (Role.PLAN_ADMIN,)
"""Who writes drafts and publishes (as ``POST /v1/plans``)."""
NOT_A_READER = "Only plan admins and finance read plans."
NOT_A_WRITER = "Only plan admins edit and publish plans."
FORM_LIMIT = 3 * plan_drafts.MAX_DRAFT_BYTES + 8192
"""A draft's form: its text, URL-encoded (up to three bytes per byte), and a few fields."""
DEFAULT_QUOTA = {0: Decimal(300_000_000), 2: Decimal(100_000), 3: Decimal(100_000)}
"""The illustrative quota of a payout curve, by the currency's minor units."""


def _refusal(request: Request, who: Principal, roles: tuple[Role, ...]) -> Response | None:
    """The 403 page for a role that may not use this page, else None."""
    if who.role in roles:
        return None
    reason = NOT_A_WRITER if roles == WRITERS else NOT_A_READER
    return refused(request, who, formatter(request).gettext(reason))


def _now() -> datetime:
    return datetime.now(UTC)


def _context(request: Request) -> dict[str, Any]:
    """The validation context of this app (its date window), as the API's."""
    return door_limits(request.app.state.settings)


def _text(fields: dict[str, str]) -> str:
    """The document of a form, with the browser's CRLF line ends as LF."""
    return fields.get("document", "").replace("\r\n", "\n")


# ------------------------------------------------------------------------ list


@router.get("/plans")
def plans_page(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Every plan with its published versions, and the drafts."""
    if (no := _refusal(request, who, READERS)) is not None:
        return no
    found = publications(engine.store)
    by_plan: dict[str, list[Publication]] = {}
    for p in found:
        by_plan.setdefault(p.version.plan.plan_id, []).append(p)
    views = request.app.state.views
    return page(
        request,
        "plans.html",
        who,
        by_plan=by_plan,
        drafts=plan_drafts.all_drafts(views),
        writer=who.role in WRITERS,
    )


# ---------------------------------------------------------------------- drafts


@router.get("/plans/drafts/new")
def new_draft_page(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Start a draft from a catalogue template or a published version."""
    if (no := _refusal(request, who, WRITERS)) is not None:
        return no
    return _new_page(request, engine, who)


def _new_page(
    request: Request, engine: EngineDep, who: Principal, error: EngineError | None = None
) -> Response:
    versions = [p.version for p in publications(engine.store)]
    return page(
        request,
        "plan_draft_new.html",
        who,
        422 if error else 200,
        templates=plan_drafts.catalogue(),
        versions=versions,
        error=error,
    )


@router.post("/plans/drafts")
async def create_draft(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Create a draft (a plan admin's), then open it in the editor."""
    fields = await form_of(request)
    if (no := _refusal(request, who, WRITERS)) is not None:
        return no
    views = request.app.state.views
    try:
        draft_id = await run_in_threadpool(
            plan_drafts.create_draft,
            views,
            engine.store,
            fields.get("source", ""),
            who.subject,
            _now(),
        )
    except EngineError as exc:
        exc.field = exc.field or "source"
        return _new_page(request, engine, who, exc)
    return RedirectResponse(f"/plans/drafts/{draft_id}", status_code=303)


@router.post("/plans/drafts/check")
async def check_draft(request: Request, who: WebUser) -> Response:
    """The validation fragment of the editor: the document's problems at their path and line
    (as ``plan validate`` reports them), or that it is valid."""
    fields = await form_of(request, FORM_LIMIT)
    if (no := _refusal(request, who, READERS)) is not None:
        return no
    text = _text(fields)
    checked = await run_in_threadpool(plan_drafts.check, text, _context(request))
    return page(request, "fragments/plan_problems.html", who, checked=checked, text=text)


@router.get("/plans/drafts/{draft_id}")
def draft_page(
    draft_id: int, request: Request, engine: EngineDep, who: WebUser, saved: int = 0
) -> Response:
    """The editor of a draft (read-only for finance and once published)."""
    if (no := _refusal(request, who, READERS)) is not None:
        return no
    found = _draft(request, draft_id)
    return _editor(request, engine, who, found, found.text, saved=bool(saved))


def _draft(request: Request, draft_id: int) -> plan_drafts.DraftRow:
    try:
        return plan_drafts.draft(request.app.state.views, draft_id)
    except EngineError:
        raise BadPageInput("draft", str(draft_id), "no such draft") from None


def _editor(
    request: Request,
    engine: EngineDep,
    who: Principal,
    found: plan_drafts.DraftRow,
    text: str,
    *,
    saved: bool = False,
    error: EngineError | None = None,
) -> Response:
    checked = plan_drafts.check(text, _context(request))
    start = end = None
    if checked.plan is not None:
        snap = engine.snapshot()
        start, end = plan_drafts.default_window(snap, checked.plan, today(request))
    return page(
        request,
        "plan_draft.html",
        who,
        422 if error else 200,
        draft=found,
        text=text,
        checked=checked,
        writer=who.role in WRITERS and not found.published,
        saved=saved,
        error=error,
        start=start,
        end=end,
    )


@router.post("/plans/drafts/{draft_id}")
async def save_draft(draft_id: int, request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Save a draft's text (valid or not): never an event, nothing is paid."""
    fields = await form_of(request, FORM_LIMIT)
    if (no := _refusal(request, who, WRITERS)) is not None:
        return no
    found = _draft(request, draft_id)
    text = _text(fields)
    try:
        await run_in_threadpool(
            plan_drafts.save_draft,
            request.app.state.views,
            draft_id,
            text,
            who.subject,
            _now(),
            _context(request),
        )
    except EngineError as exc:
        return _editor(request, engine, who, found, text, error=exc)
    return RedirectResponse(f"/plans/drafts/{draft_id}?saved=1", status_code=303)


# ------------------------------------------------------------------- publishing


def _window(
    request: Request, engine: EngineDep, plan: Plan, start: str, end: str
) -> tuple[Period, Period]:
    """The impact's window: the periods asked for, else the default one."""
    chosen = []
    for name, text in (("start", start), ("end", end)):
        if not text:
            chosen.append(None)
            continue
        try:
            chosen.append(Period.parse(text))
        except ValueError as exc:
            raise BadPageInput(name, text, str(exc)) from None
    first, last = plan_drafts.default_window(engine.snapshot(), plan, today(request))
    return chosen[0] or first, chosen[1] or chosen[0] or last


def _publish_page(
    request: Request,
    engine: EngineDep,
    who: Principal,
    found: plan_drafts.DraftRow,
    start: str,
    end: str,
    *,
    status: int = 200,
    error: EngineError | None = None,
    reason: str = "",
) -> Response:
    checked = plan_drafts.check(found.text, _context(request))
    impact = refusal = problem = None
    first = last = None
    if checked.plan is not None:
        first, last = _window(request, engine, checked.plan, start, end)
        try:
            impact = plan_drafts.impact(engine.snapshot(), checked.plan, [first, last])
            impact.simulation.aggregated()  # a plan admin reads no one rep's pay
        except SimulationForbidden as exc:
            impact, refusal = None, str(exc)
        except EngineError as exc:
            impact, problem = None, str(exc)
    return page(
        request,
        "plan_publish.html",
        who,
        status,
        draft=found,
        checked=checked,
        impact=impact,
        refusal=refusal,
        problem=problem,
        start=first,
        end=last,
        error=error,
        reason=reason,
        buckets=[label for label, _, _ in BUCKETS],
    )


@router.get("/plans/drafts/{draft_id}/publish")
def publish_page(
    draft_id: int,
    request: Request,
    engine: EngineDep,
    who: WebUser,
    start: str = "",
    end: str = "",
) -> Response:
    """The impact of publishing the saved draft over a window, and the confirmation."""
    if (no := _refusal(request, who, WRITERS)) is not None:
        return no
    found = _draft(request, draft_id)
    return _publish_page(request, engine, who, found, start[:20], end[:20])


@router.post("/plans/drafts/{draft_id}/publish")
async def publish_draft(
    draft_id: int, request: Request, engine: EngineDep, who: WebUser
) -> Response:
    """Publish the saved draft with who and why (after the confirmation), through the same
    service as ``POST /v1/plans``; the draft then shows as published."""
    fields = await form_of(request)
    if (no := _refusal(request, who, WRITERS)) is not None:
        return no
    found = _draft(request, draft_id)
    start, end = fields.get("start", "")[:20], fields.get("end", "")[:20]
    reason = fields.get("reason", "")
    error: EngineError | None = None
    if fields.get("confirm") != "yes":
        error = EngineError("tick the box to confirm the publication", field="confirm")
    else:
        try:
            await run_in_threadpool(
                plan_drafts.publish_draft,
                request.app.state.views,
                engine.store,
                draft_id,
                by=who.subject,
                reason=reason,
                at=_now(),
                context=_context(request),
            )
        except PlanError as exc:
            error = EngineError("; ".join(f"{p}: {r}" for p, r in exc.problems), field="document")
        except PlanPublishError as exc:
            return _publish_page(
                request, engine, who, found, start, end, status=409, error=exc, reason=reason
            )
        except EngineError as exc:
            error = exc
    if error is not None:
        return _publish_page(
            request, engine, who, found, start, end, status=422, error=error, reason=reason
        )
    return RedirectResponse(f"/plans/drafts/{draft_id}", status_code=303)


# -------------------------------------------------------------- versions, diff


def _publication(engine: EngineDep, plan_id: str, version: int) -> Publication:
    for p in publications(engine.store):
        if p.version.key == (plan_id, version):
            return p
    raise BadPageInput("version", f"{plan_id} v{version}", "this version is not published")


def _quota(text: str, currency: str) -> Decimal:
    """The quota of the curve asked for, else an illustrative one for the currency."""
    from babel.numbers import get_currency_precision

    if not text:
        return DEFAULT_QUOTA.get(get_currency_precision(currency), Decimal(100_000))
    try:
        found = Decimal(text.replace("_", "").replace(",", "").replace(" ", ""))
    except InvalidOperation:
        found = Decimal(-1)
    if not found.is_finite() or found <= 0 or found >= Decimal(10) ** 18:
        raise BadPageInput("quota", text, "a positive amount, for example 300000000")
    return found


def curve_chart(curve: Curve, labels: dict[str, str], fmt: Formatter) -> Chart:
    """The payout curve as lines: the total, and each component when there are several."""
    series = [Series(fmt.gettext("Total payout"), [p.total for p in curve.points])]
    if len(curve.components) > 1:
        for i, cid in enumerate(curve.components):
            values = [p.by_component[i] for p in curve.points]
            series.append(Series(labels.get(cid, cid), values, dashed=True))
    return Chart(
        "line",
        [fmt.percent(p.attainment) for p in curve.points],
        series,
        unit="money",
        currency=curve.currency,
    )


@router.get("/plans/{plan_id}/versions/{version}")
def version_page(
    plan_id: str,
    version: int,
    request: Request,
    engine: EngineDep,
    who: WebUser,
    quota: str = "",
) -> Response:
    """A published version as readable rules, its payout curve for a quota, its YAML source
    and its hash, and who it covers has accepted it (finance records paper signatures)."""
    facts = engine.snapshot().facts
    if not may_read_version(Viewer(who.role, who.subject), facts, plan_id, version):
        return refused(request, who, formatter(request).gettext(NOT_A_READER))
    found = _publication(engine, plan_id, version)
    plan = found.version.plan
    amount = _quota(quota[:40], plan.currency)
    curve = payout_curve(plan, amount)
    fmt = formatter(request)
    labels = {c.id: c.label for c in plan.components}
    rounded = round_money(amount, plan.currency)
    return page(
        request,
        "plan_version.html",
        who,
        publication=found,
        plan=plan,
        curve=curve,
        curve_chart=curve_chart(curve, labels, fmt) if curve.components else None,
        quota=rounded,
        source=plan_yaml(plan),
        acceptances=(rows := acceptance_rows(facts, plan_id, version, who, today(request))),
        plan_reader=who.role in READERS,
        may_accept=who.role in (Role.REP, Role.MANAGER)
        and any(a.rep_id == who.subject and not a.accepted for a in rows),
        record_paper=who.role is Role.FINANCE,
        versions=[
            p.version.plan.version
            for p in publications(engine.store)
            if p.version.plan.plan_id == plan_id
        ],
    )


@router.get("/plans/{plan_id}/diff")
def diff_page(plan_id: str, request: Request, engine: EngineDep, who: WebUser) -> Response:
    """What changed from one version to another, field by field."""
    if (no := _refusal(request, who, READERS)) is not None:
        return no
    mine = [p for p in publications(engine.store) if p.version.plan.plan_id == plan_id]
    if not mine:
        raise BadPageInput("plan", plan_id, "no published version of this plan")
    numbers = [p.version.plan.version for p in mine]
    chosen = []
    for name, default in (("from", numbers[-2] if len(numbers) > 1 else numbers[0]),
                          ("to", numbers[-1])):  # fmt: skip
        text = request.query_params.get(name, "")
        if not text:
            chosen.append(default)
        elif text.isdigit() and int(text) in numbers:
            chosen.append(int(text))
        else:
            listed = ", ".join(str(n) for n in numbers)
            raise BadPageInput(name, text[:40], f"a published version: {listed}")
    before, after = (next(p for p in mine if p.version.plan.version == n) for n in chosen)
    return page(
        request,
        "plan_diff.html",
        who,
        plan_id=plan_id,
        numbers=numbers,
        before=before,
        after=after,
        changes=diff_plans(before.version.plan, after.version.plan),
    )
