"""Equal values held once (pure: no I/O): what keeps the events the facts hold small.

A stored event decoded from JSON gets its own copy of every string, date and nested value
object, its own set of the fields it was given, and, once hashed, its canonical bytes.  The
facts hold some events whole (an opportunity, a win, a loss): ``Sharing.event`` makes each
such event share equal strings, dates and customers with the events held before it, share
one set of field names per event type, and drop its cached canonical bytes and digest (both
recomputed on demand).  Every field keeps an equal value, so nothing read from the event
changes; only ``model_fields_set`` then names every field, as for an event decoded from a
snapshot (``store.facts_codec``), and nothing reads it.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel

from incentive_engine.domain.events import Customer

E = TypeVar("E", bound=BaseModel)
T = TypeVar("T")

_CACHED = ("canonical", "digest")
"""An event's cached properties (``Event.canonical``, ``Event.digest``)."""
_SHARED_TYPES = (str, date, Customer)
"""Types whose equal values are interchangeable (equal means the same text when shown): not
``Decimal`` (1.0 equals 1), not bool or int (True equals 1), not datetime (equal instants in
two time zones)."""
_UNIQUE = frozenset({"event_id", "deal_id", "lead_id", "invoice_id", "payment_id", "refund_id"})
"""Fields whose values are seldom repeated among the held events: left as they are."""


class Sharing:
    """A table of values already held, by type and value."""

    __slots__ = ("_fields", "_values")

    def __init__(self) -> None:
        self._values: dict[type, dict[Any, Any]] = {kind: {} for kind in _SHARED_TYPES}
        self._fields: dict[type, set[str]] = {}

    def value(self, value: T) -> T:
        """The first equal value of the same type held (or this one, now held)."""
        table = self._values[type(value)]
        found = table.get(value)
        if found is None:
            table[value] = value
            if isinstance(value, BaseModel):
                self._compact(value)
            return value
        return found  # type: ignore[no-any-return]

    def event(self, event: E) -> E:
        """The event, made to share its values (see the module's docstring)."""
        self._compact(event)
        return event

    def _compact(self, model: BaseModel) -> None:
        fields = model.__dict__
        for cached in _CACHED:
            fields.pop(cached, None)
        values, unique = self._values, _UNIQUE
        for name, value in fields.items():
            table = values.get(type(value))
            if table is None or name in unique:
                continue
            found = table.get(value)
            if found is None:
                table[value] = value
                if isinstance(value, BaseModel):
                    self._compact(value)
            elif found is not value:
                fields[name] = found
        kind = type(model)
        names = self._fields.get(kind)
        if names is None:
            names = self._fields[kind] = set(kind.model_fields)
        object.__setattr__(model, "__pydantic_fields_set__", names)
