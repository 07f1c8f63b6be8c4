"""Operating commands: the read-model database's migrations (`db upgrade`, `db current`,
`db check`) and backups of a store (`backup PATH`, `restore PATH`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from incentive_engine.cli.common import console, errors, fail, settings_of

db_app = typer.Typer(
    help="The read-model database's schema: upgrade it, show its revision, check it.",
    no_args_is_help=True,
)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Run the migrations the read-model database has not had (under a lock: safe while
    other processes start; `serve` and `project` also run it on start)."""
    from incentive_engine.services import database

    done = database.upgrade(settings_of(ctx), progress=lambda line: errors.print(line))
    console.print(done.summary(), markup=False)


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """The read-model database's revision and this release's newest."""
    from incentive_engine.services import database

    console.print(database.current(settings_of(ctx)).summary(), markup=False)


@db_app.command("check")
def db_check(ctx: typer.Context) -> None:
    """Check that the read-model database is at this release's newest revision and has the
    tables this release expects; exit 1 listing every difference otherwise."""
    from incentive_engine.services import database

    found = database.check(settings_of(ctx))
    if found:
        for line in found:
            errors.print(line, markup=False)
        fail(f"db check: {len(found)} difference(s); run `incentive-engine db upgrade`")
    console.print("db check: the read-model database matches this release", markup=False)


def upgrade_on_start(ctx: typer.Context) -> None:
    """`serve` and `project` bring the read-model database to the newest revision before
    anything else opens it (one line on stderr when a migration ran: a log record when the
    logs are JSON, so that every line a log collector reads is JSON)."""
    import logging

    from incentive_engine.services import database

    settings = settings_of(ctx)
    done = database.upgrade(settings)
    if done.action == "none":
        return
    if settings.log_format == "json":
        logging.getLogger("incentive_engine.migrations").info(done.summary())
    else:
        errors.print(done.summary(), markup=False)


@contextmanager
def _pages(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """The backup service's progress hook (file, pages done, pages in all) shown as one
    progress bar over the pages of every file copied (``cli.progress``)."""
    from incentive_engine.cli.progress import progress

    copied: dict[str, int] = {}
    with progress(label, None, unit="pages") as advance:

        def hook(name: str, done: int, total: int) -> None:
            advance(done - copied.get(name, 0))
            copied[name] = done

        yield hook


def backup(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A new (or empty) folder to write the backup to.")],
) -> None:
    """Back up the store while it runs: the event store and the read-model database (SQLite
    online backup; PostgreSQL: pg_dump of the schema), the checkpoint key and a manifest of
    checksums. The folder is owner-only: it holds pay data and the signing key."""
    from incentive_engine.services import backup as service

    with _pages("backup") as hook:
        done = service.backup(settings_of(ctx), path, progress=hook)
    console.print(done.summary(), markup=False)


def restore(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A folder written by `backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a store that already holds events.")
    ] = False,
) -> None:
    """Restore a backup into the configured store (refused if it holds anything, unless
    --force), bring the read models to this release's schema, then verify the log as
    `audit verify` does; exit 1 if it does not verify."""
    from incentive_engine.services import backup as service

    with _pages("restore") as hook:
        done = service.restore(settings_of(ctx), path, force=force, progress=hook)
    for warning in done.warnings:
        errors.print(f"warning: {warning}", markup=False)
    if not done.verified:
        fail(done.summary())
    console.print(done.summary(), markup=False)
