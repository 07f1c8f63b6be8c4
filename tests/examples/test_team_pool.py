"""Team pools (issue 17, item 6), computed by hand: a pool funded from a team's credited
revenue (or a fixed amount) shared among the members on the period's last day, by credit or
equally, with shares rounded by largest remainder so that they sum to exactly the pool."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from incentive_engine.domain.events import DealCancelled, RepTerminated, RepTransferred
from incentive_engine.domain.facts import Facts, fold
from incentive_engine.domain.isolation import Quarantined
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.evaluate import EvaluationError, Statement, evaluate
from tests.examples.plans import plan, rep
from tests.factories import won

Q1 = Period.parse("2026-Q1")
D = Decimal
TEAM = "TP.HCM 1"


def pool(**fields: Any) -> dict[str, Any]:
    """A team pool component (by credit unless told)."""
    return {"id": "pool", "kind": "team_pool", "by": "credit", **fields}


def pool_lines(facts: Facts, version: PlanVersion, *reps: str) -> dict[str, Statement]:
    """Each rep's Q1 statement under the plan."""
    return {r: evaluate(facts, version, r, Q1) for r in reps}


def shares(found: dict[str, Statement]) -> dict[str, Decimal]:
    """Each rep's pool line amount."""
    return {r: s.subtotals()["pool"] for r, s in found.items()}


def three(amounts: tuple[str, str, str], currency: str = "VND") -> Facts:
    """An, Bình and Chi in team TP.HCM 1, each with one won deal in Q1."""
    events: list[object] = [rep("an"), rep("binh"), rep("chi")]
    for who, amount in zip(("an", "binh", "chi"), amounts, strict=True):
        events.append(won(f"D-{who}", amount, rep_id=who, currency=currency))
    return fold(events)


def test_one_percent_pool_by_credit_vnd_rounded_by_largest_remainder() -> None:
    # Credits: An 50,000,033, Bình 30,000,034, Chi 20,000,034 = 100,000,101.
    # Pool: 1 % = 1,000,001.01 -> 1,000,001 VND (half-up to the đồng).
    # Exact shares: An   1,000,001 x 50,000,033 / 100,000,101 = 500,000.3250...
    #               Bình 1,000,001 x 30,000,034 / 100,000,101 = 300,000.3369...
    #               Chi  1,000,001 x 20,000,034 / 100,000,101 = 200,000.3379...
    # Each rounded half-up alone: 500,000 + 300,000 + 200,000 = 1,000,000 (one đồng short).
    # Largest remainder: floors sum to 1,000,000, 1 đồng left goes to the largest
    # remainder (Chi, .3379...): 500,000 + 300,000 + 200,001 = 1,000,001.
    facts = three(("50000033", "30000034", "20000034"))
    found = pool_lines(facts, plan(pool(percent=1)), "an", "binh", "chi")
    assert shares(found) == {"an": D(500_000), "binh": D(300_000), "chi": D(200_001)}
    assert sum(shares(found).values()) == D(1_000_001)
    line = found["an"].lines[0]
    assert (line.kind, line.base, line.rate) == ("team_pool", D(1_000_001), D(1))
    assert "team TP.HCM 1's pool of 1,000,001 VND" in line.description
    assert "1 % of the team's credited 100,000,101 VND" in line.description
    assert "own credit 50,000,033 VND of the members' 100,000,101 VND" in line.description
    # the events behind the team's credits (every member's deal) and An's placement
    assert line.event_ids == ("won-D-an", "won-D-binh", "won-D-chi", "hire-an")
    assert line.deal_ids == ()  # other reps' deals are not named on a rep's line
    # the rep's own credited revenue stays their own
    assert found["an"].credited == D(50_000_033)


def test_tie_of_remainders_goes_to_the_first_rep_id() -> None:
    # Credits: An 50,000,000, Bình 30,000,050, Chi 20,000,050 = 100,000,100.
    # Pool: 1 % = 1,000,001 VND.  Exact shares: An 500,000.0, Bình 300,000.5, Chi 200,000.5
    # (half-up alone would pay 1,000,002, one đồng more than the pool).
    # One đồng left after the floors; Bình and Chi tie at .5: the first rep id (binh) gets it.
    facts = three(("50000000", "30000050", "20000050"))
    found = pool_lines(facts, plan(pool(percent=1)), "an", "binh", "chi")
    assert shares(found) == {"an": D(500_000), "binh": D(300_001), "chi": D(200_000)}


