"""Attainment: credited revenue against quota per rep, team and territory (pure).

The one definition of a rep's quota (prorated by days employed unless switched off) and of
converting credit into the quota's currency (at the FX rate of the close date, or a clear
error): the commission evaluator uses the same functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from incentive_engine.domain.errors import Conflict
from incentive_engine.domain.events import QuotaSubject
from incentive_engine.domain.facts import Credit, Deal, Facts
from incentive_engine.domain.money import round_money
from incentive_engine.domain.periods import Period

HUNDRED = Decimal(100)


class AttainmentError(Conflict, ValueError):
    """Attainment cannot be computed (a currency without an FX rate, a quota in another
    currency...)."""


def convert(
    facts: Facts, amount: Decimal, currency: str, into: str, day: date, what: str
) -> Decimal:
    """An amount in another currency at the rate of the day, or a clear error naming ``what``."""
    if currency == into:
        return amount
    try:
        return amount * facts.fx_rate(currency, into, day)
    except LookupError as exc:
        raise AttainmentError(f"{what} is in {currency}, needed in {into}: {exc}") from None


def deal_in(facts: Facts, deal: Deal, amount: Decimal, into: str) -> Decimal:
    """A deal amount converted into a currency at the rate of its close date."""
    won = deal.won
    assert won is not None
    return convert(facts, amount, won.currency, into, won.close_date, f"deal {deal.deal_id}")


def rep_quota(
    facts: Facts, rep_id: str, period: Period, *, currency: str | None = None, prorate: bool = True
) -> tuple[Decimal, str, tuple[str, ...]] | None:
    """(amount, currency, event ids) of a rep's quota for the period, prorated by the days
    the rep is employed in it (rounded half-up to the currency's minor units) unless
    ``prorate`` is off; None when no quota is set.  With ``currency``, a quota in another
    currency is an error."""
    entry = facts.quota(QuotaSubject.REP, rep_id, period)
    if entry is None:
        return None
    if currency is not None and entry.currency != currency:
        raise AttainmentError(
            f"quota of {rep_id} for {period} is in {entry.currency}, not {currency}"
        )
    amount = entry.amount
    rep = facts.reps.get(rep_id)
    if prorate and rep is not None:
        days = rep.days_in(period)
        if days < period.days:
            amount = round_money(amount * days / period.days, entry.currency)
    return amount, entry.currency, (entry.event_id,)


Subject = Literal["rep", "team", "territory"]


@dataclass(frozen=True)
class Attainment:
    """Credited revenue, quota and attainment of one rep, team or territory in a period."""

    subject: Subject
    subject_id: str
    name: str
    period: str
    currency: str | None
    quota: Decimal | None
    credited: Decimal
    note: str = ""
    deal_ids: tuple[str, ...] = field(default=(), compare=False)
    """The deals behind the credited revenue, in the order counted."""
    event_ids: tuple[str, ...] = field(default=(), compare=False)
    """The events behind the figures: each deal's credit, then the quota's."""

    @property
    def attainment(self) -> Decimal | None:
        """Credited as a percentage of quota (None without a quota)."""
        if not self.quota:
            return None
        return self.credited * HUNDRED / self.quota


def rep_attainment(facts: Facts, period: Period, *, prorate: bool = True) -> list[Attainment]:
    """Every rep employed in the period: named credit (splits, rep, else territory owner)."""
    credited = facts.standing_credits(period)
    return [
        one_rep_attainment(facts, period, rep_id, credited, prorate=prorate)
        for rep_id in sorted(facts.reps)
        if facts.reps[rep_id].days_in(period) > 0
    ]


def one_rep_attainment(
    facts: Facts,
    period: Period,
    rep_id: str,
    credited: Mapping[str, Sequence[tuple[Deal, Credit]]] | None = None,
    *,
    prorate: bool = True,
) -> Attainment:
    """One rep's row (``credited``: the period's standing credits, when already at hand), so
    that a rep whose credit cannot be converted fails alone."""
    if credited is None:
        credited = facts.standing_credits(period)
    rep = facts.reps[rep_id]
    quota = rep_quota(facts, rep_id, period, prorate=prorate)
    currency = quota[1] if quota else None
    total = Decimal(0)
    deals: list[str] = []
    events: list[str] = []
    for deal, credit in credited.get(rep_id, []):
        won = deal.won
        assert won is not None
        total += deal_in(facts, deal, credit.amount, currency or won.currency)
        deals.append(deal.deal_id)
        events.extend(credit.event_ids)
    return Attainment(
        "rep",
        rep_id,
        rep.name,
        str(period),
        currency,
        quota[0] if quota else None,
        total,
        "" if quota else "no quota",
        tuple(dict.fromkeys(deals)),
        (*dict.fromkeys(events), *(quota[2] if quota else ())),
    )


def team_attainment(facts: Facts, period: Period, *, prorate: bool = True) -> list[Attainment]:
    """Every team: its members' credit (by the team on each deal's close date) against the
    team's top-down quota, or else the sum of its members' quotas weighted by days in team."""
    teams: dict[str, list[str]] = {}
    for rep_id in sorted(facts.reps):
        rep = facts.reps[rep_id]
        for team in sorted({p.team for p in rep.placements}):
            teams.setdefault(team, []).append(rep_id)
    quotas: dict[str, tuple[Decimal | None, str | None, str]] = {}
    quota_events: dict[str, tuple[str, ...]] = {}
    for team in sorted(teams):
        top_down = facts.quota(QuotaSubject.TEAM, team, period)
        if top_down is not None:
            quotas[team] = (top_down.amount, top_down.currency, "team quota")
            quota_events[team] = (top_down.event_id,)
        else:
            quota, currency = _members_quota(facts, team, teams[team], period, prorate)
            quotas[team] = (
                quota,
                currency,
                "sum of members' quotas" if quota is not None else "no quota",
            )
    totals = dict.fromkeys(teams, Decimal(0))
    behind: dict[str, tuple[list[str], list[str]]] = {team: ([], []) for team in teams}
    for deal in facts.won_deals(period):  # one pass over the period's deals for every team
        won = deal.won
        assert won is not None
        if deal.cancellation is not None:
            continue
        for c in facts.credits(deal):
            rep = facts.reps.get(c.rep_id)
            team = rep.team_on(won.close_date) if rep is not None else None
            if team in totals:
                currency = quotas[team][1]
                totals[team] += deal_in(facts, deal, c.amount, currency or won.currency)
                behind[team][0].append(deal.deal_id)
                behind[team][1].extend(c.event_ids)
    rows = []
    for team in sorted(teams):
        quota, currency, note = quotas[team]
        deals, events = behind[team]
        rows.append(
            Attainment(
                "team", team, team, str(period), currency, quota, totals[team], note,
                tuple(dict.fromkeys(deals)),
                (*dict.fromkeys(events), *quota_events.get(team, ())),
            )
        )  # fmt: skip
    return rows


def _members_quota(
    facts: Facts, team: str, members: list[str], period: Period, prorate: bool
) -> tuple[Decimal | None, str | None]:
    """Members' quotas weighted by their days in the team: over the period's days when
    prorating (a rep in the team half the quarter brings half their quota), else over the
    days they were employed (a full quota is shared between the teams they were in)."""
    total, currency = Decimal(0), None
    for rep_id in members:
        quota = rep_quota(facts, rep_id, period, prorate=False)
        rep = facts.reps[rep_id]
        employed = rep.days_in(period)
        if quota is None or employed == 0:
            continue
        amount, currency = quota[0], quota[1]
        in_team = rep.team_days(period).get(team, 0)
        total += amount * in_team / (period.days if prorate else employed)
    if currency is None:
        return None, None
    return round_money(total, currency), currency


def territory_revenues(facts: Facts, period: Period, into: str | None = None) -> dict[str, Decimal]:
    """Every territory's revenue in a period: won, non-cancelled deals closed in it that fall
    in the territory (whoever was credited), in ``into`` (each deal's own currency if None)."""
    return {tid: total for tid, (total, _) in _territory_deals(facts, period, into).items()}


def _territory_deals(
    facts: Facts, period: Period, into: str | None
) -> dict[str, tuple[Decimal, list[Deal]]]:
    """Every territory's revenue in a period and the deals behind it."""
    totals: dict[str, tuple[Decimal, list[Deal]]] = {}
    for deal in facts.won_deals(period):
        placed = facts.territory_for(deal)
        if deal.cancellation is not None or placed is None:
            continue
        won = deal.won
        assert won is not None
        tid = placed[0].territory_id
        amount = deal_in(facts, deal, deal.amount, into or won.currency)
        total, deals = totals.get(tid, (Decimal(0), []))
        deals.append(deal)
        totals[tid] = (total + amount, deals)
    return totals


def territory_attainment(facts: Facts, period: Period) -> list[Attainment]:
    """Every territory defined in the period: the revenue of deals falling in it (whoever was
    credited) against its territory quota."""
    rows = []
    revenues: dict[str | None, dict[str, tuple[Decimal, list[Deal]]]] = {}  # a pass per currency
    for tid in sorted(facts.territories):
        t = facts.territories[tid]
        definition = t.definition_on(period.end)
        if definition is None:
            continue
        entry = facts.quota(QuotaSubject.TERRITORY, tid, period)
        currency = entry.currency if entry else None
        if currency not in revenues:
            revenues[currency] = _territory_deals(facts, period, currency)
        total, deals = revenues[currency].get(tid, (Decimal(0), []))
        events = [e for d in deals for e in d.pay_event_ids]
        rows.append(
            Attainment(
                "territory",
                tid,
                definition.name,
                str(period),
                currency,
                entry.amount if entry else None,
                total,
                "" if entry else "no quota",
                tuple(d.deal_id for d in deals),
                (*dict.fromkeys(events), *((entry.event_id,) if entry else ())),
            )
        )
    return rows


def attainment(
    facts: Facts, period: Period, by: Subject = "rep", *, prorate: bool = True
) -> list[Attainment]:
    """Attainment rows for every rep, team or territory in a period."""
    if by == "rep":
        return rep_attainment(facts, period, prorate=prorate)
    if by == "team":
        return team_attainment(facts, period, prorate=prorate)
    return territory_attainment(facts, period)


# --------------------------------------------------------------------------- pace


@dataclass(frozen=True)
class PaceDay:
    """One day of a period: the revenue credited up to and including it, and the prorated
    quota expected by its end (None for the days after today: not known yet)."""

    day: date
    credited: Decimal | None
    expected: Decimal


@dataclass(frozen=True)
class Pace:
    """Cumulative credited revenue by day over a period against the prorated quota line
    (0 at the period's start, the quota at its end), and where the rep stands today."""

    period: str
    currency: str
    quota: Decimal
    today: date
    """The last day counted: today, or the period's end once it is over."""
    days: tuple[PaceDay, ...]
    credited_by_today: Decimal
    expected_by_today: Decimal

    @property
    def ahead(self) -> Decimal:
        """Credited minus expected by today (negative: behind pace)."""
        return self.credited_by_today - self.expected_by_today


def pace(
    period: Period,
    quota: Decimal,
    currency: str,
    credits: list[tuple[date, Decimal]],
    today: date,
) -> Pace:
    """The pace to quota over a period from (close date, credited amount) pairs: every day's
    cumulative credit (up to today) and the quota prorated by elapsed days, ``quota x days
    elapsed / days in period`` counting the day itself (rounded to the currency). Today comes
    from the caller; before the period starts nothing is expected and nothing credited."""
    by_day: dict[date, Decimal] = {}
    for day, amount in credits:
        if day in period:
            by_day[day] = by_day.get(day, Decimal(0)) + amount
    last = min(today, period.end)
    rows: list[PaceDay] = []
    running = Decimal(0)
    credited_by_today = Decimal(0)
    expected_by_today = Decimal(0)
    for offset in range(period.days):
        day = period.start + timedelta(days=offset)
        running += by_day.get(day, Decimal(0))
        expected = round_money(quota * (offset + 1) / period.days, currency)
        counted = day <= last
        rows.append(PaceDay(day, round_money(running, currency) if counted else None, expected))
        if counted:
            credited_by_today = round_money(running, currency)
            expected_by_today = expected
    return Pace(
        str(period), currency, quota, last, tuple(rows), credited_by_today, expected_by_today
    )
