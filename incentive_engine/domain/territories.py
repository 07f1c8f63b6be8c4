"""Territory management: designing territories as combinations of dimensions, and the
territory reports (pure: facts in, rows out).

A deal falls in the most specific territory whose definition, in force on its close date,
it matches; ties go to the smallest territory id (``Facts.territory_for``).
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from incentive_engine.domain.errors import Invalid
from incentive_engine.domain.events import (
    CompanySize,
    CustomerType,
    Ownership,
    Share,
    TerritoryCriteria,
    TerritoryDefined,
    TerritoryModelDefined,
)
from incentive_engine.domain.facts import DIMENSIONS, Deal, Definition, Facts, Territory
from incentive_engine.domain.facts import Ownership as Owners
from incentive_engine.domain.periods import Period

FIXED_VALUES: dict[str, tuple[str, ...]] = {
    "customer_type": tuple(v.value for v in CustomerType),
    "size": tuple(v.value for v in CompanySize),
    "ownership": tuple(v.value for v in Ownership),
}
"""Dimensions whose values the event catalogue fixes."""


class TerritoryDesignError(Invalid, ValueError):
    """A territory design that cannot be built (unknown dimension, no values...)."""


def _code(value: str) -> str:
    """An ASCII code for a dimension value: 'Hà Nội' -> 'HANOI', 'TP.HCM' -> 'TPHCM'."""
    folded = unicodedata.normalize("NFKD", value.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in folded if ch.isascii() and ch.isalnum()).upper() or "X"


def dimension_values(
    dimension: str, facts: Facts | None = None, day: date | None = None
) -> tuple[str, ...]:
    """The values a dimension can take: fixed ones, else the territory model's on the day."""
    if dimension in FIXED_VALUES:
        return FIXED_VALUES[dimension]
    if dimension not in DIMENSIONS:
        raise TerritoryDesignError(
            f"unknown dimension {dimension!r}; dimensions: {', '.join(DIMENSIONS)}"
        )
    model = facts.territory_model_on(day) if facts is not None and day is not None else None
    values = model.allowed(dimension) if model is not None else None
    if not values:
        raise TerritoryDesignError(
            f"no values for {dimension!r}: publish a TerritoryModelDefined that lists them, "
            f"or give them explicitly"
        )
    return values


def design(
    values: Mapping[str, Sequence[str]], *, effective_date: date, prefix: str = "T"
) -> list[TerritoryDefined]:
    """One territory per combination of the given dimension values (2 x 2 x 2 = 8, ...).

    Ids are built from ASCII codes of the values (``T-HANOI-BUSINESS-SME``); names join the
    values with ' · '.  Dimensions are taken in the engine's dimension order."""
    unknown = sorted(set(values) - set(DIMENSIONS))
    if unknown:
        raise TerritoryDesignError(
            f"unknown dimension(s) {', '.join(unknown)}; dimensions: {', '.join(DIMENSIONS)}"
        )
    dims = [d for d in DIMENSIONS if d in values]
    if not dims:
        raise TerritoryDesignError("a design needs at least one dimension")
    for d in dims:
        if not values[d]:
            raise TerritoryDesignError(f"dimension {d!r} has no values")
    found = []
    for combo in itertools.product(*(values[d] for d in dims)):
        criteria = dict(zip(dims, combo, strict=True))
        territory_id = "-".join([prefix, *(_code(v) for v in combo)])
        found.append(
            TerritoryDefined(
                event_id=f"territory:{territory_id}:{effective_date.isoformat()}",
                territory_id=territory_id,
                name=" · ".join(combo),
                criteria=TerritoryCriteria(**criteria),
                effective_date=effective_date,
            )
        )
    return found


# -------------------------------------------------------------------- reports


@dataclass(frozen=True)
class TerritoryRow:
    """One territory in a period: its definition, owners, customers and revenue."""

    territory_id: str
    name: str
    criteria: str
    owners: str
    reps: int
    active_customers: int
    prospects: int
    deals_won: int
    revenue: Decimal


