"""Stored events the fold does not use: quarantined ones (a row that no longer validates) and
voided ones (cancelled by an approved ``EventVoidApproved``).

The store hands the fold a marker in the event's place, so that the facts remember what was
left out and where; statements that the left-out event may concern report it (a quarantined
event) or cite its void (a voided one).  Pure: built from the stored JSON only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from incentive_engine.domain.periods import Period

__all__ = ["PAYLESS_TYPES", "Quarantined", "Voided", "concerns", "summarise"]

PAYLESS_TYPES = frozenset(
    {
        "ActivityLogged",
        "LeadCreated",
        "LeadQualified",
        "OpportunityCreated",
        "OpportunityStageChanged",
        "DealLost",
        "DisputeRaised",
        "DisputeCommented",
        "DisputeResolved",
        "EventVoidProposed",
        "AdjustmentRejected",
    }
)
"""Event types that never change a statement: leaving one out concerns no statement."""

_REP_FIELDS = ("rep_id", "manager_id")
_SHARE_FIELDS = ("splits", "owners")
_DAY_FIELDS = (
    "close_date",
    "hire_date",
    "effective_date",
    "termination_date",
    "amended_date",
    "cancelled_date",
    "posted_date",
    "effective_from",
    "rate_date",
)


@dataclass(frozen=True)
class Summary:
    """What can be read of a stored event without validating it (best effort)."""

    event_id: str | None
    type: str | None
    rep_ids: tuple[str, ...]
    plan_id: str | None
    period: str | None
    day: date | None


def summarise(data: Any) -> Summary:
    """The identifiable parts of a stored event's JSON: id, type, reps, plan, period, day."""
    if not isinstance(data, Mapping):
        return Summary(None, None, (), None, None, None)

    def text(name: str) -> str | None:
        value = data.get(name)
        return value if isinstance(value, str) and value else None

    reps = [v for v in (text(n) for n in _REP_FIELDS) if v is not None]
    for name in _SHARE_FIELDS:
        shares = data.get(name)
        if isinstance(shares, list):
            reps += [s["rep_id"] for s in shares if isinstance(s, Mapping) and _ok(s, "rep_id")]
    if data.get("type") in ("QuotaSet", "QuotaChanged") and data.get("subject", "rep") == "rep":
        reps += [v for v in (text("subject_id"),) if v is not None]
    day = None
    for name in _DAY_FIELDS:
        day = _day(data.get(name))
        if day is not None:
            break
    return Summary(
        event_id=text("event_id"),
        type=text("type"),
        rep_ids=tuple(dict.fromkeys(reps)),
        plan_id=text("plan_id"),
        period=text("period"),
        day=day,
    )


def _ok(mapping: Mapping[str, Any], name: str) -> bool:
    value = mapping.get(name)
    return isinstance(value, str) and bool(value)


def _day(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


@dataclass(frozen=True)
class Quarantined:
    """A stored event that does not validate: left out of the fold, reported by the
    statements it may concern until finance voids it."""

    position: int
    event_id: str | None
    type: str | None
    reason: str
    rep_ids: tuple[str, ...] = ()
    plan_id: str | None = None
    period: str | None = None
    day: date | None = None

    @property
    def key(self) -> str:
        """How the facts file it: its event id, else its position."""
        return self.event_id or f"position:{self.position}"

    def describe(self) -> str:
        """One line for people: which event, where, and why it is left out."""
        who = f"event {self.event_id!r}" if self.event_id else "an event without an id"
        kind = f" ({self.type})" if self.type else ""
        return (
            f"{who}{kind} at log position {self.position} is quarantined: {self.reason}; "
            f"finance can void it (incentive-engine void propose {self.event_id or '?'})"
        )

    @classmethod
    def of(cls, position: int, data: Any, reason: str) -> Quarantined:
        """The marker of a stored event's JSON that failed validation."""
        s = summarise(data)
        return cls(position, s.event_id, s.type, reason, s.rep_ids, s.plan_id, s.period, s.day)


@dataclass(frozen=True)
class Voided:
    """A stored event cancelled by an approved void: the fold leaves it out as if it had
    never been stored, and statements it concerned cite the approval."""

    position: int
    event_id: str
    type: str | None
    approval_id: str
    rep_ids: tuple[str, ...] = ()
    plan_id: str | None = None
    period: str | None = None
    day: date | None = None

    @classmethod
    def of(cls, position: int, data: Any, event_id: str, approval_id: str) -> Voided:
        """The marker of a voided event's stored JSON."""
        s = summarise(data)
        return cls(position, event_id, s.type, approval_id, s.rep_ids, s.plan_id, s.period, s.day)


_ADJUSTMENTS = frozenset({"ManualAdjustment", "AdjustmentProposed"})
"""Types that concern one rep's statement for one period only."""


def concerns(item: Quarantined | Voided, rep_id: str, plan_id: str, start: date, end: date) -> bool:
    """Whether a left-out event may concern a rep's statement under a plan for the period
    [start, end]: it names the rep or the plan (or, when it names neither and is of a type
    that changes pay, anyone), effective on or before the period's end."""
    if item.type in PAYLESS_TYPES:
        return False
    if item.day is not None and item.day > end:
        return False
    if item.period is not None and item.rep_ids and item.type in _ADJUSTMENTS:
        return rep_id in item.rep_ids and _period_overlaps(item.period, start, end)
    if item.rep_ids or item.plan_id:
        return rep_id in item.rep_ids or item.plan_id == plan_id
    return True


def _period_overlaps(name: str, start: date, end: date) -> bool:
    """Whether a period name's days meet [start, end] (unreadable names: yes)."""
    try:
        period = Period.parse(name)
    except ValueError:
        return True
    return period.start <= end and period.end >= start
