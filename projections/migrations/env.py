"""Alembic's environment: runs the migrations on the connection ``projections.schema`` hands
it (holding the migration lock); there is no offline (SQL script) mode."""

from __future__ import annotations

from typing import Any

from alembic import context

from projections.schema import table_names, target_metadata


def _ours(name: str | None, type_: str, parents: Any) -> bool:
    """Only the tables the migrations keep (the event store may share a PostgreSQL schema)."""
    return type_ != "table" or name in table_names()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `incentive-engine db upgrade` (projections.schema)")
context.configure(
    connection=connection,
    target_metadata=list(target_metadata()),
    render_as_batch=True,  # SQLite alters a table by copying it
    compare_type=True,
    include_name=_ours,
)
with context.begin_transaction():
    context.run_migrations()
