"""Worked examples of ``earn_on`` (hoa hồng trên doanh thu thực thu), computed by hand.

Amounts in VND.  The plan of DESIGN §5 (quarterly quota 300,000,000, graduated tiers
[0 %, 50 %) 2 %, [50 %, 100 %) 5 %, [100 %, ∞) 8 %), or a flat 5 % rate where a tier would
only hide the arithmetic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import yaml

from incentive_engine.domain.events import (
    DealAmended,
    DealCancelled,
    FxRateSet,
    InvoiceCancelled,
    InvoiceIssued,
    PaymentReceived,
    PaymentRefunded,
)
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from incentive_engine.domain.references import References
from incentive_engine.domain.simulation import simulate, window
from incentive_engine.services import simulations
from incentive_engine.services.audit_trail import explain_period
from incentive_engine.services.commissions import (
    Snapshot,
    close_period,
    rep_statements,
    snapshot,
)
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from plans.evaluate import PlanBook, evaluate
from plans.model import EarnOn
from tests.conftest import StepClock
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import won

Q1, Q2 = Period.parse("2026-Q1"), Period.parse("2026-Q2")
D = Decimal
FLAT = {"id": "commission", "kind": "rate", "rate": 5}


def invoice(invoice_id: str, deal_id: str, amount: int, day: str, **kw: Any) -> InvoiceIssued:
    return InvoiceIssued(event_id=f"inv-{invoice_id}", invoice_id=invoice_id, deal_id=deal_id,
                         amount=D(amount), currency="VND", issued_date=day, **kw)  # fmt: skip


def paid(payment_id: str, amount: int | str, day: str, **kw: Any) -> PaymentReceived:
    values: dict[str, Any] = {"currency": "VND", **kw}
    return PaymentReceived(event_id=f"pay-{payment_id}", payment_id=payment_id,
                           amount=D(str(amount)), received_date=day, **values)  # fmt: skip


def total(facts: Any, version: Any, period: Period) -> Decimal:
    return evaluate(facts, version, "an", period).total


# ------------------------------------------------------------ two parts, two quarters


def two_part_history() -> list[Any]:
    return [rep("an"), quota("an", 300_000_000), quota("an", 300_000_000, "2026-Q2"),
            won("D1", 300_000_000, rep_id="an", close_date="2026-03-20"),
            paid("P1", 120_000_000, "2026-03-28", deal_id="D1"),
            paid("P2", 180_000_000, "2026-04-15", deal_id="D1")]  # fmt: skip


def test_a_deal_paid_in_two_parts_across_two_quarters() -> None:
    facts = fold(two_part_history())
    booking = plan(tiered())
    payment = plan(tiered(), earn_on="payment")
    # Booking: Q1 credits the whole 300,000,000 = 100 %:
    #   150,000,000 x 2 % + 150,000,000 x 5 % = 3,000,000 + 7,500,000 = 10,500,000; Q2 nothing.
    assert (total(facts, booking, Q1), total(facts, booking, Q2)) == (D(10_500_000), D(0))
    # Payment: Q1 collects 120,000,000 = 40 % of quota: 120,000,000 x 2 % = 2,400,000.
    q1 = evaluate(facts, payment, "an", Q1)
    assert (q1.credited, q1.attainment, q1.total) == (D(120_000_000), D(40), D(2_400_000))
    [line] = q1.lines
    assert "pay-P1" in line.event_ids and "pay-P2" not in line.event_ids
    assert line.deal_ids == ("D1",)
    # Q2 collects 180,000,000 = 60 %: 150,000,000 x 2 % + 30,000,000 x 5 %
    #   = 3,000,000 + 1,500,000 = 4,500,000 (each period's tiers measure its own cash).
    q2 = evaluate(facts, payment, "an", Q2)
    assert (q2.credited, q2.attainment, q2.total) == (D(180_000_000), D(60), D(4_500_000))
    assert "pay-P2" in q2.lines[0].event_ids and "pay-P1" not in q2.lines[-1].event_ids
    # A flat 5 %: 120,000,000 x 5 % = 6,000,000, then 180,000,000 x 5 % = 9,000,000: the
    # same 15,000,000 as at booking, paid as the cash arrives.
    flat = plan(FLAT, earn_on="payment")
    assert (total(facts, flat, Q1), total(facts, flat, Q2)) == (D(6_000_000), D(9_000_000))


def test_per_deal_tiers_and_fixed_spiffs_are_paid_pro_rata_to_the_cash() -> None:
    facts = fold(two_part_history())
    deal_tiers = {"id": "big", "kind": "rate", "mode": "graduated", "measure": "deal_amount",
                  "tiers": [{"from": 0, "rate": 2}, {"from": 200_000_000, "rate": 4}]}  # fmt: skip
    spiff = {"id": "spiff", "kind": "spiff", "amount_per_deal": 1_000_000}
    version = plan(deal_tiers, spiff, earn_on="payment")
    # The whole deal earns 200,000,000 x 2 % + 100,000,000 x 4 % = 8,000,000 and a 1,000,000
    # SPIFF; Q1 collects 120,000,000 / 300,000,000 = 40 % of it:
    #   4,000,000 x 40 % = 1,600,000; 4,000,000 x 40 % = 1,600,000; SPIFF 400,000.
    assert [ln.amount for ln in evaluate(facts, version, "an", Q1).lines] == [
        D(1_600_000), D(1_600_000), D(400_000)]  # fmt: skip
    # Q2, the other 60 %: 2,400,000 + 2,400,000 + 600,000 = 5,400,000.
    assert total(facts, version, Q2) == D(5_400_000)


# ------------------------------------------------------------ partial payment, cancellation


def partial_history() -> list[Any]:
    return [rep("an"), quota("an", 300_000_000),
            won("D2", 100_000_000, rep_id="an", close_date="2026-01-10"),
            invoice("INV-2", "D2", 100_000_000, "2026-01-15"),
            paid("P3", 40_000_000, "2026-02-10", invoice_id="INV-2")]  # fmt: skip


def test_a_partial_payment_then_a_cancellation_keeps_the_cash_earned() -> None:
    history = [*partial_history(),
               DealCancelled(event_id="cancel-D2", deal_id="D2", cancelled_date="2026-03-01",
                             reason="customer withdrew"),
               InvoiceCancelled(event_id="void-INV-2", invoice_id="INV-2",
                                cancelled_date="2026-03-01", reason="deal cancelled")]  # fmt: skip
    facts = fold(history)
    # Booking: cancelled 50 days after the close, inside the 90-day window: nothing earned.
    assert total(facts, plan(FLAT), Q1) == D(0)
    # Payment: the 40,000,000 received is kept: 40,000,000 x 5 % = 2,000,000.
    assert total(facts, plan(FLAT, earn_on="payment"), Q1) == D(2_000_000)
    # Invoice: the invoice earned 100,000,000, its cancellation removes the 60,000,000 not
    # paid: 40,000,000 x 5 % = 2,000,000, the lines citing the cancellation.
    [line] = evaluate(facts, plan(FLAT, earn_on="invoice"), "an", Q1).lines
    assert line.amount == D(2_000_000) and "void-INV-2" in line.event_ids


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def test_a_cancelled_invoice_is_clawed_back_in_the_first_open_period(
    store: EventStore, clock: StepClock
) -> None:
    clock.set("2026-01-02T00:00:00")
    store.append([publication(plan(FLAT, earn_on="invoice").plan), *partial_history()])
    # Q1: the invoice of 100,000,000 issued Jan 15 earns 100,000,000 x 5 % = 5,000,000.
    clock.set("2026-04-02T00:00:00")
    closed = close_period(store, Q1, closed_by="finance@vn", now=at("2026-04-02"))
    assert closed.payouts[0].total == D(5_000_000)
    # Apr 10 (85 days after the issue, inside the window) the invoice is cancelled: Q1 now
    # counts only the 40,000,000 paid on it: 2,000,000.  Q2 carries 2,000,000 - 5,000,000.
    clock.set("2026-04-10T00:00:00")
    store.append([InvoiceCancelled(event_id="void-INV-2", invoice_id="INV-2",
                                   cancelled_date="2026-04-10", reason="disputed")])  # fmt: skip
    [q2] = rep_statements(snapshot(store), "an", Q2)
    [adjustment] = [ln for ln in q2.lines if ln.kind == "prior_period"]
    assert (adjustment.amount, adjustment.event_ids) == (D(-3_000_000), ("void-INV-2",))
    assert q2.total == D(-3_000_000)  # nothing invoiced in Q2: its commission line is 0


def test_a_refund_is_clawed_back_from_the_period_of_its_payment(
    store: EventStore, clock: StepClock
) -> None:
    clock.set("2026-01-02T00:00:00")
    store.append([publication(plan(FLAT, earn_on="payment").plan), *partial_history()])
    # Q1: 40,000,000 received Feb 10: 2,000,000.
    clock.set("2026-04-02T00:00:00")
    assert close_period(store, Q1, closed_by="finance@vn", now=at("2026-04-02")).payouts[
        0
    ].total == D(2_000_000)
    # Apr 5 10,000,000 of it is refunded (54 days after, inside the window): Q1 recomputed on
    # 30,000,000 earns 1,500,000; Q2 carries 1,500,000 - 2,000,000 = -500,000.
    clock.set("2026-04-05T00:00:00")
    store.append([PaymentRefunded(event_id="ref-R1", refund_id="R1", payment_id="P3",
                                  amount=D(10_000_000), currency="VND",
                                  refunded_date="2026-04-05")])  # fmt: skip
    [q2] = rep_statements(snapshot(store), "an", Q2)
    [adjustment] = [ln for ln in q2.lines if ln.kind == "prior_period"]
    assert (adjustment.amount, adjustment.event_ids) == (D(-500_000), ("ref-R1",))
    assert q2.total == D(-500_000)
    # `explain` reaches the payment and the refund behind Q1's line.
    [chain] = explain_period(snapshot(store), store, "an", Q1)["chains"]
    summaries = [e["summary"] for e in chain["events"]]
    assert "payment P3 of 40,000,000 VND for INV-2" in summaries
    assert "refund R1 of 10,000,000 VND on payment P3" in summaries


# ------------------------------------------------------------ overpayment


def test_an_overpayment_is_refused_at_ingest_and_capped_after_an_amendment() -> None:
    refs = References()
    refs.learn_all(partial_history())
    # 40,000,000 of the 100,000,000 invoice is paid: 70,000,000 more would be 110,000,000.
    assert refs.problems(paid("P4", 70_000_000, "2026-03-01", invoice_id="INV-2")) == [
        ("amount", "overpayment: invoice 'INV-2' is 100,000,000 VND, 40,000,000 VND is already "
                   "paid, and this payment counts 70,000,000 VND more")]  # fmt: skip
    assert refs.problems(paid("P4", 60_000_000, "2026-03-01", invoice_id="INV-2")) == []
    # Paid in full, then amended down to 80,000,000 inside the window: the 20,000,000 above
    # the deal's amount earns nothing: 80,000,000 x 5 % = 4,000,000.
    facts = fold([rep("an"), won("D3", 100_000_000, rep_id="an", close_date="2026-01-10"),
                  paid("P5", 100_000_000, "2026-01-20", deal_id="D3"),
                  DealAmended(event_id="amend-D3", deal_id="D3", amended_date="2026-02-01",
                              amount=D(80_000_000), currency="VND", reason="discount")])  # fmt: skip
    [line] = evaluate(facts, plan(FLAT, earn_on="payment"), "an", Q1).lines
    assert (line.base, line.amount) == (D(80_000_000), D(4_000_000))


# ------------------------------------------------------------ another currency


def test_a_payment_in_another_currency_counts_at_the_rate_of_its_day() -> None:
    history = [rep("an"), won("D4", 250_000_000, rep_id="an", close_date="2026-01-20")]
    refs = References()
    refs.learn_all(history)
    usd = paid("P6", 4_000, "2026-02-10", deal_id="D4", currency="USD")
    # Without a rate the payment is refused, naming the field and what to publish.
    assert refs.problems(usd) == [
        ("currency", "deal 'D4' is in VND: no FX rate USD->VND on or before 2026-02-10 "
                     "(publish an FxRateSet first)")]  # fmt: skip
    rate = FxRateSet(event_id="fx-usd", base="USD", quote="VND", rate=D(25_000),
                     rate_date="2026-02-01")  # fmt: skip
    refs.learn(rate)
    assert refs.problems(usd) == []
    # 4,000 USD x 25,000 = 100,000,000 VND of the 250,000,000 deal: 100,000,000 x 5 % =
    # 5,000,000.
    [line] = evaluate(fold([*history, rate, usd]), plan(FLAT, earn_on="payment"), "an", Q1).lines
    assert (line.base, line.amount) == (D(100_000_000), D(5_000_000))
    # 6,001 USD more would be 150,025,000 VND: over the 150,000,000 left of the deal.
    refs.learn(usd)
    assert refs.problems(paid("P7", 6_001, "2026-02-11", deal_id="D4", currency="USD"))[0][0] == (
        "amount"
    )


# ------------------------------------------------------------ invoice mode


def test_invoice_mode_earns_in_the_period_each_invoice_is_issued() -> None:
    facts = fold([rep("an"), won("D5", 200_000_000, rep_id="an", close_date="2026-01-20"),
                  invoice("INV-5a", "D5", 80_000_000, "2026-02-01", due_date="2026-03-01"),
                  invoice("INV-5b", "D5", 120_000_000, "2026-05-05")])  # fmt: skip
    version = plan(FLAT, earn_on="invoice")
    # Q1: 80,000,000 x 5 % = 4,000,000; Q2: 120,000,000 x 5 % = 6,000,000 (nothing paid yet).
    [q1] = evaluate(facts, version, "an", Q1).lines
    assert (q1.amount, "inv-INV-5a" in q1.event_ids) == (D(4_000_000), True)
    assert total(facts, version, Q2) == D(6_000_000)


# ------------------------------------------------------------ simulation


def test_a_draft_switching_to_payment_shows_the_cash_timing_per_rep() -> None:
    facts = fold([*two_part_history(), rep("binh"),
                  won("D6", 100_000_000, rep_id="binh", close_date="2026-02-01"),
                  paid("P8", 100_000_000, "2026-02-20", deal_id="D6")])  # fmt: skip
    baseline, draft = plan(FLAT), plan(FLAT, earn_on="payment", version=2)
    # an, Q1 only: booking 300,000,000 x 5 % = 15,000,000; payment 120,000,000 x 5 % =
    # 6,000,000: -9,000,000 waits for the Q2 cash.  binh was paid in the quarter: 5,000,000.
    q1 = {r.rep_id: r for r in simulate(facts, draft, baseline, [Q1]).reps}
    assert (q1["an"].baseline, q1["an"].simulated) == (D(15_000_000), D(6_000_000))
    assert (q1["binh"].baseline, q1["binh"].simulated) == (D(5_000_000), D(5_000_000))
    # Over Q1..Q2 the cash has arrived: 15,000,000 under both.
    both = {r.rep_id: r for r in simulate(facts, draft, baseline, window(Q1, Q2)).reps}
    assert (both["an"].baseline, both["an"].simulated) == (D(15_000_000), D(15_000_000))
    # The service the API, the web page and the CLI share, from a YAML draft: the same.
    snap = Snapshot(facts, PlanBook((baseline,)))
    from_text = simulations.draft_from_text(yaml.safe_dump(draft.plan.document()))
    assert from_text.plan.earn_on is EarnOn.PAYMENT
    found = simulations.run(snap, from_text, simulations.baseline_for(snap, from_text), [Q1])
    by_rep = {r.rep_id: r for r in found.reps}
    assert (by_rep["an"].difference, by_rep["binh"].difference) == (D(-9_000_000), D(0))
