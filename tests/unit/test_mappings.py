"""Column mappings (``domain.mappings``): exact numbers, dates, value maps, row filters,
stable hashed event ids, and mapping documents refused at the path of each problem."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from incentive_engine.domain.mappings import (
    CellError,
    Formula,
    MappingError,
    convert_row,
    event_id_hash,
    excel_serial,
    load_mapping,
    parse_date,
    parse_number,
)


@pytest.mark.parametrize(
    ("text", "decimal", "thousands", "expected"),
    [
        ("390.000.000", ",", ".", "390000000"),
        ("1.234,56", ",", ".", "1234.56"),
        ("1.234.567,50", ",", ".", "1234567.50"),
        ("390,000,000", ".", ",", "390000000"),
        ("1,234.565", ".", ",", "1234.565"),
        ("USD 1,234.56", ".", ",", "1234.56"),
        ("390.000.000 ₫", ",", ".", "390000000"),
        ("(1,234.50)", ".", ",", "-1234.50"),
        ("-45", ".", None, "-45"),
        ("0,1", ",", None, "0.1"),
    ],
)
def test_numbers_are_exact_decimals(
    text: str, decimal: str, thousands: str | None, expected: str
) -> None:
    found = parse_number(text, decimal, thousands)
    assert isinstance(found, Decimal) and found == Decimal(expected)
    assert str(found) == expected  # exactly: no float on the way (1234.565 stays 1234.565)


def test_thousands_separator_alone_implies_the_other_decimal_separator() -> None:
    assert parse_number("390.000.000", thousands=".") == Decimal(390_000_000)


@pytest.mark.parametrize(
    ("text", "decimal", "thousands"),
    [
        ("39O.000.000", ",", "."),  # a letter O
        ("1.23.456", ",", "."),  # groups of three
        ("1,234,56", ",", "."),  # two decimal separators
        ("1,234", ".", "none"),  # no grouping allowed
        ("1e6", ".", None),  # no exponent
    ],
)
def test_malformed_numbers_are_refused(text: str, decimal: str, thousands: str) -> None:
    with pytest.raises(CellError, match="not a number"):
        parse_number(text, decimal, thousands)


def test_dates_in_every_written_form() -> None:
    assert parse_date("20/02/2026", "dd/mm/yyyy") == date(2026, 2, 20)
    assert parse_date("2/20/2026", "mm/dd/yyyy") == date(2026, 2, 20)
    assert parse_date("2026-02-20", "yyyy-mm-dd") == date(2026, 2, 20)
    assert parse_date("20.02.2026", "dd.mm.yyyy") == date(2026, 2, 20)
    assert parse_date("2026-02-20", "iso") == date(2026, 2, 20)
    assert parse_date("20/02/2026 14:30", "dd/mm/yyyy") == date(2026, 2, 20)  # time dropped


def test_excel_serial_dates() -> None:
    assert excel_serial(46073) == date(2026, 2, 20)
    assert parse_date("46073", "excel-serial") == date(2026, 2, 20)
    assert parse_date(46073, "dd/mm/yyyy") == date(2026, 2, 20)  # a number cell is a serial
    assert parse_date(Decimal("46073.5"), "excel-serial", with_time=True) == datetime(
        2026, 2, 20, 12, 0, tzinfo=UTC
    )
    with pytest.raises(CellError, match="time of day"):
        excel_serial(Decimal("46073.25"))
    with pytest.raises(CellError, match="Excel serial"):
        excel_serial(12)  # before 1900-03-01: Excel's own calendar is wrong there


def test_xlsx_date_cells_and_datetimes_with_an_offset() -> None:
    assert parse_date(datetime(2026, 2, 20, 0, 0), "dd/mm/yyyy") == date(2026, 2, 20)
    plus7 = timezone(timedelta(hours=7))
    found = parse_date("20/02/2026 09:15", "dd/mm/yyyy", with_time=True, offset=plus7)
    assert found == datetime(2026, 2, 20, 2, 15, tzinfo=UTC)


@pytest.mark.parametrize("text", ["31/02/2026", "2026-02-20", "20-02-2026x", ""])
def test_malformed_dates_are_refused(text: str) -> None:
    with pytest.raises(CellError):
        parse_date(text, "dd/mm/yyyy")


MAPPING = """
name: test
maps:
  kind: {Doanh nghiệp: business, Cá nhân: individual}
