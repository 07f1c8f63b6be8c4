"""The plan document: a validated, versioned, content-hashed description of how reps are paid.

Plans are data, never code: filters are (field, operator, value) triples over a closed set
of deal fields.  Rates and attainment bounds are in percent (``2`` means 2 %); money is an
exact Decimal in the plan's currency.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from incentive_engine.domain import limits
from incentive_engine.domain.events import (
    ActivityKind,
    Counter,
    Currency,
    Day,
    Id,
    LeadSource,
    Text,
)
from incentive_engine.domain.money import minor_units, round_money
from incentive_engine.domain.periods import PeriodKind
from incentive_engine.domain.vocabulary import BoardVisibility, Metric, PayableKpi

_EXACT = {
    "allow_inf_nan": False,
    "max_digits": limits.AMOUNT_MAX_DIGITS,
    "decimal_places": limits.AMOUNT_DECIMALS,
}
Money = Annotated[Decimal, Field(ge=0, **_EXACT)]  # type: ignore[call-overload]
"""A non-negative amount in the plan's currency: at most 18 digits before the point, 6 after."""
Rate = Annotated[Decimal, Field(ge=0, le=1000, **_EXACT)]  # type: ignore[call-overload]
"""A rate in percent (2 means 2 %), never negative."""
PercentBound = Annotated[Decimal, Field(ge=0, **_EXACT)]  # type: ignore[call-overload]
"""A bound in percent of attainment (or, for deal-amount tiers, an amount), bounded as money."""


class FieldProblem(ValueError):
    """An inconsistency at a field's path, relative to the model that finds it (``plan
    validate`` names the whole path)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class Part(BaseModel):
    """Base of every plan part: frozen, unknown fields are errors, and attribute docstrings
    are the JSON Schema's descriptions."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )


# ------------------------------------------------------------------- filters


class DealField(StrEnum):
    """Deal fields a filter may test."""

    PRODUCT_GROUP = "product_group"
    REGION = "region"
    CUSTOMER_TYPE = "customer_type"
    INDUSTRY = "industry"
    SIZE = "size"
    OWNERSHIP = "ownership"
    NEW_CUSTOMER = "new_customer"
    LEAD_SOURCE = "lead_source"
    AMOUNT = "amount"
    PRODUCT_ID = "product_id"
    PRODUCT_CATEGORY = "product_category"


LINE_FIELDS = frozenset({DealField.PRODUCT_ID, DealField.PRODUCT_CATEGORY})
"""Fields of a deal's product lines: a rule measured per deal matches when one line
satisfies every such condition; a rule measured per line tests each line (``product_group``
then tests the line's group, falling back to the deal's)."""


class Operator(StrEnum):
    """Comparison operators of a filter."""

    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    GTE = "gte"
    LTE = "lte"


class Condition(Part):
    """One test on a deal field, e.g. ``{field: product_group, op: eq, value: cloud}``."""

    field: DealField
    op: Operator = Operator.EQ
    value: (
        Annotated[str, Field(max_length=limits.TEXT_MAX_LENGTH)]
        | bool
        | Money
        | list[Annotated[str, Field(max_length=limits.TEXT_MAX_LENGTH)]]
    )

    @model_validator(mode="before")
    @classmethod
    def _amount_as_number(cls, data: Any) -> Any:
        """An amount given as text (as a published document holds it: JSON has Decimals as
        text) is the number it spells, so that a plan's document validates again."""
        if isinstance(data, dict) and data.get("field") == "amount":
            value = data.get("value")
            if isinstance(value, str):
                try:
                    number = Decimal(value)
                except ArithmeticError:
                    return data
                return {**data, "value": number} if number.is_finite() else data
        return data

    @model_validator(mode="after")
    def _operator_fits_value(self) -> Condition:
        listy = self.op in (Operator.IN, Operator.NOT_IN)
        if listy != isinstance(self.value, list):
            raise ValueError(f"operator {self.op.value} needs {'a list' if listy else 'one value'}")
        ordered = self.op in (Operator.GTE, Operator.LTE)
        if ordered and self.field is not DealField.AMOUNT:
            raise ValueError(f"operator {self.op.value} only applies to amount")
        if self.field is DealField.NEW_CUSTOMER and not isinstance(self.value, bool):
            raise ValueError("new_customer is tested against true or false")
        if self.field is DealField.AMOUNT and not isinstance(self.value, Decimal):
            raise ValueError("amount is tested against a number")
        return self