def test_one_percent_pool_by_credit_usd_cents() -> None:
    # Credits: An 1,234.50, Bình 2,345.50, Chi 3,456.50 = 7,036.50 USD.
    # Pool: 1 % = 70.365 -> 70.37 USD.
    # Exact shares: An 70.37 x 1,234.50 / 7,036.50 = 12.3459 (floor 12.34, remainder .59 ¢)
    #               Bình 70.37 x 2,345.50 / 7,036.50 = 23.4567 (23.45, .67 ¢)
    #               Chi 70.37 x 3,456.50 / 7,036.50 = 34.5675 (34.56, .75 ¢)
    # Half-up alone: 12.35 + 23.46 + 34.57 = 70.38 (a cent over).  Largest remainder: floors
    # 70.35, two cents left to Chi and Bình: 12.34 + 23.46 + 34.57 = 70.37.
    facts = three(("1234.50", "2345.50", "3456.50"), currency="USD")
    usd = plan(pool(percent=1), currency="USD")
    found = pool_lines(facts, usd, "an", "binh", "chi")
    assert shares(found) == {"an": D("12.34"), "binh": D("23.46"), "chi": D("34.57")}
    assert sum(shares(found).values()) == D("70.37")


def test_fixed_pool_shared_equally() -> None:
    # A fixed pool of 1,000,000 VND among three members: 333,333.33... each; floors sum to
    # 999,999 and the one đồng left goes to the first rep id of the tie: An.
    # Credit does not matter when shared equally (Chi has no deal and still shares).
    events = [rep("an"), rep("binh"), rep("chi"), won("D1", 90_000_000, rep_id="an")]
    found = pool_lines(fold(events), plan(pool(amount=1_000_000, by="equal")), "an", "binh", "chi")
    assert shares(found) == {"an": D(333_334), "binh": D(333_333), "chi": D(333_333)}
    line = found["chi"].lines[0]
    assert (line.base, line.rate) == (D(1_000_000), None)
    assert "an equal share among 3 members" in line.description
    assert line.event_ids == ("hire-chi",)  # a fixed pool shared equally rests on no deal


def test_fixed_pool_by_credit() -> None:
    # A fixed pool of 10,000,000 VND by credit: An 60,000,000, Bình 40,000,000, Chi none.
    # An 10,000,000 x 60 % = 6,000,000; Bình 4,000,000; Chi (no credit) 0.
    events = [rep("an"), rep("binh"), rep("chi"), won("D1", 60_000_000, rep_id="an"),
              won("D2", 40_000_000, rep_id="binh")]  # fmt: skip
    found = pool_lines(fold(events), plan(pool(amount=10_000_000)), "an", "binh", "chi")
    assert shares(found) == {"an": D(6_000_000), "binh": D(4_000_000), "chi": D(0)}


def test_rep_who_joins_mid_period_shares() -> None:
    # Dũng moves from Hà Nội 1 to TP.HCM 1 on 2026-02-15: a member on 2026-03-31.
    # His January deal (Hà Nội 1) funds Hà Nội 1's pool, not this one; his March deal does.
    # Team TP.HCM 1 credits: An 100,000,000 + Dũng 50,000,000 (March) = 150,000,000.
    # Pool 2 % = 3,000,000.  By credit: An 2,000,000, Dũng 1,000,000.  Equally: 1,500,000 each.
    events = [
        rep("an"),
        rep("dung", team="Hà Nội 1"),
        won("J1", 80_000_000, rep_id="dung", close_date="2026-01-20"),
        RepTransferred(event_id="move-dung", rep_id="dung", effective_date="2026-02-15",
                       team=TEAM),
        won("A1", 100_000_000, rep_id="an", close_date="2026-02-01"),
        won("M1", 50_000_000, rep_id="dung", close_date="2026-03-10"),
    ]  # fmt: skip
    facts = fold(events)
    by_credit = pool_lines(facts, plan(pool(percent=2)), "an", "dung")
    assert shares(by_credit) == {"an": D(2_000_000), "dung": D(1_000_000)}
    line = by_credit["dung"].lines[0]
    assert line.event_ids == ("won-A1", "won-M1", "move-dung")  # J1 is Hà Nội 1's
    equal = pool_lines(facts, plan(pool(percent=2, by="equal")), "an", "dung")
    assert shares(equal) == {"an": D(1_500_000), "dung": D(1_500_000)}
    # Hà Nội 1's own pool (named explicitly) counts J1: 2 % of 80,000,000 = 1,600,000, but
    # Dũng is no longer in Hà Nội 1 on the last day: nobody there shares it.
    hanoi = evaluate(facts, plan(pool(percent=2, team="Hà Nội 1")), "dung", Q1)
    assert [(ln.kind, ln.amount) for ln in hanoi.lines] == [("team_pool_no_share", D(0))]


