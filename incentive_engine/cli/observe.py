"""What the long-running commands (serve, worker, project, publish) share to be observed:
the ``--metrics-port`` options, logging set up from the settings, and catch-up runs of the
log's followers counted and timed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # imported when a long-running command starts: help stays light
    from incentive_engine.settings import Settings
    from projections.publisher import Publisher
    from projections.runner import ProjectionRunner

log = logging.getLogger("incentive_engine.follower")

MetricsPort = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        envvar="INCENTIVE_METRICS_PORT",
        min=1,
        max=65535,
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (no authentication: keep "
        "the port on a private network).",
    ),
]
"""The port a long-running command serves its metrics on (none by default)."""

MetricsHost = Annotated[
    str,
    typer.Option(
        "--metrics-host",
        envvar="INCENTIVE_METRICS_HOST",
        help="The interface the metrics port listens on.",
    ),
]
"""The interface of the metrics port."""


def observe(settings: Settings, port: int | None, host: str) -> None:
    """Set up logging as the settings say and, with a port, serve the metrics there."""
    from incentive_engine.observability.exposition import serve_metrics
    from incentive_engine.observability.logs import configure_logging

    configure_logging(settings)
    if port is not None:
        serve_metrics(port, host)
        log.info("metrics at http://%s:%d/metrics", host, port, extra={"metrics_port": port})


def observed_run(runner: ProjectionRunner, process: str) -> int:
    """One catch-up run of a follower of the log, its pages and the whole run timed, and the
    head, positions and lag recorded; returns the log positions processed."""
    from incentive_engine.observability import pipeline

    started = last = time.perf_counter()

    def page_done(_: int) -> None:
        nonlocal last
        now = time.perf_counter()
        pipeline.PAGE_SECONDS.labels(process).observe(now - last)
        last = now

    applied = runner.run(progress=page_done)
    seconds = time.perf_counter() - started
    pipeline.APPLIED.labels(process).inc(applied)
    head, positions = runner.store.max_position(), runner.positions()
    pipeline.positions(process, head, positions)
    if applied:
        pipeline.RUN_SECONDS.labels(process).observe(seconds)
        log.info(
            "%s applied %d event(s)",
            process,
            applied,
            extra={
                "follower": process,
                "applied": applied,
                "log_position": head,
                "lag": max(0, head - min(positions.values(), default=0)),
                "duration_ms": round(seconds * 1000, 2),
            },
        )
    return applied


def follow_log(
    runner: ProjectionRunner,
    stop: threading.Event,
    process: str,
    poll_seconds: float,
    after_run: Callable[[], object] | None = None,
) -> None:
    """Run ``runner`` until ``stop`` is set, observed (a run after each new event; a wait of
    ``poll_seconds`` when nothing was new); ``after_run`` is called after every run."""
    while not stop.is_set():
        applied = observed_run(runner, process)
        if after_run is not None:
            after_run()
        if applied == 0:
            stop.wait(poll_seconds)


def count_notifications(publisher: Publisher) -> Callable[[], None]:
    """A callable that adds the notifications the publisher sent since its last call to the
    publisher's metric."""
    from incentive_engine.observability import pipeline

    seen = publisher.sent

    def count() -> None:
        nonlocal seen
        pipeline.NOTIFICATIONS.labels(publisher.topic).inc(publisher.sent - seen)
        seen = publisher.sent

    return count
