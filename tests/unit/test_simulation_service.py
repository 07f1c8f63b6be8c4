"""The simulation service shared by the API, the web page and the CLI: windows read from a
form (periods or days), the window limit, the baseline of a draft, document limits."""

from __future__ import annotations

import time

import pytest

from incentive_engine.domain.errors import Invalid, NotFound
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period, PeriodKind
from incentive_engine.services import simulations
from incentive_engine.services.commissions import Snapshot
from plans.documents import PlanError, parse_yaml
from plans.evaluate import PlanBook
from tests.examples.plans import plan, tiered

QUARTER = PeriodKind.QUARTER


def test_a_window_of_periods_or_of_days_in_the_plans_kind_of_period() -> None:
    as_text = [str(p) for p in simulations.periods_between("2026-Q1", "2026-Q2", QUARTER)]
    assert as_text == ["2026-Q1", "2026-Q2"]
    by_days = simulations.periods_between("2026-02-15", "2026-04-01", QUARTER)
    assert [str(p) for p in by_days] == ["2026-Q1", "2026-Q2"]
    assert [str(p) for p in simulations.periods_between("2026-01-31", "2026-01-31", QUARTER)] == [
        "2026-Q1"
    ]


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("", "2026-Q1", "start"),
        ("2026-Q5", "2026-Q1", "start"),
        ("2026-Q1", "soon", "end"),
        ("2026-02-30", "2026-Q1", "start"),
        ("2026-Q2", "2026-Q1", "start"),  # backwards
        ("2026-Q1", "2026-03", "start"),  # two kinds
        ("2026-Q1", "2200-Q1", "end"),  # past the longest window
    ],
)
def test_bad_windows_name_their_field(start: str, end: str, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        simulations.periods_between(start, end, QUARTER)
    assert caught.value.field == field


def test_the_longest_window_is_allowed() -> None:
    first = Period.parse("2026-01")
    last = first
    for _ in range(simulations.MAX_PERIODS - 1):
        last = last.next()
    assert len(simulations.window(first, last)) == simulations.MAX_PERIODS
    with pytest.raises(Invalid):
        simulations.window(first, last.next())


def test_the_baseline_of_a_draft_is_the_newest_published_version_not_above_it() -> None:
    v1, v2 = plan(tiered()), plan(tiered("retroactive"), version=2)
    snap = Snapshot(fold([]), PlanBook((v1, v2)))
    draft = simulations.draft_from_data(plan(tiered(), version=2).plan.document())
    assert simulations.baseline_for(snap, draft).key == ("example", 2)
    first = simulations.draft_from_data(plan(tiered("retroactive")).plan.document())
    assert simulations.baseline_for(snap, first).key == ("example", 1)
    assert simulations.baseline_for(snap, draft, 1).key == ("example", 1)
    other = plan(tiered()).plan.document() | {"plan_id": "other"}
    with pytest.raises(NotFound):
        simulations.baseline_for(snap, simulations.draft_from_data(other))


def test_a_draft_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(simulations.DocumentTooLarge) as caught:
        simulations.draft_from_text("x" * 2000, max_bytes=1000)
    assert caught.value.field == "document"
    with pytest.raises(PlanError) as problems:
        simulations.draft_from_text("plan_id: x\nversion: 0\n", max_bytes=1000)
    paths = [path for path, _ in problems.value.problems]
    assert "version" in paths and "name" in paths


def test_yaml_aliases_cannot_expand_a_document_without_bound() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    started = time.perf_counter()
    with pytest.raises(PlanError, match="aliases"):
        parse_yaml("\n".join(lines), "bomb")
    with pytest.raises(PlanError, match="aliases"):
        parse_yaml("a: &a [*a, *a]", "loop")
    assert time.perf_counter() - started < 2
    assert parse_yaml("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