def _criteria_text(criteria: TerritoryCriteria) -> str:
    parts = [f"{d}={getattr(criteria, d)}" for d in DIMENSIONS if getattr(criteria, d)]
    parts = [p.replace("CustomerType.", "").replace("CompanySize.", "") for p in parts]
    return ", ".join(parts) or "(everything)"


def _value(criteria: TerritoryCriteria, dimension: str) -> str | None:
    value = getattr(criteria, dimension)
    return None if value is None else getattr(value, "value", value)


def _placed(facts: Facts, deal: Deal) -> str | None:
    found = facts.territory_for(deal)
    return found[0].territory_id if found else None


def _is_open(deal: Deal, day: date) -> bool:
    """An opportunity created by the day and neither won nor lost by it."""
    created = deal.created
    if created is None or created.created_date > day:
        return False
    won = deal.won is not None and deal.won.close_date <= day
    lost = deal.lost is not None and deal.lost.lost_date <= day
    return not (won or lost)


@dataclass(frozen=True)
class InForce:
    """A territory as it stands on a day: its definition and its owners (if any)."""

    territory_id: str
    definition: Definition
    ownership: Owners | None

    @property
    def owners(self) -> tuple[Share, ...]:
        """The owners with their shares (none when unowned)."""
        return self.ownership.owners if self.ownership else ()

    def owners_text(self) -> str:
        """The owners as ``rep 60%, rep 40%``, or ``(none)``."""
        return ", ".join(f"{s.rep_id} {s.share}%" for s in self.owners) or "(none)"


def in_force(facts: Facts, day: date) -> list[InForce]:
    """The territories defined on a day, by id, with their definition and ownership then."""
    found = []
    for tid in sorted(facts.territories):
        territory = facts.territories[tid]
        definition = territory.definition_on(day)
        if definition is not None:
            found.append(InForce(tid, definition, territory.ownership_on(day)))
    return found


def territory_report(facts: Facts, period: Period) -> list[TerritoryRow]:
    """Per territory defined at the period's end: owners then, reps, active customers
    (won, non-cancelled deals in the period), prospects (opportunities open at the period's
    end), deals won and revenue in the period."""
    day = period.end
    customers: dict[str, set[str]] = {}
    deals_won: dict[str, int] = {}
    revenue: dict[str, Decimal] = {}
    for deal in facts.won_deals(period):
        tid = _placed(facts, deal)
        if tid is None or deal.cancellation is not None or deal.won is None:
            continue
        customers.setdefault(tid, set()).add(deal.won.customer.customer_id)
        deals_won[tid] = deals_won.get(tid, 0) + 1
        revenue[tid] = revenue.get(tid, Decimal(0)) + deal.amount
    prospects: dict[str, set[str]] = {}
    for deal in facts.deals.values():
        if deal.created is not None and _is_open(deal, day):
            tid = _placed(facts, deal)
            if tid is not None:
                prospects.setdefault(tid, set()).add(deal.created.customer.customer_id)
    rows = []
    for t in in_force(facts, day):
        tid = t.territory_id
        rows.append(
            TerritoryRow(
                territory_id=tid,
                name=t.definition.name,
                criteria=_criteria_text(t.definition.criteria),
                owners=t.owners_text(),
                reps=len(t.owners),
                active_customers=len(customers.get(tid, ())),
                prospects=len(prospects.get(tid, ())),
                deals_won=deals_won.get(tid, 0),
                revenue=revenue.get(tid, Decimal(0)),
            )
        )
    return rows


def unowned(facts: Facts, day: date) -> list[Territory]:
    """Territories defined on the day that nobody owns then."""
    return [
        facts.territories[tid]
        for tid in sorted(facts.territories)
        if facts.territories[tid].definition_on(day) is not None
        and facts.territories[tid].ownership_on(day) is None
    ]


