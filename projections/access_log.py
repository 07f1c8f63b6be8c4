"""The access log: who read which rep's pay, quota or attainment, when and from where.

Append-only: this module only ever inserts into ``access_log`` (there is no update or delete
path in the code), and the table carries triggers that refuse UPDATE and DELETE on SQLite and
UPDATE, DELETE and TRUNCATE on PostgreSQL, so a door cannot rewrite who read what.

Rows are buffered and written in batches: when ``BATCH`` rows are waiting, or by the first
read that comes ``FLUSH_SECONDS`` or more after the oldest waiting row, before the access log
itself is read, and when the process stops (the API's shutdown, the end of a CLI command).
A read therefore pays an append to a list, not a database commit; the price is that a
process killed with ``kill -9`` loses the reads of its last second (or, on an idle server,
those since the last read).  A rep's reads of their own figures are summarised: the first
read of a day per resource is recorded, the repeats of that day are not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    Column,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    event,
    func,
    select,
)

from projections.base import metadata

__all__ = [
    "BATCH",
    "FLUSH_SECONDS",
    "MANY",
    "Access",
    "AccessLog",
    "access_table",
    "columns",
    "query",
]

BATCH = 64
"""Rows buffered before a write."""
FLUSH_SECONDS = 1.0
"""At most this long between a read and its row being written."""
MANY = 100
"""A read of more reps than this is recorded as one row naming ``*`` and the count."""

access_table = Table(
    "access_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor_role", String(20), nullable=False),
    Column("actor", String(200), nullable=False, index=True),
    Column("origin", String(200), nullable=False),
    Column("resource", String(200), nullable=False),
    Column("rep_id", String(200), nullable=False, index=True),
    Column("period", String(40), nullable=True),
    Column("reps", Integer, nullable=False, default=1),
)

_REFUSE_SQLITE = (
    "CREATE TRIGGER IF NOT EXISTS access_log_no_{verb} BEFORE {VERB} ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END"
)
_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'the access log is append-only'; END $$ LANGUAGE plpgsql"
)
_PG_TRIGGER = (
    "CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON access_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()"
)
for _verb in ("update", "delete"):
    event.listen(
        access_table,
        "after_create",
        DDL(_REFUSE_SQLITE.format(verb=_verb, VERB=_verb.upper())).execute_if(dialect="sqlite"),
    )
event.listen(access_table, "after_create", DDL(_PG_FUNCTION).execute_if(dialect="postgresql"))
event.listen(access_table, "after_create", DDL(_PG_TRIGGER).execute_if(dialect="postgresql"))


@dataclass(frozen=True)
class Access:
    """One read: who (role and subject), from where, what (resource, rep, period), when."""

    at: datetime
    actor_role: str
    actor: str
    origin: str
    resource: str
    rep_id: str
    period: str | None = None
    reps: int = 1


class AccessLog:
    """The buffered writer of one process (thread-safe)."""

    def __init__(self, views: Engine) -> None:
        self.views = views
        self._lock = threading.Lock()
        self._buffer: list[Access] = []
        self._seen_self: set[tuple[date, str, str, str, str | None]] = set()
        self._oldest = 0.0

    def record(
        self,
        *,
        actor_role: str,
        actor: str,
        origin: str,
        resource: str,
        reps: Iterable[str],
        period: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Buffer a read of these reps' figures (nothing when no rep was shown)."""
        names = list(dict.fromkeys(reps))
        if not names:
            return
        at = at or datetime.now(UTC)
        if names == [actor]:  # a rep (or manager) reading their own: once a day per resource
            key = (at.date(), actor_role, actor, resource, period)
            with self._lock:
                if key in self._seen_self:
                    return
                self._seen_self.add(key)
        if len(names) > MANY:
            rows = [Access(at, actor_role, actor, origin, resource, "*", period, len(names))]
        else:
            rows = [Access(at, actor_role, actor, origin, resource, r, period) for r in names]
        now = time.monotonic()
        with self._lock:
            if not self._buffer:
                self._oldest = now
            self._buffer.extend(rows)
            due = len(self._buffer) >= BATCH or now - self._oldest >= FLUSH_SECONDS
        if due:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered (one transaction)."""
        with self._lock:
            rows, self._buffer = self._buffer, []
        if not rows:
            return
        with self.views.begin() as conn:
            conn.execute(access_table.insert(), [r.__dict__ for r in rows])

    def close(self) -> None:
        """Write what is buffered (at the end of the process)."""
        self.flush()


def query(
    views: Engine,
    *,
    rep_id: str | None = None,
    actor: str | None = None,
    resource: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Rows of the access log, oldest first, with the filters, and how many match."""
    where: list[Any] = []
    if rep_id is not None:
        where.append(access_table.c.rep_id.in_((rep_id, "*")))
    if actor is not None:
        where.append(access_table.c.actor == actor)
    if resource is not None:
        where.append(access_table.c.resource.startswith(resource, autoescape=True))
    if since is not None:
        where.append(access_table.c.at >= since)
    if until is not None:
        where.append(access_table.c.at < until)
    chosen = select(access_table).where(*where).order_by(access_table.c.id)
    counted = select(func.count()).select_from(access_table).where(*where)
    if limit is not None:
        chosen = chosen.limit(limit).offset(offset)
    with views.connect() as conn:
        total = conn.execute(counted).scalar_one()
        rows = [_plain(dict(r._mapping)) for r in conn.execute(chosen)]
    return rows, total


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its instant in UTC (SQLite returns it naive)."""
    at = row["at"]
    if isinstance(at, datetime) and at.tzinfo is None:
        row["at"] = at.replace(tzinfo=UTC)
    return row


def columns() -> Sequence[str]:
    """The columns of an export, in order."""
    return [c.name for c in access_table.columns]
