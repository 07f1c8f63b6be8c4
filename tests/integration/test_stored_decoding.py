"""The fast reading of stored events (store/decoding.py) decides every stored row exactly as
the full pydantic validation did: canonical rows give equal events (same values, same repr,
same canonical bytes), and an edited row (content changed, hash changed, a field of the wrong
type, an unknown type or field, a broken record) is quarantined with the same reason, or
accepted as the same event where full validation accepted it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from incentive_engine.demo.generator import iter_generate
from incentive_engine.domain.events import EVENT_ADAPTER, Event
from incentive_engine.domain.isolation import Quarantined
from incentive_engine.domain.limits import STORED
from incentive_engine.services.replay import replay_facts
from incentive_engine.settings import Settings
from incentive_engine.store.decoding import fast_decode
from incentive_engine.store.event_store import (
    EventStore,
    _reason,
    decode,
    decode_or_marker,
    encode_state,
)

STAMP = "2026-03-01T08:00:00.000000+00:00"

ACTIVITY: dict[str, Any] = {
    "type": "ActivityLogged",
    "event_id": "act-1",
    "rep_id": "rep-1",
    "kind": "meeting",
    "occurred_at": "2026-02-03T04:05:06.123456Z",
    "customer_id": "cus-1",
}
WON: dict[str, Any] = {
    "type": "DealWon",
    "event_id": "won-1",
    "deal_id": "D1",
    "rep_id": "rep-1",
    "amount": "82400000.50",
    "currency": "VND",
    "close_date": "2026-01-02",
    "product_group": "hardware",
    "customer": {
        "customer_id": "cus-1",
        "name": "Công ty TNHH Vận tải Gia Tiến",
        "region": "Hà Nội",
        "customer_type": "business",
        "industry": "Logistics",
        "is_new": False,
    },
}


def state_of(content: dict[str, Any], **metadata: Any) -> bytes:
    """A stored state as the store writes it, for an event given as JSON content."""
    event = EVENT_ADAPTER.validate_python(content, context=STORED)
    state = encode_state(event, STAMP, "test")
    if metadata:
        state = orjson.dumps({**orjson.loads(state), **metadata})
    return state


def edited(state: bytes, edit: Callable[[dict[str, Any]], object]) -> bytes:
    """A stored state with its event content edited in place (keys kept sorted, compact, as
    a hand-made SQL UPDATE of the canonical JSON would leave it)."""
    data = orjson.loads(state)
    edit(data["event"])
    content = orjson.dumps(data["event"], option=orjson.OPT_SORT_KEYS)
    content = content.replace(b'"SURROGATE"', b'"\\ud800"')  # orjson cannot write one
    return orjson.dumps({**data, "event": orjson.Fragment(content)})


def full_path(position: int, state: bytes) -> Event | Quarantined:
    """How a stored row was read before the fast path: orjson, then full validation."""
    try:
        data = orjson.loads(state)
        content = data["event"]
        datetime.fromisoformat(data["recorded_at"])
    except (ValueError, KeyError, TypeError) as exc:
        reason = f"the stored record is not readable: {type(exc).__name__}"
        return Quarantined.of(position, None, reason)
    try:
        return EVENT_ADAPTER.validate_python(content, context=STORED)
    except ValidationError as exc:
        return Quarantined.of(position, content, _reason(exc))


def assert_same(position: int, state: bytes) -> Event | Quarantined:
    """The store decides the row exactly as the full path does; returns that decision."""
    expected = full_path(position, state)
    got = decode_or_marker(position, state)
    if isinstance(expected, Quarantined):
        assert got == expected
    else:
        assert not isinstance(got, Quarantined), got
        event = got.event
        assert event == expected and repr(event) == repr(expected)
        assert event.canonical == expected.canonical
        assert event.model_dump_json() == expected.model_dump_json()
        assert decode(position, state).event == expected
    return expected


def _set(name: str, value: Any) -> Callable[[dict[str, Any]], object]:
    return lambda e: e.__setitem__(name, value)


def _customer(name: str, value: Any) -> Callable[[dict[str, Any]], object]:
    return lambda e: e["customer"].__setitem__(name, value)


EDITS: dict[str, tuple[dict[str, Any], Callable[[dict[str, Any]], object]]] = {
    # content changed to other valid content: accepted, as full validation accepted it
    "valid content changed": (ACTIVITY, _set("rep_id", "rep-2")),
    # refused by the model
    "id with a space": (ACTIVITY, _set("rep_id", "rep 2")),
    "id too long": (ACTIVITY, _set("rep_id", "r" * 129)),
    "id with a zero-width space": (ACTIVITY, _set("rep_id", "rep\u200b2")),
    "id with a NUL escape": (ACTIVITY, _set("rep_id", "rep\x002")),
    "unknown enum value": (ACTIVITY, _set("kind", "telepathy")),
    "impossible date": (ACTIVITY, _set("occurred_at", "2026-13-01T00:00:00Z")),
    "number for an id": (ACTIVITY, _set("rep_id", 123)),
    "list for an instant": (ACTIVITY, _set("occurred_at", [5])),
    "null for a required field": (ACTIVITY, _set("rep_id", None)),
    "unknown field": (ACTIVITY, _set("mood", "happy")),
    "schema version 2": (ACTIVITY, _set("schema_version", 2)),
    "unknown type": (ACTIVITY, _set("type", "ActivityImagined")),
    "another type's name": (ACTIVITY, _set("type", "LeadQualified")),
    "type removed": (ACTIVITY, lambda e: e.pop("type")),
    "required field removed": (ACTIVITY, lambda e: e.pop("kind")),
    "negative amount": (WON, _set("amount", "-1")),
    "seven decimals": (WON, _set("amount", "1.1234567")),
    "amount as an object": (WON, _set("amount", {"value": 1})),
    "unknown currency": (WON, _set("currency", "XXX")),
    "bidi control in text": (WON, _customer("region", "Hà\u202eNội")),
    "lone surrogate escape": (WON, _customer("region", "SURROGATE")),
    "splits that do not sum to 100": (
        WON,
        _set("splits", [{"rep_id": "a", "share": "60"}, {"rep_id": "b", "share": "30"}]),
    ),
    "bool as a word": (WON, _customer("is_new", "perhaps")),
    # accepted by the model as another value: the fast path leaves them to it
    "naive instant": (ACTIVITY, _set("occurred_at", "2026-02-03T04:05:06")),
    "instant with an offset": (ACTIVITY, _set("occurred_at", "2026-02-03T11:05:06+07:00")),
    "seven fractional digits": (ACTIVITY, _set("occurred_at", "2026-02-03T04:05:06.1234567Z")),
    "explicit null for an optional field": (ACTIVITY, _set("deal_id", None)),
    "instant as a number": (ACTIVITY, _set("occurred_at", 1770000000)),
    "amount as a number": (WON, _set("amount", 12.5)),
    "bool as a string": (WON, _customer("is_new", "true")),
    "lower-case currency": (WON, _set("currency", "vnd")),
    "text with a trailing space": (WON, _set("product_group", "hardware ")),
    "text not in NFC": (WON, _customer("region", "Ha\u0300 No\u0323i")),
    "splits that sum to 100": (
        WON,
        _set("splits", [{"rep_id": "a", "share": "60"}, {"rep_id": "b", "share": "40"}]),
    ),
}


ACCEPTED = {
    "valid content changed",
    "naive instant",
    "instant with an offset",
    "seven fractional digits",
    "explicit null for an optional field",
    "instant as a number",
    "amount as a number",
    "bool as a string",
    "lower-case currency",
    "text with a trailing space",
    "text not in NFC",
    "splits that sum to 100",
}
"""The edits full validation accepted (most as another value than stored): still accepted."""


@pytest.mark.parametrize("name", list(EDITS))
def test_an_edited_row_is_decided_as_full_validation_decided_it(name: str) -> None:
    content, edit = EDITS[name]
    state = edited(state_of(content), edit)
    decision = assert_same(7, state)
    assert isinstance(decision, Quarantined) == (name not in ACCEPTED)
    if name != "valid content changed":
        assert fast_decode(state) is None  # left to the full path


@pytest.mark.parametrize(
    "name, state",
    [
        ("hash changed", state_of(ACTIVITY, hash="sha256:" + "f" * 64)),
        ("hash of the wrong type", state_of(ACTIVITY, hash=5)),
        ("hash removed", orjson.dumps({**orjson.loads(state_of(WON)), "hash": None})),
        ("unknown metadata", state_of(WON, note="x")),
        ("recorded time removed", orjson.dumps({"event": ACTIVITY, "hash": "sha256:00"})),
        ("recorded time unreadable", state_of(ACTIVITY, recorded_at="yesterday")),
        ("event not an object", state_of(ACTIVITY, event=["ActivityLogged"])),
        ("not JSON", state_of(ACTIVITY)[:-3]),
        ("trailing garbage", state_of(ACTIVITY) + b"x"),
    ],
)
def test_an_edited_record_is_decided_as_before(name: str, state: bytes) -> None:
    assert_same(3, state)


def test_the_canonical_rows_of_the_demo_take_the_fast_path_as_the_same_events() -> None:
    events = list(iter_generate(reps=20, events=3000, seed=7))
    fast = 0
    for position, event in enumerate(events, 1):
        state = encode_state(event, STAMP, "demo")
        assert not isinstance(assert_same(position, state), Quarantined)
        fast += fast_decode(state) is not None
    assert fast >= 0.9 * len(events)  # the bulk (activities, leads, pipeline) is fast


@pytest.fixture(scope="module")
def store_with_edits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventStore]:
    """A SQLite store of canonical events, then every edited row written straight in."""
    path: Path = tmp_path_factory.mktemp("decoding") / "store.db"
    with EventStore(Settings(store_url=f"sqlite:///{path}")) as store:
        store.append([EVENT_ADAPTER.validate_python(c, context=STORED) for c in (ACTIVITY, WON)])
        table = store.recorder.events_table_name  # type: ignore[attr-defined]
        with store.recorder.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
            for i, (content, edit) in enumerate(EDITS.values()):
                state = edited(state_of({**content, "event_id": f"edit-{i}"}), edit)
                c.execute(
                    f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
                    "VALUES (?, 1, ?, ?)",
                    (f"edit-{i}", "x", state),
                )
        yield store


def test_replay_quarantines_the_edited_rows_full_validation_refused(
    store_with_edits: EventStore,
) -> None:
    store = store_with_edits
    expected = {
        position: full_path(position, state) for page in store.pages() for position, state in page
    }
    refused = {p: q for p, q in expected.items() if isinstance(q, Quarantined)}
    assert len(refused) == len(EDITS) - len(ACCEPTED)
    facts = replay_facts(store)
    assert sorted(facts.quarantined.values(), key=lambda q: q.position) == list(refused.values())
    assert facts.event_count == len(expected)
    read = [item for page in store.events() for item, _ in page]
    assert [e for e in read if not isinstance(e, Quarantined)] == [
        e for e in expected.values() if not isinstance(e, Quarantined)
    ]
