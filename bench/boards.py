"""Leaderboard and TV pages benchmark: the server time of ``/leaderboards`` (every board,
period kind and the company and team scopes, as a rep) and of the TV board fragment (fresh,
and the 204 a poll gets while the log stands still), in process through the ASGI app.

    incentive-engine demo --dir /tmp/ie-demo
    python -m bench.boards --store sqlite:////tmp/ie-demo/store.db

Goal (issue 14): under 150 ms on the demo store.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import time

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role, issue_display_key, issue_token
from incentive_engine.services.commissions import snapshot
from incentive_engine.services.gamification import scopes
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore

METRICS = ("points", "revenue", "attainment", "deals_won", "new_customers")
KINDS = ("day", "week", "month", "quarter", "year")


def timed(client: TestClient, url: str, **kw: object) -> tuple[float, int]:
    """Milliseconds and status of one request."""
    started = time.perf_counter()
    answer = client.get(url, **kw)  # type: ignore[arg-type]
    return (time.perf_counter() - started) * 1000, answer.status_code


def report(name: str, found: list[float]) -> None:
    """Median, p95 and worst of a page's times."""
    found = sorted(found)
    p95 = found[int(len(found) * 0.95) - 1] if len(found) >= 20 else found[-1]
    print(f"  {name:<22} n={len(found):<4} median {statistics.median(found):6.1f} ms  "
          f"p95 {p95:6.1f} ms  worst {found[-1]:6.1f} ms")  # fmt: skip


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", required=True)
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()
    settings = Settings(store_url=args.store, api_secret=secrets.token_urlsafe(48))
    with EventStore(settings) as store:
        snap = snapshot(store)
    reps = sorted(r for r in snap.facts.reps if snap.facts.reps[r].placements)
    teams = [s for s in scopes(snap.facts) if s.startswith("team:")]
    rng = random.Random(7)
    with TestClient(create_app(settings)) as client:
        client.cookies.set("ie_session", issue_token(settings, Role.REP, reps[0]))
        ms, status = timed(client, "/leaderboards")
        print(f"first page (folds the log): {status} in {ms:.0f} ms")
        pages: list[float] = []
        statuses: set[int] = set()
        for _ in range(args.samples):
            rep = rng.choice(reps)
            client.cookies.set("ie_session", issue_token(settings, Role.REP, rep))
            scope = rng.choice(["company", *teams])
            query = {"metric": rng.choice(METRICS), "period": rng.choice(KINDS), "scope": scope}
            ms, status = timed(client, "/leaderboards", params=query)
            pages.append(ms)
            statuses.add(status)
        report("/leaderboards", pages)
        print(f"  statuses {sorted(statuses)}")
        key = issue_display_key(settings, "bench").token
        client.get("/tv", params={"key": key}, follow_redirects=False)
        fresh, still = [], []
        for _ in range(args.samples):
            metric = rng.choice(("points", "deals_won", "new_customers"))
            url = f"/tv/{metric}/{rng.choice(KINDS)}/board"
            ms, _ = timed(client, url, headers={"HX-Request": "true"})
            fresh.append(ms)
            answer = client.get(url, headers={"HX-Request": "true"})
            since = answer.text.split('data-since="', 1)[1].split('"', 1)[0]
            ms, status = timed(client, url, params={"since": since}, headers={"HX-Request": "1"})
            assert status == 204, status
            still.append(ms)
        report("TV board (fresh)", fresh)
        report("TV board (204, no change)", still)


if __name__ == "__main__":
    main()
