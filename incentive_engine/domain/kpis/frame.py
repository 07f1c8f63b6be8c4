"""The frame every KPI is computed in: the facts cut at a day, grouping, currency, and
the deal helpers (owner, stage on a day, closed in a period, value)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from incentive_engine.domain.attainment import AttainmentError, convert
from incentive_engine.domain.events import Stage
from incentive_engine.domain.facts import Activity, Deal, Facts, Lead
from incentive_engine.domain.kpis.base import (
    _MONTHS,
    BY_CHOICES,
    COMPANY,
    FUNNEL,
    NONE,
    By,
    KpiConflict,
    KpiInvalid,
    _group_key,
)
from incentive_engine.domain.money import UnknownCurrencyError, check_currency
from incentive_engine.domain.periods import Period


def facts_on(facts: Facts, day: date) -> Facts:
    """The facts as they stood at the end of a day: opportunities, stages, outcomes, leads
    and activities effective after it are left out (org, territories and quotas are kept)."""
    deals: dict[str, Deal] = {}
    for deal_id, deal in facts.deals.items():
        cut = _deal_on(deal, day)
        if cut is not None:
            deals[deal_id] = cut
    leads: dict[str, Lead] = {}
    for lead_id, lead in facts.leads.items():
        if lead.created_date is None or lead.created_date > day:
            continue
        if lead.qualified_date is not None and lead.qualified_date > day:
            lead = replace(lead, qualified_date=None)
        leads[lead_id] = lead
    activities = {}
    for rep_id, items in facts.activities.items():
        kept = items.until(day)
        if kept:
            activities[rep_id] = kept
    # A fresh cache: answers derived from the uncut facts must not leak into the view.
    return replace(facts, deals=deals, leads=leads, activities=activities, _cache={})


def _deal_on(deal: Deal, day: date) -> Deal | None:
    created = deal.created if deal.created and deal.created.created_date <= day else None
    won = deal.won if deal.won and deal.won.close_date <= day else None
    lost = deal.lost if deal.lost and deal.lost.lost_date <= day else None
    if created is None and won is None and lost is None:
        return None
    cancelled = deal.cancellation
    if cancelled is not None and cancelled.cancelled_date > day:
        cancelled = None
    return replace(
        deal,
        created=created,
        stages=[s for s in deal.stages if s[0] <= day],
        won=won,
        lost=lost,
        amendments=[a for a in deal.amendments if a.effective <= day],
        cancellation=cancelled,
    )


@dataclass
class _Frame:
    """What every KPI needs: the facts (cut at as_of), the period, grouping, the pipeline
    day, the reporting currency, and caches for placing deals, leads and activities."""

    facts: Facts
    period: Period
    by: By
    as_of: date | None
    currency: str | None
    _territory: dict[str, str] = field(default_factory=dict)
    _customers: dict[str, list[tuple[date, str]]] | None = None
    _lead_deals: dict[str, str] | None = None

    @property
    def day(self) -> date:
        """The pipeline day: the period's end, or as_of if earlier."""
        end = self.period.end
        return min(self.as_of, end) if self.as_of is not None else end

    # ---------------------------------------------------------------- groups

    def _team(self, rep_id: str | None, day: date) -> str:
        rep = self.facts.reps.get(rep_id) if rep_id else None
        return (rep.team_on(day) if rep else None) or NONE

    def rep_group(self, rep_id: str | None, day: date, territory: Callable[[], str]) -> str:
        """The group of something done by a rep on a day (territory computed on demand)."""
        if self.by == "company":
            return COMPANY
        if self.by == "rep":
            return rep_id or NONE
        if self.by == "team":
            return self._team(rep_id, day)
        return territory()

    def deal_group(self, deal: Deal, day: date) -> str:
        """The group of an opportunity on a day: its owner, their team, its territory."""
        return self.rep_group(owner(self.facts, deal), day, lambda: self.territory_of(deal))

    def lead_group(self, lead: Lead) -> str:
        """The group of a lead: its rep, their team on its day, the territory of its deal."""
        assert lead.created_date is not None
        return self.rep_group(lead.rep_id, lead.created_date, lambda: self._lead_territory(lead))

    def activity_group(self, a: Activity) -> str:
        """The group of an activity: its rep, their team that day, its customer's territory."""
        day = a.occurred_at.date()
        return self.rep_group(a.rep_id, day, lambda: self._activity_territory(a, day))

    def territory_of(self, deal: Deal) -> str:
        """The territory a deal falls in (cached), or (none)."""
        found = self._territory.get(deal.deal_id)
        if found is None:
            placed = self.facts.territory_for(deal)
            found = self._territory[deal.deal_id] = placed[0].territory_id if placed else NONE
        return found

    def _lead_territory(self, lead: Lead) -> str:
        if self._lead_deals is None:
            firsts: dict[str, tuple[date, str]] = {}
            for deal in self.facts.deals.values():
                c = deal.created
                if c is not None and c.lead_id is not None:
                    key = (c.created_date, deal.deal_id)
                    if c.lead_id not in firsts or key < firsts[c.lead_id]:
                        firsts[c.lead_id] = key
            self._lead_deals = {lead_id: key[1] for lead_id, key in firsts.items()}
        deal_id = self._lead_deals.get(lead.lead_id)
        return self.territory_of(self.facts.deals[deal_id]) if deal_id else NONE

    def _activity_territory(self, a: Activity, day: date) -> str:
        if a.deal_id is not None and a.deal_id in self.facts.deals:
            return self.territory_of(self.facts.deals[a.deal_id])
        if a.customer_id is None:
            return NONE
        if self._customers is None:
            index: dict[str, list[tuple[date, str]]] = {}
            for deal in self.facts.deals.values():
                source = deal.created or deal.won
                if source is None:
                    continue
                opened = deal.created.created_date if deal.created else deal.won.close_date  # type: ignore[union-attr]
                index.setdefault(source.customer.customer_id, []).append((opened, deal.deal_id))
            for items in index.values():
                items.sort()
            self._customers = index
        deals = self._customers.get(a.customer_id)
        if not deals:
            return NONE
        i = bisect.bisect_right(deals, (day, "\uffff"))
        return self.territory_of(self.facts.deals[deals[i - 1 if i else 0][1]])

    # ----------------------------------------------------------------- money

    def money(self, amount: Decimal, currency: str, day: date, what: str) -> Decimal:
        """An amount in the reporting currency at the FX rate of the day."""
        if self.currency is None or currency == self.currency:
            return amount
        try:
            return convert(self.facts, amount, currency, self.currency, day, what)
        except AttainmentError as exc:
            raise KpiConflict(str(exc)) from None

    def groups(self, *found: Iterable[str]) -> list[str]:
        """The groups seen, in order ((none) last); the company is always there."""
        seen = {g for items in found for g in items}
        if self.by == "company":
            seen.add(COMPANY)
        return sorted(seen, key=_group_key)


