"""Replay benchmark: generate N demo events, ingest them into a fresh SQLite store through the
real ingest path, then time a raw read of the log, read + decode, and replay into facts.

    python -m bench.replay --events 1000000
    python -m bench.replay --events 1000000 --dir DIR --reuse   # DIR's store, as it is

Goals (issue 18, goal 2): replay from zero >= 300,000 events/s on 1,000,000 events, and no
more than 3x a raw read of the log measured in the same run (issue 2: >= 100,000 events/s).
The read phases run in turns (raw, decode, replay, raw, ...), so that a busy machine moves
them alike; the medians and every run are printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from incentive_engine.demo.generator import iter_generate
from incentive_engine.domain.scopes import parse_scope
from incentive_engine.services.ingest import IngestService, read_jsonl
from incentive_engine.services.replay import gc_paused, replay_facts
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore, decode

CLOCK: Callable[[], float] = time.perf_counter
"""What ``timed`` reads: wall time, or with ``--cpu`` this process's CPU time (what a machine
shared with other work does not inflate)."""


def timed(label: str, n: int, fn: Callable[[], object], repeat: int = 1) -> float:
    """Run fn `repeat` times; print and return the median seconds."""
    runs = []
    for _ in range(repeat):
        started = CLOCK()
        fn()
        runs.append(CLOCK() - started)
    median = statistics.median(runs)
    spread = f" (runs: {', '.join(f'{r:.2f}' for r in runs)})" if repeat > 1 else ""
    print(f"{label:<28} {n:>10,} events {median:8.2f} s {n / median:>12,.0f} events/s{spread}")
    return median


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each read phase")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    parser.add_argument(
        "--reuse", action="store_true", help="time the store already in --dir (no generation)"
    )
    parser.add_argument(
        "--cpu", action="store_true", help="time the read phases in process CPU time, not wall"
    )
    args = parser.parse_args()
    if args.reuse and args.dir is None:
        parser.error("--reuse needs --dir")

    work = args.dir or Path(tempfile.mkdtemp(prefix="ie-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    export = work / "events.jsonl"
    store_path = work / "bench.db"
    if not args.reuse:
        for stale in work.glob("bench.db*"):
            stale.unlink()
    print(f"work dir: {work}")

    def write_export() -> None:
        with export.open("w", encoding="utf-8") as handle:
            for e in iter_generate(reps=args.reps, events=args.events, seed=1):
                handle.write(
                    json.dumps(e.model_dump(mode="json", exclude_none=True), ensure_ascii=False)
                )
                handle.write("\n")

    n = args.events
    if not args.reuse:
        timed("generate JSONL", n, write_export)
        with open(export, encoding="utf-8") as handle:
            n = sum(1 for _ in handle)
    settings = Settings(store_url=f"sqlite:///{store_path}")
    with EventStore(settings) as store:
        result: dict[str, Any] = {}
        if args.reuse:
            n = store.max_position()
        else:
            service = IngestService(store, scope=parse_scope("all"), batch_size=1000)

            def ingest() -> None:
                result["report"] = service.ingest(str(export), lambda: read_jsonl(export))

            timed("ingest (validate + append)", n, ingest)
            report = result["report"]
            assert not report.errors, report.errors[:5]
            assert report.stored == n, (report.stored, n)

        def raw() -> None:
            # GC paused as in the other phases, and the facts of an earlier round dropped
            # first: else the collector walks them again and again during the read.
            result.pop("facts", None)
            with gc_paused():
                for _page in store.pages(page_size=5000):
                    pass

        def read_decode() -> None:
            # The same reading and decoding replay does (bare events, GC paused alike),
            # so that replay / (read + decode) measures the fold alone.
            with gc_paused():
                for _page in store.events(page_size=5000):
                    pass

        def read_decode_recorded() -> None:
            with gc_paused():
                for page in store.pages(page_size=5000):
                    for position, state in page:
                        decode(position, state)

        def replay() -> None:
            result["facts"] = replay_facts(store)

        if args.cpu:
            global CLOCK
            CLOCK = time.process_time
        print(f"read phases timed in {'CPU' if args.cpu else 'wall'} time")
        phases = [
            ("raw read of the log", raw),
            ("read + decode events", read_decode),
            ("read + decode with metadata", read_decode_recorded),
            ("replay into facts", replay),
        ]
        runs: dict[str, list[float]] = {label: [] for label, _ in phases}
        ratios: list[float] = []
        for _ in range(args.repeat):
            for label, fn in phases:
                runs[label].append(timed(label, n, fn))
            ratios.append(runs["replay into facts"][-1] / runs["raw read of the log"][-1])
    print(f"medians of {args.repeat} runs (each run in brackets):")
    for label, seconds in runs.items():
        median = statistics.median(seconds)
        each = ", ".join(f"{r:.2f}" for r in seconds)
        print(f"{label:<28} {n:>10,} events {median:8.2f} s {n / median:>12,.0f} events/s ({each})")
    t_decode = statistics.median(runs["read + decode events"])
    t_replay = statistics.median(runs["replay into facts"])
    each = ", ".join(f"{r:.2f}" for r in ratios)
    print(f"replay / (read + decode)  = {t_replay / t_decode:.2f}x")
    ratio = statistics.median(ratios)
    print(f"replay / raw read         = {ratio:.2f}x, median per run ({each}) (goal <= 3x)")
    print(f"replay throughput         = {n / t_replay:,.0f} events/s (goal >= 300,000)")
    print("facts:", result["facts"].summary())


if __name__ == "__main__":
    main()
