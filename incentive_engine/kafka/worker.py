"""The Kafka door: a consumer-group worker that ingests events from a topic.

Each message is one event (JSON), keyed so that a rep's (or a deal's) events stay in one
partition, in order.  A poll's messages are validated exactly as file ingest validates
them; valid events are appended idempotently in one batch; invalid, oversized or wrongly
typed messages go to a dead-letter topic with the original bytes, the reasons, and the
source partition and offset.  Offsets are committed only after the batch is stored:
delivery is at least once, the append is idempotent, so each event is stored exactly once.
A poison message never blocks its partition.  A message whose only fault is a reference to
something not stored yet (its rep's hiring travelling through another partition) waits a
while before it is dead-lettered.  ``run_processes`` runs several workers of the group on
one machine; ``dead_letters`` and ``redrive`` are the operators' view of the dead letters.
"""

from __future__ import annotations

import base64
import json
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata, TopicPartition

from incentive_engine.domain.events import Event
from incentive_engine.domain.scopes import parse_scope
from incentive_engine.observability import pipeline
from incentive_engine.observability.exposition import serve_metrics
from incentive_engine.observability.logs import configure_logging
from incentive_engine.services.ingest import (
    IngestService,
    RawRecord,
    RecordError,
    parse_jsonl,
    scope_errors,
)
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore, PersistenceError

log = logging.getLogger("incentive_engine.kafka")

GROUP_TIMING: dict[str, int] = {
    # The poll interval is also the rebalance timeout, which a broker may wait out before
    # it completes a join: short, so that joining and group changes take seconds, not
    # minutes (every poll here is quick; a long store retry is handled at commit).
    "max_poll_interval_ms": 3000,
    "session_timeout_ms": 6000,
    "heartbeat_interval_ms": 1000,
}
"""Consumer-group timing shared by the worker and the dead-letter redrive."""


@dataclass
class WorkerConfig:
    """Where the worker reads and where it dead-letters."""

    bootstrap: str
    topic: str = "incentive.events"
    dead_letter_topic: str = "incentive.events.dead"
    group: str = "incentive-engine"
    max_records: int = 5000
    """Messages per poll; a poll is validated and stored as one batch, one transaction."""
    max_message_bytes: int = 1_000_000
    poll_ms: int = 500
    reference_wait_s: float = 10.0
    """How long a message whose only fault is a reference to something not stored yet (a rep,
    deal or territory whose own events travel through another partition) is retried before
    it is dead-lettered; its partition's offset is not committed past it meanwhile (a
    restarted worker reads it again), while the messages behind it are stored."""
    retry_ms: int = 500
    """How often waiting messages are retried when no new messages arrive."""
    store_retry_max_s: float = 5.0
    """The longest wait between two attempts to store a batch while the store is unreachable
    (the wait starts at 0.1 s and doubles)."""
    scope: str = "crm"
    """The event types this worker's source may write (``domain.scopes``): CRM facts by
    default; a message of another type is dead-lettered with the reason."""
    metrics_port: int | None = None
    """Where ``run_processes``' workers serve their metrics: the Nth on this port + N (the
    single worker of ``worker`` is served by the command itself)."""
    metrics_host: str = "127.0.0.1"


@dataclass
class WorkerStats:
    """What the worker has done since it started."""

    polled: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    batches: int = 0
    waited: int = 0
    """Deliveries put back to wait for a reference (one message may wait several times)."""

    def add(self, other: WorkerStats) -> None:
        """Add another worker's figures to these."""
        for name in COUNTED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    def counts(self) -> tuple[int, ...]:
        """The counted figures, in ``COUNTED`` order."""
        return tuple(getattr(self, name) for name in COUNTED)

    errors: list[str] = field(default_factory=list)


COUNTED = ("polled", "stored", "duplicates", "dead_lettered", "batches", "waited")
"""The figures of ``WorkerStats`` that count."""


