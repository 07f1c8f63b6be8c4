"""What if I close this deal? The pure estimate, checked against figures computed by hand
from DESIGN §5 (quota 300,000,000; graduated tiers 0/50/100 % at 2/5/8 %)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from incentive_engine.domain.estimates import (
    DealInput,
    EstimateInvalid,
    EstimateRefused,
    check_vocabulary,
    estimate,
    hypothetical_deal,
    open_opportunities,
    pair_lines,
    vocabulary,
    with_deal,
)
from incentive_engine.domain.events import Event, OpportunityCreated, PeriodClosed
from incentive_engine.domain.facts import Facts, fold
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.evaluate import PlanBook
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import customer, won

Q1 = Period.parse("2026-Q1")
CLOUD_SPIFF = {
    "id": "cloud-q1",
    "kind": "spiff",
    "amount_per_deal": 500_000,
    "filter": [{"field": "product_group", "op": "eq", "value": "cloud"}],
    "window": {"from": "2026-01-01", "to": "2026-03-31"},
}


def setup(credited: int | None, *components: dict[str, Any], extra: list[Event] | None = None):
    """Facts of rep 'an' (quota 300,000,000 in 2026-Q1) with one deal already credited."""
    version = plan(*(components or (tiered(),)))
    events: list[Any] = [rep("an"), quota("an", 300_000_000), *(extra or [])]
    if credited:
        events.append(won("D1", credited, rep_id="an", product_group="software"))
    return fold(events), version, PlanBook((version,))


def deal(amount: int | str, **kw: Any) -> DealInput:
    """An imagined VND deal closed 2026-03-01 with a new business customer."""
    values: dict[str, Any] = {
        "amount": Decimal(str(amount)),
        "currency": "VND",
        "close_date": date(2026, 3, 1),
        "product_group": "software",
        "customer": customer(customer_id="new", is_new=True),
    }
    values.update(kw)
    return DealInput(**values)


def run(facts: Facts, book: PlanBook, d: DealInput) -> Any:
    return estimate(facts, book, "an", hypothetical_deal("an", d))


def test_a_deal_above_quota_pays_the_top_rate() -> None:
    facts, _, book = setup(390_000_000)
    found = run(facts, book, deal(60_000_000))
    (p,) = found.plans
    assert p.before.total == Decimal("17700000")  # 3,000,000 + 7,500,000 + 7,200,000
    assert p.difference == Decimal("4800000")  # 60,000,000 x 8 %
    assert found.differences() == {"VND": Decimal("4800000")}
    top = [c for c in p.changes if c.tier == "[100 %, ∞)"]
    assert [(c.amount_before, c.amount_after) for c in top] == [
        (Decimal("7200000"), Decimal("12000000"))
    ]
    assert [c.difference for c in p.changes if c.tier != "[100 %, ∞)"] == [0, 0]
    assert (p.before.attainment, p.after.attainment) == (Decimal(130), Decimal(150))


def test_a_deal_across_tiers_pays_each_slice_at_its_rate() -> None:
    facts, _, book = setup(100_000_000)
    (p,) = run(facts, book, deal(100_000_000)).plans
    assert p.before.total == Decimal("2000000")  # 100,000,000 x 2 %
    # 150,000,000 x 2 % + 50,000,000 x 5 % = 3,000,000 + 2,500,000 = 5,500,000
    assert p.after.total == Decimal("5500000")
    assert p.difference == Decimal("3500000")
    rows = [(c.tier, c.amount_before, c.amount_after, c.difference) for c in p.changes]
    assert rows == [
        ("[0 %, 50 %)", Decimal("2000000"), Decimal("3000000"), Decimal("1000000")),
        ("[50 %, 100 %)", Decimal(0), Decimal("2500000"), Decimal("2500000")),
    ]
    assert p.changes[1].before is None  # the deal opens the second tier


def test_a_cloud_deal_adds_the_spiff() -> None:
    facts, _, book = setup(390_000_000, tiered(), CLOUD_SPIFF)
    (p,) = run(facts, book, deal(60_000_000, product_group="cloud")).plans
    spiff = [c for c in p.changes if c.component == "cloud-q1"]
    assert [(c.before, c.amount_after) for c in spiff] == [(None, Decimal("500000"))]
    assert p.difference == Decimal("4800000") + Decimal("500000")
    (other,) = run(facts, book, deal(60_000_000, product_group="software")).plans
    assert other.difference == Decimal("4800000")  # no SPIFF outside cloud


def test_per_deal_lines_pair_with_their_own_deal() -> None:
    extra = [won("D0", 10_000_000, rep_id="an", close_date="2026-01-05")]
    facts, _, book = setup(390_000_000, tiered(), CLOUD_SPIFF, extra=extra)
    d = deal(60_000_000, product_group="cloud", close_date=date(2026, 1, 20))
    (p,) = run(facts, book, d).plans
    spiff = [(c.before is None, c.difference) for c in p.changes if c.component == "cloud-q1"]
    assert spiff == [(False, 0), (True, Decimal("500000"))]


def test_crossing_the_gate() -> None:
    facts, _, book = setup(100_000_000, tiered(gate=40))
    (p,) = run(facts, book, deal(50_000_000)).plans
    assert p.before.total == 0  # 33.3 % is below the 40 % gate
    assert p.after.total == Decimal("3000000")  # 150,000,000 (50 %) x 2 %
    kinds = [(c.kind, c.before is None, c.after is None) for c in p.changes]
    assert ("gate", False, True) in kinds  # the gate line goes away
    assert p.difference == Decimal("3000000")


def test_nothing_of_the_facts_changes() -> None:
    opportunity = OpportunityCreated(
        event_id="opp-O1",
        deal_id="O1",
        rep_id="an",
        created_date="2026-01-10",
        amount=Decimal(80_000_000),
        currency="VND",
        product_group="cloud",
        customer=customer(),
    )
    facts, _, book = setup(390_000_000, extra=[opportunity])
    count, deals = facts.event_count, dict(facts.deals)
    before = facts.credited_revenue("an", Q1)
    found = run(facts, book, deal(80_000_000, opportunity_id="O1"))
    assert found.plans[0].difference == Decimal("6400000")  # 80,000,000 x 8 %
    assert facts.event_count == count and facts.deals == deals
    assert facts.deals["O1"].won is None
    assert facts.credited_revenue("an", Q1) == before == Decimal(390_000_000)
    overlay = with_deal(facts, hypothetical_deal("an", deal(1, opportunity_id="O1")))
    assert overlay.deals["O1"].won is not None and facts.deals["O1"].won is None
    assert [o.deal_id for o in open_opportunities(facts, "an")] == ["O1"]
    assert open_opportunities(overlay, "an") == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": Decimal(0)}, "amount"),
        ({"amount": Decimal("-5")}, "amount"),
        ({"amount": Decimal("10.5")}, "amount"),  # VND has no minor unit
        ({"amount": Decimal("1" + "0" * 18)}, "amount"),
        ({"currency": "XYZ"}, "currency"),
        ({"close_date": date(1999, 1, 1)}, "close_date"),
        ({"product_group": ""}, "product_group"),
        ({"customer": customer(region="")}, "customer.region"),
    ],
)
def test_bad_input_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(EstimateInvalid) as caught:
        hypothetical_deal("an", deal(**{"amount": 1, **changes}))
    assert caught.value.field == field


def test_minor_units_follow_the_currency() -> None:
    assert hypothetical_deal("an", deal("1234.56", currency="USD")).amount == Decimal("1234.56")
    with pytest.raises(EstimateInvalid, match="2 decimal places"):
        hypothetical_deal("an", deal("1234.565", currency="USD"))


def test_product_group_from_the_vocabulary() -> None:
    facts, version, _ = setup(390_000_000, tiered(), CLOUD_SPIFF)
    words = vocabulary(facts, [version], date(2026, 3, 1))
    assert words.product_groups == ("cloud", "software")
    check_vocabulary(hypothetical_deal("an", deal(1, product_group="cloud")), words)
    with pytest.raises(EstimateInvalid) as caught:
        check_vocabulary(hypothetical_deal("an", deal(1, product_group="cloudy")), words)
    assert caught.value.field == "product_group"


def test_refusals() -> None:
    facts, _, book = setup(390_000_000)
    with pytest.raises(EstimateRefused, match="no published plan") as caught:
        run(facts, book, deal(1, close_date=date(2025, 6, 1)))
    assert caught.value.field == "close_date"
    facts.apply(
        PeriodClosed(event_id="close-q1", period="2026-Q1", closed_at="2026-04-02T00:00:00Z")
    )
    with pytest.raises(EstimateRefused, match="closed"):
        run(facts, book, deal(1))
    with pytest.raises(EstimateRefused, match="unknown rep"):
        estimate(facts, book, "nobody", hypothetical_deal("nobody", deal(1)))


def test_pairing_keeps_removed_lines() -> None:
    facts, version, _ = setup(100_000_000, tiered(gate=40))
    assert isinstance(version, PlanVersion)
    from plans.evaluate import evaluate

    s = evaluate(facts, version, "an", Q1)
    changes = pair_lines(s.lines, ())
    assert [(c.kind, c.after) for c in changes] == [("gate", None)]
