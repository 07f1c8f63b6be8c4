"""The shape of the code: who may import whom through the whole import chain, a pure core that
reads no clock and does no I/O, doors that fold no facts — and proof that the checks bite."""

from __future__ import annotations

import ast
import re
import shutil
from functools import cache
from pathlib import Path

import pytest

from tests.arch.checker import Violation, check, door_folds, stale_docs
from tests.arch.rules import EXEMPTIONS, LAYERS, PROJECT_ROOTS

ROOT = Path(__file__).resolve().parents[1]


def _report(violations: list[Violation]) -> str:
    return "\n".join(str(v) for v in violations[:40]) + f"\n({len(violations)} in all)"


def test_every_layer_imports_only_what_it_may_through_the_whole_chain() -> None:
    violations = check(ROOT)
    assert not violations, _report(violations)


def test_no_door_folds_facts_or_evaluates_a_plan() -> None:
    violations = door_folds(ROOT)
    assert not violations, _report(violations)


def test_every_exemption_is_still_needed() -> None:
    """An exemption nobody uses any more is a hole left open: remove it from the rules."""
    modules_and_layers: dict[str, set[str]] = {}
    for path in (p for top in PROJECT_ROOTS for p in (ROOT / top).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules_and_layers[name] = {
            m.group(1) for m in re.finditer(r"^\s*(?:from|import) ([\w.]+)", text, re.M)
        }
    for exemption in EXEMPTIONS:
        layer = next((x for x in LAYERS if x.name == exemption.importer), None)
        importers = [
            imports
            for name, imports in modules_and_layers.items()
            if name == exemption.importer
            or (layer and any(name == p or name.startswith(p + ".") for p in layer.modules))
        ]
        assert any(
            exemption.imported in imports
            or any(i.startswith(exemption.imported + ".") for i in imports)
            for imports in importers
        ), f"unused exemption {exemption.importer} -> {exemption.imported}"


def test_the_architecture_doc_is_drawn_from_the_rules() -> None:
    """docs/architecture.md shows exactly the rules and exemptions the checker enforces."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert stale_docs(text) == [], "stale: run `python -m tests.arch.checker --docs`"


def test_public_modules_have_docstrings() -> None:
    for package in PROJECT_ROOTS:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            assert ast.get_docstring(tree), f"{path.relative_to(ROOT)} has no module docstring"


# ------------------------------------------------------------------ the checks have teeth


def _only_sources(folder: str, names: list[str]) -> set[str]:
    """What a copy for the checker leaves out: everything but folders and Python files (the
    web door's vendored front-end files alone are megabytes, copied for every injection)."""
    return {
        n
        for n in names
        if n == "__pycache__" or (not n.endswith(".py") and not Path(folder, n).is_dir())
    }


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's packages, checked clean once."""
    root = tmp_path_factory.mktemp("pristine")
    for top in PROJECT_ROOTS:
        shutil.copytree(ROOT / top, root / top, ignore=_only_sources)
    assert check(root) == check(ROOT)
    return root


@pytest.fixture
def tree(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy to inject one violation into."""
    root = tmp_path / "tree"
    shutil.copytree(pristine, root)
    return root


def _inject(root: Path, rel: str, code: str) -> None:
    path = root / rel
    before = path.read_text(encoding="utf-8") if path.exists() else '"""Injected."""\n'
    path.write_text(before + "\n" + code + "\n", encoding="utf-8")


@cache
def _known() -> frozenset[str]:
    """The violations of the tree as it is (none, once the rules hold)."""
    return frozenset(str(v) for v in check(ROOT))


def _new_violations(root: Path) -> list[Violation]:
    known = _known()
    return [v for v in check(root) if str(v) not in known]


FUNCTION = "def _injected() -> None:\n    {}\n"

INJECTIONS = [
    pytest.param(
        {"incentive_engine/domain/facts.py": "from incentive_engine.store.event_store import X"},
        ("import", "incentive_engine.domain.facts", "incentive_engine.store.event_store"),
        id="facts-imports-the-store",
    ),
    pytest.param(
        {"plans/diff.py": FUNCTION.format("from incentive_engine.cli import common")},
        ("import", "plans.diff", "incentive_engine.cli.common"),
        id="plans-imports-cli-common-inside-a-function",
    ),
    pytest.param(
        {"plans/points.py": "import incentive_engine.services.ingest"},
        ("import", "plans.points", "incentive_engine.services.ingest"),
        id="plans-imports-ingest",
    ),
    pytest.param(
        {"incentive_engine/domain/quotas.py": "from projections import runner"},
        ("import", "incentive_engine.domain.quotas", "projections.runner"),
        id="quotas-imports-projections",
    ),
    pytest.param(
        {
            "incentive_engine/domain/helper.py": "from ..store import event_store",
            "incentive_engine/domain/facts.py": "from . import helper",
        },
        ("reach", "incentive_engine.domain.facts", "incentive_engine.store.event_store"),
        id="pure-module-reaches-the-store-through-a-pure-helper",
    ),
    pytest.param(
        {
            "plans/helper.py": "import sqlalchemy.orm",
            "plans/model.py": FUNCTION.format("import plans.helper"),
        },
        ("reach", "plans.model", "sqlalchemy"),
        id="pure-module-reaches-sqlalchemy-through-a-pure-helper",
    ),
    pytest.param(
        {"incentive_engine/store/chain.py": "from incentive_engine.services import replay"},
        ("import", "incentive_engine.store.chain", "incentive_engine.services.replay"),
        id="store-imports-services",
    ),
    pytest.param(
        {"projections/base.py": "import incentive_engine.services.engine"},
        ("import", "projections.base", "incentive_engine.services.engine"),
        id="projections-imports-services",
    ),
    pytest.param(
        {"incentive_engine/services/audit.py": FUNCTION.format("from api.deps import x")},
        ("import", "incentive_engine.services.audit", "api.deps"),
        id="services-imports-api",
    ),
    pytest.param(
        {"api/routers/reps.py": "from incentive_engine.cli.common import console"},
        ("import", "api.routers.reps", "incentive_engine.cli.common"),
        id="api-imports-the-cli",
    ),
    pytest.param(
        {"incentive_engine/kafka/worker.py": "import api.app"},
        ("import", "incentive_engine.kafka.worker", "api.app"),
        id="kafka-imports-api",
    ),
    pytest.param(
        {"incentive_engine/cli/main.py": "from api.app import create_app"},
        ("import", "incentive_engine.cli.main", "api.app"),
        id="composition-root-imports-api-at-module-level",
    ),
    pytest.param(
        {"api/deps.py": "from incentive_engine.store.chain import verify"},
        ("import", "api.deps", "incentive_engine.store.chain"),
        id="door-imports-store-internals",
    ),
    pytest.param(
        {"incentive_engine/domain/periods.py": FUNCTION.format("return date.today()")},
        ("impure", "incentive_engine.domain.periods", ".today"),
        id="clock-read-in-the-pure-core",
    ),
    pytest.param(
        {"plans/model.py": "_stamp = Field(default_factory=datetime.now)"},
        ("impure", "plans.model", ".now"),
        id="clock-referenced-not-called",
    ),
    pytest.param(
        {"plans/evaluate.py": FUNCTION.format("import time")},
        ("import", "plans.evaluate", "time"),
        id="clock-module-in-the-pure-core",
    ),
    pytest.param(
        {"incentive_engine/domain/money.py": FUNCTION.format("print(1)")},
        ("impure", "incentive_engine.domain.money", "print()"),
        id="io-builtin-in-the-pure-core",
    ),
    pytest.param(
        {"incentive_engine/util.py": "import os"},
        ("unassigned", "incentive_engine.util", "incentive_engine.util"),
        id="module-outside-every-layer",
    ),
]


@pytest.mark.parametrize(("files", "expected"), INJECTIONS)
def test_an_injected_violation_fails_the_check_and_is_named(
    tree: Path, files: dict[str, str], expected: tuple[str, str, str]
) -> None:
    for rel, code in files.items():
        _inject(tree, rel, code)
    found = _new_violations(tree)
    assert expected in {(v.kind, v.module, v.target) for v in found}, _report(found)


def test_imports_under_type_checking_are_exempt(tree: Path) -> None:
    _inject(
        tree,
        "incentive_engine/domain/facts.py",
        "if TYPE_CHECKING:\n    from incentive_engine.store.event_store import EventStore\n",
    )
    assert _new_violations(tree) == []


@pytest.mark.parametrize(
    ("rel", "code", "expected"),
    [
        (
            "api/routers/pay.py",
            FUNCTION.format("fold([])"),
            "incentive_engine.domain.facts.fold",
        ),
        (
            "incentive_engine/kafka/worker.py",
            FUNCTION.format("from plans import evaluate as ev\n    ev.statements(1, 2)"),
            "plans.evaluate.statements",
        ),
        (
            "incentive_engine/cli/plans.py",
            FUNCTION.format("snap.facts.apply_all([])"),
            ".apply_all",
        ),
        (
            "api/deps.py",
            FUNCTION.format("from incentive_engine.domain.facts import Facts\n    Facts()"),
            "incentive_engine.domain.facts.Facts",
        ),
    ],
)
def test_a_door_that_folds_facts_is_named(tree: Path, rel: str, code: str, expected: str) -> None:
    if "fold([])" in code:
        code = "from incentive_engine.domain.facts import fold\n" + code
    known = {str(v) for v in door_folds(ROOT)}
    _inject(tree, rel, code)
    found = [v for v in door_folds(tree) if str(v) not in known]
    assert [v.target for v in found] == [expected], _report(found)