def _observe_batch(topic: str, before: tuple[int, ...], after: WorkerStats, seconds: float) -> None:
    """Count a stored batch in the worker's metrics and log it (one structured line)."""
    polled, stored, duplicates, dead, _, waited = (
        a - b for a, b in zip(after.counts(), before, strict=True)
    )
    pipeline.CONSUMED.labels(topic).inc(polled)
    pipeline.STORED.labels(topic).inc(stored)
    pipeline.DUPLICATES.labels(topic).inc(duplicates)
    pipeline.DEAD_LETTERED.labels(topic).inc(dead)
    pipeline.WAITS.labels(topic).inc(waited)
    pipeline.BATCH_SECONDS.labels(topic).observe(seconds)
    pipeline.BATCH_SIZE.labels(topic).observe(polled)
    log.info(
        "batch of %d message(s): %d stored, %d dead-lettered",
        polled,
        stored,
        dead,
        extra={
            "topic": topic,
            "messages": polled,
            "stored": stored,
            "duplicates": duplicates,
            "dead_lettered": dead,
            "waiting": waited,
            "duration_ms": round(seconds * 1000, 2),
        },
    )


def _observe_lag(consumer: KafkaConsumer) -> None:
    """Each assigned partition's lag behind its high watermark, as last fetched (no request
    to the broker; a partition not fetched yet is left out)."""
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is None:
            continue
        try:
            at = consumer.position(tp, timeout_ms=100)
        except Exception:  # the position is being reset (a rebalance): next time
            continue
        if at is not None:
            pipeline.TOPIC_LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - at))


class _DeadLetters:
    """Sends refused records to the dead-letter topic (used as the ingest service's sink),
    except those the worker chooses to let wait for a missing reference."""

    def __init__(
        self,
        producer: KafkaProducer,
        topic: str,
        messages: dict[int, ConsumerRecord],
        wait: Callable[[ConsumerRecord], bool],
    ) -> None:
        self.producer, self.topic, self.messages, self.wait = producer, topic, messages, wait
        self.count = 0

    def write(self, record: RawRecord, errors: Sequence[RecordError]) -> None:
        """Dead-letter one refused record with its reasons (or let it wait)."""
        message = self.messages[record.line]
        if all(e.unresolved for e in errors) and self.wait(message):
            return
        self.send(message, [{"field": e.field, "reason": e.reason} for e in errors])

    def send(self, message: ConsumerRecord, reasons: list[dict[str, str]]) -> None:
        """Dead-letter a message."""
        letter = {
            "errors": reasons,
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "original": base64.b64encode(message.value or b"").decode(),
        }
        self.producer.send(self.topic, key=message.key, value=json.dumps(letter).encode())
        self.count += 1


def message_key(event: Event) -> str:
    """The key an event's message should carry so that what must stay in order shares a
    partition: its deal (pipeline and deal events, deal activities), else its rep, else what
    it is about (lead, territory, quota subject, plan), else its own id."""
    for name in ("deal_id", "rep_id", "lead_id", "territory_id", "subject_id", "plan_id"):
        value = getattr(event, name, None)
        if isinstance(value, str) and value:
            return value
    return event.event_id