class Window(Part):
    """A closed date window on the deal's close date."""

    start: Day = Field(alias="from")
    end: Day = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")
        return self


# ----------------------------------------------------------------- components


class Tier(Part):
    """A tier: from its lower bound (inclusive) to the next tier's, at a rate."""

    start: PercentBound = Field(alias="from")
    end: PercentBound | None = Field(None, alias="to")
    rate: Rate


class Band(Part):
    """A band of attainment (percent) with its payout multiplier."""

    start: PercentBound = Field(alias="from")
    end: PercentBound | None = Field(None, alias="to")
    multiplier: Annotated[Decimal, Field(ge=0, le=100, **_EXACT)]  # type: ignore[call-overload]


def _check_ladder(steps: tuple[Tier, ...] | tuple[Band, ...], what: str) -> None:
    """Steps must start at 0, rise strictly, and leave neither gaps nor overlaps."""
    if not steps:
        raise ValueError(f"at least one {what} is needed")
    if steps[0].start != 0:
        raise ValueError(f"the first {what} must start at 0, not {steps[0].start}")
    for i, (low, high) in enumerate(pairwise(steps)):
        if high.start <= low.start:
            raise ValueError(
                f"{what}s must rise: {what} {i + 1} starts at {high.start}, "
                f"not above {what} {i}'s {low.start}"
            )
        if low.end is not None and low.end != high.start:
            kind = "gap" if low.end < high.start else "overlap"
            raise ValueError(
                f"{kind} between {what} {i} (to {low.end}) and {what} {i + 1} (from {high.start})"
            )
    last = steps[-1]
    if last.end is not None:
        raise ValueError(f"the last {what} must be open-ended (no 'to'), not end at {last.end}")


class RateMode(StrEnum):
    """How a rate applies to credited revenue."""

    FLAT = "flat"
    GRADUATED = "graduated"
    RETROACTIVE = "retroactive"


class Measure(StrEnum):
    """What a rate's tiers (and a per-unit rate or spiff) are measured on: the period's
    attainment, each deal's amount, each matching product line's amount, each deal's gross
    margin (sum of its lines' amount - cost) or each matching line's margin."""

    ATTAINMENT = "attainment"
    DEAL_AMOUNT = "deal_amount"
    LINE_AMOUNT = "line_amount"
    MARGIN = "margin"
    LINE_MARGIN = "line_margin"


PER_LINE = frozenset({Measure.LINE_AMOUNT, Measure.LINE_MARGIN})
"""Measures that pay per matching product line (a deal without lines is one line)."""
ON_MARGIN = frozenset({Measure.MARGIN, Measure.LINE_MARGIN})
"""Measures on gross margin (every line used needs a cost)."""

GROUP_DESCRIPTION = (
    "An exclusive rule group: of the rate (or spiff) components sharing this name, at most "
    "one pays on a deal (or, measured per line, on a product line): the matching one with "
    "the highest priority, then the most specific filter (product_id > product_category > "
    "any other field > no filter), then the most conditions. Equal precedence between "
    "rules that could match the same deal is refused."
)
PRIORITY_DESCRIPTION = (
    "Precedence inside the component's group (higher wins; unset counts as 0), before "
    "the filter's specificity."
)


FULLY_PAID_WAIT_DAYS = 1095
"""The longest ``fully_paid`` waits: three years (3 x 365 days) after the deal's close."""


class Release(Part):
    """When pay held back is released: exactly one condition (the deal's own dates, or its
    payments)."""

    after_days: int | None = Field(
        None,
        ge=0,
        le=3660,
        description="Release this many days after the deal's close date (in the period that "
        "day falls in).",
    )
    plan_year_end: Literal[True] | None = Field(
        None,
        description="Release on the last day of the plan year the deal closed in (the "
        "calendar year: 31 December), in the period that day falls in.",
    )
    fully_paid: Literal[True] | None = Field(
        None,
        description="Release on the first day the payments received on the deal, net of "
        "refunds (in the deal's currency, each payment at the FX rate of its day), reach the "
        "deal's amount for commission after amendments, in the period that day falls in. It "
        f"waits at most {FULLY_PAID_WAIT_DAYS} days (3 years) after the close: pay on a deal "
        "not fully paid by then is never released. Pay on no deal is released at the end of "
        "its period.",
    )

    @model_validator(mode="after")
    def _one_condition(self) -> Release:
        names = ("after_days", "plan_year_end", "fully_paid")
        given = [n for n in names if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "a release needs exactly one of 'after_days', 'plan_year_end' and 'fully_paid'"
                + (f", not {' and '.join(given)}" if given else "")
            )
        return self


