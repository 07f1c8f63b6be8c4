"""No door folds facts on its own: the CLI, the HTTP API and the Kafka worker read facts
through the one Engine (``incentive_engine.services.engine``), and the read models that need
facts are handed them by the door that runs them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOORS = ("api", "incentive_engine/cli", "incentive_engine/kafka")
FOLDS = {"replay_facts", "apply_recorded", "apply_all"}
"""Names whose use means folding events into facts."""


def folds_in(source: str) -> list[str]:
    """Each place a module folds facts by itself: a fold named, ``Facts()`` built, or the
    commissions module's ``snapshot`` (a fold of a bare store) used."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and node.id in FOLDS:
            found.append(f"line {node.lineno}: {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in FOLDS:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            if name == "Facts":
                found.append(f"line {node.lineno}: Facts()")
        elif isinstance(node, ast.Attribute) and node.attr == "snapshot":
            if isinstance(node.value, ast.Name) and node.value.id == "commissions":
                found.append(f"line {node.lineno}: commissions.snapshot")
        elif isinstance(node, ast.ImportFrom):
            module, names = node.module or "", {alias.name for alias in node.names}
            if names & FOLDS:
                found.append(f"line {node.lineno}: from {module} import {sorted(names & FOLDS)}")
            elif module.endswith("services.commissions") and "snapshot" in names:
                found.append(f"line {node.lineno}: from {module} import snapshot")
    return found


def modules(*folders: str) -> list[Path]:
    """The Python modules under the given folders of the repository."""
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def test_no_door_folds_facts() -> None:
    paths = modules(*DOORS)
    assert len(paths) > 15  # the doors are where they are said to be
    found = {
        str(p.relative_to(ROOT)): hits
        for p in paths
        if (hits := folds_in(p.read_text(encoding="utf-8")))
    }
    assert found == {}, f"doors must read facts through the Engine: {found}"


def test_no_read_model_folds_facts() -> None:
    found = {
        str(p.relative_to(ROOT)): hits
        for p in modules("projections")
        if (hits := folds_in(p.read_text(encoding="utf-8")))
    }
    assert found == {}, f"read models are handed facts by their door: {found}"


def test_every_cli_query_opens_the_engine_through_one_helper() -> None:
    """The commands read facts with ``engine_of``/``snapshot_of`` from cli/common.py, the
    one place that opens the Engine (the demo and replay use their own settings)."""
    opened: dict[str, int] = {}
    for path in modules("incentive_engine/cli"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("engine_of", "snapshot_of")
        ]
        opened[path.name] = len(calls)
    for name in ("commissions.py", "gamification.py", "territories.py", "quotas.py"):
        assert opened[name] >= 1, name
    for name in ("kpis.py", "simulation.py", "audit.py"):
        assert opened[name] >= 1, name


def test_the_check_catches_each_kind_of_fold() -> None:
    """The checker is not blind: each forbidden form, injected, is reported."""
    injected = {
        "from incentive_engine.services.replay import replay_facts": "import ['replay_facts']",
        "facts = replay_facts(store)": "replay_facts",
        "facts.apply_recorded(page)": "apply_recorded",
        "facts = Facts()": "Facts()",
        "facts = facts_module.Facts()": "Facts()",
        "from incentive_engine.services.commissions import snapshot": "import snapshot",
        "snap = commissions.snapshot(store)": "commissions.snapshot",
        "facts = Facts().apply_all(events)": "apply_all",
    }
    for line, expected in injected.items():
        hits = folds_in(line)
        assert any(expected in h for h in hits), (line, hits)
    clean = "snap = engine.snapshot(as_of)\nfound = rep_statements(snap, 'an', period)"
    assert folds_in(clean) == []
