"""A manager's team for a period: the reports the visibility rule lets the viewer see on the
period's figure day (reporting lines over time, so a report who moved teams appears only for
the periods the manager managed them), each with attainment, pace, earnings and status, and
the team's totals. What the manager's "My team" page shows; one broken statement or one
credit that cannot be converted shows on that report's row and hides no one else."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from incentive_engine.domain.attainment import HUNDRED, AttainmentError, one_rep_attainment
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from incentive_engine.domain.visibility import Figure, Viewer, figure_day, may_see
from incentive_engine.services.commissions import EarningsRow, Snapshot, rep_earnings

Status = Literal["open", "sealed", "error", "no plan"]


@dataclass(frozen=True)
class ReportRow:
    """One report of the team in a period: attainment (None when it cannot be computed),
    credited revenue expected by the day at an even pace (current period only), earnings per
    plan, a status, and why a figure cannot be computed."""

    rep_id: str
    name: str
    team: str | None
    direct: bool
    currency: str | None
    quota: Decimal | None
    credited: Decimal | None
    expected: Decimal | None
    earnings: list[EarningsRow]
    status: Status
    errors: list[str] = field(default_factory=list)

    @property
    def attainment(self) -> Decimal | None:
        """Credited as a percentage of quota (None without a quota)."""
        if not self.quota or self.credited is None:
            return None
        return self.credited * HUNDRED / self.quota

    @property
    def pace(self) -> Decimal | None:
        """Credited minus expected by the day (positive: ahead of pace)."""
        if self.expected is None or self.credited is None:
            return None
        return self.credited - self.expected


@dataclass(frozen=True)
class TeamTotals:
    """The team's sums in one currency: quota, credited, attainment (sum credited / sum
    quota), expected by the day, and earned (in the plans' currency)."""

    currency: str | None
    quota: Decimal | None
    credited: Decimal
    expected: Decimal | None
    earned: dict[str, Decimal]

    @property
    def attainment(self) -> Decimal | None:
        """Team attainment: the sum of credited over the sum of quotas, in percent."""
        if not self.quota:
            return None
        return self.credited * HUNDRED / self.quota


@dataclass(frozen=True)
class Team:
    """A manager's team in a period, as the viewer may see it."""

    manager: str
    period: Period
    day: date
    current: bool
    rows: list[ReportRow]
    totals: TeamTotals


def expected_by(quota: Decimal | None, period: Period, day: date) -> Decimal | None:
    """The part of a quota an even pace reaches by the end of the day (None outside the
    period or without a quota)."""
    if quota is None or not period.start <= day <= period.end:
        return None
    elapsed = (day - period.start).days + 1
    return quota * elapsed / period.days


def managers_on(facts: Facts, day: date) -> list[str]:
    """The people who manage someone on the day (the managers finance may pick from)."""
    return sorted({m for r in facts.reps.values() if (m := r.manager_on(day)) is not None})


def reports_in(viewer: Viewer, manager: str, facts: Facts, period: Period) -> list[str]:
    """The manager's reports (direct and indirect) on the period's figure day who were
    employed in the period, those the viewer may see (the visibility rule decides)."""
    day = figure_day(period)
    return sorted(
        rep_id
        for rep_id in facts.reports_of(manager, day)
        if facts.reps[rep_id].days_in(period) > 0
        and may_see(viewer, rep_id, facts, day, Figure.ATTAINMENT)
        and may_see(viewer, rep_id, facts, day, Figure.MONEY)
    )


def team_of(snap: Snapshot, viewer: Viewer, manager: str, period: Period, today: date) -> Team:
    """The manager's team in the period as the viewer may see it; ``today`` (from the door,
    in the organisation's time zone) gives the pace of the current period."""
    facts = snap.facts
    day = figure_day(period)
    current = period.start <= today <= period.end
    credited = facts.standing_credits(period)
    rows: list[ReportRow] = []
    for rep_id in reports_in(viewer, manager, facts, period):
        rep = facts.reps[rep_id]
        errors: list[str] = []
        quota = credit = None
        currency = None
        try:
            found = one_rep_attainment(facts, period, rep_id, credited)
            quota, credit, currency = found.quota, found.credited, found.currency
        except AttainmentError as exc:
            errors.append(str(exc))
        earnings = rep_earnings(snap, rep_id, [period])
        errors.extend(e.error for e in earnings if e.error)
        status: Status
        if any(e.error for e in earnings):
            status = "error"
        elif not earnings:
            status = "no plan"
        else:
            status = "sealed" if all(e.status == "sealed" for e in earnings) else "open"
        rows.append(
            ReportRow(
                rep_id=rep_id,
                name=rep.name,
                team=rep.team_on(rep.last_day_in(period) or day),
                direct=rep.manager_on(day) == manager,
                currency=currency,
                quota=quota,
                credited=credit,
                expected=expected_by(quota, period, today) if current else None,
                earnings=earnings,
                status=status,
                errors=errors,
            )
        )
    return Team(manager, period, day, current, rows, totals_of(rows))


def totals_of(rows: list[ReportRow]) -> TeamTotals:
    """The team's sums: quotas, credit and pace over the reports whose figures are in the
    most common quota currency; earnings per plan currency."""
    currencies = [r.currency for r in rows if r.currency is not None]
    currency = max(sorted(set(currencies)), key=currencies.count) if currencies else None
    same = [r for r in rows if r.currency == currency and r.credited is not None]
    quotas = [r.quota for r in same if r.quota is not None]
    expected = [r.expected for r in same if r.expected is not None]
    earned: dict[str, Decimal] = {}
    for r in rows:
        for e in r.earnings:
            if e.total is not None:
                earned[e.currency] = earned.get(e.currency, Decimal(0)) + e.total
    return TeamTotals(
        currency=currency,
        quota=sum(quotas, Decimal(0)) if quotas else None,
        credited=sum((r.credited for r in same if r.credited is not None), Decimal(0)),
        expected=sum(expected, Decimal(0)) if expected else None,
        earned=dict(sorted(earned.items())),
    )
