"""The fast ingest path (issue 18) keeps every behaviour of the validating path: orjson reads
only what the strict reader would read alike, stored states keep their bytes, positions are the
log's, spooled rows are what is stored, and a re-ingest recognises duplicates and conflicts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from incentive_engine.domain import limits
from incentive_engine.domain.events import event_content
from incentive_engine.domain.scopes import parse_scope
from incentive_engine.services import ingest as ingest_module
from incentive_engine.services.ingest import IngestService, read_jsonl
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import (
    EventStore,
    Row,
    _StateEncoder,
    encode_state,
    stored_digest,
)
from tests.conftest import sqlite_settings
from tests.factories import call, hired, won


@pytest.mark.parametrize(
    "text",
    [
        '{"a":"x","b":1,"c":true,"d":null,"e":{"f":["g",2]}}',  # compact: orjson reads it
        '{"a": "x", "b": 1}',  # spaced
        '{"a":"x","a":"y"}',  # a key given twice
        '{"a":1.5}',  # a fraction: an exact Decimal
        '{"a":{"b":[1,2.50]}}',  # a nested fraction
        '{"a":"\\u0001"}',  # a control character by escape
        '{"a":"\\ud800"}',  # a lone surrogate
        '{"a":123456789012345678901234567890123}',  # beyond 30 digits
        '{"a":12345678901234567890}',  # beyond 64 bits, within 30 digits
        '{"a":NaN}',
        '{"a":-0}',
        '{"a":1e5}',
        "[1,2]",
        '"text"',
        "{" * 40 + "}" * 40,
        '{"a":"\\/"}',
        '{"é":"Nguyễn"}',
        '{"a": "x:y", "b": {"c": 1, "c": 2}}',
        '{"a" : "b:c" , "d":{"e:" : [ 1 , 2 ] } }',
        '{"a":"x"} ',
    ],
)
def test_fast_reading_gives_what_the_strict_reader_gives(text: str) -> None:
    def outcome(read: Any) -> tuple[str, Any]:
        try:
            value = read(text)
        except limits.LimitError as exc:
            return ("error", (exc.field, exc.reason))
        return ("value", (value, repr(value)))

    assert outcome(ingest_module._loads) == outcome(limits.loads)
    fast = ingest_module._fast_loads(text)
    if fast is not None:  # orjson read it: exactly the strict value, types included
        assert repr(fast) == repr(limits.loads(text))


def test_fast_reading_leaves_duplicates_fractions_and_escapes_to_the_strict_reader() -> None:
    for text in (
        '{"a":"x","a":"y"}',
        '{"a": "x:y", "b": {"c": 1, "c": 2}}',
        '{"a":1.5}',
        '{"a":[{"b":0.1}]}',
        '{"a":"\\u00e9"}',
    ):
        assert ingest_module._fast_loads(text) is None
    spaced = '{"at": "2026-01-02T01:05:42Z", "b": [1, {"c:d": null}]}'  # json.dumps's spacing
    assert ingest_module._fast_loads(spaced) == limits.loads(spaced)
    assert ingest_module._fast_loads('{"a":"x","b":[1,{"c":null}]}') == {
        "a": "x",
        "b": [1, {"c": None}],
    }


@pytest.mark.parametrize("source", [None, "crm.jsonl", 'a "quoted" \\ path, é'])
@pytest.mark.parametrize("source_time", [None, "2025-12-31T00:00:00.000000+00:00"])
def test_joined_states_are_byte_identical_to_encode_state(
    source: str | None, source_time: str | None
) -> None:
    stamp = "2026-01-02T03:04:05.000006+00:00"
    encode = _StateEncoder(stamp, source)
    for event in (hired("an"), won("D1", rep_id="an"), call("an", 1)):
        expected = encode_state(event, stamp, source, source_time)
        assert encode(Row.of(event), source_time) == expected
        assert stored_digest(expected) == event.digest


def test_positions_of_a_bulk_append_are_the_logs(tmp_path: Path) -> None:
    with EventStore(sqlite_settings(tmp_path)) as store, EventStore(store.settings) as other:
        first = store.append([hired("an"), hired("bo")])
        other.append([hired("cy")])  # another writer in between
        second = store.append([call("an", 1), hired("an"), call("bo", 2)])
        assert second.duplicates == ["hire-an"]
        for event_id, position in first.stored + second.stored:
            assert store.position_of(event_id) == position
        assert [p for _, p in first.stored + second.stored] == [1, 2, 4, 5]
        assert [r.position for r in store.read()] == [1, 2, 3, 4, 5]


def test_the_spool_spills_to_a_file_and_gives_back_every_row_in_order() -> None:
    spool = ingest_module._Spool(limit=5, chunk=2)
    given: list[tuple[tuple[str, int], Any]] = []
    for n in range(13):
        row = (f"e{n}", "T", b"{}", "sha256:x", datetime(2026, 1, 1, tzinfo=UTC))
        item = (("f", n), row if n % 3 else f"e{n}")
        given.append(item)
        spool.add(*item)
    assert spool.file is not None
    assert list(spool) == given
    spool.clear()
    assert list(spool) == [] and spool.file is None


def _events(reps: int = 4, calls: int = 9) -> list[Any]:
    people = [hired(f"r{i}") for i in range(reps)]
    return people + [call(f"r{i % reps}", i) for i in range(calls)]


def _write(path: Path, records: list[Any], *, compact: bool = True) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for r in records:
            data = r if isinstance(r, dict) else event_content(r)
            if compact:
                handle.write(orjson.dumps(data).decode() + "\n")
            else:
                handle.write(json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n")
    return path


def _ingest(store: EventStore, path: Path, batch_size: int = 4) -> Any:
    service = IngestService(store, scope=parse_scope("all"), batch_size=batch_size)
    return service.ingest(str(path), lambda: read_jsonl(path))


def test_a_spilled_source_stores_what_a_held_one_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _events()
    f = _write(tmp_path / "e.jsonl", events)
    held = Settings(store_url=f"sqlite:///{tmp_path / 'held.db'}")
    spilled = Settings(store_url=f"sqlite:///{tmp_path / 'spilled.db'}")
    with EventStore(held) as store:
        assert _ingest(store, f).stored == len(events)
        expected = [(r.position, r.event) for r in store.read()]
    monkeypatch.setattr(ingest_module._Spool, "__init__", _small_spool)
    with EventStore(spilled) as store:
        report = _ingest(store, f)
        assert report.stored == len(events) and report.errors == []
        assert [(r.position, r.event) for r in store.read()] == expected


def _small_spool(self: Any, limit: int = 3, chunk: int = 2) -> None:
    self.limit, self.chunk, self.held, self.file, self.chunks = limit, chunk, [], None, 0


def test_reingest_spots_duplicates_in_any_spelling_and_conflicts(
    store: EventStore, tmp_path: Path
) -> None:
    events = _events()
    first = _ingest(store, _write(tmp_path / "a.jsonl", events))
    assert first.stored == len(events)
    again = _ingest(store, _write(tmp_path / "a.jsonl", events))  # canonical: no validation
    assert (again.stored, again.duplicates, again.errors) == (0, len(events), [])
    spaced = _ingest(store, _write(tmp_path / "b.jsonl", events, compact=False))  # validated
    assert (spaced.stored, spaced.duplicates, spaced.errors) == (0, len(events), [])
    changed = [event_content(e) for e in events]
    changed[-1]["kind"] = "meeting"
    last = changed[-1]["event_id"]
    before = store.max_position()
    refused = _ingest(store, _write(tmp_path / "c.jsonl", [*changed, hired("new")]))
    [error] = refused.errors
    assert (error.line, error.field) == (len(events), "event_id")
    assert f"conflict: event {last} was already stored with different content" in error.reason
    assert store.max_position() == before  # nothing half-written


def test_a_stored_duplicate_given_twice_with_different_content_is_a_conflict(
    store: EventStore, tmp_path: Path
) -> None:
    events = _events(reps=1, calls=1)
    _ingest(store, _write(tmp_path / "a.jsonl", events))
    other = event_content(events[-1]) | {"kind": "meeting"}
    report = _ingest(store, _write(tmp_path / "b.jsonl", [*events, other]))
    assert [(e.line, e.field) for e in report.errors] == [(3, "event_id")]
    assert "given at line 2" in report.errors[0].reason


def test_the_ingest_hash_is_the_events_hash() -> None:
    for event in (hired("an"), won("D1", rep_id="an"), call("an", 1)):
        fresh = type(event).model_validate(event_content(event))
        assert ingest_module._digest(fresh) == event.digest == fresh.digest
        assert fresh.canonical == event.canonical
