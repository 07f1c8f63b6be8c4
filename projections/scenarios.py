"""Saved simulation scenarios: derived numbers, kept beside the read models, never in the log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, DateTime, Integer, String, Table, Text, select

from projections.base import metadata

scenarios_table = Table(
    "scenarios",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("saved_at", DateTime(timezone=True), nullable=False),
    Column("log_position", Integer, nullable=False),
    Column("draft_hash", String(80), nullable=False),
    Column("baseline_hash", String(80), nullable=False),
    Column("window", String(100), nullable=False),
    Column("result", Text, nullable=False),
)


def save_scenario(
    conn: Connection, name: str, result: dict[str, Any], *, log_position: int, saved_at: datetime
) -> None:
    """Save (or replace) a named scenario with the plan hashes, window and log position."""
    conn.execute(scenarios_table.delete().where(scenarios_table.c.name == name))
    conn.execute(
        scenarios_table.insert().values(
            name=name,
            saved_at=saved_at,
            log_position=log_position,
            draft_hash=result["draft"]["content_hash"],
            baseline_hash=result["baseline"]["content_hash"],
            window=f"{result['periods'][0]}..{result['periods'][-1]}",
            result=json.dumps(result, ensure_ascii=False),
        )
    )


def load_scenario(conn: Connection, name: str) -> dict[str, Any] | None:
    """A saved scenario with its metadata, or None."""
    row = conn.execute(select(scenarios_table).where(scenarios_table.c.name == name)).first()
    if row is None:
        return None
    data = dict(row._mapping)
    data["result"] = json.loads(data["result"])
    return data
