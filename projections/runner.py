"""The projection runner: brings read models up to date from the log, exactly once.

Each page of events is applied to every projection that has not seen it, and the
projection's tracking position is moved in the same database transaction.  A crash
therefore loses at most the page in flight, which is applied again on restart: no
event is applied twice and none is skipped.  SQLite has no push subscription, so the
runner catches up by polling from the lowest tracking position.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    String,
    create_engine,
    event,
    inspect,
    make_url,
    select,
)
from sqlalchemy import Table as SATable
from sqlalchemy.pool import NullPool

from incentive_engine.domain.isolation import Quarantined
from incentive_engine.store.event_store import EventStore, RecordedEvent, decode_or_marker
from incentive_engine.store.files import create_private
from projections.base import FactsSource, Projection, metadata
from projections.schema import ReadModelOutdated

projection_tracking = SATable(
    "projection_tracking",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("position", Integer, nullable=False),
)


def make_engine(url: str, *, pooled: bool = True, migrate: bool = True) -> Engine:
    """A SQLAlchemy engine for the read models (SQLite in WAL mode with a busy timeout; its
    file created owner-only), its schema brought to the newest migration unless ``migrate``
    is False (``projections.schema.ensure``). Unpooled, each use opens and closes its own
    connection (for a reader as rare as the token deny list's refresh, which should hold no
    connection)."""
    engine = _engine(url, pooled=pooled)
    if migrate:
        from projections.schema import ensure

        ensure(engine)
    return engine


def _engine(url: str, *, pooled: bool) -> Engine:
    extra: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            create_private(Path(database))  # owner-only, like the event store
        engine = create_engine(url, connect_args={"timeout": 30}, **extra)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **extra)


def tracked_positions(engine: Engine) -> dict[str, int]:
    """Each read model's stored tracking position, without creating anything (empty before
    any projection ran); the publisher's is among them."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(projection_tracking.name):
            return {}
        rows = conn.execute(select(projection_tracking.c.name, projection_tracking.c.position))
        return {name: position for name, position in rows}


def default_projections(facts: FactsSource) -> list[Projection]:
    """The read models the engine keeps by default; the pay tables are derived from the
    facts of the door's engine."""
    from projections.audit_chain import AuditChain
    from projections.event_log import EventCounts, EventIndex
    from projections.statements import Statements

    return [EventIndex(), EventCounts(), AuditChain(), Statements(facts)]


