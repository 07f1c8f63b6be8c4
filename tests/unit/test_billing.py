"""Invoices and payments: ingest-time checks naming field and reason, a fold that does not
depend on the order of events, and snapshots that carry them."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from incentive_engine.domain.events import (
    EVENT_ADAPTER,
    InvoiceCancelled,
    InvoiceIssued,
    PaymentReceived,
    PaymentRefunded,
    catalogue_schema,
    describe,
)
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from incentive_engine.domain.references import References
from incentive_engine.store.facts_codec import canonical_dump, encode_facts, facts_from_sections
from plans.diff import diff_plans
from plans.evaluate import evaluate
from plans.model import plan_schema
from tests.examples.plans import plan, rep
from tests.factories import won

D = Decimal
Q1 = Period.parse("2026-Q1")


def invoice(invoice_id: str = "I1", deal_id: str = "D1", amount: int = 60, **kw: Any) -> Any:
    values = {"event_id": f"e-{invoice_id}", "currency": "VND", "issued_date": "2026-02-01", **kw}
    return InvoiceIssued(invoice_id=invoice_id, deal_id=deal_id, amount=D(amount), **values)


def payment(payment_id: str = "P1", amount: int = 10, **kw: Any) -> Any:
    values = {"event_id": f"e-{payment_id}", "currency": "VND", "received_date": "2026-02-10"}
    values.update(kw)
    if "deal_id" not in values and "invoice_id" not in values:
        values["invoice_id"] = "I1"
    return PaymentReceived(payment_id=payment_id, amount=D(amount), **values)


def refund(refund_id: str = "R1", amount: int = 5, **kw: Any) -> Any:
    values = {"currency": "VND", "refunded_date": "2026-02-20", "payment_id": "P1", **kw}
    return PaymentRefunded(event_id=f"e-{refund_id}", refund_id=refund_id, amount=D(amount),
                           **values)  # fmt: skip


def known() -> References:
    refs = References()
    refs.learn_all([rep("an"), won("D1", 100, rep_id="an"), invoice(), payment()])
    return refs


@pytest.mark.parametrize(
    ("event", "field", "reason"),
    [
        (invoice(deal_id="D9"), "deal_id", "deal 'D9' has not been won (no DealWon)"),
        (invoice("I2", currency="USD"), "currency", "deal 'D1' is in VND: invoice it in VND"),
        (invoice("I2", amount=41), "amount", "over-invoiced: deal 'D1' is 100 VND"),
        (invoice(event_id="other"), "invoice_id", "invoice 'I1' was already issued"),
        (
            InvoiceCancelled(
                event_id="c", invoice_id="I9", cancelled_date="2026-03-01", reason="x"
            ),
            "invoice_id",
            "unknown invoice 'I9'",
        ),
        (
            InvoiceCancelled(
                event_id="c", invoice_id="I1", cancelled_date="2026-01-31", reason="x"
            ),
            "cancelled_date",
            "invoice 'I1' was issued on 2026-02-01, after 2026-01-31",
        ),
        (payment("P2", invoice_id="I9"), "invoice_id", "unknown invoice 'I9'"),
        (payment("P2", invoice_id="I1", deal_id="D2"), "deal_id", "invoice 'I1' bills deal 'D1'"),
        (payment("P2", deal_id="D9"), "deal_id", "deal 'D9' has not been won"),
        (payment("P2", amount=51), "amount", "overpayment: invoice 'I1' is 60 VND, 10 VND"),
        (payment("P2", deal_id="D1", amount=91), "amount", "overpayment: deal 'D1' is 100 VND"),
        (payment(event_id="other"), "payment_id", "payment 'P1' was already received"),
        (payment("P2", currency="EUR"), "currency", "no FX rate EUR->VND on or before"),
        (refund(payment_id="P9"), "payment_id", "unknown payment 'P9'"),
        (refund(currency="USD"), "currency", "payment 'P1' is in VND, not USD"),
        (refund(amount=11), "amount", "refunds of payment 'P1' would add up to 11 VND"),
    ],
)
def test_bad_references_are_refused_naming_field_and_reason(
    event: Any, field: str, reason: str
) -> None:
    problems = known().problems(event)
    assert [f for f, _ in problems] == [field], problems
    assert reason in problems[0][1]


def test_good_billing_passes_and_cancelled_invoices_take_no_payment() -> None:
    refs = known()
    for event in (invoice("I2", amount=40), payment("P2", amount=50), refund(amount=10)):
        assert refs.problems(event) == []
        refs.learn(event)
    # P1 was refunded in full: 10 more may be paid on I1 again, not 11.
    assert refs.problems(payment("P3", amount=10)) == []
    assert refs.problems(payment("P3", amount=11))[0][0] == "amount"
    refs.learn(InvoiceCancelled(event_id="c", invoice_id="I2", cancelled_date="2026-03-01",
                                reason="x"))  # fmt: skip
    assert refs.problems(payment("P4", invoice_id="I2")) == [
        ("invoice_id", "invoice 'I2' was cancelled")
    ]
    # A cancelled invoice frees what it billed: 40 may be invoiced again.
    assert refs.problems(invoice("I3", amount=40)) == []
    # A copy learns apart from the original.
    copy = refs.copy()
    copy.learn(invoice("I3", amount=40))
    assert refs.problems(invoice("I4", amount=40)) == []
    assert copy.problems(invoice("I4", amount=40))[0][0] == "amount"


def test_events_validate_their_own_fields() -> None:
    with pytest.raises(ValidationError, match="names the invoice_id or the deal_id"):
        PaymentReceived(event_id="p", payment_id="p", amount=D(1), currency="VND",
                        received_date="2026-01-01")  # fmt: skip
    with pytest.raises(ValidationError, match="a payment of 0"):
        payment(amount=0)
    with pytest.raises(ValidationError, match="due_date 2026-01-01 is before"):
        invoice(due_date="2026-01-01")
    with pytest.raises(ValidationError):
        payment(amount=-5)
    again = EVENT_ADAPTER.validate_python(payment().model_dump(mode="json"))
    assert again == payment() and "payment P1" in describe(again)
    schema = str(catalogue_schema())
    assert "PaymentReceived" in schema and "the FxRateSet rate of the received date" in schema
    assert "earn_on" in str(plan_schema()) and "hoa hồng" in str(plan_schema())


def history() -> list[Any]:
    return [rep("an"), won("D1", 100_000_000, rep_id="an", close_date="2026-01-10"),
            invoice("I1", amount=60_000_000, issued_date="2026-01-15"),
            invoice("I1", amount=60_000_000, issued_date="2026-01-15", event_id="e-I1-again"),
            payment("P1", 30_000_000), payment("P1", 30_000_000, event_id="e-P1-again"),
            payment("P2", 20_000_000, deal_id="D1", received_date="2026-03-02"),
            refund("R1", 5_000_000),
            InvoiceCancelled(event_id="c2", invoice_id="I1", cancelled_date="2026-03-01",
                             reason="x"),
            InvoiceCancelled(event_id="c1", invoice_id="I1", cancelled_date="2026-03-05",
                             reason="x")]  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_the_fold_and_statements_do_not_depend_on_the_order_of_events(seed: int) -> None:
    events = history()
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    a, b = fold(events), fold(shuffled)
    for mode in ("payment", "invoice"):
        version = plan({"id": "c", "kind": "rate", "rate": 5}, earn_on=mode)
        assert evaluate(a, version, "an", Q1).hash == evaluate(b, version, "an", Q1).hash
    assert a.billing("D1") == b.billing("D1")
    assert a.invoice_cancellations["I1"].event_id == "c2"  # the earliest
    assert a.payments["P1"].event_id == "e-P1"  # the smaller event id


def test_snapshots_carry_invoices_payments_and_refunds() -> None:
    facts = fold(history())
    again = facts_from_sections(encode_facts(facts), facts.event_count)
    assert canonical_dump(again) == canonical_dump(facts)
    version = plan({"id": "c", "kind": "rate", "rate": 5}, earn_on="payment")
    # 30,000,000 - 5,000,000 refunded + 20,000,000 = 45,000,000 x 5 % = 2,250,000
    assert evaluate(again, version, "an", Q1).total == D(2_250_000)
    assert evaluate(again, version, "an", Q1).hash == evaluate(facts, version, "an", Q1).hash


def test_an_existing_plan_document_hashes_as_before() -> None:
    booking = plan({"id": "c", "kind": "rate", "rate": 5})
    assert "earn_on" not in booking.plan.document()
    assert (
        plan({"id": "c", "kind": "rate", "rate": 5}, earn_on="booking").plan.document()["earn_on"]
        == "booking"
    )


def test_a_plan_diff_shows_the_switch_to_payment() -> None:
    before = plan({"id": "c", "kind": "rate", "rate": 5}).plan
    after = plan({"id": "c", "kind": "rate", "rate": 5}, earn_on="payment").plan
    [change] = diff_plans(before, after)
    assert (change.where, change.kind, change.after) == ("earn_on", "added", "payment")


def test_a_split_deal_earns_each_reps_share_of_the_cash() -> None:
    splits = [{"rep_id": "an", "share": 60}, {"rep_id": "binh", "share": 40}]
    facts = fold([rep("an"), rep("binh"), won("D1", 100_000_000, splits=splits,
                                              close_date="2026-01-10"),
                  payment("P1", 50_000_000, deal_id="D1")])  # fmt: skip
    version = plan({"id": "c", "kind": "rate", "rate": 5}, earn_on="payment")
    # 50,000,000 received: an 60 % = 30,000,000 x 5 % = 1,500,000; binh 20,000,000 -> 1,000,000
    assert evaluate(facts, version, "an", Q1).total == D(1_500_000)
    assert evaluate(facts, version, "binh", Q1).total == D(1_000_000)
