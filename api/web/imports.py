"""Importing a CRM export in the web app (finance, and integration users within their write
scope): choose a shipped column mapping or upload one, upload the CSV or XLSX file, check it
(a dry run: counts per event type, the first rows as events, the problems by row, column and
field) or import it (all or nothing).  The same roles, write scopes, limits and service as
``POST /v1/imports`` (``services.imports.import_upload``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, Role
from api.deps import EngineDep
from api.web.render import page
from api.web.rep import refused
from api.web.session import WebUser, upload_form
from incentive_engine.domain.mappings import MappingError
from incentive_engine.services.imports import (
    ImportReport,
    SourceError,
    TooManyRows,
    catalogue,
    choose_mapping,
    import_upload,
)

router = APIRouter(include_in_schema=False)

MAY_IMPORT = (Role.FINANCE, Role.INTEGRATION)
"""The roles ``POST /v1/imports`` accepts: the web page mirrors them."""
ONLY_IMPORTERS = "Only finance (or an integration user) may import CRM exports."
PROBLEMS_SHOWN = 200
"""How many problems the page lists (the count says how many there are)."""


def _shown(value: Any) -> str:
    """A field's value as text: a list of items (splits) as ``a=1, b=2 | ...``."""
    if isinstance(value, list):
        return " | ".join(_shown(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_shown(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fields(event: dict[str, Any]) -> list[tuple[str, str]]:
    """A sample event's fields for the page (nested ones dotted), without row, type and id."""
    found: list[tuple[str, str]] = []
    for key, value in event.items():
        if key in ("row", "type", "event_id"):
            continue
        if isinstance(value, dict):
            found.extend((f"{key}.{k}", v) for k, v in _fields(value))
        else:
            found.append((key, _shown(value)))
    return found


def _page(
    request: Request,
    who: Principal,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    result: ImportReport | None = None,
    error: dict[str, Any] | None = None,
) -> Response:
    """The import page: the form, and the outcome of a check or an import."""
    report = result.report if result is not None else None
    problems = [e.as_dict() for e in report.errors] if report is not None else []
    return page(
        request,
        "imports.html",
        who,
        status,
        mappings=catalogue(),
        values=values or {},
        result=result,
        problems=problems[:PROBLEMS_SHOWN],
        more=max(0, len(problems) - PROBLEMS_SHOWN),
        error=error,
        scope=who.write_scope().describe(),
        max_rows=request.app.state.settings.import_max_rows,
        fields_of=_fields,
    )


@router.get("/imports")
def imports_page(request: Request, who: WebUser) -> Response:
    """The import form."""
    if who.role not in MAY_IMPORT:
        return refused(request, who, ONLY_IMPORTERS)
    return _page(request, who)


@router.post("/imports")
async def run_import(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """Check (``action=check``: a dry run, nothing stored) or import (``action=import``: all
    or nothing) the uploaded file through the chosen mapping (CSRF-checked multipart form)."""
    fields, files = await upload_form(request)
    if who.role not in MAY_IMPORT:
        return refused(request, who, ONLY_IMPORTERS)
    values = {k: fields.get(k, "") for k in ("mapping", "sheet", "action")}
    upload = files.get("file")
    if upload is None:
        error = {"kind": "file", "message": "no file: choose the CSV or XLSX export"}
        return _page(request, who, status=422, values=values, error=error)
    try:
        mapping = choose_mapping(fields.get("mapping") or None, files.get("mapping_file"))
    except MappingError as exc:
        error = {"kind": "mapping", "problems": exc.problems}
        return _page(request, who, status=422, values=values, error=error)
    except SourceError as exc:
        error = {"kind": "mapping", "message": str(exc)}
        return _page(request, who, status=422, values=values, error=error)
    dry_run = fields.get("action") != "import"
    name, data = upload
    writer = f"the {who.role.value} {who.subject!r}"
    try:
        result = await run_in_threadpool(
            lambda: import_upload(
                engine.store, name, data, mapping, scope=who.write_scope(), writer=writer,
                sheet=fields.get("sheet", "").strip() or None, dry_run=dry_run,
            )
        )  # fmt: skip
    except SourceError as exc:
        status = 413 if isinstance(exc, TooManyRows) else 422
        error = {"kind": "file", "message": f"{name}: {exc}"}
        return _page(request, who, status=status, values=values, error=error)
    report = result.report
    forbidden = sorted({getattr(e, "event_type", "") for e in report.errors if e.forbidden})
    if forbidden:
        error = {"kind": "scope", "types": ", ".join(forbidden)}
        return _page(request, who, status=403, values=values, result=result, error=error)
    status = 422 if report.errors and not dry_run else 200
    return _page(request, who, status=status, values=values, result=result)
