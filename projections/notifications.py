"""Notification delivery tables, all in one place: the outbox (the notification stream on the
embedded default, written by the publisher when no Kafka is configured), the delivery ledger
(one row per notification and target: pending, delivered or dead-lettered; what makes
delivery idempotent by notification id across restarts), the notifier's cursor in the
outbox, and each rep's delivery preferences.

None of these tables can be rebuilt from the log in full (the ledger says what people were
already sent; preferences are people's choices): they are never reset by a projection
rebuild.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    select,
    update,
)

from projections.base import metadata

notification_outbox = Table(
    "notification_outbox",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("notification_id", String(400), nullable=False, unique=True),
    Column("rep_id", String(200), nullable=False),
    Column("body", Text, nullable=False),
)
"""The notification stream kept in the read-model database (embedded default): the
publisher's messages in the order sent, each once (by notification id)."""

notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("notification_id", String(400), primary_key=True),
    Column("target", String(200), primary_key=True),
    Column("rep_id", String(200), nullable=False),
    Column("kind", String(80), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
)
"""One row per notification and target (``webhook:NAME`` or ``email``); instants in UTC.
One notifier process writes it (two would each enqueue, then both could send)."""

notifier_cursor = Table(
    "notifier_cursor",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("position", Integer, nullable=False),
)
"""How far the notifier has read a stream it does not commit elsewhere (the outbox)."""

