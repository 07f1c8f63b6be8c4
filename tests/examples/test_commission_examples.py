"""DESIGN §5 worked examples on commissions, evaluated by the pure evaluator."""

from __future__ import annotations

from decimal import Decimal

from incentive_engine.domain.events import ManualAdjustment
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from plans.evaluate import evaluate
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import won

Q1 = Period.parse("2026-Q1")
D = Decimal


def q1_revenue(amount: int, *extra: object) -> list:
    return [
        rep("an"),
        quota("an", 300_000_000),
        won("D1", amount, rep_id="an", close_date="2026-02-10"),
        *extra,
    ]


def test_graduated_tiers_on_attainment() -> None:
    s = evaluate(fold(q1_revenue(390_000_000)), plan(tiered("graduated")), "an", Q1)
    assert [ln.amount for ln in s.lines] == [D(3_000_000), D(7_500_000), D(7_200_000)]
    assert [ln.base for ln in s.lines] == [D(150_000_000), D(150_000_000), D(90_000_000)]
    assert [ln.tier for ln in s.lines] == ["[0 %, 50 %)", "[50 %, 100 %)", "[100 %, ∞)"]
    assert s.total == D(17_700_000)
    assert s.attainment == D(130)


def test_retroactive_tiers_on_attainment() -> None:
    s = evaluate(fold(q1_revenue(390_000_000)), plan(tiered("retroactive")), "an", Q1)
    assert s.total == D(31_200_000)
    [line] = s.lines
    assert line.rate == 8 and line.base == D(390_000_000)


def test_gate() -> None:
    gated = plan(tiered("graduated", gate=40))
    below = evaluate(fold(q1_revenue(100_000_000)), gated, "an", Q1)
    assert below.total == 0
    assert below.lines[0].kind == "gate" and "33.3 %" in below.lines[0].description
    at = evaluate(fold(q1_revenue(150_000_000)), gated, "an", Q1)
    assert at.total == D(3_000_000)


def test_cap() -> None:
    s = evaluate(
        fold(q1_revenue(390_000_000)), plan(tiered("retroactive", cap=25_000_000)), "an", Q1
    )
    assert s.total == D(25_000_000)
    assert [ln.kind for ln in s.lines] == ["commission", "cap"]
    assert s.lines[-1].amount == D(-6_200_000)


def test_spiff_on_cloud_deals_in_q1() -> None:
    spiff = {"id": "cloud", "kind": "spiff", "amount_per_deal": 500_000,
             "filter": [{"field": "product_group", "value": "cloud"}],
             "window": {"from": "2026-01-01", "to": "2026-03-31"}}  # fmt: skip
    events = [rep("an"), quota("an", 300_000_000)]
    events += [won(f"C{i}", 10_000_000, rep_id="an", close_date=f"2026-0{i}-15") for i in (1, 2, 3)]
    events += [
        won("H1", 10_000_000, rep_id="an", close_date="2026-02-01", product_group="hardware")
    ]
    s = evaluate(fold(events), plan(tiered("graduated"), spiff), "an", Q1)
    assert s.subtotals()["cloud"] == D(1_500_000)
    assert s.subtotals()["commission"] == D(800_000)  # 40,000,000 x 2 %
    assert sorted(ln.deal_ids[0] for ln in s.lines if ln.kind == "spiff") == ["C1", "C2", "C3"]


def test_split_credit_pays_each_rep_on_their_own_plan_and_quota() -> None:
    events = [rep("a"), rep("b"), quota("a", 300_000_000), quota("b", 60_000_000),
              won("D1", 100_000_000, close_date="2026-02-10",
                  splits=[{"rep_id": "a", "share": 60}, {"rep_id": "b", "share": 40}])]  # fmt: skip
    facts = fold(events)
    credits = {c.rep_id: c.amount for c in facts.credits(facts.deals["D1"])}
    assert credits == {"a": D(60_000_000), "b": D(40_000_000)}
    a = evaluate(facts, plan(tiered("graduated")), "a", Q1)
    b = evaluate(facts, plan(tiered("graduated")), "b", Q1)
    assert (a.credited, a.total) == (D(60_000_000), D(1_200_000))  # 20 % attainment, 2 %
    # b: 40M against 60M = 66.7 %: 30M at 2 % + 10M at 5 %
    assert (b.credited, b.total) == (D(40_000_000), D(1_100_000))


