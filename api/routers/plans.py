"""Plans and simulations: validate, publish, list and read plan versions (plan admins; finance
may read), and simulate a draft or published version against a baseline over history."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from api import access
from api.auth import Principal, Role
from api.body import read_json
from api.deps import Engine, EngineDep, parse_period, require
from api.errors import ApiError
from incentive_engine.domain.events import content_hash
from incentive_engine.domain.periods import Period
from incentive_engine.domain.simulation import Simulation
from incentive_engine.services import simulations
from incentive_engine.services.commissions import Snapshot
from incentive_engine.services.ingest import door_limits
from incentive_engine.services.plan_publishing import (
    get_version,
    list_versions,
    publish,
)
from plans.documents import PlanError, PlanVersion, parse_yaml, plan_from_data
from plans.model import Plan, plan_schema

router = APIRouter(prefix="/v1", tags=["plans"])

Admin = Annotated[Principal, require(Role.PLAN_ADMIN)]
Reader = Annotated[Principal, require(Role.PLAN_ADMIN, Role.FINANCE)]

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
_DOCUMENT_BODY = {
    "requestBody": {
        "required": True,
        "description": "The plan document: JSON, or YAML text with Content-Type "
        "application/yaml. Its JSON Schema: GET /v1/plans/schema.",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


# ---------------------------------------------------------------------- schemas


class Validated(BaseModel):
    """A valid plan document and the hash it would be published under."""

    valid: bool
    plan_id: str
    version: int
    name: str
    content_hash: str


class Published(BaseModel):
    """A published version (or the same document, already published)."""

    plan_id: str
    version: int
    content_hash: str
    event_id: str
    already_published: bool
    position: int


class VersionSummary(BaseModel):
    """One published plan version."""

    plan_id: str
    version: int
    name: str
    effective_from: date
    effective_to: date | None
    currency: str
    period: str
    content_hash: str
    event_id: str


class VersionPage(BaseModel):
    """A page of published versions, by plan id then version."""

    items: list[VersionSummary]
    total: int
    limit: int
    offset: int


class VersionDetail(VersionSummary):
    """A published version with its document and who published it."""

    published_by: str | None
    reason: str | None = None
    recorded_at: str | None
    document: dict[str, Any]


class SimulationRequest(BaseModel):
    """A draft document (``plan``) or a published ``plan_version`` (PLAN@VERSION) against a
    published ``baseline`` over the periods ``from``..``to``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    plan: dict[str, Any] | None = Field(None, description="A draft plan document.")
    plan_version: str | None = Field(None, max_length=200, examples=["field-sales-vn@2"])
    baseline: str = Field(max_length=200, examples=["field-sales-vn@1"])
    from_: str = Field(alias="from", max_length=20, examples=["2026-Q1"])
    to: str = Field(max_length=20, examples=["2026-Q2"])


# ----------------------------------------------------------------------- helpers


def _problems(exc: PlanError, prefix: str = "") -> ApiError:
    """Each problem of a plan document as ``{field: path, reason}``."""
    details = [{"field": prefix + path, "reason": reason} for path, reason in exc.problems]
    return ApiError(422, "the plan document is not valid", details=details)


def _context(request: Request) -> dict[str, Any]:
    """The validation context of this app's settings (its date window)."""
    return door_limits(request.app.state.settings)


async def _document(request: Request) -> Plan:
    """The plan in the body (JSON, or YAML by Content-Type), or a 422 listing each problem."""
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind in YAML_TYPES:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(400, "the body is not UTF-8 text") from None
            parsed = await run_in_threadpool(parse_yaml, text, "body")
            return await run_in_threadpool(
                plan_from_data, parsed, "body", context=_context(request)
            )
        data = await read_json(request)
        return await run_in_threadpool(plan_from_data, data, "body", context=_context(request))
    except PlanError as exc:
        raise _problems(exc) from None


def _summary(version: PlanVersion) -> dict[str, Any]:
    plan = version.plan
    return {
        "plan_id": plan.plan_id,
        "version": plan.version,
        "name": plan.name,
        "effective_from": plan.effective_from,
        "effective_to": plan.effective_to,
        "currency": plan.currency,
        "period": plan.period.value,
        "content_hash": version.content_hash,
        "event_id": version.event_id,
    }


# ------------------------------------------------------------------------ routes


@router.get("/plans/schema")
def schema(who: Reader) -> dict[str, Any]:
    """JSON Schema of the plan document."""
    return plan_schema()