@dataclass(frozen=True)
class UnassignedDeal:
    """A won deal nobody is credited for through territories, and why."""

    deal_id: str
    close_date: date
    amount: Decimal
    currency: str
    attributes: str
    reason: str
    named_rep: str | None


def unassigned(facts: Facts, period: Period) -> list[UnassignedDeal]:
    """Won deals closed in the period that fall in no territory, or in one without an owner
    on the close date (deals naming a rep are listed too: territory crediting would miss them)."""
    found = []
    for deal in facts.won_deals(period):
        won = deal.won
        assert won is not None
        placed = facts.territory_for(deal)
        if placed is None:
            reason = "matches no territory"
        elif placed[0].ownership_on(won.close_date) is None:
            reason = f"territory {placed[0].territory_id} has no owner on {won.close_date}"
        else:
            continue
        attributes = ", ".join(f"{k}={v}" for k, v in deal.attributes.items() if v is not None)
        found.append(
            UnassignedDeal(
                deal.deal_id,
                won.close_date,
                deal.amount,
                won.currency,
                attributes,
                reason,
                won.rep_id,
            )
        )
    return found


def coverage_gaps(facts: Facts, day: date) -> list[dict[str, str]]:
    """Combinations of values, over the dimensions territories use on the day, that no
    territory covers (values from the territory model, or seen in territory criteria)."""
    definitions = [d for t in facts.territories.values() if (d := t.definition_on(day)) is not None]
    dims = [d for d in DIMENSIONS if any(_value(x.criteria, d) for x in definitions)]
    if not dims:
        return []
    model: TerritoryModelDefined | None = facts.territory_model_on(day)
    choices = []
    for dim in dims:
        allowed = FIXED_VALUES.get(dim) or (model.allowed(dim) if model else None)
        seen = sorted({v for x in definitions if (v := _value(x.criteria, dim)) is not None})
        choices.append(tuple(allowed) if allowed else tuple(seen))
    gaps = []
    for combo in itertools.product(*choices):
        attributes = dict(zip(dims, combo, strict=True))
        if not any(x.matches(attributes) for x in definitions):  # type: ignore[arg-type]
            gaps.append(attributes)
    return gaps


# ------------------------------------------------------------ owners over time


@dataclass(frozen=True)
class OwnerStint:
    """Who owned a territory from one day to another (``end`` None: still today)."""

    start: date
    end: date | None
    owners: tuple[Share, ...]
    event_id: str

    def owners_text(self) -> str:
        """The owners as ``rep 60%, rep 40%``."""
        return ", ".join(f"{s.rep_id} {s.share}%" for s in self.owners)


@dataclass(frozen=True)
class Gap:
    """Days a territory had nobody to cover it: unowned, or no owner employed."""

    territory_id: str
    start: date
    end: date | None
    """The last day of the gap (None: still open on the day looked at)."""
    reason: str
    """``unowned`` (defined, no owner yet) or ``owner not employed`` (every owner gone)."""

    def days(self, until: date) -> int:
        """How many days the gap lasts (an open gap counts up to ``until``)."""
        return ((self.end or until) - self.start).days + 1


def owner_timeline(territory: Territory) -> list[OwnerStint]:
    """The territory's owners over time, oldest first: each ownership from its effective
    day to the day before the next one (a later ownership of the same day wins)."""
    found: list[OwnerStint] = []
    for ownership in territory.ownerships:
        if found and found[-1].start == ownership.effective:
            found.pop()  # replaced the same day: the later event wins (as ``ownership_on``)
        if found:
            last = found[-1]
            found[-1] = OwnerStint(
                last.start, _before(ownership.effective), last.owners, last.event_id
            )
        found.append(OwnerStint(ownership.effective, None, ownership.owners, ownership.event_id))
    return found


