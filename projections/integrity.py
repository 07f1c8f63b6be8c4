"""Integrity records kept in the read-model database beside the read models, but never reset
with them: the signed checkpoints, and the last verification's result (so that a statement
can say cheaply how far the log it was computed from has been verified)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Boolean, Column, Connection, Integer, String, Table, select

from incentive_engine.store.checkpoints import Checkpoint
from projections.base import metadata

checkpoints_table = Table(
    "integrity_checkpoints",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("position", Integer, nullable=False),
    Column("count", Integer, nullable=False),
    Column("link", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("reason", String(300), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("signature", String(200), nullable=False),
)

status_table = Table(
    "integrity_status",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("checked_at", String(40), nullable=False),
    Column("position", Integer, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("checkpoint_number", Integer),
    Column("checkpoint_position", Integer),
    Column("failed_at", Integer),
    Column("summary", String(1000), nullable=False),
)


_ready: set[str] = set()
"""Databases (by URL) where this process has made sure the tables exist."""


def ensure_tables(conn: Connection, *, cached: bool = False) -> None:
    """Create the integrity tables when missing (a deleted read-model database comes back
    empty: verification then relies on the file copy of the checkpoints); ``cached``: once
    per database and process, so that the statements' status line costs one query."""
    url = str(conn.engine.url)
    if cached and url in _ready:
        return
    checkpoints_table.create(conn, checkfirst=True)
    status_table.create(conn, checkfirst=True)
    _ready.add(url)


def stored_checkpoints(conn: Connection) -> list[Checkpoint]:
    """Every checkpoint in the read-model database, by number."""
    ensure_tables(conn)
    rows = conn.execute(select(checkpoints_table).order_by(checkpoints_table.c.number))
    return [Checkpoint.from_dict(dict(row._mapping)) for row in rows]


def next_number(conn: Connection) -> int:
    """The number of the next checkpoint."""
    ensure_tables(conn)
    row = conn.execute(
        select(checkpoints_table.c.number).order_by(checkpoints_table.c.number.desc()).limit(1)
    ).first()
    return (row[0] if row else 0) + 1


def record_checkpoint(conn: Connection, checkpoint: Checkpoint) -> None:
    """Store a signed checkpoint."""
    ensure_tables(conn)
    conn.execute(checkpoints_table.insert().values(**checkpoint.as_dict()))


@dataclass(frozen=True)
class Status:
    """The last verification: up to which position, and what it found."""

    checked_at: str
    position: int
    ok: bool
    checkpoint_number: int | None
    checkpoint_position: int | None
    failed_at: int | None
    summary: str


def last_status(conn: Connection) -> Status | None:
    """The last verification's result, if any (one row read)."""
    ensure_tables(conn, cached=True)
    row = conn.execute(select(status_table).where(status_table.c.id == 1)).first()
    if row is None:
        return None
    data = dict(row._mapping)
    del data["id"]
    return Status(**data)


def record_status(conn: Connection, status: Status) -> None:
    """Keep a verification's result (replacing the previous one)."""
    ensure_tables(conn)
    values = {"id": 1, **status.__dict__}
    if conn.execute(status_table.update().where(status_table.c.id == 1).values(values)).rowcount:
        return
    conn.execute(status_table.insert().values(values))
