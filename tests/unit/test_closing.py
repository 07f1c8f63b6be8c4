"""Pre-close checks and the close rule (pure): one fixture set of facts per finding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from incentive_engine.domain.closing import (
    MAX_CHANGES,
    Check,
    CloseBlocked,
    Finding,
    OverrideInvalid,
    PayRunView,
    Recorded,
    Severity,
    Since,
    adjustments_awaiting_approval,
    changes_since_pay_run,
    deals_without_credit,
    decide_close,
    missing_fx,
    open_disputes,
    pre_close_checks,
    statement_errors,
    unowned_territories,
)
from incentive_engine.domain.events import (
    DealCancelled,
    DisputeRaised,
    Event,
    FxRateSet,
    ManualAdjustment,
    PeriodClosed,
)
from incentive_engine.domain.facts import Facts, fold
from incentive_engine.domain.periods import Period
from plans.documents import publication
from plans.evaluate import PlanBook
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import assigned, customer, territory, won

Q1 = Period.parse("2026-Q1")
BASE: list[Event] = [
    publication(plan(tiered()).plan),
    rep("an"),
    rep("binh"),
    quota("an", 300_000_000),
]


def facts_of(*events: Event) -> Facts:
    return fold([*BASE, *events])


def book(facts: Facts) -> PlanBook:
    return PlanBook.from_facts(facts)


@dataclass(frozen=True)
class Failed:
    rep_id: str
    plan_id: str
    plan_version: int
    error: str


def dispute(dispute_id: str, period: str = "2026-Q1", rep_id: str = "an") -> DisputeRaised:
    return DisputeRaised(
        event_id=f"raise-{dispute_id}", dispute_id=dispute_id, rep_id=rep_id, period=period,
        line=1, plan_id="example", reason="Thiếu hợp đồng D9", expected_amount=Decimal(5),
        currency="VND", raised_by="an", raised_at="2026-03-02T03:00:00Z",
    )  # fmt: skip


# ----------------------------------------------------------------- each check


def test_a_clean_period_passes_every_check() -> None:
    facts = facts_of(won("D1", rep_id="an"))
    view = PayRunView("fin", datetime(2026, 4, 1, tzinfo=UTC), 10)
    checks = pre_close_checks(facts, book(facts), Q1, [], view=view)
    assert [c.name for c in checks] == [
        "statement_errors", "deals_without_credit", "unowned_territories", "missing_fx",
        "adjustments_awaiting_approval", "open_disputes", "changes_since_pay_run",
        "unaccepted_plans",
    ]  # fmt: skip
    assert all(c.passed for c in checks) and not any(c.blocks for c in checks)


def test_statement_errors_name_each_rep_and_block_without_override() -> None:
    check = statement_errors([Failed("binh", "example", 1, "event junk is quarantined"),
                              Failed("an", "example", 1, "no FX rate")])  # fmt: skip
    assert [f.subject for f in check.findings] == ["an", "binh"]  # sorted, none hidden
    assert check.findings[1].detail == "binh: event junk is quarantined"
    assert check.findings[1].values["plan"] == "example@1"
    assert check.blocks and not check.overridable


def test_a_won_deal_crediting_nobody_is_found_with_why() -> None:
    facts = facts_of(
        won("D1", rep_id="an"),  # named: fine
        won("D2", 7_000_000),  # no rep, no territory
        won("D3", 9_000_000, customer=customer(region="Hà Nội")),  # territory without owner
        territory("T-HN", region="Hà Nội"),
        won("D4", 1_000_000, close_date="2026-02-21"),  # cancelled: not paid anyway
        DealCancelled(event_id="x-D4", deal_id="D4", cancelled_date="2026-02-25", reason="x"),
        won("D5", close_date="2026-04-02"),  # another period
    )
    check = deals_without_credit(facts, Q1)
    assert [(f.subject, f.values["territory"]) for f in check.findings] == [
        ("D2", None),
        ("D3", "T-HN"),
    ]
    assert "matches no territory" in check.findings[0].detail
    assert "territory T-HN has no owner on 2026-02-20" in check.findings[1].detail
    assert check.blocks and check.overridable


def test_owning_the_territory_credits_the_deal() -> None:
    facts = facts_of(won("D3", customer=customer(region="Hà Nội")),
                     territory("T-HN", region="Hà Nội"), assigned("T-HN", "binh"))  # fmt: skip
    assert deals_without_credit(facts, Q1).passed
    assert unowned_territories(facts, Q1).passed


def test_an_unowned_territory_warns_and_blocks_once_a_deal_fell_in_it() -> None:
    quiet = facts_of(territory("T-DN", region="Đà Nẵng"))
    check = unowned_territories(quiet, Q1)
    assert [f.subject for f in check.findings] == ["T-DN"]
    assert check.severity is Severity.WARNING and not check.blocks
    assert "has no owner on 2026-03-31" in check.findings[0].detail
    busy = facts_of(territory("T-DN", region="Đà Nẵng"),
                    won("D1", rep_id="an", customer=customer(region="Đà Nẵng")))  # fmt: skip
    check = unowned_territories(busy, Q1)
    assert check.findings[0].values["deals"] == 1 and check.blocks
    # Owned until February only: unowned on the close date all the same.
    ended = facts_of(territory("T-DN", region="Đà Nẵng"), assigned("T-DN", "an"))
    assert not unowned_territories(ended, Q1).findings  # owned on the close date


def test_a_credit_in_a_currency_the_plan_cannot_convert_is_found() -> None:
    usd = won("D1", 1000, currency="USD", rep_id="an")
    facts = facts_of(usd)
    check = missing_fx(facts, book(facts), Q1)
    assert [(f.kind, f.subject) for f in check.findings] == [("deal", "D1")]
    assert "no USD->VND rate on or before 2026-02-20" in check.findings[0].detail
    assert check.blocks
    late = FxRateSet(event_id="fx-late", base="USD", quote="VND", rate=Decimal(25000),
                     rate_date="2026-02-21")  # fmt: skip
    assert not missing_fx(facts_of(usd, late), book(facts), Q1).passed  # a rate after: no use
    rate = FxRateSet(event_id="fx", base="USD", quote="VND", rate=Decimal(25000),
                     rate_date="2026-02-01")  # fmt: skip
    fixed = facts_of(usd, rate)
    assert missing_fx(fixed, book(fixed), Q1).passed


def test_an_adjustment_in_a_currency_without_a_rate_is_found() -> None:
    adj = ManualAdjustment(event_id="adj-1", rep_id="binh", period="2026-Q1",
                           amount=Decimal(50), currency="USD", reason="bonus",
                           posted_by="fin", posted_date="2026-03-10")  # fmt: skip
    facts = facts_of(adj)
    check = missing_fx(facts, book(facts), Q1)
    assert [(f.kind, f.subject, f.values["rep"]) for f in check.findings] == [
        ("adjustment", "adj-1", "binh")
    ]


def test_open_disputes_of_the_period_warn() -> None:
    check = open_disputes([dispute("d2", "2026-02"), dispute("d1"), dispute("d3", "2026-Q2")], Q1)
    assert [f.subject for f in check.findings] == ["d1", "d2"]  # a month within the quarter
    assert check.severity is Severity.WARNING and not check.blocks
    assert "Thiếu hợp đồng D9" in check.findings[0].detail


def test_an_adjustment_awaiting_approval_blocks_until_it_is_decided() -> None:
    from tests.unit.test_adjustments import approved, base, proposed, rejected

    assert adjustments_awaiting_approval(facts_of(*base()), Q1).passed
    waiting = adjustments_awaiting_approval(facts_of(*base(), proposed()), Q1)
    assert waiting.severity is Severity.BLOCKING and not waiting.passed
    (finding,) = waiting.findings
    assert (finding.kind, finding.subject) == ("adjustment", "adj-1")
    assert finding.values["rep"] == "an" and finding.values["proposed_by"] == "fin-a"
    assert finding.values["amount"] == Decimal("1500000")
    for decision in (approved(), rejected()):
        assert adjustments_awaiting_approval(facts_of(*base(), proposed(), decision), Q1).passed
    other = adjustments_awaiting_approval(facts_of(*base(), proposed(period="2026-Q2")), Q1)
    assert other.passed


def test_changes_since_the_pay_run_view() -> None:
    never = changes_since_pay_run(None, Since(), Q1)
    assert [f.detail for f in never.findings] == ["the pay run of 2026-Q1 was never viewed"]
    assert not never.blocks
    view = PayRunView("fin", datetime(2026, 4, 1, tzinfo=UTC), 10)
    at = datetime(2026, 4, 2, 3, tzinfo=UTC)
    since = Since((Recorded(11, at, won("D9", rep_id="an")),  # in Q1
                   Recorded(12, at, won("D10", rep_id="an", close_date="2026-04-01")),
                   Recorded(13, at, dispute("d1"))))  # fmt: skip
    check = changes_since_pay_run(view, since, Q1)
    assert [f.subject for f in check.findings] == ["won-D9", "raise-d1"]
    assert check.context["viewer"] == "fin" and check.context["recorded"] == 3
    assert changes_since_pay_run(view, Since(), Q1).passed
    many = Since(tuple(Recorded(20 + n, at, won(f"M{n}", rep_id="an")) for n in range(60)), True)
    listed = changes_since_pay_run(view, many, Q1)
    assert len(listed.findings) == MAX_CHANGES and listed.context["unlisted"] == 10
    assert listed.context["more"] is True


# ------------------------------------------------------------------- the rule

BLOCKING = Check("deals_without_credit", Severity.BLOCKING, (Finding("deal", "D2", "deal D2"),))
WARNING = Check("open_disputes", Severity.WARNING, (Finding("dispute", "d1", "dispute d1"),))
HARD = statement_errors([Failed("an", "example", 1, "event junk is quarantined")])


def test_a_close_with_only_warnings_is_allowed_and_records_no_override() -> None:
    decision = decide_close([WARNING], None)
    assert decision.overridden == () and decision.reason is None
    assert decide_close([WARNING], "not needed").reason is None  # nothing to override


def test_a_failing_blocking_check_refuses_the_close() -> None:
    with pytest.raises(CloseBlocked, match=r"deals_without_credit \(deal D2\)"):
        decide_close([BLOCKING, WARNING], None)


def test_an_override_with_a_reason_is_accepted_and_names_the_checks() -> None:
    decision = decide_close([BLOCKING, WARNING], "  Hợp đồng   nội bộ, không ai hưởng  ")
    assert decision.overridden == ("deals_without_credit",)
    assert decision.reason == "Hợp đồng nội bộ, không ai hưởng"


@pytest.mark.parametrize("reason", ["", "   ", "\n"])
def test_an_empty_override_reason_is_refused(reason: str) -> None:
    with pytest.raises(OverrideInvalid) as caught:
        decide_close([BLOCKING], reason)
    assert caught.value.field == "override_reason"


def test_statements_that_cannot_be_computed_are_never_overridden() -> None:
    with pytest.raises(CloseBlocked, match="1 statement\\(s\\) cannot be computed"):
        decide_close([HARD, BLOCKING], "pay them later")


def test_the_override_is_stored_on_the_event_and_left_out_when_empty() -> None:
    base = {"event_id": "close:2026-Q1", "period": "2026-Q1",
            "closed_at": "2026-04-02T00:00:00Z", "closed_by": "fin"}  # fmt: skip
    plain = PeriodClosed(**base)
    assert b"override" not in plain.canonical  # stored events keep their hash
    overridden = PeriodClosed(**base, override_reason="house account",
                              overridden_checks=("deals_without_credit",))  # fmt: skip
    assert b'"override_reason":"house account"' in overridden.canonical
    assert overridden.digest != plain.digest
    with pytest.raises(ValueError, match="needs both"):
        PeriodClosed(**base, override_reason="why")
    with pytest.raises(ValueError, match="needs both"):
        PeriodClosed(**base, overridden_checks=("deals_without_credit",))
