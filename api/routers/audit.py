"""The audit trail for finance: explain every line of a rep's statements, verify the
tamper-evident log and the sealed periods, and download a period's audit pack."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from api import access
from api.auth import Principal, Role
from api.deps import EngineDep, parse_period, require
from api.routers.pay import AsOf, answer, instant, is_past
from incentive_engine.services.audit_trail import audit_pack_zip, explain_period
from incentive_engine.services.integrity import run_verification
from incentive_engine.services.spreadsheets import XLSX_TYPE

router = APIRouter(prefix="/v1/audit", tags=["audit"])

Finance = Annotated[Principal, require(Role.FINANCE)]


class FindingOut(BaseModel):
    """One problem verification found."""

    kind: str
    position: int | None
    event_id: str | None
    detail: str


class QuarantinedOut(BaseModel):
    """A stored event that no longer validates: resolved once finance has voided it."""

    position: int
    event_id: str | None
    type: str | None
    reason: str
    status: Literal["unresolved", "voided"]
    voided_by: str | None
    """The approval that voided it."""
    covered: bool
    """Whether it was there when the last valid checkpoint was signed (an old event)."""
    edited: bool
    """Whether it validated when it was chained and was edited since (also a finding)."""


class Verification(BaseModel):
    """What verification checked (events chained, closed periods recomputed) and found.

    ``status`` is ``failed`` when anything was found (``intact`` false), ``quarantined``
    when the log is intact but stored events that no longer validate are not voided yet
    (the statements they concern cannot be computed), else ``ok``; ``ok`` is true only
    for ``ok``."""

    ok: bool
    status: Literal["ok", "quarantined", "failed"]
    intact: bool
    """Nothing edited, deleted, inserted or reordered; checkpoints and seals hold."""
    events: int
    periods: int
    summary: str
    """Verified up to which signed checkpoint, or where it failed."""
    warnings: list[str]
    findings: list[FindingOut]
    quarantined: list[QuarantinedOut]


class StatementSummary(BaseModel):
    """A statement explained: its plan, total and hash."""

    rep_id: str
    period: str
    plan_id: str
    plan_version: int
    plan_hash: str
    currency: str
    total: str
    hash: str


class Explanation(BaseModel):
    """From the paid total to each line, its rule, tier and rate, and the events behind it
    (with their recorded times and sources)."""

    rep_id: str
    period: str
    statements: list[StatementSummary]
    chains: list[dict[str, Any]]


# Declared before /{rep}/{period}, which would otherwise also match /export/{period}.
@router.get("/export/{period}", response_class=Response)
def export(
    period: str,
    request: Request,
    engine: EngineDep,
    who: Finance,
    fmt: Annotated[
        Literal["zip", "xlsx"],
        Query(alias="format", description="zip (the whole pack) or xlsx (its tables alone)."),
    ] = "zip",
) -> Response:
    """The period's audit pack as a zip: statements, lines, payouts, adjustments, the events
    behind every line, the plan documents, the tables as one XLSX workbook (``tables.xlsx``)
    and a manifest with each file's sha256; ``?format=xlsx`` answers the workbook alone."""
    the_period = parse_period(period)
    name, body = audit_pack_zip(
        engine, the_period, request.app.state.views, tables_only=fmt == "xlsx"
    )
    access.record(request, who, "audit pack", "*", str(the_period))  # every rep of the period
    if fmt == "xlsx":
        return Response(
            body,
            media_type=XLSX_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/verify", response_model=Verification)
def verify_log(request: Request, engine: EngineDep, who: Finance) -> Verification:
    """Recompute the hash chain from the log against the chain read model and the signed
    checkpoints, and every closed period's statements: ``ok`` false with the findings (the
    first bad position and the kind of change) when anything was edited, deleted, inserted,
    reordered, or the chain rebuilt to hide it, and also (status ``quarantined``) while a
    stored event that no longer validates is not voided; then extend the chain with new
    events."""
    report = run_verification(engine, request.app.state.views)
    summary = report.summary()
    if report.quarantined:
        summary += f"; {report.quarantine_summary()}"
    return Verification(
        ok=report.status == "ok",
        status=report.status,
        intact=report.ok,
        events=report.events,
        periods=report.periods,
        summary=summary,
        warnings=report.warnings,
        findings=[
            FindingOut(kind=f.kind, position=f.position, event_id=f.event_id, detail=f.detail)
            for f in report.findings
        ],
        quarantined=[
            QuarantinedOut(
                position=q.position,
                event_id=q.event_id,
                type=q.type,
                reason=q.reason,
                status="voided" if q.resolved else "unresolved",
                voided_by=q.voided_by,
                covered=q.covered,
                edited=q.edited,
            )
            for q in report.quarantined
        ],
    )


@router.get("/{rep}/{period}", response_model=Explanation)
def explain(
    rep: str, period: str, request: Request, engine: EngineDep, who: Finance, as_of: AsOf = None
) -> Response:
    """The explain chain of every line of a rep's statements for a period."""
    the_period = parse_period(period)
    as_of = instant(as_of)
    snap = engine.snapshot(as_of)
    found = explain_period(snap, engine.store, rep, the_period)
    access.record(request, who, "explain", rep, str(the_period))
    body = Explanation(
        rep_id=found["rep_id"],
        period=found["period"],
        statements=[StatementSummary(**s) for s in found["statements"]],
        chains=found["chains"],
    )
    return answer(request, body, immutable=is_past(as_of))
