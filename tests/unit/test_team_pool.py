"""Team pools: the largest-remainder sharing (properties), the plan document's checks (each
refusal names the field's path), the JSON Schema, and the web's wording of pool lines."""

from __future__ import annotations

import copy
import html
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.web.render import environment
from api.web.wording import Wording
from incentive_engine.domain.estimates import DealInput, estimate, hypothetical_deal
from incentive_engine.domain.events import Event, RepTransferred
from incentive_engine.domain.facts import fold
from incentive_engine.domain.money import allocate, minor_units
from incentive_engine.domain.periods import Period
from incentive_engine.domain.simulation import simulate, window
from plans.curve import payout_curve
from plans.diff import diff_plans
from plans.documents import PlanError, PlanVersion, load_plan, plan_from_data
from plans.evaluate import Line, PlanBook, evaluate
from plans.model import TeamPool, plan_schema
from tests.examples.plans import plan, rep
from tests.factories import customer, won
from tests.unit.test_properties import PROPERTY, scenarios
from tests.unit.test_web_wording import EN, VI, clean

D = Decimal
Q1 = Period.parse("2026-Q1")

# ------------------------------------------------------------------ allocate

CURRENCIES = st.sampled_from(["VND", "USD", "JPY", "EUR"])
WEIGHTS = st.dictionaries(
    st.text(alphabet="abcdefgh", min_size=1, max_size=3),
    st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(currency=CURRENCIES, units=st.integers(0, 10**15), weights=WEIGHTS)
def test_shares_sum_to_the_pool_and_none_is_negative(
    currency: str, units: int, weights: dict[str, Decimal]
) -> None:
    """Whatever the weights, the shares sum to exactly the pool, none is negative, each is
    within one minor unit of its exact quota, and a zero weight gets zero."""
    total = D(units).scaleb(-minor_units(currency))
    if units and not any(weights.values()):
        with pytest.raises(ValueError, match="every weight is zero"):
            allocate(total, weights, currency)
        return
    shares = allocate(total, weights, currency)
    assert set(shares) == set(weights)
    assert sum(shares.values(), D(0)) == total
    unit = Fraction(D(1).scaleb(-minor_units(currency)))
    whole = sum((Fraction(w) for w in weights.values()), Fraction(0))
    for key, share in shares.items():
        assert share >= 0
        assert share == share.quantize(D(1).scaleb(-minor_units(currency)))
        exact = Fraction(total) * Fraction(weights[key]) / whole if whole else Fraction(0)
        assert abs(Fraction(share) - exact) < unit
        if weights[key] == 0:
            assert share == 0


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(units=st.integers(0, 10**9), n=st.integers(1, 30))
def test_equal_shares_differ_by_at_most_one_unit_and_extra_units_go_by_id(
    units: int, n: int
) -> None:
    """Equal weights: shares differ by at most one minor unit; the larger ones go to the
    first ids."""
    keys = [f"r{i:02d}" for i in range(n)]
    shares = allocate(D(units), dict.fromkeys(keys, D(1)), "VND")
    values = [shares[k] for k in keys]
    assert max(values) - min(values) <= 1
    assert values == sorted(values, reverse=True)
    assert sum(values) == units


def test_allocate_refuses_what_cannot_be_shared() -> None:
    with pytest.raises(ValueError, match="negative amount"):
        allocate(D(-1), {"a": D(1)}, "VND")
    with pytest.raises(ValueError, match="not in VND's minor units"):
        allocate(D("1.5"), {"a": D(1)}, "VND")
    with pytest.raises(ValueError, match="negative weight for b"):
        allocate(D(1), {"a": D(1), "b": D(-1)}, "VND")
    with pytest.raises(ValueError, match="every weight is zero"):
        allocate(D(1), {}, "VND")
    assert allocate(D(0), {}, "VND") == {}
    assert allocate(D("0.03"), {"b": D(1), "a": D(1)}, "USD") == {"a": D("0.02"), "b": D("0.01")}


# ------------------------------------------------------------- the document

BASE: dict[str, Any] = {
    "plan_id": "pool",
    "version": 1,
    "name": "Team pool",
    "effective_from": "2026-01-01",
    "currency": "VND",
    "period": "quarter",
    "covers": {"teams": ["TP.HCM 1"]},
    "components": [{"id": "pool", "kind": "team_pool", "percent": 1, "by": "credit"}],
}


def problems(**change: Any) -> list[tuple[str, str]]:
    data = copy.deepcopy(BASE)
    component = data["components"][0]
    for key, value in change.items():
        if value is None:
            component.pop(key, None)
        else:
            component[key] = value
    with pytest.raises(PlanError) as caught:
        plan_from_data(data, "pool.yaml")
    return caught.value.problems


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        ({"amount": 1_000_000}, "components.0", "exactly one of 'percent' and 'amount'"),
        ({"percent": None}, "components.0", "exactly one of 'percent' and 'amount'"),
        ({"by": None}, "components.0.by", "required"),
        ({"by": "seniority"}, "components.0.by", "'credit' or 'equal'"),
        ({"percent": 0}, "components.0.percent", "greater than 0"),
        ({"percent": 101}, "components.0.percent", "less than or equal to 100"),
        ({"among": "members_on_first_day"}, "components.0.among", "members_on_last_day"),
        ({"covered_only": "sometimes"}, "components.0.covered_only", "boolean"),
        ({"team": ""}, "components.0.team", "at least 1 character"),
        ({"percent": None, "amount": -5}, "components.0.amount", "greater than or equal to 0"),
        (
            {"percent": None, "amount": "1000.5"},
            "(document)",
            "components.0.amount: 1000.5 is finer than VND's minor units (0 decimals)",
        ),
        ({"members": "all"}, "components.0.members", "unknown field"),
    ],
    ids=[
        "both-percent-and-amount",
        "neither",
        "no-by",
        "unknown-by",
        "zero-percent",
        "over-100-percent",
        "unknown-among",
        "covered-only-not-boolean",
        "empty-team",
        "negative-amount",
        "amount-finer-than-the-currency",
        "unknown-field",
    ],
)
def test_inconsistent_pools_are_refused_with_the_path(
    change: dict[str, Any], path: str, reason: str
) -> None:
    found = problems(**change)
    assert len(found) == 1, found
    assert found[0][0] == path
    assert reason in found[0][1], found[0][1]


