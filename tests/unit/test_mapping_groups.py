"""Grouped rows (``group_by``) and list fields (``each``) of column mappings: a Salesforce
split report's rows of one opportunity make one DealWon with its splits; the group's plain
fields must agree across its rows, and each problem names its row and column."""

from __future__ import annotations

from decimal import Decimal

import pytest

from incentive_engine.domain.mappings import (
    MappingError,
    convert_group,
    convert_row,
    group_key,
    load_mapping,
)

SPLITS = """
name: splits
group_by: [Opp]
currency: {value: VND}
events:
  - type: DealWon
    when: {column: Stage, in: [Closed Won]}
    event_id: {column: Opp, prefix: won-}
    fields:
      deal_id: {column: Opp}
      splits:
        each:
          rep_id: {column: Owner, map: reps.name}
          share: {column: Percent, parse: {percent: true}}
      amount: {column: Amount, parse: {thousands: ","}}
      close_date: {column: Close, parse: {date: mm/dd/yyyy}}
      product_group: {value: cloud}
      customer.customer_id: {column: Account}
      customer.region: {value: HCM}
      customer.customer_type: {value: business}
      customer.industry: {value: Retail}
"""
REPS = {"reps.name": {"Nguyễn Văn An": "an", "Lê Văn Bình": "binh"}}


def row(owner: str, percent: str, **changes: str) -> dict[str, str]:
    cells = {"Opp": "OPP-1", "Owner": owner, "Percent": percent, "Amount": "200,000,000",
             "Close": "1/10/2026", "Stage": "Closed Won", "Account": "ACC-1"}  # fmt: skip
    return {**cells, **changes}


def test_the_rows_of_a_group_make_one_event_with_one_item_each() -> None:
    mapping = load_mapping(SPLITS)
    rows = [row("Nguyễn Văn An", "60.00%"), row("Lê Văn Bình", "40%")]
    assert {group_key(mapping, r) for r in rows} == {("OPP-1",)}
    [made] = convert_group(mapping, rows, tables=REPS, numbers=[2, 3])
    assert made.problems == [] and made.record is not None
    assert made.record["event_id"] == "won-OPP-1"
    assert made.record["amount"] == Decimal(200_000_000)
    assert made.record["splits"] == [
        {"rep_id": "an", "share": Decimal("60.00")},
        {"rep_id": "binh", "share": Decimal(40)},
    ]
    # one row alone: a one-item list
    [alone] = convert_row(mapping, row("Nguyễn Văn An", "100%"), tables=REPS)
    assert alone.record is not None and alone.record["splits"] == [
        {"rep_id": "an", "share": Decimal(100)}
    ]


def test_a_plain_field_that_differs_between_rows_names_both_rows_and_the_column() -> None:
    mapping = load_mapping(SPLITS)
    rows = [row("Nguyễn Văn An", "60%"), row("Lê Văn Bình", "40%", Amount="210,000,000")]
    [made] = convert_group(mapping, rows, tables=REPS, numbers=[2, 5])
    assert made.record is None
    assert made.problems == [
        ("Amount", "amount",
         "the rows of one group must agree: '200,000,000' in row 2, '210,000,000' in row 5"),
    ]  # fmt: skip
    assert made.problem_rows == [1]


def test_a_filter_that_holds_for_some_rows_only_is_a_problem_of_the_filter_column() -> None:
    mapping = load_mapping(SPLITS)
    rows = [row("Nguyễn Văn An", "60%"), row("Lê Văn Bình", "40%", Stage="Negotiation")]
    [made] = convert_group(mapping, rows, tables=REPS, numbers=[2, 3])
    assert made.record is None and made.problems[0][:2] == ("Stage", "(when)")
    assert "'Closed Won' in row 2, 'Negotiation' in row 3" in made.problems[0][2]
    # no row passes: the group gives nothing
    closed = [row("Nguyễn Văn An", "60%", Stage="Lost"), row("Lê Văn Bình", "4", Stage="Lost")]
    assert convert_group(mapping, closed, tables=REPS) == []


def test_a_bad_item_cell_names_its_row_column_and_item_field() -> None:
    mapping = load_mapping(SPLITS)
    rows = [row("Nguyễn Văn An", "60%"), row("Bình Lê", "4O%")]
    [made] = convert_group(mapping, rows, tables=REPS, numbers=[2, 3])
    assert [(c, f) for c, f, _ in made.problems] == [
        ("Owner", "splits.1.rep_id"), ("Percent", "splits.1.share"),
    ]  # fmt: skip
    assert made.problem_rows == [1, 1]
    assert "'Bình Lê' is not the name of a rep the engine knows" in made.problems[0][2]


def test_a_list_fields_column_behind_an_item_path() -> None:
    out = load_mapping(SPLITS).events[0]
    assert out.column_of("splits.1.share") == "Percent"
    assert out.column_of("splits.0.rep_id") == "Owner"
    assert out.column_of("splits") is None
    assert out.item_of("splits.1.share") == 1 and out.item_of("amount") is None
    assert {"Opp", "Owner", "Percent"} <= load_mapping(SPLITS).columns()
    assert load_mapping(SPLITS).tables() == {"reps.name"}


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (("each:\n", "value: 1\n        each:\n"), "events.0.fields.splits",
         "exactly one of column, value or each"),
        (("rep_id: {column: Owner, map: reps.name}", "rep_id: {each: {x: {value: 1}}}"),
         "events.0.fields.splits.each.rep_id", "a list item cannot hold a list"),
        (("map: reps.name", "map: owners"), "events.0.fields.splits.each.rep_id.map",
         "no map named 'owners'"),
        (("group_by: [Opp]", "group_by: []"), "group_by", "at least 1 item"),
    ],
)  # fmt: skip
def test_group_and_list_errors_are_named_at_their_path(
    change: tuple[str, str], path: str, reason: str
) -> None:
    text = SPLITS.replace(*change)
    assert text != SPLITS
    with pytest.raises(MappingError) as caught:
        load_mapping(text, "m.yaml")
    assert any(p == path and reason in why for p, why in caught.value.problems), (
        caught.value.problems
    )
