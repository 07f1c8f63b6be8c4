"""The evaluator: facts + plan version + rep + period -> a statement (pure and deterministic).

A statement is a list of lines, each naming its component, the deals and events behind it,
the base, tier and rate, and an amount rounded once, half-up, to the currency's minor
units.  Its hash is taken over its canonical JSON, so identical inputs give an identical
hash in any process, on any store.

Rules worth knowing (the README explains them with examples):

* Credit comes from ``Facts.credits`` (splits, named rep or territory, as the plan says).
  A cancellation within the clawback window removes ``clawback.share`` of the deal's credit;
  a downward amendment applies only within the window; upward amendments always apply.
* Graduated tiers pay each slice of revenue at its own rate; retroactive tiers pay all
  revenue at the rate of the tier reached.  A tier's lower bound is inclusive.
* A gate pays nothing below the attainment it names; a cap adds a negative line down to it.
* A recoverable draw is evaluated period by period from the plan's first period: each pays
  the larger of earnings and draw, the shortfall is owed, and earnings above the draw
  first repay what is owed.
* Closed periods are never rewritten: the first open period after a closed one carries an
  adjustment line per closed period whose recomputed result differs from what was paid.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from incentive_engine.domain.attainment import AttainmentError, deal_in, rep_quota
from incentive_engine.domain.errors import Conflict
from incentive_engine.domain.events import QuotaSubject, canonical_json, content_hash
from incentive_engine.domain.facts import Credit, Deal, Facts, Rep
from incentive_engine.domain.money import format_money, round_money
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.model import (
    Band,
    Condition,
    DealField,
    Depth,
    Draw,
    Measure,
    Operator,
    Override,
    Plan,
    RateComponent,
    RateMode,
    Spiff,
    TargetIncentive,
    Tier,
)

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class EvaluationError(Conflict, ValueError):
    """A statement cannot be computed (for instance: tiers on attainment but no quota)."""


# ------------------------------------------------------------------ statement


@dataclass(frozen=True)
class Line:
    """One statement line: what was paid, by which rule, on what base, because of which events."""

    number: int
    component: str
    kind: str
    description: str
    amount: Decimal
    base: Decimal | None = None
    tier: str | None = None
    rate: Decimal | None = None
    deal_ids: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The line as a JSON-ready dict (Decimals as exact strings)."""
        return {
            "number": self.number,
            "component": self.component,
            "kind": self.kind,
            "description": self.description,
            "base": None if self.base is None else str(self.base),
            "tier": self.tier,
            "rate": None if self.rate is None else str(self.rate),
            "amount": str(self.amount),
            "deal_ids": list(self.deal_ids),
            "event_ids": list(self.event_ids),
        }


PRIOR = "prior_period"
"""Kind of the lines that adjust an earlier, closed period."""


@dataclass(frozen=True)
class Statement:
    """A rep's statement for a period under one plan version."""

    rep_id: str
    period: str
    plan_id: str
    plan_version: int
    plan_hash: str
    currency: str
    quota: Decimal | None
    credited: Decimal
    attainment: Decimal | None
    lines: tuple[Line, ...]

    @property
    def total(self) -> Decimal:
        """Sum of every line."""
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def earned(self) -> Decimal:
        """The period's own lines (everything but adjustments of earlier periods)."""
        return sum((ln.amount for ln in self.lines if ln.kind != PRIOR), ZERO)

    def adjustments(self) -> dict[str, Decimal]:
        """Adjustment amounts by the earlier period they correct."""
        found: dict[str, Decimal] = {}
        for ln in self.lines:
            if ln.kind == PRIOR:
                origin = ln.component.removeprefix("prior:")
                found[origin] = found.get(origin, ZERO) + ln.amount
        return found

    def subtotals(self) -> dict[str, Decimal]:
        """Totals per component, in line order."""
        totals: dict[str, Decimal] = {}
        for ln in self.lines:
            totals[ln.component] = totals.get(ln.component, ZERO) + ln.amount
        return totals

    def as_dict(self) -> dict[str, Any]:
        """The statement as a JSON-ready dict, hash excluded (the hashed content)."""
        return {
            "rep_id": self.rep_id,
            "period": self.period,
            "plan_id": self.plan_id,
            "plan_version": self.plan_version,
            "plan_hash": self.plan_hash,
            "currency": self.currency,
            "quota": None if self.quota is None else str(self.quota),
            "credited": str(self.credited),
            "attainment": None if self.attainment is None else str(self.attainment),
            "lines": [ln.as_dict() for ln in self.lines],
            "subtotals": {k: str(v) for k, v in self.subtotals().items()},
            "total": str(self.total),
        }

    @property
    def hash(self) -> str:
        """sha256 of the canonical JSON of the statement."""
        return content_hash(self.as_dict())

    def canonical(self) -> bytes:
        """The canonical bytes the hash is taken over."""
        return canonical_json(self.as_dict())


