"""What if I close this deal? The real evaluator on the real facts plus one hypothetical won
deal (pure: the facts given are never changed, nothing is stored).

The hypothetical deal is a ``DealWon`` built and validated by the event model itself and
folded by the fold's own handler onto an overlay of the facts: a shallow copy sharing every
fact but the deals map (and the one deal the event touches, when it wins an open
opportunity), so that an estimate costs a dict copy, not a deep copy of the facts.  The
rep's statements of the period the close date falls in are evaluated before and after, and
their lines are paired to show what each line gains.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from incentive_engine.domain import limits
from incentive_engine.domain.errors import Conflict, Invalid
from incentive_engine.domain.events import Customer, DealWon
from incentive_engine.domain.facts import Deal, Facts
from incentive_engine.domain.money import MINOR_UNITS, minor_units
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.evaluate import EvaluationError, Line, PlanBook, Statement, evaluate
from plans.model import Condition, DealField

ZERO = Decimal(0)
HYPOTHETICAL = "what-if"
"""The id of a hypothetical deal with no opportunity behind it (and the prefix of the
hypothetical event's id): no source assigns it, and nothing with it is ever stored."""


class EstimateInvalid(Invalid, ValueError):
    """The hypothetical deal is not a deal the engine would accept (``field`` names why)."""


class EstimateRefused(Conflict, ValueError):
    """The estimate cannot be made on these facts (no plan covers the rep on the close date,
    the period is closed, the statement cannot be computed)."""


# ------------------------------------------------------------------ the deal


@dataclass(frozen=True)
class DealInput:
    """The deal a rep imagines: amount, currency, close date, product group, customer, and
    the open opportunity it wins (None: a deal with no opportunity behind it)."""

    amount: Decimal
    currency: str
    close_date: date
    product_group: str
    customer: Mapping[str, Any]
    opportunity_id: str | None = None


FIELD_NAMES = {
    "amount": "amount",
    "currency": "currency",
    "close_date": "close_date",
    "product_group": "product_group",
    "deal_id": "opportunity_id",
    "customer": "customer",
}
"""The input field each field of the event comes from (customer.x stays customer.x)."""


def check_amount(amount: Decimal, currency: str) -> None:
    """An amount above zero, with no more decimals than the currency's minor units and no
    more digits than any stored amount may have (``limits``)."""
    if currency not in MINOR_UNITS:
        known = ", ".join(sorted(MINOR_UNITS))
        raise EstimateInvalid(
            f"unknown currency {currency!r}; known currencies: {known}", field="currency"
        )
    if not amount.is_finite() or amount <= 0:
        raise EstimateInvalid("the amount must be a number above zero", field="amount")
    places = minor_units(currency)
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > places:
        raise EstimateInvalid(
            f"{currency} amounts have at most {places} decimal places", field="amount"
        )
    if amount.adjusted() + 1 > limits.AMOUNT_INTEGER_DIGITS:
        raise EstimateInvalid(
            f"the amount has more than {limits.AMOUNT_INTEGER_DIGITS} digits", field="amount"
        )


def hypothetical_deal(
    rep_id: str, deal: DealInput, *, window: limits.DateWindow = limits.DEFAULT_WINDOW
) -> DealWon:
    """The ``DealWon`` of the imagined deal credited to the rep, validated by the event model
    as any door's input is (an ``EstimateInvalid`` naming the field otherwise)."""
    check_amount(deal.amount, deal.currency)
    deal_id = deal.opportunity_id or HYPOTHETICAL
    data = {
        "event_id": f"{HYPOTHETICAL}:{deal_id}"[: limits.ID_MAX_LENGTH],
        "deal_id": deal_id,
        "rep_id": rep_id,
        "amount": deal.amount,
        "currency": deal.currency,
        "close_date": deal.close_date,
        "product_group": deal.product_group,
        "customer": dict(deal.customer),
    }
    try:
        return DealWon.model_validate(data, context=limits.door_context(window))
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(p) for p in error["loc"]]
        name = FIELD_NAMES.get(loc[0], loc[0]) if loc else "deal"
        if loc and loc[0] == "customer" and len(loc) > 1:
            name = f"customer.{loc[1]}"
        raise EstimateInvalid(f"{name}: {limits.explain(error)}", field=name) from None


