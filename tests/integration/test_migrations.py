"""Schema migrations of the read-model database: a database written by release 0.1.0 (before
migrations) upgrades and keeps its rows; models and migrations agree on SQLite and
PostgreSQL; replicas upgrading at once do not race; the `db` commands."""

from __future__ import annotations

import importlib
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select, text
from typer.testing import CliRunner

from incentive_engine.cli.main import app as cli
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from projections import schema
from projections.base import Projection
from projections.idempotency import recall
from projections.migrations import HEAD
from projections.plan_drafts import all_drafts
from projections.runner import ProjectionRunner, _engine, make_engine
from projections.scenarios import load_scenario
from projections.tokens import read_deny_list
from projections.visits import last_visit
from tests.conftest import PG_DSN

FIXTURE = Path(__file__).parents[1] / "fixtures" / "views-0.1.0.sql"


@pytest.fixture(scope="module")
def legacy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The read-model database release 0.1.0 wrote (from the SQL fixture), built once."""
    path = tmp_path_factory.mktemp("legacy") / "views.db"
    db = sqlite3.connect(path)
    db.executescript("BEGIN;\n" + FIXTURE.read_text(encoding="utf-8") + "COMMIT;\n")
    db.close()
    return path


@pytest.fixture
def legacy(legacy_file: Path, tmp_path: Path) -> Settings:
    """Settings whose read-model database is a copy of 0.1.0's."""
    shutil.copyfile(legacy_file, tmp_path / "events.views.db")
    return Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}")


def unmigrated(url: str) -> Engine:
    """An engine on the database that checks nothing on opening."""
    return _engine(url, pooled=True)


def test_the_packaged_head_is_the_scripts_head() -> None:
    assert schema.head() == schema.script_head()


def test_every_projection_version_has_its_migration() -> None:
    """Bumping a projection's version needs a revision that rebuilds it (the runner refuses
    the old rows otherwise): the versions the revisions declare are the code's."""
    from alembic.script import ScriptDirectory

    declared: dict[str, int] = {}
    scripts = ScriptDirectory.from_config(schema.config())
    for script in reversed(list(scripts.walk_revisions())):  # oldest first
        declared.update(getattr(script.module, "READ_MODELS", {}))
    schema.target_metadata()  # every projections module imported
    code: dict[str, int] = {}
    stack = list(Projection.__subclasses__())
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        if cls.__module__.startswith("projections.") and "name" in vars(cls):
            code[cls.name] = cls.version
    assert declared == code


