"""Write scopes and the two-person rule of voids, in the pure core."""

from __future__ import annotations

import pytest

from incentive_engine.domain.errors import Forbidden
from incentive_engine.domain.events import EVENT_CLASSES, EventVoidApproved, EventVoidProposed
from incentive_engine.domain.references import References
from incentive_engine.domain.scopes import GROUPS, ScopeError, parse_scope, scope_for
from incentive_engine.domain.visibility import Role

AT = "2026-04-01T00:00:00Z"


def test_every_event_type_is_in_exactly_one_group() -> None:
    grouped = [t for types in GROUPS.values() for t in types]
    assert sorted(grouped) == sorted(EVENT_CLASSES)


def test_role_defaults_and_configured_scopes() -> None:
    crm = scope_for(Role.INTEGRATION)
    assert crm.allows("DealWon") and crm.allows("ActivityLogged") and crm.allows("LeadCreated")
    for refused in ("ManualAdjustment", "PeriodClosed", "PlanVersionPublished", "FxRateSet",
                    "DisputeRaised", "EventVoidApproved", "QuotaSet", "TerritoryDefined"):  # fmt: skip
        assert not crm.allows(refused), refused
    assert scope_for(Role.INTEGRATION, "crm+quotas").allows("QuotaSet")
    assert scope_for(Role.INTEGRATION, "crm+FxRateSet").allows("FxRateSet")
    assert not scope_for(Role.FINANCE).allows("PeriodClosed")
    assert not scope_for(Role.REP).types
    with pytest.raises(Forbidden, match=r"may not write PeriodClosed events \(scope crm: "):
        crm.check(["DealWon", "PeriodClosed"], who="the key")
    with pytest.raises(ScopeError, match="unknown write scope 'Nope'"):
        parse_scope("crm+Nope")
    assert parse_scope("crm").widened("plans").name == "crm+plans"


def test_a_void_needs_a_second_person() -> None:
    refs = References()
    proposal = EventVoidProposed(
        event_id="v1", target_event_id="won-D1", reason="dup", proposed_by="Lan", proposed_at=AT
    )
    refs.learn(proposal)
    own = EventVoidApproved(
        event_id="v1a", proposal_id="v1", target_event_id="won-D1", approved_by=" lan ",
        approved_at=AT,
    )  # fmt: skip
    assert [f for f, _ in refs.problems(own)] == ["approved_by"]
    other = own.model_copy(update={"approved_by": "Minh"})
    assert refs.problems(other) == []
    refs.learn(other)
    again = other.model_copy(update={"event_id": "v1b"})
    assert [f for f, _ in refs.problems(again)] == ["proposal_id"]
    wrong = other.model_copy(update={"event_id": "v1c", "proposal_id": "nope"})
    assert "unknown void proposal" in refs.problems(wrong)[0][1]
