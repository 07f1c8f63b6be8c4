"""The Kafka door against a real Kafka-protocol broker (tansu, started by the tests) and the
real stores: exactly-once storage, dead letters, poison messages, and a killed worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from incentive_engine.domain.events import event_content
from incentive_engine.kafka.worker import IngestWorker, WorkerConfig, dead_letters
from incentive_engine.services.replay import facts_until
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from projections.publisher import Publisher
from projections.runner import ProjectionRunner, make_engine
from tests.broker import free_port, start_broker
from tests.factories import call, hired

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """A tansu broker (Kafka protocol, memory storage) on a free port, for the session."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    proc = start_broker(port)
    try:
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def topics(broker: str, name: str) -> WorkerConfig:
    admin = KafkaAdminClient(bootstrap_servers=broker)
    admin.create_topics([NewTopic(name, 3, 1), NewTopic(name + ".dead", 1, 1)])
    admin.close()
    return WorkerConfig(broker, topic=name, dead_letter_topic=name + ".dead", group=f"g-{name}")


def produce(broker: str, topic: str, messages: list[tuple[str, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    for key, value in messages:
        producer.send(topic, key=key.encode(), value=value)
    producer.flush()
    producer.close()


def run_until(worker: IngestWorker, done: callable, timeout: float = 30) -> None:  # type: ignore[valid-type]
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done():  # type: ignore[operator]
        time.sleep(0.1)
    stop.set()
    thread.join(timeout=30)


def event_ids(settings: Settings) -> list[str]:
    with EventStore(settings) as store:
        return [r.event.event_id for r in store.read()]


def stored_count(settings: Settings) -> int:
    """How many events the log holds, counted from the raw rows (no decoding: polled often)."""
    with EventStore(settings) as store:
        return sum(len(page) for page in store.pages())


def as_message(event: object) -> bytes:
    return json.dumps(event_content(event), ensure_ascii=False).encode()  # type: ignore[arg-type]


def test_valid_events_are_stored_once_and_bad_messages_dead_lettered(
    broker: str, settings: Settings
) -> None:
    config = topics(broker, f"ev-{os.getpid()}-{settings.store_url[:6]}-{time.monotonic_ns()}")
    good = [hired("an")] + [call("an", i) for i in range(20)]
    messages = [("an", as_message(e)) for e in good]
    messages += [
        ("an", b"{not json"),
        ("an", b'{"type": "Nope", "event_id": "x"}'),
        ("an", b"x" * 200_000),
        ("an", json.dumps([1, 2]).encode()),
    ]
    messages += [("an", as_message(good[1]))]  # a redelivered duplicate
    produce(broker, config.topic, messages)
    config.max_message_bytes = 100_000
    worker = IngestWorker(settings, config)
    run_until(worker, lambda: worker.stats.polled >= len(messages))
    assert sorted(event_ids(settings)) == sorted(e.event_id for e in good)
    assert worker.stats.dead_lettered == 4 and worker.stats.duplicates == 1
    letters = dead_letters(broker, config.dead_letter_topic, expect=4)
    reasons = [letter["errors"][0]["reason"] for letter in letters]
    assert any("not valid JSON" in r for r in reasons)
    assert any("unknown event type 'Nope'" in r for r in reasons)
    assert any("exceeds" in r for r in reasons)
    assert any("JSON object" in r for r in reasons)
    assert all({"partition", "offset", "original", "topic"} <= set(letter) for letter in letters)


def test_a_reference_arriving_through_another_partition_is_waited_for(
    broker: str, tmp_path: Path
) -> None:
    """A deal keyed by deal id can overtake its rep's hiring, keyed by rep id: it waits for
    the rep instead of being dead-lettered; a rep that never comes is dead-lettered after
    the wait, and traffic behind it on its partition keeps being stored meanwhile."""
    from tests.factories import won

    settings = Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}")
    config = topics(broker, f"refs-{time.monotonic_ns()}")
    config.reference_wait_s, config.retry_ms = 4.0, 200
    early = won("D1", rep_id="late")
    ghost = won("D2", rep_id="ghost")
    behind = call("an", 5)
    produce(broker, config.topic, [("an", as_message(hired("an"))), ("D1", as_message(early))])
    produce(broker, config.topic, [("D2", as_message(ghost)), ("D2", as_message(behind))])
    worker = IngestWorker(settings, config)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    stored_while_waiting = False
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and worker.stats.waited == 0:
            time.sleep(0.05)
        assert worker.stats.waited > 0 and worker.stats.dead_lettered == 0
        produce(broker, config.topic, [("late", as_message(hired("late")))])
        while time.monotonic() < deadline and worker.stats.dead_lettered == 0:
            if behind.event_id in event_ids(settings):
                stored_while_waiting = worker.stats.dead_lettered == 0
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert stored_while_waiting
    ids = event_ids(settings)
    assert early.event_id in ids and ghost.event_id not in ids
    assert len(ids) == len(set(ids)) == 4  # an, late, D1, the call behind the ghost
    [letter] = dead_letters(broker, config.dead_letter_topic, expect=1)
    assert "unknown rep 'ghost'" in letter["errors"][0]["reason"]


def test_operators_list_dead_letters_and_redrive_them_once_the_cause_is_fixed(
    broker: str, tmp_path: Path
) -> None:
    from tests.factories import won

    settings = Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}")
    config = topics(broker, f"redrive-{time.monotonic_ns()}")
    config.reference_wait_s = 0  # dead-letter unknown references at once
    orphan = won("D9", rep_id="newcomer")
    produce(broker, config.topic, [("D9", as_message(orphan)), ("x", b"{broken")])
    worker = IngestWorker(settings, config)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    cli = [sys.executable, "-m", "incentive_engine", "dead-letters", "--bootstrap", broker]
    cli += ["--topic", config.dead_letter_topic, "--wait", "1"]

    def run(*args: str) -> str:  # as an operator would, in a process of its own
        done = subprocess.run([*cli, *args], cwd=ROOT, capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def until(done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not done():
            time.sleep(0.05)

    try:
        until(lambda: worker.stats.dead_lettered >= 2)
        rows = sorted(json.loads(run("--format", "json")), key=lambda r: r["offset"])
        assert [(r["key"], r["event_id"]) for r in rows] == [("D9", "won-D9"), ("x", None)]
        assert "unknown rep 'newcomer'" in rows[0]["reasons"] and "JSON" in rows[1]["reasons"]

        produce(broker, config.topic, [("newcomer", as_message(hired("newcomer")))])
        until(lambda: "hire-newcomer" in event_ids(settings))
        assert "redrove 2 dead letter(s)" in run("--redrive-to", config.topic)
        until(lambda: worker.stats.dead_lettered >= 3)  # the broken one, refused again
        # The group remembers: only the broken message's new letter goes again.
        assert "redrove 1 dead letter(s)" in run("--redrive-to", config.topic)
        until(lambda: worker.stats.dead_lettered >= 4)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert orphan.event_id in event_ids(settings)  # the cured letter is stored
    assert worker.stats.dead_lettered == 4 and event_ids(settings).count(orphan.event_id) == 1


def test_a_killed_worker_restarts_and_stores_each_event_exactly_once(
    broker: str, tmp_path: Path
) -> None:
    settings = Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}")
    config = topics(broker, f"kill-{time.monotonic_ns()}")
    events = [hired("an")] + [call("an", i) for i in range(3000)]
    produce(broker, config.topic, [("an", as_message(e)) for e in events])
    env = {**os.environ, "INCENTIVE_STORE_URL": settings.store_url}
    cmd = [
        sys.executable,
        "-m",
        "incentive_engine",
        "worker",
        "--bootstrap",
        broker,
        "--topic",
        config.topic,
        "--dead-letter-topic",
        config.dead_letter_topic,
        "--group",
        config.group,
    ]
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    with EventStore(settings) as store:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and store.max_position() == 0:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = store.max_position()
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stored_count(settings) < len(events):
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    ids = event_ids(settings)
    assert partial > 0 and len(ids) == len(events) == len(set(ids))


def worker_children(pid: int) -> set[int]:
    """The worker processes a ``worker --processes N`` parent has spawned."""
    found = set()
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.add(int(child))
        except FileNotFoundError:
            pass  # exited meanwhile
    return found


def test_worker_processes_share_the_group_and_a_killed_one_is_replaced(
    broker: str, pg_schema: str
) -> None:
    """``worker --processes 2`` on PostgreSQL: both processes consume; kill -9 one mid-stream,
    the parent starts another, and every event is stored exactly once."""
    from tests.conftest import postgres_settings

    settings = postgres_settings(pg_schema)
    config = topics(broker, f"procs-{time.monotonic_ns()}")
    reps = ["an", "binh", "chi", "dung"]
    events = [hired(r) for r in reps] + [call(reps[i % 4], i) for i in range(4000)]
    produce(broker, config.topic, [(e.rep_id, as_message(e)) for e in events])
    env = {**os.environ, "INCENTIVE_STORE_URL": settings.store_url}
    cmd = [sys.executable, "-m", "incentive_engine", "worker", "--bootstrap", broker]
    cmd += ["--topic", config.topic, "--dead-letter-topic", config.dead_letter_topic]
    cmd += ["--group", config.group, "--processes", "2", "--max-records", "200"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(worker_children(proc.pid)) < 2:
            time.sleep(0.05)
        first = worker_children(proc.pid)
        assert len(first) == 2
        with EventStore(settings) as store:
            while time.monotonic() < deadline and store.max_position() < 1000:
                time.sleep(0.01)
            victim = min(first)
            os.kill(victim, signal.SIGKILL)
            partial = store.max_position()
            while time.monotonic() < deadline and len(worker_children(proc.pid) - first) < 1:
                time.sleep(0.1)
            replaced = worker_children(proc.pid)
            while time.monotonic() < deadline and store.max_position() < len(events):
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    ids = event_ids(settings)
    assert victim not in replaced and len(replaced) == 2, "the killed process was not replaced"
    assert 0 < partial < len(events), "the kill did not land mid-stream"
    assert len(ids) == len(events) == len(set(ids))
    assert proc.returncode == 0 and "stopped:" in out


def test_a_dropped_postgres_connection_mid_stream_is_retried(
    broker: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pg_terminate_backend on the worker's connections while it stores: nothing lost or doubled."""
    import psycopg

    from tests.conftest import PG_DSN, postgres_settings

    app_name = f"ie-worker-{pg_schema}"
    monkeypatch.setenv("PGAPPNAME", app_name)  # libpq names the worker's connections
    settings = postgres_settings(pg_schema)
    config = topics(broker, f"pgdrop-{time.monotonic_ns()}")
    events = [hired("an")] + [call("an", i) for i in range(3000)]
    produce(broker, config.topic, [("an", as_message(e)) for e in events])
    config.max_records = 25  # many short writes: a drop lands inside one soon
    config.store_retry_max_s = 0.4  # the store is back as soon as the kills stop
    worker = IngestWorker(settings, config)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    killed = 0
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and worker.stats.stored == 0:
            time.sleep(0.01)
        with psycopg.connect(PG_DSN, autocommit=True, application_name="ie-test-admin") as admin:
            # until a drop lands inside a write (one between writes is now replaced unseen)
            while (
                time.monotonic() < deadline
                and not worker.stats.errors
                and worker.stats.stored < len(events)
            ):
                killed += admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = %s",
                    (app_name,),
                ).fetchone()[0]
                time.sleep(0.01)
        while time.monotonic() < deadline and stored_count(settings) < len(events):
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=30)
    ids = event_ids(settings)
    assert killed > 0, "no connection was dropped: the test did not test anything"
    assert worker.stats.errors, "the worker never saw the store fail"
    assert len(ids) == len(events) == len(set(ids))


def test_the_worker_recovers_when_the_broker_restarts(tmp_path: Path) -> None:
    """Stop the broker (memory storage: it forgets everything) and start it again on the same
    port: the running worker reconnects, rejoins, and stores what is produced afterwards."""

    settings = Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}")
    port = free_port()
    address = f"127.0.0.1:{port}"

    broker_proc = start_broker(port)
    config = topics(address, "restart")
    before = [hired("an")] + [call("an", i) for i in range(50)]
    produce(address, config.topic, [("an", as_message(e)) for e in before])
    worker = IngestWorker(settings, config)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.stats.stored < len(before):
            time.sleep(0.1)
        assert worker.stats.stored == len(before)
        broker_proc.terminate()
        broker_proc.wait(timeout=10)
        time.sleep(2)
        broker_proc = start_broker(port)
        topics(address, "restart")  # memory storage: the topics are gone
        after = [call("an", 1000 + i) for i in range(50)]
        produce(address, config.topic, [("an", as_message(e)) for e in after])
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(event_ids(settings)) < len(before) + len(after):
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=30)
        broker_proc.terminate()
        broker_proc.wait(timeout=10)
    ids = event_ids(settings)
    assert len(ids) == len(before) + len(after) == len(set(ids))


