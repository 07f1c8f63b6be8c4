"""Facts as plain JSON sections and back, for snapshots (no pickle: only declared types).

Each field of ``Facts`` is one section, encoded as JSON by a pydantic ``TypeAdapter`` of its
declared type (dataclasses, named tuples, tuples, enums, dates, ``Decimal`` as text, events
as their fields) and decoded by the same adapter, which builds only those declared types and
runs every event's validators again.  Dicts keep their insertion order; dicts keyed by tuples
are stored as lists of ``[key, value]`` pairs.

Activities are each rep's ``ActivityLog`` as columns (``ActivityLog.columns``): microseconds,
event ids, kinds, and customer and deal numbers into the log's names.

Deals are two sections: ``deals`` (the id, the win, amendments and cancellation: what pay
reads) and ``deal_pipeline`` (the opportunity, its stages and the loss: what only pipeline
KPIs read), which a snapshot may supply per deal on first use (``Deal.defer_pipeline``).

Decoded events, dates and ids of deals and leads share equal values (``domain.sharing``), as
the fold's do.

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

from incentive_engine.domain.activity_log import ActivityLog, Columns
from incentive_engine.domain.events import (
    AdjustmentApproved,
    AdjustmentProposed,
    AdjustmentRejected,
    DealCancelled,
    DealLost,
    DealWon,
    InvoiceCancelled,
    InvoiceIssued,
    ManualAdjustment,
    OpportunityCreated,
    PaymentReceived,
    PaymentRefunded,
    PeriodClosed,
    PlanAccepted,
    PlanVersionPublished,
    QuotaSubject,
    Stage,
    TerritoryModelDefined,
)
from incentive_engine.domain.facts import (
    LAZY_FIELDS,
    PIPELINE_FIELDS,
    Amendment,
    Deal,
    Facts,
    Lead,
    QuotaEntry,
    Rep,
    Territory,
)
from incentive_engine.domain.isolation import Quarantined, Voided
from incentive_engine.domain.sharing import Sharing

_DealPay = tuple[DealWon | None, list[Amendment], DealCancelled | None]
"""The parts of a deal that pay reads: the win, amendments, cancellation."""

Pipeline = tuple[OpportunityCreated | None, list[tuple[date, str, Stage]], DealLost | None]
"""A deal's pipeline parts: ``PIPELINE_FIELDS`` in order."""

_TYPES: dict[str, Any] = {
    "reps": dict[str, Rep],
    "territories": dict[str, Territory],
    "deals": dict[str, _DealPay],
    "deal_pipeline": dict[str, Pipeline],
    "quotas": list[tuple[tuple[QuotaSubject, str, str], list[QuotaEntry]]],
    "activities": dict[str, Columns],
    "leads": dict[str, Lead],
    "plan_versions": dict[str, dict[int, PlanVersionPublished]],
    "closed_periods": dict[str, PeriodClosed],
    "acceptances": dict[str, dict[int, dict[str, PlanAccepted]]],
    "territory_models": list[TerritoryModelDefined],
    "manual_adjustments": list[tuple[tuple[str, str], list[ManualAdjustment]]],
    "adjustment_proposals": dict[str, AdjustmentProposed],
    "adjustment_decisions": dict[str, list[AdjustmentApproved | AdjustmentRejected]],
    "recorded": dict[str, str],
    "fx_rates": list[tuple[tuple[str, str], list[tuple[date, str, Decimal]]]],
    "invoices": dict[str, InvoiceIssued],
    "invoice_cancellations": dict[str, InvoiceCancelled],
    "payments": dict[str, PaymentReceived],
    "refunds": dict[str, PaymentRefunded],
    "quarantined": dict[str, Quarantined],
    "voided": dict[str, Voided],
}
_PAIRED = frozenset({"quotas", "manual_adjustments", "fx_rates"})
"""Sections whose dict is keyed by tuples (stored as [key, value] pairs)."""

SECTIONS: tuple[str, ...] = tuple(_TYPES)
"""Every section, in the order they are written."""
LAZY_SECTIONS: tuple[str, ...] = (*LAZY_FIELDS, "deal_pipeline")
"""The sections a snapshot may supply on first use."""
EAGER_SECTIONS: tuple[str, ...] = tuple(n for n in SECTIONS if n not in LAZY_SECTIONS)
"""The sections decoded when a snapshot is loaded."""

_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _adapter(name: str) -> TypeAdapter[Any]:
    """The section's adapter, built on first use (building one costs milliseconds)."""
    found = _ADAPTERS.get(name)
    if found is None:
        found = _ADAPTERS[name] = TypeAdapter(_TYPES[name])
    return found


def encode_section(facts: Facts, name: str) -> bytes:
    """One field of the facts (or part of ``deals``) as JSON bytes."""
    value: Any
    if name == "deals":
        value = {i: (d.won, d.amendments, d.cancellation) for i, d in facts.deals.items()}
    elif name == "deal_pipeline":
        value = {i: (d.created, d.stages, d.lost) for i, d in facts.deals.items()}
    elif name == "activities":
        value = {rep_id: log.columns() for rep_id, log in facts.activities.items()}
    else:
        value = getattr(facts, name)
    if name in _PAIRED:
        value = list(value.items())
    return _adapter(name).dump_json(value)


def decode_section(name: str, data: bytes) -> Any:
    """A field of the facts rebuilt from its JSON bytes (validated against its type): for
    ``deals``, deals without their pipeline parts (see ``fill_pipeline``)."""
    value = _adapter(name).validate_json(data)
    if name == "deals":
        new, held = Deal.__new__, Sharing().event
        deals: dict[str, Deal] = {}
        for deal_id, (won, amendments, cancellation) in value.items():
            deal = deals[deal_id] = new(Deal)
            deal.__dict__.update(
                deal_id=deal_id,
                won=won and held(won),
                amendments=amendments,
                cancellation=cancellation and held(cancellation),
            )
        return deals
    if name == "deal_pipeline":
        sharing = Sharing()
        held, share = sharing.event, sharing.value
        return {
            deal_id: (
                created and held(created),
                [(share(day), event_id, stage) for day, event_id, stage in stages],
                lost and held(lost),
            )
            for deal_id, (created, stages, lost) in value.items()
        }
    if name == "leads":
        share = Sharing().value
        for lead in value.values():
            lead.created_date = lead.created_date and share(lead.created_date)
            lead.qualified_date = lead.qualified_date and share(lead.qualified_date)
            lead.rep_id = lead.rep_id and share(lead.rep_id)
    if name == "activities":
        names = Sharing().value
        return {rep_id: ActivityLog.from_columns(rep_id, c, names) for rep_id, c in value.items()}
    return dict(value) if name in _PAIRED else value


def fill_pipeline(deal: Deal, pipeline: dict[str, Pipeline]) -> None:
    """Set a deal's pipeline parts still missing from a decoded ``deal_pipeline`` section
    (shared between copies of the facts: lists are copied, events are immutable)."""
    parts = pipeline.get(deal.deal_id, (None, [], None))
    for name, value in zip(PIPELINE_FIELDS, parts, strict=True):
        if name not in deal.__dict__:
            deal.__dict__[name] = list(value) if isinstance(value, list) else value
    deal.__dict__.pop("_load_pipeline", None)


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
        if name != "deal_pipeline":
            setattr(facts, name, decode_section(name, data))
    if "deal_pipeline" in sections:
        pipeline = decode_section("deal_pipeline", sections["deal_pipeline"])
        for deal in facts.deals.values():
            fill_pipeline(deal, pipeline)
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
