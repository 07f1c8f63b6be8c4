"""Dependencies of the routes: the store, a facts snapshot kept current, the caller, access."""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Header, Request

from api.auth import Authenticator, AuthError, KeySetupError, Principal, Role, from_api_key
from api.errors import ApiError
from api.observe import remember_caller
from api.ratelimit import FailureLimiter
from incentive_engine.domain import visibility
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import Snapshot
from incentive_engine.services.engine import CutOn
from incentive_engine.services.engine import Engine as CoreEngine
from incentive_engine.settings import Settings
from projections.access_log import AccessLog
from projections.runner import make_engine


class Engine(CoreEngine):
    """The application core as the API holds it, with serialised answers cached until the
    log moves."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.responses: dict[tuple[object, ...], bytes] = {}
        """Serialised answers valid at ``position`` (emptied when the log moves)."""

    def snapshot(self, as_of: datetime | None = None, *, cut_on: CutOn = "known") -> Snapshot:
        """Facts and plan versions now (caught up, emptying the answer cache when the log
        moved) or as of an instant."""
        before = self.position
        found = super().snapshot(as_of, cut_on=cut_on)
        if as_of is None and self.position != before:
            self.responses = {}
        return found


_opening = threading.Lock()


async def engine(request: Request) -> Engine:
    """The application's engine, opened on first use (health checks answer without it)."""
    app = request.app
    found: Engine | None = app.state.engine
    if found is None:
        with _opening:
            if app.state.engine is None:
                app.state.engine = Engine(app.state.settings)
                app.state.views = make_engine(app.state.settings.resolved_views_url())
                app.state.access = AccessLog(app.state.views)
            found = app.state.engine
    return found


EngineDep = Annotated[Engine, Depends(engine)]


def authenticator(request: Request) -> Authenticator:
    """The application's token verifier, built on first use (503 if the keys are unusable,
    which ``serve`` refuses to start on)."""
    state = request.app.state
    found: Authenticator | None = getattr(state, "authenticator", None)
    if found is None:
        with _opening:
            found = getattr(state, "authenticator", None)
            if found is None:
                try:
                    found = Authenticator(state.settings)
                except KeySetupError as exc:
                    raise ApiError(503, f"authentication is not configured: {exc}") from None
                state.authenticator = found
    return found


def limiter(request: Request) -> FailureLimiter:
    """The application's bad-credential limiter (one per process)."""
    state = request.app.state
    found: FailureLimiter | None = getattr(state, "auth_limiter", None)
    if found is None:
        settings: Settings = state.settings
        found = FailureLimiter(
            settings.api_auth_failures,
            settings.api_auth_window_seconds,
            settings.api_auth_clients,
        )
        state.auth_limiter = found
    return found


async def principal(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    """The caller, from a bearer token or an API key; 401 otherwise, and 429 (with
    Retry-After) for a client that sent too many bad credentials lately."""
    if not authorization and not x_api_key:
        raise ApiError(401, "authentication required: a bearer token or an X-API-Key")
    return verify(request, authorization=authorization, api_key=x_api_key)


def verify(
    request: Request, *, authorization: str | None = None, api_key: str | None = None
) -> Principal:
    """The principal of an Authorization header (or a bare token, for the web door's cookie)
    or an API key, counted by the bad-credential limiter: 401, or 429 with Retry-After."""
    settings: Settings = request.app.state.settings
    client = request.client.host if request.client else "unknown"
    limits = limiter(request)
    wait = limits.retry_after(client)
    if wait is not None:
        raise ApiError(
            429,
            f"too many bad credentials from {client}: try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    try:
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise AuthError("use 'Authorization: Bearer <token>'")
            who = authenticator(request).from_token(token.strip())
        else:
            who = from_api_key(settings, api_key or "")
    except AuthError as exc:
        limits.failed(client)
        raise ApiError(401, str(exc)) from None
    remember_caller(request, who.role.value, who.subject)
    return who


PrincipalDep = Annotated[Principal, Depends(principal)]


def require(*roles: Role) -> object:
    """A dependency admitting only the given roles (403 for the others)."""

    async def check(who: PrincipalDep) -> Principal:
        if who.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise ApiError(403, f"the {who.role.value} role may not do this (allowed: {allowed})")
        return who

    return Depends(check)


def parse_period(text: str) -> Period:
    """A period path parameter, or a 422 naming it."""
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise ApiError(422, str(exc), details=[{"field": "period", "reason": str(exc)}]) from None


def may_see_pay(who: Principal, rep_id: str, facts: Facts, day: date) -> bool:
    """Whether the caller may see this rep's pay of the day (the domain's visibility rule)."""
    return visibility.may_see(who, rep_id, facts, day)


def check_pay_access(who: Principal, rep_id: str, facts: Facts, day: date) -> None:
    """403 unless the caller may see this rep's pay of the day (the same answer whether or
    not the rep exists, so ids cannot be probed)."""
    visibility.check(who, rep_id, facts, day)
