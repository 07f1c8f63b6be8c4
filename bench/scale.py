"""Scale benchmark (issue 18 goal 5): a year of a large sales organisation, end to end.

    python -m bench.scale --reps 3000 --events 10000000 --dir /tmp/ie-scale   # full size
    python -m bench.scale --reps 300 --events 200000                          # a quick look

Each step runs in a fresh process (so that its peak memory is its own) and prints its time
and peak RSS:

1. generate: the demo generator's year (``demo.generator.iter_generate``) as a JSONL export;
2. ingest: the export through the real validating ingest path into a SQLite store, then the
   demo's plan catalogue published (as ``incentive-engine demo`` does);
3. snapshot: the engine folds the log from zero (the RSS of the process then holding the
   facts is printed) and writes a fact snapshot;
4. pay run: a fresh engine starts from that snapshot, computes every rep's statement of the
   quarter (``period_statements``), then the quarter's payouts (``pay_run``).

``--steps kpis`` times the activity KPIs of the quarter from the snapshot.

Goal (issue 18): the pay run after the snapshot takes under 60 s at 10,000,000 events.
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

from incentive_engine.settings import Settings

MB = 1024 * 1024
STEPS = ("generate", "ingest", "snapshot", "payrun")
EXTRA_STEPS = ("kpis",)
"""Steps run only when named in ``--steps``."""


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """This process's resident set size now, in MB (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / MB


def _settings(work: Path) -> Settings:
    return Settings(store_url=f"sqlite:///{work / 'scale.db'}")


def generate(work: Path, reps: int, events: int, seed: int) -> dict[str, object]:
    """Write the demo year as JSONL."""
    from incentive_engine.demo.generator import iter_generate

    n = 0
    with (work / "scale.jsonl").open("w", encoding="utf-8") as handle:
        for e in iter_generate(reps=reps, events=events, seed=seed):
            handle.write(json.dumps(e.model_dump(mode="json", exclude_none=True)))
            handle.write("\n")
            n += 1
    return {"events": n}


def ingest(work: Path) -> dict[str, object]:
    """Ingest the export into a fresh store and publish the demo plans."""
    from incentive_engine.cli.main import CATALOG
    from incentive_engine.domain.scopes import parse_scope
    from incentive_engine.services.ingest import IngestService, read_jsonl
    from incentive_engine.services.plan_publishing import publish
    from incentive_engine.store.event_store import EventStore
    from plans.documents import load_plan

    for stale in work.glob("scale.db*"):
        stale.unlink()
    export = work / "scale.jsonl"
    with EventStore(_settings(work)) as store:
        service = IngestService(store, scope=parse_scope("all"), batch_size=1000)
        report = service.ingest(str(export), lambda: read_jsonl(export))
        assert not report.errors, report.errors[:5]
        plans = 0
        for path in sorted(CATALOG.glob("*.yaml")):
            text = path.read_text(encoding="utf-8")
            publish(store, load_plan(text, str(path)), published_by="bench")
            plans += 1
    return {"stored": report.stored, "plans": plans}


def snapshot(work: Path) -> dict[str, object]:
    """Fold the log from zero and write a fact snapshot."""
    from incentive_engine.services.engine import Engine

    with Engine(_settings(work)) as engine:
        started = time.perf_counter()
        report = engine.catch_up()
        fold_s = time.perf_counter() - started
        gc.collect()
        holding = rss_mb()
        written = engine.write_snapshot()
        assert written is not None
        summary = engine.snapshot().facts.summary()
    return {
        "fold_s": round(fold_s, 2),
        "rss_holding_facts_mb": round(holding, 1),
        "snapshot_write_s": round(written.seconds, 2),
        "snapshot_mb": round(written.bytes / MB, 1),
        "source": report.source,
        "facts": summary,
    }


def payrun(work: Path, quarter: str) -> dict[str, object]:
    """From the snapshot: every rep's statement of the quarter, then its payouts."""
    from incentive_engine.domain.periods import Period
    from incentive_engine.services.commissions import period_statements
    from incentive_engine.services.engine import Engine
    from incentive_engine.services.payrun import pay_run

    period = Period.parse(quarter)
    with Engine(_settings(work)) as engine:
        started = time.perf_counter()
        snap = engine.snapshot()
        load_s = time.perf_counter() - started
        assert engine.last_fold is not None and engine.last_fold.source == "snapshot"
        t = time.perf_counter()
        statements = period_statements(snap, period)
        statements_s = time.perf_counter() - t
        t = time.perf_counter()
        run = pay_run(snap, period)
        payouts_s = time.perf_counter() - t
    return {
        "load_snapshot_s": round(load_s, 2),
        "statements": len(statements),
        "statements_s": round(statements_s, 2),
        "payout_rows": len(run.rows),
        "payout_failures": len(run.failures),
        "payouts_s": round(payouts_s, 2),
        "pay_run_s": round(time.perf_counter() - started, 2),
    }


def kpis(work: Path, quarter: str) -> dict[str, object]:
    """From the snapshot, with every lazy section supplied first: the activity KPIs of the
    quarter by team, each timed."""
    from incentive_engine.domain.kpis import kpi
    from incentive_engine.domain.periods import Period
    from incentive_engine.services.engine import Engine

    period = Period.parse(quarter)
    found: dict[str, object] = {}
    with Engine(_settings(work)) as engine:
        facts = engine.snapshot().facts
        started = time.perf_counter()
        _ = facts.activities, facts.leads, [d.created for d in facts.deals.values()]
        found["supply_lazy_s"] = round(time.perf_counter() - started, 2)
        for name in ("calls_per_day", "customers_approached", "call_outcomes"):
            started = time.perf_counter()
            kpi(facts, name, period, "team")
            found[f"{name}_s"] = round(time.perf_counter() - started, 2)
    return found


def child(step: str, work: Path, args: argparse.Namespace) -> None:
    """Run one step in this (fresh) process and print its figures as JSON."""
    started = time.perf_counter()
    if step == "generate":
        result = generate(work, args.reps, args.events, args.seed)
    elif step == "ingest":
        result = ingest(work)
    elif step == "snapshot":
        result = snapshot(work)
    elif step == "kpis":
        result = kpis(work, args.quarter)
    else:
        result = payrun(work, args.quarter)
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(result))


def main() -> None:
    """Run the steps, each in a fresh process, and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=3000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quarter", default="2026-Q1")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help=f"which steps (default: {','.join(STEPS)}; also: {','.join(EXTRA_STEPS)})",
    )
    parser.add_argument(
        "--child", choices=STEPS + EXTRA_STEPS, default=None, help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="ie-scale-"))
    if args.child is not None:
        child(args.child, work, args)
        return
    work.mkdir(parents=True, exist_ok=True)
    print("command:", "python -m bench.scale", " ".join(sys.argv[1:]))
    print(f"work dir: {work}", flush=True)
    for step in args.steps.split(","):
        command = [
            sys.executable, "-m", "bench.scale", "--child", step, "--dir", str(work),
            "--reps", str(args.reps), "--events", str(args.events), "--seed", str(args.seed),
            "--quarter", args.quarter,
        ]  # fmt: skip
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        facts = result.pop("facts", None)
        seconds, peak = result.pop("seconds"), result.pop("peak_rss_mb")
        details = ", ".join(f"{k} {v}" for k, v in result.items())
        print(f"{step:<9} {seconds:>9.1f} s  peak RSS {peak:>8.1f} MB  ({details})", flush=True)
        if facts:
            print(f"          facts: {facts}", flush=True)


if __name__ == "__main__":
    main()