def with_deal(facts: Facts, event: DealWon) -> Facts:
    """The facts plus one won deal, folded by the fold's own handler onto an overlay: the
    facts given are left exactly as they were (the overlay shares every fact but the deals
    map and the deal the event touches)."""
    overlay = object.__new__(Facts)
    overlay.__dict__.update(facts.__dict__)
    overlay.__dict__.update(
        deals=dict(facts.deals),
        _cache={},
        _deferred=dict(facts._deferred),
        _pending=list(facts._pending),
    )
    known = facts.deals.get(event.deal_id)
    if known is not None:
        overlay.deals[event.deal_id] = copy.copy(known)
    overlay.apply(event)
    return overlay


# ------------------------------------------------------------ the vocabulary


@dataclass(frozen=True)
class Vocabulary:
    """The values the deal's free-text dimensions take: the territory model's (when it
    names some), the plans' filters' and those of the deals the engine knows."""

    product_groups: tuple[str, ...]
    regions: tuple[str, ...]
    industries: tuple[str, ...]


def _filter_values(conditions: Iterable[Condition], wanted: DealField) -> set[str]:
    found: set[str] = set()
    for c in conditions:
        if c.field is wanted:
            if isinstance(c.value, str):
                found.add(c.value)
            elif isinstance(c.value, list):
                found.update(c.value)
    return found


def vocabulary(facts: Facts, versions: Sequence[PlanVersion], day: date) -> Vocabulary:
    """The product groups, regions and industries a deal closed on the day may name."""
    groups: set[str] = set()
    regions: set[str] = set()
    industries: set[str] = set()
    model = facts.territory_model_on(day)
    if model is not None:
        groups.update(model.product_groups)
        regions.update(model.regions)
        industries.update(model.industries)
    for v in versions:
        for comp in v.plan.components:
            conditions = getattr(comp, "filter", None) or ()
            groups |= _filter_values(conditions, DealField.PRODUCT_GROUP)
            regions |= _filter_values(conditions, DealField.REGION)
            industries |= _filter_values(conditions, DealField.INDUSTRY)
    for deal in facts.deals.values():
        if deal.won is not None:
            groups.add(deal.won.product_group)
            regions.add(deal.won.customer.region)
            industries.add(deal.won.customer.industry)
    return Vocabulary(tuple(sorted(groups)), tuple(sorted(regions)), tuple(sorted(industries)))


def check_vocabulary(deal: DealWon, words: Vocabulary) -> None:
    """An ``EstimateInvalid`` for a product group, region or industry outside the vocabulary
    (a vocabulary the engine knows nothing of accepts any value)."""
    for name, value, allowed in (
        ("product_group", deal.product_group, words.product_groups),
        ("customer.region", deal.customer.region, words.regions),
        ("customer.industry", deal.customer.industry, words.industries),
    ):
        if allowed and value not in allowed:
            raise EstimateInvalid(
                f"{name}: {value!r} is not one the engine knows (known: {', '.join(allowed)})",
                field=name,
            )


# ---------------------------------------------------------- the opportunities


@dataclass(frozen=True)
class Opportunity:
    """An open opportunity of the rep (created, neither won nor lost)."""

    deal_id: str
    amount: Decimal
    currency: str
    product_group: str
    customer: Customer
    created_date: date
    expected_close_date: date | None
    stage: str


def open_opportunities(facts: Facts, rep_id: str) -> list[Opportunity]:
    """The rep's open opportunities, by expected close date then id."""
    found = []
    for deal in facts.deals.values():
        if deal.won is not None or deal.cancellation is not None:
            continue  # read before the pipeline parts, which a snapshot may load lazily
        created = deal.created
        if created is None or created.rep_id != rep_id or not is_open(deal):
            continue
        stage = deal.stages[-1][2] if deal.stages else created.stage
        found.append(
            Opportunity(
                deal.deal_id,
                created.amount,
                created.currency,
                created.product_group,
                created.customer,
                created.created_date,
                created.expected_close_date,
                stage.value,
            )
        )
    return sorted(found, key=lambda o: (o.expected_close_date or date.max, o.deal_id))