def test_manager_override_on_direct_reports() -> None:
    override = {"id": "override", "kind": "override", "rate": 1}
    events = [rep("mgr", role="manager"), rep("r1", manager_id="mgr"), rep("r2", manager_id="mgr"),
              won("D1", 390_000_000, rep_id="r1", close_date="2026-01-20"),
              won("D2", 250_000_000, rep_id="r2", close_date="2026-03-01")]  # fmt: skip
    s = evaluate(fold(events), plan(override), "mgr", Q1)
    assert [ln.amount for ln in s.lines] == [D(3_900_000), D(2_500_000)]
    assert s.total == D(6_400_000)


def test_recoverable_draw() -> None:
    monthly = plan({"id": "commission", "kind": "rate", "mode": "flat", "rate": 2},
                   {"id": "draw", "kind": "draw", "amount": 5_000_000}, period="month")  # fmt: skip
    events = [rep("an"), won("M1", 100_000_000, rep_id="an", close_date="2026-01-15"),
              won("M2", 450_000_000, rep_id="an", close_date="2026-02-15"),
              won("M3", 200_000_000, rep_id="an", close_date="2026-03-15")]  # fmt: skip
    facts = fold(events)
    paid = [
        evaluate(facts, monthly, "an", Period.parse(m)) for m in ("2026-01", "2026-02", "2026-03")
    ]
    assert [s.total for s in paid] == [D(5_000_000), D(6_000_000), D(5_000_000)]
    assert [s.lines[-1].amount for s in paid] == [D(3_000_000), D(-3_000_000), D(1_000_000)]
    assert "owed after: 1,000,000 VND" in paid[2].lines[-1].description


def test_rounding_half_up_to_minor_units() -> None:
    usd = plan({"id": "c", "kind": "rate", "mode": "flat", "rate": 3}, currency="USD")
    s = evaluate(
        fold([rep("an"), won("U1", "1234.565", rep_id="an", currency="USD")]), usd, "an", Q1
    )
    assert s.total == D("37.04")
    vnd = plan({"id": "c", "kind": "rate", "mode": "flat", "rate": "2.5"})
    s = evaluate(fold([rep("an"), won("V1", 123_456_789, rep_id="an")]), vnd, "an", Q1)
    assert s.total == D(3_086_420)


def test_quota_proration_for_a_rep_hired_mid_quarter() -> None:
    events = [rep("an", hire_date="2026-02-01"), quota("an", 300_000_000),
              won("D1", 196_666_667, rep_id="an", close_date="2026-03-01")]  # fmt: skip
    s = evaluate(fold(events), plan(tiered("graduated")), "an", Q1)
    assert s.quota == D(196_666_667)  # 300,000,000 x 59 / 90, rounded half-up
    assert s.attainment == D(100)
    off = evaluate(fold(events), plan(tiered("graduated"), prorate_quota=False), "an", Q1)
    assert off.quota == D(300_000_000)


def test_manual_adjustment_is_its_own_line() -> None:
    m = ManualAdjustment(event_id="m1", rep_id="an", period="2026-Q1", amount=-250_000, currency="VND",
                         reason="phone bill", posted_by="finance@vn", posted_date="2026-03-31")  # fmt: skip
    s = evaluate(fold(q1_revenue(390_000_000, m)), plan(tiered("graduated")), "an", Q1)
    assert s.lines[-1].kind == "manual" and s.lines[-1].event_ids == ("m1",)
    assert s.total == D(17_450_000)


def test_statement_explains_itself_and_hashes_deterministically() -> None:
    events = q1_revenue(390_000_000)
    s = evaluate(fold(events), plan(tiered("graduated")), "an", Q1)
    again = evaluate(fold(list(reversed(events))), plan(tiered("graduated")), "an", Q1)
    assert s.hash == again.hash and s.canonical() == again.canonical()
    line = s.lines[0]
    assert line.deal_ids == ("D1",) and {"won-D1", "quota-an-2026-Q1"} <= set(line.event_ids)
    assert s.plan_id == "example" and s.plan_hash.startswith("sha256:")
    assert s.total == sum(ln.amount for ln in s.lines)
