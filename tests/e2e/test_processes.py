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
from tests.broker import free_port
from tests.factories import call, hired

ROOT = Path(__file__).resolve().parents[2]


def engine(store: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "INCENTIVE_STORE_URL": store}
    return subprocess.Popen([sys.executable, "-m", "incentive_engine", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_serve_answers_health_and_readiness(tmp_path: Path) -> None:
    port = free_port()
    proc = engine(f"sqlite:///{tmp_path / 'events.db'}", "serve", "--port", str(port))
    try:
        deadline, ready = time.monotonic() + 20, None
        while time.monotonic() < deadline and ready is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    ready = json.loads(r.read())
            except OSError:
                time.sleep(0.1)
        assert ready == {"status": "ready", "backend": "sqlite", "log_position": 0}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


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
