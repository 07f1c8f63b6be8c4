"""Where a problem of a plan document sits in its YAML text: the line of the field a
validation path names (``components.0.tiers.1.rate``), for an editor that shows problems
beside the text (pure: parses the text it is given, nothing else)."""

from __future__ import annotations

import re

import yaml

_SYNTAX = re.compile(r"^line (\d+), column \d+$")


def line_of(text: str, path: str) -> int | None:
    """The 1-based line of the field at ``path`` in the YAML text, or of its deepest part
    written there (a missing field points at the mapping that lacks it); a syntax problem's
    ``line N, column M`` gives N; None when the text does not place it."""
    syntax = _SYNTAX.match(path)
    if syntax:
        return int(syntax.group(1))
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    if node is None or path in ("", "(document)"):
        return None
    line: int | None = None
    for part in path.split("."):
        if isinstance(node, yaml.MappingNode):
            found = next((kv for kv in node.value if _scalar(kv[0]) == part), None)
            if found is None:
                break
            line = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _scalar(node: yaml.Node) -> str | None:
    """A mapping key's text (None for a key that is not a scalar)."""
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None
