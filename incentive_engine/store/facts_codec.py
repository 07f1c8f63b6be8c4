"""Facts as plain JSON sections and back, for snapshots (no pickle: only declared types).

Each field of ``Facts`` is one section, encoded as JSON by a pydantic ``TypeAdapter`` of its
declared type (dataclasses, named tuples, tuples, enums, dates, ``Decimal`` as text, events
as their fields) and decoded by the same adapter, which builds only those declared types and
runs every event's validators again.  Dicts keep their insertion order; dicts keyed by tuples
are stored as lists of ``[key, value]`` pairs.

Decoding a section gives objects equal to those a fold from zero builds (the property test in
``tests/integration/test_snapshots.py`` compares the two), except that an event's
``model_fields_set`` names every field rather than those the stored JSON named (nothing
reads it).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from pydantic import TypeAdapter

from incentive_engine.domain.events import (
    ManualAdjustment,
    PeriodClosed,
    PlanVersionPublished,
    QuotaSubject,
    TerritoryModelDefined,
)
from incentive_engine.domain.facts import (
    LAZY_FIELDS,
    Activity,
    Deal,
    Facts,
    Lead,
    QuotaEntry,
    Rep,
    Territory,
)

_TYPES: dict[str, Any] = {
    "reps": dict[str, Rep],
    "territories": dict[str, Territory],
    "deals": dict[str, Deal],
    "quotas": list[tuple[tuple[QuotaSubject, str, str], list[QuotaEntry]]],
    "activities": dict[str, list[Activity]],
    "leads": dict[str, Lead],
    "plan_versions": dict[str, dict[int, PlanVersionPublished]],
    "closed_periods": dict[str, PeriodClosed],
    "territory_models": list[TerritoryModelDefined],
    "manual_adjustments": list[tuple[tuple[str, str], list[ManualAdjustment]]],
    "recorded": dict[str, str],
    "fx_rates": list[tuple[tuple[str, str], list[tuple[date, str, Decimal]]]],
}
_PAIRED = frozenset({"quotas", "manual_adjustments", "fx_rates"})
"""Sections whose dict is keyed by tuples (stored as [key, value] pairs)."""

SECTIONS: tuple[str, ...] = tuple(_TYPES)
"""Every section, in the order they are written."""
EAGER_SECTIONS: tuple[str, ...] = tuple(n for n in SECTIONS if n not in LAZY_FIELDS)
"""The sections decoded when a snapshot is loaded (the others on first use)."""

_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _adapter(name: str) -> TypeAdapter[Any]:
    """The section's adapter, built on first use (building one costs milliseconds)."""
    found = _ADAPTERS.get(name)
    if found is None:
        found = _ADAPTERS[name] = TypeAdapter(_TYPES[name])
    return found


def encode_section(facts: Facts, name: str) -> bytes:
    """One field of the facts as JSON bytes."""
    value = getattr(facts, name)
    if name in _PAIRED:
        value = list(value.items())
    return _adapter(name).dump_json(value)


def decode_section(name: str, data: bytes) -> Any:
    """A field of the facts rebuilt from its JSON bytes (validated against its type)."""
    value = _adapter(name).validate_json(data)
    return dict(value) if name in _PAIRED else value


def encode_facts(facts: Facts) -> dict[str, bytes]:
    """Every section of the facts, in ``SECTIONS`` order."""
    return {name: encode_section(facts, name) for name in SECTIONS}


def facts_from_sections(sections: dict[str, bytes], event_count: int) -> Facts:
    """Facts rebuilt from the sections given (each must be one of ``SECTIONS``); a lazy
    section left out must be supplied with ``Facts.defer`` by the caller."""
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown snapshot sections: {sorted(unknown)}")
    facts = Facts(event_count=event_count)
    for name, data in sections.items():
        setattr(facts, name, decode_section(name, data))
    return facts


def canonical_dump(facts: Facts) -> bytes:
    """Every field of the facts as one canonical JSON document (sections keyed by name), to
    compare two sets of facts byte for byte."""
    return orjson.dumps(
        {
            "event_count": facts.event_count,
            **{name: orjson.Fragment(encode_section(facts, name)) for name in SECTIONS},
        }
    )
