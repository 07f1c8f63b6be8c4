"""One naming in every JSON output (issue 19 item 2): the CLI's JSON of a statement, the
payouts, a leaderboard, a rep's points and badges is checked against the API's response model
for the same resource (extra fields forbidden) and against the API's answer on the same store;
amounts are exact decimal strings and lists are lists; the draw balance owed, the holdback
figures and the totals are fields, not text inside a line's description.

Each test failed on the base commit (089538d): the leaderboard said ``rep`` and the metric's
name, points gave one array per plan with ``events`` as a string and no total, payouts a bare
list, and the draw balance was only in a description."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from typer.testing import CliRunner

from api.auth import Role
from api.routers.boards import Standing
from api.routers.pay import BadgeOut, Payouts, Points
from api.routers.reps import StatementOut
from incentive_engine.cli.main import app
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from incentive_engine.settings import Settings
from plans.evaluate import evaluate
from tests.e2e.api_helpers import api_settings, auth, client
from tests.e2e.test_cli_gamification import seeded
from tests.examples.plans import plan, rep
from tests.factories import won

runner = CliRunner()


def strict(model: type[BaseModel]) -> type[BaseModel]:
    """The API's model refusing any field it does not declare."""
    return type(f"Strict{model.__name__}", (model,), {"model_config": ConfigDict(extra="forbid")})


def utc_z(value: Any) -> Any:
    """The value with ISO instants in UTC written as pydantic writes them (``Z``): the CLI
    writes ``+00:00``, the same instant."""
    if isinstance(value, dict):
        return {k: utc_z(v) for k, v in value.items()}
    if isinstance(value, list):
        return [utc_z(v) for v in value]
    if isinstance(value, str) and value.endswith("+00:00") and "T" in value:
        return value.removesuffix("+00:00") + "Z"
    return value


@pytest.fixture(scope="module")
def doors(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Any, Any]:
    """One seeded SQLite store, read by the CLI and by the API (as finance)."""
    tmp = tmp_path_factory.mktemp("machine")
    settings = api_settings(Settings(store_url=seeded(tmp)))
    api = client(settings)
    headers = auth(settings, Role.FINANCE, "fin")

    def cli(*args: str) -> Any:
        result = runner.invoke(app, ["--store", settings.store_url, *args, "--format", "json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def http(path: str, **params: str) -> Any:
        answer = api.get(path, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    return settings, cli, http


def test_statement_json_is_the_apis_statement(doors: tuple[Settings, Any, Any]) -> None:
    _, cli, http = doors
    [mine] = cli("statement", "an", "2026-Q1")
    strict(StatementOut).model_validate(mine)
    [theirs] = http("/v1/reps/an/statements/2026-Q1")
    StatementOut.model_validate(theirs)
    assert {k: v for k, v in theirs.items() if k != "acceptance"} == mine
    assert mine["total"] == mine["earned"] == "900000" and mine["adjustments"] == "0"
    assert mine["draw_owed"] is None and isinstance(mine["lines"][0]["event_ids"], list)


def test_payouts_json_is_the_apis_payouts(doors: tuple[Settings, Any, Any]) -> None:
    _, cli, http = doors
    mine = cli("payouts", "2026-Q1")
    strict(Payouts).model_validate(mine)
    theirs = http("/v1/payouts/2026-Q1")
    assert mine["items"] == theirs["items"] and mine["failures"] == theirs["failures"] == []
    assert (mine["period"], mine["status"], mine["total"]) == ("2026-Q1", "open", 2)
    assert [(r["rep_id"], r["plan_id"], r["total"]) for r in mine["items"]] == [
        ("an", "example", "900000"),
        ("binh", "example", "0"),
    ]


def test_leaderboard_json_is_the_apis_standing(doors: tuple[Settings, Any, Any]) -> None:
    _, cli, http = doors
    mine = cli("leaderboard", "points", "--period", "2026-Q1")
    for row in mine:
        strict(Standing).model_validate(row)
    theirs = http("/v1/leaderboards/points", period="2026-Q1")["items"]
    assert utc_z(mine) == theirs
    assert [(r["rep_id"], r["value"], r["movement"]) for r in mine] == [
        ("an", "34", None),
        ("binh", "3", None),
    ]


def test_points_and_badges_json_are_the_apis(doors: tuple[Settings, Any, Any]) -> None:
    _, cli, http = doors
    mine = cli("points", "an", "2026-Q1")
    strict(Points).model_validate(mine)
    theirs = http("/v1/reps/an/points", period="2026-Q1")
    assert mine["points"] == theirs["points"] == "34"  # the total is a field
    assert utc_z(mine["items"]) == theirs["items"] and utc_z(mine["plans"]) == theirs["plans"]
    assert all(ln["event_ids"] == ["won-D1"] for ln in mine["items"])  # a list, not text
    held = cli("badges", "an", "--on", "2026-03-31")
    for row in held:
        strict(BadgeOut).model_validate(row)
    assert held == http("/v1/reps/an/badges", on="2026-03-31")["items"]


def test_the_draw_balance_owed_is_a_field_and_hashes_stay() -> None:
    monthly = plan({"id": "commission", "kind": "rate", "mode": "flat", "rate": 2},
                   {"id": "draw", "kind": "draw", "amount": 5_000_000}, period="month")  # fmt: skip
    facts = fold([rep("an"), won("M1", 100_000_000, rep_id="an", close_date="2026-01-15"),
                  won("M2", 450_000_000, rep_id="an", close_date="2026-02-15"),
                  won("M3", 200_000_000, rep_id="an", close_date="2026-03-15")])  # fmt: skip
    paid = [
        evaluate(facts, monthly, "an", Period.parse(m)) for m in ("2026-01", "2026-02", "2026-03")
    ]
    assert [s.draw_owed for s in paid] == [Decimal(3_000_000), Decimal(0), Decimal(1_000_000)]
    document = paid[2].document()
    assert document["draw_owed"] == "1000000" and document["hash"] == paid[2].hash
    assert "draw_owed" not in paid[2].as_dict()  # beside the hashed content, never in it
    strict(StatementOut).model_validate(document)
    flat = evaluate(fold([rep("an"), won("M1", 100_000_000, rep_id="an")]),
                    plan({"id": "c", "kind": "rate", "mode": "flat", "rate": 2}), "an",
                    Period.parse("2026-Q1"))  # fmt: skip
    assert flat.draw_owed is None and flat.document()["draw_owed"] is None


def test_the_leaderboard_csv_uses_the_same_names(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    result = runner.invoke(
        app, ["--store", store, "leaderboard", "points", "--period", "2026-Q1", "--format", "csv"]
    )
    assert result.stdout.splitlines()[0] == (
        "rank,rep_id,name,value,reached_at,previous_rank,movement"
    )