def test_a_yaml_pool_validates_and_its_defaults_are_explicit() -> None:
    text = """
plan_id: pool
version: 1
name: Quỹ nhóm
effective_from: 2026-01-01
currency: USD
period: quarter
covers: {teams: [TP.HCM 1]}
components:
  - {id: pool, kind: team_pool, team: TP.HCM 1, amount: 1000.50, by: equal}
"""
    comp = load_plan(text).components[0]
    assert isinstance(comp, TeamPool)
    assert (comp.amount, comp.percent, comp.among, comp.covered_only) == (
        D("1000.50"),
        None,
        "members_on_last_day",
        False,
    )


def test_the_schema_describes_the_pool() -> None:
    schema = plan_schema()
    pool = schema["$defs"]["TeamPool"]
    assert schema["properties"]["components"]["items"]["discriminator"]["mapping"]["team_pool"] == (
        "#/$defs/TeamPool"
    )
    assert "shared among the members" in pool["description"]
    for field in ("team", "percent", "amount", "among", "by", "covered_only"):
        assert pool["properties"][field].get("description"), field
    assert pool["required"] == ["id", "by"]


def test_diff_and_curve_take_a_pool() -> None:
    before = plan_from_data(BASE)
    after_data = copy.deepcopy(BASE)
    after_data["components"][0]["percent"] = 2
    changes = [c.as_dict() for c in diff_plans(before, plan_from_data(after_data))]
    assert changes == [
        {"where": "components.pool.percent", "kind": "changed", "before": "1", "after": "2"}
    ]
    curve = payout_curve(before, D(100_000_000))
    assert curve.left_out == ("pool",) and curve.components == ()


