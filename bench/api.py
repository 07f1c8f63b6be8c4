"""HTTP API benchmark: a rep's statement under 50 concurrent clients, against a real server.

    python -m bench.api --requests 2000 --clients 50

Builds a fresh demo store (``incentive-engine demo``), issues a finance token for it
(``incentive-engine token finance fin``), starts ``incentive-engine serve`` (uvicorn) on a free
loopback port, and sends ``GET /v1/reps/{rep}/statements/2026-Q1`` from concurrent clients
(threads, one keep-alive connection each): a warm-up, then the measured run.  Prints the
latency percentiles and the throughput of each.  Loopback only; every loop is bounded in
count and in time; the server is stopped at the end.

Goal (issue: HTTP API): p99 < 50 ms at 50 concurrent clients.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
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


@dataclass
class Run:
    """What one phase measured."""

    latencies: list[float] = field(default_factory=list)
    """Seconds per request, successful or not."""
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
    port: int, path: str, token: str, *, requests: int, clients: int, max_seconds: float
) -> Run:
    """Send ``requests`` GETs from ``clients`` threads (keep-alive), stopping early after
    ``max_seconds``."""
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

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        latencies: list[float] = []
        failures: dict[str, int] = {}
        while take():
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failures[str(response.status)] = failures.get(str(response.status), 0) + 1
            except (OSError, http.client.HTTPException) as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
            latencies.append(time.perf_counter() - started)
        conn.close()
        with lock:
            run.latencies.extend(latencies)
            for key, n in failures.items():
                run.failures[key] = run.failures.get(key, 0) + n

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max_seconds + 60)
    run.seconds = time.perf_counter() - started
    return run


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
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="ie-api-bench-"))
    store = f"sqlite:///{work / 'store.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCENTIVE_")}
    print(f"work dir: {work}")
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
