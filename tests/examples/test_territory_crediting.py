"""DESIGN §5, "Territory crediting with a late reassignment", on both stores.

Territory HCM · SME · Retail belongs to An; a reassignment to Bình effective 2026-02-15 is
recorded on 2026-03-01. A deal in that territory closed 2026-02-20 and recorded 2026-02-21,
naming no rep, is credited to Bình (owner on the close date). Asked as of 2026-02-28, before
the reassignment was recorded, the engine answers An.
"""

from __future__ import annotations

from datetime import UTC, datetime

from incentive_engine.services.replay import replay_facts
from incentive_engine.store.event_store import EventStore
from tests.conftest import StepClock
from tests.factories import assigned, customer, hired, territory, won


def test_late_reassignment_recredits_the_deal_but_not_as_of_before_it(
    store: EventStore, clock: StepClock
) -> None:
    clock.set("2026-01-01T00:00:00+00:00")
    store.append(
        [
            hired("an", name="An"),
            hired("binh", name="Bình"),
            territory("HCM-SME-RETAIL", region="TP.HCM", size="sme", industry="Retail"),
            assigned("HCM-SME-RETAIL", "an"),
        ]
    )
    clock.set("2026-02-21T09:00:00+00:00")
    store.append([won("D1", close_date="2026-02-20", customer=customer(industry="Retail"))])
    clock.set("2026-03-01T09:00:00+00:00")
    store.append([assigned("HCM-SME-RETAIL", "binh", "2026-02-15", event_id="reassign-1")])

    now = replay_facts(store)
    [credit] = now.credits(now.deals["D1"])
    assert credit.rep_id == "binh"
    assert credit.basis == "territory"
    assert "reassign-1" in credit.event_ids

    then = replay_facts(store, as_of=datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC))
    [credit_then] = then.credits(then.deals["D1"])
    assert credit_then.rep_id == "an"
