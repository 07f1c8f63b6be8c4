"""PlanRef: PLAN@VERSION parsed in one place."""

from __future__ import annotations

import pytest

from incentive_engine.domain.errors import Invalid
from plans.ref import PlanRef


def test_parse_and_print() -> None:
    ref = PlanRef.parse("field-sales-vn@2")
    assert (ref.plan_id, ref.version, ref.key) == ("field-sales-vn", 2, ("field-sales-vn", 2))
    assert str(ref) == "field-sales-vn@2" and PlanRef.parse(str(ref)) == ref


def test_latest_only_where_allowed() -> None:
    ref = PlanRef.parse("field-sales-vn@latest", latest=True)
    assert ref.version is None and str(ref) == "field-sales-vn@latest"
    with pytest.raises(Invalid, match="names no version"):
        _ = ref.key
    with pytest.raises(Invalid):
        PlanRef.parse("field-sales-vn@latest")


@pytest.mark.parametrize(
    "text", ["", "field-sales-vn", "field-sales-vn@", "@2", "p@x", "p@-1", "p@٣"]
)
def test_bad_text_is_invalid_naming_it_and_the_field(text: str) -> None:
    with pytest.raises(Invalid) as caught:
        PlanRef.parse(text, field="plan_version")
    assert repr(text) in str(caught.value) and "PLAN@VERSION" in str(caught.value)
    assert caught.value.field == "plan_version"
