"""Referential checks of events against what is known."""

from __future__ import annotations

from incentive_engine.domain.events import DealAmended, DealCancelled, QuotaChanged, QuotaSet
from incentive_engine.domain.references import References
from tests.factories import assigned, hired, territory, won


def known() -> References:
    refs = References()
    refs.learn_all([hired("an"), won("D1", rep_id="an"), territory("T")])
    return refs


def test_unknown_rep_in_deal_and_split() -> None:
    refs = known()
    assert refs.problems(won("D2", rep_id="an")) == []
    assert refs.problems(won("D2", rep_id="ghost")) == [
        ("rep_id", "unknown rep 'ghost' (no RepHired for it)")
    ]
    split = won("D3", splits=[{"rep_id": "an", "share": 50}, {"rep_id": "ghost", "share": 50}])
    assert [p[0] for p in refs.problems(split)] == ["splits.1.rep_id"]


def test_amend_or_cancel_needs_a_won_deal_in_the_same_currency() -> None:
    refs = known()
    amend = DealAmended(event_id="a", deal_id="D1", amended_date="2026-03-01", amount=1,
                        currency="USD", reason="x")  # fmt: skip
    assert refs.problems(amend) == [("currency", "deal 'D1' is in VND, not USD")]
    cancel = DealCancelled(event_id="c", deal_id="NOPE", cancelled_date="2026-03-01", reason="x")
    assert refs.problems(cancel)[0][0] == "deal_id"


def test_a_deal_cannot_be_won_twice_by_different_events() -> None:
    refs = known()
    assert refs.problems(won("D1", event_id="other-win"))[0][1].startswith("deal 'D1' was already")
    assert refs.problems(won("D1")) == []  # the same event again is fine (idempotent)


def test_territory_and_quota_subjects() -> None:
    refs = known()
    assert refs.problems(assigned("T", "an")) == []
    assert [p[0] for p in refs.problems(assigned("X", "ghost"))] == [
        "territory_id",
        "owners.0.rep_id",
    ]
    team_quota = QuotaSet(event_id="q", subject="team", subject_id="TP.HCM 1", period="2026-Q1",
                          amount=1, currency="VND")  # fmt: skip
    assert refs.problems(team_quota) == []
    change = QuotaChanged(event_id="q2", subject_id="an", period="2026-Q1", amount=1,
                          currency="VND", reason="x")  # fmt: skip
    assert refs.problems(change)[0][0] == "period"
    refs.learn(QuotaSet(event_id="q1", subject_id="an", period="2026-Q1", amount=2, currency="VND"))
    assert refs.problems(change) == []


def test_copy_is_independent() -> None:
    refs = known()
    other = refs.copy()
    other.learn(hired("binh"))
    assert "binh" not in refs.reps


def test_manual_adjustment_needs_a_known_rep() -> None:
    from incentive_engine.domain.events import ManualAdjustment

    refs = known()
    adj = ManualAdjustment(event_id="m", rep_id="ghost", period="2026-Q1", amount=-1, currency="VND",
                           reason="x", posted_by="f", posted_date="2026-03-01")  # fmt: skip
    assert refs.problems(adj) == [("rep_id", "unknown rep 'ghost' (no RepHired for it)")]
    assert refs.problems(adj.model_copy(update={"rep_id": "an"})) == []
