"""What observing a request costs: the same app with and without the observing middleware
(Prometheus counters and histogram by route template, one JSON log line a request).

    python -m bench.observe --requests 2000 --rounds 5

Builds a seeded SQLite store, then sends, in process through httpx's ASGI transport (no
network: the middleware's cost is not hidden behind socket time), the same authenticated
``GET /v1/reps/{rep}/earnings`` to two apps on it: one as ``create_app`` builds it, with
logging configured as ``serve`` does (JSON, INFO, to /dev/null), and one with the observing
middleware taken out.  Rounds alternate between the two; prints the median time per request
of each over the rounds, their spread, and the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import FastAPI

from api.app import create_app
from api.auth import Role, issue_token
from api.observe import ObserveMiddleware
from incentive_engine.observability.logs import configure_logging
from incentive_engine.settings import Settings
from tests.e2e.api_helpers import api_settings, seed


async def per_request(app: FastAPI, headers: dict[str, str], requests: int) -> float:
    """Seconds per request over ``requests`` sequential requests."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(20):  # warm: the engine opened, the answer cached
            (await client.get("/v1/reps/an/earnings", headers=headers)).raise_for_status()
        started = time.perf_counter()
        for _ in range(requests):
            await client.get("/v1/reps/an/earnings", headers=headers)
        return (time.perf_counter() - started) / requests


def bookkeeping(count: int = 20_000) -> float:
    """Seconds per request of the middleware's own work alone: the counter, the histogram and
    one JSON log line formatted and written (to /dev/null)."""
    import logging

    from incentive_engine.observability import http

    log = logging.getLogger("incentive_engine.http")
    extra = {"request_id": "r", "method": "GET", "route": "/v1/reps/{rep}/earnings",
             "path": "/v1/reps/an/earnings", "status": 200, "duration_ms": 1.0,
             "subject": "fin", "role": "finance", "client": "127.0.0.1"}  # fmt: skip
    started = time.perf_counter()
    for _ in range(count):
        http.observe("GET", "/v1/reps/{rep}/earnings", 200, 0.001)
        log.info("GET /v1/reps/{rep}/earnings 200", extra=extra)
    return (time.perf_counter() - started) / count


def main() -> None:
    """Run the comparison and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = api_settings(Settings(store_url=f"sqlite:///{Path(folder) / 'events.db'}"))
        seed(settings)
        with open(os.devnull, "w") as sink:
            configure_logging(settings.model_copy(update={"log_format": "json"}), sink)
            observed = create_app(settings)
            bare = create_app(settings)
            kept = [m for m in bare.user_middleware if m.cls is not ObserveMiddleware]
            bare.user_middleware = kept
            headers = {"Authorization": f"Bearer {issue_token(settings, Role.FINANCE, 'fin')}"}
            times: dict[str, list[float]] = {"observed": [], "bare": []}
            for _ in range(args.rounds):
                for name, app in (("bare", bare), ("observed", observed)):
                    times[name].append(asyncio.run(per_request(app, headers, args.requests)))
            alone = bookkeeping()
    print(f"python -m bench.observe --requests {args.requests} --rounds {args.rounds}")
    for name, found in times.items():
        print(
            f"{name:9} median {statistics.median(found) * 1e6:8.1f} µs/request "
            f"(min {min(found) * 1e6:.1f}, max {max(found) * 1e6:.1f})"
        )
    extra = statistics.median(times["observed"]) - statistics.median(times["bare"])
    print(f"observing costs {extra * 1e6:.1f} µs a request (median difference)")
    print(f"the middleware's own work alone: {alone * 1e6:.1f} µs a request")


if __name__ == "__main__":
    main()