@router.post("/plans/validate", response_model=Validated, openapi_extra=_DOCUMENT_BODY)
async def validate(request: Request, who: Reader) -> Validated:
    """Validate a plan document without publishing it: its content hash, or a 422 listing
    each problem as ``{field: path, reason}``."""
    plan = await _document(request)
    return Validated(
        valid=True,
        plan_id=plan.plan_id,
        version=plan.version,
        name=plan.name,
        content_hash=content_hash(plan.document()),
    )


@router.post(
    "/plans",
    response_model=Published,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_DOCUMENT_BODY,
    responses={200: {"model": Published, "description": "This document was already published."}},
)
async def publish_plan(
    request: Request,
    response: Response,
    engine: EngineDep,
    who: Admin,
    reason: Annotated[
        str | None,
        Query(max_length=500, description="Why this version is published (stored with it)."),
    ] = None,
) -> Published:
    """Publish a plan version (201), recording who published it and, optionally, why. The
    same document again is a no-op (200); another document under a published version, or a
    version not above the latest, is a 409."""
    plan = await _document(request)
    result = await run_in_threadpool(
        publish, engine.store, plan, published_by=who.subject, reason=reason
    )
    if result.already_published:
        response.status_code = status.HTTP_200_OK
    return Published(
        plan_id=plan.plan_id,
        version=plan.version,
        content_hash=result.content_hash,
        event_id=result.event_id,
        already_published=result.already_published,
        position=result.position,
    )


@router.get("/plans", response_model=VersionPage)
def plans(
    engine: EngineDep,
    who: Reader,
    plan_id: Annotated[
        str | None, Query(max_length=128, description="One plan's versions.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> VersionPage:
    """Published plan versions, by plan id then version."""
    found = [v for v in list_versions(engine.store) if plan_id in (None, v.plan.plan_id)]
    return VersionPage(
        items=[VersionSummary(**_summary(v)) for v in found[offset : offset + limit]],
        total=len(found),
        limit=limit,
        offset=offset,
    )


@router.get("/plans/{plan_id}/versions/{version}", response_model=VersionDetail)
def plan_version(plan_id: str, version: int, engine: EngineDep, who: Reader) -> VersionDetail:
    """One published version with its document (404 when it is not published)."""
    found = get_version(engine.store, plan_id, version)
    recorded = engine.store.get(found.event_id)
    published_by = getattr(recorded.event, "published_by", None) if recorded else None
    return VersionDetail(
        **_summary(found),
        published_by=published_by,
        reason=getattr(recorded.event, "reason", None) if recorded else None,
        recorded_at=recorded.recorded_at.isoformat() if recorded else None,
        document=found.plan.document(),
    )


@router.post(
    "/simulations",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": SimulationRequest.model_json_schema(by_alias=True)}
            },
        }
    },
)
async def simulation(request: Request, engine: EngineDep, who: Reader) -> dict[str, Any]:
    """What a draft document (``plan``) or a published ``plan_version`` would have paid over
    ``from``..``to``, rep by rep, against the ``baseline`` version. Writes nothing. Per-rep
    rows are pay: finance gets them; a plan admin gets the totals, the distribution and the
    anonymised changes (``aggregated``), and a 403 when fewer than two reps are covered
    (``services.simulations``, shared with the web page and the CLI)."""
    data = await read_json(request)
    try:
        body = SimulationRequest.model_validate(data)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "reason": e["msg"]}
            for e in exc.errors(include_url=False)
        ]
        raise ApiError(422, "the request is not valid", details=details) from None
    if (body.plan is None) == (body.plan_version is None):
        reason = "give exactly one of plan (a draft document) and plan_version (PLAN@VERSION)"
        raise ApiError(422, reason, details=[{"field": "plan", "reason": reason}])
    periods = (parse_period(body.from_), parse_period(body.to))
    snap, result = await run_in_threadpool(_simulate, engine, body, periods)
    found = simulations.report(who, snap, result)
    if not found.get("aggregated"):
        access.record(request, who, "simulation", [r.rep_id for r in result.reps], body.from_)
    return found


def _simulate(
    engine: Engine, body: SimulationRequest, periods: tuple[Period, Period]
) -> tuple[Snapshot, Simulation]:
    """Fold, find the versions and simulate (off the event loop: it is CPU-bound)."""
    snap = engine.snapshot()
    if body.plan is not None:
        try:
            draft = simulations.draft_from_data(body.plan, "plan")
        except PlanError as exc:
            raise _problems(exc, prefix="plan.") from None
    else:
        draft = simulations.published(snap, body.plan_version or "", "plan_version")
    base = simulations.published(snap, body.baseline, "baseline")
    return snap, simulations.run(snap, draft, base, simulations.window(*periods))