def test_a_release_0_1_0_database_upgrades_and_keeps_its_rows(legacy: Settings) -> None:
    settings = legacy
    url = settings.resolved_views_url()
    assert schema.current(unmigrated(url)) is None
    before = unmigrated(url)
    present = set(inspect(before).get_table_names())  # 0.1.0's: later revisions add tables
    with before.connect() as conn:
        counts = {
            t: conn.scalar(text(f'SELECT count(*) FROM "{t}"'))
            for t in sorted(schema.table_names() & present)
        }
    assert counts["scenarios"] == 1 and counts["idempotency_keys"] == 1
    assert counts["plan_drafts"] == 2 and counts["event_index"] == 4

    result = CliRunner().invoke(cli, ["--store", settings.store_url, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"upgraded from an unversioned release to {HEAD}" in result.output

    views = make_engine(url)
    with views.connect() as conn:
        assert {t: conn.scalar(text(f'SELECT count(*) FROM "{t}"')) for t in counts} == counts
        scenario = load_scenario(conn, "q2-richer")
        assert scenario is not None and scenario["result"]["total_delta"] == "1500000"
        assert scenario["window"] == "2026-Q1..2026-Q2"
        assert recall(conn, "key-1", "crm-bot") == (
            "ab" * 32,
            201,
            {"appended": 2, "ids": ["e1"]},
        )
        with pytest.raises(Exception, match="append-only"):  # the trigger is still there
            conn.execute(text("DELETE FROM access_log"))
    drafts = all_drafts(views)
    assert sorted((d.version, d.published_by) for d in drafts) == [(2, "boss"), (3, None)]
    deny = read_deny_list(views, now=0)
    assert deny.ids == {"jti-1"} and "crm-bot" in deny.not_before
    assert last_visit(views, "manager-1", "an") is not None
    assert schema.check(views) == []
    with EventStore(settings) as store:  # the read models' versions are this release's
        runner = ProjectionRunner(store, views, facts=lambda: None)  # type: ignore[arg-type,return-value]
        assert runner.positions()["event_index"] == 4

    again = CliRunner().invoke(cli, ["--store", settings.store_url, "db", "current"])
    assert again.exit_code == 0 and f"revision {HEAD} (up to date)" in again.output
    checked = CliRunner().invoke(cli, ["--store", settings.store_url, "db", "check"])
    assert checked.exit_code == 0, checked.output


def test_project_upgrades_on_start_and_says_so(legacy: Settings) -> None:
    assert CliRunner().invoke(cli, ["--store", legacy.store_url, "init"]).exit_code == 0
    result = CliRunner().invoke(cli, ["--store", legacy.store_url, "project"])
    assert result.exit_code == 0, result.output
    assert f"read-model database upgraded from an unversioned release to {HEAD}" in result.output
    assert schema.current(unmigrated(legacy.resolved_views_url())) == HEAD
    again = CliRunner().invoke(cli, ["--store", legacy.store_url, "project"])
    assert again.exit_code == 0 and "read-model database" not in again.output


def test_a_read_model_of_an_older_projection_version_is_rebuilt_by_the_migration(
    legacy: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the outdated read model is emptied (and said so); saved data stays; tables and
    indexes the database never had are created."""
    settings = legacy
    url = settings.resolved_views_url()
    with unmigrated(url).begin() as conn:
        conn.execute(text("UPDATE projection_tracking SET version = 2 WHERE name = 'event_index'"))
        conn.execute(text("DROP INDEX ix_event_index_known_at"))
        conn.execute(text("ALTER TABLE event_index DROP COLUMN known_at"))  # version 2 shape
        # 0.1.0 created some tables and indexes only on first use: a database may lack them
        conn.execute(text("DROP TABLE home_visits"))
        conn.execute(text("DROP INDEX ix_event_deals_deal"))
    with caplog.at_level("WARNING", logger="projections.migrations"):
        done = schema.upgrade(unmigrated(url))
    assert done.action == "upgraded"
    assert "read models of older versions, rebuilt from the log: event_index" in caplog.text
    views = make_engine(url)
    with views.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM event_index")) == 0
        assert conn.scalar(text("SELECT count(*) FROM event_counts")) == 3
        tracked = dict(conn.execute(text("SELECT name, position FROM projection_tracking")).all())
        assert "event_index" not in tracked and tracked["event_counts"] == 4
        assert conn.scalar(text("SELECT count(*) FROM scenarios")) == 1
    assert schema.check(views) == []


def test_a_database_from_a_newer_release_is_refused(legacy: Settings) -> None:
    settings = legacy
    url = settings.resolved_views_url()
    schema.upgrade(unmigrated(url))
    with unmigrated(url).begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(schema.SchemaError, match=r"revision 9999.*newer release"):
        make_engine(url)
    result = CliRunner().invoke(cli, ["--store", settings.store_url, "db", "check"])
    assert result.exit_code == 1 and "revision 9999" in result.output


def test_replicas_upgrading_at_once_do_not_race(legacy: Settings) -> None:
    """Four engines (each its own lock file handle, as four processes would have) upgrading
    one 0.1.0 database together: one runs the migration under the lock, the others find it
    done."""
    settings = legacy
    url = settings.resolved_views_url()
    actions: list[str] = []
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def one() -> None:
        try:
            start.wait()
            actions.append(schema.upgrade(unmigrated(url)).action)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert sorted(actions) == ["none", "none", "none", "upgraded"]


def _migrated_and_created(url_of: Iterator[str]) -> tuple[Engine, Engine]:
    """Two fresh databases: one built by running every migration, one by the fast path
    (models created, then stamped)."""
    migrated = unmigrated(next(url_of))
    with migrated.connect() as conn:
        command.upgrade(schema.config(conn), "head")
        conn.commit()
    created = unmigrated(next(url_of))
    assert schema.upgrade(created).action == "created"
    return migrated, created


def test_models_and_migrations_agree_on_sqlite(tmp_path: Path) -> None:
    urls = (f"sqlite:///{tmp_path / f'{n}.db'}" for n in ("migrated", "created"))
    migrated, created = _migrated_and_created(urls)
    assert schema.differences(migrated) == []
    assert schema.differences(created) == []

    def triggers(engine: Engine) -> list[str]:
        with engine.connect() as conn:
            return sorted(
                conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
                .scalars()
                .all()
            )

    assert (
        triggers(migrated)
        == triggers(created)
        == [
            "access_log_no_delete",
            "access_log_no_update",
        ]
    )


def test_the_models_import_no_table_beyond_the_projections(tmp_path: Path) -> None:
    """The migrations see every table: one defined in a door or a service would be missed."""
    names = schema.table_names()
    for module in ("api.app", "incentive_engine.cli.main", "incentive_engine.services.engine"):
        importlib.import_module(module)
    from projections.base import metadata

    assert set(metadata.tables) <= names


@pytest.fixture
def pg_views(pg_available: None) -> Iterator[tuple[str, str]]:
    """Two read-model database URLs in fresh PostgreSQL schemas, dropped afterwards."""
    names = [f"m_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    urls = [Settings(store_url=f"{PG_DSN}?schema={name}").resolved_views_url() for name in names]
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE SCHEMA "{name}"')
    yield urls[0], urls[1]
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.mark.postgres
def test_models_and_migrations_agree_on_postgres(pg_views: tuple[str, str]) -> None:
    migrated, created = _migrated_and_created(iter(pg_views))
    assert schema.differences(migrated) == []
    assert schema.differences(created) == []
    with migrated.connect() as conn:
        assert conn.execute(
            text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'access_log'::regclass")
        ).scalars().all() == ["access_log_append_only"]
    migrated.dispose()
    created.dispose()


@pytest.mark.postgres
def test_a_release_0_1_0_postgres_database_upgrades_and_keeps_its_rows(
    pg_views: tuple[str, str],
) -> None:
    """0.1.0's tables (the baseline's, created as 0.1.0 did: no alembic_version) with rows;
    two replicas upgrade together."""
    url = pg_views[0]
    baseline = importlib.import_module("projections.migrations.versions.0001_baseline")
    engine = unmigrated(url)
    with engine.begin() as conn:
        baseline.META.create_all(conn)
        conn.execute(
            text("INSERT INTO scenarios VALUES ('s', now(), 3, 'd', 'b', '2026-Q1..2026-Q2', '{}')")
        )
        conn.execute(text("INSERT INTO idempotency_keys VALUES ('k', 'crm', 'h', 201, '{}')"))
    actions: list[str] = []
    replicas = [unmigrated(url) for _ in range(2)]
    threads = [
        threading.Thread(target=lambda e=e: actions.append(schema.upgrade(e).action))
        for e in replicas
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in replicas:
        e.dispose()
    assert sorted(actions) == ["none", "upgraded"]
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM scenarios")) == 1
        assert conn.scalar(select(text("status")).select_from(text("idempotency_keys"))) == 201
    assert schema.check(engine) == []
    engine.dispose()
