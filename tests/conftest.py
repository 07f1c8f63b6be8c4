"""Shared fixtures: real stores on a SQLite file and on the PostgreSQL server of this machine."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore

PG_DSN = os.environ.get("INCENTIVE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_connect() -> psycopg.Connection:
    return psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def pg_available() -> None:
    """Fail loudly (never skip) when the PostgreSQL server of this machine is missing."""
    try:
        with _pg_connect():
            pass
    except psycopg.OperationalError as exc:  # pragma: no cover
        pytest.fail(f"PostgreSQL is required at {PG_DSN}: {exc}")


@pytest.fixture
def pg_schema(pg_available: None) -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    with _pg_connect() as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings for a store in a SQLite file under tmp_path."""
    return Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}")


def postgres_settings(schema: str) -> Settings:
    """Settings for a store in a PostgreSQL schema."""
    return Settings(store_url=f"{PG_DSN}?schema={schema}")


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Store settings, once for a SQLite file and once for PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_settings(tmp_path)
    # PostgreSQL has no file beside it for the checkpoint key: one is configured, as in
    # production, on the application's side.
    from incentive_engine.store.checkpoints import create_key_file

    key = tmp_path / "checkpoint-key"
    create_key_file(key)
    return postgres_settings(request.getfixturevalue("pg_schema")).model_copy(
        update={"checkpoint_key_file": key}
    )


class StepClock:
    """A controllable clock for recorded times."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: str) -> None:
        """Move the clock to an ISO instant (UTC)."""
        value = datetime.fromisoformat(when)
        self.now = value if value.tzinfo else value.replace(tzinfo=UTC)

    def tick(self, seconds: float = 1) -> None:
        """Advance the clock."""
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> StepClock:
    """A clock the test moves by hand."""
    return StepClock()


@pytest.fixture
def store(settings: Settings, clock: StepClock) -> Iterator[EventStore]:
    """An empty event store (SQLite file or PostgreSQL schema) with a hand-moved clock."""
    with EventStore(settings, clock=clock) as s:
        yield s
