"""The command line starts quickly: help loads no storage, web, broker or model library, and
every way of starting it lists every command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer

from incentive_engine.cli.main import app

HEAVY = ("sqlalchemy", "fastapi", "uvicorn", "starlette", "eventsourcing", "psycopg", "kafka",
         "pydantic_settings", "incentive_engine.services", "incentive_engine.store",
         "incentive_engine.domain.events", "incentive_engine.domain.facts", "plans", "projections",
         "api")  # fmt: skip
"""What help must not load (pydantic itself is loaded by typer for a subcommand's help)."""


def _loaded_after(argv: list[str]) -> list[str]:
    code = (
        "import json, sys\n"
        "from incentive_engine.cli.main import app\n"
        f"try:\n    app({argv!r})\nexcept SystemExit:\n    pass\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules "
        "if any(m == h or m.startswith(h + '.') for h in heavy))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--help"], ["quota", "--help"], ["plan", "--help"]])
def test_help_loads_no_heavy_library(argv: list[str]) -> None:
    assert _loaded_after(argv) == []


def _commands() -> set[str]:
    group = typer.main.get_command(app)
    return set(group.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("module", ["incentive_engine", "incentive_engine.cli"])
def test_python_m_lists_every_command(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=True
    ).stdout
    listed = {line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()}
    assert _commands() <= listed
    assert {"statement", "payouts", "serve", "worker", "kpi", "plan", "demo"} <= listed


def test_kpi_commands_are_built_on_first_use() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["kpi", "--help"])
    assert result.exit_code == 0
    assert "win_rate" in result.output and "list" in result.output
    unknown = CliRunner().invoke(app, ["kpi", "no-such-kpi"])
    assert unknown.exit_code == 2
    assert "unknown KPI 'no-such-kpi'" in unknown.output
