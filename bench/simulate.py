"""Simulation benchmark: a plan change simulated over a year of N events, against a plain
replay of the same events.

    python -m bench.simulate --events 1000000

Goal (issue 6): the simulation of a full year costs no more than 1.5x a plain replay, because
facts are folded once and then evaluated under both plan versions.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.replay import timed
from incentive_engine.demo.generator import iter_generate
from incentive_engine.domain.periods import Period
from incentive_engine.domain.simulation import simulate, window
from incentive_engine.services.replay import gc_paused, replay_facts
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import PlanVersion, load_plan, publication

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="ie-sim-"))
    work.mkdir(parents=True, exist_ok=True)
    store_path = work / "bench.db"
    settings = Settings(store_url=f"sqlite:///{store_path}")
    baseline = load_plan((ROOT / "plans/catalog/field-sales-vn.yaml").read_text(encoding="utf-8"))
    draft_doc = baseline.document()
    draft_doc["version"] = 2
    draft_doc["components"][0]["tiers"][2]["rate"] = "10"  # a richer top tier
    draft = PlanVersion.draft(load_plan(json.dumps(draft_doc)))
    print(f"work dir: {work}")
    with EventStore(settings) as store:
        if store.max_position() == 0:
            started = time.perf_counter()
            batch = [publication(baseline)]
            for event in iter_generate(reps=args.reps, events=args.events, seed=1):
                batch.append(event)
                if len(batch) >= 5000:
                    store.append(batch)
                    batch = []
            store.append(batch)
            print(
                f"loaded {store.max_position():,} events in {time.perf_counter() - started:.1f} s"
            )
        n = store.max_position()
        quarters = window(Period.parse("2026-Q1"), Period.parse("2026-Q4"))
        result: dict[str, object] = {}

        def replay() -> None:
            replay_facts(store)

        def simulation() -> None:
            facts = replay_facts(store)
            with gc_paused():
                result["sim"] = simulate(
                    facts, draft, PlanVersion.from_event(publication(baseline)), quarters
                )

        t_replay = timed("plain replay", n, replay, args.repeat)
        t_sim = timed("replay + simulate a year", n, simulation, args.repeat)
    sim = result["sim"]
    print(f"reps simulated: {len(sim.reps)}; statements: {len(sim.statements)}")  # type: ignore[attr-defined]
    print(f"cost: {sim.baseline_total:,} -> {sim.simulated_total:,} VND")  # type: ignore[attr-defined]
    print(
        f"simulation / replay = {t_sim / t_replay:.2f}x (goal <= 1.5x); "
        f"evaluation alone {t_sim - t_replay:.2f} s"
    )


if __name__ == "__main__":
    main()