def customers_of(facts: Facts, rep_id: str) -> list[Customer]:
    """The customers of the rep's won deals and opportunities (latest data per id), by name."""
    found: dict[str, Customer] = {}
    for deal in facts.deals.values():
        source: Any = deal.won or deal.created
        if source is None:
            continue
        rep = getattr(source, "rep_id", None)
        splits = getattr(source, "splits", None) or ()
        if rep == rep_id or any(s.rep_id == rep_id for s in splits):
            found[source.customer.customer_id] = source.customer
    return sorted(
        found.values(), key=lambda c: ((c.name or c.customer_id).casefold(), c.customer_id)
    )


# ------------------------------------------------------------ the estimate


@dataclass(frozen=True)
class LineChange:
    """One statement line before and after the deal (None where the line is absent)."""

    component: str
    kind: str
    tier: str | None
    description: str
    before: Line | None
    after: Line | None

    @property
    def amount_before(self) -> Decimal:
        """The line's amount now (0 when the deal creates it)."""
        return self.before.amount if self.before is not None else ZERO

    @property
    def amount_after(self) -> Decimal:
        """The line's amount with the deal (0 when the deal removes it)."""
        return self.after.amount if self.after is not None else ZERO

    @property
    def difference(self) -> Decimal:
        """What the deal adds to (or takes from) the line."""
        return self.amount_after - self.amount_before

    def as_dict(self) -> dict[str, Any]:
        """The change as JSON-ready data (Decimals as exact strings)."""

        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "component": self.component,
            "kind": self.kind,
            "tier": self.tier,
            "description": self.description,
            "base_before": text(self.before.base) if self.before else None,
            "base_after": text(self.after.base) if self.after else None,
            "rate_before": text(self.before.rate) if self.before else None,
            "rate_after": text(self.after.rate) if self.after else None,
            "amount_before": str(self.amount_before),
            "amount_after": str(self.amount_after),
            "difference": str(self.difference),
        }


