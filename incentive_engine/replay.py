"""Replay: read the log in global order and fold it into facts, optionally as of an instant."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from incentive_engine.facts import Facts
from incentive_engine.store import EventStore


def replay_facts(
    store: EventStore,
    *,
    as_of: datetime | None = None,
    until: int | None = None,
    progress: Callable[[int], None] | None = None,
    page_size: int = 5000,
) -> Facts:
    """Fold the whole log (or what was recorded by ``as_of``, or up to position ``until``)."""
    facts = Facts()
    batch: list = []  # type: ignore[type-arg]
    for recorded in store.read(as_of=as_of, until=until, page_size=page_size):
        batch.append(recorded.event)
        if len(batch) >= page_size:
            facts.apply_all(batch)
            if progress is not None:
                progress(len(batch))
            batch = []
    facts.apply_all(batch)
    if progress is not None and batch:
        progress(len(batch))
    return facts
