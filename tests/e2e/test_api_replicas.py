"""Two API replicas on one PostgreSQL store (the docker-compose shape; issue 18, goal 6): two
real ``serve`` processes on two ports answer the same statement with the same hash, and a
deal posted to one is on the other's statement within a second."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.auth import Role
from incentive_engine.settings import Settings
from tests.broker import free_port
from tests.conftest import postgres_settings
from tests.e2e.api_helpers import SECRET, api_settings, auth, seed
from tests.factories import won

ROOT = Path(__file__).resolve().parents[2]
STATEMENT = "/v1/reps/an/statements/2026-Q1"


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
    """One GET on a replica: (status, body, headers)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def post(port: int, path: str, body: object, headers: dict[str, str]) -> int:
    """One POST of JSON on a replica: its status."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        headers={**headers, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return int(r.status)


@pytest.fixture
def replicas(pg_schema: str) -> Iterator[tuple[Settings, list[int]]]:
    """A seeded PostgreSQL store (its own schema) and two ``serve`` processes on it."""
    settings = api_settings(postgres_settings(pg_schema))
    seed(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCENTIVE_")}
    env.update(INCENTIVE_STORE_URL=settings.store_url, INCENTIVE_API_SECRET=SECRET)
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "incentive_engine", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for port in ports
    ]
    try:
        deadline = time.monotonic() + 60
        for port, proc in zip(ports, procs, strict=True):
            while True:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, f"replica on {port} did not start"
                try:
                    if get(port, "/healthz", {})[0] == 200:
                        break
                except OSError:
                    time.sleep(0.05)
        yield settings, ports
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung replica
                proc.kill()
                proc.wait()


def test_two_replicas_agree_and_see_each_other_s_deals(
    replicas: tuple[Settings, list[int]],
) -> None:
    settings, (a, b) = replicas
    h = auth(settings, Role.FINANCE, "fin")

    def hashes(port: int) -> tuple[list[str], str]:
        status, body, headers = get(port, STATEMENT, h)
        assert status == 200, body
        return [s["hash"] for s in json.loads(body)], headers["etag"]

    before = hashes(a)
    assert before[0] and hashes(b) == before

    deal = won("R1", 70_000_000, rep_id="an", close_date="2026-03-05")
    assert post(a, "/v1/events", [deal.model_dump(mode="json", exclude_none=True)], h) == 200
    posted = time.monotonic()
    while True:
        status, body, _ = get(b, STATEMENT, h)
        if status == 200 and b"won-R1" in body:
            break
        assert time.monotonic() - posted < 1.0, "the deal posted to A is not on B within 1 s"
        time.sleep(0.02)
    after = hashes(b)
    assert after != before and hashes(a) == after
