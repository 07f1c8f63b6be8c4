"""What changed between two plan documents, field by field (pure: no I/O).

Plan-level fields are compared first, in a fixed order; then components, matched by their
``id``, in the order of the newer plan; then the components the newer plan removed.  Paths
use the document's own names (``components.commission.tiers.1.rate``,
``clawback.window_days``); numbers are compared by value, so ``2`` and ``2.0`` are equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from plans.model import Plan

ChangeKind = Literal["added", "removed", "changed"]

PLAN_FIELDS: tuple[str, ...] = (
    "name",
    "effective_from",
    "effective_to",
    "currency",
    "period",
    "covers",
    "crediting",
    "prorate_quota",
    "clawback",
    "earn_on",
)
"""The plan-level fields compared, in the order their changes are listed."""


@dataclass(frozen=True)
class Change:
    """One difference: where, what kind, and the value before and after (as text)."""

    where: str
    kind: ChangeKind
    before: str | None
    after: str | None

    def as_dict(self) -> dict[str, str | None]:
        """The change as a JSON-ready dict."""
        return {"where": self.where, "kind": self.kind, "before": self.before, "after": self.after}


_ABSENT: Any = object()


def diff_plans(a: Plan, b: Plan) -> list[Change]:
    """The changes that turn plan ``a`` into plan ``b``, in a deterministic order."""
    old, new = _dump(a), _dump(b)
    changes: list[Change] = []
    for name in PLAN_FIELDS:
        _compare(name, old.get(name, _ABSENT), new.get(name, _ABSENT), changes)
    old_parts = {c["id"]: c for c in old["components"]}
    new_parts = {c["id"]: c for c in new["components"]}
    for cid, part in new_parts.items():
        _compare(f"components.{cid}", old_parts.get(cid, _ABSENT), part, changes)
    for cid, part in old_parts.items():
        if cid not in new_parts:
            changes.append(Change(f"components.{cid}", "removed", render(part), None))
    return changes


def _dump(plan: Plan) -> dict[str, Any]:
    """The plan as Python values (Decimals, dates, enums) under the document's field names."""
    data: dict[str, Any] = plan.model_dump(mode="python", by_alias=True, exclude_none=True)
    return data


def _compare(where: str, before: Any, after: Any, out: list[Change]) -> None:
    """Append the changes between two values at a path (recursing into mappings and lists
    of mappings; scalars and lists of scalars are compared whole)."""
    if before is _ABSENT and after is _ABSENT:
        return
    if before is _ABSENT:
        out.append(Change(where, "added", None, render(after)))
        return
    if after is _ABSENT:
        out.append(Change(where, "removed", render(before), None))
        return
    if isinstance(before, dict) and isinstance(after, dict):
        keys = list(after) + [k for k in before if k not in after]
        for key in keys:
            _compare(f"{where}.{key}", before.get(key, _ABSENT), after.get(key, _ABSENT), out)
        return
    if _is_records(before) and _is_records(after) and (before or after):
        for i in range(max(len(before), len(after))):
            _compare(
                f"{where}.{i}",
                before[i] if i < len(before) else _ABSENT,
                after[i] if i < len(after) else _ABSENT,
                out,
            )
        return
    if not same(before, after):
        out.append(Change(where, "changed", render(before), render(after)))


def _is_records(value: Any) -> bool:
    """A list or tuple whose items are all mappings (tiers, bands, filters), or empty."""
    return isinstance(value, list | tuple) and all(isinstance(v, dict) for v in value)


def _number(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def same(a: Any, b: Any) -> bool:
    """Whether two document values are equal: numbers by value, everything else by type
    and value (so ``true`` never equals ``1``)."""
    if _number(a) and _number(b):
        return bool(Decimal(a) == Decimal(b))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, Enum) or isinstance(b, Enum):
        return _scalar(a) == _scalar(b)
    return type(a) is type(b) and bool(a == b)


def _scalar(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def render(value: Any) -> str:
    """A document value as short text: numbers plainly (``400000000``, ``2.5``), booleans
    as ``true``/``false``, dates in ISO, mappings and lists in YAML flow style."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render(v) for v in value) + "]"
    return str(value)
