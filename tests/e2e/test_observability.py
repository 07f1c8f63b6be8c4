"""Observing the HTTP door with real components (a TestClient on a real SQLite store, and
one real `serve` process): Prometheus metrics by route template and status class, never a
rep id or an amount in a label; /metrics behind its own token; one JSON log line a request
with the request id, subject and role, never a credential; readiness that reports the log
position, the facts' and the read models' lag, and fails when a database is unreachable."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from api.app import create_app
from api.auth import Role, issue_display_key, issue_token
from incentive_engine.observability.logs import configure_logging
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from projections.event_log import EventCounts, EventIndex
from projections.runner import ProjectionRunner, make_engine
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, seed
from tests.factories import call

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "metrics-token-for-tests-0123456789abcdef"
REPS = ("an", "binh", "chau", "mgr")
AMOUNTS = ("390000000", "100000000", "300000000", "31200000", "17700000")


def requests_of(method: str, route: str, status_class: str) -> float:
    labels = {"method": method, "route": route, "status_class": status_class}
    return REGISTRY.get_sample_value("incentive_http_requests_total", labels) or 0.0


@pytest.fixture(scope="module")
def s(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    configured = api_settings(sqlite_settings(tmp_path_factory.mktemp("observe")))
    configured = configured.model_copy(update={"metrics_token": METRICS_TOKEN})
    seed(configured)
    return configured


@pytest.fixture(scope="module")
def c(s: Settings) -> TestClient:
    return TestClient(create_app(s), raise_server_exceptions=False)


@pytest.fixture
def logs(s: Settings) -> Iterator[io.StringIO]:
    """Everything logged during a test, as the JSON lines `serve` would write."""
    stream = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    configure_logging(s.model_copy(update={"log_format": "json"}), stream)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def finance(s: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(s, Role.FINANCE, 'fin-1')}"}


def test_requests_are_counted_and_timed_by_route_template_never_by_path(
    s: Settings, c: TestClient
) -> None:
    route = "/v1/reps/{rep}/earnings"
    before = requests_of("GET", route, "2xx")
    count_before = (
        REGISTRY.get_sample_value(
            "incentive_http_request_duration_seconds_count", {"method": "GET", "route": route}
        )
        or 0.0
    )
    for rep in ("an", "binh"):
        assert c.get(f"/v1/reps/{rep}/earnings", headers=finance(s)).status_code == 200
    assert requests_of("GET", route, "2xx") == before + 2
    assert (
        REGISTRY.get_sample_value(
            "incentive_http_request_duration_seconds_count", {"method": "GET", "route": route}
        )
        == count_before + 2
    )
    unmatched = requests_of("GET", "(unmatched)", "4xx")
    assert c.get("/v1/nothing/an/here").status_code == 404
    assert requests_of("GET", "(unmatched)", "4xx") == unmatched + 1
    exposition = c.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    labels = set(re.findall(r'="([^"]*)"', exposition))
    assert not labels & set(REPS), "a rep id in a label"
    assert not any(a in label for label in labels for a in AMOUNTS), "an amount in a label"
    assert not any("/an/" in label or "/binh/" in label for label in labels)


def test_errors_are_counted_by_status_class(s: Settings, c: TestClient) -> None:
    route = "/v1/reps/{rep}/earnings"
    refused = requests_of("GET", route, "4xx")
    assert c.get("/v1/reps/an/earnings").status_code == 401
    assert requests_of("GET", route, "4xx") == refused + 1
    down = TestClient(
        create_app(Settings(store_url="postgresql://nobody@127.0.0.1:1/none")),
        raise_server_exceptions=False,
    )
    failed = requests_of("GET", "/readyz", "5xx")
    assert down.get("/readyz").status_code == 503
    assert requests_of("GET", "/readyz", "5xx") == failed + 1


def test_metrics_are_read_only_with_the_metrics_token(s: Settings, c: TestClient) -> None:
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/metrics", headers=finance(s)).status_code == 401  # a user's token is not it
    answer = c.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "# TYPE incentive_http_request_duration_seconds histogram" in answer.text
    unset = TestClient(create_app(s.model_copy(update={"metrics_token": None})))
    closed = unset.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert closed.status_code == 404 and "--metrics-port" in closed.json()["error"]["message"]
    assert "/metrics" not in c.get("/openapi.json").json()["paths"]


def test_a_request_is_one_json_line_with_its_id_subject_and_role_and_never_a_credential(
    s: Settings, c: TestClient, logs: io.StringIO
) -> None:
    token = issue_token(s, Role.FINANCE, "fin-1")
    forged = token[:-4] + "AAAA"
    display = issue_display_key(s, "lobby").token
    answer = c.get(
        "/v1/reps/an/earnings",
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "trace-42"},
    )
    assert answer.status_code == 200 and answer.headers["X-Request-ID"] == "trace-42"
    assert (
        c.get("/v1/reps/an/earnings", headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )
    assert c.get("/v1/reps/an/earnings", headers={"X-API-Key": "crm-key-1"}).status_code == 403
    c.get("/tv", params={"key": display}, follow_redirects=False)
    c.get("/healthz", headers={"X-Request-ID": token})  # a credential where an id goes
    c.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    c.get("/readyz", headers={"X-Request-ID": "bad\nid"})
    text = logs.getvalue()
    for secret in (token, forged, display, "crm-key-1", METRICS_TOKEN, s.api_secret):
        assert secret and secret not in text
    for part in (token.split(".")[1], display.split(".")[2]):
        assert part not in text
    lines = [json.loads(line) for line in text.splitlines()]
    mine = [line for line in lines if line.get("request_id") == "trace-42"]
    assert len(mine) == 1
    entry = mine[0]
    assert entry["logger"] == "incentive_engine.http" and entry["level"] == "info"
    assert (entry["method"], entry["route"], entry["path"], entry["status"]) == (
        "GET",
        "/v1/reps/{rep}/earnings",
        "/v1/reps/an/earnings",
        200,
    )
    assert (entry["subject"], entry["role"]) == ("fin-1", "finance")
    assert entry["duration_ms"] >= 0 and entry["time"].endswith("+00:00")
    integration = [line for line in lines if line.get("status") == 403]
    assert integration and integration[0]["role"] == "integration"
    screen = [line for line in lines if line.get("route") == "/tv"]
    assert screen and screen[0]["path"] == "/tv"  # its ?key= left out
    assert (screen[0]["subject"], screen[0]["role"]) == ("display:lobby", "display")
    assert not any("\nid" in str(line.get("request_id")) for line in lines)


def test_text_logs_for_people_redact_credentials_too(s: Settings) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    configure_logging(s.model_copy(update={"log_format": "text", "log_level": "DEBUG"}), stream)
    try:
        token = issue_token(s, Role.REP, "an")
        logging.getLogger("incentive_engine.test").warning(
            "refused Authorization: Bearer %s", token, extra={"request_id": "r-1"}
        )
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    line = stream.getvalue()
    assert "WARNING incentive_engine.test refused Authorization: Bearer [redacted]" in line
    assert "request_id=r-1" in line and token not in line


def test_readiness_reports_the_log_position_and_the_lag_of_facts_and_read_models(
    tmp_path: Path,
) -> None:
    s = api_settings(sqlite_settings(tmp_path))
    seed(s)
    c = TestClient(create_app(s))
    ready = c.get("/readyz").json()
    head = ready["log_position"]
    assert head > 0 and ready["facts_position"] is None and ready["read_models"] == {}
    views = make_engine(s.resolved_views_url())
    with EventStore(s) as store:
        ProjectionRunner(store, views, [EventIndex(), EventCounts()]).run()
        store.append([call("an", 1)])
    views.dispose()
    ready = c.get("/readyz").json()
    assert ready["log_position"] == head + 1
    assert ready["read_models"] == {
        "event_counts": {"position": head, "lag": 1},
        "event_index": {"position": head, "lag": 1},
    }
    c.get("/v1/reps/an/earnings", headers=finance(s))  # the facts catch up on a read
    ready = c.get("/readyz").json()
    assert ready["facts_position"] == head + 1 and ready["facts_lag"] == 0


def test_not_ready_when_the_read_model_database_cannot_be_reached(tmp_path: Path) -> None:
    s = sqlite_settings(tmp_path).model_copy(
        update={"views_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    answer = TestClient(create_app(s), raise_server_exceptions=False).get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["error"]["message"].startswith("read-model database unavailable")


def dashboard_queries() -> list[str]:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "incentive-engine.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_every_metric_the_dashboard_queries_is_in_the_exposition(c: TestClient) -> None:
    """The names of the dashboard's queries, against the exposition of /metrics in a process
    holding every metric family (the API's, and the worker's, projector's and publisher's of
    ``observability.pipeline``): a renamed metric cannot leave a panel empty unnoticed."""
    import incentive_engine.observability.pipeline  # noqa: F401  (the pipeline's families)

    text = c.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    families = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE))
    exposed = set()
    for name, kind in families.items():
        suffixes = ["_bucket", "_sum", "_count"] if kind == "histogram" else [""]
        exposed |= {name + suffix for suffix in suffixes}
    queries = dashboard_queries()
    assert len(queries) >= 20
    names = {n for q in queries for n in re.findall(r"\b(incentive_[a-z_]+)\b", q)}
    assert names - exposed == set(), "the dashboard queries metrics that do not exist"
    everything = {n for q in queries for n in re.findall(r"\b([a-z_]+)(?=\{|\[)", q)}
    assert everything - names <= {"up"}, "a query of something else than the engine's metrics"
    for family in ("http", "worker", "projection", "publisher", "log_head"):
        assert any(family in n for n in names), f"no panel for the {family} metrics"


def test_a_database_password_in_a_store_url_is_redacted_too() -> None:
    from incentive_engine.observability.logs import Redactor, secrets_of

    s = Settings(store_url="postgresql://engine:s3cret-pass-word@db:5432/incentive?schema=e")
    redact = Redactor(secrets_of(s))
    assert redact("could not connect to postgresql://engine:s3cret-pass-word@db") == (
        "could not connect to postgresql://engine:[redacted]@db"
    )
