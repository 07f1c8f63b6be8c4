"""Backups of a store and their restore: one folder holding the event store, the read-model
database (saved scenarios, idempotency keys, drafts, checkpoints: what the log cannot
rebuild), the checkpoint signing key and a manifest with every file's sha256.

On SQLite both databases are copied with SQLite's online backup API inside one read
transaction each, so the copy is consistent while writers run; the read models are copied
first, so that they never run ahead of the copied log (a projection behind the log catches
up; one ahead of it would skip events).  On PostgreSQL the store's schema is dumped with
``pg_dump`` (custom format) when it is on the PATH.  Restoring refuses a store that holds
anything unless forced, checks every file against the manifest first, brings the read-model
database to this release's migrations, and verifies the restored log.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import incentive_engine
from incentive_engine.domain.errors import Conflict, Invalid, Unavailable
from incentive_engine.settings import Settings, postgres_parts, sqlite_path
from incentive_engine.store.checkpoints import key_file_of
from incentive_engine.store.files import create_private

ProgressHook = Callable[[str, int, int], None]
"""Called as a file is copied: (file name, pages or bytes done, total)."""

MANIFEST = "manifest.json"
FORMAT = 1
"""Bump when the folder's layout changes."""
EVENTS, VIEWS, KEY, CHECKPOINTS, DUMP = (
    "events.db",
    "views.db",
    "checkpoint-key",
    "checkpoints.jsonl",
    "store.pgdump",
)
PAGES_PER_STEP = 4096
"""Pages SQLite copies between two progress calls (16 MiB at the default page size)."""


@dataclass(frozen=True)
class BackedUp:
    """What a backup holds."""

    path: Path
    files: dict[str, dict[str, object]]
    events: int
    position: int
    seconds: float

    def summary(self) -> str:
        """One line for people."""
        size = sum(int(str(f["bytes"])) for f in self.files.values())
        return (
            f"backed up {self.events:,} events (log position {self.position:,}) and the read "
            f"models to {self.path}: {len(self.files)} files, {size:,} bytes, "
            f"{self.seconds:.1f}s"
        )


@dataclass
class Restored:
    """What a restore did, and the restored log's verification."""

    path: Path
    events: int
    position: int
    schema: str
    verified: bool = False
    verification: str = ""
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        state = "verified" if self.verified else "FAILED verification"
        return (
            f"restored {self.events:,} events (log position {self.position:,}) from "
            f"{self.path}; {self.schema}; audit {state}: {self.verification}"
        )