# ------------------------------------------------------------------ wording


def pool_statements(component: dict[str, Any], *reps: str) -> dict[str, Any]:
    events = [
        rep("an", name="Nguyễn Văn An"),
        rep("binh", name="Trần Bình"),
        rep("em", name="Lê Em"),
        won("D1", 60_000_000, rep_id="an"),
        won("D2", 40_000_000, rep_id="binh"),
        RepTransferred(event_id="move-em", rep_id="em", effective_date="2026-03-01",
                       team="Đà Nẵng 1"),
    ]  # fmt: skip
    facts = fold(events)
    version = plan(component)
    found = {}
    for r in reps:
        s = evaluate(facts, version, r, Q1)
        found[r] = [
            clean([Wording(s, version, facts, f).describe(ln) for ln in s.lines])[0]
            for f in (VI, EN)
        ]
    return found


def test_pool_lines_in_vietnamese_and_english() -> None:
    # 1 % of 100,000,000 = 1,000,000; An 60 %, Bình 40 %.
    found = pool_statements(
        {"id": "pool", "kind": "team_pool", "name": "Quỹ nhóm", "percent": 1, "by": "credit",
         "team": "TP.HCM 1"}, "an", "em")  # fmt: skip
    assert found["an"] == [
        "Quỹ nhóm: quỹ nhóm TP.HCM 1 1.000.000 ₫ (1 % doanh thu ghi nhận của nhóm "
        "100.000.000 ₫), doanh thu ghi nhận riêng 60.000.000 ₫ trên tổng 100.000.000 ₫ "
        "của các thành viên",
        "Quỹ nhóm: team TP.HCM 1's pool of ₫1,000,000 (1% of the team's credited "
        "₫100,000,000), own credit ₫60,000,000 of the members' ₫100,000,000",
    ]
    assert found["em"] == [
        "Quỹ nhóm: không phải thành viên nhóm TP.HCM 1 vào ngày 31/03/2026: không được chia quỹ",
        "Quỹ nhóm: not among the members of team TP.HCM 1 on 31 Mar 2026: no share",
    ]
    equal = pool_statements(
        {"id": "p", "kind": "team_pool", "amount": 900_000, "by": "equal"}, "binh"
    )
    assert equal["binh"] == [
        "p: quỹ nhóm TP.HCM 1 900.000 ₫, chia đều cho 2 thành viên",
        "p: team TP.HCM 1's pool of ₫900,000, an equal share among 2 members",
    ]
    unpaid = pool_statements(
        {"id": "p", "kind": "team_pool", "amount": 900_000, "by": "credit"}, "em"
    )
    assert unpaid["em"] == [
        "p: quỹ nhóm Đà Nẵng 1 900.000 ₫: không thành viên nào có doanh thu ghi nhận trong "
        "kỳ 2026-Q1, không ai được chia",
        "p: team Đà Nẵng 1's pool of ₫900,000: no member has credit in 2026-Q1, nobody is paid",
    ]


# ---------------------------------------------------------- what-if, simulation


def test_what_if_a_deal_grows_the_pool_and_the_reps_share() -> None:
    # Before: An 60,000,000 + Bình 40,000,000; 1 % pool = 1,000,000; An's share 600,000.
    # What if An closes 100,000,000 more: 200,000,000 -> 2,000,000; An 160/200 = 1,600,000.
    version = plan({"id": "pool", "kind": "team_pool", "percent": 1, "by": "credit"})
    facts = fold([rep("an"), rep("binh"), won("D1", 60_000_000, rep_id="an"),
                  won("D2", 40_000_000, rep_id="binh")])  # fmt: skip
    imagined = DealInput(D(100_000_000), "VND", date(2026, 3, 1), "software",
                         customer(customer_id="new"))  # fmt: skip
    found = estimate(facts, PlanBook((version,)), "an", hypothetical_deal("an", imagined))
    (p,) = found.plans
    assert (p.before.total, p.after.total, p.difference) == (
        D(600_000),
        D(1_600_000),
        D(1_000_000),
    )
    assert [c.kind for c in p.changes] == ["team_pool"]