def test_rep_who_leaves_before_the_last_day_gets_no_share_but_funded_the_pool() -> None:
    # Em closed 100,000,000 in January in TP.HCM 1 and moved to Đà Nẵng 1 on 2026-03-01;
    # Giang closed 50,000,000 and left the company on 2026-03-20.  Their credits still fund
    # the pool (earned in the team): An 150,000,000 + Em 100,000,000 + Giang 50,000,000
    # = 300,000,000; 1 % = 3,000,000.  Members on 2026-03-31: An alone, by credit 100 %.
    events = [
        rep("an"), rep("em"), rep("giang"),
        won("A1", 150_000_000, rep_id="an", close_date="2026-02-01"),
        won("E1", 100_000_000, rep_id="em", close_date="2026-01-15"),
        won("G1", 50_000_000, rep_id="giang", close_date="2026-02-10"),
        RepTransferred(event_id="move-em", rep_id="em", effective_date="2026-03-01",
                       team="Đà Nẵng 1"),
        RepTerminated(event_id="bye-giang", rep_id="giang", termination_date="2026-03-20"),
    ]  # fmt: skip
    facts = fold(events)
    version = plan(pool(percent=1, team=TEAM))
    an = evaluate(facts, version, "an", Q1)
    assert an.total == D(3_000_000)
    assert an.lines[0].event_ids == ("won-E1", "won-A1", "won-G1", "hire-an")
    em = evaluate(facts, version, "em", Q1)
    assert [(ln.kind, ln.amount) for ln in em.lines] == [("team_pool_no_share", D(0))]
    assert "not among the members of team TP.HCM 1 on 2026-03-31" in em.lines[0].description
    assert em.lines[0].base is None  # a non-member is not shown the team's pool
    # Em's default team is his team on the last day: Đà Nẵng 1, whose pool he shares alone
    # (no credit there in Q1 by credit: nobody paid, the line says so).
    own = evaluate(facts, plan(pool(percent=1)), "em", Q1)
    assert [(ln.kind, ln.amount) for ln in own.lines] == [("team_pool_unpaid", D(0))]
    assert "no member of team Đà Nẵng 1 has credit in 2026-Q1" in own.lines[0].description


def test_nobody_with_credit_by_credit_pays_nobody() -> None:
    # A fixed pool of 5,000,000 by credit where no member closed anything: nobody is paid.
    facts = fold([rep("an"), rep("binh")])
    found = pool_lines(facts, plan(pool(amount=5_000_000)), "an", "binh")
    for s in found.values():
        [line] = s.lines
        assert (line.kind, line.amount, line.base) == ("team_pool_unpaid", D(0), D(5_000_000))
        assert "the pool of 5,000,000 VND is not paid" in line.description


def test_clawback_rules_apply_to_the_team_credits() -> None:
    # Bình's 100,000,000 deal is cancelled on 2026-03-01, inside the 90-day window: it
    # funds nothing.  Pool 1 % of An's 200,000,000 = 2,000,000, all An's by credit; Bình 0.
    events = [rep("an"), rep("binh"), won("A1", 200_000_000, rep_id="an"),
              won("B1", 100_000_000, rep_id="binh", close_date="2026-01-10"),
              DealCancelled(event_id="cancel-B1", deal_id="B1", cancelled_date="2026-03-01",
                            reason="customer withdrew")]  # fmt: skip
    found = pool_lines(fold(events), plan(pool(percent=1)), "an", "binh")
    assert shares(found) == {"an": D(2_000_000), "binh": D(0)}
    assert "cancel-B1" in found["an"].lines[0].event_ids


def test_covered_only_shares_among_the_members_the_plan_covers() -> None:
    # The plan covers reps An and Bình by id; Chi (same team) is under another plan.
    # Pool fixed 900,000 equally: without covered_only Chi has a third (300,000 each, Chi's
    # unpaid by this plan); with it, An and Bình share it: 450,000 each.
    facts = fold([rep("an"), rep("binh"), rep("chi")])
    covers = {"reps": ["an", "binh"]}
    everyone = plan(pool(amount=900_000, by="equal"), covers=covers)
    assert shares(pool_lines(facts, everyone, "an", "binh")) == {
        "an": D(300_000),
        "binh": D(300_000),
    }
    covered = plan(pool(amount=900_000, by="equal", covered_only=True), covers=covers)
    assert shares(pool_lines(facts, covered, "an", "binh")) == {
        "an": D(450_000),
        "binh": D(450_000),
    }


def test_a_teammates_quarantined_deal_stops_the_pool_not_skews_it() -> None:
    # Bình's DealWon did not validate and is quarantined: An's pool would be short of it, so
    # An's statement under a pool plan names it instead of paying a wrong share; a
    # quarantined quota of Bình's (a period figure the pool does not read) does not.
    bad_deal = Quarantined(position=9, event_id="won-bad", type="DealWon", reason="bad amount",
                           rep_ids=("binh",), day=date(2026, 2, 1))  # fmt: skip
    bad_quota = Quarantined(position=10, event_id="quota-bad", type="QuotaSet", reason="bad",
                            rep_ids=("binh",), period="2026-Q1")  # fmt: skip
    base = [rep("an"), rep("binh"), won("A1", 100_000_000, rep_id="an")]
    with pytest.raises(EvaluationError, match="'won-bad' \\(DealWon\\)"):
        evaluate(fold([*base, bad_deal]), plan(pool(percent=1)), "an", Q1)
    assert evaluate(fold([*base, bad_quota]), plan(pool(percent=1)), "an", Q1).total == D(1_000_000)
    # without a pool, An's statement does not rest on Bình's deals
    flat = plan({"id": "c", "kind": "rate", "rate": 1})
    assert evaluate(fold([*base, bad_deal]), flat, "an", Q1).total == D(1_000_000)