class Holdback(Part):
    """A share of what a component earns, held back until a release condition holds; a deal
    cancelled on or before its release day forfeits it."""

    share: Annotated[Decimal, Field(gt=0, le=100, **_EXACT)] = Field(  # type: ignore[call-overload]
        description="Percent of the component's earnings (after its cap) held back, e.g. 30."
    )
    release: Release = Field(description="When the held share is released.")


HOLDBACK_DESCRIPTION = (
    "Hold back a share of what the component earns (after its cap) until a release "
    "condition holds: shown as a negative holdback line in the period earned and a "
    "holdback_release line in the period the condition holds; a deal cancelled first "
    "forfeits it."
)


class Component(Part):
    """Base of plan components: a unique id and an optional display name."""

    id: Id
    name: Text | None = None

    @property
    def label(self) -> str:
        """The name to show, falling back to the id."""
        return self.name or self.id


class RateComponent(Component):
    """Commission as a rate on credited revenue: flat, graduated or retroactive tiers."""

    kind: Literal["rate"] = "rate"
    mode: RateMode = RateMode.FLAT
    measure: Measure = Measure.ATTAINMENT
    rate: Rate | None = None
    tiers: tuple[Tier, ...] = ()
    gate: PercentBound | None = None
    """Attainment (percent) below which the component pays nothing."""
    cap: Money | None = None
    """Most the component pays in a period."""
    filter: tuple[Condition, ...] = ()
    """Only deals matching every condition count (attainment always counts all)."""
    holdback: Holdback | None = Field(None, description=HOLDBACK_DESCRIPTION)
    group: Id | None = Field(None, description=GROUP_DESCRIPTION)
    priority: int | None = Field(None, ge=-1000, le=1000, description=PRIORITY_DESCRIPTION)

    @model_validator(mode="after")
    def _mode_fits(self) -> RateComponent:
        if self.mode is RateMode.FLAT:
            if self.rate is None or self.tiers:
                raise ValueError("a flat rate needs 'rate' and no 'tiers'")
        else:
            if self.rate is not None:
                raise ValueError(f"a {self.mode.value} rate takes 'tiers', not 'rate'")
            _check_ladder(self.tiers, "tier")
        tiered = self.mode is not RateMode.FLAT
        if self.group is not None and tiered and self.measure is Measure.ATTAINMENT:
            raise FieldProblem(
                "group",
                f"a {self.mode.value} rate measured on attainment cannot be in a group: its "
                "tiers pay on the period's whole revenue, which cannot go to one rule per "
                "deal; make it flat or measure it on deal_amount, line_amount, margin or "
                "line_margin",
            )
        _check_priority(self.group, self.priority)
        return self

    @property
    def unit_measure(self) -> Measure:
        """What one deal's (or line's) pay is measured on (attainment: the deal's amount)."""
        return Measure.DEAL_AMOUNT if self.measure is Measure.ATTAINMENT else self.measure

    @property
    def per_unit(self) -> bool:
        """Whether the rate pays one line per deal or product line (in a group, per line or
        on margin, or tiers on each deal's amount) rather than once on the period's revenue."""
        return (
            self.group is not None
            or self.measure in PER_LINE
            or self.measure in ON_MARGIN
            or (self.mode is not RateMode.FLAT and self.measure is Measure.DEAL_AMOUNT)
        )


class TargetIncentive(Component):
    """Payout = target incentive x attainment x multiplier, graduated across attainment bands."""

    kind: Literal["target_incentive"] = "target_incentive"
    target: Money
    bands: tuple[Band, ...]
    gate: PercentBound | None = None
    cap: Money | None = None
    holdback: Holdback | None = Field(None, description=HOLDBACK_DESCRIPTION)

    @field_validator("bands")
    @classmethod
    def _ladder(cls, bands: tuple[Band, ...]) -> tuple[Band, ...]:
        _check_ladder(bands, "band")
        return bands


