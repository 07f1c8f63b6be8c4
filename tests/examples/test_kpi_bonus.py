"""KPI bonuses (issue 17, item 5) computed by hand: a win-rate threshold reached exactly, an
activities bonus on graduated bands with a cap, a team-scope KPI with a rep who joined the
team mid-quarter, a territory-scope KPI, and KPIs without data that pay zero and say why."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from incentive_engine.domain.events import (
    ActivityLogged,
    DealCancelled,
    DealLost,
    Event,
    OpportunityCreated,
    RepTransferred,
)
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from plans.documents import PlanError, plan_from_data
from plans.evaluate import Statement, evaluate
from tests.examples.plans import plan, quota, rep
from tests.factories import assigned, customer, territory, won

Q1 = Period.parse("2026-Q1")
D = Decimal


def opened(deal_id: str, rep_id: str, day: str = "2026-01-05") -> OpportunityCreated:
    return OpportunityCreated(
        event_id=f"opp-{deal_id}", deal_id=deal_id, rep_id=rep_id, created_date=day,
        amount=D(50_000_000), currency="VND", product_group="cloud", customer=customer(),
    )  # fmt: skip


def lost(deal_id: str, rep_id: str, day: str = "2026-02-10") -> list[Event]:
    return [opened(deal_id, rep_id), DealLost(event_id=f"lost-{deal_id}", deal_id=deal_id,
                                              lost_date=day, reason="price")]  # fmt: skip


def activity(rep_id: str, n: int, kind: str, day: int = 5) -> ActivityLogged:
    return ActivityLogged(
        event_id=f"act-{rep_id}-{kind}-{n}", rep_id=rep_id, kind=kind,
        occurred_at=f"2026-02-{day:02d}T09:{n % 60:02d}:{n // 60:02d}+00:00",
    )  # fmt: skip


def bonus_lines(s: Statement, component: str = "kpi") -> list[Any]:
    return [ln for ln in s.lines if ln.component == component]


# ------------------------------------------------------------ win rate, thresholds

WIN_RATE = {"id": "kpi", "kind": "kpi_bonus", "name": "Win-rate bonus", "kpi": "win_rate",
            "target": 10_000_000,
            "thresholds": [{"at": 40, "amount": 2_000_000}, {"at": 60, "percent": 50}]}  # fmt: skip


def decided(won_n: int, lost_n: int) -> list[Event]:
    events: list[Event] = [rep("an")]
    events += [won(f"W{i}", 10_000_000, rep_id="an", close_date="2026-02-01") for i in range(won_n)]
    for i in range(lost_n):
        events += lost(f"L{i}", "an")
    return events


def test_win_rate_exactly_at_a_threshold_pays_that_threshold() -> None:
    # 2 won, 3 lost: 2 / (2 + 3) x 100 = 40 % exactly: the 40 % threshold is reached
    # (a threshold's value counts, as a tier's lower bound does): 2,000,000.
    s = evaluate(fold(decided(2, 3)), plan(WIN_RATE), "an", Q1)
    [line] = bonus_lines(s)
    assert line.kind == "kpi_bonus"
    assert line.amount == D(2_000_000) and line.base == D(40) and line.tier == "≥ 40 %"
    assert "win rate 40.0 % (2 of 5 decided deals)" in line.description
    # The deals counted, won and lost, and the events that decided them.
    assert line.deal_ids == ("L0", "L1", "L2", "W0", "W1")
    assert line.event_ids == ("lost-L0", "lost-L1", "lost-L2", "won-W0", "won-W1")


def test_win_rate_between_thresholds_and_above_the_highest() -> None:
    # 3 won, 4 lost: 3 / 7 = 42.857... %: the 40 % threshold pays 2,000,000.
    s = evaluate(fold(decided(3, 4)), plan(WIN_RATE), "an", Q1)
    [line] = bonus_lines(s)
    assert line.amount == D(2_000_000)
    assert line.base == D(3) * 100 / 7  # exact, not rounded
    assert "win rate 42.9 % (3 of 7 decided deals)" in line.description
    # 3 won, 2 lost: 60 % exactly: the highest threshold alone pays, 50 % of the target
    # 10,000,000 = 5,000,000 (not 2,000,000 + 5,000,000).
    s = evaluate(fold(decided(3, 2)), plan(WIN_RATE), "an", Q1)
    [line] = bonus_lines(s)
    assert (line.amount, line.rate, line.tier) == (D(5_000_000), D(50), "≥ 60 %")


def test_win_rate_below_the_first_threshold_pays_nothing_and_says_so() -> None:
    # 1 won, 2 lost: 33.3 % < 40 %.
    s = evaluate(fold(decided(1, 2)), plan(WIN_RATE), "an", Q1)
    [line] = bonus_lines(s)
    assert line.amount == 0 and "below the first threshold (40 %)" in line.description
    assert line.deal_ids == ("L0", "L1", "W0")


def test_no_decided_deals_pays_zero_with_the_reason_not_an_error() -> None:
    s = evaluate(fold([rep("an")]), plan(WIN_RATE), "an", Q1)
    [line] = bonus_lines(s)
    assert line.amount == 0 and line.base is None
    assert "no win_rate in 2026-Q1: no decided deals (won or lost)" in line.description
    assert s.total == 0


def test_attainment_without_a_quota_pays_zero_with_the_reason() -> None:
    comp = {"id": "kpi", "kind": "kpi_bonus", "kpi": "attainment",
            "thresholds": [{"at": 100, "amount": 1_000_000}]}  # fmt: skip
    events = [rep("an"), won("D1", 10_000_000, rep_id="an")]
    [line] = bonus_lines(evaluate(fold(events), plan(comp), "an", Q1))
    assert line.amount == 0 and "no quota" in line.description
    # With a quota of 10,000,000 the same deal is 100 % exactly: 1,000,000.
    [line] = bonus_lines(evaluate(fold([*events, quota("an", 10_000_000)]), plan(comp), "an", Q1))
    assert line.amount == D(1_000_000) and line.base == D(100)
    assert line.event_ids == ("won-D1", "quota-an-2026-Q1")


# ----------------------------------------------------- activities, bands and a cap

MEETINGS = {"id": "kpi", "kind": "kpi_bonus", "kpi": "activities", "activity": "meeting",
            "target": 4_000_000, "cap": 5_000_000,
            "bands": [{"at": 10, "percent": 0}, {"at": 20, "percent": 50},
                      {"at": 40, "percent": 100}, {"at": 60, "percent": 150}]}  # fmt: skip


def meetings(n: int) -> list[Event]:
    # n meetings and 5 calls (calls are another kind: not counted).
    return [rep("an"), *(activity("an", i, "meeting") for i in range(n)),
            *(activity("an", i, "call_connected") for i in range(5))]  # fmt: skip


def test_activities_on_graduated_bands() -> None:
    # 30 meetings: between the points 20 (50 %) and 40 (100 %):
    # 50 + (30 - 20) x (100 - 50) / (40 - 20) = 75 % of 4,000,000 = 3,000,000.
    s = evaluate(fold(meetings(30)), plan(MEETINGS), "an", Q1)
    [line] = bonus_lines(s)
    assert (line.amount, line.base, line.rate) == (D(3_000_000), D(30), D(75))
    assert line.tier == "[20, 40)" and "30 activities (meeting)" in line.description
    assert len(line.event_ids) == 30 and all("-meeting-" in e for e in line.event_ids)
    # 10 meetings: on the first point, 0 %: a line of 0 in band [10, 20).
    [line] = bonus_lines(evaluate(fold(meetings(10)), plan(MEETINGS), "an", Q1))
    assert (line.amount, line.tier) == (D(0), "[10, 20)")
    # 9 meetings: below the first point.
    [line] = bonus_lines(evaluate(fold(meetings(9)), plan(MEETINGS), "an", Q1))
    assert line.amount == 0 and "below the first band (10)" in line.description


def test_activities_above_the_last_point_are_capped() -> None:
    # 70 meetings: from the last point (60) on, 150 % of 4,000,000 = 6,000,000, capped at
    # 5,000,000 by a cap line of 5,000,000 - 6,000,000 = -1,000,000.
    s = evaluate(fold(meetings(70)), plan(MEETINGS), "an", Q1)
    bonus, cap = bonus_lines(s)
    assert (bonus.amount, bonus.tier) == (D(6_000_000), "≥ 60")
    assert (cap.kind, cap.amount) == ("cap", D(-1_000_000))
    assert s.total == D(5_000_000)


def test_every_activity_kind_counts_when_none_is_named() -> None:
    # 30 meetings + 5 calls = 35: 50 + 15 x 50 / 20 = 87.5 % of 4,000,000 = 3,500,000.
    comp = {k: v for k, v in MEETINGS.items() if k != "activity"}
    [line] = bonus_lines(evaluate(fold(meetings(30)), plan(comp), "an", Q1))
    assert (line.amount, line.rate) == (D(3_500_000), D("87.5"))


# ------------------------------------------------------------------- team scope

TEAM = {"id": "kpi", "kind": "kpi_bonus", "kpi": "new_customers", "scope": "team",
        "thresholds": [{"at": 3, "amount": 1_000_000}]}  # fmt: skip


def teams() -> list[Event]:
    new = customer(is_new=True)
    return [
        rep("an", team="HCM 1"), rep("binh", team="HCM 1"), rep("chi", team="HCM 2"),
        rep("dung", team="HCM 2"),
        # dung joins HCM 1 on 2026-03-01, after winning a new customer for HCM 2.
        RepTransferred(event_id="move-dung", rep_id="dung", effective_date="2026-03-01",
                       team="HCM 1"),
        won("A1", 10_000_000, rep_id="an", customer=new, close_date="2026-01-20"),
        won("B1", 10_000_000, rep_id="binh", customer=new, close_date="2026-02-03"),
        won("B2", 10_000_000, rep_id="binh", customer=new, close_date="2026-02-04"),
        won("B3", 10_000_000, rep_id="binh", customer=customer(), close_date="2026-02-05"),
        won("C1", 10_000_000, rep_id="chi", customer=new, close_date="2026-02-06"),
        won("D1", 10_000_000, rep_id="dung", customer=new, close_date="2026-01-15"),
        won("A2", 10_000_000, rep_id="an", customer=new, close_date="2026-03-20"),
        DealCancelled(event_id="cancel-A2", deal_id="A2", cancelled_date="2026-03-25",
                      reason="customer withdrew"),
    ]  # fmt: skip


@pytest.mark.parametrize("member", ["an", "binh", "dung"])
def test_team_scope_pays_every_member_on_the_teams_kpi(member: str) -> None:
    # HCM 1's new customers in Q1, each counted for the team its rep was in that day:
    # an's A1 and binh's B1, B2 = 3 (B3 is an existing customer, A2 was cancelled, dung's
    # D1 was won in January while dung was in HCM 2). Everyone in HCM 1 on 2026-03-31 -
    # dung included, who joined on 2026-03-01 - is paid on HCM 1's 3: 1,000,000.
    s = evaluate(fold(teams()), plan(TEAM), member, Q1)
    [line] = bonus_lines(s)
    assert line.amount == D(1_000_000)
    assert "3 deals won with new customers of team HCM 1" in line.description
    assert line.deal_ids == ("A1", "B1", "B2")
    assert line.event_ids == ("won-A1", "won-B1", "won-B2")


def test_team_scope_below_the_threshold() -> None:
    # HCM 2: chi's C1 and dung's January D1 = 2 < 3.
    [line] = bonus_lines(evaluate(fold(teams()), plan(TEAM), "chi", Q1))
    assert line.amount == 0 and line.deal_ids == ("C1", "D1")


# -------------------------------------------------------------- territory scope


def test_territory_scope_takes_the_territories_the_rep_owns_together() -> None:
    # an owns HCM and HN; DN belongs to binh. Deals won (not cancelled) in Q1 falling in
    # an's territories: H1, H2 (HCM) and N1 (HN) = 3, whoever sold them; D9 in DN is not.
    comp = {"id": "kpi", "kind": "kpi_bonus", "kpi": "deals_won", "scope": "territory",
            "thresholds": [{"at": 2, "amount": 700_000}, {"at": 3, "amount": 1_500_000}]}  # fmt: skip
    events = [
        rep("an"), rep("binh"),
        territory("HCM", region="TP.HCM"), territory("HN", region="Hà Nội"),
        territory("DN", region="Đà Nẵng"),
        assigned("HCM", "an"), assigned("HN", "an"), assigned("DN", "binh"),
        won("H1", 10_000_000, rep_id="an", customer=customer(region="TP.HCM")),
        won("H2", 10_000_000, rep_id="binh", customer=customer(region="TP.HCM")),
        won("N1", 10_000_000, rep_id="binh", customer=customer(region="Hà Nội")),
        won("D9", 10_000_000, rep_id="an", customer=customer(region="Đà Nẵng")),
    ]  # fmt: skip
    s = evaluate(fold(events), plan(comp, crediting="named"), "an", Q1)
    [line] = bonus_lines(s)
    assert line.amount == D(1_500_000)
    assert "3 deals won (not cancelled) of territories HCM, HN" in line.description
    assert line.deal_ids == ("H1", "H2", "N1")
    # binh owns only DN: 1 deal, below 2.
    [line] = bonus_lines(evaluate(fold(events), plan(comp), "binh", Q1))
    assert line.amount == 0 and line.deal_ids == ("D9",)


def test_a_rep_owning_no_territory_is_paid_nothing_with_the_reason() -> None:
    comp = {"id": "kpi", "kind": "kpi_bonus", "kpi": "leads", "scope": "territory",
            "thresholds": [{"at": 1, "amount": 1}]}  # fmt: skip
    [line] = bonus_lines(evaluate(fold([rep("an")]), plan(comp), "an", Q1))
    assert line.amount == 0
    assert "an owns no territory on their last day in 2026-Q1" in line.description


# ------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        ({"thresholds": [{"at": 60, "amount": 1}, {"at": 40, "amount": 2}]},
         "components.0.thresholds", "thresholds must rise: threshold 1 is at 40"),
        ({"kpi": "happiness"}, "components.0.kpi", "Input should be"),
        ({"activity": "demo"}, "components.0.activity",
         "only the activities KPI takes an activity kind, not win_rate"),
        ({"thresholds": [{"at": 40, "percent": 5}], "target": None}, "components.0.target",
         "give 'target'"),
        ({"kpi": "leads", "thresholds": [{"at": "2.5", "amount": 1}]},
         "components.0.thresholds", "leads is a count, so 'at' is a whole number"),
        ({"bands": [{"at": 1, "percent": 5}]}, "components.0",
         "exactly one of 'thresholds' and 'bands'"),
        ({"thresholds": [{"at": 40, "amount": 1, "percent": 2}]},
         "components.0.thresholds.0", "exactly one of 'amount' and 'percent'"),
        ({"scope": "company"}, "components.0.scope", "Input should be"),
    ],
)  # fmt: skip
def test_inconsistent_kpi_bonuses_are_refused_with_the_path(
    change: dict[str, Any], path: str, reason: str
) -> None:
    comp = {k: v for k, v in {**WIN_RATE, **change}.items() if v is not None}
    data = {"plan_id": "p", "version": 1, "name": "p", "effective_from": "2026-01-01",
            "currency": "VND", "period": "quarter", "covers": {"roles": ["rep"]},
            "components": [comp]}  # fmt: skip
    with pytest.raises(PlanError) as refused:
        plan_from_data(data)
    [(where, why)] = refused.value.problems
    assert where == path and reason in why


# ------------------------------------------------------ what-if and simulation


def test_what_if_a_deal_lifts_the_win_rate_over_the_next_threshold() -> None:
    # Now 2 won, 3 lost: 40 % pays 2,000,000. With one more won deal: 3 of 6 = 50 %, still
    # the 40 % threshold; the bonus line is paired with itself (same component), unchanged.
    # The estimate is evaluated on an overlay of the facts and leaves them alone.
    from incentive_engine.domain.estimates import DealInput, estimate, hypothetical_deal
    from plans.evaluate import PlanBook

    facts = fold(decided(2, 3))
    version = plan(WIN_RATE)
    book = PlanBook((version,))
    deal = DealInput(D(10_000_000), "VND", Q1.start.replace(month=3), "cloud", customer())
    found = estimate(facts, book, "an", hypothetical_deal("an", deal))
    [change] = [c for c in found.plans[0].changes if c.component == "kpi"]
    assert (change.amount_before, change.amount_after) == (D(2_000_000), D(2_000_000))
    assert "3 of 6 decided deals" in change.after.description
    assert len(facts.deals) == 5


def test_simulation_of_a_draft_adding_a_kpi_bonus() -> None:
    # The draft adds the win-rate bonus to an empty-handed baseline: an's 40 % pays
    # 2,000,000 more in Q1.
    from incentive_engine.domain.simulation import simulate

    baseline = plan({"id": "c", "kind": "rate", "rate": 0})
    draft = plan({"id": "c", "kind": "rate", "rate": 0}, WIN_RATE, version=2)
    result = simulate(fold(decided(2, 3)), draft, baseline, [Q1])
    [an] = result.reps
    assert (an.baseline, an.simulated) == (D(0), D(2_000_000))


def test_a_team_attainment_bonus_shows_the_percent_not_the_teams_money() -> None:
    # HCM 1: an 60,000,000 + binh 40,000,000 = 100,000,000 against a team quota of
    # 200,000,000 = 50 %: reaches 50 % exactly, 1,000,000. The line shows 50.0 % but not the
    # team's revenue or quota: with their own, a rep could work out a teammate's.
    from incentive_engine.domain.events import QuotaSet

    comp = {"id": "kpi", "kind": "kpi_bonus", "kpi": "attainment", "scope": "team",
            "thresholds": [{"at": 50, "amount": 1_000_000}]}  # fmt: skip
    events = [
        rep("an", team="HCM 1"), rep("binh", team="HCM 1"),
        QuotaSet(event_id="q-team", subject="team", subject_id="HCM 1", period="2026-Q1",
                 amount=D(200_000_000), currency="VND"),
        won("A1", 60_000_000, rep_id="an"), won("B1", 40_000_000, rep_id="binh"),
    ]  # fmt: skip
    [line] = bonus_lines(evaluate(fold(events), plan(comp), "an", Q1))
    assert line.amount == D(1_000_000) and line.base == D(50)
    assert (
        line.description
        == "kpi: attainment 50.0 % of team HCM 1: threshold ≥ 50 % pays 1,000,000 VND"
    )
    assert line.deal_ids == ("A1", "B1") and line.event_ids[-1] == "q-team"


def test_the_rep_homes_next_step_and_the_payout_curve() -> None:
    # A bonus on the rep's own attainment is a next step: at 80 % of a 100,000,000 quota the
    # 100 % threshold needs 20,000,000 more. The curve leaves KPI bonuses out (they pay on
    # facts a synthetic credit does not have) and names them.
    from plans.curve import payout_curve
    from plans.thresholds import next_step

    comp = {"id": "kpi", "kind": "kpi_bonus", "kpi": "attainment",
            "thresholds": [{"at": 100, "amount": 1_000_000}]}  # fmt: skip
    version = plan({"id": "c", "kind": "rate", "rate": 1}, comp)
    step = next_step(version.plan, D(100_000_000), D(80_000_000))
    assert step is not None
    assert (step.kind, step.component, step.bound, step.revenue_needed) == (
        "kpi",
        "kpi",
        D(100),
        D(20_000_000),
    )
    team = plan({"id": "c", "kind": "rate", "rate": 1}, {**comp, "scope": "team"})
    assert next_step(team.plan, D(100_000_000), D(80_000_000)) is None
    assert payout_curve(version.plan, D(100_000_000)).left_out == ("kpi",)
