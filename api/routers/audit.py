"""The audit trail for finance: explain every line of a rep's statements, verify the
tamper-evident log and the sealed periods, and download a period's audit pack."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from api import access
from api.auth import Principal, Role
from api.deps import EngineDep, parse_period, require
from api.routers.pay import AsOf, answer, instant, is_past
from incentive_engine.services.audit_trail import explain_line, export_pack
from incentive_engine.services.commissions import rep_statements
from incentive_engine.services.integrity import guard_export, run_verification
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
    guard_export(
        engine, the_period, what=f"the audit pack of {the_period}", views=request.app.state.views
    )
    snap = engine.snapshot()
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="audit-pack-") as tmp:
        directory = Path(tmp) / str(the_period)
        export_pack(snap, engine.store, the_period, directory)
        workbook = (directory / "tables.xlsx").read_bytes()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as pack:
            for path in sorted(directory.rglob("*")):
                if path.is_file():
                    pack.write(path, f"{the_period}/{path.relative_to(directory).as_posix()}")
    access.record(request, who, "audit pack", "*", str(the_period))  # every rep of the period
    if fmt == "xlsx":
        return Response(
            workbook,
            media_type=XLSX_TYPE,
            headers={
                "Content-Disposition": f'attachment; filename="audit-tables-{the_period}.xlsx"'
            },
        )
    name = f"audit-pack-{the_period}.zip"
    return Response(
        buffer.getvalue(),
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
    found = rep_statements(snap, rep, the_period)
    access.record(request, who, "explain", rep, str(the_period))
    body = Explanation(
        rep_id=rep,
        period=str(the_period),
        statements=[
            StatementSummary(
                rep_id=s.rep_id,
                period=s.period,
                plan_id=s.plan_id,
                plan_version=s.plan_version,
                plan_hash=s.plan_hash,
                currency=s.currency,
                total=str(s.total),
                hash=s.hash,
            )
            for s in found
        ],
        chains=[explain_line(snap, engine.store, s, ln) for s in found for ln in s.lines],
    )
    return answer(request, body, immutable=is_past(as_of))
