"""The one visibility rule: who may see whose pay.

A viewer is a role and a subject (the rep id of a rep or manager).  Pay is every figure that
tells what a rep earns or how close they are to earning it: money (statements, earnings,
payouts, points, badges), quota, credited revenue and attainment.  The rule is decided on
the reporting lines of **the day the figure concerns**: a period's last day for a period
figure (``figure_day``), the day itself for a daily one; never "today" for a past period.

- finance sees everyone's pay;
- a rep sees their own;
- a manager sees their own and that of everyone below them (direct and indirect reports)
  on that day; a former report's figures of a period after they left are no longer theirs;
- a plan admin sees attainment figures (quota, credited revenue, attainment) of everyone,
  to design plans and quotas, but no money;
- an integration sees none.

Every door (API routes, disputes, CLI commands that take a viewer) asks this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from incentive_engine.domain.errors import Forbidden
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period

__all__ = [
    "PAY_READERS",
    "Figure",
    "Role",
    "Viewer",
    "check",
    "figure_day",
    "manages",
    "may_see",
    "visible_reps",
]


class Role(StrEnum):
    """What a caller may do."""

    REP = "rep"
    """Their own statements, earnings, points and badges; leaderboards without pay."""
    MANAGER = "manager"
    """Their own and their team's (reports') pay; leaderboards."""
    FINANCE = "finance"
    """All pay, period close, audit, disputes."""
    PLAN_ADMIN = "plan_admin"
    """Plans and simulations."""
    INTEGRATION = "integration"
    """Ingest only."""


class Figure(StrEnum):
    """What kind of pay figure is asked for."""

    MONEY = "money"
    """Statements, earnings, payouts, points and badges."""
    ATTAINMENT = "attainment"
    """Quota, credited revenue and attainment (plan admins see these too)."""


PAY_READERS = (Role.REP, Role.MANAGER, Role.FINANCE)
"""The roles that may read money figures at all (each within the rule)."""

_READERS = {Figure.MONEY: PAY_READERS, Figure.ATTAINMENT: (*PAY_READERS, Role.PLAN_ADMIN)}


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a role and a subject (the rep id for reps and managers)."""

    role: Role
    subject: str

    def __post_init__(self) -> None:
        """Read a role given as text (``"finance"``) as a Role."""
        object.__setattr__(self, "role", Role(self.role))


def figure_day(period: Period) -> date:
    """The day a period's figures concern, whose reporting lines decide who sees them."""
    return period.end


def manages(viewer: Viewer, rep_id: str, facts: Facts, day: date) -> bool:
    """Whether the viewer is a manager above the rep (directly or not) on the day."""
    return (
        viewer.role is Role.MANAGER
        and rep_id != viewer.subject
        and rep_id in facts.reports_of(viewer.subject, day)
    )


def may_see(
    viewer: Viewer, rep_id: str, facts: Facts, day: date, figure: Figure = Figure.MONEY
) -> bool:
    """Whether the viewer may see the rep's pay figures of the day (the same answer whether
    or not the rep exists, so ids cannot be probed)."""
    if viewer.role not in _READERS[figure]:
        return False
    if viewer.role in (Role.FINANCE, Role.PLAN_ADMIN):
        return True
    return viewer.subject == rep_id or manages(viewer, rep_id, facts, day)


def visible_reps(
    viewer: Viewer, facts: Facts, day: date, figure: Figure = Figure.MONEY
) -> set[str] | None:
    """The reps whose figures of the day the viewer may see: None for everyone."""
    if viewer.role not in _READERS[figure]:
        return set()
    if viewer.role in (Role.FINANCE, Role.PLAN_ADMIN):
        return None
    if viewer.role is Role.REP:
        return {viewer.subject}
    return {viewer.subject} | facts.reports_of(viewer.subject, day)


def check(
    viewer: Viewer,
    rep_id: str,
    facts: Facts,
    day: date,
    what: str = "pay",
    figure: Figure = Figure.MONEY,
) -> None:
    """Raise Forbidden, saying why, unless the viewer may see the rep's ``what`` of the day."""
    if viewer.role not in _READERS[figure]:
        raise Forbidden(f"the {viewer.role.value} role may not read {what}")
    if not may_see(viewer, rep_id, facts, day, figure):
        raise Forbidden(f"you may not read this rep's {what}")
