"""What every component handler works on: the rep's period under a plan version, the lines
drafted so far, and the helpers components share (gates, caps, tiers and bands)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from incentive_engine.domain.facts import Deal, Facts
from incentive_engine.domain.money import format_money, round_money
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.evaluate.credits import Credited
from plans.evaluate.statement import HUNDRED, ZERO, EvaluationError, Line
from plans.model import Band, Plan, Tier


@dataclass(frozen=True)
class Held:
    """What one holdback line holds: a component's share of what one deal earned in a
    period (or of its pooled earnings, without a deal), and when it is released or forfeited."""

    component: str
    label: str
    period: Period
    line: int
    """The holdback line's number in its period's statement."""
    deal: Deal | None
    amount: Decimal
    """What stays held, to be released (or, if forfeited, never paid)."""
    first: Decimal
    """What was held before a cancellation's clawback took its part of it."""
    release_on: date | None
    """The day the release condition holds (None while it is not known)."""
    forfeit_on: date | None
    """The deal's cancellation day when it comes on or before the release day."""
    event_ids: tuple[str, ...]

    def still_held(self, day: date) -> bool:
        """Whether the amount is still held at the end of a day."""
        gone = self.forfeit_on if self.forfeit_on is not None else self.release_on
        return gone is None or gone > day


@dataclass
class Context:
    """A rep's period under a plan version while its lines are drafted (numbered at the end)."""

    facts: Facts
    version: PlanVersion
    rep_id: str
    period: Period
    credits: list[Credited]
    quota: Decimal | None
    quota_events: tuple[str, ...]
    lines_for: Callable[[Period], Context]
    """The same rep and plan version's own lines in another period (what a draw settles on)."""
    drafts: list[Line] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    """What the period's holdback lines hold, drafted with them."""
    held_balance: Decimal | None = None
    """What stays held at the period's end (set only when the plan holds pay back)."""
    draw_owed: Decimal | None = None
    """A recoverable draw's balance still owed at the period's end (None without one)."""

    @property
    def plan(self) -> Plan:
        """The plan being evaluated."""
        return self.version.plan

    @property
    def credited(self) -> Decimal:
        """The rep's credited revenue in the period, after clawback rules."""
        return sum((c.amount for c in self.credits), ZERO)

    @property
    def attainment(self) -> Decimal | None:
        """Credited revenue in percent of the quota (None without a quota)."""
        if self.quota is None or self.quota == 0:
            return None
        return self.credited * HUNDRED / self.quota

    @property
    def earned(self) -> Decimal:
        """The sum of the lines drafted so far."""
        return sum((ln.amount for ln in self.drafts), ZERO)

    def money(self, amount: Decimal) -> Decimal:
        """An amount rounded to the plan currency's minor units."""
        return round_money(amount, self.plan.currency)

    def fmt(self, amount: Decimal) -> str:
        """An amount formatted in the plan's currency, for descriptions."""
        return format_money(amount, self.plan.currency)

    def add(self, **kw: Any) -> None:
        """Draft a line (its number is given when the statement is assembled)."""
        self.drafts.append(Line(number=0, **kw))


def pct(value: Decimal) -> str:
    """A percentage for descriptions, to one decimal."""
    return f"{value.quantize(Decimal('0.1'))} %"


def needs_attainment(ctx: Context, component: str) -> Decimal:
    """The rep's attainment, which a component is measured on: an EvaluationError without a
    quota, unless nothing is credited (then nothing is earned whatever the quota)."""
    attainment = ctx.attainment
    if attainment is None and ctx.credited == 0:
        return ZERO  # nothing credited: no quota is needed to know nothing is earned
    if attainment is None:
        raise EvaluationError(
            f"{ctx.rep_id} has no quota for {ctx.period}: component {component!r} of plan "
            f"{ctx.plan.plan_id} v{ctx.plan.version} is measured on attainment"
        )
    return attainment


def gated(ctx: Context, component_id: str, gate: Decimal | None) -> bool:
    """True if the gate stops the component (and a zero line says so)."""
    if gate is None:
        return False
    attainment = needs_attainment(ctx, component_id)
    if attainment >= gate:
        return False
    ctx.add(
        component=component_id,
        kind="gate",
        description=f"gate not met: attainment {pct(attainment)} is below {gate} %",
        amount=ZERO,
        base=ctx.credited,
        rate=gate,
        event_ids=ctx.quota_events,
    )
    return True


def capped(ctx: Context, component_id: str, cap: Decimal | None, start: int) -> None:
    """A negative line bringing the component's lines from ``start`` on down to its cap."""
    if cap is None:
        return
    paid = sum((ln.amount for ln in ctx.drafts[start:]), ZERO)
    if paid > cap:
        ctx.add(
            component=component_id,
            kind="cap",
            description=f"capped at {ctx.fmt(cap)}",
            amount=ctx.money(cap - paid),
            base=paid,
        )


def tier_label(tier: Tier | Band, upper: Decimal | None, unit: str) -> str:
    """A tier or band as a half-open range, e.g. ``[50 %, 100 %)``."""
    hi = "∞" if upper is None else f"{upper}{unit}"
    return f"[{tier.start}{unit}, {hi})"


def uppers(steps: Sequence[Tier] | Sequence[Band]) -> list[Decimal | None]:
    """Each step's upper bound: the next step's lower bound (None for the last)."""
    return [steps[i + 1].start if i + 1 < len(steps) else None for i in range(len(steps))]


def slices(
    value: Decimal, steps: Sequence[Tier] | Sequence[Band], per: Decimal = Decimal(1)
) -> list[tuple[int, Decimal]]:
    """(step index, piece of value) for each step the value reaches into, bounds scaled by
    ``per`` (an attainment bound of 50 % with per = quota / 100 is half the quota)."""
    found = []
    for i, upper in enumerate(uppers(steps)):
        low = steps[i].start * per
        top = value if upper is None else min(value, upper * per)
        if top > low:
            found.append((i, top - low))
    return found


def reached(value: Decimal, steps: Sequence[Tier] | Sequence[Band]) -> int:
    """Index of the last step whose lower bound the value reaches."""
    return max(i for i, step in enumerate(steps) if value >= step.start)
