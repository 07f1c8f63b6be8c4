"""The audit chain's arithmetic: each link is sha256(previous link | canonical form of the
recorded event: its position, content, recorded time and source, and the source time of a
backfilled event)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from incentive_engine.domain.events import canonical_json, event_content
from incentive_engine.store.event_store import EventStore, RecordedEvent, format_instant

GENESIS = "0" * 64
"""The link before the first event."""


def canonical_record(recorded: RecordedEvent) -> bytes:
    """The canonical bytes of a recorded event: position, content, recorded time, source,
    and the source time when there is one (absent otherwise, so that the links of events
    without one are what they always were)."""
    record = {
        "position": recorded.position,
        "event": event_content(recorded.event),
        "recorded_at": format_instant(recorded.recorded_at),
        "source": recorded.source,
    }
    if recorded.source_recorded_at is not None:
        record["source_recorded_at"] = format_instant(recorded.source_recorded_at)
    return canonical_json(record)


def next_link(previous: str, recorded: RecordedEvent) -> str:
    """The chain link of a recorded event after the previous link."""
    return hashlib.sha256(previous.encode() + b"|" + canonical_record(recorded)).hexdigest()


def links(
    records: Iterable[RecordedEvent], previous: str = GENESIS
) -> Iterator[tuple[int, str, str]]:
    """(position, event id, link) along the chain."""
    for recorded in records:
        previous = next_link(previous, recorded)
        yield recorded.position, recorded.event.event_id, previous


def head(store: EventStore) -> tuple[int, str]:
    """The position and link of the last event in the log (0 and the genesis link if empty)."""
    last = (0, GENESIS)
    for position, _, link in links(store.read()):
        last = (position, link)
    return last
