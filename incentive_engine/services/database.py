"""The read-model database's schema for every door: upgrade it to the newest migration,
say which revision it is at, and check it against this code's models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from incentive_engine.domain.errors import NotFound
from incentive_engine.settings import Settings, sqlite_path
from projections import schema
from projections.runner import make_engine
from projections.schema import Upgraded


@dataclass(frozen=True)
class Revision:
    """Where the database stands."""

    url: str
    current: str | None
    head: str

    def summary(self) -> str:
        """One line for people."""
        state = "up to date" if self.current == self.head else f"head is {self.head}"
        return f"{_safe(self.url)}: revision {self.current or '(none)'} ({state})"


def upgrade(settings: Settings, *, progress: Callable[[str], None] | None = None) -> Upgraded:
    """Run the migrations the read-model database has not had, under the migration lock."""
    engine = make_engine(settings.resolved_views_url(), pooled=False, migrate=False)
    try:
        return schema.upgrade(engine, progress=progress)
    finally:
        engine.dispose()


def current(settings: Settings) -> Revision:
    """The database's revision and this release's newest."""
    url = _existing(settings)
    engine = make_engine(url, pooled=False, migrate=False)
    try:
        return Revision(url, schema.current(engine), schema.head())
    finally:
        engine.dispose()


def check(settings: Settings) -> list[str]:
    """Every way the database differs from what this release expects (empty: none)."""
    engine = make_engine(_existing(settings), pooled=False, migrate=False)
    try:
        return schema.check(engine)
    finally:
        engine.dispose()


def _existing(settings: Settings) -> str:
    """The read-model database's URL; a SQLite file must exist (reading never creates it)."""
    url = settings.resolved_views_url()
    if url.startswith("sqlite:"):
        path = sqlite_path(url)
        if not path.exists():
            raise NotFound(f"no read-model database at {path}")
    return url


def _safe(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)
