"""HTTP API benchmark: a rep's statement under 50 concurrent clients, against a real server.

    python -m bench.api --requests 2000 --clients 50

Builds a fresh demo store (``incentive-engine demo``), issues a finance token for it
(``incentive-engine token finance fin``), starts ``incentive-engine serve`` (uvicorn) on a free
loopback port, and sends ``GET /v1/reps/{rep}/statements/2026-Q1`` from concurrent clients
(threads, one keep-alive connection each): a warm-up, then the measured run.  Prints the
latency percentiles and the throughput of each.  Loopback only; every loop is bounded in
count and in time; the server is stopped at the end.

Goal (issue: HTTP API): p99 < 50 ms at 50 concurrent clients.

``--mix`` (issue 18, goal 4) measures realistic traffic instead, on a store kept in ``--dir``
(built once with ``incentive-engine demo --reps R --events N``): the time from starting the
server to its first answered statement; then 50 clients asking for random covered reps'
statements, earnings and points and for leaderboards, across every quarter of the demo
year (read only); then the same while a writer posts ``--write-rate`` events/s to
``POST /v1/events`` and a probe posts a won deal every ``--probe-every`` seconds and times
how long until the deal is on the rep's statement.  Goals: p99 < 50 ms read only, < 100 ms
while writing, deal visible within 1 s (p99), first answer within 3 s of start.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tests.broker import free_port

HOST = "127.0.0.1"


def cli() -> list[str]:
    """The command that runs ``incentive-engine`` with this interpreter."""
    script = Path(sys.executable).with_name("incentive-engine")
    return [str(script)] if script.exists() else [sys.executable, "-m", "incentive_engine"]


def wait_until_up(port: int, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Wait for /healthz to answer 200 (or fail if the server died or took too long)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server did not answer on port {port} within {timeout:.0f} s")


def kind_of(path: str) -> str:
    """What a request asks for: statements, earnings, points, leaderboards..."""
    parts = path.split("?")[0].split("/")
    return parts[2] if parts[2] != "reps" else parts[4]


@dataclass
class Run:
    """What one phase measured."""

    latencies: list[float] = field(default_factory=list)
    """Seconds per request, successful or not."""
    refused: set[str] = field(default_factory=set)
    """The paths answered with another status than 200."""
    failures: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def percentile(self, p: float) -> float:
        """The p-th percentile latency in ms (nearest rank)."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1] * 1000

    def report(self, label: str, clients: int) -> str:
        """One line of figures."""
        n = len(self.latencies)
        rate = n / self.seconds if self.seconds else 0.0
        failed = sum(self.failures.values())
        line = (
            f"{label:<8} {n:>6} requests, {clients} clients, {self.seconds:6.2f} s, "
            f"{rate:8.1f} req/s | p50 {self.percentile(50):6.1f} ms  "
            f"p95 {self.percentile(95):6.1f} ms  p99 {self.percentile(99):6.1f} ms  "
            f"max {max(self.latencies, default=0) * 1000:6.1f} ms | failed {failed}"
        )
        if self.failures:
            line += " " + ", ".join(f"{k}: {v}" for k, v in sorted(self.failures.items()))
        return line


