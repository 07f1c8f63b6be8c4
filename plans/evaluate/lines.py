"""A period's own lines: each component through its kind's handler, in plan order, then
manual adjustments, then the components paid on those earnings (a draw)."""

from __future__ import annotations

from functools import partial

from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.evaluate.components import handler_for
from plans.evaluate.context import Context
from plans.evaluate.credits import credits_for, quota_for
from plans.evaluate.statement import EvaluationError


def earned_lines(facts: Facts, version: PlanVersion, rep_id: str, period: Period) -> Context:
    """Every line the period earns on its own: components and manual adjustments, without
    the components paid on those earnings."""
    plan = version.plan
    quota = quota_for(facts, plan, rep_id, period)
    ctx = Context(
        facts,
        version,
        rep_id,
        period,
        credits_for(facts, plan, rep_id, period),
        quota[0] if quota else None,
        quota[1] if quota else (),
        partial(earned_lines, facts, version, rep_id),
    )
    for comp in plan.components:
        handler = handler_for(comp)
        if not handler.on_earnings:
            handler.pay(ctx, comp)
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
            event_ids=facts.adjustment_event_ids(m),
        )
    return ctx


def period_lines(facts: Facts, version: PlanVersion, rep_id: str, period: Period) -> Context:
    """Every line of a period, before adjustments of earlier closed periods: what it earns,
    then what is paid on those earnings."""
    ctx = earned_lines(facts, version, rep_id, period)
    for comp in version.plan.components:
        handler = handler_for(comp)
        if handler.on_earnings:
            handler.pay(ctx, comp)
    return ctx
