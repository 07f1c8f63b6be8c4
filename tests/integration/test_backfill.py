"""Backfilled history with honest times (issue 16, item 4), on both stores.

Territory HCM-SME-RETAIL belongs to An from 1 January; a deal in it closes on 2026-02-20 and
is recorded the next day. The reassignment to Bình effective 2026-02-15 was known to the old
CRM on 2026-03-01 but is loaded (backfilled) only on 2026-06-01 with that source time. As of
2026-02-28 the deal is An's; as of 2026-03-02 it is Bình's, although the engine itself
recorded the reassignment three months later.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from incentive_engine.domain.events import event_content
from incentive_engine.domain.periods import Period
from incentive_engine.domain.scopes import parse_scope
from incentive_engine.services.commissions import close_period, rep_statements
from incentive_engine.services.engine import Engine
from incentive_engine.services.ingest import IngestService, ingest_paths
from incentive_engine.store.chain import canonical_record
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.conftest import StepClock
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import assigned, customer, territory, won

Q1, Q2 = Period.parse("2026-Q1"), Period.parse("2026-Q2")
REASSIGN = "reassign-1"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    return path


def reassignment(**extra: Any) -> dict[str, Any]:
    content = event_content(assigned("HCM-SME-RETAIL", "binh", "2026-02-15", event_id=REASSIGN))
    return content | extra


def setup(store: EventStore, clock: StepClock) -> None:
    """The plan, An and Bình, the territory (An's), quotas, and the deal of 2026-02-20."""
    clock.set("2026-01-01T00:00:00")
    store.append(
        [
            publication(plan(tiered()).plan),
            rep("an"),
            rep("binh"),
            quota("an", 300_000_000),
            quota("binh", 300_000_000),
            quota("an", 300_000_000, "2026-Q2"),
            quota("binh", 300_000_000, "2026-Q2"),
            territory("HCM-SME-RETAIL", region="TP.HCM", size="sme", industry="Retail"),
            assigned("HCM-SME-RETAIL", "an"),
        ]
    )
    clock.set("2026-02-21T09:00:00")
    store.append(
        [won("D1", 200_000_000, close_date="2026-02-20", customer=customer(industry="Retail"))]
    )


def service(store: EventStore, **kw: Any) -> IngestService:
    return IngestService(store, scope=parse_scope("all"), batch_size=2, **kw)


def total(engine: Engine, rep_id: str, period: Period, as_of: datetime | None = None) -> Decimal:
    snap = engine.snapshot(as_of)
    return sum((s.total for s in rep_statements(snap, rep_id, period)), Decimal(0))


def test_as_of_cuts_on_the_source_time_of_a_backfilled_reassignment(
    store: EventStore, clock: StepClock, tmp_path: Path
) -> None:
    setup(store, clock)
    clock.set("2026-06-01T08:00:00")
    f = jsonl(tmp_path / "history.jsonl", [reassignment(source_recorded_at="2026-03-01T09:00:00Z")])
    [report] = ingest_paths(service(store), [f])
    assert report.errors == [] and report.stored == 1

    stored = store.get(REASSIGN)
    assert stored is not None
    assert stored.recorded_at == at("2026-06-01T08:00:00")
    assert stored.source_recorded_at == at("2026-03-01T09:00:00")
    assert stored.known_at == stored.source_recorded_at
    # recording metadata, not content: the event is the same fact, its hash unchanged
    assert "source_recorded_at" not in event_content(stored.event)
    # ... but the audit chain covers it
    assert b"source_recorded_at" in canonical_record(stored)

    with Engine(store=store, snapshots=False) as engine:
        # 200,000,000 of 300,000,000 (66.7 %), graduated: 150M x 2 % + 50M x 5 % = 5,500,000
        assert total(engine, "an", Q1, at("2026-02-28T23:59:59")) == Decimal(5_500_000)
        assert total(engine, "binh", Q1, at("2026-02-28T23:59:59")) == Decimal(0)
        assert total(engine, "an", Q1, at("2026-03-02T00:00:00")) == Decimal(0)
        assert total(engine, "binh", Q1, at("2026-03-02T00:00:00")) == Decimal(5_500_000)
        # the engine's own clock still says when it learned it (the audit of seals uses it)
        then = engine.snapshot(at("2026-03-02T00:00:00"), cut_on="recorded")
        assert sum(s.total for s in rep_statements(then, "an", Q1)) == Decimal(5_500_000)
        assert total(engine, "binh", Q1) == Decimal(5_500_000)


def test_known_since_gives_a_whole_file_its_source_time_and_ingesting_again_stores_nothing(
    store: EventStore, clock: StepClock, tmp_path: Path
) -> None:
    setup(store, clock)
    clock.set("2026-06-01T08:00:00")
    f = jsonl(
        tmp_path / "history.jsonl",
        [
            reassignment(),
            event_content(won("D2", 50_000_000, rep_id="an", close_date="2026-03-05"))
            | {"source_recorded_at": "2026-03-06T10:00:00+07:00"},  # its own time wins
        ],
    )
    [report] = ingest_paths(service(store, known_since=at("2026-03-01T00:00:00")), [f])
    assert report.errors == [] and report.stored == 2
    assert store.get(REASSIGN).source_recorded_at == at("2026-03-01T00:00:00")  # type: ignore[union-attr]
    assert store.get("won-D2").source_recorded_at == at("2026-03-06T03:00:00")  # type: ignore[union-attr]

    position = store.max_position()
    clock.set("2026-06-02T08:00:00")
    # the same file again, even with another source time: the same facts, nothing new
    [again] = ingest_paths(service(store, known_since=at("2026-04-01T00:00:00")), [f])
    assert again.errors == [] and again.stored == 0 and again.duplicates == 2
    assert store.max_position() == position
    assert store.get(REASSIGN).source_recorded_at == at("2026-03-01T00:00:00")  # type: ignore[union-attr]


def test_a_source_time_in_the_future_is_refused_naming_the_record_and_field(
    store: EventStore, clock: StepClock, tmp_path: Path
) -> None:
    setup(store, clock)
    clock.set("2026-06-01T08:00:00")
    f = jsonl(
        tmp_path / "history.jsonl",
        [
            reassignment(source_recorded_at="2026-06-01T08:00:01Z"),
            event_content(won("D2", rep_id="an", close_date="2026-03-05"))
            | {"source_recorded_at": "yesterday"},
        ],
    )
    [report] = ingest_paths(service(store), [f])
    assert report.stored == 0 and not report.written
    first, second = report.errors
    assert (first.line, first.event_id, first.field) == (1, REASSIGN, "source_recorded_at")
    assert "in the future" in first.reason
    assert (second.line, second.field) == (2, "source_recorded_at")
    assert str(second).startswith(f"{f}:2: event won-D2 field 'source_recorded_at'")

    [whole] = ingest_paths(service(store, known_since=at("2026-07-01T00:00:00")), [f])
    assert whole.stored == 0 and whole.errors[0].field == "known_since"
    assert "in the future" in whole.errors[0].reason

    # the store refuses a source time after the recorded time it stamps, whoever calls it
    with pytest.raises(ValueError, match="after its recorded time"):
        store.append(
            [won("D3", rep_id="an", close_date="2026-03-05")],
            source_times={"won-D3": at("2026-06-01T09:00:00")},
        )
    assert store.get("won-D3") is None


def test_backfill_into_a_closed_period_is_refused_unless_allowed_then_adjusted(
    store: EventStore, clock: StepClock, tmp_path: Path
) -> None:
    setup(store, clock)
    clock.set("2026-04-02T00:00:00")
    closed = close_period(store, Q1, closed_by="finance@vn", now=at("2026-04-02T00:00:00"))
    assert [(p.rep_id, p.total) for p in closed.payouts if p.total] == [("an", Decimal(5_500_000))]

    clock.set("2026-06-01T08:00:00")
    f = jsonl(tmp_path / "history.jsonl", [reassignment(source_recorded_at="2026-03-01T09:00:00Z")])
    [refused] = ingest_paths(service(store), [f])
    assert refused.stored == 0
    [error] = refused.errors
    assert (error.line, error.event_id, error.field) == (1, REASSIGN, "source_recorded_at")
    assert "closed period 2026-Q1" in error.reason and "--allow-closed-period" in error.reason

    [allowed] = ingest_paths(service(store, allow_closed_period=True), [f])
    assert allowed.errors == [] and allowed.stored == 1
    # ingesting it again is a no-op, not a refusal: a duplicate stores nothing
    [again] = ingest_paths(service(store), [f])
    assert again.errors == [] and again.duplicates == 1

    with Engine(store=store, snapshots=False) as engine:
        snap = engine.snapshot()
        [an_q2] = rep_statements(snap, "an", Q2)
        [binh_q2] = rep_statements(snap, "binh", Q2)
        [an_adj] = [ln for ln in an_q2.lines if ln.kind == "prior_period"]
        [binh_adj] = [ln for ln in binh_q2.lines if ln.kind == "prior_period"]
        assert (an_adj.component, an_adj.amount) == ("prior:2026-Q1", Decimal(-5_500_000))
        assert binh_adj.amount == Decimal(5_500_000)
        assert REASSIGN in an_adj.event_ids and REASSIGN in binh_adj.event_ids
        # what the close sealed still reproduces from what the engine had recorded then
        sealed = engine.snapshot(at("2026-04-01T23:59:59"), cut_on="recorded")
        assert [s.total for s in rep_statements(sealed, "an", Q1)] == [Decimal(5_500_000)]


def test_backfill_outside_closed_periods_needs_no_flag(
    store: EventStore, clock: StepClock, tmp_path: Path
) -> None:
    setup(store, clock)
    clock.set("2026-04-02T00:00:00")
    close_period(store, Q1, closed_by="finance@vn", now=at("2026-04-02T00:00:00"))
    clock.set("2026-06-01T08:00:00")
    late = event_content(won("D9", 10_000_000, rep_id="an", close_date="2026-04-20"))
    f = jsonl(tmp_path / "q2.jsonl", [late | {"source_recorded_at": "2026-04-21T00:00:00Z"}])
    [report] = ingest_paths(service(store), [f])
    assert report.errors == [] and report.stored == 1


def test_as_of_from_a_snapshot_cuts_backfilled_events_after_it_exactly(
    store: EventStore, clock: StepClock, tmp_path: Path
) -> None:
    setup(store, clock)
    with Engine(store=store) as engine:
        assert engine.write_snapshot() is not None  # holds what was recorded by 2026-02-21
    clock.set("2026-06-01T08:00:00")
    f = jsonl(tmp_path / "history.jsonl", [reassignment(source_recorded_at="2026-03-01T09:00:00Z")])
    ingest_paths(service(store), [f])
    with Engine(store=store) as engine:
        assert total(engine, "binh", Q1, at("2026-03-02T00:00:00")) == Decimal(5_500_000)
        assert engine.last_fold is not None and engine.last_fold.source == "snapshot"
        assert total(engine, "an", Q1, at("2026-02-28T23:59:59")) == Decimal(5_500_000)
        assert engine.last_fold.source == "snapshot"


def test_a_mapped_spreadsheet_carries_its_source_times_to_as_of(
    store: EventStore, clock: StepClock, tmp_path: Path
) -> None:
    """A CRM export read through a mapping whose "Cập nhật" column is the time the old system
    learned each reassignment: as-of cuts on it, as for a JSONL record's own field."""
    from incentive_engine.domain.mappings import load_mapping
    from incentive_engine.services.imports import import_file

    setup(store, clock)
    clock.set("2026-06-01T08:00:00")
    mapping = load_mapping(
        """
name: reassignments
currency: {value: VND}
events:
  - type: TerritoryAssigned
    event_id: {column: Mã, prefix: "ta-"}
    fields:
      territory_id: {column: Địa bàn}
      rep_id: {column: Nhân viên}
      effective_date: {column: Hiệu lực, parse: {date: dd/mm/yyyy}}
      source_recorded_at: {column: Cập nhật, parse: {datetime: dd/mm/yyyy, utc_offset: "+07:00"}}
""",
        "reassignments.yaml",
    )
    sheet = tmp_path / "reassignments.csv"
    sheet.write_text(
        "Mã,Địa bàn,Nhân viên,Hiệu lực,Cập nhật\n"
        "R1,HCM-SME-RETAIL,binh,15/02/2026,01/03/2026 09:00\n",
        encoding="utf-8",
    )
    report = import_file(service(store), sheet, mapping).report
    assert not report.errors and report.stored == 1, report.errors
    stored = store.get("ta-R1")
    assert stored is not None and stored.source_recorded_at == at("2026-03-01T02:00:00")
    with Engine(store=store, snapshots=False) as engine:
        assert total(engine, "binh", Q1, at("2026-02-28T23:59:59")) == Decimal(0)
        assert total(engine, "binh", Q1, at("2026-03-02T00:00:00")) == Decimal(5_500_000)
