"""Revoked API tokens: a deny list by token id and a per-subject "not before", kept in the
read-model database where every API process reads them, through a short-lived cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Column, Engine, Integer, String, Table, Text, delete, select
from sqlalchemy.exc import SQLAlchemyError

from incentive_engine.domain.errors import Unavailable
from projections.base import metadata

KEEP_SECONDS = 7 * 24 * 3600
"""How long a revoked token id is kept: longer than any token this engine issues lives."""

revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("jti", String(200), primary_key=True),
    Column("revoked_at", Integer, nullable=False),
    Column("forget_after", Integer, nullable=False),
    Column("reason", Text, nullable=False, default=""),
)

subject_not_before = Table(
    "token_subject_not_before",
    metadata,
    Column("subject", String(200), primary_key=True),
    Column("not_before", Integer, nullable=False),
    Column("reason", Text, nullable=False, default=""),
)


def _tables(engine: Engine) -> None:
    """Bring the database to the newest migration (which creates the revocation tables)."""
    from projections.schema import ensure

    ensure(engine)


def revoke_id(engine: Engine, jti: str, *, now: float, reason: str = "") -> None:
    """Deny the token with this id (kept for KEEP_SECONDS), and forget expired entries."""
    _tables(engine)
    with engine.begin() as conn:
        conn.execute(delete(revoked_tokens).where(revoked_tokens.c.forget_after < int(now)))
        conn.execute(delete(revoked_tokens).where(revoked_tokens.c.jti == jti))
        conn.execute(
            revoked_tokens.insert().values(
                jti=jti, revoked_at=int(now), forget_after=int(now) + KEEP_SECONDS, reason=reason
            )
        )


def revoke_subject(engine: Engine, subject: str, *, before: float, reason: str = "") -> None:
    """Deny every token of a subject issued at or before the instant (epoch seconds)."""
    _tables(engine)
    with engine.begin() as conn:
        conn.execute(delete(subject_not_before).where(subject_not_before.c.subject == subject))
        conn.execute(
            subject_not_before.insert().values(
                subject=subject, not_before=int(before), reason=reason
            )
        )


@dataclass(frozen=True)
class DenyList:
    """One reading of the revocation tables."""

    ids: frozenset[str]
    not_before: dict[str, int]

    def refusal(self, jti: str | None, subject: str, issued_at: int | None) -> str | None:
        """Why a token is revoked, or None."""
        if jti is not None and jti in self.ids:
            return "the token has been revoked"
        limit = self.not_before.get(subject)
        if limit is not None and (issued_at is None or issued_at <= limit):
            return "the token was issued before its subject's tokens were revoked"
        return None


def read_deny_list(engine: Engine, *, now: float) -> DenyList:
    """The revocations in force now (the tables must exist: ``_tables``)."""
    with engine.connect() as conn:
        ids = conn.execute(
            select(revoked_tokens.c.jti).where(revoked_tokens.c.forget_after >= int(now))
        ).scalars()
        pairs = conn.execute(select(subject_not_before.c.subject, subject_not_before.c.not_before))
        return DenyList(frozenset(ids), {s: n for s, n in pairs})


class Revocations:
    """The deny list as an API process sees it: read again at most every ``refresh``
    seconds, so a revocation reaches every replica within that time at one query per
    interval (not per request)."""

    def __init__(
        self,
        engine: Engine,
        refresh: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.refresh = refresh
        self.clock = clock
        self.wall = wall
        self._lock = threading.Lock()
        self._current: tuple[float, DenyList] | None = None
        self._created = False

    def current(self) -> DenyList:
        """The deny list, read again if the copy is older than ``refresh`` seconds."""
        found = self._current
        if found is not None and self.clock() - found[0] < self.refresh:
            return found[1]
        with self._lock:
            found = self._current
            if found is None or self.clock() - found[0] >= self.refresh:
                try:
                    if not self._created:
                        _tables(self.engine)
                        self._created = True
                    found = (self.clock(), read_deny_list(self.engine, now=self.wall()))
                except SQLAlchemyError as exc:  # fail closed: no token is taken unchecked
                    raise Unavailable(
                        f"the token revocation list cannot be read: {type(exc).__name__}"
                    ) from exc
                self._current = found
        return found[1]

    def forget(self) -> None:
        """Read the tables again on the next check (after a revocation by this process)."""
        self._current = None
