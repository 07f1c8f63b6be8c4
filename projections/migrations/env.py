"""Alembic's environment: runs the migrations on the connection ``projections.schema`` hands
it (holding the migration lock), or, for a developer's ``alembic revision --autogenerate``,
on the ``sqlalchemy.url`` of their ``alembic.ini``; there is no offline (SQL script) mode."""

from __future__ import annotations

from typing import Any

from alembic import context

from projections.schema import table_names, target_metadata


def _ours(name: str | None, type_: str, parents: Any) -> bool:
    """Only the tables the migrations keep (the event store may share a PostgreSQL schema)."""
    return type_ != "table" or name in table_names()


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=list(target_metadata()),
        render_as_batch=True,  # SQLite alters a table by copying it
        compare_type=True,
        include_name=_ours,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("no offline mode: run `incentive-engine db upgrade`")
handed = context.config.attributes.get("connection")
if handed is not None:
    _run(handed)
else:  # a developer's alembic.ini (sqlalchemy.url): revision --autogenerate
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("run migrations with `incentive-engine db upgrade`")
    from sqlalchemy import create_engine

    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()