class Spiff(Component):
    """A bonus per matching won deal: a fixed amount or a percentage of the credited amount."""

    kind: Literal["spiff"] = "spiff"
    amount_per_deal: Money | None = None
    percent: Rate | None = None
    filter: tuple[Condition, ...] = ()
    window: Window | None = None
    holdback: Holdback | None = Field(None, description=HOLDBACK_DESCRIPTION)
    measure: Measure | None = Field(
        None,
        description=(
            "Unset or deal_amount: per matching deal, as always; line_amount: per matching "
            "product line (amount_per_deal is then paid per line, percent of the line's "
            "amount); margin / line_margin: percent of the deal's / line's gross margin."
        ),
    )
    group: Id | None = Field(None, description=GROUP_DESCRIPTION)
    priority: int | None = Field(None, ge=-1000, le=1000, description=PRIORITY_DESCRIPTION)

    @model_validator(mode="after")
    def _one_amount(self) -> Spiff:
        if (self.amount_per_deal is None) == (self.percent is None):
            raise ValueError("a spiff needs exactly one of 'amount_per_deal' and 'percent'")
        if self.measure is Measure.ATTAINMENT:
            raise FieldProblem(
                "measure", "a spiff pays per deal or line: measure attainment does not apply"
            )
        if self.measure in ON_MARGIN and self.amount_per_deal is not None:
            raise FieldProblem(
                "measure",
                f"measure {self.measure.value} needs 'percent' (a fixed amount_per_deal does "
                "not depend on margin)",
            )
        _check_priority(self.group, self.priority)
        return self

    @property
    def unit_measure(self) -> Measure:
        """What the spiff is measured on (unset: each deal's amount)."""
        return self.measure or Measure.DEAL_AMOUNT


def _check_priority(group: str | None, priority: int | None) -> None:
    """A priority ranks a component inside its group: without a group it means nothing."""
    if priority is not None and group is None:
        raise FieldProblem("priority", "'priority' only applies to a component in a 'group'")


class Depth(StrEnum):
    """Whose revenue an override counts."""

    DIRECT = "direct"
    ALL = "all"


class Override(Component):
    """A manager's percentage of their reports' credited revenue."""

    kind: Literal["override"] = "override"
    rate: Rate
    depth: Depth = Depth.DIRECT


class Draw(Component):
    """Each period pays at least the draw; a recoverable draw's shortfall is recovered later."""

    kind: Literal["draw"] = "draw"
    amount: Money
    recoverable: bool = True


class KpiScope(StrEnum):
    """Whose KPI a KPI bonus is measured on."""

    REP = "rep"
    """The rep's own (an opportunity's owner, a lead's or an activity's rep)."""
    TEAM = "team"
    """The team the rep is in on their last day employed in the period, as the KPI report
    counts it by team (each event for the team its rep was in on the event's day)."""
    TERRITORY = "territory"
    """The territories the rep owns (alone or in a share) on that same day, together."""


PERCENT_KPIS = frozenset({PayableKpi.WIN_RATE, PayableKpi.LEAD_CONVERSION, PayableKpi.ATTAINMENT})
"""The payable KPIs measured in percent; the others are counts (thresholds whole numbers)."""


class KpiThreshold(Part):
    """A threshold: a KPI value at or above ``at`` pays a fixed ``amount`` or ``percent`` of
    the component's target (the highest threshold reached pays, alone)."""

    at: PercentBound
    """The KPI value to reach (percent for win_rate, lead_conversion, attainment; a count
    otherwise); reaching it exactly counts."""
    amount: Money | None = None
    """The bonus paid, in the plan's currency."""
    percent: Rate | None = None
    """The bonus paid, in percent of the component's ``target``."""

    @model_validator(mode="after")
    def _one_pay(self) -> KpiThreshold:
        if (self.amount is None) == (self.percent is None):
            raise ValueError("a threshold pays exactly one of 'amount' and 'percent'")
        return self


class KpiPoint(Part):
    """A point of graduated bands: at KPI value ``at`` the bonus is ``percent`` of the
    target; between two points it is linear; below the first it pays nothing, from the last
    on it pays the last point's percent."""

    at: PercentBound
    """The KPI value of the point (percent or a count, as the KPI is)."""
    percent: Rate
    """The bonus at that value, in percent of the component's ``target``."""


def _rising(
    points: tuple[KpiThreshold, ...] | tuple[KpiPoint, ...], what: str, info: ValidationInfo
) -> None:
    """Points whose ``at`` rises strictly (and is a whole number for a count KPI), each
    error naming the point's index."""
    kpi = info.data.get("kpi")
    for i, p in enumerate(points):
        if kpi is not None and kpi not in PERCENT_KPIS and p.at != p.at.to_integral_value():
            raise ValueError(
                f"{what} {i}: {kpi.value} is a count, so 'at' is a whole number, not {p.at}"
            )
    for i, (low, high) in enumerate(pairwise(points)):
        if high.at <= low.at:
            raise ValueError(
                f"{what}s must rise: {what} {i + 1} is at {high.at}, not above {what} {i}'s "
                f"{low.at}"
            )