class IngestWorker:
    """Consumes the events topic in a consumer group and appends to the store."""

    def __init__(self, settings: Settings, config: WorkerConfig) -> None:
        self.settings = settings
        self.config = config
        self.stats = WorkerStats()
        self._first_seen: dict[tuple[str, int, int], float] = {}
        """When each message now waiting for a reference was first refused (monotonic)."""
        self._waiting: dict[tuple[str, int, int], ConsumerRecord] = {}
        """Messages waiting for a reference: retried with each batch; never committed past."""
        self._retry_at = 0.0

    def _consumer(self) -> KafkaConsumer:
        return KafkaConsumer(
            self.config.topic,
            bootstrap_servers=self.config.bootstrap,
            group_id=self.config.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.config.max_records,
            # The broker answers a fetch as soon as data arrives or after this wait: bounds
            # the delay from produce to store when traffic is light.
            fetch_max_wait_ms=100,
            bootstrap_timeout_ms=self._wait_ms,
            **GROUP_TIMING,
        )

    @property
    def _wait_ms(self) -> int:
        """How long to wait for the first broker (``INCENTIVE_KAFKA_WAIT_SECONDS``)."""
        return int(self.settings.kafka_wait_seconds * 1000)

    def run(self, stop: threading.Event) -> WorkerStats:
        """Poll, store and commit until ``stop`` is set."""
        consumer = self._consumer()
        producer = KafkaProducer(
            bootstrap_servers=self.config.bootstrap, acks="all", bootstrap_timeout_ms=self._wait_ms
        )
        try:
            with EventStore(self.settings) as store:
                # One poll is one batch: one validation pass, one transaction.
                service = IngestService(
                    store,
                    scope=parse_scope(self.config.scope),
                    writer=f"the Kafka worker of {self.config.topic}",
                    batch_size=self.config.max_records,
                )
                lag_at = 0.0
                while not stop.is_set():
                    polled = consumer.poll(timeout_ms=self.config.poll_ms)
                    if time.monotonic() >= lag_at:  # at most once a second
                        _observe_lag(consumer)
                        lag_at = time.monotonic() + 1.0
                    messages = self._with_waiting(consumer, polled)
                    if not messages:
                        continue
                    before, started = self.stats.counts(), time.perf_counter()
                    self._store_with_retry(service, producer, messages, stop)
                    producer.flush()
                    _observe_batch(
                        self.config.topic, before, self.stats, time.perf_counter() - started
                    )
                    try:
                        # Only after the batch is stored and its dead letters sent; never past
                        # a message still waiting for a reference.
                        consumer.commit(self._offsets(messages))
                    except CommitFailedError as exc:
                        # The group moved on (a long retry outlived the poll interval): the
                        # partitions go to whoever owns them now and the batch is delivered
                        # again; the idempotent append makes that harmless.
                        self.stats.errors.append(str(exc))
                        log.warning(
                            "offsets not committed (%s); the batch will be redelivered", exc
                        )
        finally:
            consumer.close()
            producer.close()
        return self.stats

    def _with_waiting(
        self, consumer: KafkaConsumer, polled: dict[TopicPartition, list[ConsumerRecord]]
    ) -> list[ConsumerRecord]:
        """A poll's messages, preceded by the waiting ones (retried with every batch, and
        every ``retry_ms`` when nothing new comes); waiting messages of partitions this
        worker no longer owns are dropped: their new owner reads them again."""
        assigned = consumer.assignment()
        for key in [k for k in self._waiting if TopicPartition(k[0], k[1]) not in assigned]:
            del self._waiting[key]
            self._first_seen.pop(key, None)
        fresh = [m for batch in polled.values() for m in batch]
        now = time.monotonic()
        if not self._waiting or (not fresh and now < self._retry_at):
            return fresh
        self._retry_at = now + self.config.retry_ms / 1000
        return [*self._waiting.values(), *fresh]

    def _offsets(self, messages: list[ConsumerRecord]) -> dict[TopicPartition, OffsetAndMetadata]:
        """The offsets to commit for a stored batch: past its last message, or up to the
        first message still waiting for a reference."""
        after: dict[TopicPartition, int] = {}
        for m in messages:
            tp = TopicPartition(m.topic, m.partition)
            after[tp] = max(after.get(tp, 0), m.offset + 1)
        for topic, partition, offset in self._waiting:
            tp = TopicPartition(topic, partition)
            after[tp] = min(after.get(tp, offset), offset)
        return {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in after.items()}

    def _wait(self, message: ConsumerRecord) -> bool:
        """Whether a message refused only for an unknown reference may wait longer (and
        keep it); once it has waited ``reference_wait_s`` it is dead-lettered."""
        key = (message.topic, message.partition, message.offset)
        first = self._first_seen.setdefault(key, time.monotonic())
        if time.monotonic() - first >= self.config.reference_wait_s:
            del self._first_seen[key]
            return False
        self._waiting[key] = message
        self.stats.waited += 1
        return True

    def _store_with_retry(
        self,
        service: IngestService,
        producer: KafkaProducer,
        messages: list[ConsumerRecord],
        stop: threading.Event,
    ) -> None:
        """Store a poll's messages, retrying with backoff while the store is unreachable
        (a dropped database connection): nothing is committed until the batch is stored,
        and the idempotent append makes a retry of a half-seen batch harmless."""
        delay = 0.1
        while True:
            try:
                self.handle(service, producer, messages)
                return
            except PersistenceError as exc:
                self.stats.errors.append(str(exc))
                pipeline.STORE_RETRIES.labels(self.config.topic).inc()
                log.warning("store unavailable (%s); retrying the batch in %.1fs", exc, delay)
                if stop.wait(delay):
                    raise
                delay = min(delay * 2, self.config.store_retry_max_s)

    def handle(
        self, service: IngestService, producer: KafkaProducer, messages: list[ConsumerRecord]
    ) -> None:
        """Validate and store one poll's messages; dead-letter the refused ones, except those
        that wait for a reference."""
        self.stats.polled += len(messages)
        self._waiting = {}  # the batch carries them: those still unresolved come back
        by_line: dict[int, ConsumerRecord] = {}
        letters = _DeadLetters(producer, self.config.dead_letter_topic, by_line, self._wait)
        records: list[RawRecord] = []
        for i, message in enumerate(messages, start=1):
            by_line[i] = message
            source = f"kafka:{message.topic}/{message.partition}@{message.offset}"
            value = message.value or b""
            if len(value) > self.config.max_message_bytes:
                letters.send(
                    message,
                    [
                        {
                            "field": "(message)",
                            "reason": f"message of {len(value)} bytes exceeds "
                            f"{self.config.max_message_bytes}",
                        }
                    ],
                )
                continue
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                letters.send(message, [{"field": "(message)", "reason": "not UTF-8 text"}])
                continue
            # One message is one JSON value; newlines in it are whitespace (strings escape them).
            parsed = list(parse_jsonl([text.replace("\n", " ")], source))
            record = parsed[0] if parsed else RawRecord(source, i, None, text, "empty message")
            records.append(
                RawRecord(source, i, record.data, record.original, record.error, record.error_field)
            )
        # A message outside the worker's write scope is dead-lettered with the reason; the
        # others of the poll are stored as usual.
        outside = scope_errors(records, service.scope, service.writer)
        if outside:
            refused = {e.line for e in outside}
            for err in outside:
                letters.write(next(r for r in records if r.line == err.line), [err])
            records = [r for r in records if r.line not in refused]
        if records:
            report = service.ingest("kafka", lambda: records, dead_letters=letters)  # type: ignore[arg-type]
            self.stats.stored += report.stored
            self.stats.duplicates += report.duplicates
        self.stats.dead_lettered += letters.count
        self.stats.batches += 1
        for m in messages:  # forget the waits that ended (stored, or dead-lettered)
            key = (m.topic, m.partition, m.offset)
            if key not in self._waiting:
                self._first_seen.pop(key, None)