notification_preferences = Table(
    "notification_preferences",
    metadata,
    Column("rep_id", String(200), primary_key=True),
    Column("language", String(10), nullable=True),
    Column("email", String(320), nullable=True),
    Column("channels", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
"""Each rep's choices: language, e-mail address, channels switched off per kind (JSON)."""

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
"""A delivery's status."""

TABLES = (notification_outbox, notification_deliveries, notifier_cursor, notification_preferences)
"""Every table of notification delivery (for the migrations)."""


def create_tables(engine: Engine) -> Engine:
    """Create the notification tables in a read-model database (when missing); the engine."""
    metadata.create_all(engine, tables=list(TABLES))
    return engine


class OutboxProducer:
    """A producer with the ``send``/``flush`` of a KafkaProducer that writes the publisher's
    messages into the outbox table instead: the notification stream on the embedded default.
    A message sent again (same notification id) is kept once."""

    def __init__(self, engine: Engine) -> None:
        """Write into the read-model database behind ``engine``."""
        self.engine = engine
        self._buffer: list[dict[str, Any]] = []

    def send(self, topic: str, *, key: bytes, value: bytes) -> None:
        """Buffer one message (written at ``flush``)."""
        body = json.loads(value)
        self._buffer.append(
            {"notification_id": body["id"], "rep_id": key.decode(), "body": value.decode()}
        )

    def flush(self) -> None:
        """Write the buffered messages, skipping ids already in the outbox."""
        if not self._buffer:
            return
        rows, self._buffer = self._buffer, []
        with self.engine.begin() as conn:
            ids = [r["notification_id"] for r in rows]
            known = set(
                conn.scalars(
                    select(notification_outbox.c.notification_id).where(
                        notification_outbox.c.notification_id.in_(ids)
                    )
                )
            )
            fresh = {r["notification_id"]: r for r in rows if r["notification_id"] not in known}
            if fresh:
                conn.execute(insert(notification_outbox), list(fresh.values()))

    def close(self) -> None:
        """Write what is left (the KafkaProducer's ``close``)."""
        self.flush()


def read_outbox(conn: Connection, after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
    """The outbox's messages after a sequence number, in order: (seq, message)."""
    rows = conn.execute(
        select(notification_outbox.c.seq, notification_outbox.c.body)
        .where(notification_outbox.c.seq > after)
        .order_by(notification_outbox.c.seq)
        .limit(limit)
    )
    return [(seq, json.loads(body)) for seq, body in rows]


def cursor(conn: Connection, source: str) -> int:
    """The notifier's position in a stream (0: nothing read)."""
    found = conn.scalar(
        select(notifier_cursor.c.position).where(notifier_cursor.c.source == source)
    )
    return int(found or 0)


def move_cursor(conn: Connection, source: str, position: int) -> None:
    """Record the notifier's position in a stream."""
    moved = conn.execute(
        update(notifier_cursor).where(notifier_cursor.c.source == source).values(position=position)
    )
    if moved.rowcount == 0:
        conn.execute(insert(notifier_cursor).values(source=source, position=position))


@dataclass(frozen=True)
class Delivery:
    """One notification to one target, as the ledger holds it."""

    notification_id: str
    target: str
    rep_id: str
    kind: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    body: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None

    def row(self) -> dict[str, Any]:
        """The delivery as a machine-readable record (CLI JSON)."""
        return {
            "notification_id": self.notification_id,
            "target": self.target,
            "rep_id": self.rep_id,
            "kind": self.kind,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "last_error": self.last_error,
        }


def _aware(value: datetime | None) -> datetime | None:
    """An instant read back (SQLite keeps no offset: every instant is written in UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _delivery(mapping: Any) -> Delivery:
    data = dict(mapping)
    data["body"] = json.loads(data["body"])
    for key in ("next_attempt_at", "created_at", "delivered_at"):
        data[key] = _aware(data[key])
    return Delivery(**data)


def enqueue(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Add pending deliveries, each (notification id, target) once ever: a notification read
    again (a page published again, a restart) is never delivered twice. How many were new."""
    if not rows:
        return 0
    table = notification_deliveries
    known = {
        (n, t)
        for n, t in conn.execute(
            select(table.c.notification_id, table.c.target).where(
                table.c.notification_id.in_({r["notification_id"] for r in rows})
            )
        )
    }
    fresh: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["notification_id"], row["target"])
        if key in known or key in fresh:
            continue
        fresh[key] = {
            **row,
            "body": json.dumps(row["body"], ensure_ascii=False),
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": row["created_at"],
            "last_error": None,
            "delivered_at": None,
        }
    if fresh:
        conn.execute(insert(table), list(fresh.values()))
    return len(fresh)


def due(conn: Connection, now: datetime, limit: int) -> list[Delivery]:
    """Pending deliveries whose next attempt is due, oldest first."""
    rows = conn.execute(
        select(notification_deliveries)
        .where(
            notification_deliveries.c.status == PENDING,
            notification_deliveries.c.next_attempt_at <= now,
        )
        .order_by(notification_deliveries.c.created_at, notification_deliveries.c.notification_id)
        .limit(limit)
    )
    return [_delivery(r._mapping) for r in rows]


def next_due(conn: Connection) -> datetime | None:
    """When the soonest pending delivery is due (None when none is pending)."""
    found = conn.scalar(
        select(func.min(notification_deliveries.c.next_attempt_at)).where(
            notification_deliveries.c.status == PENDING
        )
    )
    if isinstance(found, str):  # SQLite's MIN over a DATETIME column answers its text
        found = datetime.fromisoformat(found)
    return _aware(found)


def record_attempt(
    conn: Connection,
    delivery: Delivery,
    *,
    status: str,
    attempts: int,
    next_attempt_at: datetime,
    error: str | None,
    at: datetime,
) -> None:
    """Record the outcome of one attempt."""
    conn.execute(
        update(notification_deliveries)
        .where(
            notification_deliveries.c.notification_id == delivery.notification_id,
            notification_deliveries.c.target == delivery.target,
        )
        .values(
            status=status,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            last_error=error,
            delivered_at=at if status == DELIVERED else None,
        )
    )


def deliveries(conn: Connection, status: str | None = None, *, limit: int = 1000) -> list[Delivery]:
    """Deliveries in the ledger (with one status, or all), oldest first."""
    query = select(notification_deliveries).order_by(
        notification_deliveries.c.created_at, notification_deliveries.c.notification_id
    )
    if status is not None:
        query = query.where(notification_deliveries.c.status == status)
    return [_delivery(r._mapping) for r in conn.execute(query.limit(limit))]


def requeue(
    conn: Connection, now: datetime, notification_id: str | None = None, target: str | None = None
) -> int:
    """Put dead-lettered deliveries back to pending (all, or those of one notification id
    and/or target) with a fresh count of attempts; how many."""
    conditions = [notification_deliveries.c.status == DEAD]
    if notification_id is not None:
        conditions.append(notification_deliveries.c.notification_id == notification_id)
    if target is not None:
        conditions.append(notification_deliveries.c.target == target)
    moved = conn.execute(
        update(notification_deliveries)
        .where(and_(*conditions))
        .values(status=PENDING, attempts=0, next_attempt_at=now)
    )
    return int(moved.rowcount or 0)


def load_preferences(conn: Connection, rep_id: str) -> dict[str, Any] | None:
    """A rep's stored preferences (language, email, channels off per kind), or None."""
    row = conn.execute(
        select(notification_preferences).where(notification_preferences.c.rep_id == rep_id)
    ).first()
    if row is None:
        return None
    data = dict(row._mapping)
    data["channels"] = json.loads(data["channels"])
    return data


def save_preferences(
    conn: Connection,
    rep_id: str,
    *,
    language: str | None,
    email: str | None,
    channels: dict[str, list[str]],
    at: datetime,
) -> None:
    """Store (or replace) a rep's preferences."""
    values = {
        "language": language,
        "email": email,
        "channels": json.dumps(channels, sort_keys=True),
        "updated_at": at,
    }
    moved = conn.execute(
        update(notification_preferences)
        .where(notification_preferences.c.rep_id == rep_id)
        .values(**values)
    )
    if moved.rowcount == 0:
        conn.execute(insert(notification_preferences).values(rep_id=rep_id, **values))


__all__ = [
    "DEAD",
    "DELIVERED",
    "PENDING",
    "TABLES",
    "Delivery",
    "OutboxProducer",
    "create_tables",
    "cursor",
    "deliveries",
    "due",
    "enqueue",
    "load_preferences",
    "move_cursor",
    "next_due",
    "read_outbox",
    "record_attempt",
    "requeue",
    "save_preferences",
]
