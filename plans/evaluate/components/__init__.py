"""One handler per component kind: the table the evaluator pays a plan's components by.

Every kind of the plan model (``plans.model.AnyComponent``) has exactly one entry, checked
when this package is imported: a new kind without a handler fails loudly at start-up
instead of silently paying nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

from incentive_engine.domain.facts import Facts
from incentive_engine.domain.handlers import check_handlers
from incentive_engine.domain.periods import Period
from plans.evaluate.components.draw import draw
from plans.evaluate.components.kpi_bonus import kpi_bonus
from plans.evaluate.components.override import override
from plans.evaluate.components.rate import rate
from plans.evaluate.components.spiff import spiff
from plans.evaluate.components.target_incentive import target_incentive
from plans.evaluate.components.team_pool import pool_reps, team_pool
from plans.evaluate.context import Context
from plans.evaluate.statement import EvaluationError
from plans.model import (
    AnyComponent,
    Component,
    Draw,
    KpiBonus,
    Override,
    Plan,
    RateComponent,
    Spiff,
    TargetIncentive,
    TeamPool,
)


@dataclass(frozen=True)
class Handler:
    """How one component kind pays: its model class, the function that drafts its lines,
    and whether it is paid on the period's earnings (after every other line)."""

    component: type[Component]
    pay: Callable[[Context, Any], None]
    on_earnings: bool = False
    depends_on: Callable[[Facts, Plan, Any, str, Period], frozenset[str]] | None = None
    """Other reps whose events the rep's lines of this kind rest on (a team pool's team), so
    that a quarantined event of theirs stops the statement instead of skewing it."""


def component_kinds() -> dict[str, type[Component]]:
    """Every component kind of the plan model, by its ``kind`` name."""
    union = get_args(AnyComponent)[0]
    return {cls.model_fields["kind"].default: cls for cls in get_args(union)}


HANDLERS: dict[str, Handler] = {
    h.component.model_fields["kind"].default: h
    for h in (
        Handler(RateComponent, rate),
        Handler(TargetIncentive, target_incentive),
        Handler(Spiff, spiff),
        Handler(Override, override),
        Handler(KpiBonus, kpi_bonus),
        Handler(TeamPool, team_pool, depends_on=pool_reps),
        Handler(Draw, draw, on_earnings=True),
    )
}
"""The handler of every component kind, by kind name (taken from its model class)."""

check_handlers(HANDLERS, component_kinds(), "plan component kinds")


def handler_for(component: Component) -> Handler:
    """The handler of a component (an EvaluationError if its kind has none, or the wrong one)."""
    handler = HANDLERS.get(getattr(component, "kind", ""))
    if handler is None or not isinstance(component, handler.component):
        raise EvaluationError(
            f"component {component.id!r} of kind {getattr(component, 'kind', None)!r} "
            "has no handler"
        )
    return handler
