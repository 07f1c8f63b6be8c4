"""Check the import rules of ``tests/arch/rules.py`` on a source tree, through the whole chain.

Every ``import`` counts, at module level or inside a function; relative imports are resolved;
importing ``a.b.c`` also imports the packages ``a`` and ``a.b``. Imports under
``if TYPE_CHECKING:`` are exempt (they never run). Run ``python -m tests.arch.checker [ROOT]``
to print the violations of a tree, ``--mermaid`` to print the diagram of the rules, ``--docs``
to redraw it in docs/architecture.md.
"""

from __future__ import annotations

import ast
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tests.arch.rules import (
    DOOR_BANNED_CALLS,
    DOOR_BANNED_METHODS,
    EXEMPTIONS,
    LAYERS,
    PROJECT_ROOTS,
    PURE_BANNED_BUILTINS,
    PURE_BANNED_CALLS,
    PURE_BANNED_STDLIB,
    Exemption,
    Layer,
)

STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
BY_NAME = {layer.name: layer for layer in LAYERS}


@dataclass(frozen=True)
class Import:
    """One import statement's target, as written in a module."""

    target: str
    """A project module (resolved, absolute) or a third-party/stdlib top-level name."""
    line: int
    in_function: bool
    project: bool
    via: str | None = None
    """For a package ``__init__`` run because a submodule was imported (followed through the
    chain, not judged on its own), the submodule written in the import."""


@dataclass
class Module:
    """A parsed project module and what it imports."""

    name: str
    path: Path
    tree: ast.Module
    imports: list[Import] = field(default_factory=list)


@dataclass(frozen=True)
class Violation:
    """A broken rule, with where it was broken."""

    kind: str
    module: str
    target: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: [{self.kind}] {self.message}"


def module_name(root: Path, path: Path) -> str:
    """The dotted name of a file under root (``a/b/__init__.py`` is ``a.b``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def layer_of(module: str) -> Layer | None:
    """The layer a module belongs to: the longest matching prefix, or None."""
    matches = [
        (len(prefix), layer)
        for layer in LAYERS
        for prefix in layer.modules
        if module == prefix or (not layer.exact and module.startswith(prefix + "."))
    ]
    return max(matches, key=lambda match: match[0])[1] if matches else None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports_in(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement with whether it sits in a function, skipping TYPE_CHECKING."""
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, in_function = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, in_function
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend((child, in_function) for child in node.orelse)
            continue
        if not isinstance(node, ast.stmt | ast.Module | ast.ExceptHandler | ast.match_case):
            continue  # imports are statements: expressions hold none
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        stack.extend((child, inner) for child in ast.iter_child_nodes(node))


