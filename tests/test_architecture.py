"""The shape of the code: the pure core imports no I/O library, and imports flow one way."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PURE = [
    "incentive_engine/domain/events.py",
    "incentive_engine/domain/money.py",
    "incentive_engine/domain/periods.py",
    "incentive_engine/domain/facts.py",
    "incentive_engine/domain/references.py",
    "incentive_engine/domain/territories.py",
    "incentive_engine/domain/attainment.py",
    "incentive_engine/domain/leaderboards.py",
    "incentive_engine/domain/quotas.py",
    "incentive_engine/domain/simulation.py",
    "incentive_engine/domain/handlers.py",
    *sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "incentive_engine/domain/kpis").rglob("*.py")
    ),
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "plans").rglob("*.py")),
]
IO_LIBRARIES = {
    "sqlalchemy", "eventsourcing", "psycopg", "sqlite3", "kafka", "fastapi", "starlette",
    "uvicorn", "typer", "rich", "requests", "httpx", "socket", "subprocess", "os", "time",
    "random", "threading", "asyncio",
}  # fmt: skip
IMPURE_CALLS = {"now", "today", "utcnow", "random", "urandom", "uuid4", "perf_counter"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_pure_core_imports_no_storage_broker_web_or_clock() -> None:
    for rel in PURE:
        top = {name.split(".")[0] for name in imports_of(ROOT / rel)}
        assert not top & IO_LIBRARIES, f"{rel} imports {sorted(top & IO_LIBRARIES)}"


def test_pure_core_reads_no_clock_and_draws_no_random_numbers() -> None:
    for rel in PURE:
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        calls = {
            node.func.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        }
        assert not calls & IMPURE_CALLS, f"{rel} calls {sorted(calls & IMPURE_CALLS)}"


def test_imports_flow_one_way() -> None:
    forbidden = {
        "plans": {
            "projections",
            "api",
            "incentive_engine.store.event_store",
            "incentive_engine.cli.main",
        },
        "projections": {"api", "incentive_engine.cli.main"},
        "incentive_engine": {"api"},
    }
    for package, banned in forbidden.items():
        for path in (ROOT / package).rglob("*.py"):
            if path.relative_to(ROOT).as_posix() == "incentive_engine/cli/main.py":
                continue  # the composition root may wire everything
            for name in imports_of(path):
                assert not any(name == b or name.startswith(b + ".") for b in banned), (
                    f"{path.relative_to(ROOT)} imports {name}"
                )


def test_public_functions_have_docstrings() -> None:
    for package in ("incentive_engine", "projections", "plans", "api"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            assert ast.get_docstring(tree), f"{path.relative_to(ROOT)} has no module docstring"