currency: {value: VND}
events:
  - type: DealWon
    when: {column: Trạng thái, in: [Đã chốt]}
    event_id: {hash: [Mã HĐ], prefix: "vn-"}
    fields:
      deal_id: {column: Mã HĐ}
      rep_id: {column: Mã NV}
      amount: {column: Giá trị, parse: {decimal: ",", thousands: "."}}
      close_date: {column: Ngày chốt, parse: {date: dd/mm/yyyy}}
      product_group: {value: cloud}
      customer.customer_id: {column: Mã KH}
      customer.customer_type: {column: Loại KH, map: kind}
      customer.region: {column: Khu vực, default: HCM}
      customer.industry: {value: Bán lẻ}
      source_recorded_at: {column: Cập nhật, parse: {datetime: dd/mm/yyyy, utc_offset: "+07:00"}}
  - type: DealLost
    when: [{column: Trạng thái, in: [Thất bại]}, {column: Lý do, present: true}]
    event_id: {column: Mã HĐ, prefix: lost-}
    fields:
      deal_id: {column: Mã HĐ}
      lost_date: {column: Ngày chốt, parse: {date: dd/mm/yyyy}}
      reason: {column: Lý do}
"""

ROW = {
    "Mã HĐ": "HD-1", "Mã NV": "an", "Giá trị": "390.000.000", "Ngày chốt": "20/02/2026",
    "Trạng thái": "Đã chốt", "Mã KH": "KH-1", "Loại KH": "Doanh nghiệp", "Khu vực": "",
    "Lý do": "", "Cập nhật": "21/02/2026 08:00",
}  # fmt: skip


def test_a_row_becomes_records_with_maps_defaults_constants_and_nested_fields() -> None:
    mapping = load_mapping(MAPPING)
    [made] = convert_row(mapping, ROW)
    assert made.problems == [] and made.type == "DealWon"
    assert made.record == {
        "type": "DealWon",
        "event_id": "vn-" + event_id_hash("DealWon", ["HD-1"]),
        "deal_id": "HD-1",
        "rep_id": "an",
        "amount": Decimal("390000000"),
        "close_date": "2026-02-20",
        "product_group": "cloud",
        "customer": {
            "customer_id": "KH-1",
            "customer_type": "business",
            "region": "HCM",  # the default of an empty cell
            "industry": "Bán lẻ",
        },
        # passed through untouched for ingest (the source's own time, the second clock)
        "source_recorded_at": "2026-02-21T08:00:00+07:00",
        "currency": "VND",  # the mapping-wide currency
    }


def test_filters_choose_the_outputs_of_a_row() -> None:
    mapping = load_mapping(MAPPING)
    lost = {**ROW, "Trạng thái": "thất bại", "Lý do": "Giá cao"}  # case is ignored
    assert [m.type for m in convert_row(mapping, lost)] == ["DealLost"]
    assert convert_row(mapping, {**lost, "Lý do": " "}) == []  # `present` fails on blanks
    assert convert_row(mapping, {**ROW, "Trạng thái": "Đang đàm phán"}) == []


def test_hashed_event_ids_are_stable_and_differ_by_type_and_value() -> None:
    mapping = load_mapping(MAPPING)
    first = convert_row(mapping, ROW)[0].record
    again = convert_row(mapping, dict(reversed(ROW.items())))[0].record
    assert first is not None and again is not None
    assert first["event_id"] == again["event_id"]
    # sha256 of ["DealWon","HD-1"] as compact JSON, first 32 hex digits: documented, fixed
    assert event_id_hash("DealWon", ["HD-1"]) == "6ad159f1aee04c139396cf3672e6a852"
    assert event_id_hash("DealLost", ["HD-1"]) != event_id_hash("DealWon", ["HD-1"])
    other = convert_row(mapping, {**ROW, "Mã HĐ": "HD-2"})[0].record
    assert other is not None and other["event_id"] != first["event_id"]


def test_cell_problems_name_the_column_and_the_field() -> None:
    mapping = load_mapping(MAPPING)
    bad = {**ROW, "Giá trị": "39O.000.000", "Loại KH": "Hộ kinh doanh"}
    [made] = convert_row(mapping, bad)
    assert made.record is None
    assert [(c, f) for c, f, _ in made.problems] == [
        ("Giá trị", "amount"),
        ("Loại KH", "customer.customer_type"),
    ]
    assert "'Hộ kinh doanh' is not in the map 'kind'" in made.problems[1][2]


def test_a_formula_cell_is_refused_where_it_is_read() -> None:
    mapping = load_mapping(MAPPING)
    [made] = convert_row(mapping, {**ROW, "Giá trị": Formula("=B2*2")})
    assert made.problems[0][:2] == ("Giá trị", "amount")
    assert "formula" in made.problems[0][2]


def test_rep_lookup_tables_come_from_the_caller() -> None:
    mapping = load_mapping(
        MAPPING.replace("rep_id: {column: Mã NV}", "rep_id: {column: Mã NV, map: reps.email}")
    )
    row = {**ROW, "Mã NV": "An@Example.vn"}
    [made] = convert_row(mapping, row, tables={"reps.email": {"an@example.vn": "an"}})
    assert made.record is not None and made.record["rep_id"] == "an"
    [unknown] = convert_row(mapping, row, tables={"reps.email": {}})
    assert "not the email of a rep the engine knows" in unknown.problems[0][2]


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (("type: DealLost", "type: DealLots"), "events.1.type", "unknown event type 'DealLots'"),
        (("reason: {column: Lý do}", "reasons: {column: Lý do}"), "events.1.fields.reasons",
         "DealLost has no field 'reasons'"),
        (("map: kind", "map: kinds"), "events.0.fields.customer.customer_type.map",
         "no map named 'kinds'"),
        (('decimal: ","', 'decimal: "."'), "events.0.fields.amount.parse",
         "separators must differ"),
        (("date: dd/mm/yyyy}}\n      product", "date: dd/yyyy}}\n      product"),
         "events.0.fields.close_date.parse", "unknown date format"),
        (("{hash: [Mã HĐ], prefix: \"vn-\"}", "{prefix: vn-}"), "events.0.event_id",
         "exactly one of column or hash"),
        (("in: [Đã chốt]}", "in: [Đã chốt], present: true}"), "events.0.when",
         "exactly one of in, not_in or present"),
        (("product_group: {value: cloud}", "product_group: {value: cloud, column: X}"),
         "events.0.fields.product_group", "exactly one of column, value or each"),
        (("name: test", "name: test\nsource: {delimiter: ';;'}"), "source.delimiter",
         "at most 1 character"),
        (("name: test", "name: test\nsource: {encoding: klingon}"), "source",
         "unknown encoding"),
        (("name: test", "name: test\ncolour: blue"), "colour", "unknown field"),
    ],
)  # fmt: skip
def test_mapping_errors_are_named_at_their_path(
    change: tuple[str, str], path: str, reason: str
) -> None:
    text = MAPPING.replace(*change)
    assert text != MAPPING
    with pytest.raises(MappingError) as caught:
        load_mapping(text, "m.yaml")
    assert any(p == path and reason in why for p, why in caught.value.problems), (
        caught.value.problems
    )
    assert f"m.yaml: {path}: " in str(caught.value)


def test_a_mapping_that_is_not_yaml_or_not_a_mapping_is_refused() -> None:
    with pytest.raises(MappingError, match=r"m\.yaml: line"):
        load_mapping("events: [", "m.yaml")
    with pytest.raises(MappingError, match="must be a mapping"):
        load_mapping("- 1", "m.yaml")
    with pytest.raises(MappingError, match="events"):
        load_mapping("name: empty\nevents: []", "m.yaml")


def test_cell_text_for_filters_maps_and_hashes_is_exact() -> None:
    from incentive_engine.domain.mappings import _text

    assert _text(Decimal("300")) == "300" and _text(Decimal("1234.50")) == "1234.5"
    assert _text(datetime(2026, 2, 20)) == "2026-02-20" and _text(" a ") == "a"


def test_maps_match_ignoring_case_and_unicode_composition() -> None:
    mapping = load_mapping(MAPPING)
    decomposed = "Doanh nghie\u0302\u0323p"  # the same letters, NFD (as some exports write)
    [made] = convert_row(mapping, {**ROW, "Loại KH": decomposed.upper()})
    assert made.record is not None and made.record["customer"]["customer_type"] == "business"
