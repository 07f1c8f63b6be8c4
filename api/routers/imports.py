"""POST /v1/imports: a CSV or XLSX export uploaded through a column mapping, validated and
stored exactly as ``incentive-engine ingest FILE --mapping NAME`` does."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.auth import Principal, Role
from api.deps import EngineDep, require
from api.errors import ApiError
from incentive_engine.domain.mappings import MappingError
from incentive_engine.services.imports import (
    SourceError,
    TooManyRows,
    choose_mapping,
    import_upload,
)

router = APIRouter(prefix="/v1/imports", tags=["imports"])

MULTIPART = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The CSV (.csv) or XLSX (.xlsx) export.",
                        },
                        "mapping_file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A mapping YAML document (instead of ?mapping=).",
                        },
                    },
                }
            }
        },
    }
}


async def _upload(form: Any, field: str) -> tuple[str, bytes] | None:
    """The named file of the form, as (file name, bytes)."""
    part = form.get(field)
    if part is None:
        return None
    if isinstance(part, UploadFile):
        return part.filename or field, await part.read()
    return field, str(part).encode("utf-8")


@router.post("", openapi_extra=MULTIPART)
async def post_import(
    request: Request,
    engine: EngineDep,
    who: Annotated[Principal, require(Role.INTEGRATION, Role.FINANCE)],
    mapping: Annotated[
        str | None,
        Query(
            max_length=100,
            description="A shipped mapping's name (salesforce-opportunities, hubspot-deals, "
            "vietnamese-spreadsheet, activities, ...); or upload mapping_file.",
        ),
    ] = None,
    sheet: Annotated[
        str | None, Query(max_length=100, description="The XLSX sheet (default: the first).")
    ] = None,
    dry_run: Annotated[
        bool,
        Query(description="Validate and report (counts, first events, problems); store nothing."),
    ] = False,
    partial: Annotated[bool, Query(description="Store the valid rows, refuse the rest.")] = False,
) -> JSONResponse:
    """Import an uploaded CSV or XLSX export through a column mapping. All or nothing by
    default: any refused row gives a 422 naming each row and column, and nothing is stored.
    A mapping producing an event type outside the caller's write scope refuses the file
    with 403 (an integration key writes CRM facts only); a file of more rows than
    INCENTIVE_IMPORT_MAX_ROWS (200,000) is refused with 413 before anything is stored. A
    row is atomic: with partial=true, a row one of whose events is refused stores none."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise ApiError(
            415,
            "upload the file as multipart/form-data (field 'file')",
            details=[{"field": "(body)", "reason": "expected multipart/form-data"}],
        )
    try:
        form = await request.form(max_files=2, max_fields=4)
    except Exception as exc:  # a malformed multipart body
        raise ApiError(400, f"the multipart body cannot be read: {exc}") from None
    upload = await _upload(form, "file")
    if upload is None:
        raise ApiError(422, "no file: send it in the form field 'file'",
                       details=[{"field": "file", "reason": "missing"}])  # fmt: skip
    name, data = upload
    given = await _upload(form, "mapping_file")
    if given is None and mapping is None:
        raise ApiError(422, "name a mapping (?mapping=NAME) or upload mapping_file",
                       details=[{"field": "mapping", "reason": "missing"}])  # fmt: skip
    try:
        chosen = choose_mapping(mapping, given)
    except MappingError as exc:
        details = [{"field": f"mapping.{path}", "reason": why} for path, why in exc.problems]
        raise ApiError(422, "the mapping is not valid", details=details) from None
    except SourceError as exc:
        raise ApiError(404, str(exc), details=[{"field": "mapping", "reason": str(exc)}]) from None
    scope = who.write_scope()
    writer = f"the {who.role.value} {who.subject!r}"
    try:
        result = await run_in_threadpool(
            lambda: import_upload(
                engine.store, name, data, chosen, scope=scope, writer=writer,
                sheet=sheet, dry_run=dry_run, partial=partial,
            )
        )  # fmt: skip
    except TooManyRows as exc:
        raise ApiError(
            413, f"{name}: {exc}", details=[{"field": "file", "reason": str(exc)}]
        ) from None
    except SourceError as exc:
        raise ApiError(
            422, f"{name}: {exc}", details=[{"field": "file", "reason": str(exc)}]
        ) from None
    body = result.as_dict()
    report = result.report
    forbidden = [e for e in report.errors if e.forbidden]
    if forbidden:
        types = sorted({e.event_type for e in forbidden if hasattr(e, "event_type")})
        raise ApiError(
            403,
            f"{writer} may not write {', '.join(types)} events; nothing was stored "
            f"(may write: {scope.describe()})",
            details=[e.as_dict() for e in forbidden],
        )
    if report.errors and not partial and not dry_run:
        payload = {
            "error": {
                "code": "invalid",
                "message": f"{report.invalid} row(s) refused; nothing was stored",
                "details": body["errors"],
            },
            "request_id": request.state.request_id,
        }
        return JSONResponse(payload, status_code=422)
    return JSONResponse(body)
