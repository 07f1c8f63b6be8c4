"""Plan documents as text: YAML (numbers read as exact Decimals) in, validated plans out.

Errors name the file, the path to the offending field (``components.0.tiers.1.rate``) and
the reason.  A published version pairs the plan with its content hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, get_args

import yaml
from pydantic import ValidationError

from incentive_engine.domain.errors import Invalid
from incentive_engine.domain.events import PlanVersionPublished, content_hash
from incentive_engine.domain.limits import (
    MAX_DEPTH,
    STORED,
    LimitError,
    check_structure,
    explain,
)
from plans.model import AnyComponent, Plan


class PlanError(Invalid, ValueError):
    """A plan document that cannot be used, with every problem as (path, reason)."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {path}: {reason}" for path, reason in problems]
        super().__init__("\n".join(lines))


class _DecimalLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """A safe YAML loader (libyaml's when installed: parsing is several times faster) that
    reads every number as an exact Decimal (never a float)."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = loader.construct_scalar(node).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:  # .inf, .nan
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a finite number", node.start_mark
        ) from None


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


MAX_EXPANDED = 100_000
"""The most values a YAML document may expand to through its aliases (``*name``) beyond one
per character of its text: a few lines of nested aliases otherwise expand to billions of
values (a "billion laughs"), which validation would walk for hours."""


def _expanded_size(value: Any, limit: int) -> int:
    """How many values the document holds once its aliases are expanded (counting stops
    past ``limit``; a document that contains itself counts as past it)."""
    sizes: dict[int, int] = {}

    def size(item: Any, depth: int) -> int:
        if isinstance(item, dict):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            return 1
        key = id(item)
        if key in sizes:
            return sizes[key]
        if depth > MAX_DEPTH:  # refused for its depth by check_structure
            return 1
        sizes[key] = limit + 1  # while counting: a document that contains itself
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > limit:
                break
        sizes[key] = total
        return total

    return size(value, 0)


def parse_yaml(text: str, source: str = "<plan>") -> Any:
    """Parse YAML text with exact decimal numbers; syntax errors, and aliases that expand
    the document past ``MAX_EXPANDED`` values more than its length, become PlanError."""
    try:
        value = yaml.load(text, Loader=_DecimalLoader)
    except RecursionError:
        reason = f"nested too deeply (more than {MAX_DEPTH} levels)"
        raise PlanError(source, [("(document)", reason)]) from None
    except ValueError as exc:  # an integer too long to convert
        raise PlanError(source, [("(document)", str(exc))]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(document)"
        raise PlanError(source, [(where, str(getattr(exc, "problem", None) or exc))]) from None
    limit = MAX_EXPANDED + len(text)
    if _expanded_size(value, limit) > limit:
        reason = f"expands to more than {limit} values through its YAML aliases (*name)"
        raise PlanError(source, [("(document)", reason)])
    return value


def plan_from_data(
    data: Any, source: str = "<plan>", *, context: dict[str, Any] | None = None
) -> Plan:
    """Validate a parsed document into a Plan, or raise PlanError with every problem.

    ``context`` is the validation context: a door's date window (``limits.door_context``),
    or ``limits.STORED`` for a document read back from the log (default: the default
    window)."""
    if not isinstance(data, dict):
        raise PlanError(source, [("(document)", "a plan document must be a mapping")])
    try:
        check_structure(data)
    except LimitError as exc:
        raise PlanError(source, [(exc.field, exc.reason)]) from None
    try:
        return Plan.model_validate(data, context=context)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        locs = [_without_tag(err["loc"]) for err in errors]
        problems = []
        for loc, err in zip(locs, errors, strict=True):
            if any(other[: len(loc)] == loc and len(other) > len(loc) for other in locs):
                continue  # a parent's echo of its children's errors
            path = ".".join(str(p) for p in loc) or "(document)"
            reason = "unknown field" if err["type"] == "extra_forbidden" else explain(err)
            problems.append((path, reason))
        raise PlanError(source, problems) from None


_KINDS = {kind.model_fields["kind"].default for kind in get_args(get_args(AnyComponent)[0])}
"""Every component kind's name (the tag pydantic puts in an error's path)."""


def _without_tag(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the component kind pydantic puts after ``components.N`` (it is not a field)."""
    if len(loc) > 2 and loc[0] == "components" and isinstance(loc[1], int) and loc[2] in _KINDS:
        return (*loc[:2], *loc[3:])
    return tuple(loc)


def load_plan(text: str, source: str = "<plan>") -> Plan:
    """A validated plan from YAML (or JSON) text."""
    return plan_from_data(parse_yaml(text, source), source)


@dataclass(frozen=True)
class PlanVersion:
    """A published plan version: the plan, its content hash and the publishing event's id."""

    plan: Plan
    content_hash: str
    event_id: str

    @property
    def key(self) -> tuple[str, int]:
        """(plan id, version)."""
        return (self.plan.plan_id, self.plan.version)

    @classmethod
    def from_event(cls, event: PlanVersionPublished) -> PlanVersion:
        """The version a PlanVersionPublished event carries."""
        plan = plan_from_data(event.document, f"{event.plan_id} v{event.version}", context=STORED)
        return cls(plan, event.content_hash, event.event_id)

    @classmethod
    def draft(cls, plan: Plan) -> PlanVersion:
        """An unpublished plan evaluated as if published (for simulations and tests)."""
        return cls(plan, content_hash(plan.document()), f"draft:{plan.plan_id}:{plan.version}")


def publication(
    plan: Plan, *, published_by: str | None = None, reason: str | None = None
) -> PlanVersionPublished:
    """The event that publishes a plan version (its id is derived from plan id and version),
    with who published it and why (an empty reason is left out)."""
    document = plan.document()
    return PlanVersionPublished(
        event_id=f"plan:{plan.plan_id}:v{plan.version}",
        plan_id=plan.plan_id,
        version=plan.version,
        effective_from=plan.effective_from,
        effective_to=plan.effective_to,
        document=document,
        content_hash=content_hash(document),
        published_by=published_by,
        reason=(reason.strip() or None) if reason else None,
    )


# ------------------------------------------------------------------ as text


class _Dumper(yaml.SafeDumper):
    """A YAML dumper writing Decimals as plain numbers (read back exactly by load_plan)."""


_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    """A Decimal as written in the document (``2``, ``2.50``); as quoted text in the rare
    case YAML would not read that spelling back as a number (``1E+2``)."""
    text = str(value)
    tag = dumper.resolve(yaml.ScalarNode, text, (True, False))
    if tag in _NUMBER_TAGS:
        return dumper.represent_scalar(tag, text)
    return dumper.represent_str(text)


_Dumper.add_representer(Decimal, _represent_decimal)


def _plain(value: Any) -> Any:
    """Enums as their values and tuples as lists, for the YAML dumper."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _without_empty(value: Any) -> Any:
    """A document without its empty lists and mappings (their defaults: no filter, no
    badges...), so that the YAML shows what the plan says."""
    if isinstance(value, dict):
        return {k: _without_empty(v) for k, v in value.items() if v != [] and v != {}}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


def plan_yaml(plan: Plan) -> str:
    """The plan document as YAML with exact numbers (it loads back to the same document),
    without the empty lists and mappings that are its defaults."""
    data = _without_empty(_plain(plan.model_dump(mode="python", by_alias=True, exclude_none=True)))
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    return text
