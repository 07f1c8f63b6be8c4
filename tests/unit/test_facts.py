"""The pure fold of events into facts."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from incentive_engine.domain.events import (
    DealAmended,
    DealCancelled,
    FxRateSet,
    OpportunityCreated,
    OpportunityStageChanged,
    QuotaChanged,
    QuotaSet,
    QuotaSubject,
    RepTerminated,
    RepTransferred,
    Stage,
    TerritoryReassigned,
)
from incentive_engine.domain.facts import Facts, fold
from incentive_engine.domain.periods import Period
from tests.factories import assigned, call, customer, hired, territory, won

Q1 = Period.parse("2026-Q1")


def history() -> list:
    return [
        hired("mgr", name="Trần Thị Bình", role="manager", team="HCM"),
        hired("an", manager_id="mgr", team="HCM"),
        hired("chau", name="Lê Minh Châu", manager_id="mgr", team="HCM"),
        RepTransferred(event_id="tr1", rep_id="chau", effective_date="2026-02-01", team="Hà Nội 1"),
        RepTerminated(event_id="term1", rep_id="chau", termination_date="2026-03-10"),
        territory("T-HCM", region="TP.HCM"),
        territory("T-HCM-SME", region="TP.HCM", size="sme"),
        assigned("T-HCM", "mgr"),
        assigned("T-HCM-SME", "an"),
        TerritoryReassigned(event_id="re1", territory_id="T-HCM-SME", rep_id="chau",
                            effective_date="2026-02-15"),
        won("D1", rep_id="an", close_date="2026-01-10"),
        won("D2", amount=90_000_000, close_date="2026-02-20"),
        won("D3", amount=50_000_000, close_date="2026-01-20",
            splits=[{"rep_id": "an", "share": 60}, {"rep_id": "chau", "share": 40}]),
        won("D4", amount=10_000_000, close_date="2026-01-05", customer=customer(size="corporation")),
        DealAmended(event_id="am1", deal_id="D1", amended_date="2026-01-20", amount=80_000_000,
                    currency="VND", reason="discount"),
        DealCancelled(event_id="c1", deal_id="D4", cancelled_date="2026-03-01", reason="refund"),
        QuotaSet(event_id="q1", subject_id="an", period="2026-Q1", amount=300_000_000, currency="VND"),
        QuotaChanged(event_id="q2", subject_id="an", period="2026-Q1", amount=250_000_000,
                     currency="VND", reason="territory shrank", effective_date="2026-01-01"),
        OpportunityCreated(event_id="o1", deal_id="D9", rep_id="an", created_date="2026-01-02",
                           amount=5, currency="VND", product_group="cloud", customer=customer()),
        OpportunityStageChanged(event_id="o2", deal_id="D9", stage="engage", changed_date="2026-01-09"),
        call("an", 1), call("an", 2, "call_unanswered"),
        FxRateSet(event_id="fx1", base="USD", quote="VND", rate="25000", rate_date="2026-01-01"),
    ]  # fmt: skip


def credit_map(facts: Facts, deal_id: str) -> dict[str, Decimal]:
    return {c.rep_id: c.amount for c in facts.credits(facts.deals[deal_id])}


def test_org_over_time() -> None:
    f = fold(history())
    chau = f.reps["chau"]
    assert chau.team_on(date(2026, 1, 31)) == "HCM"
    assert chau.team_on(date(2026, 2, 1)) == "Hà Nội 1"
    assert chau.manager_on(date(2026, 2, 1)) is None
    assert chau.role_on(date(2026, 2, 1)).value == "rep"
    assert chau.active_on(date(2026, 3, 10)) and not chau.active_on(date(2026, 3, 11))
    assert chau.days_in(Q1) == 69  # Jan 1 .. Mar 10
    assert f.reps["an"].manager_on(date(2026, 1, 1)) == "mgr"
    assert f.reps["an"].placement_on(date(2024, 12, 31)) is None


def test_credit_by_split_named_rep_and_most_specific_territory() -> None:
    f = fold(history())
    assert credit_map(f, "D1") == {"an": Decimal(80_000_000)}  # amended
    assert credit_map(f, "D3") == {"an": Decimal(30_000_000), "chau": Decimal(20_000_000)}
    # D2 names no rep: the SME territory (2 dimensions) beats the city one (1 dimension),
    # and on the close date it belongs to chau (reassigned on Feb 15).
    assert credit_map(f, "D2") == {"chau": Decimal(90_000_000)}
    # D4 is a corporation deal: only the city-wide territory matches.
    assert credit_map(f, "D4") == {"mgr": Decimal(10_000_000)}
    credit = f.credits(f.deals["D2"])[0]
    assert credit.basis == "territory" and credit.territory_id == "T-HCM-SME"
    assert {"won-D2", "def-T-HCM-SME", "re1"} <= set(credit.event_ids)


def test_crediting_by_territory_ignores_the_named_rep() -> None:
    f = fold(history())
    by_territory = {c.rep_id for c in f.credits(f.deals["D1"], by="territory")}
    assert by_territory == {"an"}  # an owns the SME territory on Jan 10


def test_credited_revenue_excludes_cancelled_deals() -> None:
    f = fold(history())
    assert f.credited_revenue("an", Q1) == Decimal(110_000_000)
    assert f.credited_revenue("mgr", Q1) == 0  # D4 cancelled


def test_quota_change_beats_quota_set_on_the_same_day() -> None:
    f = fold(history())
    entry = f.quota(QuotaSubject.REP, "an", Q1)
    assert entry is not None and entry.amount == 250_000_000 and entry.event_id == "q2"


def test_pipeline_activities_and_fx() -> None:
    f = fold(history())
    assert [s[2] for s in f.deals["D9"].stages] == [Stage.PROSPECT, Stage.ENGAGE]
    assert [a.kind.value for a in f.activities["an"]] == ["call_connected", "call_unanswered"]
    assert f.fx_rate("USD", "VND", date(2026, 2, 1)) == 25000
    assert f.fx_rate("VND", "USD", date(2026, 2, 1)) == Decimal(1) / 25000


def test_missing_fx_rate_is_a_clear_error() -> None:
    f = fold(history())
    try:
        f.fx_rate("EUR", "VND", date(2026, 2, 1))
    except LookupError as exc:
        assert "EUR->VND" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected LookupError")


def test_facts_do_not_depend_on_the_order_of_events() -> None:
    events = history()
    reference = fold(events)
    rng = random.Random(11)
    for _ in range(25):
        shuffled = events[:]
        rng.shuffle(shuffled)
        f = fold(shuffled)
        for deal_id in ("D1", "D2", "D3", "D4"):
            assert f.credits(f.deals[deal_id]) == reference.credits(reference.deals[deal_id])
        assert f.quota(QuotaSubject.REP, "an", Q1) == reference.quota(QuotaSubject.REP, "an", Q1)
        assert f.reps["chau"].placements == reference.reps["chau"].placements
        assert f.activities == reference.activities
        assert f.summary() == reference.summary()


def test_unassigned_deals_are_listed() -> None:
    f = fold([*history(), won("D5", customer=customer(region="Huế"))])
    assert [d.deal_id for d in f.unassigned_deals()] == ["D5"]


def test_summary_counts() -> None:
    s = fold(history()).summary()
    assert s["reps"] == 3 and s["deals_won"] == 4 and s["deals_cancelled"] == 1
    assert s["events"] == len(history())


def test_a_redefined_territory_keeps_its_earlier_definition_for_earlier_deals() -> None:
    from incentive_engine.domain.events import TerritoryDefined

    events = [
        hired("an"),
        territory("T", region="TP.HCM"),
        assigned("T", "an"),
        TerritoryDefined(
            event_id="def-T-2",
            territory_id="T",
            name="T SME",
            criteria={"region": "TP.HCM", "size": "sme"},
            effective_date="2026-03-01",
        ),
        won("EARLY", close_date="2026-02-10", customer=customer(size="corporation")),
        won("LATE", close_date="2026-03-10", customer=customer(size="corporation")),
    ]
    f = fold(events)
    assert credit_map(f, "EARLY") == {
        "an": Decimal(100_000_000)
    }  # matched the city-wide definition
    assert credit_map(f, "LATE") == {}  # the SME-only definition no longer matches
    assert "def-T" in f.credits(f.deals["EARLY"])[0].event_ids
    assert f.territories["T"].current.name == "T SME"


def test_rehire_after_termination_is_a_new_spell() -> None:
    events = [
        hired("an", hire_date="2025-06-01"),
        RepTerminated(event_id="t1", rep_id="an", termination_date="2026-01-31"),
        hired(
            "an", event_id="hire-an-again", hire_date="2026-03-01", name="Nguyễn Văn An (rehired)"
        ),
    ]
    for order in (events, list(reversed(events))):
        rep = fold(order).reps["an"]
        assert rep.spells() == [(date(2025, 6, 1), date(2026, 1, 31)), (date(2026, 3, 1), None)]
        assert rep.days_in(Q1) == 31 + 31  # January and March
        assert not rep.active_on(date(2026, 2, 15)) and rep.active_on(date(2026, 3, 1))
        assert rep.termination_date is None and rep.name == "Nguyễn Văn An (rehired)"
        assert rep.last_day_in(Q1) == date(2026, 3, 31)
