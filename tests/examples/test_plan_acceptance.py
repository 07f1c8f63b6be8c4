"""Worked example of plan acceptance and the hold on unaccepted plans (computed by hand).

Plan ``example`` v1 (graduated tiers 2 / 5 / 8 % from 0 / 50 / 100 % of quota), quarterly
quota 300,000,000 each, 2026-Q1:

- An is credited 390,000,000 (130 %): 150,000,000 × 2 % + 150,000,000 × 5 % + 90,000,000 × 8 %
  = 3,000,000 + 7,500,000 + 7,200,000 = 17,700,000.  An accepted v1 on 2026-01-05.
- Bình is credited 100,000,000 (33.3 %): 100,000,000 × 2 % = 2,000,000.  Bình has not accepted.

Without the hold both are payable: 17,700,000 + 2,000,000 = 19,700,000.
With the hold, Bình's 2,000,000 is held ("binh has not accepted plan example v1") and the
payable total is 17,700,000.  Bình accepts on 2026-04-02: nothing is held, 19,700,000 again.
The statements (and their hashes) are the same in all three cases.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from incentive_engine.domain.events import PlanAccepted, acceptance_event_id
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import Snapshot, period_payouts, total_paid
from plans.documents import publication
from plans.evaluate import PlanBook
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import won

Q1 = Period.parse("2026-Q1")


def accepts(rep_id: str, day: str) -> PlanAccepted:
    return PlanAccepted(
        event_id=acceptance_event_id("example", 1, rep_id),
        rep_id=rep_id,
        plan_id="example",
        version=1,
        accepted_at=datetime.fromisoformat(day).replace(tzinfo=UTC),
        how="web",
    )


def snapshot(*extra: object) -> Snapshot:
    facts = fold(
        [
            publication(plan(tiered()).plan),
            rep("an"),
            rep("binh"),
            quota("an", 300_000_000),
            quota("binh", 300_000_000),
            won("D1", 390_000_000, rep_id="an", close_date="2026-02-10"),
            won("D2", 100_000_000, rep_id="binh", close_date="2026-02-11"),
            accepts("an", "2026-01-05"),
            *extra,  # type: ignore[list-item]
        ]
    )
    return Snapshot(facts, PlanBook.from_facts(facts))


def test_the_hold_keeps_back_only_the_unaccepted_pay() -> None:
    snap = snapshot()
    free = period_payouts(snap, Q1)
    assert {p.rep_id: p.total for p in free.payouts} == {
        "an": Decimal(17_700_000),
        "binh": Decimal(2_000_000),
    }
    assert total_paid(free.payouts) == Decimal(19_700_000) and free.held == []
    held = period_payouts(snap, Q1, hold=True)
    assert [p.rep_id for p in held.payouts] == ["an"]
    assert total_paid(held.payouts) == Decimal(17_700_000)
    [kept] = held.held
    assert kept.payout.total == Decimal(2_000_000)
    assert kept.reason == "binh has not accepted plan example v1"
    # the statements are the same whether or not the pay is held
    assert {p.statement_hash for p in free.payouts} == {
        p.statement_hash for p in (*held.payouts, kept.payout)
    }


def test_accepting_releases_the_held_pay() -> None:
    snap = snapshot(accepts("binh", "2026-04-02"))
    found = period_payouts(snap, Q1, hold=True)
    assert found.held == [] and total_paid(found.payouts) == Decimal(19_700_000)
    assert {p.statement_hash for p in found.payouts} == {
        p.statement_hash for p in period_payouts(snapshot(), Q1).payouts
    }