@dataclass(frozen=True)
class PlanEstimate:
    """One plan's statement of the period now and with the deal, line by line."""

    before: Statement
    after: Statement
    changes: tuple[LineChange, ...]

    @property
    def difference(self) -> Decimal:
        """The extra pay of the period under this plan."""
        return self.after.total - self.before.total

    def subtotals(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(before, after) per component, in line order (for a chart)."""
        found: dict[str, tuple[Decimal, Decimal]] = {}
        for c in self.changes:
            was, now = found.get(c.component, (ZERO, ZERO))
            found[c.component] = (was + c.amount_before, now + c.amount_after)
        return found

    def as_dict(self) -> dict[str, Any]:
        """The estimate of one plan as JSON-ready data."""
        b, a = self.before, self.after

        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "plan_id": a.plan_id,
            "plan_version": a.plan_version,
            "currency": a.currency,
            "quota": text(a.quota),
            "credited_before": str(b.credited),
            "credited_after": str(a.credited),
            "attainment_before": text(b.attainment),
            "attainment_after": text(a.attainment),
            "total_before": str(b.total),
            "total_after": str(a.total),
            "difference": str(self.difference),
            "lines": [c.as_dict() for c in self.changes],
        }


@dataclass(frozen=True)
class Estimate:
    """What closing the deal would add to the rep's pay of the period, plan by plan."""

    rep_id: str
    period: Period
    deal: DealWon
    plans: tuple[PlanEstimate, ...]

    def differences(self) -> dict[str, Decimal]:
        """The total extra pay per currency."""
        found: dict[str, Decimal] = {}
        for p in self.plans:
            found[p.after.currency] = found.get(p.after.currency, ZERO) + p.difference
        return found

    def as_dict(self) -> dict[str, Any]:
        """The estimate as JSON-ready data."""
        d = self.deal
        return {
            "rep_id": self.rep_id,
            "period": str(self.period),
            "deal": {
                "deal_id": d.deal_id,
                "amount": str(d.amount),
                "currency": d.currency,
                "close_date": d.close_date.isoformat(),
                "product_group": d.product_group,
                "customer": d.customer.model_dump(mode="json", exclude_none=True),
            },
            "difference": {k: str(v) for k, v in sorted(self.differences().items())},
            "plans": [p.as_dict() for p in self.plans],
        }


def _key(line: Line) -> tuple[str, str, str | None]:
    """What pairs a line before with a line after: component, kind and tier (a KPI bonus
    has one line, whichever threshold or band it reaches: not its tier)."""
    return (line.component, line.kind, None if line.kind == "kpi_bonus" else line.tier)


def pair_lines(before: Sequence[Line], after: Sequence[Line]) -> tuple[LineChange, ...]:
    """Each line of the statement after the deal with the line it was before: the same
    component, kind and tier, the same deals first (a per-deal line), else in order; lines
    only one side has are paired with nothing.  In the order of the lines after, then the
    lines the deal removes."""
    waiting: dict[tuple[str, str, str | None], list[Line]] = {}
    for ln in before:
        waiting.setdefault(_key(ln), []).append(ln)
    matched: list[Line | None] = []
    for ln in after:
        candidates = waiting.get(_key(ln), [])
        same = next((c for c in candidates if c.deal_ids == ln.deal_ids), None)
        found = same or next((c for c in candidates if not _per_deal(c, after)), None)
        if found is not None:
            candidates.remove(found)
        matched.append(found)
    changes = [
        LineChange(ln.component, ln.kind, ln.tier, ln.description, was, ln)
        for ln, was in zip(after, matched, strict=True)
    ]
    changes += [
        LineChange(ln.component, ln.kind, ln.tier, ln.description, ln, None)
        for lines in waiting.values()
        for ln in lines
    ]
    return tuple(changes)


def _per_deal(line: Line, after: Sequence[Line]) -> bool:
    """Whether a line before is one deal's own line (a SPIFF, a deal-amount tier) that is
    still there after: then it pairs only with that deal's line."""
    return len(line.deal_ids) == 1 and any(
        a.deal_ids == line.deal_ids and _key(a) == _key(line) for a in after
    )


def plans_for(
    facts: Facts, book: PlanBook, rep_id: str, day: date
) -> list[tuple[PlanVersion, Period]]:
    """The plan versions that pay the rep for a deal closed on the day, each with its period
    containing the day."""
    found = []
    for plan_id in book.plan_ids():
        version = book.in_force(plan_id, day)
        if version is None:
            continue
        period = Period.containing(day, version.plan.period)
        if version in book.for_rep(facts, rep_id, period):
            found.append((version, period))
    return found


def estimate(facts: Facts, book: PlanBook, rep_id: str, deal: DealWon) -> Estimate:
    """The rep's statements of the period the deal closes in, now and with the deal, under
    every plan that pays the rep then (the facts given are left unchanged)."""
    if rep_id not in facts.reps:
        raise EstimateRefused(f"unknown rep {rep_id!r}", field="rep")
    day = deal.close_date
    found = plans_for(facts, book, rep_id, day)
    if not found:
        raise EstimateRefused(
            f"no published plan pays {rep_id} for a deal closed on {day.isoformat()}",
            field="close_date",
        )
    closed = [str(p) for _, p in found if str(p) in facts.closed_periods]
    if closed:
        raise EstimateRefused(
            f"{', '.join(closed)} is closed: pick a close date in an open period",
            field="close_date",
        )
    known = facts.deals.get(deal.deal_id)
    if known is not None and (known.won is not None or known.lost is not None):
        raise EstimateRefused(
            f"opportunity {deal.deal_id!r} is not open (won or lost already)",
            field="opportunity_id",
        )
    overlay = with_deal(facts, deal)
    plans = []
    for version, period in found:
        try:
            before = evaluate(facts, version, rep_id, period, book=book)
            after = evaluate(overlay, version, rep_id, period, book=book)
        except EvaluationError as exc:
            field = "currency" if "FX" in str(exc) or "currency" in str(exc) else None
            raise EstimateRefused(str(exc), field=field) from None
        plans.append(PlanEstimate(before, after, pair_lines(before.lines, after.lines)))
    return Estimate(rep_id, found[0][1], deal, tuple(plans))


def is_open(deal: Deal) -> bool:
    """Whether an opportunity is still open (neither won, lost nor cancelled)."""
    return deal.won is None and deal.cancellation is None and deal.lost is None
