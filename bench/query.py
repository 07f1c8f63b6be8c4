"""Query benchmark: a statement and the payouts of a period, as users run them, on a store of
1,000,000 events and on the demo store, once ``replay`` has written a snapshot of the facts;
and how soon the API answers its first statement on the big store.

    python -m bench.query --dir /work/bench1m

Builds what is missing under ``--dir``: ``bench.db`` (N demo events through the real ingest,
as ``bench.replay`` does, plus the catalogue's plans) and ``demo/`` (``incentive-engine
demo``); runs ``incentive-engine replay`` on both (which writes the snapshot), then times
each command as a fresh process (wall time; random reps and periods; the median of
``--repeat`` runs).

Goals (issue 12): statement < 1 s on 1M events, payouts (300 reps) < 2 s, statement time
1M / demo <= 1.3, API first authenticated statement < 3 s after start.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from incentive_engine.demo.generator import iter_generate
from incentive_engine.domain.periods import Period
from incentive_engine.domain.scopes import parse_scope
from incentive_engine.services.engine import Engine
from incentive_engine.services.ingest import IngestService, read_jsonl
from incentive_engine.services.plan_publishing import publish
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import load_plan

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("incentive-engine"))
PERIODS = ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]


def build_big(path: Path, events: int, reps: int) -> None:
    """A store of ``events`` demo events ingested through the real path."""
    export = path.with_name("events.jsonl")
    if not export.exists():
        with export.open("w", encoding="utf-8") as handle:
            for e in iter_generate(reps=reps, events=events, seed=1):
                handle.write(json.dumps(e.model_dump(mode="json", exclude_none=True)) + "\n")
    with EventStore(Settings(store_url=f"sqlite:///{path}")) as store:
        report = IngestService(store, scope=parse_scope("all"), batch_size=1000).ingest(
            str(export), lambda: read_jsonl(export)
        )
        assert not report.errors, report.errors[:5]


def publish_catalog(url: str) -> None:
    """The catalogue's plans (already published versions are left as they are)."""
    with EventStore(Settings(store_url=url)) as store:
        for doc in sorted((ROOT / "plans" / "catalog").glob("*.yaml")):
            publish(
                store, load_plan(doc.read_text(encoding="utf-8"), str(doc)), published_by="bench"
            )


def run(*args: str, show: str | None = None) -> float:
    """Run the CLI once; its wall time in seconds (printing its output lines that start
    with ``show``)."""
    started = time.perf_counter()
    done = subprocess.run([CLI, *args], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    for line in done.stdout.splitlines() if show else []:
        if line.startswith(show):  # type: ignore[arg-type]
            print(f"  {line}")
    return seconds


def covered(url: str, rng: random.Random, n: int) -> list[tuple[str, str]]:
    """n random (rep, period) pairs for which a plan is in force."""
    with Engine(Settings(store_url=url)) as engine:
        snap = engine.snapshot()
        pairs = [
            (rep, period)
            for rep in sorted(snap.facts.reps)
            for period in PERIODS
            if snap.book.for_rep(snap.facts, rep, Period.parse(period))
        ]
    return rng.sample(pairs, n)


def median(label: str, runs: list[float]) -> float:
    """Print and return the median of some runs."""
    m = statistics.median(runs)
    print(f"{label:<44} {m:6.2f} s  (runs: {', '.join(f'{r:.2f}' for r in runs)})")
    return m


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_statement(url: str, rep: str, period: str, timeout: float = 120) -> float:
    """Seconds from starting ``serve`` until an authenticated statement request answers 200."""
    token = subprocess.run(
        [CLI, "--store", url, "token", "finance", "fin"], capture_output=True, text=True, check=True
    ).stdout.strip()
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [CLI, "--store", url, "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - started < timeout:
            if server.poll() is not None:
                raise SystemExit(f"the server exited with {server.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                conn.request(
                    "GET",
                    f"/v1/reps/{rep}/statements/{period}",
                    headers={"Authorization": f"Bearer {token}"},
                )
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    return time.perf_counter() - started
                raise SystemExit(f"the API answered {response.status}")
            except OSError:
                time.sleep(0.02)
        raise SystemExit("the API did not answer in time")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    """Build what is missing, write the snapshots, time the queries and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, required=True, help="work directory (reused)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each timed command")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    work = args.dir
    work.mkdir(parents=True, exist_ok=True)
    big = work / "bench.db"
    if not big.exists():
        print(f"building {args.events:,} events in {big} (minutes)")
        build_big(big, args.events, args.reps)
    demo = work / "demo"
    if not (demo / "store.db").exists():
        run("demo", "--dir", str(demo))
    stores = {"1M": f"sqlite:///{big}", "demo": f"sqlite:///{demo / 'store.db'}"}
    publish_catalog(stores["1M"])
    for name, url in stores.items():
        seconds = run("--store", url, "replay", show="snapshot")
        median(f"replay + read models + snapshot ({name})", [seconds])

    statement: dict[str, float] = {}
    payouts: dict[str, float] = {}
    for name, url in stores.items():
        pairs = covered(url, rng, args.repeat)
        runs = [run("--store", url, "statement", rep, period) for rep, period in pairs]
        statement[name] = median(f"statement REP PERIOD ({name})", runs)
        periods = [rng.choice(PERIODS) for _ in range(args.repeat)]
        runs = [run("--store", url, "payouts", period) for period in periods]
        payouts[name] = median(f"payouts PERIOD ({name})", runs)
    ratio = statement["1M"] / statement["demo"]
    print(f"statement 1M / demo = {ratio:.2f}x (goal <= 1.3x)")
    rep, period = covered(stores["1M"], rng, 1)[0]
    runs = [first_statement(stores["1M"], rep, period) for _ in range(3)]
    median("API start -> first statement (1M)", runs)


if __name__ == "__main__":
    main()
