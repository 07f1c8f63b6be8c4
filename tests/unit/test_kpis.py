"""Sales KPIs on a small hand-checked data set (pure): every number below is worked out in
the comments from the events of ``events()``."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from incentive_engine.domain.events import (
    ActivityLogged,
    DealCancelled,
    DealLost,
    Event,
    FxRateSet,
    LeadCreated,
    LeadQualified,
    OpportunityCreated,
    OpportunityStageChanged,
    QuotaSet,
    RepTransferred,
)
from incentive_engine.domain.facts import Facts, fold
from incentive_engine.domain.kpis import (
    DEFINITIONS,
    KPIS,
    KpiError,
    call_outcomes,
    calls_per_day,
    conversion,
    customers_approached,
    days_open,
    deal_size,
    definitions_markdown,
    elapsed,
    facts_on,
    forecast,
    kpi,
    leads,
    loss_reasons,
    new_vs_existing,
    outcomes,
    pace,
    pipeline,
    sales_cycle,
    trend,
    velocity,
    win_rate,
    working_days,
)
from incentive_engine.domain.periods import Period
from tests.examples.plans import quota, rep
from tests.factories import customer, territory, won

D = Decimal
M = 1_000_000
MARCH = Period.parse("2026-03")
Q1 = Period.parse("2026-Q1")
ROOT = Path(__file__).resolve().parents[2]


def q(value: Decimal | None) -> Decimal | None:
    """Compare ratios to 6 decimals (they are exact to 28 digits)."""
    return None if value is None else value.quantize(D("0.000001"))


# ---------------------------------------------------------------- the data set


def opp(
    deal_id: str, rep_id: str, day: str, amount: int, cust: str, region: str, **kw: Any
) -> OpportunityCreated:
    return OpportunityCreated(event_id=f"opp-{deal_id}", deal_id=deal_id, rep_id=rep_id, created_date=day,
                              amount=D(amount), currency="VND", product_group="cloud",
                              customer=customer(customer_id=cust, region=region), **kw)  # fmt: skip


def stage(deal_id: str, name: str, day: str) -> OpportunityStageChanged:
    return OpportunityStageChanged(
        event_id=f"stage-{deal_id}-{name}", deal_id=deal_id, stage=name, changed_date=day
    )


def win(
    deal_id: str, rep_id: str, day: str, amount: int, cust: str, region: str, is_new: bool = False
) -> Event:
    return won(deal_id, amount, rep_id=rep_id, close_date=day,
               customer=customer(customer_id=cust, region=region, is_new=is_new))  # fmt: skip


def lose(deal_id: str, day: str, reason: str) -> DealLost:
    return DealLost(event_id=f"lost-{deal_id}", deal_id=deal_id, lost_date=day, reason=reason)


def lead(lead_id: str, source: str, day: str, rep_id: str | None = None) -> LeadCreated:
    return LeadCreated(
        event_id=f"lead-{lead_id}", lead_id=lead_id, source=source, created_date=day, rep_id=rep_id
    )


def act(
    event_id: str,
    rep_id: str,
    when: str,
    kind: str,
    cust: str | None = None,
    deal: str | None = None,
) -> ActivityLogged:
    return ActivityLogged(
        event_id=event_id,
        rep_id=rep_id,
        kind=kind,
        occurred_at=when,
        customer_id=cust,
        deal_id=deal,
    )


HN, HCM = "Hà Nội", "TP.HCM"
PRICE, BUDGET = "Giá cao", "Không có ngân sách"


def events() -> list[Event]:
    """Three reps (an and binh in team HN, chi in HCM; binh moves to HCM on 2026-03-10), two
    territories by region, Q1 quotas, thirteen deals, five leads and eight activities."""
    return [
        rep("an", team="HN"), rep("binh", team="HN"), rep("chi", team="HCM"),
        RepTransferred(event_id="move-binh", rep_id="binh", effective_date="2026-03-10", team="HCM"),
        territory("T-HN", region=HN), territory("T-HCM", region=HCM),
        quota("an", 300 * M), quota("binh", 200 * M),
        QuotaSet(event_id="q-T-HN", subject="territory", subject_id="T-HN", period="2026-Q1", amount=200 * M, currency="VND"),
        QuotaSet(event_id="q-T-HCM", subject="territory", subject_id="T-HCM", period="2026-Q1", amount=100 * M, currency="VND"),
        # O1 open at acquire on Mar 31, expected to close in February (slipped)
        opp("O1", "an", "2026-02-10", 100 * M, "C-1", HN, expected_close_date="2026-02-28"),
        stage("O1", "engage", "2026-02-20"), stage("O1", "acquire", "2026-03-10"),
        # O2 open at prospect, no expected close date
        opp("O2", "an", "2026-03-02", 50 * M, "C-2", HN),
        # O3 won Mar 5 for 90M (a new customer): 59 days after Jan 5
        opp("O3", "binh", "2026-01-05", 80 * M, "C-3", HCM),
        stage("O3", "engage", "2026-01-20"), stage("O3", "acquire", "2026-02-10"),
        win("O3", "binh", "2026-03-05", 90 * M, "C-3", HCM, is_new=True),
        # O4 lost Mar 12 on price: 39 days after Feb 1
        opp("O4", "binh", "2026-02-01", 40 * M, "C-4", HN), stage("O4", "engage", "2026-02-15"),
        lose("O4", "2026-03-12", PRICE),
        # O5 won Mar 20 for 60M (an existing customer): 19 days; kept from Mar 25
        opp("O5", "chi", "2026-03-01", 60 * M, "C-5", HCM),
        stage("O5", "engage", "2026-03-03"), stage("O5", "acquire", "2026-03-08"),
        win("O5", "chi", "2026-03-20", 60 * M, "C-5", HCM), stage("O5", "keep", "2026-03-25"),
        # O6 lost Mar 15 on price: 10 days; O7 lost Mar 25 for budget: 15 days (from lead L1)
        opp("O6", "chi", "2026-03-05", 30 * M, "C-6", HCM), lose("O6", "2026-03-15", PRICE),
        opp("O7", "an", "2026-03-10", 20 * M, "C-1", HN, lead_id="L1"), lose("O7", "2026-03-25", BUDGET),
        # O8 open at engage on Mar 31, won in April
        opp("O8", "chi", "2026-02-20", 70 * M, "C-7", HCM, expected_close_date="2026-05-10"),
        stage("O8", "engage", "2026-03-01"), win("O8", "chi", "2026-04-05", 70 * M, "C-7", HCM),
        # D9: won without an opportunity on Mar 18, cancelled Mar 28
        win("D9", "binh", "2026-03-18", 30 * M, "C-8", HN, is_new=True),
        DealCancelled(event_id="cancel-D9", deal_id="D9", cancelled_date="2026-03-28", reason="đổi ý"),
        # D10: an's 150M win of January; O11 lost in February
        win("D10", "an", "2026-01-20", 150 * M, "C-9", HN),
        opp("O11", "an", "2026-01-10", 10 * M, "C-10", HN), lose("O11", "2026-02-05", BUDGET),
        # a year earlier: O12 won, O13 lost in March 2025
        opp("O12", "binh", "2025-02-01", 40 * M, "C-11", HN), win("O12", "binh", "2025-03-10", 40 * M, "C-11", HN),
        opp("O13", "binh", "2025-02-15", 25 * M, "C-12", HN), lose("O13", "2025-03-20", PRICE),
        # leads
        lead("L1", "web", "2026-03-03", "an"),
        LeadQualified(event_id="qual-L1", lead_id="L1", qualified_date="2026-03-05"),
        lead("L2", "web", "2026-03-10", "binh"), lead("L3", "social", "2026-03-15"),
        lead("L4", "referral", "2026-02-10", "chi"), lead("L5", "web", "2026-03-28", "an"),
        # activities (Mar 1 2026 is a Sunday; Mar 7 a Saturday)
        act("a1", "an", "2026-03-02T09:00:00Z", "call_connected", "C-1"),
        act("a2", "an", "2026-03-03T09:00:00Z", "call_unanswered", "C-1"),
        act("a3", "an", "2026-03-04T09:00:00Z", "call_connected", "C-2"),
        act("a4", "an", "2026-02-25T09:00:00Z", "call_connected", "C-3"),
        act("a5", "an", "2026-03-05T09:00:00Z", "meeting", "C-3"),
        act("a6", "an", "2026-03-06T09:00:00Z", "demo", "C-5", "O5"),
        act("b1", "binh", "2026-03-02T10:00:00Z", "call_connected", "C-1"),
        act("b2", "binh", "2026-03-07T10:00:00Z", "call_unanswered"),
    ]  # fmt: skip


FACTS = fold(events())


def rows_by(rows: list[dict], *keys: str) -> dict:
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows}


# ------------------------------------------------------------------------ leads


def test_leads_by_source_against_monthly_targets() -> None:
    rows = leads(FACTS, MARCH, targets={"web": 4, "social": "2"})
    # March: web L1, L2, L5 (L1 qualified); social L3; L4 (referral) is February's.
    assert [
        (r["source"], r["leads"], r["qualified"], r["target"], r["pct_of_target"]) for r in rows
    ] == [
        ("web", 3, 1, D(4), D(75)),  # 3 / 4 = 75 %
        ("social", 1, 0, D(2), D(50)),  # 1 / 2 = 50 %
        ("sales_team", 0, 0, None, None),
        ("referral", 0, 0, None, None),
        ("other", 0, 0, None, None),
    ]
    # Q1: the monthly target x 3 months = 12; web 3 / 12 = 25 %; L4 counts now.
    quarter = rows_by(leads(FACTS, Q1, targets={"web": 4}), "source")
    assert (quarter["web"]["target"], quarter["web"]["pct_of_target"]) == (D(12), D(25))
    assert quarter["referral"]["leads"] == 1


def test_leads_grouped_by_rep_team_and_territory() -> None:
    web = {r["group"]: r["leads"] for r in leads(FACTS, MARCH, "rep") if r["source"] == "web"}
    assert web == {"an": 2, "binh": 1, "(none)": 0}  # L3 (social) has no rep
    # binh moved to HCM on Mar 10, the day of L2
    team = {
        (r["group"], r["source"]): r["leads"] for r in leads(FACTS, MARCH, "team") if r["leads"]
    }
    assert team == {("HN", "web"): 2, ("HCM", "web"): 1, ("(none)", "social"): 1}
    # L1 opened O7 (Hà Nội); the other leads opened nothing
    terr = {
        (r["group"], r["source"]): r["leads"]
        for r in leads(FACTS, MARCH, "territory")
        if r["leads"]
    }
    assert terr == {("T-HN", "web"): 1, ("(none)", "web"): 2, ("(none)", "social"): 1}


# --------------------------------------------------------------------- pipeline


def test_pipeline_by_stage_on_the_period_end_and_on_an_earlier_day() -> None:
    # Mar 31: O2 prospect 50M, O8 engage 70M, O1 acquire 100M; O3, O5 won, O4, O6, O7 lost
    rows = pipeline(FACTS, MARCH)
    assert [(r["stage"], r["opportunities"], r["value"]) for r in rows] == [
        ("prospect", 1, 50 * M), ("engage", 1, 70 * M), ("acquire", 1, 100 * M), ("keep", 0, 0),
    ]  # fmt: skip
    assert rows[0]["currency"] == "VND"
    # Feb 15: O1 prospect (engage only Feb 20), O4 engage (that day), O3 acquire (won Mar 5);
    # O8 not yet opened, O11 lost Feb 5.
    early = pipeline(FACTS, Q1, as_of=date(2026, 2, 15))
    assert [(r["opportunities"], r["value"]) for r in early] == [
        (1, 100 * M), (1, 40 * M), (1, 80 * M), (0, 0),
    ]  # fmt: skip
    by_rep = {
        (r["group"], r["stage"]): r["value"]
        for r in pipeline(FACTS, MARCH, "rep")
        if r["opportunities"]
    }
    assert by_rep == {
        ("an", "prospect"): 50 * M,
        ("an", "acquire"): 100 * M,
        ("chi", "engage"): 70 * M,
    }


def test_stage_conversion_rates() -> None:
    # Opened in March: O2 (prospect), O5 (won), O6 and O7 (lost at prospect):
    # prospect 4 -> engage 1 (25 %), engage 1 -> acquire 1 (100 %), acquire 1 -> keep/won 1.
    march = conversion(FACTS, MARCH)
    assert [(r["from_stage"], r["to_stage"], r["reached_from"], r["reached_to"], r["conversion_pct"]) for r in march] == [
        ("prospect", "engage", 4, 1, D(25)), ("engage", "acquire", 1, 1, D(100)),
        ("acquire", "keep", 1, 1, D(100)),
    ]  # fmt: skip
    # Opened in Q1: O1 (acquire), O2, O6, O7, O11 (prospect), O3, O5, O8 (won), O4 (engage):
    # 9 -> 5 (55.6 %) -> 4 (80 %) -> 3 (75 %).
    q1 = conversion(FACTS, Q1)
    assert [(r["reached_from"], r["reached_to"]) for r in q1] == [(9, 5), (5, 4), (4, 3)]
    assert [q(r["conversion_pct"]) for r in q1] == [q(D(500) / 9), D(80), D(75)]
    # As of Mar 31, O8 (won in April) is still at engage: 9 -> 5 -> 3 (60 %) -> 2 (66.7 %).
    cut = conversion(FACTS, Q1, as_of=date(2026, 3, 31))
    assert [(r["reached_from"], r["reached_to"]) for r in cut] == [(9, 5), (5, 3), (3, 2)]
    assert cut[1]["conversion_pct"] == D(60)


def test_forecast_by_expected_close_month() -> None:
    rows = forecast(FACTS, MARCH)
    assert [(r["close_month"], r["opportunities"], r["value"], r["overdue"]) for r in rows] == [
        ("2026-02", 1, 100 * M, True),  # O1, expected Feb 28: slipped
        ("2026-05", 1, 70 * M, False),  # O8
        ("(none)", 1, 50 * M, False),  # O2, no expected date
    ]
    by_rep = [(r["group"], r["close_month"]) for r in forecast(FACTS, MARCH, "rep")]
    assert by_rep == [("an", "2026-02"), ("an", "(none)"), ("chi", "2026-05")]


# --------------------------------------------------------------------- outcomes


def test_win_rate_and_loss_reasons() -> None:
    # March: won O3, O5, D9 (cancelled later, still a win); lost O4, O6, O7: 3 / 6 = 50 %.
    [row] = win_rate(FACTS, MARCH)
    assert (row["won"], row["lost"], row["win_rate_pct"]) == (3, 3, D(50))
    assert [(r["reason"], r["lost"], q(r["share_pct"])) for r in loss_reasons(FACTS, MARCH)] == [
        (PRICE, 2, q(D(200) / 3)),  # O4, O6
        (BUDGET, 1, q(D(100) / 3)),  # O7
    ]
    # by rep: an lost O7 (0 %); binh won O3, D9, lost O4 (66.7 %); chi won O5, lost O6 (50 %)
    reps = rows_by(win_rate(FACTS, MARCH, "rep"), "group")
    assert [(g, r["won"], r["lost"], q(r["win_rate_pct"])) for g, r in reps.items()] == [
        ("an", 0, 1, D(0)), ("binh", 2, 1, q(D(200) / 3)), ("chi", 1, 1, D(50)),
    ]  # fmt: skip
    # by team, on the closing day: binh is in HCM from Mar 10, so D9 (Mar 18) and O4
    # (Mar 12) count there, O3 (Mar 5) in HN.
    teams = {r["group"]: (r["won"], r["lost"]) for r in win_rate(FACTS, MARCH, "team")}
    assert teams == {"HCM": (2, 2), "HN": (1, 1)}
    # by territory: T-HN won D9, lost O4, O7 (33.3 %); T-HCM won O3, O5, lost O6 (66.7 %)
    terr = {r["group"]: q(r["win_rate_pct"]) for r in win_rate(FACTS, MARCH, "territory")}
    assert terr == {"T-HCM": q(D(200) / 3), "T-HN": q(D(100) / 3)}


def test_average_deal_size_days_open_and_sales_cycle() -> None:
    # won and not cancelled: O3 90M + O5 60M = 150M / 2 = 75M (D9 cancelled)
    [size] = deal_size(FACTS, MARCH)
    assert (size["deals"], size["total"], size["average"], size["currency"]) == (
        2,
        150 * M,
        75 * M,
        "VND",
    )
    # closed in March: O3 59 + O4 39 + O5 19 + O6 10 + O7 15 = 142 days / 5 = 28.4
    # (D9 has no opportunity, so no opening date)
    [open_] = days_open(FACTS, MARCH)
    assert (open_["closed"], open_["total_days"], open_["average_days"]) == (5, 142, D("28.4"))
    # won: O3 59 + O5 19 = 78 / 2 = 39
    [cycle] = sales_cycle(FACTS, MARCH)
    assert (cycle["won"], cycle["total_days"], cycle["average_days"]) == (2, 78, D(39))
    by_rep = {r["group"]: r["average"] for r in deal_size(FACTS, MARCH, "rep")}
    assert by_rep == {"an": None, "binh": 90 * M, "chi": 60 * M}


def test_sales_velocity() -> None:
    # 3 open (O1, O2, O8) x 50 % x 75,000,000 / 39 days = 2,884,615.38 a day
    [row] = velocity(FACTS, MARCH)
    assert row["open_opportunities"] == 3
    assert (row["win_rate_pct"], row["average_deal_size"], row["sales_cycle_days"]) == (
        D(50),
        75 * M,
        D(39),
    )
    assert q(row["velocity_per_day"]) == q(D(3) * D("0.5") * 75 * M / 39) == D("2884615.384615")
    # an has open deals but won nothing: no velocity
    an = rows_by(velocity(FACTS, MARCH, "rep"), "group")["an"]
    assert (an["open_opportunities"], an["velocity_per_day"]) == (2, None)


def test_new_versus_existing_customers_and_the_outcomes_summary() -> None:
    rows = new_vs_existing(FACTS, MARCH)
    # O3 (new, 90M) and O5 (existing, 60M); D9 (new) is cancelled
    assert [(r["customers"], r["deals"], r["value"], r["share_of_deals_pct"]) for r in rows] == [
        ("new", 1, 90 * M, D(50)), ("existing", 1, 60 * M, D(50)),
    ]  # fmt: skip
    [summary] = outcomes(FACTS, MARCH)
    assert summary == {
        "group": "company", "won": 3, "lost": 3, "win_rate_pct": D(50), "average_deal_size": 75 * M,
        "average_days_open": D("28.4"), "sales_cycle_days": D(39), "open_opportunities": 3,
        "velocity_per_day": velocity(FACTS, MARCH)[0]["velocity_per_day"],
        "new_customer_deals": 1, "existing_customer_deals": 1, "currency": "VND",
    }  # fmt: skip


# --------------------------------------------------------------------- activity


def test_new_customers_approached() -> None:
    # First activity of a rep with a customer in March: an C-1 (a1), C-2 (a3), C-5 (a6);
    # binh C-1 (b1). an first met C-3 in February (a4), so a5 is no new approach.
    # 4 approaches / 2 reps active in March / 1 month = 2
    [row] = customers_approached(FACTS, MARCH)
    assert (row["approached"], row["reps"], row["per_rep_per_month"]) == (4, 2, D(2))
    assert {r["group"]: r["approached"] for r in customers_approached(FACTS, MARCH, "rep")} == {
        "an": 3,
        "binh": 1,
    }
    # territories from the customers' deals: C-1 -> O1, C-2 -> O2 (T-HN); a6 names O5 and
    # a5's C-3 has O3 (T-HCM); b2 names no customer.
    terr = {
        r["group"]: (r["approached"], r["reps"])
        for r in customers_approached(FACTS, MARCH, "territory")
    }
    assert terr == {"T-HCM": (1, 1), "T-HN": (3, 2), "(none)": (0, 1)}
    # Q1: an's C-3 (Feb 25) counts too: 5 / 2 reps / 3 months
    [quarter] = customers_approached(FACTS, Q1)
    assert (quarter["approached"], q(quarter["per_rep_per_month"])) == (5, q(D(5) / 6))


def test_calls_per_working_day_against_a_target() -> None:
    assert len(working_days(MARCH.start, MARCH.end)) == 22  # Mar 2-6, 9-13, 16-20, 23-27, 30-31
    rows = rows_by(calls_per_day(FACTS, MARCH, "rep", targets={"calls": 2}), "group")
    # an: a1, a2, a3 = 3 calls / 22 days; target 2 a day: (3 / 22) / 2 = 6.8 %
    an = rows["an"]
    assert (an["calls"], an["connected"], an["unanswered"], an["working_days"]) == (3, 2, 1, 22)
    assert an["calls_per_day"] == D(3) / 22 and q(an["pct_of_target"]) == q(D(3) / 22 * 50)
    # binh: b1 and b2 (a Saturday call counts, the Saturday does not); chi: no calls
    assert (rows["binh"]["calls"], rows["binh"]["calls_per_day"]) == (2, D(2) / 22)
    assert (rows["chi"]["calls"], rows["chi"]["calls_per_day"], rows["chi"]["pct_of_target"]) == (
        0,
        D(0),
        D(0),
    )
    # company: 5 calls / (3 reps x 22 days)
    [company] = calls_per_day(FACTS, MARCH)
    assert (company["calls"], company["working_days"], company["calls_per_day"]) == (
        5,
        66,
        D(5) / 66,
    )
    # teams: binh is in HN Mar 2-9 (6 working days), in HCM from Mar 10 (16)
    teams = {
        r["group"]: (r["calls"], r["working_days"]) for r in calls_per_day(FACTS, MARCH, "team")
    }
    assert teams == {"HCM": (0, 22 + 16), "HN": (5, 22 + 6)}
    # territories have no staff: calls over the period's 22 working days
    terr = {
        r["group"]: (r["calls"], r["working_days"])
        for r in calls_per_day(FACTS, MARCH, "territory")
    }
    assert terr == {"T-HN": (4, 22), "(none)": (1, 22)}
    # standing on Mar 4: an's 3 calls over 3 working days
    early = rows_by(calls_per_day(FACTS, MARCH, "rep", as_of=date(2026, 3, 4)), "group")
    assert (early["an"]["calls"], early["an"]["working_days"], early["an"]["calls_per_day"]) == (
        3,
        3,
        D(1),
    )


def test_connected_versus_unanswered_calls() -> None:
    [row] = call_outcomes(FACTS, MARCH)
    assert (row["calls"], row["connected"], row["unanswered"], row["connected_pct"]) == (
        5,
        3,
        2,
        D(60),
    )
    by_rep = {r["group"]: r["connected_pct"] for r in call_outcomes(FACTS, MARCH, "rep")}
    assert {k: q(v) for k, v in by_rep.items()} == {"an": q(D(200) / 3), "binh": D(50)}


# ---------------------------------------------------------------------- control


def test_pace_to_quota_and_who_is_behind() -> None:
    feb14 = date(2026, 2, 14)  # 45 of Q1's 90 days: 50 % elapsed
    assert elapsed(Q1, feb14) == D(50) and elapsed(Q1, None) == D(100)
    reps = rows_by(pace(FACTS, Q1, "rep", as_of=feb14), "group")
    # an: D10 150M / 300M = 50 % / 50 % = 100 %: on pace (the boundary)
    assert (reps["an"]["attainment_pct"], reps["an"]["pace_pct"], reps["an"]["on_pace"]) == (
        D(50),
        D(100),
        True,
    )
    # binh: O3 is won only on Mar 5: 0 %; chi has no quota
    assert (reps["binh"]["pace_pct"], reps["binh"]["on_pace"]) == (D(0), False)
    assert (reps["chi"]["pace_pct"], reps["chi"]["on_pace"]) == (None, None)
    # company: reps with a quota, 150M / 500M = 30 % / 50 % = 60 %
    [company] = pace(FACTS, Q1, as_of=feb14)
    assert (company["quota"], company["credited"], company["pace_pct"]) == (500 * M, 150 * M, D(60))
    # territories: T-HN 150M / 200M = 75 % -> 150 %; T-HCM 0 / 100M -> 0 %
    terr = {r["group"]: r["pace_pct"] for r in pace(FACTS, Q1, "territory", as_of=feb14)}
    assert terr == {"T-HCM": D(0), "T-HN": D(150)}
    # team HN: an's 300M + binh's 200M x 68 / 90 days in HN (Jan 1 - Mar 9) = 451,111,111
    hn = rows_by(pace(FACTS, Q1, "team", as_of=feb14), "group")["HN"]
    assert hn["quota"] == D(451_111_111) and hn["pace_pct"] == D(150 * M) * 100 / D(451_111_111) * 2
    # behind pace, most behind first: binh (rep, 0 %) then T-HCM (territory, 0 %)
    behind = kpi(FACTS, "behind_pace", Q1, as_of=feb14)
    assert [(r["by"], r["group"], r["pace_pct"], r["to_be_on_pace"]) for r in behind] == [
        ("rep", "binh", D(0), 100 * M),  # 200M x 50 % - 0
        ("territory", "T-HCM", D(0), 50 * M),
    ]
    assert [r["group"] for r in kpi(FACTS, "behind_pace", Q1, "rep", as_of=feb14)] == ["binh"]
    # the whole quarter: an 50 %, binh 90M / 200M = 45 % (D9 cancelled): both behind
    whole = rows_by(pace(FACTS, Q1, "rep"), "group")
    assert (whole["an"]["pace_pct"], whole["binh"]["pace_pct"]) == (D(50), D(45))
    # before the period starts nothing has elapsed: no pace
    assert pace(FACTS, Q1, as_of=date(2025, 12, 31))[0]["pace_pct"] is None


# ----------------------------------------------------------------------- trends


def test_trend_period_over_period_and_year_over_year() -> None:
    # March 2026: won 3, lost 3 (50 %); February: O11 lost (0 %); March 2025: O12 won, O13 lost (50 %)
    rows = {r["measure"]: r for r in trend(FACTS, "win_rate", MARCH)}
    assert [rows["won"][k] for k in ("value", "previous", "change", "change_pct", "year_ago", "yoy_change", "yoy_change_pct")] == [
        3, 0, D(3), None, 1, D(2), D(200),
    ]  # fmt: skip
    assert [rows["lost"][k] for k in ("previous", "change", "change_pct", "year_ago", "yoy_change_pct")] == [
        1, D(2), D(200), 1, D(200),
    ]  # fmt: skip
    rate = rows["win_rate_pct"]  # a change of a percentage is in points
    assert (
        rate["value"],
        rate["previous"],
        rate["change"],
        rate["year_ago"],
        rate["yoy_change"],
    ) == (D(50), D(0), D(50), D(50), D(0))


def test_trend_moves_as_of_the_same_distance_into_earlier_periods() -> None:
    # Standing on Mar 15: won O3; lost O4, O6. On Feb 15: lost O11. On 2025-03-15: won O12
    # (O13 is lost only on Mar 20).
    rows = {r["measure"]: r for r in trend(FACTS, "win_rate", MARCH, as_of=date(2026, 3, 15))}
    assert (rows["won"]["value"], rows["won"]["previous"], rows["won"]["year_ago"]) == (1, 0, 1)
    assert (rows["lost"]["value"], rows["lost"]["previous"], rows["lost"]["year_ago"]) == (2, 1, 0)


def test_trend_by_group_keeps_groups_seen_only_earlier() -> None:
    rows = trend(FACTS, "loss_reasons", MARCH, "rep")
    # an lost O7 (budget) in March and O11 (budget) in February; binh's O13 (price) was a
    # year ago, binh's O4 (price) now; chi's O6 (price) now.
    lost = {
        (r["group"], r["reason"]): (r["value"], r["previous"], r["year_ago"])
        for r in rows
        if r["measure"] == "lost"
    }
    assert lost == {
        ("an", BUDGET): (1, 1, None),
        ("binh", PRICE): (1, None, 1),
        ("chi", PRICE): (1, None, None),
    }
    with pytest.raises(KpiError, match="no trend"):
        trend(FACTS, "forecast", MARCH)


# -------------------------------------------------------- determinism and errors


def test_same_rows_whatever_the_order_of_the_events() -> None:
    expected = {
        (name, by): kpi(FACTS, name, Q1, by, as_of=date(2026, 3, 20), targets=_targets(name))
        for name in KPIS
        for by in ("rep", "team", "territory", "company")
    }
    for seed in range(3):
        shuffled = events()
        random.Random(seed).shuffle(shuffled)
        facts = fold(shuffled)
        for (name, by), rows in expected.items():
            assert (
                kpi(facts, name, Q1, by, as_of=date(2026, 3, 20), targets=_targets(name)) == rows
            ), (name, by)


def _targets(name: str) -> dict[str, int] | None:
    return {"web": 4} if name == "leads" else {"calls": 2} if name == "calls_per_day" else None


def test_facts_on_a_day_leave_later_events_out() -> None:
    assert len(FACTS.won_deals(MARCH)) == 3  # O3, O5, D9 (and cached)
    cut = facts_on(FACTS, date(2026, 3, 10))
    assert cut.deals["O3"].won is not None and cut.deals["O5"].won is None
    assert cut.deals["O6"].lost is None and "D9" not in cut.deals and "O12" in cut.deals
    assert cut.won_deals(MARCH) == [cut.deals["O3"]]  # not the uncut facts' cached answer
    assert cut.leads["L1"].qualified_date is not None and "L3" not in cut.leads
    assert FACTS.deals["O5"].won is not None  # the facts themselves are untouched


def test_money_in_one_currency() -> None:
    usd = won("U1", "1000.50", rep_id="an", currency="USD", close_date="2026-03-02")
    mixed = fold([*events(), usd])
    with pytest.raises(KpiError, match="deals are in USD, VND: choose the currency"):
        deal_size(mixed, MARCH)
    with pytest.raises(KpiError, match="no FX rate USD->VND"):
        deal_size(mixed, MARCH, currency="VND")
    rate = FxRateSet(event_id="fx", base="USD", quote="VND", rate=D(25000), rate_date="2026-01-01")
    [row] = deal_size(fold([*events(), usd, rate]), MARCH, currency="vnd")
    # 90M + 60M + 1000.50 x 25,000 = 175,012,500 over 3 deals
    assert (row["total"], row["deals"], row["currency"]) == (D(175_012_500), 3, "VND")
    assert deal_size(Facts(), MARCH)[0] == {
        "group": "company",
        "deals": 0,
        "total": D(0),
        "average": None,
        "currency": None,
    }


def test_errors_are_clear() -> None:
    with pytest.raises(KpiError, match="unknown KPI 'nope'; KPIs: leads, pipeline"):
        kpi(FACTS, "nope", MARCH)
    with pytest.raises(KpiError, match="by 'region': choose rep, team, territory, company"):
        kpi(FACTS, "leads", MARCH, "region")
    with pytest.raises(KpiError, match="KPIs are by month, quarter or year"):
        kpi(FACTS, "leads", Period.parse("2026-W10"))
    with pytest.raises(KpiError, match="takes no targets"):
        kpi(FACTS, "pipeline", MARCH, targets={"web": 4})
    with pytest.raises(KpiError, match="target 'tv': lead sources are web, social"):
        kpi(FACTS, "leads", MARCH, targets={"tv": 4})
    with pytest.raises(KpiError, match="must be a number of at least 0"):
        kpi(FACTS, "leads", MARCH, targets={"web": -1})
    with pytest.raises(KpiError, match="calls=N"):
        kpi(FACTS, "calls_per_day", MARCH, targets={"web": 4})


# ------------------------------------------------------------------ definitions


def test_each_definition_is_its_functions_docstring_and_docs_match() -> None:
    assert list(DEFINITIONS) == list(KPIS)
    for name, spec in KPIS.items():
        assert DEFINITIONS[name] == " ".join((spec.function.__doc__ or "").split())
        assert len(DEFINITIONS[name]) > 80, name
    docs = (ROOT / "docs" / "kpis.md").read_text(encoding="utf-8")
    assert docs == definitions_markdown(), (
        'docs/kpis.md is out of date: .venv/bin/python -c "from incentive_engine.domain.kpis import '
        "definitions_markdown; print(definitions_markdown(), end='')\" > docs/kpis.md"
    )
    for definition in DEFINITIONS.values():
        assert definition in docs