def publish_once(store: EventStore, settings: Settings, broker: str, topic: str) -> Publisher:
    """One run of the publisher from its tracking position, as a restarted process would."""
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    publisher = Publisher(producer, topic)
    runner = ProjectionRunner(store, make_engine(settings.resolved_views_url()), [publisher])
    publisher.prime(*facts_until(store, runner.positions()["publisher"]))
    runner.run()
    producer.close()
    return publisher


def published(broker: str, topic: str) -> list[tuple[str, dict[str, object]]]:
    """Every (key, message) on a topic, from the start."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=broker,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    found = [(m.key.decode(), json.loads(m.value)) for m in consumer]
    consumer.close()
    return found


def test_publisher_announces_rank_changes_and_badges_keyed_by_rep(
    broker: str, tmp_path: Path
) -> None:
    from plans.documents import publication
    from tests.examples.plans import plan, tiered
    from tests.factories import won

    settings = Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}")
    topic = f"game-{time.monotonic_ns()}"
    admin = KafkaAdminClient(bootstrap_servers=broker)
    admin.create_topics([NewTopic(topic, 2, 1)])
    admin.close()
    gamified = plan(
        tiered(),
        points={"won_deal": 10, "per_amount": {"step": 10_000_000, "points": 1}},
        badges=[{"id": "first", "name": "First win", "kind": "first_won_deal"}],
    )
    with EventStore(settings) as store:
        store.append([publication(gamified.plan), hired("an"), hired("binh")])
        store.append([won("D1", 20_000_000, rep_id="an", close_date="2026-01-20")])
        publish_once(store, settings, broker, topic)
        store.append([won("D2", 90_000_000, rep_id="binh", close_date="2026-02-03")])
        publish_once(store, settings, broker, topic)
        publish_once(store, settings, broker, topic)  # nothing new: nothing sent
    news = [(key, m) for key, m in published(broker, topic) if m["kind"] != "statement_changed"]
    assert all(key == m["rep_id"] for key, m in news)  # keyed by rep
    summary = sorted(
        str((m["kind"], m["rep_id"], m.get("rank_before"), m.get("rank"), m.get("badge_id")))
        for _, m in news
    )
    assert summary == [
        "('badge_awarded', 'an', None, None, 'first')",
        "('badge_awarded', 'binh', None, None, 'first')",
        "('rank_changed', 'an', 1, 2, None)",  # overtaken by binh's bigger deal
        "('rank_changed', 'an', None, 1, None)",  # first on the board
        "('rank_changed', 'binh', None, 1, None)",
    ]
    assert len({m["id"] for _, m in news}) == len(news)


def test_publisher_sends_each_reps_news_once_with_stable_ids(broker: str, tmp_path: Path) -> None:
    from incentive_engine.domain.events import DealCancelled
    from tests.factories import won

    settings = Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}")
    topic = f"notes-{time.monotonic_ns()}"
    admin = KafkaAdminClient(bootstrap_servers=broker)
    admin.create_topics([NewTopic(topic, 2, 1)])
    admin.close()
    with EventStore(settings) as store:
        store.append(
            [
                hired("an"),
                hired("binh"),
                won("D1", rep_id="an"),
                won("D2", splits=[{"rep_id": "an", "share": 50}, {"rep_id": "binh", "share": 50}]),
            ]
        )

        def run_once() -> Publisher:
            return publish_once(store, settings, broker, topic)

        assert run_once().sent == 3  # D1 -> an; D2 -> an and binh
        assert run_once().sent == 0  # the tracking position: nothing sent twice
        store.append(
            [
                DealCancelled(
                    event_id="c2", deal_id="D2", cancelled_date="2026-03-01", reason="refund"
                )
            ]
        )
        assert run_once().sent == 2  # after a restart, the cancellation still finds D2's reps
    ids = sorted(m["id"] for _, m in published(broker, topic))
    assert ids == sorted(
        [
            "statement_changed:won-D1:an",
            "statement_changed:won-D2:an",
            "statement_changed:won-D2:binh",
            "statement_changed:c2:an",
            "statement_changed:c2:binh",
        ]
    )


def test_the_worker_writes_only_its_scope_and_dead_letters_the_rest(
    broker: str, settings: Settings
) -> None:
    """Issue 13: a Kafka source writes CRM facts only by default; a manual adjustment, a
    close or a plan on the topic is dead-lettered with the reason, the rest stored."""
    from incentive_engine.domain.events import content_hash

    config = topics(broker, f"scope-{os.getpid()}-{settings.store_url[:6]}-{time.monotonic_ns()}")
    adjustment = {
        "type": "ManualAdjustment", "event_id": "adj-big", "rep_id": "an", "period": "2026-Q1",
        "amount": "1000000000000", "currency": "VND", "reason": "x", "posted_by": "crm",
        "posted_date": "2026-03-01",
    }  # fmt: skip
    junk = {"type": "PlanVersionPublished", "event_id": "plan:x:v1", "plan_id": "x",
            "version": 1, "effective_from": "2026-01-01", "document": {"junk": True},
            "content_hash": content_hash({"junk": True})}  # fmt: skip
    messages = [("an", as_message(hired("an"))), ("an", json.dumps(adjustment).encode())]
    messages += [("an", json.dumps(junk).encode()), ("an", as_message(call("an", 1)))]
    produce(broker, config.topic, messages)
    worker = IngestWorker(settings, config)
    run_until(worker, lambda: worker.stats.polled >= len(messages))
    assert sorted(event_ids(settings)) == ["act-an-1", "hire-an"]
    letters = dead_letters(broker, config.dead_letter_topic, expect=2)
    reasons = sorted(letter["errors"][0]["reason"] for letter in letters)
    assert "may not write ManualAdjustment" in reasons[0] and "scope crm" in reasons[0]
    assert "may not write PlanVersionPublished" in reasons[1]
    # A topic configured for plans still refuses a junk document, at its path.
    config2 = topics(broker, f"plans-{os.getpid()}-{settings.store_url[:6]}-{time.monotonic_ns()}")
    config2.scope = "plans"
    produce(broker, config2.topic, [("x", json.dumps(junk).encode())])
    worker2 = IngestWorker(settings, config2)
    run_until(worker2, lambda: worker2.stats.polled >= 1)
    [letter] = dead_letters(broker, config2.dead_letter_topic, expect=1)
    assert {e["field"] for e in letter["errors"]} >= {"document.junk", "document.plan_id"}
    assert "plan:x:v1" not in event_ids(settings)
