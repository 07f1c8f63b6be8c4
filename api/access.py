"""Recording reads of pay in the access log: who (the caller), from where (the client's
address), what (the route, the reps shown, the period) and when."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request

from api.auth import Principal
from projections.access_log import AccessLog


def log_of(request: Request) -> AccessLog | None:
    """The application's access log (None before the engine was opened)."""
    return getattr(request.app.state, "access", None)


def record(
    request: Request,
    who: Principal,
    resource: str,
    reps: str | Iterable[str],
    period: str | None = None,
) -> None:
    """Record that the caller read these reps' pay, quota or attainment (buffered)."""
    log = log_of(request)
    if log is None:
        return
    client = request.client.host if request.client is not None else "unknown"
    log.record(
        actor_role=who.role.value,
        actor=who.subject,
        origin=client,
        resource=resource,
        reps=[reps] if isinstance(reps, str) else reps,
        period=period,
    )