def run_processes(
    settings: Settings, config: WorkerConfig, processes: int, stop: threading.Event
) -> WorkerStats:
    """Run ``processes`` workers in the one consumer group, each its own process (Python
    validates on one core per process), until ``stop`` is set; a worker that dies is
    restarted.  Returns the summed stats of the workers that stopped cleanly.

    Workers are stopped with SIGTERM and report through a pipe of their own: nothing is
    shared between processes, so a worker killed at any instant cannot wedge the others."""
    context = multiprocessing.get_context("spawn")

    def start(index: int) -> tuple[BaseProcess, Connection]:
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_child, args=(settings, config, sender, index), daemon=True)
        child.start()
        sender.close()
        return child, receiver

    children = [start(i) for i in range(processes)]
    while not stop.wait(1.0):
        for i, (child, _) in enumerate(children):
            if not child.is_alive():
                log.warning(
                    "worker process %s exited (%s); restarting it", child.pid, child.exitcode
                )
                children[i] = start(i)
    for child, _ in children:
        child.terminate()  # SIGTERM: the worker finishes its batch, commits and leaves the group
    total = WorkerStats()
    for child, receiver in children:
        try:
            if receiver.poll(60):
                stats: WorkerStats = receiver.recv()
                total.add(stats)
        except EOFError:
            log.warning("worker process %s stopped without reporting", child.pid)
        child.join(timeout=10)
    return total


