"""The access log for finance: who read which rep's pay, quota or attainment, when and from
where (JSON pages, or CSV for an auditor)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from api.access import log_of
from api.auth import Principal, Role
from api.deps import EngineDep, require
from api.routers.pay import Limit, Offset, Page, instant
from projections.access_log import columns, query

router = APIRouter(tags=["access log"])


class AccessRow(BaseModel):
    """One recorded read: who, from where, what (resource, rep or ``*`` for many, period)."""

    id: int
    at: datetime
    actor_role: str
    actor: str
    origin: str
    resource: str
    rep_id: str
    period: str | None
    reps: int


@router.get(
    "/v1/access-log",
    response_model=Page[AccessRow],
    responses={200: {"content": {"text/csv": {}}}},
)
def access_log(
    request: Request,
    engine: EngineDep,
    who: Annotated[Principal, require(Role.FINANCE)],
    rep: Annotated[str | None, Query(max_length=200, description="Reads of this rep.")] = None,
    actor: Annotated[
        str | None, Query(max_length=200, description="Reads by this subject.")
    ] = None,
    resource: Annotated[
        str | None, Query(max_length=200, description="Resource prefix (statement, kpi...).")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="From this instant (UTC if naive).")
    ] = None,
    until: Annotated[datetime | None, Query(description="Before this instant.")] = None,
    fmt: Annotated[
        Literal["json", "csv"], Query(alias="format", description="csv: every matching row.")
    ] = "json",
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response | dict[str, object]:
    """Recorded reads of pay, quota and attainment, oldest first, with filters. Finance only
    (reading the log is itself not a read of pay)."""
    log = log_of(request)
    if log is not None:
        log.flush()  # what is still buffered belongs in the answer
    views = request.app.state.views
    filters = {
        "rep_id": rep,
        "actor": actor,
        "resource": resource,
        "since": instant(since),
        "until": instant(until),
    }
    if fmt == "csv":
        rows, _ = query(views, **filters)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns())
        for row in rows:
            writer.writerow([_cell(row[c]) for c in columns()])
        headers = {"Content-Disposition": 'attachment; filename="access-log.csv"'}
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
    rows, total = query(views, limit=limit, offset=offset, **filters)
    return {"items": rows, "total": total, "limit": limit, "offset": offset}


def _cell(value: object) -> str:
    """A CSV cell: instants in ISO form; text starting like a formula is quoted with '."""
    text = value.isoformat() if isinstance(value, datetime) else "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
