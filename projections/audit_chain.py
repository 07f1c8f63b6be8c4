"""The audit chain read model: one link per event, extended as the log grows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, Connection, Integer, String, Table, select

from incentive_engine.store.chain import GENESIS, links
from incentive_engine.store.event_store import RecordedEvent
from projections.base import Projection, metadata

chain_table = Table(
    "audit_chain",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("event_id", String(128), nullable=False),
    Column("link", String(64), nullable=False),
)


class AuditChain(Projection):
    """The hash chain, one row per event, extended as the log grows."""

    name = "audit_chain"
    tables = (chain_table,)

    def __init__(self) -> None:
        self._last: str | None = None

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Extend the chain with a page of events."""
        if self._last is None:
            row = conn.execute(
                select(chain_table.c.link).order_by(chain_table.c.position.desc()).limit(1)
            ).first()
            self._last = row[0] if row else GENESIS
        rows = []
        for position, event_id, link in links(events, self._last):
            rows.append({"position": position, "event_id": event_id, "link": link})
            self._last = link
        conn.execute(chain_table.insert(), rows)

    def reset(self, conn: Connection) -> None:
        """Forget the chain (a rebuild recomputes it from the genesis link)."""
        super().reset(conn)
        self._last = None
