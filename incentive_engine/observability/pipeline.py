"""Metrics of the long-running pipeline processes: the Kafka ingest worker (messages
consumed, events stored, duplicates, dead letters, lag behind the topic, batch timings) and
the followers of the log, the projector and the notification publisher (positions, lag
behind the log's head, events applied, notifications sent, run timings)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Gauge, Histogram

BATCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds a batch (a poll of the worker, a page or a run of a follower) may take."""

CONSUMED = Counter(
    "incentive_worker_messages_consumed",
    "Kafka messages the worker read (a message waiting for a reference counts each time).",
    ["topic"],
)
STORED = Counter("incentive_worker_events_stored", "Events the worker appended.", ["topic"])
DUPLICATES = Counter(
    "incentive_worker_duplicates",
    "Messages whose event was stored before (redelivered; a no-op).",
    ["topic"],
)
DEAD_LETTERED = Counter(
    "incentive_worker_dead_lettered", "Messages sent to the dead-letter topic.", ["topic"]
)
WAITS = Counter(
    "incentive_worker_reference_waits",
    "Deliveries put back to wait for a rep, deal or territory not stored yet.",
    ["topic"],
)
STORE_RETRIES = Counter(
    "incentive_worker_store_retries",
    "Batches retried because the store did not answer.",
    ["topic"],
)
BATCH_SECONDS = Histogram(
    "incentive_worker_batch_duration_seconds",
    "Time to validate and store one poll's messages (one transaction) and send its dead letters.",
    ["topic"],
    buckets=BATCH_BUCKETS,
)
BATCH_SIZE = Histogram(
    "incentive_worker_batch_messages",
    "Messages in one stored batch.",
    ["topic"],
    buckets=(1, 10, 100, 500, 1000, 2000, 5000, 10000),
)
TOPIC_LAG = Gauge(
    "incentive_worker_topic_lag_messages",
    "Messages of an assigned partition not read yet (the partition's high watermark minus "
    "the worker's position).",
    ["topic", "partition"],
)

LOG_HEAD = Gauge(
    "incentive_log_head_position", "The position of the newest event in the log.", ["process"]
)
POSITION = Gauge(
    "incentive_projection_position",
    "The last log position a read model (or the publisher) has applied.",
    ["projection"],
)
LAG = Gauge(
    "incentive_projection_lag_events",
    "Log positions a read model (or the publisher) is behind the log's head.",
    ["projection"],
)
APPLIED = Counter(
    "incentive_projection_events_applied",
    "Log positions a follower of the log processed.",
    ["process"],
)
PAGE_SECONDS = Histogram(
    "incentive_projection_page_duration_seconds",
    "Time to apply one page of the log to the read models (or to publish it).",
    ["process"],
    buckets=BATCH_BUCKETS,
)
RUN_SECONDS = Histogram(
    "incentive_projection_run_duration_seconds",
    "Time of a catch-up run that found new events: every page up to the log's head, then "
    "the derived read models settled.",
    ["process"],
    buckets=BATCH_BUCKETS,
)
NOTIFICATIONS = Counter(
    "incentive_publisher_notifications",
    "Notifications the publisher sent to its outbound topic.",
    ["topic"],
)
CHECKPOINTS = Counter(
    "incentive_projector_checkpoints", "Signed checkpoints the projector wrote.", []
)
CHECKPOINTS_REFUSED = Counter(
    "incentive_projector_checkpoints_refused",
    "Checkpoints refused because the log failed verification.",
    [],
)


def positions(process: str, head: int, tracked: Mapping[str, int]) -> None:
    """Record the log's head and each tracked position (and its lag) seen by ``process``."""
    LOG_HEAD.labels(process).set(head)
    for name, position in tracked.items():
        POSITION.labels(name).set(position)
        LAG.labels(name).set(max(0, head - position))
