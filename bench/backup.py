"""Backup and restore benchmark: ingest N demo events into a fresh SQLite store, sign a
checkpoint, then time `backup` (with and without a writer appending meanwhile) and `restore`
(copy, schema upgrade and the full `audit verify` of the restored log).

    python -m bench.backup --events 100000

Prints each phase's median seconds and throughput, and the backup's size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from incentive_engine.demo.generator import iter_generate
from incentive_engine.domain.events import ActivityLogged
from incentive_engine.domain.scopes import parse_scope
from incentive_engine.services import backup as service
from incentive_engine.services.engine import Engine
from incentive_engine.services.ingest import IngestService, read_jsonl
from incentive_engine.services.integrity import checkpoint_after_verify, views_of
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore


def timed(label: str, n: int, fn: Callable[[], object], repeat: int = 1) -> float:
    """Run fn ``repeat`` times; print and return the median seconds."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    median = statistics.median(runs)
    spread = f" (runs: {', '.join(f'{r:.2f}' for r in runs)})" if repeat > 1 else ""
    print(f"{label:<34} {n:>10,} events {median:8.2f} s {n / median:>12,.0f} events/s{spread}")
    return median


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ie-bench-backup-"))
    export = work / "events.jsonl"
    with export.open("w", encoding="utf-8") as handle:
        for e in iter_generate(reps=args.reps, events=args.events, seed=1):
            handle.write(json.dumps(e.model_dump(mode="json", exclude_none=True)) + "\n")
    settings = Settings(store_url=f"sqlite:///{work / 'live' / 'store.db'}")
    (work / "live").mkdir()
    with EventStore(settings) as store:
        report = IngestService(store, scope=parse_scope("all"), batch_size=1000).ingest(
            str(export), lambda: read_jsonl(export)
        )
        n = report.stored
    with Engine(settings) as engine:
        views = views_of(engine)
        timed(
            "verify + sign a checkpoint",
            n,
            lambda: checkpoint_after_verify(engine, views, reason="bench"),
        )
        views.dispose()

    def fresh(name: str) -> Path:
        target = work / name
        shutil.rmtree(target, ignore_errors=True)
        return target

    timed("backup (idle store)", n, lambda: service.backup(settings, fresh("bk")), args.repeat)
    stop, appended = threading.Event(), [0]

    def writer() -> None:
        """Appends batches of 50 calls until stopped (each batch one write transaction)."""
        with EventStore(settings) as store:
            while not stop.is_set():
                base = appended[0]
                store.append(
                    [
                        ActivityLogged(
                            event_id=f"bench-call-{base + i}",
                            rep_id="bench-rep",
                            kind="call_connected",
                            occurred_at=f"2026-01-05T09:{i:02d}:00+00:00",
                        )
                        for i in range(50)
                    ]
                )
                appended[0] += 50

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        timed("backup (writer appending)", n, lambda: service.backup(settings, fresh("bk2")))
    finally:
        stop.set()
        thread.join()
    print(f"the writer appended {appended[0]:,} events meanwhile")
    size = sum(p.stat().st_size for p in (work / "bk").iterdir())
    print(f"backup size {size:,} bytes ({size / n:.0f} bytes/event)")

    def restore() -> None:
        target = Settings(store_url=f"sqlite:///{fresh('restored') / 'store.db'}")
        done = service.restore(target, work / "bk")
        assert done.verified, done.summary()

    timed("restore (copy + upgrade + verify)", n, restore, args.repeat)
    print(f"work dir: {work}")


if __name__ == "__main__":
    main()
