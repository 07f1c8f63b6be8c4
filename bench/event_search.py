"""Event search benchmark: the time of one filtered page of ``/audit/events``' search
(``incentive_engine.services.event_search``) for random reps, deals and time ranges, the
event index caught up first (the deal table is built on the first run).

    cp /work/bench-web/bench.db /work/bench-web/bench.views.db /tmp/copy/  # not in place
    python -m bench.event_search --store sqlite:////tmp/copy/bench.db

Goal (issue 15): under 300 ms per filtered page on 1,000,000 events.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from incentive_engine.services.engine import Engine
from incentive_engine.services.event_search import EventQuery, catch_up, search_events
from incentive_engine.settings import Settings
from projections.runner import make_engine


def main() -> None:
    """Print median and worst milliseconds per kind of filter."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", required=True)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    settings = Settings(store_url=args.store)
    engine = Engine(settings)
    views = make_engine(settings.resolved_views_url())
    started = time.perf_counter()
    engine.snapshot()
    catch_up(engine, views)
    print(f"engine and event index caught up in {time.perf_counter() - started:.1f} s")
    with views.connect() as conn:
        reps = [r for (r,) in conn.exec_driver_sql("SELECT DISTINCT rep_id FROM event_reps")]
        deals = [d for (d,) in conn.exec_driver_sql("SELECT deal_id FROM event_deals LIMIT 5000")]
        first, last = conn.exec_driver_sql(
            "SELECT min(recorded_at), max(recorded_at) FROM event_index"
        ).one()
    head = engine.store.max_position()
    lo, hi = (datetime.fromisoformat(str(t)).replace(tzinfo=UTC) for t in (first, last))
    mid = lo + (hi - lo) / 2

    def day(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    def month() -> tuple[datetime, datetime]:
        m = random.randint(1, 12)
        end = day(f"2026-{m + 1:02d}-01") if m < 12 else day("2027-01-01")
        return day(f"2026-{m:02d}-01"), end

    cases: dict[str, Callable[[], EventQuery]] = {
        "no filter": lambda: EventQuery(),
        "one type": lambda: EventQuery(types=(random.choice(["DealWon", "DealLost", "QuotaSet"]),)),
        "rep": lambda: EventQuery(rep=random.choice(reps)),
        "rep and types": lambda: EventQuery(rep=random.choice(reps), types=("DealWon", "DealLost")),
        "deal": lambda: EventQuery(deal=random.choice(deals)),
        "effective month": lambda: EventQuery(since=(m := month())[0], until=m[1]),
        "effective month, activities": lambda: EventQuery(
            types=("ActivityLogged",), since=(m := month())[0], until=m[1]
        ),
        "effective year": lambda: EventQuery(since=day("2026-01-01"), until=day("2026-12-31")),
        "recorded window mid-log": lambda: EventQuery(on="recorded", since=mid, until=hi),
        "as-of cut, rep": lambda: EventQuery(rep=random.choice(reps), as_of=mid),
        "deep page": lambda: EventQuery(after=random.randint(head // 2, head)),
    }
    for name, make in cases.items():
        found = []
        for _ in range(args.runs):
            query = make()
            began = time.perf_counter()
            search_events(engine, views, query)
            found.append((time.perf_counter() - began) * 1000)
        print(f"{name:30s} median {statistics.median(found):7.1f} ms  worst {max(found):7.1f} ms")


if __name__ == "__main__":
    main()