def load(
    port: int,
    path: str | Callable[[random.Random], str],
    token: str,
    *,
    requests: int,
    clients: int,
    max_seconds: float,
) -> Run:
    """Send ``requests`` GETs from ``clients`` threads (keep-alive), stopping early after
    ``max_seconds``; ``path`` is one path, or picks each request's path."""
    pick = path if callable(path) else (lambda _: path)
    run = Run()
    lock = threading.Lock()
    remaining = [requests]
    deadline = time.monotonic() + max_seconds
    headers = {"Authorization": f"Bearer {token}", "Connection": "keep-alive"}

    def take() -> bool:
        with lock:
            if remaining[0] <= 0 or time.monotonic() > deadline:
                return False
            remaining[0] -= 1
            return True

    def client(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        latencies: list[float] = []
        failures: dict[str, int] = {}
        refused: set[str] = set()
        while take():
            chosen = pick(rng)
            started = time.perf_counter()
            try:
                conn.request("GET", chosen, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    what = f"{response.status} {kind_of(chosen)}"
                    failures[what] = failures.get(what, 0) + 1
                    refused.add(chosen)
            except (OSError, http.client.HTTPException) as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
            latencies.append(time.perf_counter() - started)
        conn.close()
        with lock:
            run.latencies.extend(latencies)
            run.refused |= refused
            for key, n in failures.items():
                run.failures[key] = run.failures.get(key, 0) + n

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max_seconds + 60)
    run.seconds = time.perf_counter() - started
    return run


QUARTERS = tuple(f"2026-Q{q}" for q in range(1, 5))
"""The periods asked for: every quarter of the demo year."""
METRICS = ("points", "revenue", "attainment", "deals_won", "new_customers")
LOOPBACK = 30.0
"""Seconds a benchmark connection waits for an answer."""


def call(port: int, token: str, method: str, path: str, body: object = None) -> tuple[int, bytes]:
    """One request on a fresh connection: (status, body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=LOOPBACK)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def first_answer(port: int, token: str, path: str, server: subprocess.Popen[bytes]) -> float:
    """Seconds from now until the server answers ``path`` with 200 (polling every 20 ms
    while it does not listen yet)."""
    started = time.perf_counter()
    while time.perf_counter() - started < 300:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            status, body = call(port, token, "GET", path)
        except OSError:
            time.sleep(0.02)
            continue
        if status != 200:
            raise SystemExit(f"GET {path} answered {status}: {body[:300]!r}")
        return time.perf_counter() - started
    raise SystemExit("no answer within 300 s")


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) a process used so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def covered_reps(port: int, token: str) -> dict[str, list[str]]:
    """The reps with a payout row in each quarter (covered by a plan)."""
    found = {}
    for quarter in QUARTERS:
        status, body = call(port, token, "GET", f"/v1/payouts/{quarter}?limit=1000")
        if status != 200:
            raise SystemExit(f"GET /v1/payouts/{quarter} answered {status}: {body[:300]!r}")
        found[quarter] = sorted({row["rep_id"] for row in json.loads(body)["items"]})
    return found


def mix(reps: dict[str, list[str]], skip: set[str]) -> Callable[[random.Random], str]:
    """A path picker: 40 % statements, 20 % earnings, 20 % points, 20 % leaderboards, each
    of a random covered rep and quarter (never one of ``skip``: the points of reps no plan
    with points rules covers)."""

    def pick(rng: random.Random) -> str:
        for _ in range(100):
            path = draw(rng)
            if path not in skip:
                break
        return path

    def draw(rng: random.Random) -> str:
        quarter = rng.choice(QUARTERS)
        rep = rng.choice(reps[quarter])
        draw = rng.random()
        if draw < 0.4:
            return f"/v1/reps/{rep}/statements/{quarter}"
        if draw < 0.6:
            return f"/v1/reps/{rep}/earnings"
        if draw < 0.8:
            return f"/v1/reps/{rep}/points?period={quarter}"
        return f"/v1/leaderboards/{rng.choice(METRICS)}?period={quarter}"

    return pick


def every_path(reps: dict[str, list[str]]) -> list[str]:
    """Every path the mix can ask for (a warm-up asks each once)."""
    paths = {f"/v1/leaderboards/{m}?period={q}" for m in METRICS for q in QUARTERS}
    for quarter, ids in reps.items():
        for rep in ids:
            paths.add(f"/v1/reps/{rep}/statements/{quarter}")
            paths.add(f"/v1/reps/{rep}/points?period={quarter}")
            paths.add(f"/v1/reps/{rep}/earnings")
    return sorted(paths)


@dataclass
class Writes:
    """What the writer and the deal probe measured."""

    events: int = 0
    batches: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    post_seconds: list[float] = field(default_factory=list)
    visible: list[float] = field(default_factory=list)
    """Seconds from posting a won deal to its first statement that shows it."""
    unseen: int = 0


def activity(tag: str, n: int, rng: random.Random, reps: list[str]) -> dict[str, object]:
    """A logged activity of now (the commonest CRM event)."""
    return {
        "event_id": f"bench-{tag}-a{n}",
        "type": "ActivityLogged",
        "rep_id": rng.choice(reps),
        "kind": rng.choice(["call_connected", "call_unanswered", "meeting", "email", "demo"]),
        "occurred_at": datetime.now(UTC).isoformat(),
    }


def write(
    port: int, token: str, rate: int, reps: list[str], tag: str, stop: threading.Event, out: Writes
) -> None:
    """Post ``rate`` activities per second in 20 batches a second until ``stop``."""
    rng = random.Random(tag)
    batch = max(1, rate // 20)
    interval = batch / rate
    due = time.monotonic()
    while not stop.is_set():
        events = [activity(tag, out.events + i, rng, reps) for i in range(batch)]
        started = time.perf_counter()
        try:
            status, body = call(port, token, "POST", "/v1/events", events)
        except OSError as exc:
            status, body = 0, type(exc).__name__.encode()
        out.post_seconds.append(time.perf_counter() - started)
        out.batches += 1
        if status == 200:
            out.events += batch
        else:
            key = f"{status} {body[:80]!r}"
            out.failures[key] = out.failures.get(key, 0) + 1
        due += interval
        stop.wait(max(0.0, due - time.monotonic()))


def probe(
    port: int,
    token: str,
    reps: list[str],
    quarter: str,
    tag: str,
    every: float,
    stop: threading.Event,
    out: Writes,
) -> None:
    """Every ``every`` seconds post a won deal of today for a random rep and poll the rep's
    statement until it names the deal's event."""
    rng = random.Random(tag + "probe")
    n = 0
    while not stop.wait(every):
        n += 1
        rep, event_id = rng.choice(reps), f"bench-{tag}-won{n}"
        deal = {
            "event_id": event_id,
            "type": "DealWon",
            "deal_id": f"bench-{tag}-deal{n}",
            "rep_id": rep,
            "amount": "10000000",
            "currency": "VND",
            "close_date": datetime.now(UTC).date().isoformat(),
            "product_group": "software",
            "customer": {
                "customer_id": f"bench-{tag}-cus{n}",
                "name": "Bench Customer",
                "region": "TP.HCM",
                "customer_type": "individual",
                "industry": "Công nghệ",
                "is_new": True,
            },
        }
        started = time.perf_counter()
        status, body = call(port, token, "POST", "/v1/events", [deal])
        if status != 200:
            key = f"probe {status} {body[:120]!r}"
            out.failures[key] = out.failures.get(key, 0) + 1
            continue
        path = f"/v1/reps/{rep}/statements/{quarter}"
        while time.perf_counter() - started < 10:
            status, body = call(port, token, "GET", path)
            if status == 200 and event_id.encode() in body:
                out.visible.append(time.perf_counter() - started)
                break
            time.sleep(0.01)
        else:
            out.unseen += 1


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile in ms (nearest rank)."""
    run = Run(latencies=values)
    return run.percentile(p)


def stop(server: subprocess.Popen[bytes]) -> None:
    """Stop a server (SIGTERM, then SIGKILL after 30 s)."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def starts(
    args: argparse.Namespace, store: str, token: str, env: dict[str, str], work: Path
) -> None:
    """Start the server ``--starts`` times: seconds and server CPU to the first statement."""
    path = f"/v1/reps/{args.rep}/statements/{QUARTERS[0]}"
    walls, cpus = [], []
    for _ in range(args.starts):
        port = free_port()
        with (work / "server.log").open("ab") as log:
            started = time.perf_counter()
            server = subprocess.Popen(
                [*cli(), "--store", store, "serve", "--host", HOST, "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                first_answer(port, token, path, server)
                walls.append(time.perf_counter() - started)
                cpus.append(cpu_seconds(server.pid))
            finally:
                stop(server)
        print(
            f"start -> first GET {path}: {walls[-1]:.2f} s, server CPU {cpus[-1]:.2f} s "
            f"(load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    print(
        f"median of {len(walls)}: {statistics.median(walls):.2f} s, server CPU "
        f"{statistics.median(cpus):.2f} s"
    )


def run_mix(args: argparse.Namespace, work: Path, env: dict[str, str]) -> None:
    """The realistic-traffic measure (``--mix``): first answer, read only, reads + writes."""
    store = f"sqlite:///{work / 'store.db'}"
    if not (work / "store.db").exists():
        started = time.perf_counter()
        demo = [*cli(), "demo", "--dir", str(work), "--reps", str(args.reps)]
        subprocess.run(
            [*demo, "--events", str(args.events)],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        print(f"demo store ({args.events:,} events) built in {time.perf_counter() - started:.1f} s")
    token = subprocess.run(
        [*cli(), "--store", store, "token", "finance", "fin", "--minutes", "1440"],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if args.starts:
        starts(args, store, token, env, work)
        return
    port = free_port()
    log = (work / "server.log").open("ab")
    started = time.perf_counter()
    server = subprocess.Popen(
        [*cli(), "--store", store, "serve", "--host", HOST, "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        probe_path = f"/v1/reps/{args.rep}/statements/{QUARTERS[0]}"
        first_answer(port, token, probe_path, server)
        print(
            f"first answer: GET {probe_path} answered "
            f"{time.perf_counter() - started:.2f} s after the server process started "
            f"(server CPU {cpu_seconds(server.pid):.2f} s; load average {os.getloadavg()[0]:.1f})"
        )
        reps = covered_reps(port, token)
        paths = every_path(reps)
        bounds = {"clients": args.clients, "max_seconds": args.max_seconds}
        warm_bounds = {"clients": args.clients, "max_seconds": args.max_seconds * 5}
        todo = iter(paths)
        lock = threading.Lock()

        def next_path(_: random.Random) -> str:
            with lock:
                return next(todo, paths[0])

        warm = load(port, next_path, token, requests=len(paths), **warm_bounds)
        print(warm.report("warm-up", args.clients) + f" (each of {len(paths):,} paths once)")
        print(f"the mix leaves out the {len(warm.refused):,} paths refused in the warm-up")
        pick = mix(reps, warm.refused)
        reads = load(port, pick, token, requests=args.requests, **bounds)
        print(reads.report("reads", args.clients))
        if args.write_rate > 0:
            done, writes = threading.Event(), Writes()
            tag = f"{int(time.time())}"
            quarter = QUARTERS[(datetime.now(UTC).month - 1) // 3]
            threads = [
                threading.Thread(
                    target=write,
                    args=(port, token, args.write_rate, reps[quarter], tag, done, writes),
                    daemon=True,
                ),
                threading.Thread(
                    target=probe,
                    args=(port, token, reps[quarter], quarter, tag, args.probe_every, done, writes),
                    daemon=True,
                ),
            ]
            for t in threads:
                t.start()
            writing = load(port, pick, token, requests=args.requests, **bounds)
            done.set()
            for t in threads:
                t.join(30)
            print(writing.report("writing", args.clients))
            rate = writes.events / writing.seconds if writing.seconds else 0.0
            print(
                f"writer   {writes.events:,} events in {writes.batches:,} batches "
                f"({rate:,.0f} events/s; POST p50 {percentile(writes.post_seconds, 50):.0f} ms "
                f"p99 {percentile(writes.post_seconds, 99):.0f} ms) | failed "
                f"{sum(writes.failures.values())} {writes.failures or ''}"
            )
            print(
                f"deal visible on the statement: {len(writes.visible)} probes, p50 "
                f"{percentile(writes.visible, 50):.0f} ms  p99 "
                f"{percentile(writes.visible, 99):.0f} ms  max "
                f"{max(writes.visible, default=0) * 1000:.0f} ms | not seen within 10 s: "
                f"{writes.unseen}"
            )
    finally:
        stop(server)
        log.close()


def main() -> None:
    """Build the store, start the server, run the warm-up and the measured run, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="Measured requests.")
    parser.add_argument("--warmup", type=int, default=300, help="Warm-up requests.")
    parser.add_argument("--clients", type=int, default=50, help="Concurrent clients.")
    parser.add_argument("--rep", default="rep-021", help="Whose statement.")
    parser.add_argument("--period", default="2026-Q1")
    parser.add_argument("--max-seconds", type=float, default=120, help="Bound per phase.")
    parser.add_argument("--dir", type=Path, default=None, help="Keep the demo store here.")
    parser.add_argument("--mix", action="store_true", help="Realistic traffic (see above).")
    parser.add_argument("--reps", type=int, default=300, help="--mix: reps of a new store.")
    parser.add_argument("--events", type=int, default=1_000_000, help="--mix: a new store's.")
    parser.add_argument("--write-rate", type=int, default=2000, help="--mix: events/s posted.")
    parser.add_argument("--probe-every", type=float, default=0.5, help="--mix: deal probe (s).")
    parser.add_argument("--starts", type=int, default=0, help="--mix: only time N starts.")
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="ie-api-bench-"))
    store = f"sqlite:///{work / 'store.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCENTIVE_")}
    print(f"work dir: {work}")
    if args.mix:
        try:
            run_mix(args, work, env)
        finally:
            if args.dir is None:
                shutil.rmtree(work, ignore_errors=True)
        return
    if not (work / "store.db").exists():
        started = time.perf_counter()
        subprocess.run(
            [*cli(), "demo", "--dir", str(work)], check=True, env=env, stdout=subprocess.DEVNULL
        )
        print(f"demo store built in {time.perf_counter() - started:.1f} s")
    token = subprocess.run(
        [*cli(), "--store", store, "token", "finance", "fin"],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    log = (work / "server.log").open("wb")
    server = subprocess.Popen(
        [*cli(), "--store", store, "serve", "--host", HOST, "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(port, server)
        path = f"/v1/reps/{args.rep}/statements/{args.period}"
        probe = http.client.HTTPConnection(HOST, port, timeout=120)
        started = time.perf_counter()
        probe.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        first = probe.getresponse()
        body = first.read()
        probe.close()
        print(
            f"first request (folds the log): {first.status} in "
            f"{(time.perf_counter() - started) * 1000:.0f} ms, {len(body):,} bytes"
        )
        if first.status != 200:
            raise SystemExit(f"GET {path} answered {first.status}: {body[:300]!r}")
        print(f"GET {path} on {HOST}:{port} (uvicorn, one process)")
        bounds = {"clients": args.clients, "max_seconds": args.max_seconds}
        warm = load(port, path, token, requests=args.warmup, **bounds)
        print(warm.report("warm-up", args.clients))
        measured = load(port, path, token, requests=args.requests, **bounds)
        print(measured.report("measured", args.clients))
        verdict = "met" if measured.percentile(99) < 50 else "NOT met"
        print(f"goal p99 < 50 ms: {verdict}")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
