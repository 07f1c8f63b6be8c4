"""Fuzzing the HTTP API from its own OpenAPI schema (schemathesis): whatever a client sends,
valid or not, every operation answers without a server error.

Bounded: a few examples per operation (valid and invalid requests), each sent with a
finance token and with an integration API key, on one seeded SQLite store."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.auth import Role
from incentive_engine.settings import Settings
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, seed

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
"""No 5xx; every status is documented; every documented body matches its schema."""
EXAMPLES = int(os.environ.get("INCENTIVE_FUZZ_EXAMPLES", "4"))
"""Examples per operation and generation mode (raise it by hand for a longer hunt)."""
BUDGET_SECONDS = 45.0
"""The whole run stops generating new examples after this long."""


def _operations() -> list[str]:
    """'METHOD /path' of every operation of the app (its schema needs no store)."""
    app = create_app(Settings(store_url="sqlite:///unused.db"))
    return [
        f"{method.upper()} {path}"
        for path, item in sorted(app.openapi()["paths"].items())
        for method in sorted(item)
    ]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One seeded store, the app on it, its schema and the credentials to send."""
    configured = api_settings(sqlite_settings(Path(tmp_path_factory.mktemp("schema"))))
    # The fuzzer sends bad credentials on purpose: let it reach the routes, not the limiter.
    configured = configured.model_copy(update={"api_auth_failures": 100_000})
    seed(configured)
    app = create_app(configured)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        operations[f"{operation.method.upper()} {operation.path}"] = operation
    credentials = {
        "finance": auth(configured, Role.FINANCE, "fin"),
        "integration": {"X-API-Key": "crm-key-1"},
    }
    yield {
        "app": app,
        "operations": operations,
        "credentials": credentials,
        "started": time.monotonic(),
    }
    reopen(app)


def reopen(app: Any) -> None:
    """Let the app open its store again on the next request.

    Schemathesis' pytest plugin ends the app's lifespan after every test, and the app's
    lifespan shutdown closes its engine but keeps it: without this, the next test would be
    answered from a closed store (a 500)."""
    engine = app.state.engine
    app.state.engine = None
    if engine is not None:
        engine.close()  # closing twice is harmless


@pytest.mark.parametrize("name", _operations())
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_operation_answers_with_a_server_error(
    fuzzed: dict[str, Any], name: str, mode: GenerationMode
) -> None:
    operation = fuzzed["operations"][name]
    credentials: dict[str, dict[str, str]] = fuzzed["credentials"]
    if time.monotonic() - fuzzed["started"] > BUDGET_SECONDS:
        pytest.skip("the fuzzing time budget is spent")
    reopen(fuzzed["app"])
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def send(case: schemathesis.Case) -> None:
        for who, headers in credentials.items():
            response = case.call(headers=headers)
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as exc:  # a check's failure (or a group of them)
                failures.append(
                    f"{who}: {case.method} {case.formatted_path} query={case.query} "
                    f"body={case.body!r} -> {response.status_code} {response.text[:300]}\n"
                    f"    {str(exc)[:600]}"
                )

    try:
        send()
    except Unsatisfiable:  # nothing to make invalid (no parameters, or any string is valid)
        assert mode is GenerationMode.NEGATIVE
    assert not failures, "\n".join(failures)
