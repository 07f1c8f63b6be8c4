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
- a plan admin sees the quotas they design, but no other rep's credited revenue,
  attainment or money: a plan admin knows the tiers, so revenue and attainment *are* pay;
  they work with aggregates (``aggregate_visible``) and anonymised simulations;
- an integration sees none.

Whether a rep accepted a plan version (``Figure.ACCEPTANCE``) follows the same lines: a rep
their own, a manager their reports', finance and plan admins everyone's.

A figure from which a reader can derive another rep's pay is pay: a revenue board next to
an attainment board gives quota, and the tiers on one's own statement give the commission.
So leaderboards show other reps' values only as the plan's board policy allows
(``board_policy``, ``shows_value``; by default no revenue, attainment or quota), and an
aggregate over a group (a team, a territory) is shown only when it hides no one or at least
two people from the reader (``aggregate_visible``: a team of one, or a team of two that
includes the reader, would reveal one person).

Every door (API routes, disputes, CLI commands that take a viewer) asks this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from incentive_engine.domain.errors import Forbidden
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from incentive_engine.domain.vocabulary import BoardVisibility, Metric

__all__ = [
    "DEFAULT_BOARDS",
    "DISPLAY_METRICS",
    "PAY_READERS",
    "BoardVisibility",
    "Figure",
    "Role",
    "Viewer",
    "aggregate_visible",
    "board_policy",
    "check",
    "figure_day",
    "manages",
    "may_see",
    "members_of",
    "on_display",
    "shows_value",
    "visible_groups",
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
    """Credited revenue and attainment (with the plan's tiers, these give the pay)."""
    QUOTA = "quota"
    """A rep's quota alone (plan admins see these too: they design them)."""
    ACCEPTANCE = "acceptance"
    """Whether (when, how) a rep accepted a plan version: not pay, but personal; plan admins
    see everyone's, as finance does (they chase the signatures of the plans they design)."""


PAY_READERS = (Role.REP, Role.MANAGER, Role.FINANCE)
"""The roles that may read money figures at all (each within the rule)."""

AGGREGATE_READERS = (Role.MANAGER, Role.FINANCE, Role.PLAN_ADMIN)
"""The roles that may read figures aggregated over a group (team, territory, company)."""

_READERS = {
    Figure.MONEY: PAY_READERS,
    Figure.ATTAINMENT: PAY_READERS,
    Figure.QUOTA: (*PAY_READERS, Role.PLAN_ADMIN),
    Figure.ACCEPTANCE: (*PAY_READERS, Role.PLAN_ADMIN),
}
_EVERYONE = {Figure.MONEY: (Role.FINANCE,), Figure.ATTAINMENT: (Role.FINANCE,)}
"""The roles that see a figure of every rep (finance; plan admins for quotas)."""

DEFAULT_BOARDS: dict[Metric, BoardVisibility] = {
    Metric.POINTS: BoardVisibility.RANKS_AND_POINTS,
    Metric.REVENUE: BoardVisibility.RANKS,
    Metric.ATTAINMENT: BoardVisibility.RANKS,
    Metric.DEALS_WON: BoardVisibility.RANKS,
    Metric.NEW_CUSTOMERS: BoardVisibility.RANKS,
}
"""What each board shows of other reps when no plan says: points, and ranks only elsewhere
(deals won and new customers are ranks only too: a per-deal spiff turns a count into pay)."""

_STRICTNESS = (
    BoardVisibility.RANKS,
    BoardVisibility.RANKS_AND_POINTS,
    BoardVisibility.RANKS_AND_VALUES,
)


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
    if viewer.role in _EVERYONE.get(figure, (Role.FINANCE, Role.PLAN_ADMIN)):
        return True
    return viewer.subject == rep_id or manages(viewer, rep_id, facts, day)


def visible_reps(
    viewer: Viewer, facts: Facts, day: date, figure: Figure = Figure.MONEY
) -> set[str] | None:
    """The reps whose figures of the day the viewer may see: None for everyone."""
    if viewer.role not in _READERS[figure]:
        return set()
    if viewer.role in _EVERYONE.get(figure, (Role.FINANCE, Role.PLAN_ADMIN)):
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


def aggregate_visible(
    viewer: Viewer, members: Iterable[str], facts: Facts, day: date, figure: Figure
) -> bool:
    """Whether the viewer may see a figure aggregated over a group of reps (a team, a
    territory's owners): when they may see every member, or when the group hides at least
    two members from them (a group of one, or of two with the viewer in it, reveals one)."""
    if viewer.role not in AGGREGATE_READERS and viewer.role not in _READERS[figure]:
        return False
    hidden = [m for m in set(members) if not may_see(viewer, m, facts, day, figure)]
    if not hidden:
        return True
    return viewer.role in AGGREGATE_READERS and len(hidden) >= 2


def board_policy(
    settings: Iterable[Mapping[Metric, BoardVisibility] | None], metric: Metric
) -> BoardVisibility:
    """What a board shows of other reps under the plans in force (each plan's
    ``leaderboards`` setting): the strictest of those that set it, else the default."""
    chosen = [s[metric] for s in settings if s is not None and metric in s]
    if not chosen:
        return DEFAULT_BOARDS[metric]
    return min(chosen, key=_STRICTNESS.index)


def shows_value(
    viewer: Viewer | None,
    rep_id: str,
    facts: Facts,
    day: date,
    metric: Metric,
    policy: BoardVisibility,
) -> bool:
    """Whether a board shows the viewer this rep's value: always to whoever may see the
    rep's pay (finance, the rep, their managers on the day), else as the policy allows
    (``None``: a reader who may see no one's pay, such as an office screen)."""
    if viewer is not None and may_see(viewer, rep_id, facts, day, Figure.ATTAINMENT):
        return True
    if policy is BoardVisibility.RANKS_AND_VALUES:
        return True
    return policy is BoardVisibility.RANKS_AND_POINTS and metric is Metric.POINTS


DISPLAY_METRICS = (Metric.POINTS, Metric.DEALS_WON, Metric.NEW_CUSTOMERS)
"""The boards an office screen (a display key, seen by anyone passing) may show: never a
revenue or attainment ranking, which next to the plan's tiers reads as pay."""


def on_display(metric: Metric, policy: BoardVisibility) -> bool:
    """Whether a board may be shown on an office screen: points, deals won and new
    customers (values as ``shows_value`` allows a reader of no one's pay), and any other
    board only when the plans show its values to everyone."""
    return metric in DISPLAY_METRICS or policy is BoardVisibility.RANKS_AND_VALUES


def members_of(facts: Facts, by: str, period: Period) -> dict[str, set[str]]:
    """The reps behind each group of a grouping for a period: a team's members (on their
    last day in the period), a territory's owners (on the period's last day), every rep
    employed in the period for ``company``; ``rep`` groups are the reps themselves."""
    found: dict[str, set[str]] = {}
    if by == "territory":
        for tid, t in facts.territories.items():
            ownership = t.ownership_on(figure_day(period))
            found[tid] = {s.rep_id for s in ownership.owners} if ownership else set()
        return found
    for rep_id, rep in facts.reps.items():
        day = rep.last_day_in(period)
        if day is None:
            continue
        if by == "team":
            team = rep.team_on(day)
            if team is not None:
                found.setdefault(team, set()).add(rep_id)
        elif by == "company":
            found.setdefault("company", set()).add(rep_id)
        else:
            found[rep_id] = {rep_id}
    return found


def visible_groups(
    viewer: Viewer, facts: Facts, by: str, period: Period, figure: Figure = Figure.ATTAINMENT
) -> set[str] | None:
    """The groups (reps, teams, territories, the company) of a grouping whose figures the
    viewer may see for a period: None for all (finance)."""
    day = figure_day(period)
    if by == "rep":
        return visible_reps(viewer, facts, day, figure)
    if viewer.role is Role.FINANCE:
        return None
    return {
        group
        for group, people in members_of(facts, by, period).items()
        if aggregate_visible(viewer, people, facts, day, figure)
    }