def _child(settings: Settings, config: WorkerConfig, results: Connection, index: int = 0) -> None:
    """One worker process: SIGTERM stops it cleanly; Ctrl-C is left to the parent; its
    metrics on the configured port + its index, its logs as the parent's."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(settings)
    if config.metrics_port is not None:
        serve_metrics(config.metrics_port + index, config.metrics_host)
    results.send(IngestWorker(settings, config).run(stop))


def dead_letters(
    bootstrap: str, topic: str, *, timeout_s: float = 10, expect: int | None = None
) -> list[dict[str, Any]]:
    """Read a dead-letter topic from the start (for operators and tests); each letter
    gains its message ``key``."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=int(timeout_s * 1000),
    )
    found = []
    try:
        for message in consumer:
            key = message.key.decode("utf-8", "replace") if message.key else None
            found.append({**json.loads(message.value), "key": key})
            if expect is not None and len(found) >= expect:
                break
    finally:
        consumer.close()
    return found


def redrive(
    bootstrap: str,
    dead_letter_topic: str,
    events_topic: str,
    *,
    group: str = "incentive-engine-redrive",
    quiet_s: float = 2,
    join_timeout_s: float = 60,
) -> int:
    """Send the dead letters not redriven before back to the events topic, each with its
    original bytes and key (after the cause is fixed: a missing rep now loaded, say); the
    group remembers how far it got.  Only letters written before the run starts are sent
    (by their timestamps): one still invalid is dead-lettered again by the worker, and
    redriven only by a later run.  The run ends at the first newer letter of every
    partition, or after ``quiet_s`` without letters.  Returns how many were sent."""
    consumer = KafkaConsumer(
        dead_letter_topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **GROUP_TIMING,
    )
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    started_ms = time.time() * 1000
    joining_until = time.monotonic() + join_timeout_s
    quiet_since: float | None = None  # from joining the group, or from the last letter
    reached: set[TopicPartition] = set()  # partitions whose letters from before are all sent
    done: dict[TopicPartition, OffsetAndMetadata] = {}
    sent = 0
    try:
        while True:
            polled = consumer.poll(timeout_ms=200)
            assigned = consumer.assignment()
            for tp, batch in polled.items():
                for message in batch:
                    if tp in reached or message.timestamp >= started_ms:
                        reached.add(tp)  # written after the start (perhaps by this very run)
                        continue
                    original = base64.b64decode(json.loads(message.value)["original"])
                    producer.send(events_topic, key=message.key, value=original)
                    done[tp] = OffsetAndMetadata(message.offset + 1, "", -1)
                    sent += 1
            now = time.monotonic()
            if polled or (quiet_since is None and assigned):
                quiet_since = now
            if assigned and (assigned <= reached or now - (quiet_since or now) >= quiet_s):
                break
            if quiet_since is None and now > joining_until:
                raise RuntimeError(f"could not join consumer group {group!r} at {bootstrap}")
        producer.flush()
        if done:
            consumer.commit(done)  # only once every letter sent is on the events topic
    finally:
        producer.close()
        consumer.close()
    return sent
