"""The evaluator's entry points: one statement, or every covered rep's statements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from incentive_engine.domain.facts import Facts
from incentive_engine.domain.isolation import concerns
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.evaluate.adjustments import prior_periods
from plans.evaluate.book import PlanBook
from plans.evaluate.components import handler_for
from plans.evaluate.lines import period_lines
from plans.evaluate.statement import EvaluationError, Statement


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
    check_left_out(
        facts, rep_id, version.plan.plan_id, period, rests_on(facts, version, rep_id, period)
    )
    ctx = period_lines(facts, version, rep_id, period, book=book)
    prior_periods(facts, book, version, rep_id, period, ctx)
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
        held_balance=ctx.held_balance,
        draw_owed=ctx.draw_owed,
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


def rests_on(facts: Facts, version: PlanVersion, rep_id: str, period: Period) -> frozenset[str]:
    """The other reps whose deals the rep's statement rests on (a team pool's team)."""
    found: set[str] = set()
    for comp in version.plan.components:
        depends_on = handler_for(comp).depends_on
        if depends_on is not None:
            found |= depends_on(facts, version.plan, comp, rep_id, period)
    return frozenset(found - {rep_id})


def check_left_out(
    facts: Facts, rep_id: str, plan_id: str, period: Period, others: frozenset[str] = frozenset()
) -> None:
    """An EvaluationError naming every quarantined event that may concern the statement: its
    figures cannot be trusted until finance voids (or the operator repairs) the event.
    ``others``: reps whose deals the statement also rests on (their quarantined events of a
    period, such as quotas and adjustments, do not concern it)."""
    found = [
        q.describe()
        for q in facts.quarantined.values()
        if concerns(q, rep_id, plan_id, period.start, period.end)
        or (
            q.period is None
            and any(concerns(q, other, plan_id, period.start, period.end) for other in others)
        )
    ]
    if found:
        raise EvaluationError(
            f"the statement of {rep_id} for {period} under plan {plan_id} cannot be computed: "
            + "; ".join(found)
        )