def test_simulating_a_pool_costs_exactly_the_pool() -> None:
    # Baseline: 2 % flat.  Draft: the same plus a fixed 1,000,001 pool shared equally by
    # An and Bình (500,001 + 500,000): the cost change is the pool, to the đồng.
    flat = {"id": "c", "kind": "rate", "rate": 2}
    baseline = plan(flat)
    draft = plan(flat, {"id": "pool", "kind": "team_pool", "amount": 1_000_001, "by": "equal"},
                 version=2)  # fmt: skip
    facts = fold([rep("an"), rep("binh"), won("D1", 60_000_000, rep_id="an")])
    result = simulate(facts, draft, baseline, window(Q1, Q1))
    assert result.cost_change == D(1_000_001)
    by_rep = {r.rep_id: r.difference for r in result.reps}
    assert by_rep == {"an": D(500_001), "binh": D(500_000)}


def test_the_plan_page_states_the_pool_rule_in_both_languages() -> None:
    rules = environment.get_template("plan_rules.html").module.rules  # type: ignore[attr-defined]
    doc = copy.deepcopy(BASE)
    doc["components"].append(
        {"id": "eq", "kind": "team_pool", "amount": 900_000, "by": "equal", "team": "HN 2"}
    )
    the_plan = plan_from_data(doc)
    vi = " ".join(html.unescape(str(rules(the_plan, VI, VI.gettext))).split())
    en = " ".join(html.unescape(str(rules(the_plan, EN, EN.gettext))).split())
    assert (
        "Quỹ thưởng nhóm (nhóm của nhân viên vào ngày cuối kỳ): 1 % doanh thu ghi nhận cho các "
        "nhân viên của nhóm trong kỳ, chia cho các thành viên vào ngày cuối kỳ theo tỷ lệ "
        "doanh thu ghi nhận." in vi
    )
    assert (
        "Team pool (HN 2): ₫900,000 per period, shared among the members on the period's last "
        "day in equal parts." in en.replace("\u00a0", " ")
    )


# ------------------------------------------------------------- any world


@settings(PROPERTY, max_examples=60)
@given(scenarios())
def test_in_any_world_a_pools_shares_sum_to_exactly_the_pool(
    scenario: tuple[PlanVersion, list[Event]],
) -> None:
    """For any generated plan and world, each pool's share lines, over every member's
    statement (grouped by the team on the period's last day), sum to exactly the pool, and
    no share is negative."""
    version, events = scenario
    facts = fold(events)
    pools = {c.id for c in version.plan.components if isinstance(c, TeamPool)}
    by_team: dict[tuple[str, str | None], list[Line]] = {}
    for rep_id in sorted(facts.reps):
        if not facts.reps[rep_id].days_in(Q1):
            continue
        for line in evaluate(facts, version, rep_id, Q1).lines:
            if line.component in pools and line.kind == "team_pool":
                team = facts.reps[rep_id].team_on(Q1.end)
                by_team.setdefault((line.component, team), []).append(line)
    for lines in by_team.values():
        assert all(ln.amount >= 0 for ln in lines)
        assert len({ln.base for ln in lines}) == 1
        assert sum(ln.amount for ln in lines) == lines[0].base


def test_the_what_if_page_names_pool_line_kinds() -> None:
    assert [VI.gettext(k) for k in ("team_pool", "team_pool_unpaid", "team_pool_no_share")] == [
        "quỹ thưởng nhóm",
        "quỹ thưởng nhóm (không chia)",
        "quỹ thưởng nhóm (không được chia)",
    ]
    assert EN.gettext("team_pool") == "team pool"
