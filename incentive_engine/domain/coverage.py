"""Who a published plan version covers over its effective dates (pure; imports only events, so
that reference checks and the fold's readers share it without an import cycle)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple, Protocol

from incentive_engine.domain.events import PlanVersionPublished, RepHired, RepTransferred, Role


class Placed(Protocol):
    """A rep's placement from a day on (``facts.Placement`` or ``Spot``)."""

    @property
    def effective(self) -> date:
        """The first day of the placement."""
        ...

    @property
    def event_id(self) -> str:
        """The event that placed the rep."""
        ...

    @property
    def team(self) -> str:
        """The team."""
        ...

    @property
    def role(self) -> Role | None:
        """The role (None: unchanged by a transfer)."""
        ...


class Spot(NamedTuple):
    """A placement as reference checks remember it: day, event id, team, role."""

    effective: date
    event_id: str
    team: str
    role: Role | None

    @classmethod
    def of(cls, event: RepHired | RepTransferred) -> Spot:
        """The placement a hire or a transfer makes."""
        day = event.hire_date if isinstance(event, RepHired) else event.effective_date
        return cls(day, event.event_id, event.team, event.role)


@dataclass(frozen=True)
class Coverage:
    """Who a published version covers, and its effective dates."""

    reps: tuple[str, ...]
    teams: tuple[str, ...]
    roles: tuple[str, ...]
    effective_from: date
    effective_to: date | None
    currency: str | None = None
    """The currency the version pays in."""


def coverage_of(event: PlanVersionPublished) -> Coverage:
    """The coverage a published version's (validated) document declares."""
    covers: Mapping[str, Any] = event.document.get("covers") or {}
    return Coverage(
        tuple(covers.get("reps") or ()),
        tuple(covers.get("teams") or ()),
        tuple(covers.get("roles") or ()),
        event.effective_from,
        event.effective_to,
        event.document.get("currency"),
    )


def covered(coverage: Coverage, rep_id: str, placements: Sequence[Placed]) -> bool:
    """Whether a version covers a rep on some day of its effective dates: by id, or by the
    team or role of a placement in force on such a day (a transfer without a role keeps the
    earlier role)."""
    if rep_id in coverage.reps:
        return True
    ordered = sorted(placements, key=lambda p: (p.effective, p.event_id))
    role: str | None = None
    for i, p in enumerate(ordered):
        if p.role is not None:
            role = p.role.value
        following = ordered[i + 1].effective if i + 1 < len(ordered) else None
        starts_in_time = coverage.effective_to is None or p.effective <= coverage.effective_to
        ends_in_time = following is None or following > coverage.effective_from
        if not (starts_in_time and ends_in_time):
            continue
        if p.team in coverage.teams or (role is not None and role in coverage.roles):
            return True
    return False
