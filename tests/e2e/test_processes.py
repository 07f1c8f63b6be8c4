"""Long-running commands as real processes: the API server and the projection worker."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from incentive_engine.domain.events import event_content
from incentive_engine.settings import Settings
from tests.broker import free_port
from tests.factories import call, hired

ROOT = Path(__file__).resolve().parents[2]


def engine(store: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, **(env or {}), "INCENTIVE_STORE_URL": store}
    return subprocess.Popen([sys.executable, "-m", "incentive_engine", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_serve_answers_readiness_logs_json_and_serves_metrics_on_its_own_port(
    tmp_path: Path,
) -> None:
    """A real `serve` process: readiness with the log position and the lag; one JSON line per
    request on stderr (uvicorn's own lines as JSON too, no access line, never the token);
    the unauthenticated --metrics-port exposition counting the request by its route."""
    from api.auth import Role, issue_token
    from tests.e2e.api_helpers import api_settings, seed

    s = api_settings(Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}"))
    seed(s)
    port, metrics_port = free_port(), free_port()
    proc = engine(s.store_url, "serve", "--port", str(port), "--metrics-port", str(metrics_port),
                  env={"INCENTIVE_API_SECRET": s.api_secret or "", "INCENTIVE_LOG_FORMAT": "json"})  # fmt: skip
    token = issue_token(s, Role.MANAGER, "mgr")
    try:
        deadline, ready = time.monotonic() + 30, None
        while time.monotonic() < deadline and (ready is None or ready["facts_position"] is None):
            try:  # serve folds the facts at start (warm): readiness reports them once folded
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    ready = json.loads(r.read())
            except OSError:
                time.sleep(0.1)
        assert ready == {
            "status": "ready",
            "backend": "sqlite",
            "log_position": 10,
            "facts_position": 10,
            "facts_lag": 0,
            "read_models": {},
        }
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/reps/an/earnings",
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "proc-1"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
        counted = (
            'incentive_http_requests_total{method="GET",route="/v1/reps/{rep}/earnings",'
            'status_class="2xx"} 1.0'
        )
        deadline, exposition = time.monotonic() + 10, ""
        while counted not in exposition and time.monotonic() < deadline:
            # counted once the answer is sent, which the client may see a moment before
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
                exposition = r.read().decode()
        assert counted in exposition
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert token not in err and token.split(".")[2] not in err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert len(lines) == len(err.strip().splitlines()), err[:500]  # every line is JSON
    (entry,) = [line for line in lines if line.get("request_id") == "proc-1"]
    assert (entry["subject"], entry["role"], entry["status"]) == ("mgr", "manager", 200)
    assert any(line["logger"].startswith("uvicorn") for line in lines)


def test_projection_worker_follows_the_log_and_stops_on_sigterm(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    f = tmp_path / "a.jsonl"
    f.write_text(
        "\n".join(
            json.dumps(event_content(e)) for e in [hired("an"), *[call("an", i) for i in range(20)]]
        )
        + "\n"
    )
    proc = engine(store, "project", "--follow", "--poll", "0.1")
    try:
        ingest = subprocess.run([sys.executable, "-m", "incentive_engine", "ingest", str(f)],
                                env={**os.environ, "INCENTIVE_STORE_URL": store}, cwd=ROOT, capture_output=True, text=True, check=False)  # fmt: skip
        assert ingest.returncode == 0, ingest.stderr
        deadline, listed = time.monotonic() + 20, []
        while time.monotonic() < deadline and len(listed) < 21:
            try:
                with sqlite3.connect(tmp_path / "events.views.db") as conn:
                    listed = conn.execute("select position from event_index").fetchall()
            except sqlite3.OperationalError:
                pass
            time.sleep(0.1)
        assert len(listed) == 21
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert "stopped" in out


def test_docker_compose_file_is_coherent_and_its_commands_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `docker compose config` cannot see, checked without Docker: every engine
    service's command parses as a real command line of this CLI under the service's own
    environment; dependencies exist and are healthy-checked where waited on; volumes are
    declared; every engine service reaches the one PostgreSQL store, and the Kafka ones the
    broker's advertised listener."""
    import typer.main

    from incentive_engine.cli.main import app

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"postgres", "kafka", "api", "projector", "worker", "publisher"} <= set(services)
    pg = services["postgres"]["environment"]
    store = (
        f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/"
        f"{pg['POSTGRES_DB']}"
    )
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    cli = typer.main.get_command(app)
    engine_services = {
        n: s for n, s in services.items() if s.get("image", "").startswith("incentive")
    }
    assert set(engine_services) == {"api", "projector", "worker", "publisher", "notifier"}
    for name, service in engine_services.items():
        env = {k: str(v) for k, v in service["environment"].items()}
        assert env["INCENTIVE_STORE_URL"].startswith(store), name
        for key in [k for k in os.environ if k.startswith("INCENTIVE_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        parent = cli.make_context("incentive-engine", list(service["command"]))
        words = [*parent._protected_args, *parent.args]  # type: ignore[attr-defined]
        command_name, command, rest = cli.resolve_command(parent, words)  # type: ignore[attr-defined]
        assert command is not None, name
        command.make_context(command_name, rest, parent=parent)  # raises on a bad option
        if command_name in ("worker", "publish"):
            assert env["INCENTIVE_KAFKA_BOOTSTRAP"] in advertised, name
            assert service["depends_on"]["kafka"]["condition"] == "service_healthy", name
    for name, service in services.items():
        for dependency, how in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith((".", "/")) or source in compose["volumes"], volume
    assert services["worker"]["deploy"]["replicas"] >= 2
    notifier = services["notifier"]
    assert notifier["command"][:2] == ["notify", "--follow"]
    notifier_env = {k: str(v) for k, v in notifier["environment"].items()}
    assert notifier_env["INCENTIVE_NOTIFY_KAFKA_BOOTSTRAP"] in advertised
    assert notifier["depends_on"]["kafka"]["condition"] == "service_healthy"
    publisher_topic = services["publisher"]["command"]
    assert (
        notifier_env["INCENTIVE_NOTIFY_TOPIC"]
        == publisher_topic[publisher_topic.index("--topic") + 1]
    )
    defaults = {  # compose's ${NAME:-default} as it reads an unset variable
        k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", v) for k, v in notifier_env.items()
    }
    for key in [k for k in os.environ if k.startswith("INCENTIVE_")]:
        monkeypatch.delenv(key)
    for key, value in defaults.items():
        monkeypatch.setenv(key, value)
    from incentive_engine.settings import Settings

    parsed = Settings(_env_file=None)  # type: ignore[call-arg]
    assert parsed.notify_kafka_bootstrap == "kafka:9092" and parsed.notify_webhooks == []
    assert not parsed.smtp_host and parsed.smtp_port == 587
    assert "INCENTIVE_API_SECRET" in services["api"]["environment"]


def test_docker_compose_config_accepts_the_file() -> None:
    """The real validator, `docker compose config` (or the older `docker-compose config`)."""
    for tool in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(tool[0]) is None:
            continue
        probe = subprocess.run([*tool, "version"], capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            continue  # the docker client without its compose plugin
        done = subprocess.run(
            [*tool, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
            capture_output=True,
            text=True,
            check=False,
            env={
                **os.environ,
                "INCENTIVE_API_SECRET": "process-test-secret-0123456789-abcdefghijkl",
            },
        )
        assert done.returncode == 0, done.stderr
        return
    pytest.skip("no docker compose on this machine: the structural test above still ran")


def test_the_api_refuses_to_start_on_postgresql_without_a_signing_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from incentive_engine.cli.main import app

    monkeypatch.delenv("INCENTIVE_API_SECRET", raising=False)
    store = "postgresql://postgres@127.0.0.1:5432/test?schema=never_opened"
    result = CliRunner().invoke(app, ["--store", store, "serve", "--port", str(free_port())])
    assert result.exit_code == 1
    assert "set INCENTIVE_API_SECRET" in result.output


def test_docker_compose_scrapes_every_engine_process_and_provisions_the_dashboard() -> None:
    """Prometheus scrapes each engine service on the port its command serves metrics on (the
    worker's replicas through DNS), that port is never published, the engine services log
    JSON, and Grafana is given the data source the dashboard's panels name."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"prometheus", "grafana"} <= set(services)
    prometheus = services["prometheus"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in prometheus["volumes"]}
    config_path = ROOT / mounts["/etc/prometheus/prometheus.yml"]
    assert config_path == ROOT / "deploy" / "prometheus.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    scraped: dict[str, set[str]] = {}
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.split(":")
                scraped.setdefault(host, set()).add(port)
        for dns in job.get("dns_sd_configs", []):
            for name in dns["names"]:
                scraped.setdefault(name, set()).add(str(dns["port"]))
    engine_services = {n for n, s in services.items() if s.get("image", "").startswith("incentive")}
    for name in engine_services & {"api", "projector", "worker", "publisher"}:
        command = [str(word) for word in services[name]["command"]]
        assert "--metrics-port" in command, name
        port = command[command.index("--metrics-port") + 1]
        assert command[command.index("--metrics-host") + 1] == "0.0.0.0", name
        assert scraped.get(name) == {port}, f"{name} is not scraped on {port}"
        published = [str(p) for p in services[name].get("ports", [])]
        assert not any(p.split(":")[-1] == port for p in published), f"{name} publishes {port}"
        assert services[name]["environment"]["INCENTIVE_LOG_FORMAT"] == "json", name
    assert set(scraped) <= set(services), "a scrape target that is no service"
    grafana = services["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    dashboard = json.loads(
        (ROOT / mounts["/var/lib/grafana/dashboards/incentive-engine.json"]).read_text()
    )
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["url"] == "http://prometheus:9090" and source["type"] == "prometheus"
    providers = yaml.safe_load((provisioning / "dashboards" / "incentive-engine.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    used = {panel["datasource"]["uid"] for panel in dashboard["panels"] if "datasource" in panel}
    assert used == {source["uid"]}
    for name, how in grafana["depends_on"].items():
        assert name in services and how["condition"] in ("service_started", "service_healthy")