def backup(settings: Settings, target: Path, *, progress: ProgressHook | None = None) -> BackedUp:
    """Write a backup of the store into ``target`` (a new or empty folder)."""
    started = time.perf_counter()
    _new_folder(target)
    files: dict[str, dict[str, object]] = {}
    if settings.store_url.startswith("sqlite:"):
        views_url = settings.resolved_views_url()
        if views_url.startswith("sqlite:"):
            views = sqlite_path(views_url)
            if views.exists():  # first: never ahead of the log copied after it
                _copy_sqlite(views, target / VIEWS, progress)
        store = sqlite_path(settings.store_url)
        if not store.exists():
            raise Invalid(f"no store at {store}: nothing to back up")
        _copy_sqlite(store, target / EVENTS, progress)
        events, position = _count(target / EVENTS)
    else:  # counted first: the dump (one snapshot, taken after) holds at least these
        events, position = _pg_count(settings)
        _pg_dump(settings, target / DUMP)
    key = key_file_of(settings)
    if key is not None and key.exists():
        _copy_private(key, target / KEY)
    if settings.checkpoint_file is not None and Path(settings.checkpoint_file).exists():
        _copy_private(Path(settings.checkpoint_file), target / CHECKPOINTS)
    for path in sorted(target.iterdir()):
        files[path.name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    manifest = {
        "format": FORMAT,
        "package": incentive_engine.__version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": "sqlite" if settings.store_url.startswith("sqlite:") else "postgresql",
        "schema": None
        if settings.store_url.startswith("sqlite:")
        else postgres_parts(settings.store_url)["schema"],
        "events": events,
        "position": position,
        "files": files,
    }
    manifest_path = target / MANIFEST
    create_private(manifest_path)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return BackedUp(target, files, events, position, time.perf_counter() - started)


def restore(
    settings: Settings,
    source: Path,
    *,
    force: bool = False,
    progress: ProgressHook | None = None,
) -> Restored:
    """Restore a backup into the store of ``settings``; refuses a store holding anything
    unless ``force``. Verifies the restored log (``audit verify``) before returning."""
    manifest = _checked_manifest(source)
    if manifest["backend"] == "postgresql":
        if settings.store_url.startswith("sqlite:"):
            raise Invalid(f"{source} is a PostgreSQL backup: restore it into a PostgreSQL store")
        wanted = postgres_parts(settings.store_url)["schema"]
        if manifest["schema"] != wanted:
            raise Invalid(
                f"{source} holds the schema {manifest['schema']}, restored under its own name "
                f"only (this store's schema is {wanted})"
            )
        _pg_restore(settings, source / DUMP, force=force)
    else:
        if not settings.store_url.startswith("sqlite:"):
            raise Invalid(f"{source} is a SQLite backup: restore it into a SQLite store")
        store = sqlite_path(settings.store_url)
        views_url = settings.resolved_views_url()
        views = sqlite_path(views_url) if views_url.startswith("sqlite:") else None
        held = _holds(store) or (views is not None and _holds(views))
        if held and not force:
            raise Conflict(
                f"the store at {store} is not empty: restore refuses to overwrite it "
                "(use --force to replace it)"
            )
        _copy_sqlite(source / EVENTS, store, progress, journal="WAL")
        if (source / VIEWS).exists() and views is not None:
            _copy_sqlite(source / VIEWS, views, progress, journal="WAL")
    key = key_file_of(settings)
    if (source / KEY).exists() and key is not None:
        if key.exists() and key.read_bytes() != (source / KEY).read_bytes() and not force:
            raise Conflict(
                f"a different checkpoint key is at {key}: restore refuses to replace it "
                "(use --force)"
            )
        _copy_private(source / KEY, key)
    if (source / CHECKPOINTS).exists() and settings.checkpoint_file is not None:
        _copy_private(source / CHECKPOINTS, Path(settings.checkpoint_file))
    return _verified(settings, source, int(manifest["events"]), int(manifest["position"]))


def _verified(settings: Settings, source: Path, events: int, position: int) -> Restored:
    """Bring the read models to this release's schema, then verify the restored log."""
    from incentive_engine.services import database
    from incentive_engine.services.engine import Engine
    from incentive_engine.services.integrity import run_verification

    upgraded = database.upgrade(settings)
    done = Restored(source, events, position, upgraded.summary())
    with Engine(settings) as engine:
        report = run_verification(engine)
        found = engine.store.max_position()
    if found < position:
        raise Conflict(f"the restored log ends at position {found}, the backup says {position}")
    done.verified = report.status == "ok"
    done.verification = report.summary()
    done.warnings = list(report.warnings)
    return done


def _new_folder(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise Invalid(f"backup target {target} exists and is not an empty folder")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    target.chmod(0o700)  # pay data and the signing key: owner only


def _copy_sqlite(
    source: Path, target: Path, progress: ProgressHook | None, *, journal: str = "DELETE"
) -> None:
    """Copy a SQLite database with the online backup API, from one read snapshot (a writer
    committing meanwhile is not seen, and does not restart the copy); the copy in
    ``journal`` mode (a backup is one self-contained file; a restored store is in WAL)."""
    if not source.exists():
        raise Invalid(f"{source} does not exist")
    create_private(target)
    src = sqlite3.connect(source, timeout=30, isolation_level=None)
    dst = sqlite3.connect(target, timeout=30, isolation_level=None)
    try:
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the read snapshot
        name = target.name

        def step(status: int, remaining: int, total: int) -> None:
            if progress is not None:
                progress(name, total - remaining, total)

        src.backup(dst, pages=PAGES_PER_STEP, progress=step)
        src.execute("ROLLBACK")
        dst.execute(f"PRAGMA journal_mode={journal}")
    finally:
        src.close()
        dst.close()


def _count(path: Path) -> tuple[int, int]:
    """Events and the last log position in a copied SQLite event store."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        count, last = db.execute(  # the rowid is the notification id
            "SELECT count(*), coalesce(max(rowid), 0) FROM stored_events"
        ).fetchone()
    finally:
        db.close()
    return int(count), int(last)


def _holds(path: Path) -> bool:
    """Whether a SQLite database file holds any table with a row."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    db = sqlite3.connect(path, timeout=30)
    try:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return any(
            db.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone() is not None
            for t in tables
            if t != "alembic_version"
        )
    finally:
        db.close()


def _copy_private(source: Path, target: Path) -> None:
    create_private(target)
    shutil.copyfile(source, target)


def _checked_manifest(source: Path) -> dict[str, object]:
    """The backup's manifest, every file it lists checked against its sha256."""
    path = source / MANIFEST
    if not path.exists():
        raise Invalid(f"{source} is not a backup (no {MANIFEST})")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise Invalid(f"{path}: backup format {manifest.get('format')} (this release: {FORMAT})")
    for name, expected in manifest["files"].items():
        found = source / name
        if not found.exists():
            raise Invalid(f"{source}: {name} is missing")
        if _sha256(found) != expected["sha256"]:
            raise Invalid(f"{source}: {name} does not match its sha256 (corrupted or edited)")
    return dict(manifest)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pg_env(settings: Settings) -> tuple[dict[str, str], list[str], str]:
    """pg_dump/pg_restore's environment (the password never on the command line), their
    connection arguments, and the schema."""
    p = postgres_parts(settings.store_url)
    env = {**os.environ, "PGPASSWORD": p["password"]} if p["password"] else dict(os.environ)
    args = ["-h", p["host"], "-p", p["port"], "-U", p["user"], "-d", p["dbname"]]
    return env, args, p["schema"]


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise Unavailable(
            f"{name} is not on the PATH: install the PostgreSQL client tools, or run "
            f"{name} yourself (README, 'Operating it: backups')"
        )
    return found


def _pg_dump(settings: Settings, target: Path) -> None:
    env, args, schema = _pg_env(settings)
    create_private(target)
    cmd = [_tool("pg_dump"), *args, "-n", schema, "-Fc", "--no-owner", "-f", str(target)]
    _run(cmd, env)


def _pg_restore(settings: Settings, dump: Path, *, force: bool) -> None:
    env, args, schema = _pg_env(settings)
    from sqlalchemy import create_engine, text

    from incentive_engine.settings import sqlalchemy_postgres_url

    engine = create_engine(sqlalchemy_postgres_url(settings.store_url))
    try:
        with engine.begin() as conn:
            tables = conn.scalar(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"),
                {"s": schema},
            )
            if tables and not force:
                raise Conflict(
                    f"the schema {schema} is not empty: restore refuses to overwrite it "
                    "(use --force to replace it)"
                )
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()
    _run([_tool("pg_restore"), *args, "--no-owner", str(dump)], env)


def _pg_count(settings: Settings) -> tuple[int, int]:
    """Events and the last log position of a PostgreSQL store."""
    from sqlalchemy import create_engine, text

    from incentive_engine.settings import sqlalchemy_postgres_url

    engine = create_engine(sqlalchemy_postgres_url(settings.store_url))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT count(*), coalesce(max(notification_id), 0) FROM stored_events")
            ).one()
    finally:
        engine.dispose()
    return int(row[0]), int(row[1])


def _run(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise Unavailable(f"{Path(cmd[0]).name} failed: {done.stderr.strip()[:500]}")