# --------------------------------------------------------------- plan versions


@dataclass(frozen=True)
class PlanBook:
    """Every published plan version, and which one applies to a rep in a period."""

    versions: tuple[PlanVersion, ...]

    @classmethod
    def from_facts(cls, facts: Facts) -> PlanBook:
        """The versions published in the log."""
        found = [
            PlanVersion.from_event(e)
            for plan_id in sorted(facts.plan_versions)
            for _, e in sorted(facts.plan_versions[plan_id].items())
        ]
        return cls(tuple(found))

    def in_force(self, plan_id: str, day: date) -> PlanVersion | None:
        """The newest version of a plan whose effective dates include a day."""
        best = None
        for v in self.versions:
            newer = best is None or v.plan.version > best.plan.version
            if v.plan.plan_id == plan_id and v.plan.in_force_on(day) and newer:
                best = v
        return best

    def plan_ids(self) -> list[str]:
        """The plan ids, sorted."""
        return sorted({v.plan.plan_id for v in self.versions})

    def periods(self, facts: Facts) -> list[Period]:
        """Every period of every plan's kind, from its start to the latest effective date the
        facts know (the periods statements and boards are kept for)."""
        last = max(
            [d.won.close_date for d in facts.deals.values() if d.won is not None]
            + [Period.parse(p).end for (_, _, p) in facts.quotas]
            + [v.plan.effective_from for v in self.versions],
            default=date.min,
        )
        found: set[Period] = set()
        for v in self.versions:
            end = min(last, v.plan.effective_to or last)
            current = Period.containing(v.plan.effective_from, v.plan.period)
            while current.start <= end:
                found.add(current)
                current = current.next()
        return sorted(found, key=lambda p: (p.start, p.end))

    def gamified_for(self, facts: Facts, rep_id: str, period: Period) -> list[PlanVersion]:
        """The versions with points or badge rules in force at the period's end that cover
        the rep (in that plan's period containing the day)."""
        found = []
        for plan_id in self.plan_ids():
            version = self.in_force(plan_id, period.end)
            if version is None or (version.plan.points is None and not version.plan.badges):
                continue
            plan_period = Period.containing(period.end, version.plan.period)
            if version in self.for_rep(facts, rep_id, plan_period):
                found.append(version)
        return found

    def for_rep(self, facts: Facts, rep_id: str, period: Period) -> list[PlanVersion]:
        """The versions (one per plan) in force on the period's last day that cover the rep
        as placed on their last day employed in the period."""
        rep = facts.reps.get(rep_id)
        if rep is None or rep.days_in(period) == 0:
            return []
        day = rep.last_day_in(period)
        assert day is not None
        found = []
        for plan_id in self.plan_ids():
            v = self.in_force(plan_id, period.end)
            if v is not None and v.plan.period == period.kind and covers(v.plan, rep, day):
                found.append(v)
        return found


def covers(plan: Plan, rep: Rep, day: date) -> bool:
    """Whether a plan covers a rep (by id, team or role) on a day."""
    c = plan.covers
    if rep.rep_id in c.reps:
        return True
    team, role = rep.team_on(day), rep.role_on(day)
    return (team is not None and team in c.teams) or (role is not None and role.value in c.roles)


# -------------------------------------------------------------------- credits


@dataclass(frozen=True)
class Credited:
    """A rep's credit for one deal after clawback rules, with the events behind it."""

    deal: Deal
    credit: Credit
    amount: Decimal
    """The rep's share of the deal amount for commission."""
    deal_amount: Decimal
    """The whole deal's amount for commission (after clawback rules): what deal-amount
    tiers and amount filters measure."""
    event_ids: tuple[str, ...]

    @property
    def deal_id(self) -> str:
        """The deal's id."""
        return self.deal.deal_id


