"""CPU per request of the ``bench.api --mix`` traffic, in process: a load-independent measure
for before/after comparisons on a busy machine.

    python -m bench.api_cpu --store sqlite:///DIR/store.db --reps 40 --requests 1000

Sends the mix sequentially through the ASGI app (``TestClient``, lifespan included) and
times each request with ``time.process_time()``: the first answer, one warm-up request per
path, then ``--requests`` random requests read only, and as many again with a POST of 100
activities every 20 requests and a won deal of today every 100.  Prints the mean, median
and p99 per kind.  The POSTs write to the store: run it on a copy.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role, issue
from bench.api import METRICS, QUARTERS, kind_of
from incentive_engine.settings import Settings


def won_today(tag: str, n: int, rep: str) -> dict[str, Any]:
    """A won deal of today for a rep."""
    return {
        "event_id": f"{tag}-w{n}",
        "type": "DealWon",
        "deal_id": f"{tag}-d{n}",
        "rep_id": rep,
        "amount": "10000000",
        "currency": "VND",
        "close_date": datetime.now(UTC).date().isoformat(),
        "product_group": "software",
        "customer": {
            "customer_id": f"{tag}-c{n}",
            "name": "Bench",
            "region": "TP.HCM",
            "customer_type": "individual",
            "industry": "Công nghệ",
            "is_new": True,
        },
    }


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="Store URL (a copy: it is written).")
    parser.add_argument("--reps", type=int, default=40, help="Covered reps per quarter used.")
    parser.add_argument("--requests", type=int, default=1000, help="Requests per phase.")
    args = parser.parse_args()
    settings = Settings(store_url=args.store)
    headers = {"Authorization": f"Bearer {issue(settings, Role.FINANCE, 'fin').token}"}
    cpu = time.process_time
    tag = f"cpu{int(time.time())}"
    with TestClient(create_app(settings)) as c:
        started = cpu()
        first = c.get("/v1/reps/rep-021/statements/2026-Q1", headers=headers)
        print(f"first answer {first.status_code}: {cpu() - started:.2f} s CPU", flush=True)
        reps = {
            q: sorted(
                {
                    r["rep_id"]
                    for r in c.get(f"/v1/payouts/{q}?limit=1000", headers=headers).json()["items"]
                }
            )[: args.reps]
            for q in QUARTERS
        }
        paths = {f"/v1/leaderboards/{m}?period={q}" for m in METRICS for q in QUARTERS}
        for q in QUARTERS:
            for rep in reps[q]:
                paths |= {f"/v1/reps/{rep}/statements/{q}", f"/v1/reps/{rep}/earnings"}
                paths.add(f"/v1/reps/{rep}/points?period={q}")
        started, refused = cpu(), set()
        for path in sorted(paths):
            if c.get(path, headers=headers).status_code != 200:
                refused.add(path)
        print(f"warm-up: {len(paths)} paths, {cpu() - started:.1f} s CPU, {len(refused)} refused")
        rng = random.Random(5)

        def pick() -> str:
            while True:
                q, draw = rng.choice(QUARTERS), rng.random()
                rep = rng.choice(reps[q])
                if draw < 0.4:
                    path = f"/v1/reps/{rep}/statements/{q}"
                elif draw < 0.6:
                    path = f"/v1/reps/{rep}/earnings"
                elif draw < 0.8:
                    path = f"/v1/reps/{rep}/points?period={q}"
                else:
                    path = f"/v1/leaderboards/{rng.choice(METRICS)}?period={q}"
                if path not in refused:
                    return path

        def phase(label: str, writing: bool) -> None:
            stats: dict[str, list[float]] = {}
            written = deals = 0
            today = reps[QUARTERS[(datetime.now(UTC).month - 1) // 3]]
            for i in range(args.requests):
                if writing and i % 20 == 0:
                    events: list[dict[str, Any]] = [
                        {
                            "event_id": f"{tag}-a{written + j}",
                            "type": "ActivityLogged",
                            "rep_id": rng.choice(today),
                            "kind": "email",
                            "occurred_at": datetime.now(UTC).isoformat(),
                        }
                        for j in range(100)
                    ]
                    written += 100
                    if i % 100 == 0:
                        deals += 1
                        events.append(won_today(tag, deals, rng.choice(today)))
                    started = cpu()
                    response = c.post("/v1/events", json=events, headers=headers)
                    assert response.status_code == 200, response.text[:300]
                    stats.setdefault("POST", []).append(cpu() - started)
                path = pick()
                started = cpu()
                c.get(path, headers=headers)
                spent = cpu() - started
                stats.setdefault(kind_of(path), []).append(spent)
                stats.setdefault("all GETs", []).append(spent)
            for key, values in sorted(stats.items()):
                values.sort()
                mean = sum(values) / len(values) * 1000
                p50, p99 = values[len(values) // 2] * 1000, values[int(len(values) * 0.99)] * 1000
                print(
                    f"{label:8} {key:13} n={len(values):5} mean {mean:8.2f} ms  p50 {p50:7.2f}"
                    f"  p99 {p99:8.2f}",
                    flush=True,
                )

        phase("reads", writing=False)
        phase("writing", writing=True)


if __name__ == "__main__":
    main()
