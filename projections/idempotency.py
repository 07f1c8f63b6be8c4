"""Idempotency keys: a retried request with the same key and body gets the first response."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Column, Connection, Integer, String, Table, Text, select

from projections.base import metadata

idempotency_table = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("subject", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
)


def body_hash(body: bytes) -> str:
    """sha256 of a request body."""
    return hashlib.sha256(body).hexdigest()


def recall(conn: Connection, key: str, subject: str) -> tuple[str, int, Any] | None:
    """(request hash, status, body) of an earlier request under the key, if any."""
    row = conn.execute(
        select(idempotency_table).where(
            idempotency_table.c.key == key, idempotency_table.c.subject == subject
        )
    ).first()
    return None if row is None else (row.request_hash, row.status, json.loads(row.body))


def remember(
    conn: Connection, key: str, subject: str, request: str, status: int, body: Any
) -> None:
    """Keep the response given under a key."""
    conn.execute(
        idempotency_table.insert().values(
            key=key,
            subject=subject,
            request_hash=request,
            status=status,
            body=json.dumps(body, ensure_ascii=False),
        )
    )
