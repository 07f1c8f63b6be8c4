"""Publishing plan versions to a real store (SQLite file and PostgreSQL): immutable, rising."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from incentive_engine.domain.events import PlanVersionPublished, content_hash
from incentive_engine.services.plan_publishing import (
    PlanPublishError,
    get_version,
    list_versions,
    publish,
    version_in_force,
)
from incentive_engine.store.event_store import EventStore
from plans.documents import PlanVersion, load_plan, plan_from_data
from plans.model import Plan
from tests.conftest import StepClock

CATALOG = Path(__file__).resolve().parents[2] / "plans" / "catalog"


def catalog(name: str) -> Plan:
    return load_plan((CATALOG / f"{name}.yaml").read_text(encoding="utf-8"), name)


def variant(plan: Plan, **changes: Any) -> Plan:
    data = copy.deepcopy(plan.document())
    data.update(changes)
    return plan_from_data(data)


def stored_plan_events(store: EventStore) -> list[PlanVersionPublished]:
    events = [r.event for r in store.read(types=["PlanVersionPublished"])]
    assert all(isinstance(e, PlanVersionPublished) for e in events)
    return events  # type: ignore[return-value]


def test_publish_then_read_back(store: EventStore, clock: StepClock) -> None:
    plan = catalog("field-sales-vn")
    result = publish(store, plan, published_by="Lan (finance)")
    assert not result.already_published
    assert result.event_id == "plan:field-sales-vn:v1"
    assert result.content_hash == content_hash(plan.document())
    assert result.position == store.max_position() == 1
    recorded = store.get("plan:field-sales-vn:v1")
    assert recorded is not None and recorded.source == "plan:field-sales-vn"
    event = recorded.event
    assert isinstance(event, PlanVersionPublished)
    assert event.published_by == "Lan (finance)"
    assert event.effective_from == date(2026, 1, 1) and event.effective_to is None
    # The document read back from the store validates again, into the same plan and hash.
    again = plan_from_data(event.document)
    assert again == plan
    assert content_hash(again.document()) == event.content_hash == result.content_hash
    assert get_version(store, "field-sales-vn") == PlanVersion(
        plan, result.content_hash, result.event_id
    )


def test_publishing_the_same_document_again_is_a_reported_no_op(
    store: EventStore, clock: StepClock
) -> None:
    plan = catalog("field-sales-vn")
    first = publish(store, plan)
    clock.tick()
    again = publish(store, catalog("field-sales-vn"), published_by="someone else")
    assert again.already_published
    assert (again.event_id, again.content_hash, again.position) == (
        first.event_id,
        first.content_hash,
        first.position,
    )
    assert store.max_position() == 1
    assert stored_plan_events(store)[0].published_by is None


def test_a_different_document_under_a_published_version_is_refused(store: EventStore) -> None:
    plan = catalog("field-sales-vn")
    first = publish(store, plan)
    changed = variant(plan, name="Field sales plan — revised")
    with pytest.raises(PlanPublishError) as caught:
        publish(store, changed)
    message = str(caught.value)
    assert message.startswith("plan field-sales-vn v1: ")
    assert (
        f"already published with a different document ({first.content_hash}); "
        "published versions are immutable: publish version 2"
    ) in message
    assert isinstance(caught.value, ValueError)
    assert store.max_position() == 1
    assert [e.content_hash for e in stored_plan_events(store)] == [first.content_hash]


def test_a_document_differing_only_in_number_spelling_is_refused_with_a_hint(
    store: EventStore,
) -> None:
    plan = catalog("field-sales-vn")
    publish(store, plan)
    data = copy.deepcopy(plan.document())
    data["clawback"]["share"] = "100.0"
    with pytest.raises(PlanPublishError) as caught:
        publish(store, plan_from_data(data))
    assert "differ only in how numbers are written" in str(caught.value)
    assert store.max_position() == 1


def test_versions_must_rise(store: EventStore) -> None:
    plan = catalog("field-sales-vn")
    publish(store, plan)
    publish(store, variant(plan, version=3, name="v3"))
    with pytest.raises(PlanPublishError) as caught:
        publish(store, variant(plan, version=2, name="v2"))
    assert str(caught.value) == (
        "plan field-sales-vn v2: version 3 is already published and versions must rise: publish version 4"
    )
    # v1 with a different document names the next free version too.
    with pytest.raises(PlanPublishError, match="immutable: publish version 4"):
        publish(store, variant(plan, name="other"))
    assert store.max_position() == 2
    # Another plan's versions are its own; currency and period may change between versions.
    publish(store, catalog("sales-managers-vn"))
    v4 = publish(store, variant(plan, version=4, currency="USD", period="month", name="v4"))
    assert not v4.already_published
    assert [v.key for v in list_versions(store)] == [
        ("field-sales-vn", 1),
        ("field-sales-vn", 3),
        ("field-sales-vn", 4),
        ("sales-managers-vn", 1),
    ]


def test_list_get_and_version_in_force(store: EventStore) -> None:
    assert list_versions(store) == []
    with pytest.raises(
        LookupError, match="no published plan 'field-sales-vn'; no plan is published yet"
    ):
        get_version(store, "field-sales-vn")
    v1 = catalog("field-sales-vn")
    publish(store, catalog("sales-managers-vn"))
    publish(store, variant(v1, effective_to="2026-06-30"))
    publish(store, variant(v1, version=2, effective_from="2026-07-01", name="H2"))
    publish(
        store,
        variant(v1, version=3, effective_from="2026-10-01", effective_to="2026-10-31", name="Oct"),
    )
    versions = list_versions(store)
    assert [v.key for v in versions] == [
        ("field-sales-vn", 1),
        ("field-sales-vn", 2),
        ("field-sales-vn", 3),
        ("sales-managers-vn", 1),
    ]
    assert all(v.content_hash == content_hash(v.plan.document()) for v in versions)
    assert get_version(store, "field-sales-vn").plan.version == 3
    assert get_version(store, "field-sales-vn", 2).plan.name == "H2"
    with pytest.raises(LookupError) as caught:
        get_version(store, "field-sales-vn", 9)
    assert (
        str(caught.value.args[0])
        == "plan 'field-sales-vn' has no version 9; published versions: 1, 2, 3"
    )
    with pytest.raises(LookupError, match="published plans: field-sales-vn, sales-managers-vn"):
        get_version(store, "nope")

    def in_force(day: str) -> int | None:
        found = version_in_force(versions, "field-sales-vn", date.fromisoformat(day))
        return None if found is None else found.plan.version

    assert in_force("2025-12-31") is None
    assert in_force("2026-01-01") == 1
    assert in_force("2026-06-30") == 1
    assert in_force("2026-07-01") == 2
    assert in_force("2026-10-15") == 3  # the newest version in force wins
    assert in_force("2026-11-01") == 2
    assert version_in_force(versions, "unknown", date(2026, 3, 1)) is None