def clawback_amount(deal: Deal, plan: Plan) -> tuple[Decimal, tuple[str, ...]]:
    """A deal's amount for commission: upward amendments always count, downward ones and
    cancellations only within the clawback window (a cancellation removes ``share`` %)."""
    won = deal.won
    assert won is not None
    window = plan.clawback.window_days

    def within(day: date) -> bool:
        return (day - won.close_date).days <= window

    amount, ids = won.amount, [won.event_id]
    for a in deal.amendments:
        if a.amount >= amount or within(a.effective):
            amount = a.amount
            ids.append(a.event_id)
    cancel = deal.cancellation
    if cancel is not None and within(cancel.cancelled_date):
        amount = amount * (HUNDRED - plan.clawback.share) / HUNDRED
        ids.append(cancel.event_id)
    return amount, tuple(ids)


def credits_for(facts: Facts, plan: Plan, rep_id: str, period: Period) -> list[Credited]:
    """The rep's credits for deals closed in the period, after clawback rules."""
    found = []
    for deal, credit in facts.credits_by_rep(period, by=plan.crediting).get(rep_id, []):
        amount, ids = clawback_amount(deal, plan)
        amount = _in_plan_currency(facts, plan, deal, amount)
        own = amount * credit.share / HUNDRED
        events = tuple(dict.fromkeys((*credit.event_ids, *ids)))
        found.append(Credited(deal, credit, own, amount, events))
    return found


def quota_for(
    facts: Facts, plan: Plan, rep_id: str, period: Period
) -> tuple[Decimal, tuple[str, ...]] | None:
    """The rep's quota for the period in the plan's currency (prorated if the plan says so)."""
    try:
        quota = rep_quota(facts, rep_id, period, currency=plan.currency, prorate=plan.prorate_quota)
    except AttainmentError as exc:
        raise EvaluationError(f"{exc} (plan {plan.plan_id} pays in {plan.currency})") from None
    return (quota[0], quota[2]) if quota else None


def _in_plan_currency(facts: Facts, plan: Plan, deal: Deal, amount: Decimal) -> Decimal:
    try:
        return deal_in(facts, deal, amount, plan.currency)
    except AttainmentError as exc:
        raise EvaluationError(str(exc)) from None


# ----------------------------------------------------------------- evaluation


@dataclass
class _Context:
    facts: Facts
    version: PlanVersion
    rep_id: str
    period: Period
    credits: list[Credited]
    quota: Decimal | None
    quota_events: tuple[str, ...]
    drafts: list[Line] = field(default_factory=list)

    @property
    def plan(self) -> Plan:
        return self.version.plan

    @property
    def credited(self) -> Decimal:
        return sum((c.amount for c in self.credits), ZERO)

    @property
    def attainment(self) -> Decimal | None:
        if self.quota is None or self.quota == 0:
            return None
        return self.credited * HUNDRED / self.quota

    def money(self, amount: Decimal) -> Decimal:
        return round_money(amount, self.plan.currency)

    def fmt(self, amount: Decimal) -> str:
        return format_money(amount, self.plan.currency)

    def add(self, **kw: Any) -> None:
        self.drafts.append(Line(number=0, **kw))


