"""Metrics and logs of the pipeline processes with real components: the Kafka worker against
the test broker (messages consumed, events stored, duplicates, dead letters, lag behind the
topic, batch timings, one JSON line a batch), a real `project --follow --metrics-port`
process (positions and lag behind the log's head), and the publisher's follow loop
(notifications sent, its lag)."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from prometheus_client import REGISTRY

from incentive_engine.cli.observe import count_notifications, follow_log
from incentive_engine.domain.events import event_content
from incentive_engine.kafka.worker import IngestWorker, WorkerConfig
from incentive_engine.observability.exposition import serve_metrics
from incentive_engine.observability.logs import configure_logging
from incentive_engine.services.replay import facts_until
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from projections.publisher import Publisher
from projections.runner import ProjectionRunner, make_engine
from tests.broker import free_port, start_broker
from tests.conftest import sqlite_settings
from tests.factories import call, hired, won

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    port = free_port()
    proc = start_broker(port)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    configure_logging(Settings(log_format="json"), stream)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def wait_for(done: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return answer.read().decode()


def test_the_worker_counts_what_it_consumes_stores_and_dead_letters_and_its_topic_lag(
    broker: str, tmp_path: Path, json_logs: io.StringIO
) -> None:
    settings = sqlite_settings(tmp_path)
    topic = f"obs-{time.monotonic_ns()}"
    admin = KafkaAdminClient(bootstrap_servers=broker)
    admin.create_topics([NewTopic(topic, 2, 1), NewTopic(topic + ".dead", 1, 1)])
    admin.close()
    good = [hired("an"), *[call("an", i) for i in range(10)]]
    values = [json.dumps(event_content(e)).encode() for e in good]
    values += [b"{not json", b'{"type": "Nope", "event_id": "x"}', values[1]]  # + a duplicate
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    for v in values:
        producer.send(topic, key=b"an", value=v)
    producer.flush()
    producer.close()
    config = WorkerConfig(broker, topic, topic + ".dead", group=f"g-{topic}")
    worker = IngestWorker(settings, config)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    lag = "incentive_worker_topic_lag_messages"
    try:
        wait_for(lambda: worker.stats.polled >= len(values))
        # the lag of the partition the messages went to, once read to its end
        wait_for(
            lambda: any(
                REGISTRY.get_sample_value(lag, {"topic": topic, "partition": p}) == 0
                for p in ("0", "1")
            )
        )
    finally:
        stop.set()
        thread.join(timeout=30)
    assert value("incentive_worker_messages_consumed_total", topic=topic) == len(values)
    assert value("incentive_worker_events_stored_total", topic=topic) == len(good)
    assert value("incentive_worker_duplicates_total", topic=topic) == 1
    assert value("incentive_worker_dead_lettered_total", topic=topic) == 2
    batches = value("incentive_worker_batch_duration_seconds_count", topic=topic)
    assert batches == worker.stats.batches >= 1
    port = free_port()
    serve_metrics(port)
    exposition = scrape(port)
    assert f'incentive_worker_events_stored_total{{topic="{topic}"}} {len(good)}.0' in exposition
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    batch_lines = [line for line in lines if line.get("topic") == topic and "stored" in line]
    assert sum(line["stored"] for line in batch_lines) == len(good)
    assert sum(line["dead_lettered"] for line in batch_lines) == 2
    assert all(line["logger"] == "incentive_engine.kafka" for line in batch_lines)


def test_the_projector_process_serves_its_positions_and_lag_behind_the_log_head(
    tmp_path: Path,
) -> None:
    settings = sqlite_settings(tmp_path)
    with EventStore(settings) as store:
        store.append([hired("an"), *[call("an", i) for i in range(20)]])
    port = free_port()
    env = {**os.environ, "INCENTIVE_STORE_URL": settings.store_url, "INCENTIVE_LOG_FORMAT": "json"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "incentive_engine", "project", "--follow", "--poll", "0.1",
         "--metrics-port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def caught_up(head: int) -> Callable[[], bool]:
        def check() -> bool:
            try:
                text = scrape(port)
            except OSError:
                return False
            return (
                f'incentive_log_head_position{{process="projector"}} {head}.0' in text
                and 'incentive_projection_lag_events{projection="event_index"} 0.0' in text
                and f'incentive_projection_position{{projection="statements"}} {head}.0' in text
            )

        return check

    try:
        wait_for(caught_up(21), timeout=60)
        with EventStore(settings) as store:
            store.append([call("an", i) for i in range(20, 25)])
        wait_for(caught_up(26))
        text = scrape(port)
        assert 'incentive_projection_events_applied_total{process="projector"} 26.0' in text
        assert 'incentive_projection_page_duration_seconds_count{process="projector"}' in text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    runs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    applied = [r for r in runs if r.get("follower") == "projector" and r.get("applied")]
    assert sum(r["applied"] for r in applied) == 26
    assert applied[-1]["log_position"] == 26 and applied[-1]["lag"] == 0


def test_the_publisher_follow_loop_counts_notifications_and_its_lag(
    broker: str, tmp_path: Path
) -> None:
    settings = sqlite_settings(tmp_path)
    topic = f"obs-notes-{time.monotonic_ns()}"
    admin = KafkaAdminClient(bootstrap_servers=broker)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    views = make_engine(settings.resolved_views_url())
    try:
        with EventStore(settings) as store:
            store.append([hired("an"), hired("binh"), won("D1", rep_id="an")])
            publisher = Publisher(producer, topic, store=store)
            runner = ProjectionRunner(store, views, [publisher])
            publisher.prime(*facts_until(store, 0))
            stop = threading.Event()
            count = count_notifications(publisher)

            def after_run() -> None:
                count()
                if publisher.sent:
                    stop.set()

            follow_log(runner, stop, "publisher", 0.05, after_run=after_run)
    finally:
        producer.close()
        views.dispose()
    assert value("incentive_publisher_notifications_total", topic=topic) == 1  # D1 -> an
    assert value("incentive_projection_position", projection="publisher") == 3
    assert value("incentive_projection_lag_events", projection="publisher") == 0
    assert value("incentive_log_head_position", process="publisher") == 3
