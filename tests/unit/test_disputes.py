"""Disputes as events and their pure fold: validation, status, order independence, access."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from incentive_engine.domain.events import (
    EVENT_ADAPTER,
    EVENT_CLASSES,
    ManualAdjustment,
    catalogue_schema,
    describe,
    event_content,
)
from incentive_engine.domain.facts import Facts, fold
from incentive_engine.services.disputes import (
    Actor,
    DisputeCommented,
    DisputeOutcome,
    DisputeRaised,
    DisputeResolved,
    Status,
    fold_disputes,
    may_resolve,
    may_see,
)
from tests.factories import hired

END = date(2026, 3, 31)


def raised(dispute_id: str = "d1", **kw: Any) -> DisputeRaised:
    values: dict[str, Any] = {
        "event_id": f"dispute:{dispute_id}:raised",
        "dispute_id": dispute_id,
        "rep_id": "an",
        "period": "2026-Q1",
        "line": 2,
        "plan_id": "example",
        "plan_version": 1,
        "component": "commission",
        "line_amount": "7500000",
        "reason": "D9 is missing",
        "expected_amount": "9000000",
        "currency": "vnd",
        "raised_by": "an",
        "raised_role": "rep",
        "raised_at": "2026-04-02T09:00:00",
    }
    values.update(kw)
    return DisputeRaised(**values)


def commented(n: int, dispute_id: str = "d1", at: str = "2026-04-03T10:00:00Z") -> DisputeCommented:
    return DisputeCommented(
        event_id=f"dispute:{dispute_id}:comment:{n}",
        dispute_id=dispute_id,
        author="mgr",
        role="manager",
        comment=f"comment {n}",
        at=at,
    )


def resolved(dispute_id: str = "d1", **kw: Any) -> DisputeResolved:
    values: dict[str, Any] = {
        "event_id": f"dispute:{dispute_id}:resolved",
        "dispute_id": dispute_id,
        "outcome": "accepted",
        "resolved_by": "fin",
        "at": "2026-04-05T08:00:00Z",
        "adjustment_event_id": f"dispute:{dispute_id}:adjustment",
    }
    values.update(kw)
    return DisputeResolved(**values)


def adjustment(dispute_id: str = "d1", amount: str = "1500000") -> ManualAdjustment:
    return ManualAdjustment(
        event_id=f"dispute:{dispute_id}:adjustment",
        rep_id="an",
        period="2026-Q1",
        amount=Decimal(amount),
        currency="VND",
        reason=f"dispute {dispute_id}",
        posted_by="fin",
        posted_date="2026-04-05",
    )


# ------------------------------------------------------------------ the events


def test_dispute_events_are_in_the_catalogue_with_identity_and_effective_time() -> None:
    schema = str(catalogue_schema())
    for name in ("DisputeRaised", "DisputeCommented", "DisputeResolved"):
        cls = EVENT_CLASSES[name]
        assert {"event_id", "type", "schema_version", cls.EFFECTIVE} <= set(cls.model_fields)
        assert name in schema
    event = raised()
    assert EVENT_ADAPTER.validate_python(event_content(event)) == event
    assert event.currency == "VND" and event.expected_amount == Decimal(9_000_000)
    assert event.raised_at == datetime(2026, 4, 2, 9, tzinfo=UTC)  # naive read as UTC
    assert event.rep_ids() == ("an",) and event.effective_day == date(2026, 4, 2)


def test_every_dispute_event_has_a_description() -> None:
    assert "line 2" in describe(raised()) and "9,000,000 VND" in describe(raised())
    assert "comment by mgr" in describe(commented(1))
    assert "accepted by fin" in describe(resolved())


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"line": 0}, "line"),
        ({"period": "2026-Q5"}, "period"),
        ({"currency": "XXX"}, "currency"),
        ({"expected_amount": "NaN"}, "expected_amount"),
        ({"reason": ""}, "reason"),
        ({"dispute_id": "has space", "event_id": "e1"}, "dispute_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_dispute_is_refused_with_the_field_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        raised(**changes)
    assert caught.value.errors()[0]["loc"][0] == field


def test_a_resolution_is_complete_for_its_outcome() -> None:
    with pytest.raises(ValidationError, match="adjustment_event_id"):
        resolved(adjustment_event_id=None)
    with pytest.raises(ValidationError, match="needs a reason"):
        resolved(outcome="rejected", adjustment_event_id=None)
    with pytest.raises(ValidationError, match="no adjustment"):
        resolved(outcome="rejected", reason="paid correctly")
    with pytest.raises(ValidationError):
        resolved(outcome="withdrawn")
    assert resolved(outcome="rejected", reason="ok", adjustment_event_id=None).reason == "ok"


def test_the_fold_of_facts_counts_disputes_but_is_not_changed_by_them() -> None:
    base = [hired("an")]
    with_disputes = [*base, raised(), commented(1), resolved(), adjustment()]
    facts, plain = fold(with_disputes), fold(base)
    assert facts.reps.keys() == plain.reps.keys()
    assert facts.event_count == 5
    assert facts.manual_adjustments[("an", "2026-Q1")][0].amount == 1_500_000
    one = Facts()
    one.apply(raised())  # one at a time too
    assert one.event_count == 1 and not one.reps


# -------------------------------------------------------------------- the fold


def test_status_follows_the_resolution() -> None:
    assert fold_disputes([raised()])["d1"].status is Status.OPEN
    accepted = fold_disputes([raised(), resolved(), adjustment()])["d1"]
    assert accepted.status is Status.ACCEPTED and accepted.adjustment is not None
    rejected = fold_disputes(
        [raised(), resolved(outcome="rejected", reason="paid right", adjustment_event_id=None)]
    )["d1"]
    assert rejected.status is Status.REJECTED and rejected.adjustment is None


def test_as_dict_holds_the_story_with_exact_amounts() -> None:
    events = [raised(), commented(1), resolved(reason="D9 was missed"), adjustment()]
    doc = fold_disputes(events)["d1"].as_dict()
    assert doc["status"] == "resolved-accepted"
    assert (doc["line_amount"], doc["expected_amount"]) == ("7500000", "9000000")
    assert doc["comments"][0]["comment"] == "comment 1"
    assert doc["resolution"]["adjustment_amount"] == "1500000"
    assert doc["resolution"]["reason"] == "D9 was missed"
    assert doc["event_ids"] == [e.event_id for e in events]


def test_the_fold_does_not_depend_on_arrival_order() -> None:
    events = [
        raised(),
        raised("d2", line=1, raised_at="2026-04-01T00:00:00Z"),
        commented(2, at="2026-04-04T00:00:00Z"),
        commented(1, at="2026-04-03T00:00:00Z"),
        commented(3, dispute_id="d2"),
        resolved(),
        adjustment(),
    ]
    expected = {k: v.as_dict() for k, v in fold_disputes(events).items()}
    for order in itertools.permutations(events):
        assert {k: v.as_dict() for k, v in fold_disputes(order).items()} == expected
    assert [c["event_id"][-1] for c in expected["d1"]["comments"]] == ["1", "2"]


def test_duplicates_and_strays_resolve_deterministically() -> None:
    late = resolved(
        event_id="crm-late",
        outcome="rejected",
        reason="no",
        adjustment_event_id=None,
        at="2026-05-01T00:00:00Z",
    )
    again = raised(event_id="crm-again", raised_at="2026-05-01T00:00:00Z", line=3)
    stray = [commented(9, dispute_id="ghost"), resolved("ghost")]
    found = fold_disputes([late, again, *stray, raised(), resolved(), adjustment()])
    assert list(found) == ["d1"]  # a comment or resolution of no raised dispute is ignored
    assert found["d1"].raised.line == 2  # the earliest raise stands
    assert found["d1"].status is Status.ACCEPTED  # and the earliest resolution


# ------------------------------------------------------------------- access


def org() -> Facts:
    return fold(
        [
            hired("boss", role="manager"),
            hired("mgr", role="manager", manager_id="boss"),
            hired("an", manager_id="mgr"),
            hired("chau"),
        ]
    )


@pytest.mark.parametrize(
    ("actor", "rep", "see", "resolve"),
    [
        (Actor("finance", "fin"), "an", True, True),
        (Actor("rep", "an"), "an", True, False),
        (Actor("rep", "chau"), "an", False, False),
        (Actor("manager", "mgr"), "an", True, True),
        (Actor("manager", "boss"), "an", True, True),  # a report's report
        (Actor("manager", "mgr"), "mgr", True, False),  # never their own
        (Actor("manager", "mgr"), "chau", False, False),
        (Actor("plan_admin", "pa"), "an", False, False),
        (Actor("integration", "crm"), "an", False, False),
    ],
)
def test_who_may_see_and_resolve(actor: Actor, rep: str, see: bool, resolve: bool) -> None:
    facts = org()
    assert may_see(actor, rep, facts, END) is see
    assert may_resolve(actor, rep, facts, END) is resolve


def test_reports_below_walks_the_whole_chain() -> None:
    assert org().reports_of("boss", END) == {"mgr", "an"}
    assert org().reports_of("an", END) == set()


def test_outcomes_are_the_two_documented() -> None:
    assert [o.value for o in DisputeOutcome] == ["accepted", "rejected"]
    assert [s.value for s in Status] == ["open", "resolved-accepted", "resolved-rejected"]
