"""Memory benchmark: the resident memory of a fresh process holding the facts of N demo events.

    python -m bench.memory --events 1000000 --dir /tmp/ie-mem

Generates N demo events (``demo.generator.iter_generate``) into a SQLite store through the real
ingest path once (kept in ``--dir`` and reused while the event count and seed match), then starts
a fresh Python process that replays the whole log into facts (``services.replay.replay_facts``,
what the API server and the CLI do without a snapshot) and prints its RSS before and after, the
peak RSS, and optionally the largest allocation sites (``--top``, with tracemalloc: slower).

Goals (issue 18): under 200 MB RSS for 1,000,000 events, under 1.5 GB for 10,000,000.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1024 * 1024


def rss_bytes() -> int:
    """This process's resident set size now (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize()


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def prepare(work: Path, events: int, reps: int, seed: int) -> Path:
    """A SQLite store holding the demo events (built once, reused while its stamp matches)."""
    from incentive_engine.demo.generator import iter_generate
    from incentive_engine.domain.scopes import parse_scope
    from incentive_engine.services.ingest import IngestService, read_jsonl
    from incentive_engine.settings import Settings
    from incentive_engine.store.event_store import EventStore

    work.mkdir(parents=True, exist_ok=True)
    store_path, stamp_path = work / "memory.db", work / "memory.stamp"
    stamp = {"events": events, "reps": reps, "seed": seed}
    if stamp_path.exists() and json.loads(stamp_path.read_text()) == stamp:
        return store_path
    for stale in work.glob("memory.db*"):
        stale.unlink()
    export = work / "memory.jsonl"
    started = time.perf_counter()
    with export.open("w", encoding="utf-8") as handle:
        for e in iter_generate(reps=reps, events=events, seed=seed):
            handle.write(json.dumps(e.model_dump(mode="json", exclude_none=True)))
            handle.write("\n")
    print(f"generated {events:,} events in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    with EventStore(Settings(store_url=f"sqlite:///{store_path}")) as store:
        service = IngestService(store, scope=parse_scope("all"), batch_size=1000)
        report = service.ingest(str(export), lambda: read_jsonl(export))
        assert not report.errors, report.errors[:5]
    print(f"ingested {report.stored:,} events in {time.perf_counter() - started:.1f} s", flush=True)
    export.unlink()
    stamp_path.write_text(json.dumps(stamp))
    return store_path


def child(store_path: Path, top: int) -> None:
    """In a fresh process: replay the store into facts and print the memory figures as JSON."""
    import incentive_engine.services.engine  # noqa: F401  (what a server imports)
    from incentive_engine.services.replay import replay_facts
    from incentive_engine.settings import Settings
    from incentive_engine.store.event_store import EventStore

    if top:
        import tracemalloc

        tracemalloc.start(1)
    gc.collect()
    base = rss_bytes()
    started = time.perf_counter()
    with EventStore(Settings(store_url=f"sqlite:///{store_path}")) as store:
        facts = replay_facts(store)
    seconds = time.perf_counter() - started
    gc.collect()
    held = rss_bytes()
    result = {
        "events": facts.event_count,
        "rss_base_mb": round(base / MB, 1),
        "rss_holding_mb": round(held / MB, 1),
        "facts_mb": round((held - base) / MB, 1),
        "peak_rss_mb": round(peak_rss_bytes() / MB, 1),
        "replay_s": round(seconds, 2),
        "summary": facts.summary(),
    }
    if top:
        snapshot = tracemalloc.take_snapshot()
        result["top"] = [
            f"{s.size / MB:8.1f} MB {s.count:>10,} blocks  {s.traceback[0]}"
            for s in snapshot.statistics("lineno")[:top]
        ]
    print(json.dumps(result))


def main() -> None:
    """Prepare the store, measure a fresh process holding its facts, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes measured")
    parser.add_argument("--top", type=int, default=0, help="print the N largest allocation sites")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.top)
        return
    work = args.dir or Path(tempfile.mkdtemp(prefix="ie-memory-"))
    store_path = prepare(work, args.events, args.reps, args.seed)
    command = [sys.executable, "-m", "bench.memory", "--child", str(store_path)]
    print("command: python -m bench.memory", " ".join(sys.argv[1:]))
    runs = []
    for i in range(args.repeat):
        top = args.top if i == 0 else 0
        out = subprocess.run(
            [*command, "--top", str(top)], check=True, capture_output=True, text=True
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        runs.append(result)
        for line in result.pop("top", []):
            print(line)
        print(
            f"run {i + 1}: {result['events']:,} events, RSS holding the facts "
            f"{result['rss_holding_mb']:.1f} MB (interpreter and imports "
            f"{result['rss_base_mb']:.1f} MB, facts {result['facts_mb']:.1f} MB), "
            f"peak {result['peak_rss_mb']:.1f} MB, "
            f"replay {result['replay_s']:.1f} s",
            flush=True,
        )
    holding = sorted(r["rss_holding_mb"] for r in runs)
    peaks = sorted(r["peak_rss_mb"] for r in runs)
    print(
        f"median RSS holding the facts: {holding[len(holding) // 2]:.1f} MB "
        f"(spread {holding[0]:.1f}-{holding[-1]:.1f}); median peak {peaks[len(peaks) // 2]:.1f} MB"
    )
    print("facts:", runs[-1]["summary"])


if __name__ == "__main__":
    main()
