"""Holdbacks worked by hand (issue 17, item 4): 70 % paid now and 30 % released later, a
release into the next quarter across a closed Q1, forfeits on cancellation (the held share
absorbs a clawback first), a plan-year-end release, and a capped component (cap first,
then hold), and release once the deal is fully paid (payments net of refunds)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from incentive_engine.domain.events import (
    DealAmended,
    DealCancelled,
    PaymentReceived,
    PaymentRefunded,
)
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import close_period, rep_statements, snapshot
from incentive_engine.store.event_store import EventStore
from plans.documents import PlanError, publication
from plans.evaluate import PlanBook, evaluate
from plans.evaluate.statement import Statement
from plans.model import plan_schema
from tests.conftest import StepClock
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import won

Q1, Q2, Q3, Q4 = (Period.parse(f"2026-Q{i}") for i in (1, 2, 3, 4))
D = Decimal


def flat(**holdback: Any) -> dict[str, Any]:
    """10 % of credited revenue, holding back 30 % for 90 days unless told otherwise."""
    rule = {"share": 30, "release": {"after_days": 90}, **holdback}
    return {"id": "commission", "kind": "rate", "rate": 10, "holdback": rule}


def kinds(s: Statement) -> list[tuple[str, Decimal]]:
    return [(ln.kind, ln.amount) for ln in s.lines]


def test_seventy_now_thirty_ninety_days_later_in_the_next_quarter() -> None:
    # D1 100,000,000 closed 2026-02-01: commission 10 % = 10,000,000; 30 % held = 3,000,000,
    # so Q1 pays 7,000,000. Released 90 days after Feb 1: 27 (Feb) + 31 (Mar) + 30 (Apr) = 88
    # days to Apr 30, so May 2, in Q2.
    facts = fold([rep("an"), won("D1", 100_000_000, rep_id="an", close_date="2026-02-01")])
    version = plan(flat())
    q1 = evaluate(facts, version, "an", Q1)
    assert kinds(q1) == [("commission", D(10_000_000)), ("holdback", D(-3_000_000))]
    held = q1.lines[1]
    assert held.deal_ids == ("D1",) and held.base == D(10_000_000) and held.rate == 30
    assert "until 2026-05-02" in held.description
    assert q1.total == D(7_000_000)
    assert (q1.earned_before_holdback, q1.held_back, q1.released) == (
        D(10_000_000),
        D(3_000_000),
        0,
    )
    assert q1.held_balance == D(3_000_000)
    assert q1.as_dict()["holdback"]["balance"] == "3000000"

    q2 = evaluate(facts, version, "an", Q2)
    [release] = [ln for ln in q2.lines if ln.kind == "holdback_release"]
    assert release.amount == D(3_000_000) and release.deal_ids == ("D1",)
    assert (release.origin_period, release.origin_line) == ("2026-Q1", 2)
    assert release.as_dict()["origin_period"] == "2026-Q1"
    assert q2.total == D(3_000_000) and q2.released == D(3_000_000) and q2.held_balance == 0
    # Q3 has nothing left to release.
    q3 = evaluate(facts, version, "an", Q3)
    assert q3.total == 0 and q3.held_balance == 0


def test_a_plan_without_holdbacks_reads_exactly_as_before() -> None:
    facts = fold([rep("an"), won("D1", 100_000_000, rep_id="an", close_date="2026-02-01")])
    s = evaluate(facts, plan({"id": "commission", "kind": "rate", "rate": 10}), "an", Q1)
    assert s.held_balance is None and "holdback" not in s.as_dict()
    assert all("origin_period" not in ln for ln in s.as_dict()["lines"])


def test_spiff_holdback_per_deal_released_on_each_deals_own_day() -> None:
    # 1,000,000 per deal, 50 % held for 30 days: C1 (Mar 10) releases Apr 9 in Q2; C2 closed
    # Feb 10 releases Mar 12, in Q1 itself. Q1 = 2,000,000 - 500,000 - 500,000 + 500,000.
    spiff = {"id": "bonus", "kind": "spiff", "amount_per_deal": 1_000_000,
             "holdback": {"share": 50, "release": {"after_days": 30}}}  # fmt: skip
    facts = fold([rep("an"), won("C1", 10_000_000, rep_id="an", close_date="2026-03-10"),
                  won("C2", 10_000_000, rep_id="an", close_date="2026-02-10")])  # fmt: skip
    version = plan(spiff)
    q1 = evaluate(facts, version, "an", Q1)
    assert q1.total == D(1_500_000) and q1.held_balance == D(500_000)
    [release] = [ln for ln in q1.lines if ln.kind == "holdback_release"]
    assert release.deal_ids == ("C2",) and release.origin_period == "2026-Q1"
    assert evaluate(facts, version, "an", Q2).total == D(500_000)


def test_plan_year_end_releases_the_years_holdbacks_in_its_last_quarter() -> None:
    # 10 % with 30 % held to the end of the plan year (31 December, the calendar year):
    # D1 100,000,000 (Feb) holds 3,000,000 in Q1; D2 50,000,000 (Aug) holds 1,500,000 in Q3;
    # D3 20,000,000 (Nov) earns 2,000,000 and holds 600,000 in Q4 itself. Q4 pays
    # 2,000,000 - 600,000 + 3,000,000 + 1,500,000 + 600,000 = 6,500,000.
    facts = fold([rep("an"), won("D1", 100_000_000, rep_id="an", close_date="2026-02-14"),
                  won("D2", 50_000_000, rep_id="an", close_date="2026-08-10"),
                  won("D3", 20_000_000, rep_id="an", close_date="2026-11-05")])  # fmt: skip
    version = plan(flat(release={"plan_year_end": True}))
    assert evaluate(facts, version, "an", Q1).total == D(7_000_000)
    q2 = evaluate(facts, version, "an", Q2)
    assert (q2.total, q2.held_balance) == (0, D(3_000_000))
    q3 = evaluate(facts, version, "an", Q3)
    assert (q3.total, q3.held_balance) == (D(3_500_000), D(4_500_000))
    q4 = evaluate(facts, version, "an", Q4)
    assert [(ln.kind, ln.amount, ln.origin_period) for ln in q4.lines] == [
        ("commission", D(2_000_000), None),
        ("holdback", D(-600_000), None),
        ("holdback_release", D(3_000_000), "2026-Q1"),
        ("holdback_release", D(1_500_000), "2026-Q3"),
        ("holdback_release", D(600_000), "2026-Q4"),
    ]
    assert q4.total == D(6_500_000) and q4.held_balance == 0
    assert (q4.held_back, q4.released) == (D(600_000), D(5_100_000))


def test_cap_first_then_hold_each_deal_rounded_on_its_own() -> None:
    # DESIGN §5 retroactive tiers, quota 300,000,000, credited 390,000,000 (130 %): 8 % =
    # 31,200,000, capped at 25,000,000 (cap line -6,200,000). Then 30 % of the capped
    # 25,000,000 is held, shared by credit: D1 240/390 x 25,000,000 = 15,384,615.38 ->
    # 30 % = 4,615,384.62 -> 4,615,385; D2 150/390 x 25,000,000 = 9,615,384.62 -> 30 % =
    # 2,884,615.38 -> 2,884,615. Held 7,500,000; Q1 pays 17,500,000.
    facts = fold([rep("an"), quota("an", 300_000_000),
                  won("D1", 240_000_000, rep_id="an", close_date="2026-01-10"),
                  won("D2", 150_000_000, rep_id="an", close_date="2026-02-20")])  # fmt: skip
    rule = {"share": 30, "release": {"after_days": 90}}
    version = plan(tiered("retroactive", cap=25_000_000, holdback=rule))
    q1 = evaluate(facts, version, "an", Q1)
    assert kinds(q1) == [("commission", D(31_200_000)), ("cap", D(-6_200_000)),
                         ("holdback", D(-4_615_385)), ("holdback", D(-2_884_615))]  # fmt: skip
    assert q1.total == D(17_500_000) and q1.held_back == D(7_500_000)
    # Released Apr 10 and May 21: both in Q2.
    q2 = evaluate(facts, version, "an", Q2)
    assert q2.released == D(7_500_000) and q2.held_balance == 0


def test_a_release_condition_is_exactly_one_of_the_known_ones() -> None:
    for bad, why in (
        ({}, "exactly one"),
        ({"after_days": 90, "plan_year_end": True}, "not after_days and plan_year_end"),
        ({"plan_year_end": False}, "plan_year_end"),
        ({"after_days": -1}, "after_days"),
        ({"fully_paid": False}, "fully_paid"),
        ({"fully_paid": True, "after_days": 30}, "not after_days and fully_paid"),
    ):
        with pytest.raises(PlanError, match=why):
            plan(flat(release=bad))
    with pytest.raises(PlanError, match=r"components\.0\.holdback\.share"):
        plan(flat(share=0))


# ----------------------------------------------------- across a closed quarter


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def setup_q1(store: EventStore, clock: StepClock, **fields: Any) -> None:
    """D1 100,000,000 closed Feb 1: Q1 pays 7,000,000 and holds 3,000,000 to May 2; Q1 closed."""
    clock.set("2026-01-02T00:00:00")
    store.append([publication(plan(flat(), **fields).plan), rep("an")])
    clock.set("2026-02-02T00:00:00")
    store.append([won("D1", 100_000_000, rep_id="an", close_date="2026-02-01")])
    clock.set("2026-04-02T00:00:00")
    [payout] = close_period(store, Q1, closed_by="finance@vn", now=at("2026-04-02")).payouts
    assert payout.total == D(7_000_000)


def q2_of(store: EventStore) -> Statement:
    [s] = rep_statements(snapshot(store), "an", Q2)
    return s


def cancel_d1(store: EventStore, clock: StepClock) -> None:
    clock.set("2026-04-10T00:00:00")
    store.append([DealCancelled(event_id="cancel-D1", deal_id="D1", cancelled_date="2026-04-10",
                                reason="customer withdrew")])  # fmt: skip


def test_held_in_a_closed_q1_is_released_in_q2_without_an_adjustment(
    store: EventStore, clock: StepClock
) -> None:
    setup_q1(store, clock)
    q2 = q2_of(store)
    assert kinds(q2) == [("commission", 0), ("holdback_release", D(3_000_000))]
    assert q2.total == D(3_000_000)  # Q1 recomputed still nets 7,000,000 = paid: no adjustment


def test_cancelled_outside_the_clawback_window_forfeits_the_held_share(
    store: EventStore, clock: StepClock
) -> None:
    # A 30-day window: Apr 10 is 68 days after Feb 1, so the 7,000,000 paid stands, but the
    # 3,000,000 held is forfeited (the cancellation comes before May 2): Q2 pays nothing.
    setup_q1(store, clock, clawback={"window_days": 30})
    cancel_d1(store, clock)
    q2 = q2_of(store)
    assert kinds(q2) == [("commission", 0), ("holdback_forfeit", 0)]
    forfeit = q2.lines[1]
    assert forfeit.base == D(3_000_000) and forfeit.event_ids == ("cancel-D1",)
    assert (forfeit.origin_period, forfeit.origin_line) == ("2026-Q1", 2)
    assert q2.total == 0 and q2.forfeited == D(3_000_000) and q2.held_balance == 0


def test_cancelled_inside_the_window_the_held_share_absorbs_the_clawback_first(
    store: EventStore, clock: StepClock
) -> None:
    # Inside the 90-day window with the whole deal clawed back: D1 earned 10,000,000, of which
    # 3,000,000 held and 7,000,000 paid. The held 3,000,000 absorbs the first 3,000,000 of the
    # 10,000,000 clawback (forfeited); the 7,000,000 beyond it comes back as Q1's adjustment.
    setup_q1(store, clock)
    cancel_d1(store, clock)
    q2 = q2_of(store)
    assert [ln.kind for ln in q2.lines] == ["commission", "holdback_forfeit", "prior_period"]
    assert "forfeits the 3,000,000 VND held back in 2026-Q1" in q2.lines[1].description
    assert q2.lines[2].amount == D(-7_000_000)
    assert q2.total == D(-7_000_000)  # the rep keeps 7,000,000 - 7,000,000 = 0


@pytest.mark.parametrize(
    ("share", "adjustment", "forfeited"),
    [
        # Half clawed back: 5,000,000 clawback; the held 3,000,000 absorbs 3,000,000 and the
        # 2,000,000 beyond comes back. Q1 recomputed: 5,000,000 - 0 held = 5,000,000 - paid
        # 7,000,000 = -2,000,000. The rep keeps 5,000,000; the 3,000,000 held is forfeited.
        (50, D(-2_000_000), D(3_000_000)),
        # A fifth clawed back: 2,000,000, all absorbed by the held 3,000,000; 1,000,000 stays
        # held and is never released. Q1 recomputed: 8,000,000 - 1,000,000 = 7,000,000 =
        # paid: no adjustment. The rep keeps 7,000,000; the 3,000,000 held is forfeited.
        (20, D(0), D(3_000_000)),
    ],
)
def test_a_partial_clawback_is_taken_from_the_held_share_first(
    store: EventStore, clock: StepClock, share: int, adjustment: Decimal, forfeited: Decimal
) -> None:
    setup_q1(store, clock, clawback={"window_days": 90, "share": share})
    cancel_d1(store, clock)
    q2 = q2_of(store)
    prior = sum((ln.amount for ln in q2.lines if ln.kind == "prior_period"), D(0))
    assert prior == adjustment and q2.forfeited == forfeited and q2.total == adjustment


def test_a_release_sealed_in_a_closed_q2_is_clawed_back_with_its_period(
    store: EventStore, clock: StepClock
) -> None:
    # Q1 paid 7,000,000 and Q2 released 3,000,000; both closed. D1 is then cancelled after
    # its release (May 2) but inside a 180-day clawback window: on Jul 15 (164 days).
    # Nothing is forfeited (the release came first); the clawback recomputes both periods:
    # Q1 0 - paid 7,000,000 and Q2 0 - paid 3,000,000, both adjusted in Q3: -10,000,000.
    setup_q1(store, clock, clawback={"window_days": 180})
    clock.set("2026-07-02T00:00:00")
    [payout] = close_period(store, Q2, closed_by="finance@vn", now=at("2026-07-02")).payouts
    assert payout.total == D(3_000_000)
    clock.set("2026-07-15T00:00:00")
    store.append([DealCancelled(event_id="cancel-D1", deal_id="D1", cancelled_date="2026-07-15",
                                reason="customer withdrew")])  # fmt: skip
    [q3] = rep_statements(snapshot(store), "an", Q3)
    assert [(ln.component, ln.amount) for ln in q3.lines if ln.kind == "prior_period"] == [
        ("prior:2026-Q1", D(-7_000_000)),
        ("prior:2026-Q2", D(-3_000_000)),
    ]
    assert q3.forfeited == 0 and q3.total == D(-10_000_000)


def test_pay_held_under_one_version_is_released_under_the_next() -> None:
    # v1 (Q1) holds 3,000,000 of D1 to May 2; v2 from Apr 1 holds nothing back: Q2, paid
    # under v2, still releases what v1 held in Q1.
    facts = fold([rep("an"), won("D1", 100_000_000, rep_id="an", close_date="2026-02-01")])
    v1 = plan(flat(), effective_to="2026-03-31")
    v2 = plan({"id": "commission", "kind": "rate", "rate": 10}, version=2,
              effective_from="2026-04-01")  # fmt: skip
    book = PlanBook((v1, v2))
    q2 = evaluate(facts, v2, "an", Q2, book=book)
    assert kinds(q2) == [("commission", 0), ("holdback_release", D(3_000_000))]
    assert q2.held_balance == 0


def test_the_plan_schema_describes_holdbacks() -> None:
    defs = plan_schema()["$defs"]
    for kind in ("RateComponent", "Spiff", "TargetIncentive"):
        assert "Hold back a share" in defs[kind]["properties"]["holdback"]["description"]
    assert set(defs["Release"]["properties"]) == {"after_days", "plan_year_end", "fully_paid"}
    assert "1095 days" in defs["Release"]["properties"]["fully_paid"]["description"]
    assert all(p.get("description") for p in defs["Release"]["properties"].values())
    assert all(p.get("description") for p in defs["Holdback"]["properties"].values())


def test_target_incentive_holdback_is_shared_by_credit() -> None:
    # Target 60,000,000 x 100 % attainment x 1 = 60,000,000 (quota 300,000,000, credited
    # 200,000,000 + 100,000,000). 25 % held = 15,000,000, shared by credit: D1 2/3 =
    # 10,000,000 (released Mar 1 + 30 = Mar 31, in Q1 itself), D2 1/3 = 5,000,000 (Mar 20 +
    # 30 = Apr 19, in Q2). Q1 pays 60,000,000 - 15,000,000 + 10,000,000 = 55,000,000.
    tic = {"id": "tic", "kind": "target_incentive", "target": 60_000_000,
           "bands": [{"from": 0, "multiplier": 1}],
           "holdback": {"share": 25, "release": {"after_days": 30}}}  # fmt: skip
    facts = fold([rep("an"), quota("an", 300_000_000),
                  won("D1", 200_000_000, rep_id="an", close_date="2026-03-01"),
                  won("D2", 100_000_000, rep_id="an", close_date="2026-03-20")])  # fmt: skip
    q1 = evaluate(facts, plan(tic), "an", Q1)
    assert [(ln.kind, ln.amount, ln.deal_ids) for ln in q1.lines[1:]] == [
        ("holdback", D(-10_000_000), ("D1",)),
        ("holdback", D(-5_000_000), ("D2",)),
        ("holdback_release", D(10_000_000), ("D1",)),
    ]
    assert q1.total == D(55_000_000) and q1.held_balance == D(5_000_000)


# ------------------------------------------------------------ released when fully paid


def pay(payment_id: str, amount: int, day: str) -> PaymentReceived:
    return PaymentReceived(event_id=f"pay-{payment_id}", payment_id=payment_id, deal_id="D1",
                           amount=D(amount), currency="VND", received_date=day)  # fmt: skip


def on_full_payment(*events: Any) -> tuple[Any, Any]:
    """D1 100,000,000 closed Feb 1 (booking): 10 % = 10,000,000, 30 % = 3,000,000 held until
    the payments on D1, net of refunds, reach 100,000,000."""
    facts = fold([rep("an"), won("D1", 100_000_000, rep_id="an", close_date="2026-02-01"),
                  *events])  # fmt: skip
    return facts, plan(flat(release={"fully_paid": True}))


def test_fully_paid_releases_in_the_quarter_the_last_instalment_arrives() -> None:
    # 40,000,000 on Mar 10 (Q1) + 60,000,000 on May 20 (Q2) = 100,000,000 on May 20: Q1 pays
    # 10,000,000 - 3,000,000 = 7,000,000; Q2 releases the 3,000,000.
    facts, version = on_full_payment(pay("P1", 40_000_000, "2026-03-10"),
                                     pay("P2", 60_000_000, "2026-05-20"))  # fmt: skip
    q1 = evaluate(facts, version, "an", Q1)
    assert kinds(q1) == [("commission", D(10_000_000)), ("holdback", D(-3_000_000))]
    assert "until the deal is paid in full" in q1.lines[1].description
    assert (q1.total, q1.held_balance) == (D(7_000_000), D(3_000_000))
    q2 = evaluate(facts, version, "an", Q2)
    [release] = [ln for ln in q2.lines if ln.kind == "holdback_release"]
    assert (release.amount, release.origin_period, release.origin_line) == (
        D(3_000_000), "2026-Q1", 2)  # fmt: skip
    assert "due 2026-05-20" in release.description
    assert (q2.total, q2.held_balance) == (D(3_000_000), 0)
    assert evaluate(facts, version, "an", Q3).total == 0


def test_fully_paid_holds_while_the_deal_is_partly_paid() -> None:
    # Only 40,000,000 of 100,000,000 is paid: the 3,000,000 stays held, quarter after quarter,
    # and the statement shows it as the balance still held.
    facts, version = on_full_payment(pay("P1", 40_000_000, "2026-03-10"))
    assert evaluate(facts, version, "an", Q1).total == D(7_000_000)
    for period in (Q2, Q3, Q4):
        s = evaluate(facts, version, "an", period)
        assert (s.total, s.held_balance) == (0, D(3_000_000))
        assert s.as_dict()["holdback"]["balance"] == "3000000"


def test_a_refund_keeps_the_paid_total_under_the_amount_until_topped_up() -> None:
    # Paid 60,000,000 (Feb 20), 20,000,000 of it refunded (Mar 5), then 40,000,000 (May 20):
    # 100,000,000 received but 60 - 20 + 40 = 80,000,000 net, so Q2 releases nothing. The last
    # 20,000,000 (Aug 3) brings it to 100,000,000: Q3 releases the 3,000,000.
    refund = PaymentRefunded(event_id="ref-R1", refund_id="R1", payment_id="P1",
                             amount=D(20_000_000), currency="VND", refunded_date="2026-03-05")  # fmt: skip
    facts, version = on_full_payment(pay("P1", 60_000_000, "2026-02-20"), refund,
                                     pay("P2", 40_000_000, "2026-05-20"))  # fmt: skip
    q2 = evaluate(facts, version, "an", Q2)
    assert (q2.total, q2.held_balance) == (0, D(3_000_000))
    facts, version = on_full_payment(pay("P1", 60_000_000, "2026-02-20"), refund,
                                     pay("P2", 40_000_000, "2026-05-20"),
                                     pay("P3", 20_000_000, "2026-08-03"))  # fmt: skip
    assert evaluate(facts, version, "an", Q2).total == 0
    q3 = evaluate(facts, version, "an", Q3)
    assert kinds(q3) == [("commission", 0), ("holdback_release", D(3_000_000))]
    assert (q3.total, q3.held_balance) == (D(3_000_000), 0)


def test_a_deal_cancelled_before_it_is_fully_paid_forfeits_the_held_share() -> None:
    # 40,000,000 paid, then cancelled Jun 15: 134 days after Feb 1, outside the 90-day window,
    # so the 7,000,000 paid stands and the 3,000,000 held is forfeited in Q2 (a zero line).
    cancel = DealCancelled(event_id="cancel-D1", deal_id="D1", cancelled_date="2026-06-15",
                           reason="customer withdrew")  # fmt: skip
    facts, version = on_full_payment(pay("P1", 40_000_000, "2026-03-10"), cancel)
    assert evaluate(facts, version, "an", Q1).total == D(7_000_000)
    q2 = evaluate(facts, version, "an", Q2)
    [forfeit] = [ln for ln in q2.lines if ln.kind == "holdback_forfeit"]
    assert (forfeit.amount, forfeit.base, forfeit.origin_period) == (0, D(3_000_000), "2026-Q1")
    assert (q2.total, q2.held_balance) == (0, 0)
    assert not [
        ln for ln in evaluate(facts, version, "an", Q3).lines if ln.kind.startswith("holdback")
    ]


def test_fully_paid_counts_the_amount_after_amendments() -> None:
    # D1 amended up to 120,000,000 on Feb 15 (upward amendments always count): 10 % =
    # 12,000,000, 30 % = 3,600,000 held. 100,000,000 paid on Mar 10 is not the full amount any
    # more; the 20,000,000 of May 20 makes 120,000,000: Q2 releases the 3,600,000.
    amended = DealAmended(event_id="amend-D1", deal_id="D1", amended_date="2026-02-15",
                          amount=D(120_000_000), currency="VND", reason="upsell")  # fmt: skip
    facts, version = on_full_payment(amended, pay("P1", 100_000_000, "2026-03-10"))
    q1 = evaluate(facts, version, "an", Q1)
    assert (q1.total, q1.held_balance) == (D(8_400_000), D(3_600_000))
    assert evaluate(facts, version, "an", Q2).held_balance == D(3_600_000)
    facts, version = on_full_payment(amended, pay("P1", 100_000_000, "2026-03-10"),
                                     pay("P2", 20_000_000, "2026-05-20"))  # fmt: skip
    q2 = evaluate(facts, version, "an", Q2)
    assert (q2.total, q2.held_balance) == (D(3_600_000), 0)
