"""Ingest from JSONL and CSV files into real stores (SQLite file and PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from incentive_engine.domain.events import event_content
from incentive_engine.domain.scopes import parse_scope
from incentive_engine.services.ingest import IngestService, RawRecord, ingest_paths, parse_jsonl
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.factories import call, hired, won


def jsonl(path: Path, records: list[Any]) -> Path:
    lines = []
    for r in records:
        lines.append(
            r
            if isinstance(r, str)
            else json.dumps(r if isinstance(r, dict) else event_content(r), ensure_ascii=False)
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ingest(store: EventStore, *paths: Path, dead_letter: Path | None = None) -> list:
    return ingest_paths(
        IngestService(store, scope=parse_scope("all"), batch_size=3),
        list(paths),
        dead_letter=dead_letter,
    )


def stored_ids(store: EventStore) -> list[str]:
    return [r.event.event_id for r in store.read()]


def test_jsonl_with_exact_decimals(store: EventStore, tmp_path: Path) -> None:
    f = tmp_path / "deals.jsonl"
    deal = event_content(won("D1", rep_id="an", currency="USD")) | {"amount": "__AMOUNT__"}
    text = json.dumps(deal).replace('"__AMOUNT__"', "1234567890123.565001")
    jsonl(f, [hired("an"), text])
    [report] = ingest(store, f)
    assert report.errors == [] and report.stored == 2
    assert store.get("won-D1").event.amount == Decimal("1234567890123.565001")  # type: ignore[union-attr]


def test_csv_with_nested_columns_and_json_cells(store: EventStore, tmp_path: Path) -> None:
    f = tmp_path / "events.csv"
    f.write_text(
        "type,event_id,rep_id,name,team,hire_date,deal_id,amount,currency,close_date,product_group,"
        "customer.customer_id,customer.region,customer.customer_type,customer.industry,splits\n"
        "RepHired,h1,an,Nguyễn Văn An,TP.HCM 1,2026-01-01,,,,,,,,,,\n"
        "RepHired,h2,binh,Trần Thị Bình,TP.HCM 1,2026-01-01,,,,,,,,,,\n"
        'DealWon,w1,,,,,D1,100000000.50,VND,2026-02-20,cloud,C1,TP.HCM,business,Bán lẻ,"[{""rep_id"": ""an"", ""share"": 60}, {""rep_id"": ""binh"", ""share"": 40}]"\n',
        encoding="utf-8",
    )
    [report] = ingest(store, f)
    assert report.errors == [], report.errors
    deal = store.get("w1").event  # type: ignore[union-attr]
    assert deal.amount == Decimal("100000000.50")
    assert [(s.rep_id, s.share) for s in deal.splits] == [("an", 60), ("binh", 40)]
    assert store.get("h1").event.name == "Nguyễn Văn An"  # type: ignore[union-attr]


def test_invalid_records_name_file_line_field_and_reason_and_nothing_is_written(
    store: EventStore, tmp_path: Path
) -> None:
    f = jsonl(
        tmp_path / "bad.jsonl",
        [
            hired("an"),
            event_content(won("D1", rep_id="an")) | {"amount": "-5"},
            event_content(won("D2", rep_id="ghost")),
            event_content(won("D3", rep_id="an")) | {"currency": "XYZ"},
            event_content(won("D4", rep_id="an")) | {"close_date": "2026-02-30"},
            event_content(won("D5")) | {"splits": [{"rep_id": "an", "share": 70}]},
            '{"type": "DealWon", "event_id": ',
            {"type": "Nope", "event_id": "x"},
        ],
    )
    [report] = ingest(store, f)
    assert not report.written
    assert stored_ids(store) == []
    by_line = {e.line: e for e in report.errors}
    assert set(by_line) == {2, 3, 4, 5, 6, 7, 8}
    assert (by_line[2].field, by_line[2].event_id) == ("amount", "won-D1")
    assert "greater than or equal to 0" in by_line[2].reason
    assert by_line[3].field == "rep_id" and "unknown rep 'ghost'" in by_line[3].reason
    assert by_line[4].field == "currency" and "unknown currency 'XYZ'" in by_line[4].reason
    assert by_line[5].field == "close_date"
    assert "sum to 70 %" in by_line[6].reason
    assert "not valid JSON" in by_line[7].reason
    assert by_line[8].field == "type" and "unknown event type 'Nope'" in by_line[8].reason
    assert str(by_line[2]).startswith(f"{f}:2: event won-D1 field 'amount': ")


def test_dead_letter_stores_valid_records_and_writes_the_rest(
    store: EventStore, tmp_path: Path
) -> None:
    f = jsonl(
        tmp_path / "mixed.jsonl",
        [hired("an"), event_content(won("D1", rep_id="ghost")), won("D2", rep_id="an")],
    )
    letters = tmp_path / "dead.jsonl"
    [report] = ingest(store, f, dead_letter=letters)
    assert report.written and report.stored == 2 and report.dead_lettered == 1
    assert stored_ids(store) == ["hire-an", "won-D2"]
    [entry] = [json.loads(line) for line in letters.read_text(encoding="utf-8").splitlines()]
    assert entry["line"] == 2 and entry["source"] == str(f)
    assert entry["errors"] == [
        {"field": "rep_id", "reason": "unknown rep 'ghost' (no RepHired for it)"}
    ]
    assert entry["record"]["event_id"] == "won-D1"


def test_reingest_is_a_reported_no_op_and_conflicts_are_refused(
    store: EventStore, tmp_path: Path
) -> None:
    f = jsonl(tmp_path / "a.jsonl", [hired("an"), won("D1", rep_id="an")])
    ingest(store, f)
    [again] = ingest(store, f)
    assert again.stored == 0 and again.duplicates == 2 and again.errors == []
    g = jsonl(tmp_path / "b.jsonl", [hired("an", name="Changed Name"), hired("binh")])
    [conflict] = ingest(store, g)
    assert not conflict.written
    assert [(e.line, e.field) for e in conflict.errors] == [(1, "event_id")]
    assert "conflict" in conflict.errors[0].reason
    assert stored_ids(store) == ["hire-an", "won-D1"]


def test_conflict_inside_one_file(store: EventStore, tmp_path: Path) -> None:
    f = jsonl(tmp_path / "a.jsonl", [hired("an"), hired("an", name="Other"), hired("an")])
    [report] = ingest(store, f)
    assert [(e.line, e.field) for e in report.errors] == [(2, "event_id")]
    assert "given at line 1" in report.errors[0].reason


def test_references_may_point_forward_within_a_file_and_to_earlier_files(
    store: EventStore, tmp_path: Path
) -> None:
    deals = jsonl(tmp_path / "deals.jsonl", [won("D1", rep_id="an")])
    reps = jsonl(tmp_path / "reps.jsonl", [hired("an")])
    [bad] = ingest(store, deals)
    assert bad.errors and not bad.written  # an is unknown yet
    ingest(store, reps)
    [ok] = ingest(store, deals)
    assert ok.stored == 1
    both = jsonl(tmp_path / "both.jsonl", [won("D2", rep_id="binh"), hired("binh")])
    [forward] = ingest(store, both)
    assert forward.errors == [] and forward.stored == 2


def test_in_memory_records_use_the_same_path(store: EventStore) -> None:
    lines = [json.dumps(event_content(hired("an"))), json.dumps(event_content(call("an", 1)))]
    service = IngestService(store, scope=parse_scope("all"))
    report = service.ingest("http", lambda: parse_jsonl(lines, "http"))
    assert report.stored == 2
    record = RawRecord("http", 1, {"type": "RepHired"}, "{}")
    bad = service.ingest("http", lambda: [record])
    assert {e.field for e in bad.errors} >= {"event_id", "rep_id"}


def test_unsupported_or_missing_files_are_clear_errors(store: EventStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        ingest(store, tmp_path / "missing.jsonl")
    other = tmp_path / "x.xml"
    other.write_text("<x/>")
    with pytest.raises(ValueError, match="unsupported file type"):
        ingest(store, other)


def test_crash_mid_ingest_then_rerun_stores_exactly_what_is_missing(
    settings: Settings, tmp_path: Path
) -> None:
    """kill -9 the ingest process mid-file; each batch is whole or absent; a re-run completes."""
    total = 12_000
    f = jsonl(tmp_path / "big.jsonl", [hired("an")] + [call_n(i) for i in range(total - 1)])
    env = {**os.environ, "INCENTIVE_STORE_URL": settings.store_url, "INCENTIVE_BATCH_SIZE": "250"}
    cmd = [sys.executable, "-m", "incentive_engine", "ingest", str(f)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with EventStore(settings) as store:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and store.max_position() < 2_000:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = len(stored_ids(store))
    assert 0 < partial < total, f"the kill landed outside the ingest ({partial} stored)"
    assert partial % 250 == 0 or partial == total, "a batch was half-written"
    rerun = subprocess.run(
        [*cmd, "--format", "json"], env=env, capture_output=True, text=True, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    [report] = json.loads(rerun.stdout)
    assert report["stored"] == total - partial and report["duplicates"] == partial
    with EventStore(settings) as store:
        ids = stored_ids(store)
    assert len(ids) == total == len(set(ids))


def call_n(i: int) -> dict[str, Any]:
    return {
        "type": "ActivityLogged",
        "event_id": f"act-{i:06d}",
        "rep_id": "an",
        "kind": "call_connected" if i % 3 else "call_unanswered",
        "occurred_at": f"2026-01-05T{(i // 60) % 24:02d}:{i % 60:02d}:00Z",
    }


def test_invalid_territory_and_quota_input_is_refused_and_changes_nothing(
    store: EventStore, tmp_path: Path
) -> None:
    from incentive_engine.domain.events import TerritoryModelDefined

    model = TerritoryModelDefined(
        event_id="m1", effective_date="2025-01-01", regions=["Hà Nội", "TP.HCM"]
    )
    ingest(
        store,
        jsonl(
            tmp_path / "base.jsonl",
            [
                hired("an"),
                model,
                {
                    "type": "TerritoryDefined",
                    "event_id": "t1",
                    "territory_id": "HN",
                    "name": "Hà Nội",
                    "criteria": {"region": "Hà Nội"},
                    "effective_date": "2025-01-01",
                },
            ],
        ),
    )
    before = store.max_position()
    bad = jsonl(
        tmp_path / "bad.jsonl",
        [
            {
                "type": "TerritoryAssigned",
                "event_id": "a1",
                "territory_id": "HN",
                "owners": [{"rep_id": "an", "share": 60}, {"rep_id": "an2", "share": 60}],
                "effective_date": "2026-01-01",
            },
            {
                "type": "TerritoryReassigned",
                "event_id": "a2",
                "territory_id": "HN",
                "rep_id": "ghost",
                "effective_date": "2026-02-01",
            },
            {
                "type": "QuotaSet",
                "event_id": "q1",
                "subject_id": "an",
                "period": "2026-Q5",
                "amount": 1,
                "currency": "VND",
            },
            {
                "type": "TerritoryDefined",
                "event_id": "t2",
                "territory_id": "HUE",
                "name": "Huế",
                "criteria": {"region": "Huế"},
                "effective_date": "2026-01-01",
            },
            hired("binh"),
        ],
    )
    [report] = ingest(store, bad)
    assert not report.written and store.max_position() == before
    by_line = {e.line: e for e in report.errors}
    assert set(by_line) == {1, 2, 3, 4}
    assert "sum to 120 %" in by_line[1].reason
    assert (by_line[2].field, by_line[2].reason) == (
        "owners.0.rep_id",
        "unknown rep 'ghost' (no RepHired for it)",
    )
    assert by_line[3].field == "period" and "2026-Q5" in by_line[3].reason
    assert (
        by_line[4].field == "criteria.region"
        and "'Huế' is not in the territory model" in by_line[4].reason
    )
