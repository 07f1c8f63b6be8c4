"""Simulation page benchmark: the server time of ``POST /plans/simulate`` (the htmx fragment a
finance user gets: every rep's row, the histogram, the movers) on the demo store and on a
store of a million events.

    python -m bench.simulate_web --store sqlite:////work/bench-web/demo/store.db \\
        --store sqlite:////work/bench-web/bench.db

The draft is the catalogue's field-sales-vn plan with a richer top tier (10 % instead of 8 %),
simulated against field-sales-vn@1 over random windows of one to four quarters of 2026, in
process through the ASGI app (no network: the time is the server's). A first request folds
the log and is reported apart.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role, issue_token
from incentive_engine.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
QUARTERS = ("2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4")


def draft() -> str:
    """The catalogue plan as version 2 with a 10 % top tier."""
    text = (ROOT / "plans" / "catalog" / "field-sales-vn.yaml").read_text(encoding="utf-8")
    text = text.replace("version: 1\n", "version: 2\n", 1)
    return text.replace(
        "      - from: 100\n        rate: 8\n", "      - from: 100\n        rate: 10\n"
    )


def measure(url: str, count: int, seed: int) -> None:
    """Print the first request's time and the median, p95 and worst of ``count`` more."""
    settings = Settings(store_url=url, api_secret=secrets.token_urlsafe(48))
    document = draft()
    assert "rate: 10" in document
    rng = random.Random(seed)
    with TestClient(create_app(settings)) as client:
        client.cookies.set("ie_session", issue_token(settings, Role.FINANCE, "bench"))
        client.get("/sign-in")
        token = client.cookies.get("ie_csrf")

        def once(start: str, end: str) -> float:
            data = {"csrf": token, "document": document, "start": start, "end": end}
            started = time.perf_counter()
            answer = client.post("/plans/simulate", data=data, headers={"hx-request": "1"})
            took = (time.perf_counter() - started) * 1000
            assert answer.status_code == 200, answer.text[:500]
            return took

        print(f"{url}\n  first request (folds the log): {once('2026-Q1', '2026-Q4'):.0f} ms")
        times = []
        for _ in range(count):
            first = rng.randrange(4)
            last = rng.randrange(first, 4)
            times.append(once(QUARTERS[first], QUARTERS[last]))
        times.sort()
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        print(f"  {count} simulations: median {statistics.median(times):.0f} ms, "
              f"p95 {p95:.0f} ms, worst {times[-1]:.0f} ms")  # fmt: skip


def main() -> None:
    """Run the benchmark on each store given."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", action="append", required=True)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for url in args.store:
        measure(url, args.count, args.seed)


if __name__ == "__main__":
    main()
