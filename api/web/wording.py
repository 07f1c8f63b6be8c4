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
from incentive_engine.domain.kpis import KpiError, PayableKpi, Score, score
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.evaluate import PRIOR, EvaluationError, Line, Statement
from plans.evaluate.components.team_pool import NO_SHARE, SHARE, UNPAID, team_pool_of
from plans.evaluate.holdback import forfeit_on, release_on
from plans.evaluate.statement import FORFEIT, HOLDBACK, RELEASE
from plans.model import (
    ON_MARGIN,
    PERCENT_KPIS,
    Component,
    Draw,
    KpiBonus,
    KpiScope,
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
_BOUND = re.compile(r"[0-9.]+( %)?")
_NO_DATA = {
    PayableKpi.WIN_RATE: "no decided deals (won or lost)",
    PayableKpi.LEAD_CONVERSION: "no leads created",
    PayableKpi.ATTAINMENT: "no quota",
}
"""Why a ratio KPI has no value (message ids)."""
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
        on_deal = isinstance(comp, RateComponent) and comp.measure is not Measure.ATTAINMENT
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

    def kpi_value(self, s: Score, comp: KpiBonus) -> str:
        """A KPI bonus's KPI and its value, for whose KPI it is, in the reader's language."""
        _ = self.f.gettext
        n, whole = self.f.number(s.part), self.f.number(s.whole)
        match s.kpi:
            case PayableKpi.WIN_RATE:
                what = _("win rate {value} ({part} of {whole} decided deals)",
                         value=self.f.percent(s.value), part=n, whole=whole)  # fmt: skip
            case PayableKpi.LEAD_CONVERSION:
                what = _("lead conversion {value} ({part} of {whole} leads qualified)",
                         value=self.f.percent(s.value), part=n, whole=whole)  # fmt: skip
            case PayableKpi.ATTAINMENT if comp.scope is not KpiScope.REP:
                what = _("attainment {value}", value=self.f.percent(s.value))
            case PayableKpi.ATTAINMENT:
                money = s.currency or self.statement.currency
                what = _("attainment {value} ({part} credited of a quota of {whole})",
                         value=self.f.percent(s.value), part=self.f.money(s.part, money),
                         whole=self.f.money(s.whole, money))  # fmt: skip
            case PayableKpi.DEALS_WON:
                what = _("{n} deals won (not cancelled)", n=n)
            case PayableKpi.NEW_CUSTOMERS:
                what = _("{n} deals won with new customers", n=n)
            case PayableKpi.LEADS:
                what = _("{n} leads created", n=n)
            case PayableKpi.QUALIFIED_LEADS:
                what = _("{n} qualified leads", n=n)
            case _ if comp.activity is not None:
                what = _("{n} activities ({kind})", n=n, kind=_(comp.activity.value))
            case _:
                what = _("{n} activities", n=n)
        if comp.scope is KpiScope.TEAM:
            return _("{what} of team {team}", what=what, team=s.groups[0])
        if comp.scope is KpiScope.TERRITORY:
            return _("{what} of territories {territories}", what=what,
                     territories=", ".join(s.groups))  # fmt: skip
        return what

    def kpi_bonus(self, line: Line, comp: KpiBonus, label: str) -> str:
        """A KPI bonus line in the reader's language, from the KPI's score (the line's own
        words if the facts no longer give the value it was paid on)."""
        _ = self.f.gettext
        period = Period.parse(self.statement.period)
        prorate = self.version.plan.prorate_quota if self.version is not None else True
        try:
            s = score(self.facts, comp.kpi, period, comp.scope.value,  # type: ignore[arg-type]
                      self.statement.rep_id, activity=comp.activity,
                      currency=self.statement.currency, prorate=prorate)  # fmt: skip
        except KpiError:
            return line.description
        if s.value != line.base:
            return line.description
        if not s.groups:
            if comp.scope is KpiScope.TEAM:
                return _("{label}: nothing to pay: {rep} is in no team on their last day in "
                         "{period}", label=label, rep=(s.groups and "") or self.statement.rep_id,
                         period=self.statement.period)  # fmt: skip
            return _("{label}: nothing to pay: {rep} owns no territory on their last day in "
                     "{period}", label=label, rep=self.statement.rep_id,
                     period=self.statement.period)  # fmt: skip
        if s.value is None:
            return _("{label}: nothing to pay: {reason} in {period}", label=label,
                     reason=_(_NO_DATA[s.kpi]), period=self.statement.period)  # fmt: skip
        percent = comp.kpi in PERCENT_KPIS

        def bound(text: str) -> str:
            def one(m: re.Match[str]) -> str:
                value = Decimal(m.group(0).removesuffix(" %"))
                return self.f.rate(value) if percent else self.f.number(value)

            return _BOUND.sub(one, text)

        what = self.kpi_value(s, comp)
        if line.tier is None:
            first = bound(str((comp.thresholds or comp.bands)[0].at))
            if comp.thresholds:
                return _("{label}: {what}: below the first threshold ({bound}), nothing to pay",
                         label=label, what=what, bound=first)  # fmt: skip
            return _("{label}: {what}: below the first band ({bound}), nothing to pay",
                     label=label, what=what, bound=first)  # fmt: skip
        tier, target = bound(line.tier), self.money(comp.target)
        if comp.bands:
            return _("{label}: {what}: band {tier}: {rate} of {target}", label=label, what=what,
                     tier=tier, rate=self.f.rate(line.rate), target=target)  # fmt: skip
        if line.rate is None:
            return _("{label}: {what}: threshold {tier} pays {amount}", label=label, what=what,
                     tier=tier, amount=self.money(line.amount))  # fmt: skip
        return _("{label}: {what}: threshold {tier} pays {rate} of {target}", label=label,
                 what=what, tier=tier, rate=self.f.rate(line.rate), target=target)  # fmt: skip

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
        """The line in the reader's language (naming the group rules it was chosen over)."""
        text = self._describe(line)
        if not line.won_over or self.version is None:
            return text
        labels = {c.id: c.label for c in self.version.plan.components}
        rules = ", ".join(labels.get(i, i) for i in line.won_over)
        return self.f.gettext("{text} (chosen over {rules})", text=text, rules=rules)

    def per_unit(self, line: Line, comp: RateComponent | Spiff) -> str | None:
        """A line paid on one deal or product line, worded (None: worded as it always was)."""
        _ = self.f.gettext
        margin = comp.unit_measure in ON_MARGIN
        flat = isinstance(comp, RateComponent) and comp.mode is RateMode.FLAT
        if not (line.deal_line or line.won_over or margin or (flat and comp.per_unit)):
            return None
        deal = ", ".join(line.deal_ids) or "–"
        unit = (
            _("deal {deal}", deal=deal)
            if line.deal_line is None
            else _("deal {deal} line {line}", deal=deal, line=line.deal_line)
        )
        label, base, rate = comp.label, self.money(line.base), self.f.rate(line.rate)
        if isinstance(comp, Spiff) and line.rate is None and line.deal_line is None:
            return _("{label}: deal {deal}, {amount} per deal", label=label, deal=deal, amount=base)
        if isinstance(comp, Spiff) and line.rate is None:
            return _("{label}: {unit}, {amount} per line", label=label, unit=unit, amount=base)
        if line.tier is None:
            if margin:
                return _("{label}: {unit}, {rate} of margin {base}", label=label, unit=unit,
                         rate=rate, base=base)  # fmt: skip
            return _("{label}: {unit}, {rate} of {base}", label=label, unit=unit, rate=rate,
                     base=base)  # fmt: skip
        tier = self.tier(line, percent=False)
        if margin:
            return _("{label}: {unit}, margin {base} in tier {tier} at {rate}", label=label,
                     unit=unit, base=base, tier=tier, rate=rate)  # fmt: skip
        return _("{label}: {unit}, {base} in tier {tier} at {rate}", label=label, unit=unit,
                 base=base, tier=tier, rate=rate)  # fmt: skip

    def _describe(self, line: Line) -> str:
        """The line in the reader's language, without its group note."""
        _ = self.f.gettext
        comp = self.component(line)
        label = comp.label if comp is not None else line.component
        base, rate = self.money(line.base), self.f.rate(line.rate)
        deal = ", ".join(line.deal_ids) or "–"
        match line.kind:
            case "commission" if isinstance(comp, RateComponent):
                unit = self.per_unit(line, comp)
                if unit is not None:
                    return unit
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
            case "kpi_bonus" if isinstance(comp, KpiBonus):
                return self.kpi_bonus(line, comp, label)
            case "spiff" if isinstance(comp, Spiff):
                unit = self.per_unit(line, comp)
                if unit is not None:
                    return unit
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
            case kind if kind in (HOLDBACK, RELEASE, FORFEIT):
                return self.holdback(line, label, deal)
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

    def holdback(self, line: Line, label: str, deal: str) -> str:
        """A holdback, release or forfeit line: what is held, until when, and from where."""
        _ = self.f.gettext
        found = self.facts.deals.get(line.deal_ids[0]) if line.deal_ids else None
        origin = {"origin": line.origin_period or "–", "line": line.origin_line or "–"}
        if line.kind == RELEASE:
            return _(
                "{label}: releases {amount} held back on deal {deal} in {origin} (line {line})",
                label=label,
                amount=self.money(line.amount),
                deal=deal,
                **origin,
            )
        if line.kind == FORFEIT:
            cancel = found.cancellation if found is not None else None
            return _(
                "{label}: deal {deal} cancelled on {day}: the {held} held back in "
                "{origin} (line {line}) is forfeited, never released",
                label=label,
                deal=deal,
                day=self.f.date(cancel.cancelled_date) if cancel is not None else "–",
                held=self.money(line.base),
                **origin,
            )
        comp = self.component(line)
        rule = getattr(comp, "holdback", None)
        period = Period.parse(self.statement.period)
        day = (
            release_on(self.facts, self.version.plan, rule.release, found, period)
            if rule is not None and self.version is not None
            else None
        )
        values = {"label": label, "rate": self.f.rate(line.rate), "base": self.money(line.base)}
        if forfeit_on(day, found) is not None:
            return _(
                "{label}: {rate} of {base} earned on deal {deal} held back; the deal was "
                "cancelled first, so {held} stays held and is forfeited",
                deal=deal,
                held=self.money(-line.amount),
                **values,
            )
        return _(
            "{label}: {rate} of {base} earned on deal {deal} held back until {day}",
            deal=deal,
            day=self.f.date(day) if day is not None else "–",
            **values,
        )
