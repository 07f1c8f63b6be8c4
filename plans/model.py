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

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
from incentive_engine.domain.vocabulary import BoardVisibility, Metric

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


class Part(BaseModel):
    """Base of every plan part: frozen, and unknown fields are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


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
    """What tiers are measured on."""

    ATTAINMENT = "attainment"
    DEAL_AMOUNT = "deal_amount"


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

    @model_validator(mode="after")
    def _mode_fits(self) -> RateComponent:
        if self.mode is RateMode.FLAT:
            if self.rate is None or self.tiers:
                raise ValueError("a flat rate needs 'rate' and no 'tiers'")
        else:
            if self.rate is not None:
                raise ValueError(f"a {self.mode.value} rate takes 'tiers', not 'rate'")
            _check_ladder(self.tiers, "tier")
        return self


class TargetIncentive(Component):
    """Payout = target incentive x attainment x multiplier, graduated across attainment bands."""

    kind: Literal["target_incentive"] = "target_incentive"
    target: Money
    bands: tuple[Band, ...]
    gate: PercentBound | None = None
    cap: Money | None = None

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

    @model_validator(mode="after")
    def _one_amount(self) -> Spiff:
        if (self.amount_per_deal is None) == (self.percent is None):
            raise ValueError("a spiff needs exactly one of 'amount_per_deal' and 'percent'")
        return self


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
    RateComponent | TargetIncentive | Spiff | Override | Draw | TeamPool,
    Field(discriminator="kind"),
]


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
