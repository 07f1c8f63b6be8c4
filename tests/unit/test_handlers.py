"""Dispatch tables a new kind cannot be forgotten in: every component kind, event type, badge
kind, leaderboard metric, filter operator and KPI has its handler, and a table that lacks one
fails loudly (at import, or with a clear error), never silently paying or counting nothing."""

from __future__ import annotations

import importlib
import inspect
from decimal import Decimal
from typing import Any, Literal

import pytest

from incentive_engine.domain import facts as fold_module
from incentive_engine.domain.events import EVENT_TYPES, Event
from incentive_engine.domain.facts import UNCONCERNED, Facts, fold
from incentive_engine.domain.handlers import MissingHandlerError, check_handlers
from incentive_engine.domain.kpis import KPIS
from incentive_engine.domain.leaderboards import METRICS, Metric
from incentive_engine.domain.periods import Period
from plans.evaluate import HANDLERS, EvaluationError, component_kinds, evaluate
from plans.evaluate.components import handler_for
from plans.evaluate.filters import OPERATORS
from plans.model import BadgeKind, Component, Operator
from plans.points import BADGES
from tests.examples.plans import plan, quota, rep
from tests.factories import won

Q1 = Period.parse("2026-Q1")

# One sample of every component kind, each of which pays something in the scenario below.
SAMPLES: dict[str, dict[str, Any]] = {
    "rate": {"id": "c", "kind": "rate", "rate": 2},
    "target_incentive": {"id": "c", "kind": "target_incentive", "target": 1000,
                         "bands": [{"from": 0, "multiplier": 1}]},
    "spiff": {"id": "c", "kind": "spiff", "amount_per_deal": 500},
    "override": {"id": "c", "kind": "override", "rate": 1},
    "draw": {"id": "c", "kind": "draw", "amount": 1_000_000},
    "kpi_bonus": {"id": "c", "kind": "kpi_bonus", "kpi": "deals_won",
                  "thresholds": [{"at": 1, "amount": 1000}]},
    "team_pool": {"id": "c", "kind": "team_pool", "percent": 1, "by": "credit"},
}  # fmt: skip


def scenario() -> Facts:
    """A manager and a rep reporting to them, with a quota and a won deal."""
    return fold([rep("boss", role="manager"), rep("a", manager_id="boss"),
                 quota("a", 100_000), quota("boss", 100_000),
                 won("D1", 150_000, rep_id="a", close_date="2026-01-10")])  # fmt: skip


def test_every_component_kind_of_the_plan_model_has_its_handler() -> None:
    kinds = component_kinds()
    assert set(kinds) == {
        "rate",
        "target_incentive",
        "spiff",
        "override",
        "draw",
        "kpi_bonus",
        "team_pool",
    }
    assert set(HANDLERS) == set(kinds)
    for kind, cls in kinds.items():
        assert HANDLERS[kind].component is cls, kind


@pytest.mark.parametrize("kind", sorted(component_kinds()))
def test_every_component_kind_pays_through_its_handler(kind: str) -> None:
    """A sample of each kind pays a non-zero line (a handler that did nothing would not)."""
    assert set(SAMPLES) == set(component_kinds()), "give every new kind a sample here"
    facts = scenario()
    payee = "boss" if kind == "override" else "a"
    statement = evaluate(facts, plan(SAMPLES[kind]), payee, Q1)
    assert [ln for ln in statement.lines if ln.component == "c" and ln.amount != 0], kind


def test_a_component_without_a_handler_is_an_error_not_nothing() -> None:
    class Bonus(Component):
        kind: Literal["bonus"] = "bonus"

    with pytest.raises(EvaluationError, match="'bonus' has no handler"):
        handler_for(Bonus(id="b"))


def test_every_event_type_is_folded_or_declared_unconcerned() -> None:
    table = fold_module._APPLY
    assert set(table) == set(EVENT_TYPES) | fold_module._MARKERS
    assert set(UNCONCERNED) <= set(EVENT_TYPES)
    folded = {t for t in EVENT_TYPES if table[t] is not fold_module._unconcerned}
    assert folded.isdisjoint(UNCONCERNED)
    assert folded | set(UNCONCERNED) == set(EVENT_TYPES)
    # Every folded type's handler is a method of Facts that does something (not a no-op).
    for t in folded:
        assert table[t].__qualname__.startswith("Facts._on_"), t


def test_the_reason_for_each_unconcerned_event_type_is_written_beside_it() -> None:
    source = inspect.getsource(fold_module)
    block = source[source.index("UNCONCERNED: frozenset") :].split('"""', 1)[0]
    lines = block.splitlines()
    for t in UNCONCERNED:
        at = next(i for i, ln in enumerate(lines) if ln.strip() == f"{t.__name__},")
        assert lines[at - 1].strip().startswith("#"), f"say why the fold ignores {t.__name__}"


def test_a_new_event_type_neither_folded_nor_unconcerned_fails_loudly() -> None:
    class BonusPromised(Event):
        type: Literal["BonusPromised"] = "BonusPromised"

    with pytest.raises(MissingHandlerError, match=r"no handler for .*BonusPromised"):
        check_handlers(fold_module._APPLY, (*EVENT_TYPES, BonusPromised), "fold")
    with pytest.raises(MissingHandlerError, match="no handler for BonusPromised"):
        Facts().apply(BonusPromised(event_id="x"))
    with pytest.raises(MissingHandlerError):
        fold([BonusPromised(event_id="x")])


def test_every_badge_kind_has_its_handler() -> None:
    assert set(BADGES) == set(BadgeKind)


def test_every_leaderboard_metric_has_its_handler() -> None:
    assert set(METRICS) == set(Metric)


def test_every_filter_operator_has_its_test() -> None:
    assert set(OPERATORS) == set(Operator)
    assert OPERATORS[Operator.GTE](Decimal(5), Decimal(5))
    assert not OPERATORS[Operator.NOT_IN]("cloud", ["cloud"])


def test_a_table_missing_a_kind_or_holding_an_unknown_one_is_refused() -> None:
    short = {k: v for k, v in BADGES.items() if k is not BadgeKind.QUOTA_CLUB}
    with pytest.raises(MissingHandlerError, match="badge kinds: no handler for quota_club"):
        check_handlers(short, BadgeKind, "badge kinds")
    with pytest.raises(MissingHandlerError, match="handlers for unknown kinds extra"):
        check_handlers({**BADGES, "extra": None}, BadgeKind, "badge kinds")


KPI_GROUP_MODULES = ("lead_sources", "funnel", "win_loss", "deal_cycle", "activity", "control")
KPI_PARAMETERS = ["facts", "period", "by", "as_of", "targets", "currency"]


def test_every_kpi_function_is_in_the_registry_and_every_registered_kpi_is_one() -> None:
    """A KPI written in a group module but left out of KPIS would be unreachable (no CLI
    command, no route, no docs): every function with the KPI signature is registered."""
    written = {}
    for name in KPI_GROUP_MODULES:
        module = importlib.import_module(f"incentive_engine.domain.kpis.{name}")
        for fname, fn in vars(module).items():
            if (
                inspect.isfunction(fn)
                and fn.__module__ == module.__name__
                and not fname.startswith("_")
                and list(inspect.signature(fn).parameters) == KPI_PARAMETERS
            ):
                written[fname] = fn
    assert len(written) == len(KPIS) > 0
    assert {name: k.function for name, k in KPIS.items()} == written
    assert all(k.definition for k in KPIS.values())
