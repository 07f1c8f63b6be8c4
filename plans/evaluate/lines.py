"""A period's own lines: each component through its kind's handler, in plan order, then
manual adjustments, then the components paid on those earnings (a draw)."""

from __future__ import annotations

from functools import partial

from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.evaluate.book import PlanBook
from plans.evaluate.components import handler_for
from plans.evaluate.context import Context, Held
from plans.evaluate.credits import credits_for, quota_for
from plans.evaluate.holdback import hold, releases, settle
from plans.evaluate.statement import EvaluationError
from plans.model import Release


def earned_lines(
    facts: Facts,
    version: PlanVersion,
    rep_id: str,
    period: Period,
    *,
    book: PlanBook | None = None,
    settled: bool = True,
) -> Context:
    """Every line the period earns on its own: components (and what they hold back), manual
    adjustments, and the releases and forfeits of held pay, without the components paid on
    those earnings. ``settled=False`` leaves out manual adjustments, releases and forfeits
    (what an earlier period's holdbacks are read from)."""
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
        partial(earned_lines, facts, version, rep_id, book=book),
    )
    for comp in plan.components:
        handler = handler_for(comp)
        if not handler.on_earnings:
            start = len(ctx.drafts)
            handler.pay(ctx, comp)
            hold(ctx, comp, start, handler.pay)
    if not settled:
        return ctx
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
    versions = _versions(book, version)
    settle(ctx, partial(_held_in, facts, versions, rep_id), releases_of(versions))
    return ctx


def _versions(book: PlanBook | None, version: PlanVersion) -> list[PlanVersion]:
    """The versions of the plan whose holdbacks a period may release: every published one."""
    if book is None:
        return [version]
    found = [v for v in book.versions if v.plan.plan_id == version.plan.plan_id]
    return found if version in found else [*found, version]


def releases_of(versions: list[PlanVersion]) -> list[Release]:
    """Every release condition of the versions' components."""
    return [r for v in versions for r in releases(v.plan.components)]


def _held_in(facts: Facts, versions: list[PlanVersion], rep_id: str, period: Period) -> list[Held]:
    """What an earlier period held back, under the newest version in force during it
    (nothing before the plan began)."""
    then = [
        v
        for v in versions
        if v.plan.period == period.kind
        and v.plan.effective_from <= period.end
        and (v.plan.effective_to is None or v.plan.effective_to >= period.start)
    ]
    if not then:
        return []
    newest = max(then, key=lambda v: v.plan.version)
    return earned_lines(facts, newest, rep_id, period, settled=False).held


def period_lines(
    facts: Facts,
    version: PlanVersion,
    rep_id: str,
    period: Period,
    *,
    book: PlanBook | None = None,
) -> Context:
    """Every line of a period, before adjustments of earlier closed periods: what it earns,
    then what is paid on those earnings."""
    ctx = earned_lines(facts, version, rep_id, period, book=book)
    for comp in version.plan.components:
        handler = handler_for(comp)
        if handler.on_earnings:
            handler.pay(ctx, comp)
    return ctx
