"""The application core every door holds: facts folded up to a log position, caught up
incrementally from the store, and as-of questions answered by folding what was known then."""

from __future__ import annotations

import threading
from datetime import datetime

from incentive_engine.domain.facts import Facts
from incentive_engine.domain.limits import as_utc
from incentive_engine.services.commissions import Snapshot
from incentive_engine.services.replay import gc_paused, replay_facts
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.evaluate import PlanBook


class Engine:
    """One store and the facts kept current by folding only the events appended since the
    last question (as-of questions fold their own, from the start of the log)."""

    def __init__(
        self, settings: Settings | None = None, *, store: EventStore | None = None
    ) -> None:
        self.settings = settings or (store.settings if store is not None else Settings())
        self._owns_store = store is None
        self.store = store if store is not None else EventStore(self.settings)
        self._lock = threading.Lock()
        self._facts = Facts()
        self._position = 0
        self._snapshot: Snapshot | None = None

    @property
    def position(self) -> int:
        """The log position the current facts stand at."""
        return self._position

    def snapshot(self, as_of: datetime | None = None) -> Snapshot:
        """Facts and plan versions now (caught up with the log) or as of an instant (read as
        UTC when it has no time zone, as at every door)."""
        if as_of is not None:
            as_of = as_utc(as_of)
            facts = replay_facts(self.store, as_of=as_of)
            return Snapshot(facts, PlanBook.from_facts(facts))
        head = self.store.max_position()
        with self._lock:
            if self._snapshot is None or head != self._position:
                with gc_paused():
                    for page in self.store.events(self._position, until=head):
                        self._facts.apply_recorded(page)
                self._position = head
                self._snapshot = Snapshot(self._facts, PlanBook.from_facts(self._facts))
            return self._snapshot

    def close(self) -> None:
        """Release the store (when the engine opened it)."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
