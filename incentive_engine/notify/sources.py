"""Where the notifier reads the notification stream: the outbox in the read-model database
(the embedded default: the publisher writes into it from the log, in this process) or the
Kafka topic the ``publish`` service writes (when Kafka is configured). One interface; the
notifier does not know which it reads."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from incentive_engine.services.replay import facts_until
from incentive_engine.store.event_store import EventStore
from projections import notifications as ledger
from projections.publisher import Publisher
from projections.runner import ProjectionRunner


class Source(Protocol):
    """A notification stream read in order, with a position the notifier moves once what it
    read is in the delivery ledger."""

    name: str

    def read(self, limit: int) -> list[dict[str, Any]]:
        """The next notifications (at most ``limit``; none when caught up)."""
        ...

    def commit(self, conn: Connection) -> None:
        """Record the position after what was read, inside the ledger's transaction."""
        ...

    def committed(self) -> None:
        """The ledger's transaction committed (a broker's offsets are committed now)."""
        ...

    def close(self) -> None:
        """Release the stream."""
        ...


class OutboxPublisher(Publisher):
    """The publisher writing into the outbox: its own tracking position, apart from the
    Kafka publisher's, so that running one never skips news for the other."""

    name = "publisher-outbox"


class OutboxSource:
    """The outbox in the read-model database, fed from the log by the publisher as it reads."""

    name = "outbox"

    def __init__(self, store: EventStore, views: Engine) -> None:
        """Read the log of ``store`` into the outbox of ``views``."""
        self.views = views
        producer = ledger.OutboxProducer(views)
        self.publisher = OutboxPublisher(
            producer, "outbox", store=store, refold=lambda p: facts_until(store, p)
        )
        self.runner = ProjectionRunner(store, views, [self.publisher])
        self.publisher.prime(*facts_until(store, self.runner.positions()[self.publisher.name]))
        with views.connect() as conn:
            self.position = ledger.cursor(conn, self.name)
        self._read_to = self.position

    def read(self, limit: int) -> list[dict[str, Any]]:
        """Publish what the log holds beyond the publisher's position, then read the outbox."""
        self.runner.run()
        with self.views.connect() as conn:
            page = ledger.read_outbox(conn, self.position, limit)
        if page:
            self._read_to = page[-1][0]
        return [message for _, message in page]

    def commit(self, conn: Connection) -> None:
        """Move the cursor in the ledger's transaction (exactly once into the ledger)."""
        if self._read_to != self.position:
            ledger.move_cursor(conn, self.name, self._read_to)

    def committed(self) -> None:
        """The cursor is now the position."""
        self.position = self._read_to

    def close(self) -> None:
        """Nothing to release (the store belongs to the door)."""


class KafkaSource:
    """The notification topic, read in a consumer group; offsets committed once what was
    read is in the ledger (a crash reads it again; the ledger keeps each id once)."""

    name = "kafka"

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        group: str,
        *,
        join_seconds: float = 30.0,
        max_poll_interval_ms: int = 600_000,
        session_timeout_ms: int = 10_000,
    ) -> None:
        """Join ``group`` on ``topic`` at ``bootstrap`` (waiting at most ``join_seconds`` for
        partitions before a read reports nothing). Between two reads the notifier delivers
        what is due, which may take minutes with slow receivers: ``max_poll_interval_ms``
        leaves it that long before the group gives its partitions away."""
        from kafka import KafkaConsumer

        self.consumer = KafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=max_poll_interval_ms,
            session_timeout_ms=session_timeout_ms,
        )
        self._pending = False
        self.join_seconds = join_seconds

    def _caught_up(self) -> bool | None:
        """Whether every assigned partition is read to its end (None: none assigned yet)."""
        assigned = list(self.consumer.assignment())
        if not assigned:
            return None
        ends = self.consumer.end_offsets(assigned)
        return all(self.consumer.position(tp) >= ends[tp] for tp in assigned)

    def read(self, limit: int) -> list[dict[str, Any]]:
        """The next messages of the topic (none once every partition is read to its end); a
        value that is not a notification object is skipped (nothing the publisher writes)."""
        deadline = time.monotonic() + self.join_seconds
        while True:
            batches = self.consumer.poll(timeout_ms=500, max_records=limit)
            if batches:
                break
            caught_up = self._caught_up()
            if caught_up or (caught_up is None and time.monotonic() > deadline):
                return []
        found: list[dict[str, Any]] = []
        for records in batches.values():
            for record in records:
                try:
                    value = json.loads(record.value)
                except (TypeError, ValueError):
                    continue
                if isinstance(value, dict) and "id" in value and "rep_id" in value:
                    found.append(value)
        self._pending = self._pending or bool(batches)
        return found

    def commit(self, conn: Connection) -> None:
        """Nothing in the ledger: the offsets are the broker's."""

    def committed(self) -> None:
        """Commit the consumed offsets."""
        from kafka.errors import CommitFailedError

        if self._pending:
            # the group moved on (a rebalance): what was read is read again, the ledger has it
            with contextlib.suppress(CommitFailedError):
                self.consumer.commit()
            self._pending = False

    def close(self) -> None:
        """Leave the group."""
        self.consumer.close()
