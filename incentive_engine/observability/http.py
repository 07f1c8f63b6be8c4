"""The HTTP door's metrics: requests, latency and errors by route template (never the raw
path, which carries rep ids), method and status class; no label ever holds a rep id, a
subject or an amount."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

UNMATCHED = "(unmatched)"
"""The route label of a request no route matched (a 404 of a made-up path): one label
value, whatever the path, so that probing cannot grow the metrics without bound."""

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds: from a cached answer (a few ms) to a large import or export."""

REQUESTS = Counter(
    "incentive_http_requests",
    "HTTP requests answered, by method, route template and status class (2xx, 4xx, 5xx).",
    ["method", "route", "status_class"],
)
LATENCY = Histogram(
    "incentive_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
IN_PROGRESS = Gauge(
    "incentive_http_requests_in_progress", "HTTP requests being answered now.", ["method"]
)


def status_class(status: int) -> str:
    """The class of an HTTP status: 2xx, 3xx, 4xx or 5xx."""
    return f"{status // 100}xx"


def observe(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request and its duration."""
    REQUESTS.labels(method, route, status_class(status)).inc()
    LATENCY.labels(method, route).observe(seconds)
