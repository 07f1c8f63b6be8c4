"""Notification delivery benchmark: a demo store of N events, the notifier run one-shot on
the embedded default (the publisher writes the outbox, the notifier routes it into the ledger
and posts every notification, signed, to a local webhook receiver), then run again (a
restart: nothing is sent twice).

    python -m bench.notify --events 20000

Prints notifications read, deliveries made, the seconds of each phase and the rates.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from incentive_engine.demo.generator import iter_generate
from incentive_engine.notify.notifier import Notifier, Stats
from incentive_engine.notify.sources import OutboxSource
from incentive_engine.services.replay import facts_until
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from projections.runner import make_engine


class Quiet(BaseHTTPRequestHandler):
    """Answers 200 to every POST, counting them."""

    posts = 0
    latency = 0.0

    def do_POST(self) -> None:
        """Read the body, answer 200."""
        self.rfile.read(int(self.headers["Content-Length"]))
        if Quiet.latency:
            time.sleep(Quiet.latency)  # a real receiver's answer takes a while
        Quiet.posts += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


def run(settings: Settings) -> tuple[Stats, float, float]:
    """One one-shot notifier run: stats, seconds publishing the log into the outbox (the
    publisher's work, which the notifier runs on the embedded default), and seconds routing
    and delivering."""
    views = make_engine(settings.resolved_views_url())
    with EventStore(settings) as store:
        source = OutboxSource(store, views)
        notifier = Notifier(settings, views, source, lambda: facts_until(store, 0)[0])
        started = time.perf_counter()
        source.runner.run()
        published = time.perf_counter()
        stats = notifier.run_once()
        done = time.perf_counter()
    return stats, published - started, done - published


def main() -> None:
    """Run the benchmark and print its figures (and the command line that produced them)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="fresh runs (median)")
    parser.add_argument("--latency-ms", type=float, default=0, help="receiver's answer time")
    parser.add_argument("--concurrency", type=int, default=8, help="INCENTIVE_NOTIFY_CONCURRENCY")
    args = parser.parse_args()
    Quiet.latency = args.latency_ms / 1000
    print(
        "python -m bench.notify "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items())
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    events = list(iter_generate(reps=args.reps, events=args.events, seed=1))
    seconds, publishing, deliveries = [], [], []
    for _ in range(args.repeat):
        work = Path(tempfile.mkdtemp(prefix="ie-notify-"))
        settings = Settings(
            store_url=f"sqlite:///{work / 'events.db'}",
            notify_concurrency=args.concurrency,
            notify_webhooks=[
                {
                    "name": "hook",
                    "url": url,
                    "secret": "bench-secret-0123456789",
                    "viewer": "finance:f",
                }
            ],
        )
        with EventStore(settings) as store:
            store.append(events)
        Quiet.posts = 0
        stats, published, took = run(settings)
        assert stats.delivered == Quiet.posts and stats.dead == 0, stats
        again, _, _ = run(settings)
        assert again.delivered == 0, again  # a restart sends nothing twice
        seconds.append(took)
        publishing.append(published)
        deliveries.append(stats.delivered)
        print(
            f"{len(events):,} events -> {stats.read:,} notifications: published into the "
            f"outbox in {published:.2f} s; routed and delivered ({stats.delivered:,} webhook "
            f"posts) in {took:.2f} s = {stats.delivered / took:,.0f} deliveries/s"
        )
    median = statistics.median(seconds)
    print(
        f"delivery: median {median:.2f} s (runs: {', '.join(f'{s:.2f}' for s in seconds)}), "
        f"{deliveries[0] / median:,.0f} deliveries/s; publishing: median "
        f"{statistics.median(publishing):.2f} s"
    )
    server.shutdown()


if __name__ == "__main__":
    main()
