"""KPI scores a plan can pay on: one KPI's value for a rep, their team or their territories
over a period, with the deals, leads or activities behind it (pure).

A score is counted by the very accumulators the KPI rows are built from (``_outcomes`` for
win rate and deals, ``_leads_in`` for leads, ``_logged`` for activities, the attainment
report for attainment), grouped as ``kpi NAME --by rep|team|territory`` groups them, so a
bonus always pays on the figure the KPI report shows.  Only the choice of groups is the
score's own:

* ``rep``: the rep's own group (an opportunity's owner, a lead's or activity's rep);
* ``team``: the group of the team the rep is in on their last day employed in the period
  (what that team counts: events of whoever was in it on the event's day);
* ``territory``: the territories the rep owns (alone or in a share) on that same day,
  taken together: counts are summed, ratios are the sum of their parts over the sum of
  their wholes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from incentive_engine.domain.attainment import (
    Attainment,
    AttainmentError,
    attainment,
    one_rep_attainment,
)
from incentive_engine.domain.events import ActivityKind
from incentive_engine.domain.facts import Deal, Facts
from incentive_engine.domain.kpis.activity import _logged
from incentive_engine.domain.kpis.base import ZERO, KpiConflict, percent
from incentive_engine.domain.kpis.frame import _Frame, _frame
from incentive_engine.domain.kpis.lead_sources import _leads_in
from incentive_engine.domain.kpis.win_loss import _outcomes
from incentive_engine.domain.periods import Period
from incentive_engine.domain.vocabulary import PayableKpi

Scope = Literal["rep", "team", "territory"]


RATIOS = frozenset({PayableKpi.WIN_RATE, PayableKpi.LEAD_CONVERSION, PayableKpi.ATTAINMENT})
"""The KPIs in percent (a part over a whole); every other payable KPI is a count."""


@dataclass(frozen=True)
class Tally:
    """One group's figures: the part counted, the whole (ratios), what is behind them."""

    part: Decimal
    whole: Decimal | None
    deal_ids: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    currency: str | None = None
    """The currency of a money part and whole (attainment: the quota's)."""


@dataclass(frozen=True)
class Score:
    """A KPI's value for a scope: the groups taken, the value (None when there is no data:
    a ratio with nothing to divide by), its part and whole, and what is behind it."""

    kpi: PayableKpi
    scope: Scope
    groups: tuple[str, ...]
    value: Decimal | None
    part: Decimal
    whole: Decimal | None
    deal_ids: tuple[str, ...]
    event_ids: tuple[str, ...]
    currency: str | None = None
    """The currency of the part and whole when they are money (attainment)."""


# ------------------------------------------------------------------ tallies


def _deals_tally(deals: list[Deal], part: int, whole: int | None = None) -> Tally:
    events = []
    for d in deals:
        closing = d.won or d.lost
        assert closing is not None
        events.append(closing.event_id)
    return Tally(
        Decimal(part),
        None if whole is None else Decimal(whole),
        tuple(d.deal_id for d in deals),
        tuple(events),
    )


def _outcome_tallies(f: _Frame, kpi: PayableKpi) -> dict[str, Tally]:
    found = {}
    for group, o in _outcomes(f).items():
        got = o.counted.get
        if kpi is PayableKpi.WIN_RATE:
            decided = sorted([*got("won", []), *got("lost", [])], key=lambda d: d.deal_id)
            found[group] = _deals_tally(decided, o.won, o.won + o.lost)
        elif kpi is PayableKpi.DEALS_WON:
            found[group] = _deals_tally(got("sold", []), o.sold)
        else:
            found[group] = _deals_tally(got("new", []), int(o.new[0]))
    return found


def _lead_tallies(f: _Frame, kpi: PayableKpi) -> dict[str, Tally]:
    found = {}
    for group, created in _leads_in(f).items():
        qualified = [lead for lead in created if lead.qualified_date is not None]
        shown = qualified if kpi is PayableKpi.QUALIFIED_LEADS else created
        events = tuple(e for lead in shown for e in lead.event_ids)
        if kpi is PayableKpi.LEADS:
            found[group] = Tally(Decimal(len(created)), None, (), events)
        elif kpi is PayableKpi.QUALIFIED_LEADS:
            found[group] = Tally(Decimal(len(qualified)), None, (), events)
        else:
            found[group] = Tally(Decimal(len(qualified)), Decimal(len(created)), (), events)
    return found


def _activity_tallies(f: _Frame, activity: ActivityKind | None) -> dict[str, Tally]:
    kinds = None if activity is None else (activity,)
    return {
        group: Tally(Decimal(len(items)), None, (), tuple(a.event_id for a in items))
        for group, items in _logged(f, kinds).items()
    }


def _attainment_tally(a: Attainment) -> Tally:
    return Tally(a.credited, a.quota, a.deal_ids, a.event_ids, a.currency)


