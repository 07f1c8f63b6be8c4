"""Ingest benchmark (issue 18, goal 1): the full validating ingest path against the
``eventsourcing`` library's own recorder writing the same events, in the same run.

    python -m bench.ingest --events 1000000 --repeat 3
    python -m bench.ingest --events 200000 --store postgres --pg postgresql://postgres@127.0.0.1:5432/test

Each run writes into a fresh store:

- ``library recorder``: the application recorder of the same backend (the library's own on
  SQLite; on PostgreSQL the store's, the library's with a column-array insert) writes the
  same number of events (each its own stream, the stored state of the same size: the
  record's JSON text), 1,000 per ``insert_events`` call;
- ``ingest``: ``IngestService.ingest`` of the JSONL file (parse, validate, references,
  idempotency, append) in batches of 1,000;
- ``re-ingest``: the same file ingested again into the filled store (every event a
  duplicate: it stores nothing).

Goals: ingest >= 60,000 events/s on SQLite and <= 1.5x the recorder's time; >= 30,000
events/s on PostgreSQL; re-ingest >= 150,000 events/s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson

from incentive_engine.demo.generator import iter_generate
from incentive_engine.domain.scopes import parse_scope
from incentive_engine.services.ingest import IngestService, read_jsonl
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore

BATCH = 1000


def write_export(path: Path, events: int, reps: int) -> int:
    """Write ``events`` demo events as JSON Lines; the number of lines written."""
    count = 0
    with path.open("wb") as handle:
        for event in iter_generate(reps=reps, events=events, seed=1):
            handle.write(orjson.dumps(event.model_dump(mode="json", exclude_none=True)))
            handle.write(b"\n")
            count += 1
    return count


def library_write(settings: Settings, export: Path) -> None:
    """The library's own recorder writes the file's events, one stream each, 1,000 per call."""
    from eventsourcing.persistence import StoredEvent

    with EventStore(settings) as store:  # the same table and indexes as ingest writes to
        recorder = store.recorder
        batch: list[StoredEvent] = []
        with export.open("rb") as handle:
            for line in handle:
                head = orjson.loads(line)
                batch.append(StoredEvent(head["event_id"], 1, head["type"], line))
                if len(batch) >= BATCH:
                    recorder.insert_events(batch)
                    batch = []
        if batch:
            recorder.insert_events(batch)


def ingest(settings: Settings, export: Path, expect_stored: bool) -> None:
    """Ingest the file through the validating path; check what it stored."""
    with EventStore(settings) as store:
        service = IngestService(store, scope=parse_scope("all"), batch_size=BATCH)
        report = service.ingest(str(export), lambda: read_jsonl(export))
    assert not report.errors, report.errors[:5]
    if expect_stored:
        assert report.stored == report.records and not report.duplicates, report.as_dict()
    else:
        assert report.stored == 0 and report.duplicates == report.records, report.as_dict()


CPU: dict[str, list[float]] = {}
"""CPU seconds of this process per phase (SQLite works inside it; a busy machine stretches
wall time but hardly CPU time)."""


def timed(label: str, fn: Callable[[], None]) -> float:
    """Wall seconds one call takes (its CPU seconds go to ``CPU``)."""
    started, cpu = time.perf_counter(), time.process_time()
    fn()
    CPU.setdefault(label, []).append(time.process_time() - cpu)
    return time.perf_counter() - started


def show(label: str, key: str, n: int, runs: list[float]) -> float:
    """Print a phase's median and spread (and its CPU seconds); return the median."""
    median = statistics.median(runs)
    spread = f"{min(runs):.2f}-{max(runs):.2f}"
    shown = ", ".join(f"{r:.2f}" for r in runs)
    cpu = statistics.median(CPU[key])
    print(
        f"{label:<22} {n:>10,} events  median {median:7.2f} s  {n / median:>10,.0f} events/s"
        f"  (runs {shown}; spread {spread} s; CPU {cpu:.2f} s = {n / cpu:,.0f} events/CPU-s)"
    )
    return median


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each phase (>= 3)")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL URL"
    )
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="ie-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    export = work / "events.jsonl"
    print("command:", " ".join(["python -m bench.ingest", *sys.argv[1:]]))
    print(f"work dir: {work}")
    started = time.perf_counter()
    n = write_export(export, args.events, args.reps)
    print(f"generated {n:,} events in {time.perf_counter() - started:.1f} s")

    made: list[str] = []

    def fresh(kind: str) -> Settings:
        name = f"{kind}_{uuid.uuid4().hex[:8]}"
        made.append(name)
        if args.store == "sqlite":
            return Settings(store_url=f"sqlite:///{work / (name + '.db')}")
        return Settings(store_url=f"{args.pg}?schema=bench_{name}")

    library, ingested, again = [], [], []
    try:
        for _ in range(args.repeat):
            library.append(timed("library", lambda: library_write(fresh("library"), export)))
            target = fresh("ingest")
            ingested.append(timed("ingest", lambda t=target: ingest(t, export, expect_stored=True)))
            again.append(timed("again", lambda t=target: ingest(t, export, expect_stored=False)))
            cleanup(args, work, made)
    finally:
        cleanup(args, work, made)
    t_lib = show("library recorder", "library", n, library)
    t_ingest = show(f"ingest ({args.store})", "ingest", n, ingested)
    t_again = show("re-ingest (duplicates)", "again", n, again)
    ratios = [i / lib for i, lib in zip(ingested, library, strict=True)]
    print(
        f"ingest / library recorder = {statistics.median(ratios):.2f}x, the median of the "
        f"ratios within each run (per run: {', '.join(f'{r:.2f}' for r in ratios)}; of the "
        f"medians {t_ingest / t_lib:.2f}x; goal <= 1.5x on SQLite)"
    )
    cpu_ratio = statistics.median(CPU["ingest"]) / statistics.median(CPU["library"])
    print(f"ingest / library recorder in CPU time of this process = {cpu_ratio:.2f}x")
    goal = 60_000 if args.store == "sqlite" else 30_000
    print(f"ingest throughput    = {n / t_ingest:,.0f} events/s (goal >= {goal:,})")
    print(f"re-ingest throughput = {n / t_again:,.0f} events/s (goal >= 150,000)")


def cleanup(args: argparse.Namespace, work: Path, made: list[str]) -> None:
    """Remove the stores of finished runs (files, or PostgreSQL schemas)."""
    for name in made:
        if args.store == "sqlite":
            for path in work.glob(name + ".db*"):
                path.unlink()
        else:
            import psycopg

            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "bench_{name}" CASCADE')
    made.clear()


if __name__ == "__main__":
    main()