def _from(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` statement names, relative ones resolved."""
    if not node.level:
        return node.module or ""
    package = module.name.split(".")
    if module.path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def _parse(source: str) -> ast.Module:
    """A module's syntax tree, parsed once per distinct source (the trees are only read)."""
    return ast.parse(source)


_IMPORTS: dict[int, list[tuple[ast.Import | ast.ImportFrom, bool]]] = {}
_PURITY: dict[int, list[tuple[int, str]]] = {}


def _imports_of(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """``_imports_in`` of a tree, found once per tree (the parsed trees live as long as the
    ``_parse`` cache, so their ids stay theirs)."""
    if id(tree) not in _IMPORTS:
        _IMPORTS[id(tree)] = list(_imports_in(tree))
    return _IMPORTS[id(tree)]


def load(root: Path) -> dict[str, Module]:
    """Parse every module of the project under root and resolve its imports."""
    modules: dict[str, Module] = {}
    for top in PROJECT_ROOTS:
        for path in sorted((root / top).rglob("*.py")):
            name = module_name(root, path)
            modules[name] = Module(name, path, _parse(path.read_text(encoding="utf-8")))
    for module in modules.values():
        for node, in_function in _imports_of(module.tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _from(module, node)
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
                targets = subs or [base]
            for target in targets:
                project = target.split(".")[0] in PROJECT_ROOTS
                if not project:
                    target = target.split(".")[0]
                line = getattr(node, "lineno", 0)
                module.imports.append(Import(target, line, in_function, project))
                if project:  # importing a.b.c runs a/__init__ and a/b/__init__ first
                    parts = target.split(".")
                    for i in range(1, len(parts)):
                        ancestor = Import(".".join(parts[:i]), line, in_function, True, via=target)
                        module.imports.append(ancestor)
    return modules


@cache
def reach(layer: str) -> frozenset[str]:
    """The layers a layer may depend on through any chain (itself and root included)."""
    seen = {layer, "root"}
    todo = [layer]
    while todo:
        for other in BY_NAME[todo.pop()].may_import:
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return frozenset(seen)


def allowed_external(layer: Layer, name: str) -> bool:
    """Whether a layer may import a top-level non-project module directly."""
    if name in STDLIB:
        return not (layer.pure and name in PURE_BANNED_STDLIB)
    return name in layer.third_party


def _exemption(module: str, layer: Layer, target: str) -> Exemption | None:
    return _exemption_of(module, layer.name, target)


@cache
def _exemption_of(module: str, layer: str, target: str) -> Exemption | None:
    """The exemption letting a module (or its layer) import a target (asked once per triple)."""
    for exemption in EXEMPTIONS:
        if exemption.importer in (module, layer) and exemption.imported == target:
            return exemption
    return None


def _direct(modules: dict[str, Module], root: Path) -> Iterator[Violation]:
    for module in modules.values():
        layer = layer_of(module.name)
        rel = module.path.relative_to(root).as_posix()
        if layer is None:
            yield Violation(
                "unassigned",
                module.name,
                module.name,
                rel,
                f"{module.name} belongs to no layer; add it to tests/arch/rules.py",
            )
            continue
        for imp in module.imports:
            if imp.via:
                continue
            where = f"{rel}:{imp.line}"
            exemption = _exemption(module.name, layer, imp.target)
            if exemption and (imp.in_function or not exemption.only_in_function):
                continue
            if exemption:
                yield Violation(
                    "import",
                    module.name,
                    imp.target,
                    where,
                    f"{module.name} imports {imp.target} at module level; it is allowed "
                    f"only inside a function",
                )
                continue
            if not imp.project:
                if not allowed_external(layer, imp.target):
                    what = "I/O or clock module" if imp.target in STDLIB else "library"
                    yield Violation(
                        "import",
                        module.name,
                        imp.target,
                        where,
                        f"{module.name} imports the {what} {imp.target}, which layer "
                        f"{layer.name} may not use",
                    )
                continue
            if imp.target not in modules:
                yield Violation(
                    "import",
                    module.name,
                    imp.target,
                    where,
                    f"{module.name} imports {imp.target}, which is no module of this tree",
                )
                continue
            other = layer_of(imp.target)
            if other is None or other.name in (layer.name, "root"):
                continue
            if other.name not in layer.may_import:
                yield Violation(
                    "import",
                    module.name,
                    imp.target,
                    where,
                    f"{module.name} imports {imp.target}: layer {layer.name} may import only "
                    f"{', '.join(layer.may_import) or 'itself'}, not {other.name}",
                )


def _chains(modules: dict[str, Module], root: Path) -> Iterator[Violation]:
    """What each module reaches through imports of imports, against what its layer may reach."""
    for module in modules.values():
        layer = layer_of(module.name)
        if layer is None:
            continue
        allowed_layers = reach(layer.name)
        allowed = [BY_NAME[name] for name in allowed_layers]
        parent: dict[str, str | None] = {module.name: None}
        reported: set[str] = set()
        queue = deque([module.name])
        while queue:
            current = queue.popleft()
            here = modules[current]
            here_layer = layer_of(current)
            for imp in here.imports:
                target = imp.target
                if target in parent:
                    continue
                exemption = here_layer and _exemption(current, here_layer, imp.via or target)
                if exemption and exemption.only_in_function:
                    continue  # a lazy import of the composition root: not part of the chain
                if imp.project:
                    if target not in modules:
                        continue  # reported by the direct check
                    other = layer_of(target)
                    parent[target] = current
                    if other is not None and other.name not in allowed_layers:
                        if other.name not in reported:  # the first chain into a layer says it
                            reported.add(other.name)
                            yield _reach(module, target, parent, root, layer, f"layer {other.name}")
                        continue
                    queue.append(target)
                else:
                    parent[target] = current
                    if current != module.name and not any(
                        allowed_external(a, target) for a in allowed
                    ):
                        yield _reach(module, target, parent, root, layer, target)


def _reach(
    module: Module, target: str, parent: dict[str, str | None], root: Path, layer: Layer, what: str
) -> Violation:
    chain = [target]
    while (step := parent[chain[-1]]) is not None:
        chain.append(step)
    chain.reverse()
    return Violation(
        "reach",
        module.name,
        target,
        module.path.relative_to(root).as_posix(),
        f"{module.name} (layer {layer.name}) reaches {what} through {' -> '.join(chain)}",
    )


class _Purity(ast.NodeVisitor):
    """Clock reads, random draws and I/O builtins in a pure module."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in PURE_BANNED_CALLS:
            self.found.append((node.lineno, f".{node.attr}"))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        names = PURE_BANNED_CALLS | PURE_BANNED_BUILTINS
        if isinstance(node.func, ast.Name) and node.func.id in names:
            self.found.append((node.lineno, f"{node.func.id}()"))
        self.generic_visit(node)


def _purity(modules: dict[str, Module], root: Path) -> Iterator[Violation]:
    for module in modules.values():
        layer = layer_of(module.name)
        if layer is None or not layer.pure:
            continue
        if id(module.tree) not in _PURITY:  # found once per parsed tree
            finder = _Purity()
            finder.visit(module.tree)
            _PURITY[id(module.tree)] = finder.found
        rel = module.path.relative_to(root).as_posix()
        for line, what in _PURITY[id(module.tree)]:
            yield Violation(
                "impure",
                module.name,
                what,
                f"{rel}:{line}",
                f"{module.name} uses {what}: the pure core reads no clock, draws no random "
                f"number and does no I/O",
            )


def _aliases(module: Module) -> dict[str, str]:
    """Local name -> the fully qualified project name it was imported as."""
    names: dict[str, str] = {}
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom):
            base = _from(module, node)
            for alias in node.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}"
    return names


def _qualified(node: ast.expr, aliases: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _qualified(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    return None


_FOLDS: dict[tuple[int, str], list[tuple[int, str]]] = {}


def _fold_calls(module: Module) -> list[tuple[int, str]]:
    """The calls in a module's tree that fold facts or evaluate a plan, found once per tree
    and module name (relative imports resolve by the name)."""
    key = (id(module.tree), module.name)
    if key not in _FOLDS:
        aliases = _aliases(module)
        found: list[tuple[int, str]] = []
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Call):
                continue
            name = _qualified(node.func, aliases)
            if name not in DOOR_BANNED_CALLS and not (
                isinstance(node.func, ast.Attribute) and node.func.attr in DOOR_BANNED_METHODS
            ):
                continue
            found.append((node.lineno, name or f".{node.func.attr}"))  # type: ignore[union-attr]
        _FOLDS[key] = found
    return _FOLDS[key]


def door_folds(root: Path) -> list[Violation]:
    """Every call in a door that folds facts or evaluates a plan instead of asking a service."""
    found: list[Violation] = []
    for module in load(root).values():
        layer = layer_of(module.name)
        if layer is None or not layer.door:
            continue
        rel = module.path.relative_to(root).as_posix()
        for line, what in _fold_calls(module):
            found.append(
                Violation(
                    "folds",
                    module.name,
                    what,
                    f"{rel}:{line}",
                    f"{module.name} calls {what}(...): a door asks a service, it never folds "
                    f"facts or evaluates a plan itself",
                )
            )
    return sorted(found, key=lambda v: v.where)


def check(root: Path) -> list[Violation]:
    """Every violation of the import rules in the tree under root."""
    modules = load(root)
    found = [*_direct(modules, root), *_chains(modules, root), *_purity(modules, root)]
    return sorted(set(found), key=lambda v: (v.kind, v.where, v.message))


def mermaid() -> str:
    """The layers and their allowed direct imports (tests/arch/rules.py) as a Mermaid flowchart."""
    lines = ["flowchart TD"]

    def node(layer: Layer, indent: str) -> str:
        kind = " (door)" if layer.door else ""
        return f'{indent}{layer.name}["{layer.name}{kind}<br/>{layer.folder}"]'

    shown = [layer for layer in LAYERS if layer.name != "root"]
    lines += [node(layer, "    ") for layer in shown if not layer.pure]
    lines.append('    subgraph pure["pure core: no I/O, no clock, no randomness"]')
    lines += [node(layer, "        ") for layer in shown if layer.pure]
    lines.append("    end")
    pure = {layer.name for layer in shown if layer.pure}
    for layer in shown:
        targets = list(layer.may_import)
        if layer.pure:  # the pure packages import each other: one two-way edge
            targets = [t for t in targets if t not in pure or t < layer.name]
            arrow = "<-->"
        elif pure <= set(targets):
            targets = [t for t in targets if t not in pure] + ["pure"]
            arrow = "-->"
        else:
            arrow = "-->"
        lines += [f"    {layer.name} {arrow} {other}" for other in targets]
    for exemption in EXEMPTIONS:
        if exemption.third_party:
            continue
        source = BY_NAME.get(exemption.importer) or layer_of(exemption.importer)
        target = layer_of(exemption.imported)
        assert source is not None and target is not None, exemption
        lazy = "lazy " if exemption.only_in_function else ""
        edge = f'    {source.name} -. "{lazy}{exemption.imported}" .-> {target.name}'
        if edge not in lines:
            lines.append(edge)
    return "\n".join(lines)


def exemptions_table() -> str:
    """Every exemption of the rules with its reason, as a Markdown table."""
    rows = ["| importer | may import | where | why |", "|---|---|---|---|"]
    for e in EXEMPTIONS:
        where = "inside a function" if e.only_in_function else "anywhere"
        rows.append(f"| `{e.importer}` | `{e.imported}` | {where} | {e.reason} |")
    return "\n".join(rows)


def _generated(text: str) -> dict[str, tuple[int, int, str]]:
    """Where the generated parts of docs/architecture.md are: name -> (start, end, content)."""
    parts = {}
    for name, opening, closing, render in (
        ("diagram", "```mermaid\n", "```", mermaid),
        ("exemptions", "<!-- exemptions -->\n", "<!-- /exemptions -->", exemptions_table),
    ):
        start = text.index(opening) + len(opening)
        parts[name] = (start, text.index(closing, start), render() + "\n")
    return parts


def stale_docs(text: str) -> list[str]:
    """The generated parts of docs/architecture.md that no longer match the rules."""
    return [name for name, (a, b, now) in _generated(text).items() if text[a:b] != now]


def redraw_docs(text: str) -> str:
    """docs/architecture.md with its generated parts drawn from the rules."""
    for _name, (start, end, content) in sorted(_generated(text).items(), key=lambda x: -x[1][0]):
        text = text[:start] + content + text[end:]
    return text


def main(argv: list[str]) -> int:
    """Print the violations of a tree (default: this repository), or the diagram."""
    repository = Path(__file__).resolve().parents[2]
    if argv[:1] == ["--mermaid"]:
        sys.stdout.write(mermaid() + "\n")
        return 0
    if argv[:1] == ["--docs"]:
        docs = repository / "docs" / "architecture.md"
        docs.write_text(redraw_docs(docs.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    root = Path(argv[0]) if argv else repository
    violations = check(root)
    for violation in violations:
        sys.stdout.write(f"{violation}\n")
    return 1 if violations else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