def _tallies(
    facts: Facts,
    kpi: PayableKpi,
    period: Period,
    scope: Scope,
    activity: ActivityKind | None,
    currency: str | None,
    prorate: bool,
) -> dict[str, Tally]:
    """Every group's tally of a KPI (cached on the facts: a plan's statements for every rep
    count once)."""
    key = ("kpi-score", kpi, str(period), scope, activity, currency, prorate)
    cache = facts._cache
    if key not in cache:
        if kpi is PayableKpi.ATTAINMENT:
            try:
                rows = attainment(facts, period, scope, prorate=prorate)
            except AttainmentError as exc:
                raise KpiConflict(str(exc)) from None
            cache[key] = {a.subject_id: _attainment_tally(a) for a in rows}
        else:
            f = _frame(facts, period, scope, None, currency)
            if kpi is PayableKpi.ACTIVITIES:
                cache[key] = _activity_tallies(f, activity)
            elif kpi in (PayableKpi.LEADS, PayableKpi.QUALIFIED_LEADS, PayableKpi.LEAD_CONVERSION):
                cache[key] = _lead_tallies(f, kpi)
            else:
                cache[key] = _outcome_tallies(f, kpi)
    return cache[key]  # type: ignore[no-any-return]


# ------------------------------------------------------------------- scopes


def scope_groups(facts: Facts, period: Period, scope: Scope, rep_id: str) -> tuple[str, ...]:
    """The groups a rep's scope takes in a period: the rep; their team on their last day
    employed in it; the territories they own that day (sorted).  Empty when there is none."""
    if scope == "rep":
        return (rep_id,)
    rep = facts.reps.get(rep_id)
    day = rep.last_day_in(period) if rep is not None else None
    if rep is None or day is None:
        return ()
    if scope == "team":
        team = rep.team_on(day)
        return (team,) if team else ()
    owned = []
    for tid in sorted(facts.territories):
        ownership = facts.territories[tid].ownership_on(day)
        if ownership is not None and any(s.rep_id == rep_id for s in ownership.owners):
            owned.append(tid)
    return tuple(owned)


def _combined(tallies: Iterable[Tally]) -> Tally:
    """Several groups' tallies as one: parts and wholes summed (where some groups have a
    whole and others none, as territories with and without a quota, only the former)."""
    items = list(tallies)
    wholes = [t.whole for t in items if t.whole is not None]
    currencies = sorted({t.currency for t in items if t.currency is not None})
    if len(currencies) > 1:
        raise KpiConflict(f"the groups' figures are in {', '.join(currencies)}: no one total")
    return Tally(
        sum((t.part for t in items if t.whole is not None or not wholes), ZERO),
        sum(wholes, ZERO) if wholes else None,
        tuple(dict.fromkeys(d for t in items for d in t.deal_ids)),
        tuple(dict.fromkeys(e for t in items for e in t.event_ids)),
        currencies[0] if currencies else None,
    )


def score(
    facts: Facts,
    kpi: PayableKpi | str,
    period: Period,
    scope: Scope,
    rep_id: str,
    *,
    activity: ActivityKind | None = None,
    currency: str | None = None,
    prorate: bool = True,
) -> Score:
    """A KPI's value for a rep, their team or their territories over a period, with the deal
    and event ids behind it.  ``activity`` narrows ``activities`` to one kind; ``currency``
    is the one money is converted into where the outcome KPIs need it; ``prorate`` prorates
    rep quotas for attainment.  A KpiError when the KPI cannot be computed (a missing FX
    rate)."""
    kpi = PayableKpi(kpi)
    groups = scope_groups(facts, period, scope, rep_id)
    if kpi is PayableKpi.ATTAINMENT and scope == "rep":
        total = _rep_attainment(facts, period, rep_id, prorate)
    else:
        found = _tallies(facts, kpi, period, scope, activity, currency, prorate) if groups else {}
        whole = ZERO if kpi in RATIOS and kpi is not PayableKpi.ATTAINMENT else None
        total = _combined(found.get(g, Tally(ZERO, whole)) for g in groups)
    value: Decimal | None
    if kpi in RATIOS:
        value = percent(total.part, total.whole) if total.whole else None
    else:
        value = total.part
    t = total
    return Score(kpi, scope, groups, value, t.part, t.whole, t.deal_ids, t.event_ids, t.currency)


def _rep_attainment(facts: Facts, period: Period, rep_id: str, prorate: bool) -> Tally:
    """One rep's attainment tally, as the attainment report has it (no data for a rep the
    engine does not know)."""
    if rep_id not in facts.reps:
        return Tally(ZERO, None)
    try:
        return _attainment_tally(one_rep_attainment(facts, period, rep_id, prorate=prorate))
    except AttainmentError as exc:
        raise KpiConflict(str(exc)) from None
