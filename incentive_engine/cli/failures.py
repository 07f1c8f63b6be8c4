"""Operator mistakes and unreachable services, said in one line: a read-only command on a
SQLite store that does not exist, PostgreSQL or Kafka that cannot be reached, a SQLite file
another process holds locked. Each is one line on stderr naming the address and what to
check, with its own exit code (no traceback unless ``--debug``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

EXIT_NO_STORE = 4
"""A command that only reads was pointed at a SQLite store that does not exist."""

EXIT_UNAVAILABLE = 5
"""A service could not be reached: PostgreSQL, Kafka, or a SQLite file locked by another
process."""

READ_ONLY = frozenset(
    {
        "replay", "events", "project", "publish", "statement", "payouts", "payroll",
        "explain", "attainment", "leaderboard", "points", "badges", "simulate",
        "period checks", "plan list", "plan show", "plan acceptances",
        "territory list", "territory report", "territory unassigned", "territory gaps",
        "territory design", "quota list", "quota rollup", "audit verify", "audit explain",
        "audit export", "audit checkpoint", "void list", "adjust list", "kpi", "notify",
    }
)  # fmt: skip
"""Commands (or whole groups) that only read the event store: they never create one. The
commands that write (``init``, ``ingest``, ``demo``, ``plan publish``, ``adjust``, ``period
close``, ``serve``, ``worker``...) create a missing SQLite store."""


def only_reads(command: tuple[str, ...]) -> bool:
    """Whether the command (its names below the root) only reads the event store."""
    return " ".join(command) in READ_ONLY or (bool(command) and command[0] in READ_ONLY)


def missing_store(store_url: str) -> str | None:
    """The refusal for a SQLite store whose file does not exist (None when it exists, or for
    PostgreSQL, where a missing schema is created on first use by a writer only)."""
    if not store_url.startswith("sqlite:"):
        return None
    from incentive_engine.settings import sqlite_path

    path = sqlite_path(store_url)
    if path.exists():
        return None
    return (
        f"no event store at {path}: check --store / INCENTIVE_STORE_URL (a command that only "
        f"reads never creates one); create it with `incentive-engine --store {store_url} "
        f"init`, or write to it (ingest, demo, plan publish)"
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and every cause or context behind it (each once)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _postgres_address(store_url: str) -> str:
    from incentive_engine.settings import postgres_parts

    try:
        parts = postgres_parts(store_url)
    except ValueError:
        return store_url
    return f"{parts['host']}:{parts['port']} (database {parts['dbname']}, schema {parts['schema']})"


def unavailable(exc: BaseException, store_url: str, bootstrap: str | None) -> str | None:
    """One line for a connection failure behind ``exc`` (None when it is something else):
    the service, its address, the reason and what to check."""
    from incentive_engine.settings import sqlite_path

    for item in _chain(exc):
        name = type(item).__module__.split(".")[0]
        if name == "kafka" and type(item).__name__ in (
            "KafkaTimeoutError",
            "NoBrokersAvailable",
            "KafkaConnectionError",
        ):
            where = bootstrap or "the configured brokers"
            return (
                f"cannot reach Kafka at {where}: {_first_line(item)}; check --bootstrap / "
                "INCENTIVE_KAFKA_BOOTSTRAP and that a broker listens there "
                "(INCENTIVE_KAFKA_WAIT_SECONDS sets how long to wait)"
            )
        if "database is locked" in str(item) or "database table is locked" in str(item):
            path = sqlite_path(store_url) if store_url.startswith("sqlite:") else Path("?")
            views = any(type(e).__module__.startswith("sqlalchemy") for e in _chain(exc))
            what = "the read models of the SQLite store" if views else "the SQLite store"
            return (
                f"{what} {path} is locked by another process: check for another "
                "incentive-engine command, worker or tool writing to it "
                "(INCENTIVE_SQLITE_LOCK_SECONDS sets how long to wait)"
            )
        if name == "psycopg" and type(item).__name__ in ("OperationalError", "InterfaceError"):
            return (
                f"cannot reach PostgreSQL at {_postgres_address(store_url)}: "
                f"{_first_line(item)}; check --store / INCENTIVE_STORE_URL, that the server "
                "runs and accepts TCP connections there, and the user's access"
            )
        if isinstance(item, sqlite3.OperationalError) and "unable to open" in str(item):
            return (
                f"cannot open the SQLite store of {store_url}: {_first_line(item)}; check "
                "that the folder exists and this user may write to it"
            )
    return None
