"""Replay benchmark: generate N demo events, ingest them into a fresh SQLite store through the
real ingest path, then time a raw read of the log, read + decode, and replay into facts.

    python -m bench.replay --events 1000000

Goals (issue 2): replay >= 100,000 events/s, and replay <= 2x read + decode.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from incentive_engine.demo.generator import iter_generate
from incentive_engine.domain.scopes import parse_scope
from incentive_engine.services.ingest import IngestService, read_jsonl
from incentive_engine.services.replay import gc_paused, replay_facts
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore, decode


def timed(label: str, n: int, fn: Callable[[], object], repeat: int = 1) -> float:
    """Run fn `repeat` times; print and return the median seconds."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
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
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="ie-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    export = work / "events.jsonl"
    store_path = work / "bench.db"
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
    timed("generate JSONL", n, write_export)
    with open(export, encoding="utf-8") as handle:
        n = sum(1 for _ in handle)
    settings = Settings(store_url=f"sqlite:///{store_path}")
    with EventStore(settings) as store:
        service = IngestService(store, scope=parse_scope("all"), batch_size=1000)
        result = {}

        def ingest() -> None:
            result["report"] = service.ingest(str(export), lambda: read_jsonl(export))

        timed("ingest (validate + append)", n, ingest)
        report = result["report"]
        assert not report.errors, report.errors[:5]
        assert report.stored == n, (report.stored, n)

        def raw() -> None:
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

        t_raw = timed("raw read of the log", n, raw, args.repeat)
        t_decode = timed("read + decode events", n, read_decode, args.repeat)
        timed("read + decode with metadata", n, read_decode_recorded, args.repeat)
        t_replay = timed("replay into facts", n, replay, args.repeat)
    print(f"replay / (read + decode)  = {t_replay / t_decode:.2f}x (goal <= 2x)")
    print(f"replay / raw read         = {t_replay / t_raw:.2f}x")
    print(f"replay throughput         = {n / t_replay:,.0f} events/s (goal >= 100,000)")
    print("facts:", result["facts"].summary())


if __name__ == "__main__":
    main()