def _employed_spans(
    facts: Facts, owners: Sequence[Share], start: date, end: date
) -> list[tuple[date, date]]:
    """The days in [start, end] when at least one of the owners was employed, merged."""
    spans = []
    for share in owners:
        rep = facts.reps.get(share.rep_id)
        if rep is None:
            continue
        for first, last in rep.spells():
            lo, hi = max(first, start), min(last or end, end)
            if lo <= hi:
                spans.append((lo, hi))
    spans.sort()
    merged: list[tuple[date, date]] = []
    for lo, hi in spans:
        if merged and lo.toordinal() <= merged[-1][1].toordinal() + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def ownership_gaps(facts: Facts, territory: Territory, until: date) -> list[Gap]:
    """The days from the territory's first definition up to ``until`` when it had no owner,
    or when none of its owners was employed (hired later, or gone), oldest first."""
    first = territory.definitions[0].effective if territory.definitions else None
    if first is None or first > until:
        return []
    tid = territory.territory_id
    gaps: list[Gap] = []
    stints = [s for s in owner_timeline(territory) if s.start <= until]
    owned_from = stints[0].start if stints else None
    if owned_from is None or owned_from > first:
        end = None if owned_from is None else _before(owned_from)
        gaps.append(Gap(tid, first, end, "unowned"))
    for stint in stints:
        lo = max(stint.start, first)
        hi = min(stint.end or until, until)
        if lo > hi:
            continue
        cursor = lo
        for a, b in _employed_spans(facts, stint.owners, lo, hi):
            if a > cursor:
                gaps.append(Gap(tid, cursor, _before(a), "owner not employed"))
            cursor = _after(b)
        if cursor <= hi:
            open_end = stint.end is None or stint.end >= until
            gaps.append(Gap(tid, cursor, None if open_end else hi, "owner not employed"))
    return _merge(gaps)


def _before(day: date) -> date:
    return date.fromordinal(day.toordinal() - 1)


def _after(day: date) -> date:
    return date.fromordinal(day.toordinal() + 1)


def _merge(gaps: list[Gap]) -> list[Gap]:
    """Adjacent gaps of the same reason joined into one."""
    merged: list[Gap] = []
    for gap in gaps:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.reason == gap.reason
            and last.end is not None
            and _after(last.end) == gap.start
        ):
            merged[-1] = Gap(last.territory_id, last.start, gap.end, gap.reason)
        else:
            merged.append(gap)
    return merged


def deals_without_owner(facts: Facts, until: date | None = None) -> list[UnassignedDeal]:
    """Won, non-cancelled deals (closed by ``until``, if given) that fall in a territory
    with no owner on their close date, by close date then deal id."""
    found = []
    for deal in facts.deals.values():
        won = deal.won
        if won is None or deal.cancellation is not None:
            continue
        if until is not None and won.close_date > until:
            continue
        placed = facts.territory_for(deal)
        if placed is None or placed[0].ownership_on(won.close_date) is not None:
            continue
        attributes = ", ".join(f"{k}={v}" for k, v in deal.attributes.items() if v is not None)
        found.append(
            UnassignedDeal(
                deal.deal_id,
                won.close_date,
                deal.amount,
                won.currency,
                attributes,
                f"territory {placed[0].territory_id} has no owner on {won.close_date}",
                won.rep_id,
            )
        )
    found.sort(key=lambda d: (d.close_date, d.deal_id))
    return found


def criteria_values(criteria: TerritoryCriteria) -> dict[str, str]:
    """The dimensions a territory constrains and their values (plain text)."""
    return {d: v for d in DIMENSIONS if (v := _value(criteria, d)) is not None}


def matches_filter(criteria: TerritoryCriteria, wanted: Mapping[str, str]) -> bool:
    """Whether a territory's criteria carry every wanted dimension value (a dimension the
    territory leaves open matches no wanted value of it)."""
    values = criteria_values(criteria)
    return all(values.get(d) == v for d, v in wanted.items())