def owner(facts: Facts, deal: Deal) -> str | None:
    """The rep an opportunity belongs to: who opened it; for a deal won without an
    opportunity, its named rep, else the largest split, else the largest territory owner
    (ties: the smaller rep id)."""
    if deal.created is not None:
        return deal.created.rep_id
    won = deal.won
    if won is None:
        return None
    if won.rep_id is not None:
        return won.rep_id
    shares = [(s.share, s.rep_id) for s in deal.splits or ()]
    shares = shares or [(c.share, c.rep_id) for c in facts.credits(deal)]
    if not shares:
        return None
    return min(shares, key=lambda s: (-s[0], s[1]))[1]


def reporting_currency(facts: Facts, currency: str | None = None) -> str | None:
    """The currency money KPIs are reported in: the one asked for, else the only one the
    opportunities and deals use (None if there are none); several is an error."""
    if currency is not None:
        try:
            return check_currency(currency.upper())
        except UnknownCurrencyError as exc:
            raise KpiInvalid(str(exc)) from None
    found = set()
    for deal in facts.deals.values():
        for e in (deal.created, deal.won):
            if e is not None:
                found.add(e.currency)
    if len(found) > 1:
        raise KpiInvalid(
            f"deals are in {', '.join(sorted(found))}: choose the currency to report in "
            "(currency=..., --currency)"
        )
    return found.pop() if found else None


def _frame(
    facts: Facts, period: Period, by: str, as_of: date | None, currency: str | None
) -> _Frame:
    if by not in BY_CHOICES:
        raise KpiInvalid(f"by {by!r}: choose {', '.join(BY_CHOICES)}")
    if period.kind not in _MONTHS:
        raise KpiInvalid(f"period {period}: KPIs are by month, quarter or year")
    resolved = reporting_currency(facts, currency)
    cut = facts_on(facts, as_of) if as_of is not None else facts
    return _Frame(cut, period, by, as_of, resolved)  # type: ignore[arg-type]


def stage_on(deal: Deal, day: date) -> Stage | None:
    """The stage an opportunity was in on a day (the latest stage change up to it)."""
    i = bisect.bisect_right(deal.stages, (day, "\uffff"), key=lambda s: (s[0], s[1]))
    return deal.stages[i - 1][2] if i else None


def open_on(deal: Deal, day: date) -> Stage | None:
    """The funnel stage of an opportunity open on a day (created by it, neither won nor
    lost by it), else None."""
    c = deal.created
    if c is None or c.created_date > day:
        return None
    if (deal.won and deal.won.close_date <= day) or (deal.lost and deal.lost.lost_date <= day):
        return None
    stage = stage_on(deal, day)
    return stage if stage in FUNNEL else None


def _closed_in(deal: Deal, period: Period) -> tuple[str, date] | None:
    """("won", close date) or ("lost", lost date) when the deal closed in the period; a
    deal both won and lost counts as won."""
    if deal.won is not None:
        return ("won", deal.won.close_date) if deal.won.close_date in period else None
    if deal.lost is not None and deal.lost.lost_date in period:
        return "lost", deal.lost.lost_date
    return None


def _deals(f: _Frame) -> list[Deal]:
    return [f.facts.deals[k] for k in sorted(f.facts.deals)]


def _opportunity_value(f: _Frame, deal: Deal, day: date) -> Decimal:
    c = deal.created
    assert c is not None
    return f.money(c.amount, c.currency, day, f"opportunity {deal.deal_id}")


def _won_value(f: _Frame, deal: Deal) -> Decimal:
    won = deal.won
    assert won is not None
    return f.money(deal.amount, won.currency, won.close_date, f"deal {deal.deal_id}")
