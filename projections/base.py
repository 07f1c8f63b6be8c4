"""What a projection is: named tables, a version, and how to apply a page of events to them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from sqlalchemy import Connection, MetaData, Table

from incentive_engine.store.event_store import RecordedEvent

metadata = MetaData()
"""Every read-model table, so that one ``create_all`` builds them all."""


class Projection(ABC):
    """A read model: tables it owns and a pure-ish ``apply`` writing rows for events."""

    name: str
    version: int = 1
    """Bump when the tables or the logic change: the runner then rebuilds from zero."""
    tables: Sequence[Table] = ()
    in_memory: bool = False
    """State kept in memory (not only in rows): the projection refolds the log from the start
    in every process and writes its rows in ``settle``, at the end of each run."""

    @abstractmethod
    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Write the effect of a page of events (in log order) inside the open transaction."""

    def settle(self, conn: Connection) -> None:  # noqa: B027  (optional hook)
        """Write what the pages applied in this run amount to (in-memory projections)."""

    def reset(self, conn: Connection) -> None:
        """Remove every row the projection wrote (before a rebuild)."""
        for table in reversed(self.tables):
            conn.execute(table.delete())
