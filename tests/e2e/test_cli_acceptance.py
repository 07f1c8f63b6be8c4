"""``plan accept`` and ``plan acceptances`` end to end on a real SQLite file: an operator
records a paper signature (again is a no-op), a version that does not cover the rep or an
unknown rep is refused naming the field, and the report lists who has and has not accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from incentive_engine.settings import Settings
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import seed
from tests.e2e.test_cli_plans import run


@pytest.fixture
def store(tmp_path: Path) -> str:
    settings: Settings = sqlite_settings(tmp_path)
    seed(settings)
    return settings.store_url


def test_an_operator_records_acceptances_and_lists_them(store: str) -> None:
    first = run("accept", "example", "--rep", "an", "--by", "fin", "--reference", "HĐ-1",
                "--signed-at", "2026-01-02", store=store)  # fmt: skip
    assert first.exit_code == 0, first.output
    assert (
        "recorded: an accepted plan example v1 (paper, 2026-01-02T00:00:00+00:00)" in first.output
    )
    again = run("accept", "example", "--rep", "an", "--by", "fin", store=store)
    assert again.exit_code == 0 and "already accepted" in again.output
    cli = run("accept", "example", "--version", "1", "--rep", "binh", "--by", "ops",
              "--how", "cli", store=store)  # fmt: skip
    assert cli.exit_code == 0, cli.output
    listed = run("acceptances", "example", "--format", "json", store=store)
    assert listed.exit_code == 0, listed.output
    rows = {r["rep_id"]: (r["accepted"], r["how"]) for r in json.loads(listed.output)}
    assert rows == {
        "an": (True, "paper"),
        "binh": (True, "cli"),
        "chau": (False, None),
        "mgr": (False, None),
    }
    table = run("acceptances", "example", store=store)
    assert table.exit_code == 0 and "2 of 4 accepted" in table.output


def test_refusals_name_the_field(store: str) -> None:
    unknown = run("accept", "example", "--rep", "nobody", "--by", "fin", store=store)
    assert unknown.exit_code == 1 and "rep_id" in unknown.output
    missing = run("accept", "example", "--version", "4", "--rep", "an", "--by", "fin",
                  store=store)  # fmt: skip
    assert missing.exit_code == 1 and "version" in missing.output
    reference = run("accept", "example", "--rep", "an", "--by", "fin", "--how", "cli",
                    "--reference", "x", store=store)  # fmt: skip
    assert reference.exit_code == 1 and "paper" in reference.output
    future = run("accept", "example", "--rep", "an", "--by", "fin", "--signed-at", "2099-01-01",
                 store=store)  # fmt: skip
    assert future.exit_code == 1 and "future" in future.output
