"""The read-model database's schema, kept by Alembic migrations (``projections/migrations``).

Every table the engine keeps outside the event store (read models, fact snapshots, saved
scenarios, idempotency keys, plan drafts, the access log, integrity checkpoints, token
revocations, home visits) is created and changed by a migration, never by ``create_all`` on
an existing database.  ``ensure`` (called by ``make_engine``, so by every process that opens
the database) brings it to the newest revision under a lock, so that replicas starting
together do not race: an exclusive lock on a file beside a SQLite database, a PostgreSQL
advisory lock named after the schema.

A database written by a release before migrations existed (tables, no ``alembic_version``)
is upgraded by the baseline migration, which keeps every row.  A brand-new empty database is
built from the models and stamped with the newest revision (Alembic's recipe; the suite
checks that models and migrations agree), which is faster than replaying every migration.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import pkgutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, MetaData, inspect, text

from incentive_engine.domain.errors import Unavailable
from projections.migrations import HEAD

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

VERSION_TABLE = "alembic_version"
"""Where Alembic keeps the database's revision."""


class SchemaError(Unavailable):
    """The read-model database cannot be brought to this code's schema (said why)."""


class ReadModelOutdated(SchemaError):
    """A read model was written by another version of its projection: a migration must
    rebuild it (``incentive-engine db upgrade``), it is never emptied silently."""


@cache
def target_metadata() -> tuple[MetaData, ...]:
    """Every table definition the migrations keep: the read models' metadata (every module
    of ``projections`` imported, so that none is left out) and the fact snapshots'."""
    import projections
    from incentive_engine.store import snapshots
    from projections.base import metadata

    for found in pkgutil.walk_packages(projections.__path__, "projections."):
        if not found.name.startswith("projections.migrations"):
            importlib.import_module(found.name)
    return (metadata, snapshots.metadata)


def table_names() -> frozenset[str]:
    """The names of every table the migrations keep."""
    return frozenset(name for m in target_metadata() for name in m.tables)


def config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the packaged migrations (no ``alembic.ini`` needed),
    running on ``connection`` when given."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision of the packaged migrations (``migrations.HEAD``, which the suite
    checks against the scripts: the check at start-up then imports no Alembic)."""
    return HEAD


def script_head() -> str | None:
    """The newest revision as Alembic reads it from the scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config()).get_current_head()


def current(engine: Engine) -> str | None:
    """The database's revision (None: never migrated, empty or from an older release)."""
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    if VERSION_TABLE not in _existing(conn):
        return None
    return conn.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))


def _existing(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


@dataclass(frozen=True)
class Upgraded:
    """What bringing a database to the newest revision did."""

    before: str | None
    after: str
    action: str
    """``none`` (already there), ``created`` (empty database built and stamped),
    ``upgraded`` (migrations run) or ``repaired`` (missing tables put back at the head)."""

    def summary(self) -> str:
        """One line for people."""
        if self.action == "none":
            return f"read-model database at revision {self.after} (up to date)"
        if self.action == "created":
            return f"read-model database created at revision {self.after}"
        if self.action == "repaired":
            return f"read-model database at revision {self.after}: missing tables re-created"
        before = self.before or "an unversioned release"
        return f"read-model database upgraded from {before} to {self.after}"


def ensure(engine: Engine) -> Upgraded:
    """Bring the database to the newest revision if it is not there (cheap when it is: one
    connection, two queries); the upgrade itself runs under the migration lock."""
    with engine.connect() as conn:
        before = _revision(conn)
        if before == head() and table_names() <= _existing(conn):
            return Upgraded(before, before, "none")
    return upgrade(engine)


def upgrade(engine: Engine, *, progress: Callable[[str], None] | None = None) -> Upgraded:
    """Run every migration the database has not had, under the migration lock (a process
    that waited for it finds the work done)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    with _migration_lock(engine) as conn:
        before = _revision(conn)
        known = {s.revision for s in ScriptDirectory.from_config(config()).walk_revisions()}
        if before is not None and before not in known:
            raise SchemaError(
                f"the read-model database is at revision {before}, which this release does "
                "not know (written by a newer release?): upgrade the code, not the database"
            )
        existing = _existing(conn)
        if before is None and not (existing & table_names()):
            for metadata in target_metadata():
                metadata.create_all(conn)
            command.stamp(config(conn), "head")
            action = "created"
        elif before != head():
            if progress is not None:
                progress(f"migrating from {before or 'an unversioned release'} to {head()}")
            command.upgrade(config(conn), "head")
            action = "upgraded"
        elif not table_names() <= existing:  # tables dropped by hand: put back at the head
            for metadata in target_metadata():
                metadata.create_all(conn)
            action = "repaired"
        else:
            action = "none"
        conn.commit()
    done = Upgraded(before, head(), action)
    if action != "none":
        log.info("%s", done.summary())
    return done


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection holding the migration lock: on SQLite an exclusive lock on a file beside
    the database (none for an in-memory one), on PostgreSQL a session advisory lock named
    after the schema."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            schema = _postgres_schema(engine, conn)
            key = "incentive-engine:migrate:" + schema
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": key})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": key})
                conn.commit()
            return
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            yield conn
            return
        import fcntl

        from incentive_engine.store.files import create_private

        lock_path = Path(database).with_name(Path(database).name + ".migrate.lock")
        create_private(lock_path)
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield conn
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _postgres_schema(engine: Engine, conn: Connection) -> str:
    """The schema the read models live in (created when missing: the read-model database
    may be opened before the event store that shares its schema)."""
    found = conn.scalar(text("SELECT current_schema()"))
    if found is not None:
        return str(found)
    options = str(engine.url.query.get("options", ""))
    wanted = options.partition("search_path=")[2].split()[0].split(",")[0] if options else ""
    if not wanted:
        raise SchemaError("the read-model database's PostgreSQL URL names no schema")
    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{wanted}"'))
    conn.commit()
    return wanted


def differences(engine: Engine) -> list[Any]:
    """What Alembic's autogenerate finds between the database and the models (empty when
    they agree); tables the migrations do not keep (the event store's) are left out."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    names = table_names()

    def include_name(name: str | None, type_: str, parents: Mapping[str, Any]) -> bool:
        return type_ != "table" or name in names

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "include_name": include_name},
        )
        return list(compare_metadata(context, list(target_metadata())))  # type: ignore[arg-type]


def check(engine: Engine) -> list[str]:
    """Every reason the database is not what this code expects (empty when it is): not at
    the newest revision, or different from the models."""
    found: list[str] = []
    revision = current(engine)
    if revision != head():
        found.append(f"at revision {revision or '(none)'}, this release's head is {head()}")
    else:
        found += [str(d) for d in differences(engine)]
    return found


def reset_read_models(conn: Connection, versions: Mapping[str, Sequence[str]]) -> list[str]:
    """For a migration: empty the named read models' tables and forget their tracking
    positions, so that the runner rebuilds them from the log (``versions`` maps a projection
    name to its tables). Returns the names that were reset."""
    existing = _existing(conn)
    for name, tables in versions.items():
        for table in tables:
            if table in existing:
                conn.execute(text(f'DELETE FROM "{table}"'))
        if "projection_tracking" in existing:
            conn.execute(text("DELETE FROM projection_tracking WHERE name = :n"), {"n": name})
    return list(versions)
