"""The event catalogue: validation, exactness, Unicode, hashing and the exported schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from incentive_engine.domain.events import (
    EVENT_ADAPTER,
    EVENT_CLASSES,
    ActivityLogged,
    PlanVersionPublished,
    QuotaSet,
    RepHired,
    TerritoryAssigned,
    catalogue_schema,
    content_hash,
    describe,
    event_content,
    event_hash,
)
from tests.factories import customer, hired, won


def test_catalogue_has_every_required_type() -> None:
    required = {
        "RepHired", "RepTransferred", "RepTerminated", "OpportunityCreated",
        "OpportunityStageChanged", "DealWon", "DealLost", "DealAmended", "DealCancelled",
        "TerritoryDefined", "TerritoryAssigned", "TerritoryReassigned", "QuotaSet",
        "QuotaChanged", "LeadCreated", "LeadQualified", "ActivityLogged",
        "PlanVersionPublished", "PeriodClosed", "FxRateSet", "ManualAdjustment",
        "TerritoryModelDefined", "DisputeRaised", "DisputeCommented", "DisputeResolved",
    }  # fmt: skip
    assert required <= set(EVENT_CLASSES)


def test_every_event_has_identity_type_version_and_effective_time() -> None:
    for name, cls in EVENT_CLASSES.items():
        fields = cls.model_fields
        assert {"event_id", "type", "schema_version"} <= set(fields), name
        assert cls.EFFECTIVE in fields, name


def test_vietnamese_names_round_trip_through_json() -> None:
    rep = hired("an", name="Nguyễn Thị Ánh Tuyết", team="Đà Nẵng 1")
    again = EVENT_ADAPTER.validate_json(json.dumps(event_content(rep), ensure_ascii=False))
    assert again.name == "Nguyễn Thị Ánh Tuyết"
    assert again.team == "Đà Nẵng 1"
    assert again == rep


def test_decomposed_unicode_is_normalised_so_it_compares_equal() -> None:
    nfd = "Ha\u0300 No\u0323\u0302i"  # "Hà Nội" typed with combining marks
    deal = won("D1", customer=customer(region=nfd))
    assert deal.customer.region == "Hà Nội"


def test_amounts_stay_exact_decimals() -> None:
    deal = won("D1", amount="1234.565", currency="USD")
    assert deal.amount == Decimal("1234.565")
    assert event_content(deal)["amount"] == "1234.565"
    big = won("D2", amount="123456789012345678.91")
    assert EVENT_ADAPTER.validate_python(event_content(big)).amount == Decimal(
        "123456789012345678.91"
    )


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"amount": "-5"}, "amount", "greater than or equal to 0"),
        ({"currency": "XYZ"}, "currency", "unknown currency"),
        ({"close_date": "2026-02-30"}, "close_date", "date"),
        ({"splits": [{"rep_id": "a", "share": 60}, {"rep_id": "b", "share": 30}]}, "", "100"),
        ({"colour": "red"}, "colour", "Extra inputs"),
        ({"amount": "NaN"}, "amount", ""),
    ],
)
def test_bad_deals_are_refused_naming_the_field(change: dict, field: str, words: str) -> None:
    data = event_content(won("D1")) | change
    with pytest.raises(ValidationError) as info:
        EVENT_ADAPTER.validate_python(data)
    text = str(info.value)
    assert field in text
    assert words in text


def test_currency_code_is_case_insensitive() -> None:
    assert won("D1", currency="vnd").currency == "VND"


def test_split_shares_must_sum_to_exactly_100_and_not_repeat_reps() -> None:
    ok = won("D1", splits=[{"rep_id": "a", "share": "60"}, {"rep_id": "b", "share": "40"}])
    assert [s.share for s in ok.splits or ()] == [60, 40]
    with pytest.raises(ValidationError, match="more than once"):
        won("D2", splits=[{"rep_id": "a", "share": 50}, {"rep_id": "a", "share": 50}])
    with pytest.raises(ValidationError, match=r"100\.01"):
        won("D3", splits=[{"rep_id": "a", "share": "60.01"}, {"rep_id": "b", "share": 40}])


def test_datetimes_are_utc_and_dates_mean_midnight_utc() -> None:
    a = ActivityLogged(
        event_id="a1", rep_id="an", kind="call_connected", occurred_at="2026-01-05T09:30:00+07:00"
    )
    assert a.occurred_at == datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    naive = ActivityLogged(
        event_id="a2", rep_id="an", kind="demo", occurred_at="2026-01-05T09:30:00"
    )
    assert naive.occurred_at.tzinfo is UTC
    assert won("D1").effective_at == datetime(2026, 2, 20, tzinfo=UTC)


def test_quota_effective_date_defaults_to_period_start_and_period_is_checked() -> None:
    q = QuotaSet(event_id="q", subject_id="an", period="2026-Q2", amount=1, currency="VND")
    assert str(q.effective_date) == "2026-04-01"
    with pytest.raises(ValidationError, match="period"):
        QuotaSet(event_id="q", subject_id="an", period="2026-Q5", amount=1, currency="VND")


def test_territory_single_owner_shorthand() -> None:
    t = TerritoryAssigned(event_id="t", territory_id="T", rep_id="an", effective_date="2026-01-01")
    assert [(o.rep_id, o.share) for o in t.owners] == [("an", 100)]


def test_plan_version_hash_must_match_document() -> None:
    doc = {
        "plan_id": "p", "version": 1, "name": "P", "effective_from": "2026-01-01",
        "currency": "VND", "period": "quarter", "covers": {"roles": ["rep"]},
        "components": [{"id": "c", "kind": "rate", "rate": 2}],
    }  # fmt: skip
    good = PlanVersionPublished(
        event_id="p1", plan_id="p", version=1, effective_from="2026-01-01",
        document=doc, content_hash=content_hash(doc),
    )  # fmt: skip
    assert good.content_hash.startswith("sha256:")
    again = EVENT_ADAPTER.validate_python(event_content(good))
    assert again.content_hash == content_hash(again.document)
    with pytest.raises(ValidationError, match="does not match"):
        PlanVersionPublished(
            event_id="p1", plan_id="p", version=1, effective_from="2026-01-01",
            document=doc, content_hash="sha256:00",
        )  # fmt: skip


def test_event_hash_depends_on_content_not_on_key_order() -> None:
    a = hired("an")
    b = RepHired.model_validate(dict(reversed(list(event_content(a).items()))))
    assert event_hash(a) == event_hash(b)
    assert event_hash(a) != event_hash(hired("an", name="Trần Văn An"))


def test_rep_ids_lists_every_rep_named() -> None:
    deal = won("D1", splits=[{"rep_id": "a", "share": 60}, {"rep_id": "b", "share": 40}])
    assert deal.rep_ids() == ("a", "b")
    assert hired("an", manager_id="m1").rep_ids() == ("an", "m1")


def test_exported_schema_covers_every_type_and_describes_amounts() -> None:
    schema = catalogue_schema()
    text = json.dumps(schema)
    for name in EVENT_CLASSES:
        assert name in text
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "discriminator" in text


def test_every_event_type_has_a_description() -> None:
    assert "won" in describe(won("D1"))
    assert "Nguyễn" in describe(hired("an"))
