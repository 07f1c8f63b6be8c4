"""Sales KPIs as the sales literature asks a CRM to measure them (pure: facts in, rows out).

Five groups: **leads** (by source, against monthly targets), **pipeline** (the PEAK funnel as
of a day, stage conversion, forecast by expected close month), **outcomes** (win rate, loss
reasons, deal size, days open, sales cycle, sales velocity, new versus existing customers),
**activity** (new customers approached, calls per working day, connected versus unanswered
calls) and **control** (pace to quota and who is behind it while the period is open).

Every KPI is one function taking the same arguments, ``(facts, period, by, *, as_of,
targets, currency)``, and returning rows: dicts whose keys are the same for every row of
that KPI, ordered by group (``(none)`` last) and then by the KPI's own dimension.  Each
function's docstring is the KPI's definition; ``DEFINITIONS`` holds them by name, and
``docs/kpis.md`` prints them.

Conventions shared by every KPI:

* **Groups** (``by``): ``rep``, ``team`` (the rep's team on the day of the event counted),
  ``territory`` or ``company``.  An opportunity belongs to its owner (the rep who opened
  it; a deal won without an opportunity belongs to its named rep, else the rep with the
  largest split, else the territory owner with the largest share) and to the territory
  ``Facts.territory_for`` places it in.  Leads and activities carry no territory, so one
  is derived from the customer's deals: a lead falls in the territory of the opportunity
  opened from it (``lead_id``); an activity in the territory of the deal it names, else of
  the customer's latest opportunity opened on or before the activity's day, else of the
  customer's first opportunity.  Whatever cannot be placed is grouped as ``(none)``.
* **as_of** is the day one stands on: events effective after it are left out (a deal won
  later is still open), the pipeline is read on the earlier of it and the period's end,
  and pace to quota measures the share of the period elapsed by it.  Without it the whole
  period counts, as everything known.
* **Periods** are months, quarters or years.
* **Numbers** are exact: counts are ints, money and ratios are ``Decimal`` (ratios in
  percent, ``50`` meaning 50 %), computed in the default 28-significant-digit context and
  never rounded here; the CLI rounds them only for display.  A ratio whose denominator is
  zero is ``None``.
* **Money** is reported in one currency: the only one the deals use, or the ``currency``
  asked for, each amount converted at the FX rate of its day (close date for won deals,
  the pipeline day for open ones); deals in several currencies without ``currency`` are an
  error.  Pace to quota is in each quota's own currency.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from incentive_engine.domain.attainment import Attainment, AttainmentError, attainment, convert
from incentive_engine.domain.errors import Conflict, EngineError, Invalid
from incentive_engine.domain.events import ActivityKind, LeadSource, Role, Stage
from incentive_engine.domain.facts import Activity, Deal, Facts, Lead
from incentive_engine.domain.money import UnknownCurrencyError, check_currency
from incentive_engine.domain.periods import Period, PeriodKind

By = Literal["rep", "team", "territory", "company"]
BY_CHOICES: tuple[str, ...] = ("rep", "team", "territory", "company")
"""The ways KPI rows can be grouped."""
COMPANY = "company"
NONE = "(none)"
"""The group of what cannot be placed (a lead without a rep, a deal in no territory...)."""
HUNDRED = Decimal(100)
ZERO = Decimal(0)
FUNNEL: tuple[Stage, ...] = (Stage.PROSPECT, Stage.ENGAGE, Stage.ACQUIRE, Stage.KEEP)
"""The PEAK funnel, in order."""
_RANK = {Stage.PROSPECT: 0, Stage.ENGAGE: 1, Stage.ACQUIRE: 2, Stage.KEEP: 3, Stage.WON: 3}
_CALLS = (ActivityKind.CALL_CONNECTED, ActivityKind.CALL_UNANSWERED)
_MONTHS = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}

Row = dict[str, Any]
Targets = Mapping[str, Decimal | int | str]


class KpiError(EngineError, ValueError):
    """A KPI that cannot be computed as asked (unknown name, bad grouping or target...)."""


class KpiInvalid(KpiError, Invalid):
    """A KPI asked for wrongly: an unknown name, grouping, period kind or target."""


class KpiConflict(KpiError, Conflict):
    """A KPI the data cannot answer as asked (a missing FX rate, quotas in several
    currencies)."""


def parse_targets(items: list[str] | None) -> dict[str, str] | None:
    """Targets written ``NAME=NUMBER`` (``web=40``, ``calls=30``) as a mapping, or None when
    none are given; a malformed item is a KpiError naming it."""
    if not items:
        return None
    found = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise KpiInvalid(f"{item!r}: write NAME=NUMBER, e.g. web=40 or calls=30")
        found[name.strip()] = value.strip()
    return found


# ------------------------------------------------------------------ arithmetic


def _tidy(value: Decimal) -> Decimal:
    """Zero as plain ``0`` (not ``0E+26``, which division can leave)."""
    return ZERO if value == 0 else value


def percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """``part`` as a percentage of ``whole`` (None when ``whole`` is zero)."""
    if not whole:
        return None
    return _tidy(Decimal(part) * HUNDRED / Decimal(whole))


def _mean(total: Decimal | int, count: int) -> Decimal | None:
    return _tidy(Decimal(total) / count) if count else None


def change(new: Any, old: Any) -> tuple[Decimal | None, Decimal | None]:
    """The change from ``old`` to ``new`` and that change in percent of ``old`` (None where
    a value is missing, or ``old`` is zero for the percentage)."""
    if not isinstance(new, int | Decimal) or not isinstance(old, int | Decimal):
        return None, None
    diff = Decimal(new) - Decimal(old)
    return diff, percent(diff, old)


def working_days(start: date, end: date) -> list[date]:
    """Monday-to-Friday days from ``start`` to ``end`` inclusive (holidays are not known)."""
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _group_key(group: str) -> tuple[bool, str]:
    return group == NONE, group


# ------------------------------------------------------------- the day's facts


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
        kept = [a for a in items if a.occurred_at.date() <= day]
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


# ------------------------------------------------------------------- the frame


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


def _number(value: Decimal | int | str, what: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise KpiInvalid(f"{what}: {value!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise KpiInvalid(f"{what}: {value!r} must be a number of at least 0")
    return number


def _source_targets(targets: Targets | None) -> dict[LeadSource, Decimal]:
    known = {s.value: s for s in LeadSource}
    found = {}
    for name, value in (targets or {}).items():
        if name not in known:
            raise KpiInvalid(f"target {name!r}: lead sources are {', '.join(known)}")
        found[known[name]] = _number(value, f"target {name}")
    return found


def _calls_target(targets: Targets | None) -> Decimal | None:
    found = dict(targets or {})
    unknown = sorted(set(found) - {"calls"})
    if unknown:
        raise KpiInvalid(f"target {unknown[0]!r}: calls_per_day takes one target, calls=N")
    return _number(found["calls"], "target calls") if "calls" in found else None


# ----------------------------------------------------------------- deal helpers


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


# ------------------------------------------------------------------------ leads


def leads(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Leads created in the period, counted by source (web, social, sales_team, referral,
    other), with how many of them have been qualified. Targets are monthly, per source and
    per group (each rep, team, territory or the company): the period's target is the
    monthly one times the months in the period (3 for a quarter, 12 for a year), and
    pct_of_target = leads / target x 100. A lead belongs to its rep (and their team on the
    lead's day) and to the territory of the opportunity opened from it."""
    f = _frame(facts, period, by, as_of, currency)
    wanted = _source_targets(targets)
    months = _MONTHS[period.kind]
    counts: dict[str, dict[LeadSource, list[int]]] = {}
    for lead_id in sorted(f.facts.leads):
        lead = f.facts.leads[lead_id]
        if lead.created_date is None or lead.source is None or lead.created_date not in period:
            continue
        cell = counts.setdefault(f.lead_group(lead), {}).setdefault(lead.source, [0, 0])
        cell[0] += 1
        cell[1] += lead.qualified_date is not None
    rows = []
    for group in f.groups(counts):
        for source in LeadSource:
            created, qualified = counts.get(group, {}).get(source, [0, 0])
            target = wanted[source] * months if source in wanted else None
            rows.append(
                {
                    "group": group,
                    "source": source.value,
                    "leads": created,
                    "qualified": qualified,
                    "target": target,
                    "pct_of_target": percent(created, target) if target is not None else None,
                }
            )
    return rows


