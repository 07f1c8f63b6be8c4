"""Handler tables that cannot forget a kind: checked against the kinds they must cover."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class MissingHandlerError(LookupError):
    """A kind (component, event type, badge, metric...) has no handler, or a handler has no
    kind: raised when the table is built, so a forgotten case never silently does nothing."""


def check_handlers(table: Mapping[Any, object], kinds: Iterable[Any], what: str) -> None:
    """Raise MissingHandlerError unless the table has exactly one entry per kind."""
    expected = set(kinds)
    missing = sorted(map(str, expected - set(table)))
    extra = sorted(map(str, set(table) - expected))
    problems = [f"no handler for {', '.join(missing)}"] if missing else []
    problems += [f"handlers for unknown kinds {', '.join(extra)}"] if extra else []
    if problems:
        raise MissingHandlerError(f"{what}: {'; '.join(problems)}")
