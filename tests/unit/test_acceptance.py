"""Plan acceptance in the pure core: the event, its reference checks, the fold, coverage over
time, who may accept for whom, visibility of acceptances and the pre-close check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from incentive_engine.domain import acceptance
from incentive_engine.domain.closing import unaccepted_plans
from incentive_engine.domain.errors import Forbidden, Invalid
from incentive_engine.domain.events import (
    EVENT_ADAPTER,
    PlanAccepted,
    RepTransferred,
    acceptance_event_id,
    catalogue_schema,
    describe,
)
from incentive_engine.domain.facts import fold
from incentive_engine.domain.references import References
from incentive_engine.domain.visibility import Role, Viewer
from plans.documents import plan_from_data, publication
from tests.factories import hired

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def published(plan_id: str = "field", version: int = 1, **fields: Any) -> Any:
    """A PlanVersionPublished of a small plan (teams TP.HCM 1 by default)."""
    document: dict[str, Any] = {
        "plan_id": plan_id,
        "version": version,
        "name": "Field sales",
        "effective_from": "2026-01-01",
        "currency": "VND",
        "period": "quarter",
        "covers": {"teams": ["TP.HCM 1"]},
        "components": [{"id": "c", "kind": "rate", "rate": 2}],
    }
    document.update(fields)
    return publication(plan_from_data(document))


def accepted(rep_id: str = "an", plan_id: str = "field", version: int = 1, **kw: Any) -> Any:
    """A PlanAccepted on the web."""
    values: dict[str, Any] = {
        "event_id": acceptance_event_id(plan_id, version, rep_id),
        "rep_id": rep_id,
        "plan_id": plan_id,
        "version": version,
        "accepted_at": AT,
        "how": "web",
    }
    values.update(kw)
    return PlanAccepted(**values)


def known(*events: Any) -> References:
    refs = References()
    refs.learn_all(events)
    return refs


def test_the_event_round_trips_and_is_in_the_schema_with_descriptions() -> None:
    event = accepted(how="paper", reference="HĐ-2026/017", recorded_by="finance@vn")
    again = EVENT_ADAPTER.validate_json(event.canonical)
    assert again == event
    assert describe(event) == "an accepted plan field v1 (paper)"
    schema = catalogue_schema()
    found = schema["$defs"]["PlanAccepted"]
    assert set(found["required"]) >= {"event_id", "rep_id", "plan_id", "version", "how"}
    assert found["properties"]["how"]["enum"] == ["web", "api", "cli", "paper"]
    assert "paper signature" in found["properties"]["reference"]["description"]


def test_a_reference_is_only_for_a_paper_signature_and_how_is_closed() -> None:
    with pytest.raises(ValidationError, match="only for a paper signature"):
        accepted(reference="scan.pdf")
    with pytest.raises(ValidationError, match="how"):
        accepted(how="email")


def test_the_event_id_is_deterministic_and_always_an_id() -> None:
    assert acceptance_event_id("field", 2, "an") == "accept:field:v2:an"
    long = acceptance_event_id("p" * 120, 1, "r" * 120)
    assert long.startswith("accept:sha256:") and len(long) <= 128
    assert long == acceptance_event_id("p" * 120, 1, "r" * 120)


def test_references_name_the_field_at_fault() -> None:
    refs = known(hired("an"), hired("binh", team="Hà Nội 2"), published())
    assert refs.problems(accepted()) == []
    assert refs.problems(accepted("zed"))[0][0] == "rep_id"
    assert refs.problems(accepted(plan_id="nope"))[0][0] == "plan_id"
    (field, reason), *_ = refs.problems(accepted(version=3))
    assert field == "version" and "published: 1" in reason
    (field, reason), *_ = refs.problems(accepted("binh"))
    assert field == "rep_id" and "does not cover rep 'binh'" in reason


def test_a_second_acceptance_under_another_id_is_refused_the_same_one_passes() -> None:
    first = accepted()
    refs = known(hired("an"), published(), first)
    assert refs.problems(first) == []
    (field, reason), *_ = refs.problems(accepted(event_id="other"))
    assert field == "event_id" and "already accepted" in reason


def test_coverage_follows_the_placements_over_the_versions_dates() -> None:
    # binh joins TP.HCM 1 on 2026-03-01: covered by a version in force then, not by one
    # that ended on 2026-02-28.
    moved = RepTransferred(
        event_id="t1", rep_id="binh", effective_date="2026-03-01", team="TP.HCM 1"
    )
    ended = published("old", effective_to="2026-02-28")
    refs = known(hired("binh", team="Hà Nội 2"), moved, published(), ended)
    assert refs.problems(accepted("binh")) == []
    assert refs.problems(accepted("binh", plan_id="old"))[0][0] == "rep_id"
    by_role = published("managers", covers={"roles": ["manager"]})
    refs.learn(by_role)
    assert refs.problems(accepted("binh", plan_id="managers"))[0][0] == "rep_id"
    refs.learn(hired("chi", role="manager", team="X"))
    assert refs.problems(accepted("chi", plan_id="managers")) == []


def test_the_fold_keeps_the_earliest_acceptance_and_rows_list_who_has_not() -> None:
    later = accepted(event_id="x-later", accepted_at=datetime(2026, 2, 1, tzinfo=UTC))
    facts = fold([hired("an"), hired("binh"), published(), later, accepted()])
    found = acceptance.accepted(facts, "an", "field", 1)
    assert found is not None and found.event_id == "accept:field:v1:an"
    assert facts.summary()["acceptances"] == 1
    rows = acceptance.acceptance_rows(facts, "field", 1, Viewer(Role.FINANCE, "f"), AT.date())
    assert [(r.rep_id, r.accepted, r.how) for r in rows] == [
        ("an", True, "web"),
        ("binh", False, None),
    ]


def test_visibility_of_acceptances() -> None:
    facts = fold(
        [hired("boss", role="manager"), hired("an", manager_id="boss"), hired("binh"), published()]
    )
    day = AT.date()

    def seen(viewer: Viewer) -> list[str]:
        return [r.rep_id for r in acceptance.acceptance_rows(facts, "field", 1, viewer, day)]

    assert seen(Viewer(Role.REP, "an")) == ["an"]
    assert seen(Viewer(Role.MANAGER, "boss")) == ["an", "boss"]
    assert seen(Viewer(Role.FINANCE, "f")) == ["an", "binh", "boss"]
    assert seen(Viewer(Role.PLAN_ADMIN, "p")) == ["an", "binh", "boss"]
    assert seen(Viewer(Role.INTEGRATION, "crm")) == []


def test_who_may_accept_for_whom() -> None:
    acceptance.check_accept(Viewer(Role.REP, "an"), "an", "web")
    acceptance.check_accept(Viewer(Role.REP, "an"), "an", "api")
    acceptance.check_accept(Viewer(Role.FINANCE, "f"), "an", "paper")
    with pytest.raises(Forbidden) as exc:
        acceptance.check_accept(Viewer(Role.REP, "an"), "binh", "web")
    assert exc.value.field == "rep_id"
    with pytest.raises(Invalid):
        acceptance.check_accept(Viewer(Role.REP, "an"), "an", "paper")
    with pytest.raises(Invalid):
        acceptance.check_accept(Viewer(Role.FINANCE, "f"), "an", "web")
    acceptance.check_accept(Viewer(Role.MANAGER, "boss"), "boss", "web")
    with pytest.raises(Forbidden):
        acceptance.check_accept(Viewer(Role.MANAGER, "boss"), "an", "web")
    for role in (Role.MANAGER, Role.PLAN_ADMIN, Role.INTEGRATION):
        with pytest.raises(Forbidden):
            acceptance.check_accept(Viewer(role, "boss"), "an", "paper")


def test_the_pre_close_check_is_a_warning_that_says_when_pay_is_held() -> None:
    facts = fold([hired("an"), hired("binh"), published(), accepted()])
    paid = [("an", "field", 1), ("binh", "field", 1)]
    check = unaccepted_plans(facts, paid, hold=False)
    assert check.severity.value == "warning" and not check.blocks
    assert [f.subject for f in check.findings] == ["binh"]
    assert "held" not in check.findings[0].detail
    held = unaccepted_plans(facts, paid, hold=True)
    assert not held.blocks and "held" in held.findings[0].detail