# --------------------------------------------------------------------- pipeline


def _open_pipeline(f: _Frame) -> dict[str, dict[Stage, tuple[int, Decimal]]]:
    day = f.day
    found: dict[str, dict[Stage, tuple[int, Decimal]]] = {}
    for deal in _deals(f):
        stage = open_on(deal, day)
        if stage is None:
            continue
        cells = found.setdefault(f.deal_group(deal, day), {})
        n, value = cells.get(stage, (0, ZERO))
        cells[stage] = (n + 1, value + _opportunity_value(f, deal, day))
    return found


def pipeline(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Open opportunities and their value by stage of the PEAK funnel (prospect, engage,
    acquire, keep) on the period's last day (or as_of if earlier): the stage each
    opportunity was in that day, from its latest stage change up to it. Opportunities won
    or lost by that day are out of the open pipeline. Value is the opportunity's amount
    when opened, in the reporting currency."""
    f = _frame(facts, period, by, as_of, currency)
    found = _open_pipeline(f)
    return [
        {
            "group": group,
            "stage": stage.value,
            "opportunities": found.get(group, {}).get(stage, (0, ZERO))[0],
            "value": found.get(group, {}).get(stage, (0, ZERO))[1],
            "currency": f.currency,
        }
        for group in f.groups(found)
        for stage in FUNNEL
    ]


def conversion(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Stage conversion rates of the opportunities opened in the period: of those that
    reached stage k, the share that reached the next stage (prospect to engage, engage to
    acquire, acquire to keep), as far as they have got by now (or as_of). Reaching a stage
    means reaching it or any later one (an opportunity opened at engage passed prospect);
    a won deal counts as reaching past acquire, so the last step is acquire to keep or won.
    Grouped by the opportunity's owner and their team on the day it was opened."""
    f = _frame(facts, period, by, as_of, currency)
    reached: dict[str, list[int]] = {}
    for deal in _deals(f):
        c = deal.created
        if c is None or c.created_date not in period:
            continue
        ranks = [_RANK[s[2]] for s in deal.stages if s[2] in _RANK]
        if deal.won is not None:
            ranks.append(_RANK[Stage.WON])
        top = max(ranks, default=0)
        cells = reached.setdefault(f.deal_group(deal, c.created_date), [0] * len(FUNNEL))
        for k in range(top + 1):
            cells[k] += 1
    rows = []
    for group in f.groups(reached):
        cells = reached.get(group, [0] * len(FUNNEL))
        for k in range(len(FUNNEL) - 1):
            rows.append(
                {
                    "group": group,
                    "from_stage": FUNNEL[k].value,
                    "to_stage": FUNNEL[k + 1].value,
                    "reached_from": cells[k],
                    "reached_to": cells[k + 1],
                    "conversion_pct": percent(cells[k + 1], cells[k]),
                }
            )
    return rows


def forecast(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Open opportunity value by expected close month: the opportunities open on the
    period's last day (or as_of if earlier), summed by the month of their expected close
    date ((none) when it is not given). A month before the pipeline day's month is marked
    overdue: those deals have slipped."""
    f = _frame(facts, period, by, as_of, currency)
    day = f.day
    this_month = f"{day.year:04d}-{day.month:02d}"
    found: dict[str, dict[str, tuple[int, Decimal]]] = {}
    for deal in _deals(f):
        if open_on(deal, day) is None:
            continue
        expected = deal.created.expected_close_date  # type: ignore[union-attr]
        month = f"{expected.year:04d}-{expected.month:02d}" if expected else NONE
        cells = found.setdefault(f.deal_group(deal, day), {})
        n, value = cells.get(month, (0, ZERO))
        cells[month] = (n + 1, value + _opportunity_value(f, deal, day))
    rows = []
    for group in f.groups(found):
        cells = found.get(group, {})
        for month in sorted(cells, key=_group_key):
            rows.append(
                {
                    "group": group,
                    "close_month": month,
                    "opportunities": cells[month][0],
                    "value": cells[month][1],
                    "currency": f.currency,
                    "overdue": month != NONE and month < this_month,
                }
            )
    return rows


# --------------------------------------------------------------------- outcomes


@dataclass
class _Outcome:
    """What one group closed in a period."""

    won: int = 0
    lost: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    sold: int = 0
    """Won and not cancelled."""
    revenue: Decimal = ZERO
    closed_timed: int = 0
    days_open: int = 0
    won_timed: int = 0
    cycle_days: int = 0
    new: list[Decimal] = field(default_factory=lambda: [ZERO, ZERO])
    """[deals, value] with new customers."""
    existing: list[Decimal] = field(default_factory=lambda: [ZERO, ZERO])

    @property
    def win_rate(self) -> Decimal | None:
        """Won as a percentage of won + lost."""
        return percent(self.won, self.won + self.lost)

    @property
    def deal_size(self) -> Decimal | None:
        """Average value of the won, non-cancelled deals."""
        return _mean(self.revenue, self.sold)

    @property
    def cycle(self) -> Decimal | None:
        """Average days from opened to won."""
        return _mean(self.cycle_days, self.won_timed)


def _outcomes(f: _Frame) -> dict[str, _Outcome]:
    found: dict[str, _Outcome] = {}
    for deal in _deals(f):
        closed = _closed_in(deal, f.period)
        if closed is None:
            continue
        kind, day = closed
        o = found.setdefault(f.deal_group(deal, day), _Outcome())
        days = (day - deal.created.created_date).days if deal.created else None
        if days is not None:
            o.closed_timed += 1
            o.days_open += days
        if kind == "lost":
            o.lost += 1
            reason = deal.lost.reason  # type: ignore[union-attr]
            o.reasons[reason] = o.reasons.get(reason, 0) + 1
            continue
        o.won += 1
        if days is not None:
            o.won_timed += 1
            o.cycle_days += days
        if deal.cancellation is not None:
            continue
        value = _won_value(f, deal)
        o.sold += 1
        o.revenue += value
        cell = o.new if deal.won.customer.is_new else o.existing  # type: ignore[union-attr]
        cell[0] += 1
        cell[1] += value
    return found


def _per_outcome(f: _Frame, row: Callable[[str, _Outcome], Row], *more: Iterable[str]) -> list[Row]:
    """One row per group of the closed opportunities' outcomes (and of ``more`` groups):
    every group seen, the company always."""
    found = _outcomes(f)
    return [row(group, found.get(group, _Outcome())) for group in f.groups(found, *more)]


def win_rate(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Win rate = won / (won + lost) x 100, over the opportunities closed in the period:
    won (close date in the period) or lost (lost date in the period). A won deal cancelled
    later still counts as won; a deal both lost and won counts as won. Grouped by the
    owner and their team on the closing day."""
    f = _frame(facts, period, by, as_of, currency)
    return _per_outcome(
        f,
        lambda group, o: {"group": group, "won": o.won, "lost": o.lost, "win_rate_pct": o.win_rate},
    )


def loss_reasons(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Loss reasons of the opportunities lost in the period: how many were lost for each
    reason and their share of the group's losses, most frequent first (ties by reason)."""
    f = _frame(facts, period, by, as_of, currency)
    found = _outcomes(f)
    rows = []
    for group in f.groups(found):
        o = found.get(group, _Outcome())
        for reason, n in sorted(o.reasons.items(), key=lambda r: (-r[1], r[0])):
            rows.append(
                {"group": group, "reason": reason, "lost": n, "share_pct": percent(n, o.lost)}
            )
    return rows


def deal_size(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Average deal size = total value / number of the deals won in the period and not
    cancelled, each at its amount after amendments, in the reporting currency (converted
    at the close date's rate)."""
    f = _frame(facts, period, by, as_of, currency)
    return _per_outcome(
        f,
        lambda group, o: {
            "group": group,
            "deals": o.sold,
            "total": o.revenue,
            "average": o.deal_size,
            "currency": f.currency,
        },
    )


def days_open(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Average days open of the opportunities closed (won or lost) in the period: close or
    lost date minus the date the opportunity was opened, averaged. Deals won without an
    opportunity have no opening date and are left out."""
    f = _frame(facts, period, by, as_of, currency)
    return _per_outcome(
        f,
        lambda group, o: {
            "group": group,
            "closed": o.closed_timed,
            "total_days": o.days_open,
            "average_days": _mean(o.days_open, o.closed_timed),
        },
    )


def sales_cycle(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Sales-cycle length: the average days from opening to winning of the deals won in
    the period (close date minus the opportunity's opening date; deals won without an
    opportunity are left out)."""
    f = _frame(facts, period, by, as_of, currency)
    return _per_outcome(
        f,
        lambda group, o: {
            "group": group,
            "won": o.won_timed,
            "total_days": o.cycle_days,
            "average_days": o.cycle,
        },
    )


def _velocity(open_count: int, o: _Outcome) -> Decimal | None:
    rate, size, cycle = o.win_rate, o.deal_size, o.cycle
    if rate is None or size is None or not cycle:
        return None
    return _tidy(open_count * rate / HUNDRED * size / cycle)


def velocity(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Sales velocity, the value the pipeline turns into revenue per day: open
    opportunities (on the period's last day, or as_of) x win rate (as a fraction) x average
    deal size / sales-cycle length in days, with the win rate, deal size and cycle of the
    period. None when a factor is missing (nothing closed or won, or a cycle of 0 days)."""
    f = _frame(facts, period, by, as_of, currency)
    pipe = {g: sum(n for n, _ in cells.values()) for g, cells in _open_pipeline(f).items()}
    return _per_outcome(
        f,
        lambda group, o: {
            "group": group,
            "open_opportunities": pipe.get(group, 0),
            "win_rate_pct": o.win_rate,
            "average_deal_size": o.deal_size,
            "sales_cycle_days": o.cycle,
            "velocity_per_day": _velocity(pipe.get(group, 0), o),
            "currency": f.currency,
        },
        pipe,
    )


def new_vs_existing(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Deals from new versus existing customers: the deals won in the period and not
    cancelled, split by the customer's is_new flag on the won deal, with their value and
    share of the group's deals."""
    f = _frame(facts, period, by, as_of, currency)
    found = _outcomes(f)
    rows = []
    for group in f.groups(found):
        o = found.get(group, _Outcome())
        for kind, (deals, value) in (("new", o.new), ("existing", o.existing)):
            rows.append(
                {
                    "group": group,
                    "customers": kind,
                    "deals": int(deals),
                    "value": value,
                    "share_of_deals_pct": percent(deals, o.sold),
                    "currency": f.currency,
                }
            )
    return rows


def outcomes(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """All outcome KPIs of the period in one row per group: won, lost, win rate, average
    deal size, average days open, sales-cycle length, open opportunities, sales velocity
    and deals with new and existing customers, each as defined on its own."""
    f = _frame(facts, period, by, as_of, currency)
    pipe = {g: sum(n for n, _ in cells.values()) for g, cells in _open_pipeline(f).items()}
    return _per_outcome(
        f,
        lambda group, o: {
            "group": group,
            "won": o.won,
            "lost": o.lost,
            "win_rate_pct": o.win_rate,
            "average_deal_size": o.deal_size,
            "average_days_open": _mean(o.days_open, o.closed_timed),
            "sales_cycle_days": o.cycle,
            "open_opportunities": pipe.get(group, 0),
            "velocity_per_day": _velocity(pipe.get(group, 0), o),
            "new_customer_deals": int(o.new[0]),
            "existing_customer_deals": int(o.existing[0]),
            "currency": f.currency,
        },
        pipe,
    )


# --------------------------------------------------------------------- activity


def _activities(f: _Frame) -> list[Activity]:
    """Every activity, ordered by time then event id."""
    found = [a for rep_id in sorted(f.facts.activities) for a in f.facts.activities[rep_id]]
    found.sort()
    return found


def customers_approached(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """New customers approached: the customers whose first activity (of any kind) with a
    rep falls in the period, counted once per rep and customer; per_rep_per_month divides
    that by the reps with any activity in the period in the group and by the months in the
    period. Activities naming no customer do not count."""
    f = _frame(facts, period, by, as_of, currency)
    months = _MONTHS[period.kind]
    seen: set[tuple[str, str]] = set()
    approached: dict[str, int] = {}
    reps: dict[str, set[str]] = {}
    for a in _activities(f):
        group = f.activity_group(a) if a.occurred_at.date() in period else None
        if group is not None:
            reps.setdefault(group, set()).add(a.rep_id)
        if a.customer_id is None or (a.rep_id, a.customer_id) in seen:
            continue
        seen.add((a.rep_id, a.customer_id))
        if group is not None:
            approached[group] = approached.get(group, 0) + 1
    rows = []
    for group in f.groups(approached, reps):
        n, people = approached.get(group, 0), len(reps.get(group, ()))
        rows.append(
            {
                "group": group,
                "approached": n,
                "reps": people,
                "months": months,
                "per_rep_per_month": _mean(n, people * months),
            }
        )
    return rows


def _calls(f: _Frame) -> dict[str, list[int]]:
    """Per group: [connected, unanswered] calls in the period (up to as_of)."""
    found: dict[str, list[int]] = {}
    for a in _activities(f):
        if a.kind not in _CALLS or a.occurred_at.date() not in f.period:
            continue
        cell = found.setdefault(f.activity_group(a), [0, 0])
        cell[a.kind is ActivityKind.CALL_UNANSWERED] += 1
    return found


def _rep_days(f: _Frame) -> dict[str, int]:
    """Per group (not territories): the working days of the period, up to as_of, on which
    people in the rep role, or anyone who called in the period, were employed."""
    days = working_days(f.period.start, f.day)
    callers = {
        a.rep_id
        for items in f.facts.activities.values()
        for a in items
        if a.kind in _CALLS and a.occurred_at.date() in f.period
    }
    found: dict[str, int] = {}
    for rep_id in sorted(f.facts.reps):
        rep = f.facts.reps[rep_id]
        spells = rep.spells()
        for day in days:
            if not any(s <= day and (e is None or day <= e) for s, e in spells):
                continue
            if rep_id not in callers and rep.role_on(day) is not Role.REP:
                continue
            group = f.rep_group(rep_id, day, lambda: NONE)
            found[group] = found.get(group, 0) + 1
    return found


def calls_per_day(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Calls per working day against a target: calls (connected and unanswered) in the
    period, up to as_of, divided by the working days (Monday to Friday; holidays are not
    known) of the people in the group: each rep's days employed, a team's members' days
    in the team, the company's reps' days (people in the rep role, and anyone else who
    called). A territory has no staff of its own: its calls are divided by the period's
    working days. pct_of_target = calls_per_day / target x 100, the target being calls per
    rep per working day (target calls=N)."""
    f = _frame(facts, period, by, as_of, currency)
    target = _calls_target(targets)
    calls = _calls(f)
    if f.by == "territory":
        n = len(working_days(period.start, f.day))
        days = {g: n for g in calls}
    else:
        days = _rep_days(f)
    rows = []
    for group in f.groups(calls, days):
        connected, unanswered = calls.get(group, [0, 0])
        per_day = _mean(connected + unanswered, days.get(group, 0))
        rows.append(
            {
                "group": group,
                "calls": connected + unanswered,
                "connected": connected,
                "unanswered": unanswered,
                "working_days": days.get(group, 0),
                "calls_per_day": per_day,
                "target": target,
                "pct_of_target": percent(per_day, target)
                if per_day is not None and target is not None
                else None,
            }
        )
    return rows


def call_outcomes(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Connected versus unanswered calls in the period: how many of each, and connected
    calls as a percentage of all calls."""
    f = _frame(facts, period, by, as_of, currency)
    calls = _calls(f)
    rows = []
    for group in f.groups(calls):
        connected, unanswered = calls.get(group, [0, 0])
        rows.append(
            {
                "group": group,
                "calls": connected + unanswered,
                "connected": connected,
                "unanswered": unanswered,
                "connected_pct": percent(connected, connected + unanswered),
            }
        )
    return rows


# ---------------------------------------------------------------------- control


def elapsed(period: Period, as_of: date | None) -> Decimal:
    """The share of the period elapsed by the end of as_of, in percent (100 without it)."""
    if as_of is None or as_of >= period.end:
        return HUNDRED
    if as_of < period.start:
        return ZERO
    return Decimal((as_of - period.start).days + 1) * HUNDRED / period.days


def _company_attainment(facts: Facts, period: Period) -> Attainment:
    """The company: the credit of the reps with a quota against the sum of their quotas."""
    rows = [a for a in attainment(facts, period, "rep") if a.quota is not None]
    currencies = sorted({a.currency for a in rows if a.currency})
    if len(currencies) > 1:
        raise KpiConflict(
            f"rep quotas for {period} are in {', '.join(currencies)}: no company pace"
        )
    quota = sum((a.quota or ZERO for a in rows), ZERO) if rows else None
    credited = sum((a.credited for a in rows), ZERO)
    note = "reps with a quota" if rows else "no quota"
    currency = currencies[0] if currencies else None
    return Attainment("rep", COMPANY, COMPANY, str(period), currency, quota, credited, note)


def _attainments(f: _Frame, by: str) -> list[Attainment]:
    try:
        if by == "company":
            return [_company_attainment(f.facts, f.period)]
        return attainment(f.facts, f.period, by)  # type: ignore[arg-type]
    except AttainmentError as exc:
        raise KpiConflict(str(exc)) from None


def _pace_row(a: Attainment, share: Decimal) -> Row:
    rate = a.attainment
    pace = _tidy(rate * HUNDRED / share) if rate is not None and share else None
    return {
        "group": a.subject_id,
        "name": a.name,
        "quota": a.quota,
        "credited": a.credited,
        "attainment_pct": rate,
        "elapsed_pct": share,
        "pace_pct": pace,
        "on_pace": None if pace is None else pace >= HUNDRED,
        "currency": a.currency,
    }


def pace(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Pace to quota = attainment % / share of the period elapsed by as_of x 100, so 100 %
    means on pace to make quota by the period's end: 40 % attainment half-way through is
    a pace of 80 %. Attainment is credited revenue (deals won by as_of) over quota, as the
    attainment report computes it per rep, team or territory; the company's is the credit
    of the reps with a quota over the sum of their quotas. Without as_of the whole period
    has elapsed; with no quota, or as_of before the period, pace is None."""
    f = _frame(facts, period, by, as_of, currency)
    share = elapsed(period, as_of)
    return [_pace_row(a, share) for a in _attainments(f, by)]


def behind_pace(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """The reps and territories behind pace (pace to quota below 100 %), most behind
    first, with the revenue still needed to be on pace today (quota x share elapsed -
    credited): the list managers act on while the period is open. by company lists reps
    and territories together; by rep, team or territory lists only those."""
    f = _frame(facts, period, by, as_of, currency)
    share = elapsed(period, as_of)
    subjects = ("rep", "territory") if by == "company" else (by,)
    rows = []
    for subject in subjects:
        for a in _attainments(f, subject):
            row = _pace_row(a, share)
            if row["pace_pct"] is None or row["pace_pct"] >= HUNDRED:
                continue
            assert a.quota is not None
            rows.append(
                {
                    "by": subject,
                    "group": a.subject_id,
                    "name": a.name,
                    "attainment_pct": row["attainment_pct"],
                    "elapsed_pct": share,
                    "pace_pct": row["pace_pct"],
                    "to_be_on_pace": _tidy(a.quota * share / HUNDRED - a.credited),
                    "currency": a.currency,
                }
            )
    rows.sort(key=lambda r: (r["pace_pct"], r["by"], r["group"]))
    return rows


# ------------------------------------------------------------------- catalogue

KpiFunction = Callable[..., list[Row]]


@dataclass(frozen=True)
class Kpi:
    """A KPI: its name, group, function, the columns that identify a row and the numeric
    columns a trend compares (empty: no trend)."""

    name: str
    group: str
    function: KpiFunction
    keys: tuple[str, ...]
    measures: tuple[str, ...]
    targets: Literal["sources", "calls"] | None = None

    @property
    def definition(self) -> str:
        """The KPI's definition: its function's docstring as one paragraph."""
        return " ".join((self.function.__doc__ or "").split())


KPIS: dict[str, Kpi] = {
    k.name: k
    for k in (
        Kpi("leads", "leads", leads, ("group", "source"),
            ("leads", "qualified", "target", "pct_of_target"), "sources"),
        Kpi("pipeline", "pipeline", pipeline, ("group", "stage"), ("opportunities", "value")),
        Kpi("conversion", "pipeline", conversion, ("group", "from_stage", "to_stage"),
            ("reached_from", "reached_to", "conversion_pct")),
        Kpi("forecast", "pipeline", forecast, ("group", "close_month"), ()),
        Kpi("win_rate", "outcomes", win_rate, ("group",), ("won", "lost", "win_rate_pct")),
        Kpi("loss_reasons", "outcomes", loss_reasons, ("group", "reason"),
            ("lost", "share_pct")),
        Kpi("deal_size", "outcomes", deal_size, ("group",), ("deals", "total", "average")),
        Kpi("days_open", "outcomes", days_open, ("group",),
            ("closed", "total_days", "average_days")),
        Kpi("sales_cycle", "outcomes", sales_cycle, ("group",),
            ("won", "total_days", "average_days")),
        Kpi("velocity", "outcomes", velocity, ("group",),
            ("open_opportunities", "win_rate_pct", "average_deal_size", "sales_cycle_days",
             "velocity_per_day")),
        Kpi("new_vs_existing", "outcomes", new_vs_existing, ("group", "customers"),
            ("deals", "value", "share_of_deals_pct")),
        Kpi("outcomes", "outcomes", outcomes, ("group",),
            ("won", "lost", "win_rate_pct", "average_deal_size", "average_days_open",
             "sales_cycle_days", "open_opportunities", "velocity_per_day",
             "new_customer_deals", "existing_customer_deals")),
        Kpi("customers_approached", "activity", customers_approached, ("group",),
            ("approached", "reps", "per_rep_per_month")),
        Kpi("calls_per_day", "activity", calls_per_day, ("group",),
            ("calls", "working_days", "calls_per_day", "pct_of_target"), "calls"),
        Kpi("call_outcomes", "activity", call_outcomes, ("group",),
            ("calls", "connected", "unanswered", "connected_pct")),
        Kpi("pace", "control", pace, ("group",),
            ("quota", "credited", "attainment_pct", "elapsed_pct", "pace_pct")),
        Kpi("behind_pace", "control", behind_pace, ("by", "group"), ()),
    )
}  # fmt: skip
"""Every KPI by name, in the order of the five groups."""

DEFINITIONS: dict[str, str] = {name: k.definition for name, k in KPIS.items()}
"""Each KPI's one-paragraph definition, by name (its function's docstring)."""


def _spec(name: str) -> Kpi:
    spec = KPIS.get(name)
    if spec is None:
        raise KpiInvalid(f"unknown KPI {name!r}; KPIs: {', '.join(KPIS)}")
    return spec


def kpi(
    facts: Facts,
    name: str,
    period: Period,
    by: str = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """The rows of a KPI by name, for a period, grouped by rep, team, territory or company."""
    spec = _spec(name)
    if targets and spec.targets is None:
        raise KpiInvalid(f"KPI {name!r} takes no targets (leads and calls_per_day do)")
    return spec.function(facts, period, by, as_of=as_of, targets=targets, currency=currency)


def _shift(as_of: date | None, period: Period, earlier: Period) -> date | None:
    """The day as far into ``earlier`` as as_of is into ``period`` (clamped to its end)."""
    if as_of is None or as_of >= period.end:
        return None
    return min(earlier.start + (as_of - period.start), earlier.end)


def compare(current: list[Row], previous: list[Row], year_ago: list[Row], spec: Kpi) -> list[Row]:
    """Trend rows: for every row key and measure of a KPI, the value now, in the previous
    period and a year earlier, with the change and the change in percent of each (and the
    rows' currency, if they have one)."""
    index_prev = {tuple(r[k] for k in spec.keys): r for r in previous}
    index_year = {tuple(r[k] for k in spec.keys): r for r in year_ago}
    keys = list(dict.fromkeys(tuple(r[k] for k in spec.keys) for r in current))
    now = {tuple(r[k] for k in spec.keys): r for r in current}
    extra = sorted((set(index_prev) | set(index_year)) - set(now), key=lambda k: tuple(map(str, k)))
    rows = []
    for key in keys + extra:
        here, before, last_year = now.get(key, {}), index_prev.get(key, {}), index_year.get(key, {})
        found = [r["currency"] for r in (here, before, last_year) if "currency" in r]
        money = {"currency": found[0]} if found else {}
        for measure in spec.measures:
            value, prev, year = here.get(measure), before.get(measure), last_year.get(measure)
            diff, diff_pct = change(value, prev)
            yoy, yoy_pct = change(value, year)
            rows.append(
                {
                    **dict(zip(spec.keys, key, strict=True)),
                    "measure": measure,
                    "value": value,
                    "previous": prev,
                    "change": diff,
                    "change_pct": diff_pct,
                    "year_ago": year,
                    "yoy_change": yoy,
                    "yoy_change_pct": yoy_pct,
                    **money,
                }
            )
    return rows


def trend(
    facts: Facts,
    name: str,
    period: Period,
    by: str = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """A KPI period over period and year over year: each measure for the period, the
    previous period and the same period a year earlier, with changes (as_of moves the
    same distance into the earlier periods)."""
    spec = _spec(name)
    if not spec.measures:
        raise KpiInvalid(f"KPI {name!r} has no trend (its rows are not comparable over periods)")
    options: dict[str, Any] = {"targets": targets, "currency": currency}
    before, year = period.previous(), period.previous_year()
    return compare(
        kpi(facts, name, period, by, as_of=as_of, **options),
        kpi(facts, name, before, by, as_of=_shift(as_of, period, before), **options),
        kpi(facts, name, year, by, as_of=_shift(as_of, period, year), **options),
        spec,
    )


def definitions_markdown() -> str:
    """``docs/kpis.md``: the conventions (this module's docstring) and every KPI's
    definition, by group."""
    doc = (__doc__ or "").replace("``", "`")
    intro, _, conventions = doc.partition("Conventions shared by every KPI:")
    lines = [
        "# Sales KPIs",
        "",
        "<!-- Generated from incentive_engine/domain/kpis.py (DEFINITIONS); "
        "a test keeps it equal. -->",
        "",
        intro.split("\n\n", 1)[1].strip(),
        "",
        "```bash",
        "incentive-engine kpi list",
        "incentive-engine kpi leads --period 2026-03 --by team --target web=40 --target social=20",
        "incentive-engine kpi win_rate --period 2026-Q1 --by rep --trend",
        "incentive-engine kpi behind_pace --period 2026-Q1 --on 2026-02-14",
        "```",
        "",
        "Options of every `kpi NAME`: `--by rep|team|territory|company` (default company),",
        "`--period` (default this month), `--as-of T` (what the engine knew at T; also the day",
        "to stand on), `--on DAY` (the day to stand on; default today inside the current",
        "period), `--currency`, `--trend` (previous period and a year earlier, with changes;",
        "a change of a `_pct` measure is in percentage points, its `change_pct` relative) and",
        "`--format table|json|csv`; `leads` and `calls_per_day` also take `--target`.",
        "",
        "## Conventions",
        "",
        conventions.strip(),
    ]
    for group in dict.fromkeys(k.group for k in KPIS.values()):
        lines += ["", f"## {group.capitalize()}"]
        for k in KPIS.values():
            if k.group == group:
                lines += ["", f"### `{k.name}`", "", k.definition]
    return "\n".join(lines) + "\n"
