"""Replay: read the log in global order and fold it into facts, optionally as of an instant."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime

from incentive_engine.domain.events import Event
from incentive_engine.domain.facts import Facts
from incentive_engine.store.event_store import EventStore


@contextmanager
def gc_paused(*, freeze: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector during a bulk fold.

    The fold builds a large, acyclic object graph; without this the collector re-walks it
    again and again, which measured about a third of replay time.  Reference counting still
    frees everything; the collector is restored (if it was on) afterwards.  With ``freeze``,
    what exists by then is moved out of the collector's sight (``gc.freeze``): the first
    collection after a fold otherwise walks the whole new graph once more (about 0.2 s for a
    million-event store), in the middle of whatever question comes next.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()


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
    with gc_paused():
        voided = store.voids(until=until, as_of=as_of)
        for page in store.events(as_of=as_of, until=until, page_size=page_size, voided=voided):
            facts.apply_recorded(page)
            if progress is not None:
                progress(len(page))
    return facts


def facts_until(store: EventStore, position: int) -> tuple[Facts, date | None]:
    """Facts of their own folded up to a log position, and the latest effective day among
    them: the start of a process that then steps through later events one by one to see
    what each changes (the notification publisher), which the shared Engine, always caught
    up with the head of the log, cannot hand out."""
    facts, last_day = Facts(), None
    if position <= 0:
        return facts, last_day
    with gc_paused():
        for page in store.events(until=position, voided=store.voids(until=position)):
            facts.apply_recorded(page)
            for event, _ in page:
                if not isinstance(event, Event):
                    continue  # left out (quarantined or voided): no effective day to count
                day = event.effective_day
                if last_day is None or day > last_day:
                    last_day = day
    return facts, last_day
