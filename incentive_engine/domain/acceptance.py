"""Plan acceptance: who a plan version covers, who accepted it, who may accept for whom, and
which payouts a hold on unaccepted plans keeps back (pure: facts in, answers out).

A rep accepts (acknowledges) the plan version that pays them with a ``PlanAccepted`` event.
The rules, decided once here for every door:

- a version *covers* a rep when the rep is named in its ``covers.reps``, or when one of the
  rep's placements (team, role) in force on some day of the version's effective dates
  matches its ``covers.teams`` or ``covers.roles``;
- a rep (or a manager covered by a plan) accepts for themself only (``web`` or ``api``);
  finance records a ``paper`` signature (or an operator a ``cli`` acceptance) for any rep;
  nobody else accepts for a rep;
- a rep (or manager) may read the rules of a version that covers them: what they are asked
  to accept (plan admins and finance read every version);
- reading who accepted follows the visibility rule (``Figure.ACCEPTANCE``): a rep their own,
  a manager their reports', finance and plan admins everyone;
- with ``INCENTIVE_HOLD_UNACCEPTED`` on, a payout under a version its rep has not accepted is
  held: listed apart with the reason, left out of the payable total and of payroll, until
  the rep accepts.  The statement itself (and its hash) never changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from incentive_engine.domain.coverage import Coverage, coverage_of, covered
from incentive_engine.domain.errors import Forbidden, Invalid
from incentive_engine.domain.events import PlanAccepted
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.visibility import Figure, Role, Viewer, may_see

__all__ = [
    "PLAN_READERS",
    "AcceptanceRow",
    "Coverage",
    "acceptance_rows",
    "accepted",
    "check_accept",
    "coverage_of",
    "covered",
    "covered_reps",
    "hold_reason",
    "may_read_version",
    "pending",
    "row_of",
    "unaccepted",
]

SELF_SERVICE = ("web", "api")
"""How a rep accepts for themself."""
RECORDED = ("paper", "cli")
"""How finance (paper) or an operator (cli) records a rep's acceptance."""


def covered_reps(facts: Facts, plan_id: str, version: int) -> list[str]:
    """Every rep a published version covers, by rep id (empty when it is not published)."""
    event = facts.plan_versions.get(plan_id, {}).get(version)
    if event is None:
        return []
    coverage = coverage_of(event)
    return sorted(
        rep_id
        for rep_id, rep in facts.reps.items()
        if rep.hire_date is not None and covered(coverage, rep_id, rep.placements)
    )


def accepted(facts: Facts, rep_id: str, plan_id: str, version: int) -> PlanAccepted | None:
    """The rep's acceptance of a plan version, if any."""
    return facts.acceptances.get(plan_id, {}).get(version, {}).get(rep_id)


@dataclass(frozen=True)
class AcceptanceRow:
    """A covered rep and whether (when, how) they accepted a plan version."""

    rep_id: str
    name: str
    plan_id: str
    version: int
    accepted: bool
    accepted_at: datetime | None
    how: str | None
    reference: str | None
    recorded_by: str | None
    event_id: str | None

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON-ready values."""
        return {
            "rep_id": self.rep_id,
            "name": self.name,
            "plan_id": self.plan_id,
            "version": self.version,
            "accepted": self.accepted,
            "accepted_at": self.accepted_at.isoformat() if self.accepted_at else None,
            "how": self.how,
            "reference": self.reference,
            "recorded_by": self.recorded_by,
            "event_id": self.event_id,
        }


def row_of(facts: Facts, rep_id: str, plan_id: str, version: int) -> AcceptanceRow:
    """Whether a rep accepted a plan version, as a row."""
    found = accepted(facts, rep_id, plan_id, version)
    rep = facts.reps.get(rep_id)
    return AcceptanceRow(
        rep_id=rep_id,
        name=rep.name if rep is not None else "",
        plan_id=plan_id,
        version=version,
        accepted=found is not None,
        accepted_at=found.accepted_at if found else None,
        how=found.how if found else None,
        reference=found.reference if found else None,
        recorded_by=found.recorded_by if found else None,
        event_id=found.event_id if found else None,
    )


def acceptance_rows(
    facts: Facts, plan_id: str, version: int, viewer: Viewer, day: date
) -> list[AcceptanceRow]:
    """The covered reps of a version the viewer may see (on the reporting lines of ``day``),
    each accepted or not, by rep id; a rep who accepted and is no longer covered is listed too."""
    reps = set(covered_reps(facts, plan_id, version))
    reps |= set(facts.acceptances.get(plan_id, {}).get(version, {}))
    return [
        row_of(facts, rep_id, plan_id, version)
        for rep_id in sorted(reps)
        if may_see(viewer, rep_id, facts, day, Figure.ACCEPTANCE)
    ]


PLAN_READERS = (Role.PLAN_ADMIN, Role.FINANCE)
"""Who reads every plan version (as ``GET /v1/plans``)."""


def may_read_version(viewer: Viewer, facts: Facts, plan_id: str, version: int) -> bool:
    """Whether a viewer may read a published version's rules: plan admins and finance any,
    a rep or manager a version that covers them (the plan they are asked to accept)."""
    if viewer.role in PLAN_READERS:
        return True
    return viewer.role in (Role.REP, Role.MANAGER) and viewer.subject in covered_reps(
        facts, plan_id, version
    )


def check_accept(viewer: Viewer, rep_id: str, how: str) -> None:
    """Who may accept for whom: a rep (or a manager, who has pay of their own) for themself
    (web, api); finance a paper signature (or an operator's cli record) for any rep; nobody
    else, and never one rep for another.  Raises ``Forbidden`` or ``Invalid`` saying why."""
    if viewer.role in (Role.REP, Role.MANAGER):
        if rep_id != viewer.subject:
            raise Forbidden(
                "you may accept only your own plan (finance records a paper signature)",
                field="rep_id",
            )
        if how not in SELF_SERVICE:
            raise Invalid(f"you accept on the web or through the API, not {how!r}", field="how")
        return
    if viewer.role is Role.FINANCE:
        if how not in RECORDED:
            raise Invalid(
                "finance records a rep's paper signature: how must be 'paper' (a rep accepts "
                "for themself on the web or through the API)",
                field="how",
            )
        return
    raise Forbidden(
        f"the {viewer.role.value} role may not accept a plan for a rep (the rep accepts, or "
        "finance records a paper signature)"
    )


def pending(facts: Facts, rep_id: str, paid_by: Iterable[tuple[str, int]]) -> list[AcceptanceRow]:
    """The rep's acceptance of each plan version that pays them (``paid_by``: plan id and
    version), accepted or not, in the order given."""
    return [row_of(facts, rep_id, plan_id, version) for plan_id, version in paid_by]


def hold_reason(facts: Facts, rep_id: str, plan_id: str, version: int) -> str | None:
    """Why a payout under a plan version is held (None when the rep accepted it)."""
    if accepted(facts, rep_id, plan_id, version) is not None:
        return None
    return f"{rep_id} has not accepted plan {plan_id} v{version}"


def unaccepted(facts: Facts, paid: Iterable[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """The (rep, plan, version) of the payouts given whose rep has not accepted the version,
    sorted and without repeats."""
    return sorted({key for key in paid if accepted(facts, *key) is None})