class KpiBonus(Component):
    """A bonus paid from a KPI the engine computes (win rate, deals won, new customers,
    leads, qualified leads, lead conversion, activities, attainment) for the rep, their
    team or their territories over the plan period: by ``thresholds`` (the highest reached
    pays a fixed amount or a percent of ``target``) or by graduated ``bands`` (points
    joined linearly, in percent of ``target``), capped by ``cap``."""

    kind: Literal["kpi_bonus"] = "kpi_bonus"
    kpi: PayableKpi
    """The KPI paid on: win_rate, deals_won, new_customers, leads, qualified_leads,
    lead_conversion, activities or attainment (pace to quota at the period's end)."""
    scope: KpiScope = KpiScope.REP
    """Whose KPI: rep (default), team or territory."""
    activity: ActivityKind | None = None
    """For the activities KPI only: count only this kind (every kind when unset)."""
    thresholds: tuple[KpiThreshold, ...] = ()
    """Thresholds, rising strictly: the highest one the KPI reaches pays."""
    bands: tuple[KpiPoint, ...] = ()
    """Graduated bands as points, rising strictly: linear between points."""
    target: Money | None = Field(None, validate_default=True)
    """The target bonus that percents are of (needed by bands and percent thresholds)."""
    cap: Money | None = None
    """Most the component pays in a period."""

    @field_validator("activity")
    @classmethod
    def _activity_fits(
        cls, activity: ActivityKind | None, info: ValidationInfo
    ) -> ActivityKind | None:
        kpi = info.data.get("kpi")
        if activity is not None and kpi is not None and kpi is not PayableKpi.ACTIVITIES:
            raise ValueError(f"only the activities KPI takes an activity kind, not {kpi.value}")
        return activity

    @field_validator("thresholds")
    @classmethod
    def _thresholds_rise(
        cls, thresholds: tuple[KpiThreshold, ...], info: ValidationInfo
    ) -> tuple[KpiThreshold, ...]:
        _rising(thresholds, "threshold", info)
        return thresholds

    @field_validator("bands")
    @classmethod
    def _bands_rise(cls, bands: tuple[KpiPoint, ...], info: ValidationInfo) -> tuple[KpiPoint, ...]:
        _rising(bands, "band point", info)
        return bands

    @field_validator("target")
    @classmethod
    def _target_if_needed(cls, target: Decimal | None, info: ValidationInfo) -> Decimal | None:
        bands = info.data.get("bands") or ()
        thresholds = info.data.get("thresholds") or ()
        if target is None and (bands or any(t.percent is not None for t in thresholds)):
            what = "bands pay" if bands else "a threshold with 'percent' pays"
            raise ValueError(f"{what} a percent of 'target': give 'target'")
        return target

    @model_validator(mode="after")
    def _pays_one_way(self) -> KpiBonus:
        if bool(self.thresholds) == bool(self.bands):
            raise ValueError("a kpi_bonus needs exactly one of 'thresholds' and 'bands'")
        return self


class PoolSharing(StrEnum):
    """How a team pool is shared among its members."""

    CREDIT = "credit"
    """In proportion to each member's credited revenue in the team in the period."""
    EQUAL = "equal"
    """In equal parts."""


PoolPercent = Annotated[Decimal, Field(gt=0, le=100, **_EXACT)]  # type: ignore[call-overload]
"""A pool's share of its team's credited revenue, in percent (above 0, at most 100)."""


