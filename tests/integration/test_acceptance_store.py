"""The acceptance service on a SQLite file and on PostgreSQL: the same acceptance, the same
event (content and hash), the same refusals, and a snapshot of the facts that keeps it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incentive_engine.domain.errors import Forbidden
from incentive_engine.domain.visibility import Role, Viewer
from incentive_engine.services.acceptance import AcceptanceInvalid, AcceptanceService
from incentive_engine.services.engine import Engine
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.examples.plans import plan, rep, tiered

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def test_acceptance_on_each_store(store: EventStore) -> None:
    store.append(
        [
            publication(plan(tiered()).plan),
            publication(plan(tiered(), plan_id="hanoi", covers={"teams": ["Hà Nội"]}).plan),
            rep("an"),
            rep("binh"),
        ]
    )
    engine = Engine(store=store)
    service = AcceptanceService(engine, clock=lambda: AT)
    first = service.accept(Viewer(Role.REP, "an"), "example", 1, how="web")
    assert not first.already and first.row.accepted_at == AT
    again = service.accept(Viewer(Role.REP, "an"), "example", 1, how="api")
    assert again.already and again.row.how == "web"
    recorded = store.get("accept:example:v1:an")
    assert recorded is not None
    assert recorded.event.canonical == (
        b'{"accepted_at":"2026-01-05T09:30:00Z","event_id":"accept:example:v1:an","how":"web",'
        b'"plan_id":"example","recorded_by":"an","rep_id":"an","schema_version":1,'
        b'"type":"PlanAccepted","version":1}'
    )
    with pytest.raises(AcceptanceInvalid) as exc:
        service.accept(Viewer(Role.REP, "an"), "hanoi", 1, how="web")
    assert exc.value.field == "rep_id"
    with pytest.raises(Forbidden):
        service.accept(Viewer(Role.REP, "an"), "example", 1, how="web", rep_id="binh")
    rows = service.report(Viewer(Role.FINANCE, "fin"), "example", 1)
    assert [(r.rep_id, r.accepted) for r in rows] == [("an", True), ("binh", False)]
    # a fresh engine (from a snapshot where one is kept) folds the same acceptance
    again_rows = AcceptanceService(Engine(store=store)).report(
        Viewer(Role.PLAN_ADMIN, "pa"), "example", 1
    )
    assert again_rows == rows
