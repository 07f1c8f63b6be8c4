"""Retroactive simulation: a draft (or any published) plan version against a baseline version
over a window of history (pure: facts are folded once, then evaluated under both).

A simulation compares each period's own earnings (``Statement.earned``: commission, bonuses,
draw, manual adjustments), not the adjustments of closed periods, so that it measures the
plan change alone.  It never writes to the event store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from incentive_engine.domain.errors import Forbidden, Invalid
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.evaluate import PlanBook, Statement, covers, evaluate
from plans.points import points

ZERO = Decimal(0)
HUNDRED = Decimal(100)
BUCKETS: tuple[tuple[str, Decimal | None, Decimal | None], ...] = (
    ("loses > 20 %", None, Decimal(-20)),
    ("loses 5–20 %", Decimal(-20), Decimal(-5)),
    ("within ±5 %", Decimal(-5), Decimal(5)),
    ("gains 5–20 %", Decimal(5), Decimal(20)),
    ("gains > 20 %", Decimal(20), None),
)
"""Bands of the distribution of changes (a lower bound is inclusive, an upper one exclusive)."""


class SimulationError(Invalid, ValueError):
    """A simulation that cannot run (window not in the plan's period kind, other currency...)."""


class SimulationForbidden(Forbidden):
    """A simulation whose aggregate would reveal one rep's pay to a reader who may not see it."""


@dataclass(frozen=True)
class RepResult:
    """One rep's baseline and simulated earnings (and points) over the window."""

    rep_id: str
    name: str
    baseline: Decimal
    simulated: Decimal
    baseline_points: Decimal | None = None
    simulated_points: Decimal | None = None
    errors: tuple[str, ...] = ()

    @property
    def difference(self) -> Decimal:
        """Simulated minus baseline."""
        return self.simulated - self.baseline

    @property
    def change(self) -> Decimal | None:
        """The difference in percent of the baseline (None when the baseline is zero)."""
        return None if self.baseline == 0 else self.difference * HUNDRED / self.baseline


@dataclass(frozen=True)
class Simulation:
    """The report: per rep, totals, distribution of changes, points ranks."""

    draft: PlanVersion
    baseline: PlanVersion
    periods: tuple[str, ...]
    reps: tuple[RepResult, ...]
    statements: dict[tuple[str, str, str], Statement] = field(default_factory=dict, compare=False)
    """(rep, period, 'baseline'|'simulated') -> statement, for line-level explanations."""

    @property
    def baseline_total(self) -> Decimal:
        """Total earnings under the baseline."""
        return sum((r.baseline for r in self.reps), ZERO)

    @property
    def simulated_total(self) -> Decimal:
        """Total earnings under the draft."""
        return sum((r.simulated for r in self.reps), ZERO)

    @property
    def cost_change(self) -> Decimal:
        """The change in total cost."""
        return self.simulated_total - self.baseline_total

    @property
    def cost_change_percent(self) -> Decimal | None:
        """The change in total cost in percent of the baseline (None when it is zero)."""
        total = self.baseline_total
        return None if total == 0 else self.cost_change * HUNDRED / total

    def movers(self, count: int = 5) -> tuple[list[RepResult], list[RepResult]]:
        """The reps who gain most and those who lose most, by amount (at most ``count`` of
        each; ties by rep id)."""
        gain = sorted((r for r in self.reps if r.difference > 0), key=_most_gained)
        lose = sorted((r for r in self.reps if r.difference < 0), key=_most_lost)
        return gain[:count], lose[:count]

    def distribution(self) -> dict[str, int]:
        """How many reps gain, lose or stay, and by how much (bands of % change)."""
        counts = {"gain": 0, "lose": 0, "unchanged": 0, "new earnings": 0}
        counts.update({label: 0 for label, _, _ in BUCKETS})
        for r in self.reps:
            if r.difference > 0:
                counts["gain"] += 1
            elif r.difference < 0:
                counts["lose"] += 1
            else:
                counts["unchanged"] += 1
            change = r.change
            if change is None:  # nothing under the baseline
                counts["new earnings"] += 1 if r.simulated else 0
                continue
            for label, low, high in BUCKETS:
                if (low is None or change >= low) and (high is None or change < high):
                    counts[label] += 1
        return counts

    def points_ranks(self) -> list[tuple[str, int, int]]:
        """(rep, baseline rank, simulated rank) by points, where the draft changes points rules
        (ties by rep id: the window has no single 'reached first' instant)."""
        scored = [r for r in self.reps if r.baseline_points is not None]
        if not scored:
            return []
        before = sorted(scored, key=lambda r: (-(r.baseline_points or ZERO), r.rep_id))
        after = sorted(scored, key=lambda r: (-(r.simulated_points or ZERO), r.rep_id))
        rank_before = {r.rep_id: i for i, r in enumerate(before, start=1)}
        rank_after = {r.rep_id: i for i, r in enumerate(after, start=1)}
        return [(r.rep_id, rank_before[r.rep_id], rank_after[r.rep_id]) for r in after]

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what a saved scenario keeps)."""
        return {
            "draft": {
                "plan_id": self.draft.plan.plan_id,
                "version": self.draft.plan.version,
                "content_hash": self.draft.content_hash,
            },
            "baseline": {
                "plan_id": self.baseline.plan.plan_id,
                "version": self.baseline.plan.version,
                "content_hash": self.baseline.content_hash,
            },
            "periods": list(self.periods),
            "baseline_total": str(self.baseline_total),
            "simulated_total": str(self.simulated_total),
            "cost_change": str(self.cost_change),
            "cost_change_percent": None
            if self.cost_change_percent is None
            else str(self.cost_change_percent),
            "distribution": self.distribution(),
            "reps": [
                {
                    "rep_id": r.rep_id,
                    "name": r.name,
                    "baseline": str(r.baseline),
                    "simulated": str(r.simulated),
                    "difference": str(r.difference),
                    "change_percent": None if r.change is None else str(r.change),
                    "baseline_points": None
                    if r.baseline_points is None
                    else str(r.baseline_points),
                    "simulated_points": None
                    if r.simulated_points is None
                    else str(r.simulated_points),
                    "errors": list(r.errors),
                }
                for r in self.reps
            ],
        }

    def aggregated(self) -> dict[str, Any]:
        """The report without any rep's figures, for a reader who may not see pay: totals,
        the distribution and the per-rep changes anonymised (no id, name or amount; sorted
        by change, so the order says nothing of who).  A simulation covering fewer than two
        reps is refused: its totals would be one rep's pay."""
        if len(self.reps) < 2:
            raise SimulationForbidden(
                "this simulation covers fewer than two reps: its totals would reveal one "
                "rep's pay (only finance sees per-rep simulations)"
            )
        full = self.as_dict()
        changes = sorted(
            (r.change for r in self.reps if r.change is not None), key=lambda c: (c, str(c))
        )
        full["reps"] = []
        full["aggregated"] = True
        full["changes_percent"] = [str(c) for c in changes]
        full["new_earnings"] = sum(1 for r in self.reps if r.change is None and r.simulated)
        full["errors"] = sum(len(r.errors) for r in self.reps)
        return full


