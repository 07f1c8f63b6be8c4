"""POST /v1/events: CRMs push batches of events, validated exactly as file ingest is."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, Role
from api.body import read_json
from api.deps import Engine, EngineDep, require
from api.errors import ApiError
from incentive_engine.domain.events import catalogue_schema
from incentive_engine.domain.limits import as_utc
from incentive_engine.domain.scopes import WriteScope
from incentive_engine.services.ingest import IngestService, RawRecord, SourceReport, scope_errors
from projections.idempotency import body_hash, recall, remember

router = APIRouter(prefix="/v1/events", tags=["events"])


class RecordOutcome(BaseModel):
    """What happened to one record of the batch."""

    index: int
    event_id: str | None
    status: Literal["stored", "duplicate", "refused"]


class IngestResult(BaseModel):
    """The outcome of a batch."""

    stored: int
    duplicates: int
    refused: int
    records: list[RecordOutcome]
    errors: list[dict[str, Any]] = []


def _records(data: Any, source: str, most: int) -> list[RawRecord]:
    """The batch's records (already strict JSON): a JSON array or {"events": [...]}, of at most
    ``most`` records; each record is checked as one line of a file would be."""
    items = data.get("events") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise ApiError(
            422, 'the body must be a non-empty JSON array of events, or {"events": [...]}'
        )
    if len(items) > most:
        reason = f"a batch holds at most {most} records, this one {len(items)}"
        raise ApiError(413, reason, details=[{"field": "(body)", "reason": reason}])
    records = []
    for line, item in enumerate(items, start=1):
        if isinstance(item, dict):
            records.append(RawRecord(source, line, item, ""))
        else:
            records.append(RawRecord(source, line, None, "", "a record must be a JSON object"))
    return records


def _ingest(
    engine: Engine,
    source: str,
    records: list[RawRecord],
    partial: bool,
    scope: WriteScope,
    writer: str,
    known_since: datetime | None = None,
    allow_closed_period: bool = False,
) -> SourceReport:
    """Validate and store the batch within the writer's scope (run off the event loop).

    One ingest service per engine is reused from batch to batch, as the Kafka worker does:
    it keeps the identifiers the log defines and reads only the events appended since (a new
    service per batch read every defining event of the log again: seconds on 1M events).
    Batches take turns on it, each with its writer's scope and options."""
    with engine.ingest_lock:
        service = engine.ingest_service
        if service is None:
            service = engine.ingest_service = IngestService(engine.store, scope=scope)
        service.scope, service.writer = scope, writer
        service.known_since, service.allow_closed_period = known_since, allow_closed_period
        service.allow_hint = "allow_closed_period=true"
        return service.ingest(source, lambda: records, dead_letters=_Discard() if partial else None)


@router.post(
    "",
    response_model=IngestResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": catalogue_schema()}}
            },
        }
    },
)
async def post_events(
    request: Request,
    engine: EngineDep,
    who: Annotated[Principal, require(Role.INTEGRATION, Role.FINANCE)],
    partial: Annotated[
        bool, Query(description="Store the valid records, refuse the rest.")
    ] = False,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    known_since: Annotated[
        datetime | None,
        Query(
            description="Backfilled history: when the source system knew every record of "
            "the batch (UTC unless a zone is given); a record's own source_recorded_at wins. "
            "As-of questions cut on it."
        ),
    ] = None,
    allow_closed_period: Annotated[
        bool,
        Query(
            description="Let backfilled records fall in a closed period (paid as a "
            "prior-period adjustment in the first open period)."
        ),
    ] = False,
) -> JSONResponse:
    """Validate and append a batch of events. All or nothing by default: any invalid record
    gives a 422 listing each one (index, field, reason) and nothing is stored. A record whose
    type is outside the caller's write scope refuses the whole batch with 403.

    A record may carry ``source_recorded_at``: when its source system learned the fact
    (backfilled history). It is stored beside the engine's recorded time, outside the event's
    hash, and refused when in the future or (without ``allow_closed_period``) when the event
    falls in a closed period."""
    data = await read_json(request)
    body = await request.body()
    since = as_utc(known_since) if known_since is not None else None
    options = f"|partial={partial}"
    if since is not None or allow_closed_period:
        options += f"|known_since={since}|allow_closed_period={allow_closed_period}"
    digest = body_hash(body + options.encode())
    views = request.app.state.views
    if idempotency_key:
        with views.connect() as conn:
            earlier = recall(conn, idempotency_key, who.subject)
        if earlier is not None:
            if earlier[0] != digest:
                raise ApiError(409, "this Idempotency-Key was used with a different request")
            return JSONResponse(
                earlier[2], status_code=earlier[1], headers={"Idempotent-Replayed": "true"}
            )
    source = f"http:{request.state.request_id}"
    records = _records(data, source, request.app.state.settings.max_batch_records)
    scope = who.write_scope()
    writer = f"the {who.role.value} {who.subject!r}"
    outside = scope_errors(records, scope, writer)
    if outside:
        # Out of scope: the whole batch is refused, whatever ``partial`` says.
        details = [
            {"index": e.line - 1, "event_id": e.event_id, "field": e.field, "reason": e.reason}
            for e in outside
        ]
        refused_lines = {e.line for e in outside}
        types = sorted(
            {str((r.data or {}).get("type")) for r in records if r.line in refused_lines}
        )
        raise ApiError(
            403,
            f"{writer} may not write {', '.join(types)} events; nothing was stored "
            f"(may write: {scope.describe()})",
            details=details,
        )
    report = await run_in_threadpool(
        _ingest, engine, source, records, partial, scope, writer, since, allow_closed_period
    )
    whole = [e for e in report.errors if e.line == 0]  # the batch's options, not a record
    if whole:
        details = [{"field": e.field, "reason": e.reason} for e in whole]
        raise ApiError(422, f"{whole[0].field}: {whole[0].reason}", details=details)
    refused = {e.line for e in report.errors}
    errors = [
        {"index": e.line - 1, "event_id": e.event_id, "field": e.field, "reason": e.reason}
        for e in report.errors
    ]
    status = 422 if errors and not partial else 200
    outcomes = []
    stored, duplicates = set(report.stored_ids), set(report.duplicate_ids)
    for r in records:
        status_of = (
            "refused"
            if r.line in refused
            else (
                "stored"
                if r.event_id in stored
                else "duplicate"
                if r.event_id in duplicates
                else "refused"
            )
        )
        outcomes.append(RecordOutcome(index=r.line - 1, event_id=r.event_id, status=status_of))  # type: ignore[arg-type]
    result = IngestResult(
        stored=report.stored,
        duplicates=report.duplicates,
        refused=len(refused),
        records=outcomes,
        errors=errors,
    )
    payload: dict[str, Any]
    if status == 422:
        payload = {
            "error": {
                "code": "invalid",
                "message": f"{len(refused)} record(s) refused; nothing was stored",
                "details": errors,
            },
            "request_id": request.state.request_id,
        }
    else:
        payload = result.model_dump(mode="json")
    if idempotency_key:
        with views.begin() as conn:
            remember(conn, idempotency_key, who.subject, digest, status, payload)
    return JSONResponse(payload, status_code=status)


class _Discard:
    """A dead-letter sink that keeps nothing (refused records are in the response)."""

    def write(self, record: RawRecord, errors: object) -> None:
        """Drop the record."""
