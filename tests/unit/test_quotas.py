"""Quota allocation (uplift, growth, average, market, target, cascade), publishing events and
the roll-up, on small hand-checked data sets (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from incentive_engine.domain.attainment import attainment
from incentive_engine.domain.events import (
    DealCancelled,
    Event,
    FxRateSet,
    QuotaChanged,
    QuotaSet,
    QuotaSubject,
    RepTransferred,
    TerritoryAssigned,
    TerritoryDefined,
    TerritoryReassigned,
)
from incentive_engine.domain.facts import Facts, fold
from incentive_engine.domain.periods import Period
from incentive_engine.domain.quotas import (
    AllocationError,
    Method,
    Status,
    allocate,
    quota_event,
    rollup,
    split,
    to_events,
)
from tests.examples.plans import quota, rep
from tests.factories import customer, won

D = Decimal
Q1_2027 = Period.parse("2027-Q1")
Q1_2026 = Period.parse("2026-Q1")
REGIONS = {"T-HN": "Hà Nội", "T-HCM": "TP.HCM", "T-DN": "Đà Nẵng", "T-HUE": "Huế"}


def defined(tid: str, since: str, **criteria: str) -> TerritoryDefined:
    return TerritoryDefined(
        event_id=f"def-{tid}", territory_id=tid, name=f"Territory {tid}",
        criteria=criteria or {"region": REGIONS[tid]}, effective_date=since,
    )  # fmt: skip


def owners(tid: str, day: str, *shares: tuple[str, int], cls: type = TerritoryAssigned) -> Event:
    return cls(
        event_id=f"own-{tid}-{day}", territory_id=tid, effective_date=day,
        owners=[{"rep_id": r, "share": s} for r, s in shares],
    )  # fmt: skip


def deal(deal_id: str, amount: int, day: str, region: str, **kw: object) -> Event:
    return won(deal_id, amount, close_date=day, customer=customer(region=region), **kw)


def history() -> list[Event]:
    """Four reps and a manager, three territories and three years of first quarters.

    2026-Q1 (last year for 2027-Q1):
      D1 an   100,000,000 Hà Nội
      D2 binh  50,000,000 Hà Nội
      D3 chi  200,000,000 TP.HCM
      D4 chi   30,000,000 TP.HCM, cancelled -> counts nowhere
      D5 split an 60 / chi 40, 10,000,000 TP.HCM -> an 6,000,000, chi 4,000,000
      D6 an    70,000,000 Huế: no territory matches -> an's credit, no territory's revenue
    2025-Q1: D7 binh 100,000,000 TP.HCM; 2024-Q1: D8 an 90,000,000 Hà Nội,
      D9 chi 500,000,000 TP.HCM (T-HCM did not exist then: no territory's revenue).
    """
    return [
        rep("an", team="HN", hire_date="2023-01-01"),
        rep("binh", team="HN", hire_date="2023-01-01"),
        rep("chi", team="HCM", hire_date="2023-01-01"),
        rep("dung", team="HCM", hire_date="2026-06-01"),  # hired after 2026-Q1
        rep("mgr", team="HN", role="manager", hire_date="2023-01-01"),
        defined("T-HN", "2024-01-01"),
        defined("T-HCM", "2025-01-01"),
        defined("T-DN", "2025-01-01"),
        owners("T-HN", "2025-01-01", ("an", 60), ("binh", 40)),
        owners("T-HCM", "2025-01-01", ("chi", 100)),
        owners("T-HCM", "2027-01-01", ("chi", 50), ("dung", 50), cls=TerritoryReassigned),
        deal("D1", 100_000_000, "2026-01-10", "Hà Nội", rep_id="an"),
        deal("D2", 50_000_000, "2026-02-10", "Hà Nội", rep_id="binh"),
        deal("D3", 200_000_000, "2026-03-10", "TP.HCM", rep_id="chi"),
        deal("D4", 30_000_000, "2026-03-11", "TP.HCM", rep_id="chi"),
        DealCancelled(event_id="cx-D4", deal_id="D4", cancelled_date="2026-04-01", reason="x"),
        deal(
            "D5",
            10_000_000,
            "2026-03-12",
            "TP.HCM",
            splits=[{"rep_id": "an", "share": 60}, {"rep_id": "chi", "share": 40}],
        ),
        deal("D6", 70_000_000, "2026-03-13", "Huế", rep_id="an"),
        deal("D7", 100_000_000, "2025-02-01", "TP.HCM", rep_id="binh"),
        deal("D8", 90_000_000, "2024-02-01", "Hà Nội", rep_id="an"),
        deal("D9", 500_000_000, "2024-02-02", "TP.HCM", rep_id="chi"),
        deal("D10", 1_000_000_000, "2026-04-01", "Hà Nội", rep_id="an"),  # Q2: ignored
    ]


def facts_of(*extra: Event) -> Facts:
    return fold([*history(), *extra])


def table(allocation) -> dict[str, tuple[Decimal, Decimal, str]]:  # type: ignore[no-untyped-def]
    return {r.subject_id: (r.basis, r.allocated, r.note) for r in allocation.rows}


# ---------------------------------------------------------------- methods


def test_uplift_gives_each_active_rep_last_years_credit_plus_the_rate() -> None:
    facts = facts_of()
    a = allocate(facts, Q1_2027, method="uplift", currency="VND", rate=D(10))
    # an   100,000,000 + 6,000,000 (D5 60 %) + 70,000,000 (D6) = 176,000,000 x 1.1 = 193,600,000
    # binh 50,000,000 x 1.1 = 55,000,000
    # chi  200,000,000 + 4,000,000 (D5 40 %; D4 cancelled) = 204,000,000 x 1.1 = 224,400,000
    # dung hired 2026-06-01: nothing in 2026-Q1 -> 0, set by hand; mgr: a manager without sales
    assert table(a) == {
        "an": (D(176_000_000), D(193_600_000), ""),
        "binh": (D(50_000_000), D(55_000_000), ""),
        "chi": (D(204_000_000), D(224_400_000), ""),
        "dung": (D(0), D(0), "not employed in 2026-Q1: set by hand"),
    }
    for r in a.rows:  # the single pass agrees with Facts.credited_revenue
        assert r.last_year == facts.credited_revenue(r.subject_id, Q1_2026)
    # total 473,000,000 over last year's 430,000,000: +10 %
    assert (a.total, a.last_year_total, a.implied_change) == (D(473_000_000), D(430_000_000), D(10))
    assert [r.share for r in a.rows] == [D("40.93"), D("11.63"), D("47.44"), D(0)]
    assert {r.subject for r in a.rows} == {QuotaSubject.REP} and a.base == Q1_2026


def test_uplift_notes_reps_without_full_history_and_managers_with_sales() -> None:
    facts = facts_of(
        rep("em", hire_date="2025-01-01"),
        rep("fa", hire_date="2026-02-01"),
        deal("D-fa", 10_000_000, "2026-03-01", "Huế", rep_id="fa"),
        deal("D-mgr", 5_000_000, "2026-03-01", "Huế", rep_id="mgr"),
    )
    rows = table(allocate(facts, Q1_2027, method="uplift", currency="VND", rate=D(50)))
    assert rows["em"] == (D(0), D(0), "no sales in 2026-Q1: set by hand")
    # fa: hired 2026-02-01, 59 of 90 days; 10,000,000 x 1.5
    assert rows["fa"] == (D(10_000_000), D(15_000_000), "employed 59 of 90 days in 2026-Q1")
    assert rows["mgr"] == (D(5_000_000), D(7_500_000), "")  # a manager who sold


def test_uplift_months_and_years_look_one_year_back() -> None:
    facts = facts_of()
    march = allocate(facts, Period.parse("2027-03"), method="uplift", currency="VND", rate=D(0))
    # March 2026: D3 200,000,000 + D5 4,000,000 -> chi 204,000,000; an 6,000,000 + 70,000,000
    assert table(march)["chi"][1] == D(204_000_000) and table(march)["an"][1] == D(76_000_000)
    assert str(march.base) == "2026-03"
    year = allocate(facts, Period.parse("2027"), method="uplift", currency="VND")
    # the whole of 2026 includes D10 (2026-04-01): an 176,000,000 + 1,000,000,000
    assert table(year)["an"][1] == D(1_176_000_000) and str(year.base) == "2026"


def test_growth_per_territory_regardless_of_who_was_credited() -> None:
    facts = facts_of(defined("T-HUE", "2027-01-01"))
    a = allocate(facts, Q1_2027, method=Method.GROWTH, currency="VND", rate=D(10))
    # T-HN  D1 + D2 = 150,000,000 x 1.1 = 165,000,000
    # T-HCM D3 + D5 = 210,000,000 (D4 cancelled) x 1.1 = 231,000,000
    # T-DN  existed, no sales; T-HUE defined from 2027: D6 (Huế, 2026) was in no territory
    assert table(a) == {
        "T-DN": (D(0), D(0), "no sales in 2026-Q1: set by hand"),
        "T-HCM": (D(210_000_000), D(231_000_000), ""),
        "T-HN": (D(150_000_000), D(165_000_000), ""),
        "T-HUE": (D(0), D(0), "did not exist in 2026-Q1: set by hand"),
    }
    assert [r.subject_id for r in a.rows] == ["T-DN", "T-HCM", "T-HN", "T-HUE"]  # sorted by id
    assert a.rows[2].name == "Territory T-HN" and a.rows[2].subject is QuotaSubject.TERRITORY
    assert (a.total, a.last_year_total, a.implied_change) == (D(396_000_000), D(360_000_000), D(10))


def test_average_of_three_years_counts_only_years_the_territory_existed() -> None:
    a = allocate(facts_of(), Q1_2027, method="average", currency="VND", rate=D(10))
    rows = {r.subject_id: r for r in a.rows}
    # T-HN existed in 2024, 2025, 2026: (90,000,000 + 0 + 150,000,000) / 3 = 80,000,000 x 1.1
    assert (rows["T-HN"].basis, rows["T-HN"].allocated) == (D(80_000_000), D(88_000_000))
    # T-HCM from 2025 (D9 in 2024 fell in no territory): (100,000,000 + 210,000,000) / 2
    # = 155,000,000 x 1.1 = 170,500,000
    assert (rows["T-HCM"].basis, rows["T-HCM"].allocated) == (D(155_000_000), D(170_500_000))
    assert rows["T-HCM"].note == "average of 2 years (did not exist in 2024-Q1)"
    assert rows["T-DN"].note == "no sales in 2025-Q1, 2026-Q1: set by hand"
    assert [str(p) for p in a.history] == ["2024-Q1", "2025-Q1", "2026-Q1"]
    # last year (2026-Q1) 360,000,000; total 258,500,000 -> -28.19 %
    assert a.total == D(258_500_000) and a.implied_change == D("-28.19")


def test_average_raw_amount_is_exact_until_rounded_once() -> None:
    extra = deal("D11", 100_000_000, "2025-02-01", "Đà Nẵng", rep_id="binh")
    rows = {
        r.subject_id: r
        for r in allocate(facts_of(extra), Q1_2027, method="average", currency="VND").rows
    }
    # T-DN (from 2025): (100,000,000 + 0) / 2 = 50,000,000; T-HN 240,000,000 / 3 = 80,000,000
    assert rows["T-DN"].allocated == D(50_000_000)
    with_rate = allocate(facts_of(extra), Q1_2027, method="average", currency="VND", rate=D("0.5"))
    # T-HN 240,000,000 x 1.005 / 3 = 80,400,000
    assert {r.subject_id: r.allocated for r in with_rate.rows}["T-HN"] == D(80_400_000)


def test_market_growth_by_region_and_missing_rates_are_errors() -> None:
    rates = {"Hà Nội": D(8), "TP.HCM": D(12), "Đà Nẵng": D(5)}
    a = allocate(facts_of(), Q1_2027, method="market", currency="VND", market=rates)
    # T-HN 150,000,000 x 1.08 = 162,000,000; T-HCM 210,000,000 x 1.12 = 235,200,000
    assert {r.subject_id: r.allocated for r in a.rows} == {
        "T-DN": D(0), "T-HCM": D(235_200_000), "T-HN": D(162_000_000),
    }  # fmt: skip
    assert a.market == (("Hà Nội", D(8)), ("TP.HCM", D(12)), ("Đà Nẵng", D(5)))
    with pytest.raises(
        AllocationError, match=r"no market growth rate for region 'Đà Nẵng' \(territory T-DN\)"
    ):
        allocate(
            facts_of(),
            Q1_2027,
            method="market",
            currency="VND",
            market={"Hà Nội": D(8), "TP.HCM": D(1)},
        )
    cloud = defined("T-CLOUD", "2025-01-01", product_group="hardware")
    with pytest.raises(AllocationError, match="territory T-CLOUD has no region criterion"):
        allocate(facts_of(cloud), Q1_2027, method="market", currency="VND", market=rates)
    # NFD-typed region names still match the NFC criteria
    nfd = {"Ha\u0300 Nô\u0323i": D(8), "TP.HCM": D(12), "Đa\u0300 Nă\u0303ng": D(5)}
    assert (
        allocate(facts_of(), Q1_2027, method="market", currency="VND", market=nfd).total == a.total
    )


def test_bad_input_is_a_clear_error() -> None:
    facts = facts_of()
    cases = [
        (dict(method="nope"), "unknown method 'nope'"),
        (dict(method="uplift", currency="XXX"), "unknown currency 'XXX'"),
        (dict(method="growth", rate=D(-101)), "below -100 %"),
        (dict(method="growth", market={"Hà Nội": D(1)}), "only apply to the market method"),
        (dict(method="market"), "needs a growth rate per region"),
        (dict(method="uplift", cascade=True), "cascade needs a territory method"),
        (dict(method="growth", target=D(-1)), "negative"),
        (dict(method="growth", target=D("1.5")), "more decimals than VND allows"),
    ]
    for kwargs, message in cases:
        with pytest.raises(AllocationError, match=message):
            allocate(facts, Q1_2027, **{"currency": "VND", **kwargs})  # type: ignore[arg-type]
    with pytest.raises(AllocationError, match="no row has history"):
        allocate(fold([rep("an")]), Q1_2027, method="uplift", currency="VND", target=D(100))


def test_other_currencies_are_converted_at_the_close_date_rate() -> None:
    usd = deal("D-USD", 1_000, "2026-03-20", "Hà Nội", rep_id="binh", currency="USD")
    with pytest.raises(AllocationError, match="deal D-USD is in USD"):
        allocate(facts_of(usd), Q1_2027, method="growth", currency="VND")
    fx = FxRateSet(event_id="fx", base="USD", quote="VND", rate=D(25_000), rate_date="2026-01-01")
    a = allocate(facts_of(usd, fx), Q1_2027, method="growth", currency="VND")
    # T-HN 150,000,000 + 1,000 x 25,000 = 175,000,000
    assert {r.subject_id: r.allocated for r in a.rows}["T-HN"] == D(175_000_000)


# ----------------------------------------------------------------- target


def test_target_scales_proportionally_and_sums_exactly() -> None:
    a = allocate(facts_of(), Q1_2027, method="growth", currency="VND", target=D(400_000_000))
    # raw T-HN 150,000,000, T-HCM 210,000,000 (rate 0), total 360,000,000
    # T-HN  150,000,000 x 400/360 = 166,666,666.67 -> 166,666,667
    # T-HCM 210,000,000 x 400/360 = 233,333,333.33 -> 233,333,333  sum 400,000,000: no remainder
    assert {r.subject_id: r.allocated for r in a.rows} == {
        "T-DN": D(0), "T-HCM": D(233_333_333), "T-HN": D(166_666_667),
    }  # fmt: skip
    assert a.total == a.target == D(400_000_000) and a.implied_change == D("11.11")
    up = allocate(facts_of(), Q1_2027, method="uplift", currency="VND", target=D(473_000_000))
    # company +10 % (430,000,000 -> 473,000,000) gives every rep +10 %, as uplift at 10 % does
    assert table(up) == table(
        allocate(facts_of(), Q1_2027, method="uplift", currency="VND", rate=D(10))
    )


def test_target_rounding_remainder_goes_to_the_largest_then_smallest_id() -> None:
    def three(*amounts: int) -> Facts:
        events: list[Event] = []
        for name, amount in zip(("c", "a", "b"), amounts, strict=True):
            events += [rep(name), deal(f"D-{name}", amount, "2026-02-01", "Hà Nội", rep_id=name)]
        return fold(events)

    # 100 each, target 1,000: 333.33 -> 333 x 3 = 999; +1 to the largest, tie -> smallest id 'a'
    a = allocate(three(100, 100, 100), Q1_2027, method="uplift", currency="VND", target=D(1000))
    assert [(r.subject_id, r.allocated) for r in a.rows] == [
        ("a", D(334)),
        ("b", D(333)),
        ("c", D(333)),
    ]
    assert a.rows[0].note == "takes the rounding remainder (+1)" and a.total == D(1000)
    # c 200, a 100, b 100, target 1,001: 500.5 -> 501, 250.25 -> 250, 250 -> sum 1,001: exact
    b = allocate(three(200, 100, 100), Q1_2027, method="uplift", currency="VND", target=D(1001))
    assert [r.allocated for r in b.rows] == [D(250), D(250), D(501)] and b.total == D(1001)
    # c 300, a 100, b 100, target 1,003: 601.8 -> 602, 200.6 -> 201, 201 = 1,004: -1 to 'c'
    e = allocate(three(300, 100, 100), Q1_2027, method="uplift", currency="VND", target=D(1003))
    assert [r.allocated for r in e.rows] == [D(201), D(201), D(601)] and e.total == D(1003)
    assert e.rows[2].note == "takes the rounding remainder (-1)"
    # c 250, a 50, b 50 target 1,000: 714.29 -> 714, 142.86 -> 143, 143 -> 1,000: exact
    c = allocate(three(250, 50, 50), Q1_2027, method="uplift", currency="VND", target=D(1000))
    assert [r.allocated for r in c.rows] == [D(143), D(143), D(714)]
    # c 200, a 200, b 200 target 500: 166.67 -> 167 x 3 = 501: -1 to 'a'
    d = allocate(three(200, 200, 200), Q1_2027, method="uplift", currency="VND", target=D(500))
    assert [r.allocated for r in d.rows] == [D(166), D(167), D(167)]
    assert d.rows[0].note == "takes the rounding remainder (-1)"


# ---------------------------------------------------------------- cascade


def test_cascade_splits_territories_by_owner_shares_on_the_first_day() -> None:
    a = allocate(facts_of(), Q1_2027, method="growth", currency="VND", rate=D(10), cascade=True)
    # T-HN 165,000,000: an 60 % = 99,000,000, binh 40 % = 66,000,000
    # T-HCM 231,000,000, reassigned on 2027-01-01 to chi 50 / dung 50: 115,500,000 each
    assert [(r.subject, r.subject_id, r.allocated, r.note) for r in a.cascaded] == [
        (QuotaSubject.REP, "an", D(99_000_000), "T-HN 60 %"),
        (QuotaSubject.REP, "binh", D(66_000_000), "T-HN 40 %"),
        (QuotaSubject.REP, "chi", D(115_500_000), "T-HCM 50 %"),
        (QuotaSubject.REP, "dung", D(115_500_000), "T-HCM 50 %"),
    ]
    assert [r.share for r in a.cascaded] == [D("25.00"), D("16.67"), D("29.17"), D("29.17")]
    assert (
        table(a)["T-DN"][2]
        == "no sales in 2026-Q1: set by hand; no owner on 2027-01-01: not cascaded"
    )
    assert a.cascaded[0].last_year == D(90_000_000)  # 60 % of T-HN's 150,000,000
    assert sum(r.allocated for r in a.cascaded) == a.total == D(396_000_000)


def test_split_gives_the_remainder_to_the_largest_share() -> None:
    from incentive_engine.domain.events import Share

    def shares(*pairs: tuple[str, str]) -> list[Share]:
        return [Share(rep_id=r, share=D(s)) for r, s in pairs]

    # 100 x 33.34 % = 33.34 -> 33, 33.33 -> 33 twice: 99, +1 to the largest share 'a'
    assert split(D(100), shares(("c", "33.33"), ("a", "33.34"), ("b", "33.33")), "VND") == [
        ("a", D(34)), ("b", D(33)), ("c", D(33)),
    ]  # fmt: skip
    # 101 x 50 % = 50.5 -> 51 twice: 102, -1 to the tie's smallest id 'x'
    assert split(D(101), shares(("y", "50"), ("x", "50")), "VND") == [("x", D(50)), ("y", D(51))]
    # with a target the cascaded reps still sum to exactly the owned territories' total
    a = allocate(
        facts_of(), Q1_2027, method="growth", currency="VND", target=D(400_000_001), cascade=True
    )
    assert sum(r.allocated for r in a.cascaded) == a.total == D(400_000_001)


# ------------------------------------------------------------------ events


def test_to_events_sets_new_quotas_and_skips_rows_set_by_hand() -> None:
    facts = facts_of()
    a = allocate(facts, Q1_2027, method="growth", currency="VND", rate=D(10))
    events = to_events(a, facts, reason="plan 2027")
    assert [(type(e).__name__, e.event_id, e.amount) for e in events] == [
        ("QuotaSet", "quota:territory:T-HCM:2027-Q1", D(231_000_000)),
        ("QuotaSet", "quota:territory:T-HN:2027-Q1", D(165_000_000)),
    ]  # T-DN (0: no history) is left to be set by hand
    assert all(e.subject is QuotaSubject.TERRITORY and e.currency == "VND" for e in events)
    again = fold([*history(), *events])
    assert to_events(a, again, reason="plan 2027") == []  # republishing is a no-op
    cascaded = allocate(facts, Q1_2027, method="growth", currency="VND", rate=D(10), cascade=True)
    ids = [e.event_id for e in to_events(cascaded, facts, reason="r")]
    assert ids[2:] == [
        "quota:rep:an:2027-Q1",
        "quota:rep:binh:2027-Q1",
        "quota:rep:chi:2027-Q1",
        "quota:rep:dung:2027-Q1",
    ]


def test_to_events_changes_differing_quotas_with_the_reason_and_unique_ids() -> None:
    def existing(tid: str, amount: int) -> QuotaSet:
        return QuotaSet(event_id=f"q-{tid}", subject="territory", subject_id=tid, period="2027-Q1",
                        amount=D(amount), currency="VND")  # fmt: skip

    base = [*history(), existing("T-HN", 165_000_000), existing("T-HCM", 200_000_000)]
    ten = allocate(fold(base), Q1_2027, method="growth", currency="VND", rate=D(10))
    [change] = to_events(ten, fold(base), reason="market grew")  # T-HN is equal: nothing
    assert isinstance(change, QuotaChanged)
    assert (change.subject_id, change.amount, change.reason) == (
        "T-HCM",
        D(231_000_000),
        "market grew",
    )
    assert change.event_id.startswith("quota-change:territory:T-HCM:2027-Q1:0001:")
    assert len(change.event_id.rsplit(":", 1)[1]) == 12
    assert to_events(ten, fold(base), reason="market grew") == [change]  # deterministic
    # 10 % -> 20 % -> 10 % again: each change gets its own id and the latest one is in force
    twenty = allocate(fold(base), Q1_2027, method="growth", currency="VND", rate=D(20))
    log = [*base, change]
    second = to_events(twenty, fold(log), reason="r")
    log += second
    third = to_events(ten, fold(log), reason="r")
    log += third
    # T-HCM: set, 0001 (231), 0002 (252), 0003 (231); T-HN: set, 0001 (180), 0002 (165)
    assert [(e.subject_id, e.event_id.split(":")[4]) for e in [*second, *third]] == [
        ("T-HCM", "0002"), ("T-HN", "0001"), ("T-HCM", "0003"), ("T-HN", "0002"),
    ]  # fmt: skip
    assert len({e.event_id for e in [change, *second, *third]}) == 5
    final = fold(log)
    assert final.quota(QuotaSubject.TERRITORY, "T-HCM", Q1_2027).amount == D(231_000_000)
    assert final.quota(QuotaSubject.TERRITORY, "T-HN", Q1_2027).amount == D(165_000_000)
    assert to_events(ten, final, reason="r") == []
    with pytest.raises(AllocationError, match="needs a reason"):
        to_events(twenty, final, reason=" ")


def test_quota_event_ids_are_safe_for_team_names_with_spaces() -> None:
    event = quota_event(Facts(), QuotaSubject.TEAM, "TP.HCM 1", Q1_2027, D(5), "VND", reason="r")
    assert isinstance(event, QuotaSet) and event.subject_id == "TP.HCM 1"
    assert event.event_id.startswith("quota:team:h") and " " not in event.event_id


def test_allocation_is_independent_of_event_order() -> None:
    forward = allocate(
        fold(history()), Q1_2027, method="average", currency="VND", rate=D(7), cascade=True
    )
    backward = allocate(
        fold(list(reversed(history()))),
        Q1_2027,
        method="average",
        currency="VND",
        rate=D(7),
        cascade=True,
    )
    assert forward == backward and forward.as_dict() == backward.as_dict()


# ----------------------------------------------------------------- roll-up


def rollup_events() -> list[Event]:
    def team_quota(team: str, amount: int) -> QuotaSet:
        return QuotaSet(event_id=f"tq-{team}", subject="team", subject_id=team, period="2026-Q1",
                        amount=D(amount), currency="VND")  # fmt: skip

    return [
        rep("an", team="HN"), rep("binh", team="HN"), rep("chi", team="HCM"),
        rep("dung", team="DN", hire_date="2026-02-01"), rep("em", team="HUE"), rep("zed", team="HUE"),
        RepTransferred(event_id="tr-binh", rep_id="binh", effective_date="2026-02-15", team="HCM"),
        quota("an", 90_000_000), quota("binh", 90_000_000), quota("chi", 100_000_000),
        quota("dung", 30_000_000), quota("em", 30_000_000),
        team_quota("HN", 100_000_000), team_quota("HCM", 145_000_000), team_quota("DN", 50_000_000),
        team_quota("EMPTY", 10_000_000),
        defined("T-HN", "2025-01-01"), defined("T-HCM", "2025-01-01"), defined("T-DN", "2025-01-01"),
        defined("T-HUE", "2025-01-01"),
        owners("T-HN", "2025-01-01", ("an", 60), ("binh", 40)), owners("T-HCM", "2025-01-01", ("chi", 100)),
        owners("T-HUE", "2025-01-01", ("zed", 100)),  # zed has no quota: T-HUE is not listed
        QuotaSet(event_id="tq-T-HN", subject="territory", subject_id="T-HN", period="2026-Q1",
                 amount=D(120_000_000), currency="VND"),
        QuotaSet(event_id="tq-T-DN", subject="territory", subject_id="T-DN", period="2026-Q1",
                 amount=D(5_000_000), currency="VND"),
    ]  # fmt: skip


def test_rollup_compares_top_down_quotas_with_their_reps() -> None:
    rows = rollup(fold(rollup_events()), Q1_2026)
    got = [
        (r.subject.value, r.subject_id, r.target, r.reps_sum, r.difference, r.status) for r in rows
    ]
    assert got == [
        # dung hired 2026-02-01: 59 of 90 days -> 30,000,000 x 59 / 90 = 19,666,666.67 -> 19,666,667
        ("team", "DN", D(50_000_000), D(19_666_667), D(-30_333_333), Status.UNDER),
        ("team", "EMPTY", D(10_000_000), D(0), D(-10_000_000), Status.UNDER),
        # chi 100,000,000 + binh 90,000,000 x 45 / 90 (Feb 15 - Mar 31) = 145,000,000
        ("team", "HCM", D(145_000_000), D(145_000_000), D(0), Status.BALANCED),
        # an 90,000,000 + binh 90,000,000 x 45 / 90 (Jan 1 - Feb 14) = 135,000,000
        ("team", "HN", D(100_000_000), D(135_000_000), D(35_000_000), Status.OVER),
        ("team", "HUE", None, D(30_000_000), None, Status.NO_TARGET),
        ("territory", "T-DN", D(5_000_000), D(0), D(-5_000_000), Status.UNDER),
        ("territory", "T-HCM", None, D(100_000_000), None, Status.NO_TARGET),
        # an 90,000,000 x 60 % + binh 90,000,000 x 40 % = 54,000,000 + 36,000,000
        ("territory", "T-HN", D(120_000_000), D(90_000_000), D(-30_000_000), Status.UNDER),
    ]
    by_id = {r.subject_id: r for r in rows}
    assert by_id["HCM"].reps == (("binh", D(45_000_000)), ("chi", D(100_000_000)))
    assert by_id["HN"].reps == (("an", D(90_000_000)), ("binh", D(45_000_000)))
    assert by_id["EMPTY"].note == "no rep quotas" and by_id["T-DN"].note == "no owner on 2026-01-01"
    assert by_id["T-HN"].name == "Territory T-HN" and by_id["T-HN"].as_dict()["status"] == "under"
    assert by_id["HUE"].as_dict()["difference"] is None


def test_rollup_team_sums_agree_with_team_attainment() -> None:
    bottom_up = fold([e for e in rollup_events() if not e.event_id.startswith("tq-")])
    expected = {a.subject_id: a.quota for a in attainment(bottom_up, Q1_2026, "team")}
    got = {
        r.subject_id: r.reps_sum
        for r in rollup(bottom_up, Q1_2026)
        if r.subject is QuotaSubject.TEAM
    }
    assert got == {k: v for k, v in expected.items() if v is not None}
    binh = bottom_up.reps["binh"]
    assert binh.team_days(Q1_2026) == {"HN": 45, "HCM": 45}
    assert bottom_up.reps["dung"].team_days(Q1_2026) == {"DN": 59}
