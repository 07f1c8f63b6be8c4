"""Statement lines in the reader's language: each line rendered from its fields (kind, tier,
base, rate, deals, the component of its plan version, the period an adjustment corrects)
through a translated template, money and percentages formatted by locale. The evaluator's
English ``description`` is used only for a kind this module does not know."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from api.web.i18n import Formatter
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.evaluate import PRIOR, EvaluationError, Line, Statement
from plans.evaluate.components.team_pool import NO_SHARE, SHARE, UNPAID, team_pool_of
from plans.model import (
    Component,
    Draw,
    Measure,
    Override,
    PoolSharing,
    RateComponent,
    RateMode,
    Spiff,
    TargetIncentive,
    TeamPool,
)

_TIER = re.compile(r"\[([0-9.]+)( %)?, (∞|[0-9.]+)( %)?\)")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Wording:
    """What describing a statement's lines needs besides the lines: the plan version they
    were computed under (components by id) and the facts (manual adjustments, reports)."""

    statement: Statement
    version: PlanVersion | None
    facts: Facts
    f: Formatter

    def component(self, line: Line) -> Component | None:
        """The plan component a line was paid by (None for adjustments)."""
        if self.version is None:
            return None
        return next((c for c in self.version.plan.components if c.id == line.component), None)

    def money(self, amount: Decimal | None) -> str:
        """An amount in the statement's currency, by locale."""
        return self.f.money(amount, self.statement.currency)

    def tier(self, line: Line, percent: bool) -> str:
        """The line's tier as a half-open range in the reader's notation (``[50 %, 100 %)``)."""
        found = _TIER.fullmatch(line.tier or "")
        if found is None:
            return line.tier or "–"
        low, high = Decimal(found.group(1)), found.group(3)
        if percent:
            top = "∞" if high == "∞" else self.f.rate(Decimal(high))
            return f"[{self.f.rate(low)}, {top})"
        top = "∞" if high == "∞" else self.money(Decimal(high))
        return f"[{self.money(low)}, {top})"

    def tier_of(self, line: Line) -> str:
        """The line's tier for the table: amounts for tiers on a deal's amount, else percent."""
        comp = self.component(line)
        on_deal = isinstance(comp, RateComponent) and comp.measure is Measure.DEAL_AMOUNT
        return self.tier(line, percent=not on_deal)

    def report_of(self, line: Line) -> str:
        """The report an override line pays on: the rep credited with all its deals."""
        wanted = set(line.deal_ids)
        if self.version is None or not wanted:
            return "–"
        by = self.version.plan.crediting
        period = Period.parse(self.statement.period)
        for rep_id, pairs in sorted(self.facts.credits_by_rep(period, by=by).items()):
            if rep_id != self.statement.rep_id and wanted <= {d.deal_id for d, _ in pairs}:
                rep = self.facts.reps.get(rep_id)
                return rep.name if rep is not None and rep.name else rep_id
        return "–"

    def pool_line(self, line: Line, comp: TeamPool, label: str) -> str:
        """A team pool line: the pool, the team's credited revenue behind it and the rep's
        own share, never another member's (the pool is the evaluator's, recomputed)."""
        _ = self.f.gettext
        assert self.version is not None  # a component was found in it
        period = Period.parse(self.statement.period)
        try:
            pool = team_pool_of(self.facts, self.version.plan, comp, self.statement.rep_id, period)
        except EvaluationError:
            return line.description
        if line.kind == NO_SHARE:
            day = self.f.date(period.end)
            if pool.team is None:
                return _("{label}: in no team on {day}: no share", label=label, day=day)
            return _(
                "{label}: not among the members of team {team} on {day}: no share",
                label=label,
                team=pool.team,
                day=day,
            )
        size = self.money(pool.size)
        if pool.funded_by is None:
            funded = _("team {team}'s pool of {pool}", team=pool.team, pool=size)
        else:
            funded = _(
                "team {team}'s pool of {pool} ({rate} of the team's credited {revenue})",
                team=pool.team,
                pool=size,
                rate=self.f.rate(comp.percent),
                revenue=self.money(pool.funded_by),
            )
        if line.kind == UNPAID:
            return _(
                "{label}: {pool}: no member has credit in {period}, nobody is paid",
                label=label,
                pool=funded,
                period=self.statement.period,
            )
        if comp.by is PoolSharing.CREDIT:
            how = _(
                "own credit {own} of the members' {members}",
                own=self.money(pool.weights.get(self.statement.rep_id)),
                members=self.money(pool.total_weight),
            )
        else:
            how = _("an equal share among {n} members", n=self.f.number(len(pool.members)))
        return _("{label}: {pool}, {how}", label=label, pool=funded, how=how)

    def describe(self, line: Line) -> str:
        """The line in the reader's language."""
        _ = self.f.gettext
        comp = self.component(line)
        label = comp.label if comp is not None else line.component
        base, rate = self.money(line.base), self.f.rate(line.rate)
        deal = ", ".join(line.deal_ids) or "–"
        match line.kind:
            case "commission" if isinstance(comp, RateComponent):
                if comp.mode is RateMode.FLAT or line.tier is None:
                    return _("{label}: {rate} of {base}", label=label, rate=rate, base=base)
                if comp.measure is Measure.ATTAINMENT:
                    tier = self.tier(line, percent=True)
                    if comp.mode is RateMode.RETROACTIVE:
                        return _(
                            "{label}: attainment {attainment} reaches tier {tier}: "
                            "{rate} of all {base}",
                            label=label,
                            attainment=self.f.percent(self.statement.attainment),
                            tier=tier,
                            rate=rate,
                            base=base,
                        )
                    return _(
                        "{label}: {base} in tier {tier} at {rate}",
                        label=label,
                        base=base,
                        tier=tier,
                        rate=rate,
                    )
                tier = self.tier(line, percent=False)
                return _(
                    "{label}: deal {deal}, {base} in tier {tier} at {rate}",
                    label=label,
                    deal=deal,
                    base=base,
                    tier=tier,
                    rate=rate,
                )
            case "gate":
                return _(
                    "{label}: gate not met: attainment {attainment} is below {gate}",
                    label=label,
                    attainment=self.f.percent(self.statement.attainment),
                    gate=self.f.rate(line.rate),
                )
            case "cap" if line.base is not None:
                return _(
                    "{label}: capped at {cap} (earned {base})",
                    label=label,
                    cap=self.money(line.base + line.amount),
                    base=base,
                )
            case "target_incentive" if isinstance(comp, TargetIncentive):
                return _(
                    "{label}: {target} × {piece} of attainment in band {tier} × {multiplier}",
                    label=label,
                    target=self.money(comp.target),
                    piece=self.f.rate(line.base),
                    tier=self.tier(line, percent=True),
                    multiplier=self.f.number(line.rate),
                )
            case "spiff" if isinstance(comp, Spiff):
                if line.rate is None:
                    return _(
                        "{label}: deal {deal}, {amount} per deal",
                        label=label,
                        deal=deal,
                        amount=base,
                    )
                return _(
                    "{label}: deal {deal}, {rate} of {base}",
                    label=label,
                    deal=deal,
                    rate=rate,
                    base=base,
                )
            case "override" if isinstance(comp, Override):
                return _(
                    "{label}: {rate} of the revenue credited to {report} ({base})",
                    label=label,
                    rate=rate,
                    report=self.report_of(line),
                    base=base,
                )
            case kind if kind in (SHARE, UNPAID, NO_SHARE) and isinstance(comp, TeamPool):
                return self.pool_line(line, comp, label)
            case "draw" if line.base is not None:
                return _(
                    "{label}: earnings {base} below the draw of {draw}",
                    label=label,
                    base=base,
                    draw=self.money(line.base + line.amount),
                )
            case "draw_recovery" if isinstance(comp, Draw):
                return _(
                    "{label}: recovers {recovered} owed from earnings {base} above the draw "
                    "of {draw}",
                    label=label,
                    recovered=self.money(-line.amount),
                    base=base,
                    draw=self.money(comp.amount),
                )
            case "manual":
                key = (self.statement.rep_id, self.statement.period)
                found = [
                    m
                    for m in self.facts.manual_adjustments.get(key, [])
                    if m.event_id in line.event_ids
                ]
                if found:
                    return _(
                        "Manual adjustment by {who}: {reason}",
                        who=found[0].posted_by,
                        reason=found[0].reason,
                    )
                return _("Manual adjustment")
            case kind if kind == PRIOR:
                origin = line.component.removeprefix("prior:")
                if line.base is None:
                    return _(
                        "Adjustment for {origin}, as sealed when {period} was closed",
                        origin=origin,
                        period=self.statement.period,
                    )
                return _(
                    "Adjustment for closed period {origin}: recomputed {base} − paid {paid}",
                    origin=origin,
                    base=base,
                    paid=self.money(line.base - line.amount),
                )
        return line.description