def _pct(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1'))} %"


def _needs_attainment(ctx: _Context, component: str) -> Decimal:
    attainment = ctx.attainment
    if attainment is None and ctx.credited == 0:
        return ZERO  # nothing credited: no quota is needed to know nothing is earned
    if attainment is None:
        raise EvaluationError(
            f"{ctx.rep_id} has no quota for {ctx.period}: component {component!r} of plan "
            f"{ctx.plan.plan_id} v{ctx.plan.version} is measured on attainment"
        )
    return attainment


def matches(deal: Deal, conditions: Sequence[Condition], amount: Decimal | None = None) -> bool:
    """Whether a won deal satisfies every condition of a filter (``amount`` is the deal amount
    to test, by default the amount after every amendment)."""
    won = deal.won
    if won is None:
        return False
    attributes = deal.attributes
    for c in conditions:
        actual: Any
        if c.field is DealField.NEW_CUSTOMER:
            actual = won.customer.is_new
        elif c.field is DealField.LEAD_SOURCE:
            actual = won.lead_source.value if won.lead_source else None
        elif c.field is DealField.AMOUNT:
            actual = deal.amount if amount is None else amount
        else:
            actual = attributes.get(c.field.value)
        if not _test(actual, c):
            return False
    return True


def _test(actual: Any, c: Condition) -> bool:
    match c.op:
        case Operator.EQ:
            return bool(actual == c.value)
        case Operator.NE:
            return bool(actual != c.value)
        case Operator.IN:
            return actual in c.value  # type: ignore[operator]
        case Operator.NOT_IN:
            return actual not in c.value  # type: ignore[operator]
        case Operator.GTE:
            return actual is not None and actual >= c.value  # type: ignore[operator]
        case Operator.LTE:
            return actual is not None and actual <= c.value  # type: ignore[operator]


def _gate(ctx: _Context, component_id: str, gate: Decimal | None) -> bool:
    """True if the gate stops the component (and a zero line says so)."""
    if gate is None:
        return False
    attainment = _needs_attainment(ctx, component_id)
    if attainment >= gate:
        return False
    ctx.add(
        component=component_id,
        kind="gate",
        description=f"gate not met: attainment {_pct(attainment)} is below {gate} %",
        amount=ZERO,
        base=ctx.credited,
        rate=gate,
        event_ids=ctx.quota_events,
    )
    return True


def _cap(ctx: _Context, component_id: str, cap: Decimal | None, start: int) -> None:
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


def _tier_label(tier: Tier | Band, upper: Decimal | None, unit: str) -> str:
    hi = "∞" if upper is None else f"{upper}{unit}"
    return f"[{tier.start}{unit}, {hi})"


def _uppers(steps: Sequence[Tier] | Sequence[Band]) -> list[Decimal | None]:
    return [steps[i + 1].start if i + 1 < len(steps) else None for i in range(len(steps))]


def _slices(
    value: Decimal, steps: Sequence[Tier] | Sequence[Band], per: Decimal = Decimal(1)
) -> list[tuple[int, Decimal]]:
    """(step index, piece of value) for each step the value reaches into, bounds scaled by
    ``per`` (an attainment bound of 50 % with per = quota / 100 is half the quota)."""
    found = []
    for i, upper in enumerate(_uppers(steps)):
        low = steps[i].start * per
        top = value if upper is None else min(value, upper * per)
        if top > low:
            found.append((i, top - low))
    return found


def _reached(value: Decimal, steps: Sequence[Tier] | Sequence[Band]) -> int:
    """Index of the last step whose lower bound the value reaches."""
    return max(i for i, step in enumerate(steps) if value >= step.start)


def _rate(ctx: _Context, comp: RateComponent) -> None:
    start = len(ctx.drafts)
    if _gate(ctx, comp.id, comp.gate):
        return
    counted = [c for c in ctx.credits if matches(c.deal, comp.filter, c.deal_amount)]
    base = sum((c.amount for c in counted), ZERO)
    deal_ids = tuple(c.deal_id for c in counted)
    events = tuple(dict.fromkeys(e for c in counted for e in c.event_ids))
    if comp.mode is RateMode.FLAT:
        assert comp.rate is not None
        ctx.add(
            component=comp.id,
            kind="commission",
            description=f"{comp.label}: {comp.rate} % of {ctx.fmt(base)}",
            amount=ctx.money(base * comp.rate / HUNDRED),
            base=base,
            rate=comp.rate,
            deal_ids=deal_ids,
            event_ids=events,
        )
    elif comp.measure is Measure.ATTAINMENT:
        _attainment_tiers(ctx, comp, base, deal_ids, events)
    else:
        for c in counted:
            _deal_tiers(ctx, comp, c)
    _cap(ctx, comp.id, comp.cap, start)


def _attainment_tiers(
    ctx: _Context,
    comp: RateComponent,
    base: Decimal,
    deal_ids: tuple[str, ...],
    events: tuple[str, ...],
) -> None:
    attainment = _needs_attainment(ctx, comp.id)
    quota = ctx.quota
    if quota is None:
        return  # nothing credited and no quota: nothing earned
    events = (*events, *ctx.quota_events)
    uppers = _uppers(comp.tiers)
    if comp.mode is RateMode.RETROACTIVE:
        reached = _reached(attainment, comp.tiers)
        tier = comp.tiers[reached]
        ctx.add(
            component=comp.id,
            kind="commission",
            description=(
                f"{comp.label}: attainment {_pct(attainment)} reaches tier "
                f"{_tier_label(tier, uppers[reached], ' %')}: {tier.rate} % of all {ctx.fmt(base)}"
            ),
            amount=ctx.money(base * tier.rate / HUNDRED),
            base=base,
            tier=_tier_label(tier, uppers[reached], " %"),
            rate=tier.rate,
            deal_ids=deal_ids,
            event_ids=events,
        )
        return
    for i, piece in _slices(base, comp.tiers, quota / HUNDRED):
        tier, label = comp.tiers[i], _tier_label(comp.tiers[i], uppers[i], " %")
        ctx.add(
            component=comp.id,
            kind="commission",
            description=f"{comp.label}: {ctx.fmt(piece)} in tier {label} at {tier.rate} %",
            amount=ctx.money(piece * tier.rate / HUNDRED),
            base=piece,
            tier=label,
            rate=tier.rate,
            deal_ids=deal_ids,
            event_ids=events,
        )


def _deal_tiers(ctx: _Context, comp: RateComponent, c: Credited) -> None:
    """Tiers measured on the whole deal's amount for commission (bounds are amounts in the plan
    currency); a rep with a split is paid their share of what the whole deal earns."""
    uppers = _uppers(comp.tiers)
    share = c.credit.share / HUNDRED
    of_share = "" if c.credit.share == HUNDRED else f" x {c.credit.share} % share"
    if comp.mode is RateMode.RETROACTIVE:
        reached = _reached(c.deal_amount, comp.tiers)
        tier = comp.tiers[reached]
        label = _tier_label(tier, uppers[reached], "")
        ctx.add(
            component=comp.id,
            kind="commission",
            description=(
                f"{comp.label}: deal {c.deal_id} of {ctx.fmt(c.deal_amount)} in tier {label}: "
                f"{tier.rate} % of {ctx.fmt(c.amount)}"
            ),
            amount=ctx.money(c.amount * tier.rate / HUNDRED),
            base=c.amount,
            tier=label,
            rate=tier.rate,
            deal_ids=(c.deal_id,),
            event_ids=c.event_ids,
        )
        return
    for i, piece in _slices(c.deal_amount, comp.tiers):
        tier, label = comp.tiers[i], _tier_label(comp.tiers[i], uppers[i], "")
        ctx.add(
            component=comp.id,
            kind="commission",
            description=(
                f"{comp.label}: deal {c.deal_id}, {ctx.fmt(piece)} in tier {label} "
                f"at {tier.rate} %{of_share}"
            ),
            amount=ctx.money(piece * share * tier.rate / HUNDRED),
            base=piece * share,
            tier=label,
            rate=tier.rate,
            deal_ids=(c.deal_id,),
            event_ids=c.event_ids,
        )


def _target_incentive(ctx: _Context, comp: TargetIncentive) -> None:
    start = len(ctx.drafts)
    if _gate(ctx, comp.id, comp.gate):
        return
    attainment = _needs_attainment(ctx, comp.id)
    deal_ids = tuple(c.deal_id for c in ctx.credits)
    events = (*dict.fromkeys(e for c in ctx.credits for e in c.event_ids), *ctx.quota_events)
    uppers = _uppers(comp.bands)
    for i, piece in _slices(attainment, comp.bands):
        band, label = comp.bands[i], _tier_label(comp.bands[i], uppers[i], " %")
        ctx.add(
            component=comp.id,
            kind="target_incentive",
            description=(
                f"{comp.label}: {ctx.fmt(comp.target)} x {_pct(piece)} of attainment "
                f"in band {label} x {band.multiplier}"
            ),
            amount=ctx.money(comp.target * piece / HUNDRED * band.multiplier),
            base=piece,
            tier=label,
            rate=band.multiplier,
            deal_ids=deal_ids,
            event_ids=events,
        )
    _cap(ctx, comp.id, comp.cap, start)


def _spiff(ctx: _Context, comp: Spiff) -> None:
    for c in ctx.credits:
        won = c.deal.won
        assert won is not None
        if c.amount == 0 or not matches(c.deal, comp.filter, c.deal_amount):
            continue
        if comp.window is not None and not comp.window.start <= won.close_date <= comp.window.end:
            continue
        share = c.credit.share
        if comp.amount_per_deal is not None:
            amount = comp.amount_per_deal * share / HUNDRED
            what = f"{ctx.fmt(comp.amount_per_deal)} per deal" + (
                f" x {share} % share" if share != HUNDRED else ""
            )
            base, rate = comp.amount_per_deal, None
        else:
            assert comp.percent is not None
            amount = c.amount * comp.percent / HUNDRED
            what = f"{comp.percent} % of {ctx.fmt(c.amount)}"
            base, rate = c.amount, comp.percent
        ctx.add(
            component=comp.id,
            kind="spiff",
            description=f"{comp.label}: deal {c.deal_id}, {what}",
            amount=ctx.money(amount),
            base=base,
            rate=rate,
            deal_ids=(c.deal_id,),
            event_ids=c.event_ids,
        )


def _is_report(facts: Facts, rep_id: str, manager_id: str, day: date, depth: Depth) -> bool:
    """Whether rep_id reports to manager_id on a day (directly, or through the chain)."""
    seen: set[str] = set()
    current = rep_id
    while True:
        rep = facts.reps.get(current)
        boss = rep.manager_on(day) if rep is not None else None
        if boss is None or boss in seen:
            return False
        if boss == manager_id:
            return True
        if depth is Depth.DIRECT:
            return False
        seen.add(boss)
        current = boss


def _override(ctx: _Context, comp: Override) -> None:
    by_report: dict[str, list[Credited]] = {}
    for deal in ctx.facts.won_deals(ctx.period):
        won = deal.won
        assert won is not None
        amount, ids = clawback_amount(deal, ctx.plan)
        amount = _in_plan_currency(ctx.facts, ctx.plan, deal, amount)
        for credit in ctx.facts.credits(deal, by=ctx.plan.crediting):
            if credit.rep_id == ctx.rep_id:
                continue
            if _is_report(ctx.facts, credit.rep_id, ctx.rep_id, won.close_date, comp.depth):
                own = amount * credit.share / HUNDRED
                events = tuple(dict.fromkeys((*credit.event_ids, *ids)))
                credited = Credited(deal, credit, own, amount, events)
                by_report.setdefault(credit.rep_id, []).append(credited)
    for report in sorted(by_report):
        credits = by_report[report]
        base = sum((c.amount for c in credits), ZERO)
        ctx.add(
            component=comp.id,
            kind="override",
            description=f"{comp.label}: {comp.rate} % of {report}'s credited {ctx.fmt(base)}",
            amount=ctx.money(base * comp.rate / HUNDRED),
            base=base,
            rate=comp.rate,
            deal_ids=tuple(c.deal_id for c in credits),
            event_ids=tuple(dict.fromkeys(e for c in credits for e in c.event_ids)),
        )


def _own_lines(facts: Facts, version: PlanVersion, rep_id: str, period: Period) -> _Context:
    """Every line of the period's own components, draw excepted."""
    plan = version.plan
    quota = quota_for(facts, plan, rep_id, period)
    ctx = _Context(
        facts,
        version,
        rep_id,
        period,
        credits_for(facts, plan, rep_id, period),
        quota[0] if quota else None,
        quota[1] if quota else (),
    )
    for comp in plan.components:
        match comp:
            case RateComponent():
                _rate(ctx, comp)
            case TargetIncentive():
                _target_incentive(ctx, comp)
            case Spiff():
                _spiff(ctx, comp)
            case Override():
                _override(ctx, comp)
            case Draw():
                pass
    for m in facts.manual_adjustments.get((rep_id, str(period)), []):
        if m.currency != plan.currency:
            raise EvaluationError(
                f"manual adjustment {m.event_id} is in {m.currency}, "
                f"the plan pays in {plan.currency}"
            )
        ctx.add(
            component="manual",
            kind="manual",
            description=f"manual adjustment by {m.posted_by}: {m.reason}",
            amount=ctx.money(m.amount),
            event_ids=(m.event_id,),
        )
    return ctx


def _draw(facts: Facts, version: PlanVersion, rep_id: str, period: Period, ctx: _Context) -> None:
    draw = next((c for c in version.plan.components if isinstance(c, Draw)), None)
    if draw is None:
        return
    owed = ZERO
    current = Period.containing(version.plan.effective_from, period.kind)
    rep = facts.reps.get(rep_id)
    while current < period:
        if rep is not None and rep.days_in(current) > 0:
            earned = sum(
                (ln.amount for ln in _own_lines(facts, version, rep_id, current).drafts), ZERO
            )
            owed = _settle(earned, draw, owed)[1]
        current = current.next()
    earned = sum((ln.amount for ln in ctx.drafts), ZERO)
    line_amount, after = _settle(earned, draw, owed)
    if line_amount > 0:
        ctx.add(
            component=draw.id,
            kind="draw",
            description=(
                f"{draw.label}: earnings {ctx.fmt(earned)} below the draw of "
                f"{ctx.fmt(draw.amount)}"
                + (f"; owed after: {ctx.fmt(after)}" if draw.recoverable else "")
            ),
            amount=ctx.money(line_amount),
            base=earned,
        )
    elif line_amount < 0:
        ctx.add(
            component=draw.id,
            kind="draw_recovery",
            description=(
                f"{draw.label}: recovers {ctx.fmt(-line_amount)} of {ctx.fmt(owed)} owed "
                f"from earnings above the draw; owed after: {ctx.fmt(after)}"
            ),
            amount=ctx.money(line_amount),
            base=earned,
        )


def _settle(earned: Decimal, draw: Draw, owed: Decimal) -> tuple[Decimal, Decimal]:
    """(draw line amount, owed afterwards) for one period's earnings."""
    if earned < draw.amount:
        top_up = draw.amount - earned
        return top_up, owed + top_up if draw.recoverable else owed
    recovered = min(owed, earned - draw.amount)
    return -recovered, owed - recovered


def _first_open_after(facts: Facts, period: Period) -> Period:
    current = period.next()
    while str(current) in facts.closed_periods:
        current = current.next()
    return current


def _paid(facts: Facts, period: Period, rep_id: str, plan_id: str) -> tuple[Decimal, Decimal]:
    """(earned as sealed in the period's close, adjustments for it sealed in later closes)."""
    closed = facts.closed_periods[str(period)]
    earned = sum(
        (p.earned for p in closed.payouts if p.rep_id == rep_id and p.plan_id == plan_id), ZERO
    )
    adjusted = ZERO
    later = period.next()
    while str(later) in facts.closed_periods:
        for p in facts.closed_periods[str(later)].payouts:
            if p.rep_id == rep_id and p.plan_id == plan_id:
                adjusted += sum((a.amount for a in p.adjustments if a.period == str(period)), ZERO)
        later = later.next()
    return earned, adjusted


def _prior_periods(
    facts: Facts,
    book: PlanBook | None,
    version: PlanVersion,
    rep_id: str,
    period: Period,
    ctx: _Context,
) -> None:
    """Adjustment lines for closed periods whose first open successor is this period."""
    if str(period) in facts.closed_periods:
        sealed = facts.closed_periods[str(period)]
        for p in sealed.payouts:
            if p.rep_id == rep_id and p.plan_id == version.plan.plan_id:
                for a in p.adjustments:
                    ctx.add(
                        component=f"prior:{a.period}",
                        kind=PRIOR,
                        description=(
                            f"adjustment for {a.period}, as sealed when {period} was closed"
                        ),
                        amount=a.amount,
                        event_ids=(sealed.event_id,),
                    )
        return
    for name in sorted(facts.closed_periods):
        try:
            closed = Period.parse(name)
        except ValueError:  # pragma: no cover - names are validated at ingest
            continue
        if (
            closed.kind != period.kind
            or not closed < period
            or _first_open_after(facts, closed) != period
        ):
            continue
        then = version
        if book is not None:
            then = book.in_force(version.plan.plan_id, closed.end) or version
        sealed_at = facts.recorded.get(facts.closed_periods[name].event_id, "")
        recomputed = _own_lines(facts, then, rep_id, closed)
        _draw(facts, then, rep_id, closed, recomputed)
        now_total = sum((ln.amount for ln in recomputed.drafts), ZERO)
        earned, adjusted = _paid(facts, closed, rep_id, version.plan.plan_id)
        delta = now_total - earned - adjusted
        if delta == 0:
            continue
        behind = dict.fromkeys(e for ln in recomputed.drafts for e in ln.event_ids)
        behind.update(dict.fromkeys(_touching(facts, then, rep_id, closed)))
        causes = tuple(e for e in behind if facts.recorded.get(e, "") > sealed_at) or tuple(behind)
        ctx.add(
            component=f"prior:{name}",
            kind=PRIOR,
            description=(
                f"adjustment for closed period {name}: recomputed {ctx.fmt(now_total)} "
                f"- paid {ctx.fmt(earned + adjusted)}"
            ),
            amount=ctx.money(delta),
            base=now_total,
            deal_ids=tuple(dict.fromkeys(d for ln in recomputed.drafts for d in ln.deal_ids)),
            event_ids=causes,
        )


def _touching(facts: Facts, version: PlanVersion, rep_id: str, period: Period) -> list[str]:
    """Pay events of a period that concern a rep, whether they now credit the rep or no longer
    do: the deals closed in it that name the rep (in any split) or fall in a territory the rep
    owned at some point, their territory's ownership changes, the rep's quota, manual
    adjustments, and the plan version."""
    found: list[str] = []
    for deal in facts.won_deals(period):
        won = deal.won
        assert won is not None
        named = {won.rep_id, *(s.rep_id for s in won.splits or ())}
        named |= {s.rep_id for a in deal.amendments for s in a.splits or ()}
        placed = facts.territory_for(deal)
        territory = placed[0] if placed else None
        ownerships = (
            [o for o in territory.ownerships if o.effective <= period.end] if territory else []
        )
        owned = [o for o in ownerships if any(s.rep_id == rep_id for s in o.owners)]
        if rep_id in named or owned:
            found += deal.pay_event_ids
            found += [o.event_id for o in ownerships]
    entries = facts.quotas.get((QuotaSubject.REP, rep_id, str(period)), [])
    found += [q.event_id for q in entries]
    found += [m.event_id for m in facts.manual_adjustments.get((rep_id, str(period)), [])]
    found.append(version.event_id)
    return found


def evaluate(
    facts: Facts,
    version: PlanVersion,
    rep_id: str,
    period: Period,
    *,
    book: PlanBook | None = None,
) -> Statement:
    """The statement of a rep for a period under a plan version (pure).

    ``book`` gives the versions in force in earlier periods, for adjustments of closed
    periods; without it, earlier periods are recomputed under ``version`` too."""
    if version.plan.period != period.kind:
        raise EvaluationError(
            f"plan {version.plan.plan_id} v{version.plan.version} pays per "
            f"{version.plan.period.value}, "
            f"not per {period.kind.value} ({period})"
        )
    ctx = _own_lines(facts, version, rep_id, period)
    _draw(facts, version, rep_id, period, ctx)
    _prior_periods(facts, book, version, rep_id, period, ctx)
    lines = tuple(replace(ln, number=i) for i, ln in enumerate(ctx.drafts, start=1))
    return Statement(
        rep_id=rep_id,
        period=str(period),
        plan_id=version.plan.plan_id,
        plan_version=version.plan.version,
        plan_hash=version.content_hash,
        currency=version.plan.currency,
        quota=ctx.quota,
        credited=ctx.credited,
        attainment=ctx.attainment,
        lines=lines,
    )


def statements(
    facts: Facts, period: Period, *, book: PlanBook | None = None, reps: Iterable[str] | None = None
) -> list[Statement]:
    """Every covered rep's statements for a period under the versions in force (sorted)."""
    book = book or PlanBook.from_facts(facts)
    found = []
    for rep_id in sorted(reps if reps is not None else facts.reps):
        for version in book.for_rep(facts, rep_id, period):
            found.append(evaluate(facts, version, rep_id, period, book=book))
    return found
