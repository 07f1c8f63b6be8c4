"""Quota and territory pages benchmark: the server time of the plan admin's pages.

    python -m bench.quotas --store sqlite:////work/bench-web/demo/store.db
    python -m bench.quotas --store sqlite:////work/bench-web/bench.db

Signs in as a plan admin (a token in the session cookie) and asks, in process through the ASGI
app (no network: the time is the server's), for the territories page on random days of the
store's periods, the quotas page (quotas, history and roll-ups) of random periods, and the
allocation preview (uplift and growth) of the period after a random one. A first request
folds the log and is reported apart. Prints the median, p95 and worst time per page.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from httpx import Response

from api.app import create_app
from api.auth import Role, issue_token
from incentive_engine.settings import Settings


def main() -> None:
    """Measure and print the times."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", required=True)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    settings = Settings(store_url=args.store, api_secret=secrets.token_urlsafe(48))
    app = create_app(settings)
    rng = random.Random(15)
    with TestClient(app) as c:
        c.cookies.set("ie_session", issue_token(settings, Role.PLAN_ADMIN, "bench-pa"))
        c.cookies.set("ie_csrf", "bench-csrf")
        started = time.perf_counter()
        first = c.get("/quotas")
        print(f"first request (folds the log): {(time.perf_counter() - started) * 1000:.0f} ms"
              f" ({first.status_code})")  # fmt: skip
        engine = app.state.engine
        snap = engine.snapshot()
        periods = sorted({p for p in snap.book.periods(snap.facts)}, key=lambda p: p.start)
        quarters = [p for p in periods if str(p)[4:6] == "-Q"] or periods
        times: dict[str, list[float]] = {}
        hx = {"HX-Request": "1"}

        def timed(name: str, call: Callable[[], Response]) -> None:
            t0 = time.perf_counter()
            answer = call()
            times.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
            assert answer.status_code == 200, (name, answer.status_code, answer.text[-300:])

        for _ in range(args.rounds):
            p = rng.choice(periods)
            day = p.start + timedelta(days=rng.randrange(p.days))
            timed("territories", lambda d=day: c.get(f"/territories?on={d}"))
            q = rng.choice(quarters)
            timed("quotas", lambda q=q: c.get(f"/quotas?period={q}"))
            for method in ("uplift", "growth"):
                form = {"csrf": "bench-csrf", "period": str(q.next()), "method": method,
                        "rate": "10", "currency": "VND"}  # fmt: skip
                timed(f"preview {method}",
                      lambda f=form: c.post("/quotas/allocate", data=f, headers=hx))  # fmt: skip
        for name, values in times.items():
            values.sort()
            p95 = values[max(0, int(len(values) * 0.95) - 1)]
            print(f"{name:18} median {statistics.median(values):7.1f} ms   p95 {p95:7.1f} ms"
                  f"   worst {values[-1]:7.1f} ms   (n={len(values)})")  # fmt: skip


if __name__ == "__main__":
    main()