def _most_gained(r: RepResult) -> tuple[Decimal, str]:
    return (-r.difference, r.rep_id)


def _most_lost(r: RepResult) -> tuple[Decimal, str]:
    return (r.difference, r.rep_id)


def window(first: Period, last: Period) -> list[Period]:
    """The periods from first to last inclusive (same kind)."""
    if first.kind != last.kind or last < first:
        raise SimulationError(
            f"{first}..{last} is not a window of one kind of period", field="from"
        )
    found, current = [], first
    while current <= last:
        found.append(current)
        current = current.next()
    return found


def simulate(
    facts: Facts, draft: PlanVersion, baseline: PlanVersion, periods: Sequence[Period]
) -> Simulation:
    """Evaluate every rep either version covers, in every period of the window, under both."""
    for plan in (draft.plan, baseline.plan):
        wrong = [str(p) for p in periods if p.kind != plan.period]
        if wrong:
            raise SimulationError(
                f"plan {plan.plan_id} v{plan.version} pays per {plan.period.value}; "
                f"the window has {', '.join(wrong)}",
                field="from",
            )
    if draft.plan.currency != baseline.plan.currency:
        raise SimulationError(
            f"the draft pays in {draft.plan.currency}, the baseline in {baseline.plan.currency}",
            field="from",
        )
    book = PlanBook((baseline,))
    # Points are compared only where the draft changes the points rules.
    with_points = draft.plan.points != baseline.plan.points
    statements: dict[tuple[str, str, str], Statement] = {}
    results = []
    for rep_id in sorted(facts.reps):
        rep = facts.reps[rep_id]
        totals = {"baseline": ZERO, "simulated": ZERO}
        scores = {"baseline": ZERO, "simulated": ZERO}
        errors: list[str] = []
        involved = False
        for period in periods:
            day = rep.last_day_in(period)
            if day is None:
                continue
            for label, version in (("baseline", baseline), ("simulated", draft)):
                if not covers(version.plan, rep, day):
                    continue
                involved = True
                try:
                    s = evaluate(facts, version, rep_id, period, book=book)
                except ValueError as exc:
                    errors.append(f"{label} {period}: {exc}")
                    continue
                statements[(rep_id, str(period), label)] = s
                totals[label] += s.earned
                if with_points and version.plan.points is not None:
                    scores[label] += points(facts, version, rep_id, period).total
        if involved:
            results.append(
                RepResult(
                    rep_id,
                    rep.name,
                    totals["baseline"],
                    totals["simulated"],
                    scores["baseline"] if with_points else None,
                    scores["simulated"] if with_points else None,
                    tuple(errors),
                )
            )
    return Simulation(draft, baseline, tuple(str(p) for p in periods), tuple(results), statements)