class ProjectionRunner:
    """Keeps a set of projections current from an event store."""

    def __init__(
        self,
        store: EventStore,
        engine: Engine,
        projections: Sequence[Projection] | None = None,
        *,
        facts: FactsSource | None = None,
        page_size: int = 2000,
    ) -> None:
        """Keep ``projections`` current (the default set when None, which needs ``facts``:
        the door's engine's, for the pay tables)."""
        if projections is None:
            if facts is None:
                raise TypeError("the default read models need facts=, the door's engine's")
            projections = default_projections(facts)
        self.store = store
        self.engine = engine
        self.projections = list(projections)
        self.page_size = page_size
        self._refuse_outdated()
        self._in_memory_positions = {p.name: 0 for p in self.projections if p.in_memory}

    def positions(self) -> dict[str, int]:
        """Tracking position of each projection (0 = nothing applied)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(projection_tracking.c.name, projection_tracking.c.position))
            found = {name: position for name, position in rows}
        found.update(self._in_memory_positions)
        return {p.name: found.get(p.name, 0) for p in self.projections}

    def _refuse_outdated(self) -> None:
        """A read model written by another version of its projection is never emptied here:
        a migration rebuilds it (``projections.schema.reset_read_models``)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(projection_tracking.c.name, projection_tracking.c.version))
            versions = {name: version for name, version in rows}
        for p in self.projections:
            found = versions.get(p.name, p.version)
            if found != p.version:
                raise ReadModelOutdated(
                    f"read model {p.name} was written by version {found} of its projection, "
                    f"this release writes version {p.version}: run `incentive-engine db "
                    "upgrade` (a migration rebuilds it from the log)"
                    if found < p.version
                    else f"read model {p.name} was written by version {found} of its "
                    f"projection, newer than this release's {p.version}: upgrade the code"
                )

    def _reset(self, conn: Connection, projection: Projection) -> None:
        projection.reset(conn)
        conn.execute(
            projection_tracking.delete().where(projection_tracking.c.name == projection.name)
        )

    def rebuild(self, names: Sequence[str] | None = None) -> None:
        """Forget the named projections' rows and positions (all when no names): the next
        run replays them from the start of the log."""
        with self.engine.begin() as conn:
            for p in self.projections:
                if names is None or p.name in names:
                    self._reset(conn, p)

    def run(
        self,
        *,
        max_events: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Apply every event not yet applied (at most ``max_events``); returns how many
        log positions were processed."""
        done = 0
        positions = self.positions()
        start = min(positions.values(), default=0)
        for page in self.store.pages(start, page_size=self.page_size):
            if max_events is not None and done + len(page) > max_events:
                page = page[: max_events - done]
            recorded, quarantined = _decoded(page)
            if recorded or quarantined:
                self._apply_page(recorded, positions, quarantined)
            done += len(page)
            if progress is not None:
                progress(len(page))
            if max_events is not None and done >= max_events:
                break
        self._settle(positions)
        return done

    def _settle(self, positions: dict[str, int]) -> None:
        """Let in-memory and derived projections write their rows, with their position, in
        one go."""
        with self.engine.begin() as conn:
            for p in self.projections:
                if p.in_memory or p.derived:
                    p.settle(conn)
                    self._track(conn, p, positions[p.name], existed=True)

    def _apply_page(
        self,
        page: list[RecordedEvent],
        positions: dict[str, int],
        quarantined: Sequence[Quarantined] = (),
    ) -> None:
        last = max([r.position for r in page[-1:]] + [q.position for q in quarantined[-1:]])
        with self.engine.begin() as conn:
            for p in self.projections:
                unseen = [r for r in page if r.position > positions[p.name]]
                left_out = [q for q in quarantined if q.position > positions[p.name]]
                if not unseen and not left_out:
                    continue
                if unseen:
                    p.apply(conn, unseen)
                if left_out:
                    p.quarantined(conn, left_out)
                if p.in_memory:
                    self._in_memory_positions[p.name] = last
                elif not p.derived:  # a derived projection is tracked when it settles
                    self._track(conn, p, last, existed=positions[p.name] > 0)
                positions[p.name] = last

    def _track(
        self, conn: Connection, projection: Projection, position: int, *, existed: bool
    ) -> None:
        values = {"version": projection.version, "position": position}
        table = projection_tracking
        if existed:
            updated = conn.execute(
                table.update().where(table.c.name == projection.name).values(**values)
            )
            if updated.rowcount == 1:
                return
        conn.execute(table.insert().values(name=projection.name, **values))

    def follow(
        self,
        stop: threading.Event,
        *,
        poll_seconds: float = 0.5,
        after_run: Callable[[int], object] | None = None,
    ) -> None:
        """Keep applying new events until ``stop`` is set (the projection worker loop);
        ``after_run`` is called with the number of events each run applied."""
        while not stop.is_set():
            applied = self.run()
            if after_run is not None:
                after_run(applied)
            if applied == 0:
                stop.wait(poll_seconds)

    def lag(self) -> int:
        """How many log positions the slowest projection is behind."""
        return max(0, self.store.max_position() - min(self.positions().values(), default=0))


def _decoded(page: Sequence[tuple[int, bytes]]) -> tuple[list[RecordedEvent], list[Quarantined]]:
    """The page's events that validate, and apart the markers of those that do not: a
    quarantined event (written by an older version or straight into the database) is left
    out of the read models' ``apply`` as the fold leaves it out (``domain.isolation``); only
    a read model of the log itself lists it (``Projection.quarantined``)."""
    recorded: list[RecordedEvent] = []
    quarantined: list[Quarantined] = []
    for position, state in page:
        item = decode_or_marker(position, state)
        if isinstance(item, Quarantined):
            quarantined.append(item)
        else:
            recorded.append(item)
    return recorded, quarantined
