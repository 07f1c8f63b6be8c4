"""Which plan version applies to a rep in a period: the book of published versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from incentive_engine.domain.facts import Facts, Rep
from incentive_engine.domain.periods import Period
from plans.documents import PlanError, PlanVersion
from plans.model import Plan


@dataclass(frozen=True)
class PlanBook:
    """Every published plan version, and which one applies to a rep in a period."""

    versions: tuple[PlanVersion, ...]
    _periods: list[tuple[Facts, int, list[Period]]] = field(
        default_factory=list, compare=False, hash=False, repr=False
    )
    """The last answer of ``periods``: the facts and their event count it was computed at."""

    @classmethod
    def from_facts(cls, facts: Facts) -> PlanBook:
        """The versions published in the log."""
        found = []
        for plan_id in sorted(facts.plan_versions):
            for _, e in sorted(facts.plan_versions[plan_id].items()):
                try:
                    found.append(PlanVersion.from_event(e))
                except PlanError:  # pragma: no cover - events validate their document
                    continue  # never in force: the store quarantines such an event
        return cls(tuple(found))

    def in_force(self, plan_id: str, day: date) -> PlanVersion | None:
        """The newest version of a plan whose effective dates include a day."""
        best = None
        for v in self.versions:
            newer = best is None or v.plan.version > best.plan.version
            if v.plan.plan_id == plan_id and v.plan.in_force_on(day) and newer:
                best = v
        return best

    def plan_ids(self) -> list[str]:
        """The plan ids, sorted."""
        return sorted({v.plan.plan_id for v in self.versions})

    def periods(self, facts: Facts) -> list[Period]:
        """Every period of every plan's kind, from its start to the latest effective date the
        facts know: close, quota, plan, invoice or payment (the periods statements and boards
        are kept for).  The answer is kept until the facts fold another event (every API
        request for earnings asked it again: a walk of every deal)."""
        memo = self._periods[:1]
        if memo and memo[0][0] is facts and memo[0][1] == facts.event_count:
            return list(memo[0][2])
        found = self._compute_periods(facts)
        self._periods[:] = [(facts, facts.event_count, found)]
        return list(found)

    def _compute_periods(self, facts: Facts) -> list[Period]:
        last = max(
            [d.won.close_date for d in facts.deals.values() if d.won is not None]
            + [Period.parse(p).end for (_, _, p) in facts.quotas]
            + [v.plan.effective_from for v in self.versions]
            + [i.issued_date for i in facts.invoices.values()]
            + [p.received_date for p in facts.payments.values()],
            default=date.min,
        )
        found: set[Period] = set()
        for v in self.versions:
            end = min(last, v.plan.effective_to or last)
            current = Period.containing(v.plan.effective_from, v.plan.period)
            while current.start <= end:
                found.add(current)
                current = current.next()
        return sorted(found, key=lambda p: (p.start, p.end))

    def gamified_for(self, facts: Facts, rep_id: str, period: Period) -> list[PlanVersion]:
        """The versions with points or badge rules in force at the period's end that cover
        the rep (in that plan's period containing the day)."""
        found = []
        for plan_id in self.plan_ids():
            version = self.in_force(plan_id, period.end)
            if version is None or (version.plan.points is None and not version.plan.badges):
                continue
            plan_period = Period.containing(period.end, version.plan.period)
            if version in self.for_rep(facts, rep_id, plan_period):
                found.append(version)
        return found

    def for_rep(self, facts: Facts, rep_id: str, period: Period) -> list[PlanVersion]:
        """The versions (one per plan) in force on the period's last day that cover the rep
        as placed on their last day employed in the period."""
        rep = facts.reps.get(rep_id)
        if rep is None or rep.days_in(period) == 0:
            return []
        day = rep.last_day_in(period)
        assert day is not None
        found = []
        for plan_id in self.plan_ids():
            v = self.in_force(plan_id, period.end)
            if v is not None and v.plan.period == period.kind and covers(v.plan, rep, day):
                found.append(v)
        return found


def covers(plan: Plan, rep: Rep, day: date) -> bool:
    """Whether a plan covers a rep (by id, team or role) on a day."""
    c = plan.covers
    if rep.rep_id in c.reps:
        return True
    team, role = rep.team_on(day), rep.role_on(day)
    return (team is not None and team in c.teams) or (role is not None and role.value in c.roles)
