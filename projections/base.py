"""What a projection is: named tables, a version, and how to apply a page of events to them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, MetaData, Table

from incentive_engine.domain.facts import Facts
from incentive_engine.domain.isolation import Quarantined
from incentive_engine.store.event_store import RecordedEvent

metadata = MetaData()
"""Every read-model table, so that one ``create_all`` builds them all."""

FactsSource = Callable[[], Facts]
"""The facts as they now stand, from the engine of the door that runs the projections (a
read model never folds the log itself: ``lambda: engine.snapshot().facts``)."""


class Projection(ABC):
    """A read model: tables it owns and a pure-ish ``apply`` writing rows for events."""

    name: str
    version: int = 1
    """Bump when the tables or the logic change: the runner then rebuilds from zero."""
    tables: Sequence[Table] = ()
    in_memory: bool = False
    """State kept in memory (not only in rows): the projection sees the log from the start
    in every process and writes its rows in ``settle``, at the end of each run."""
    derived: bool = False
    """Rows derived from facts handed in by the door: pages only mark them stale, and
    ``settle`` rewrites them and moves the tracking position in one transaction."""

    @abstractmethod
    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Write the effect of a page of events (in log order) inside the open transaction."""

    def quarantined(self, conn: Connection, markers: Sequence[Quarantined]) -> None:  # noqa: B027
        """Note stored events that do not validate (in log order): ignored by default, as
        the fold ignores them; a read model of the log itself lists them."""

    def settle(self, conn: Connection) -> None:  # noqa: B027  (optional hook)
        """Write what the pages applied in this run amount to (in-memory projections)."""

    def reset(self, conn: Connection) -> None:
        """Remove every row the projection wrote (before a rebuild)."""
        for table in reversed(self.tables):
            conn.execute(table.delete())
