"""The maker–checker rules of manual adjustments (pure): no self-approval unless single-approver
mode, decided once, a rejection has a reason, a currency the plan cannot pay refused at
proposal unless converted (rounded once, half-up), pending and rejected never paid, approved
paid exactly like a ManualAdjustment, and ManualAdjustment events paid as before."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from incentive_engine.domain.adjustments import (
    Adjustment,
    AdjustmentConflict,
    AdjustmentForbidden,
    AdjustmentInvalid,
    AdjustmentNotFound,
    Status,
    adjustments,
    check_approval,
    check_proposal,
    check_rejection,
    pending,
)
from incentive_engine.domain.events import (
    AdjustmentApproved,
    AdjustmentProposed,
    AdjustmentRejected,
    Event,
    ManualAdjustment,
)
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from incentive_engine.domain.references import References
from plans.documents import publication
from plans.evaluate import PlanBook, evaluate
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import won

Q1 = Period.parse("2026-Q1")
AT = datetime(2026, 3, 20, 9, tzinfo=UTC)


def base() -> list[Event]:
    return [publication(plan(tiered()).plan), rep("an"), quota("an", 300_000_000),
            won("D1", 390_000_000, rep_id="an", close_date="2026-02-10")]  # fmt: skip


def proposed(amount: str = "1500000", **kw: Any) -> AdjustmentProposed:
    values: dict[str, Any] = {"event_id": "adj-1", "rep_id": "an", "period": "2026-Q1",
        "amount": Decimal(amount), "currency": "VND", "reason": "Thưởng", "proposed_by": "fin-a",
        "proposed_at": AT}  # fmt: skip
    values.update(kw)
    return AdjustmentProposed(**values)


def approved(by: str = "fin-b", event_id: str = "adj-1:approved", **kw: Any) -> AdjustmentApproved:
    return AdjustmentApproved(event_id=event_id, proposal_id="adj-1", approved_by=by,
                              approved_at=datetime(2026, 3, 21, tzinfo=UTC), **kw)  # fmt: skip


def rejected(reason: str = "no", event_id: str = "adj-1:rejected") -> AdjustmentRejected:
    return AdjustmentRejected(event_id=event_id, proposal_id="adj-1", rejected_by="fin-b",
                              reason=reason, rejected_at=datetime(2026, 3, 21, tzinfo=UTC))  # fmt: skip


def total(events: list[Event]) -> Decimal:
    facts = fold(events)
    [version] = PlanBook.from_facts(facts).for_rep(facts, "an", Q1)
    return evaluate(facts, version, "an", Q1).total


def test_pending_and_rejected_proposals_are_never_paid() -> None:
    assert total(base()) == 17_700_000
    facts = fold([*base(), proposed()])
    assert total([*base(), proposed()]) == 17_700_000
    assert [a.proposal_id for a in pending(facts)] == ["adj-1"]
    assert pending(facts, "2026-Q2") == [] and pending(facts, Q1)[0].status is Status.PENDING
    assert total([*base(), proposed(), rejected()]) == 17_700_000
    assert pending(fold([*base(), proposed(), rejected()])) == []


def test_an_approved_proposal_is_paid_exactly_like_a_manual_adjustment() -> None:
    events = [*base(), proposed(), approved()]
    facts = fold(events)
    [version] = PlanBook.from_facts(facts).for_rep(facts, "an", Q1)
    statement = evaluate(facts, version, "an", Q1)
    manual = ManualAdjustment(event_id="m-1", rep_id="an", period="2026-Q1", amount=1_500_000,
                              currency="VND", reason="Thưởng", posted_by="fin-a",
                              posted_date="2026-03-21")  # fmt: skip
    twin = evaluate(fold([*base(), manual]), version, "an", Q1)
    assert statement.total == twin.total == 19_200_000
    ours, theirs = statement.lines[-1], twin.lines[-1]
    assert (ours.kind, ours.amount, ours.description) == (
        theirs.kind,
        theirs.amount,
        theirs.description,
    )
    assert ours.event_ids == ("adj-1", "adj-1:approved")  # the proposal and its approval
    # whatever order the events were folded in
    assert total([approved(), proposed(), *base()]) == 19_200_000


def test_an_old_manual_adjustment_stays_valid_and_paid_with_its_hash() -> None:
    manual = ManualAdjustment(event_id="m-1", rep_id="an", period="2026-Q1", amount=-250_000,
                              currency="VND", reason="phone", posted_by="f",
                              posted_date="2026-03-01")  # fmt: skip
    assert manual.digest == ("sha256:" + __import__("hashlib").sha256(manual.canonical).hexdigest())
    assert b"fx_rate" not in proposed().canonical and b"single_approver" not in approved().canonical
    assert total([*base(), manual]) == 17_450_000


def test_self_approval_is_refused_unless_single_approver_mode() -> None:
    current = Adjustment(proposed())
    with pytest.raises(AdjustmentForbidden, match="different finance user"):
        check_approval(current, "adj-1", "fin-a")
    with pytest.raises(AdjustmentForbidden):
        check_approval(current, "adj-1", "  FIN-A ")  # the same person, however typed
    check_approval(current, "adj-1", "fin-b")
    check_approval(current, "adj-1", "fin-a", single_approver=True)
    # in the fold: a self-approval counts only when it says it was made in that mode
    assert total([*base(), proposed(), approved(by="fin-a")]) == 17_700_000
    assert total([*base(), proposed(), approved(by="fin-a", single_approver=True)]) == 19_200_000
    # and the ingest's reference check refuses it too
    refs = References()
    refs.learn(proposed())
    assert [f for f, _ in refs.problems(approved(by="fin-a"))] == ["approved_by"]
    assert refs.problems(approved(by="fin-a", single_approver=True)) == []


def test_a_proposal_is_decided_once_and_a_rejection_needs_a_reason() -> None:
    with pytest.raises(AdjustmentNotFound):
        check_approval(None, "nope", "fin-b")
    done = Adjustment(proposed(), approved())
    with pytest.raises(AdjustmentConflict, match="already approved by fin-b"):
        check_approval(done, "adj-1", "fin-c")
    with pytest.raises(AdjustmentConflict):
        check_rejection(done, "adj-1", "fin-c", "late")
    for reason in ("", "   "):
        with pytest.raises(AdjustmentInvalid, match="needs a reason") as exc:
            check_rejection(Adjustment(proposed()), "adj-1", "fin-b", reason)
        assert exc.value.field == "reason"
    with pytest.raises(ValueError):
        rejected(reason="")
    # two decisions in the log: the earliest that keeps the rules stands
    later = AdjustmentRejected(event_id="z", proposal_id="adj-1", rejected_by="fin-c",
                               reason="x", rejected_at=datetime(2026, 3, 22, tzinfo=UTC))  # fmt: skip
    [found] = adjustments(fold([*base(), later, proposed(), approved()]))
    assert found.status is Status.APPROVED
    refs = References()
    refs.learn_all([proposed(), approved()])
    assert [f for f, _ in refs.problems(later)] == ["proposal_id"]


def test_the_proposal_is_checked_against_what_the_rep_is_paid_in() -> None:
    facts = fold(base())
    ok = check_proposal(facts, rep_id="an", period="2026-Q1", amount=Decimal(1), currency="VND")
    assert (ok.pay_currency, ok.fx_rate) == ("VND", None)
    cases = [
        ({"rep_id": "ghost"}, AdjustmentNotFound, "rep_id"),
        ({"period": "2026-02"}, AdjustmentInvalid, "period"),
        ({"period": "2025-Q4"}, AdjustmentInvalid, "period"),
        ({"amount": Decimal(0)}, AdjustmentInvalid, "amount"),
        ({"currency": "USD"}, AdjustmentInvalid, "currency"),
        ({"fx_rate": Decimal(2)}, AdjustmentInvalid, "fx_rate"),
        ({"currency": "USD", "fx_rate": Decimal("0.00001"), "amount": Decimal("0.01")},
         AdjustmentInvalid, "amount"),
    ]  # fmt: skip
    for change, error, field in cases:
        values: dict[str, Any] = {"rep_id": "an", "period": "2026-Q1", "amount": Decimal(1),
                                  "currency": "VND", **change}  # fmt: skip
        with pytest.raises(error) as exc:
            check_proposal(facts, **values)
        assert exc.value.field == field, change
    with pytest.raises(AdjustmentInvalid, match="pays in VND, not USD: state the FX rate"):
        check_proposal(facts, rep_id="an", period="2026-Q1", amount=Decimal(1), currency="USD")


def test_fx_conversion_rounds_once_half_up_to_the_plan_currency() -> None:
    facts = fold(base())
    # 100.50 USD × 25,431.5 = 2,555,865.75 VND → 2,555,866
    payable = check_proposal(facts, rep_id="an", period="2026-Q1", amount=Decimal("100.50"),
                             currency="USD", fx_rate=Decimal("25431.5"))  # fmt: skip
    assert (payable.pay_currency, payable.paid_amount) == ("VND", Decimal(2_555_866))
    usd = proposed("100.50", currency="USD", fx_rate=Decimal("25431.5"), pay_currency="VND")
    assert usd.paid_amount == 2_555_866 and usd.paid_currency == "VND"
    down = proposed("-0.02", currency="USD", fx_rate=Decimal("25"), pay_currency="VND")
    assert down.paid_amount == -1  # -0.5 rounds half away from zero
    assert total([*base(), usd, approved()]) == 17_700_000 + 2_555_866
    with pytest.raises(ValueError, match="pay_currency is required"):
        proposed(currency="USD", fx_rate=Decimal(2))
    with pytest.raises(ValueError, match="already in VND"):
        proposed(fx_rate=Decimal(2), pay_currency="VND")