class TeamPool(Component):
    """A pool funded for a team, from a percentage of the team's credited revenue in the
    period or a fixed amount, shared among the members in the team on the period's last day
    by their share of credit or equally; shares are rounded so they sum to the pool."""

    kind: Literal["team_pool"] = "team_pool"
    team: Text | None = Field(
        None,
        description="The team whose pool it is; unset: the rep's own team on the period's "
        "last day.",
    )
    percent: PoolPercent | None = Field(
        None,
        description="Fund the pool with this percentage of the credited revenue of every rep "
        "who was in the team when their deal closed in the period (the plan's crediting and "
        "clawback rules apply). Give exactly one of 'percent' and 'amount'.",
    )
    amount: Money | None = Field(
        None,
        description="Fund the pool with this fixed amount per period, in the plan's currency "
        "(at most its minor units). Give exactly one of 'percent' and 'amount'.",
    )
    among: Literal["members_on_last_day"] = Field(
        "members_on_last_day",
        description="Who shares the pool: the reps employed and in the team on the period's "
        "last day (a rep who left before gets nothing; one who joined during it shares).",
    )
    by: PoolSharing = Field(
        description="'credit': in proportion to each member's credited revenue while in the "
        "team in the period (a member without credit gets nothing); 'equal': equal parts.",
    )
    covered_only: bool = Field(
        False,
        description="Share only among the members this plan covers on the period's last day "
        "(then the pool is paid in full by this plan); by default every member has a share "
        "and members of other plans are not paid theirs by this one.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> TeamPool:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("a team pool needs exactly one of 'percent' and 'amount'")
        return self


AnyComponent = Annotated[
    RateComponent | TargetIncentive | Spiff | Override | Draw | KpiBonus | TeamPool,
    Field(discriminator="kind"),
]


# ------------------------------------------------------------ exclusive groups


Exclusive = RateComponent | Spiff
"""The component kinds that may form exclusive groups."""

_RANK = {DealField.PRODUCT_ID: 3, DealField.PRODUCT_CATEGORY: 2}


def specificity(conditions: tuple[Condition, ...]) -> tuple[int, int]:
    """(kind, count) of a filter: kind 3 when it selects products by id (``eq``/``in`` on
    product_id), 2 by product_category, 1 on any other condition, 0 without a filter."""
    kinds = [_RANK.get(c.field, 1) if c.op in (Operator.EQ, Operator.IN) else 1 for c in conditions]
    return (max(kinds, default=0), len(conditions))


def precedence(comp: Exclusive) -> tuple[int, int, int]:
    """A group member's precedence: (priority, filter kind, condition count); higher wins."""
    return (comp.priority or 0, *specificity(comp.filter))


def _allowed(conditions: tuple[Condition, ...], name: DealField) -> tuple[Any, set[Any]]:
    """What a filter lets through on one field: (the values it requires, None for any, and
    the values it refuses); for amount, the (low, high) interval it requires."""
    if name is DealField.AMOUNT:
        low: Decimal | None = None
        high: Decimal | None = None
        for c in conditions:
            if c.field is not name or not isinstance(c.value, Decimal):
                continue
            if c.op in (Operator.GTE, Operator.EQ):
                low = c.value if low is None else max(low, c.value)
            if c.op in (Operator.LTE, Operator.EQ):
                high = c.value if high is None else min(high, c.value)
        return (low, high), set()
    required: set[Any] | None = None
    refused: set[Any] = set()
    for c in conditions:
        if c.field is not name:
            continue
        values = set(c.value) if isinstance(c.value, list) else {c.value}
        if c.op in (Operator.EQ, Operator.IN):
            required = values if required is None else required & values
        elif c.op in (Operator.NE, Operator.NOT_IN):
            refused |= values
    if name is DealField.NEW_CUSTOMER and required is None:
        required = {True, False}
    return required, refused


def exclusive(a: Exclusive, b: Exclusive, per_line: bool) -> bool:
    """Whether no deal (or, per line, no product line) can match both filters (and, for
    spiffs, both windows): decided on one field at a time, so a pair is exclusive only when
    some field's required values (or amount intervals, or windows) cannot meet.  Measured
    per deal, product conditions never exclude: one deal can hold both products."""
    fields = {c.field for c in (*a.filter, *b.filter)}
    for name in sorted(fields):
        if name in LINE_FIELDS and not per_line:
            continue
        (need_a, refuse_a), (need_b, refuse_b) = _allowed(a.filter, name), _allowed(b.filter, name)
        if name is DealField.AMOUNT:
            lows = [v for v in (need_a[0], need_b[0]) if v is not None]
            highs = [v for v in (need_a[1], need_b[1]) if v is not None]
            if lows and highs and max(lows) > min(highs):
                return True
            continue
        if need_a is None and need_b is None:
            continue
        both = need_a if need_b is None else need_b if need_a is None else need_a & need_b
        if not both - refuse_a - refuse_b:
            return True
    wa, wb = getattr(a, "window", None), getattr(b, "window", None)
    return wa is not None and wb is not None and (wa.end < wb.start or wb.end < wa.start)


def _words(comp: Exclusive) -> str:
    """A member's precedence in words, for refusals."""
    kind, count = specificity(comp.filter)
    on = ("no filter", "a filter on other fields", "a product_category filter")[min(kind, 2)]
    on = "a product_id filter" if kind == 3 else on
    return f"priority {comp.priority or 0}, {on}, {count} condition{'s' * (count != 1)}"


def check_groups(components: tuple[Component, ...]) -> None:
    """Groups hold one kind, measured all per deal or all per line, and no two members that
    could match the same deal (or line) share a precedence: a FieldProblem at the path."""
    first: dict[str, int] = {}
    for j, comp in enumerate(components):
        if not isinstance(comp, Exclusive) or comp.group is None:
            continue
        i = first.setdefault(comp.group, j)
        lead = components[i]
        assert isinstance(lead, Exclusive)
        where = f"components.{j}"
        if comp.kind != lead.kind:
            raise FieldProblem(
                f"{where}.group",
                f"group {comp.group!r} holds {lead.kind} component {lead.id!r}: a group holds "
                "components of one kind",
            )
        per_line = comp.unit_measure in PER_LINE
        if per_line != (lead.unit_measure in PER_LINE):
            raise FieldProblem(
                f"{where}.measure",
                f"group {comp.group!r} mixes rules paid per line and per deal ({lead.id!r} is "
                f"measured on {lead.unit_measure.value}, {comp.id!r} on "
                f"{comp.unit_measure.value}): measure them alike",
            )
        for k in range(i, j):
            other = components[k]
            if not isinstance(other, Exclusive) or other.group != comp.group:
                continue
            if precedence(other) == precedence(comp) and not exclusive(other, comp, per_line):
                field_name = "priority" if comp.priority is not None else "filter"
                raise FieldProblem(
                    f"{where}.{field_name}",
                    f"{comp.id!r} and {other.id!r} (components.{k}) in group {comp.group!r} "
                    f"could both match the same {'line' if per_line else 'deal'} with equal "
                    f"precedence ({_words(comp)}): give one a higher 'priority' or make "
                    "their filters exclude each other on one field",
                )


# ------------------------------------------------------------ gamification

Points = Annotated[Decimal, Field(ge=0, le=1_000_000, **_EXACT)]  # type: ignore[call-overload]
"""A number of points, never negative."""


class PerAmount(Part):
    """Points per full step of credited amount (e.g. 1 point per 10,000,000)."""

    step: Annotated[Decimal, Field(ge=1, **_EXACT)]  # type: ignore[call-overload]
    points: Points


class Milestone(Part):
    """Points once attainment reaches a level in a plan period."""

    attainment: PercentBound
    points: Points


class PointsRules(Part):
    """How activity and results earn gamification points (never pay)."""

    activities: dict[ActivityKind, Points] = {}
    """Points per activity kind (call_connected, call_unanswered, meeting, email, demo)."""
    leads: dict[LeadSource, Points] = {}
    """Points per lead created, by source."""
    won_deal: Points = Decimal(0)
    """Points per won deal (times the rep's share of a split)."""
    per_amount: PerAmount | None = None
    new_customer: Points = Decimal(0)
    """Points per won deal with a new customer (times the share)."""
    milestones: tuple[Milestone, ...] = ()
    daily_caps: dict[ActivityKind, Points] = {}
    """At most this many points a day from one activity kind (stops gaming the system)."""


class BadgeKind(StrEnum):
    """What a badge rewards."""

    FIRST_WON_DEAL = "first_won_deal"
    DEALS_IN_PERIOD = "deals_in_period"
    QUOTA_CLUB = "quota_club"
    ACTIVITY_STREAK = "activity_streak"


class BadgeRule(Part):
    """A badge: first won deal, N deals in a plan period, quota club (attainment >= 100 %),
    or an activity streak of N working days."""

    id: Id
    name: Text
    kind: BadgeKind
    count: int | None = Field(None, ge=1, le=1000)
    activity: ActivityKind | None = None
    """For a streak: the activity that counts (any activity when unset)."""

    @model_validator(mode="after")
    def _count_fits(self) -> BadgeRule:
        needs = self.kind in (BadgeKind.DEALS_IN_PERIOD, BadgeKind.ACTIVITY_STREAK)
        if needs and self.count is None:
            raise ValueError(f"a {self.kind.value} badge needs 'count'")
        if not needs and self.count is not None:
            raise ValueError(f"a {self.kind.value} badge takes no 'count'")
        if self.activity is not None and self.kind is not BadgeKind.ACTIVITY_STREAK:
            raise ValueError("'activity' only applies to an activity_streak badge")
        return self


# ---------------------------------------------------------------------- plan


class Covers(Part):
    """Who a plan covers: reps by id, teams or roles (any match counts)."""

    reps: tuple[Id, ...] = Field((), max_length=100_000)
    teams: tuple[Text, ...] = Field((), max_length=10_000)
    roles: tuple[Literal["rep", "manager", "director"], ...] = ()

    @model_validator(mode="after")
    def _someone(self) -> Covers:
        if not (self.reps or self.teams or self.roles):
            raise ValueError("a plan must cover someone: give reps, teams or roles")
        return self


class Clawback(Part):
    """How cancellations and downward amendments after a close are clawed back."""

    window_days: int = Field(90, ge=0, le=3660)
    share: Annotated[Decimal, Field(gt=0, le=100, **_EXACT)] = Decimal(100)  # type: ignore[call-overload]


class EarnOn(StrEnum):
    """When a deal's credit is earned."""

    BOOKING = "booking"
    INVOICE = "invoice"
    PAYMENT = "payment"


class Plan(Part):
    """A compensation plan version: who it covers, when, and its components."""

    plan_id: Id
    version: Counter
    name: Text
    effective_from: Day
    effective_to: Day | None = None
    currency: Currency
    period: PeriodKind
    """month, quarter or year (plans do not pay per day or week)."""
    covers: Covers
    crediting: Literal["named", "territory"] = "named"
    """``named``: splits, else the named rep, else territory; ``territory``: always territory."""
    prorate_quota: bool = True
    """Prorate quotas by days employed in the period (hired or leaving mid-period)."""
    clawback: Clawback = Clawback()
    earn_on: EarnOn | None = Field(
        None,
        description=(
            "When a deal's credit is earned. booking (the default when unset): in the period "
            "the deal closes. invoice: in the period each InvoiceIssued of the deal is issued, "
            "pro rata invoiced / deal amount (a cancelled invoice loses its unpaid part within "
            "the clawback window). payment: in the period each PaymentReceived arrives, pro "
            "rata paid / deal amount, less PaymentRefunded in the refund's period (hoa hồng "
            "trên doanh thu thực thu); cash received stays earned if the deal is cancelled. "
            "Attainment, tiers and gates then measure the period's earned credit."
        ),
    )
    components: tuple[AnyComponent, ...] = Field(min_length=1)
    points: PointsRules | None = None
    """Gamification points rules (leaderboards never show pay)."""
    badges: tuple[BadgeRule, ...] = ()
    leaderboards: dict[Metric, BoardVisibility] | None = None
    """What each leaderboard shows of other reps: ``ranks``, ``ranks_and_points`` or
    ``ranks_and_values`` per board (points, revenue, attainment, deals_won, new_customers).
    Unset boards keep the default: points show points, every other board ranks only, so no
    rep sees another rep's revenue, attainment or quota.  Finance, the rep and their managers
    always see the values."""

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        ids = [c.id for c in self.components]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"component ids must be unique: {', '.join(repeated)} repeated")
        badge_ids = [b.id for b in self.badges]
        if len(set(badge_ids)) != len(badge_ids):
            raise ValueError("badge ids must be unique")
        if sum(isinstance(c, Draw) for c in self.components) > 1:
            raise ValueError("a plan has at most one draw")
        for metric, shown in (self.leaderboards or {}).items():
            if shown is BoardVisibility.RANKS_AND_POINTS and metric is not Metric.POINTS:
                raise ValueError(
                    f"leaderboards.{metric.value}: ranks_and_points applies to the points "
                    "board only; use ranks or ranks_and_values"
                )
        for i, comp in enumerate(self.components):
            fixed = comp.amount if isinstance(comp, TeamPool) else None
            if fixed is not None and fixed != round_money(fixed, self.currency):
                raise ValueError(
                    f"components.{i}.amount: {fixed} is finer than {self.currency}'s "
                    f"minor units ({minor_units(self.currency)} decimals)"
                )
        if self.period in (PeriodKind.DAY, PeriodKind.WEEK):
            raise ValueError(f"a plan pays per month, quarter or year, not per {self.period.value}")
        check_groups(self.components)
        return self

    def document(self) -> dict[str, Any]:
        """The plan as its canonical JSON-ready document (what is hashed and published)."""
        # Through JSON text, so that enum keys of mappings (points per activity kind) become
        # plain strings like every other value.
        document: dict[str, Any] = json.loads(
            self.model_dump_json(by_alias=True, exclude_none=True)
        )
        return document

    def in_force_on(self, day: date) -> bool:
        """Whether the plan's effective dates include a day."""
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


def plan_schema() -> dict[str, Any]:
    """JSON Schema of the plan document."""
    schema = Plan.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
