"""Serving the metrics: the text exposition of prometheus-client, on a port of its own
(``--metrics-port``, unauthenticated, for a private network) or inside the API behind a
bearer token."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest, start_http_server

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The exposition's media type."""


def exposition() -> bytes:
    """This process's metrics in the Prometheus text format."""
    return generate_latest(REGISTRY)


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Serve this process's metrics at http://HOST:PORT/metrics from a background thread."""
    start_http_server(port, addr=host)
