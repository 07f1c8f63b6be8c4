"""Dependencies of the routes: the store, a facts snapshot kept current, the caller, access."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, FastAPI, Header, Request

from api.auth import Authenticator, AuthError, KeySetupError, Principal, Role, from_api_key
from api.errors import ApiError
from api.observe import remember_caller
from api.ratelimit import FailureLimiter
from incentive_engine.domain import visibility
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from incentive_engine.services.engine import EVERYTHING
from incentive_engine.services.engine import Engine as CoreEngine
from incentive_engine.settings import Settings
from projections.access_log import AccessLog
from projections.runner import make_engine

T = TypeVar("T")

MAX_ANSWERS = 8192
"""Answers an API engine keeps at most (the oldest quarter is dropped when full)."""


class Engine(CoreEngine):
    """The application core as the API holds it, with answers cached until new events may
    change them: an answer about a period is kept while the events folded since are dated
    after the period's end (see ``changed_from``)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.responses: dict[tuple[object, ...], tuple[date | None, Any]] = {}
        """Answers valid at the current position: key -> (the last day of the period the
        answer is about, None for an answer about every period; the answer)."""
        self.ingest_service: Any = None
        """The ingest service of ``POST /v1/events`` (its batches take turns on it)."""
        self.ingest_lock = threading.Lock()
        self._answering = threading.Lock()
        self._computing: dict[tuple[object, ...], threading.Event] = {}
        """The answers being computed, each with the event its waiters wait on."""

    def changed(self, since: date) -> None:
        """Drop the answers the events just folded may change (all when ``EVERYTHING``)."""
        if since == EVERYTHING:
            self.responses = {}
        else:
            self.responses = {
                k: v for k, v in self.responses.items() if v[0] is not None and v[0] < since
            }

    def answer(self, key: tuple[object, ...], until: date | None, compute: Callable[[], T]) -> T:
        """The answer of ``key`` at the facts' current position (the caller caught up just
        before): cached, or computed and kept unless the facts moved meanwhile; requests
        asking at once for one missing answer wait for the first to compute it rather than
        each computing it (a board of 1M events costs seconds).  ``until``: the last day of
        the period the answer is about (None: it may depend on any day)."""
        mine: threading.Event | None = None
        for _ in range(2):
            with self._answering:
                found = self.responses.get(key)
                if found is not None:
                    return cast(T, found[1])
                busy = self._computing.get(key)
                if busy is None:
                    mine = self._computing[key] = threading.Event()
                    break
            busy.wait(timeout=60)  # then look again (the facts may have moved meanwhile)
        try:
            with self.reading():  # no fold changes the facts under the computation
                position = self.position
                value = compute()

            def keep() -> None:
                if len(self.responses) >= MAX_ANSWERS:
                    for old in list(self.responses)[: MAX_ANSWERS // 4]:
                        del self.responses[old]
                self.responses[key] = (until, value)

            self.while_at(position, keep)
            return value
        finally:
            if mine is not None:
                with self._answering:
                    del self._computing[key]
                mine.set()


_opening = threading.Lock()
log = logging.getLogger(__name__)


def open_engine(app: FastAPI) -> Engine:
    """The application's engine and read-model connections, opened once (by the first request
    or the start-up warm-up, whichever comes first)."""
    found: Engine | None = app.state.engine
    if found is None:
        with _opening:
            if app.state.engine is None:
                views = make_engine(app.state.settings.resolved_views_url())  # migrated, locked
                app.state.views = views
                app.state.access = AccessLog(views)
                app.state.engine = Engine(app.state.settings)  # last: the others are ready
            found = app.state.engine
    return found


async def engine(request: Request) -> Engine:
    """The application's engine, opened on first use (health checks answer without it)."""
    return open_engine(request.app)


WARM_SNAPSHOT_EVENTS = 100_000
"""A warm-up that folded at least this many events (no snapshot, or an old one) stores a
snapshot of the facts, so that the next start loads it instead of folding them again."""


def warm_up(app: FastAPI) -> None:
    """Open the engine and bring its facts up to the log's head before the first request asks
    (``serve`` runs this in a thread at start); after a long fold, store a snapshot.  A
    failure is logged and left to the requests to report."""
    try:
        engine = open_engine(app)
        report = engine.catch_up()
        log.info("warm-up: %s", report.describe())
        if report.events_folded >= WARM_SNAPSHOT_EVENTS:
            written = engine.write_snapshot()
            if written is not None:
                log.info("warm-up: snapshot at position %s written", f"{written.position:,}")
    except Exception:  # the store may be missing or down: every request will say so
        log.exception("warm-up failed")


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
