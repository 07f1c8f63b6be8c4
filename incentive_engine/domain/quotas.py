"""Quota planning: allocate next period's quotas from history, and roll quotas up (pure).

No I/O, no clock, no randomness: facts in, rows and events out.

**Allocation** proposes a quota per rep (``uplift``) or per territory (``growth``,
``average``, ``market``) for a new period from the same period of earlier years:

* ``uplift``: each rep active on the new period's first day gets last year's credited
  revenue (same period one year earlier: 2027-Q1 <- 2026-Q1) x (1 + rate %).  Managers and
  directors are left out unless they were credited with sales themselves.
* ``growth``: each territory defined on the new period's first day gets last year's
  territory revenue x (1 + rate %).  Territory revenue is the sum of the won, non-cancelled
  deals closed in the period that fall in the territory (``Facts.territory_for``, with the
  definitions in force on each close date), whoever was credited.
* ``average``: the average territory revenue of the same period in each of the last three
  years, x (1 + rate %).  A year counts (as 0 when it had no sales) only if the territory
  existed at some time during that year's period (a definition in force on its last day);
  years before the territory existed are left out of the average.
* ``market``: last year's territory revenue x (1 + the market growth rate % of the
  territory's region); a territory without a region criterion, or a region without a rate,
  is an ``AllocationError``.

Revenue in another currency is converted at the FX rate of each deal's close date.  Rows
without history get 0 and a note ("set by hand"); they are never published.  With a
``target`` the raw amounts are scaled proportionally and rounded half-up to the currency's
minor units; the rounding remainder goes to the largest allocation (ties: the smallest
subject id), so the allocations sum to exactly the target.  ``cascade`` splits each
territory's allocation between its owners on the new period's first day by their shares
(each owner's part rounded, the remainder to the largest share, ties the smallest rep id,
so that the parts sum to the territory's amount) and sums the parts per rep.

**Roll-up** compares top-down team and territory quotas with the sum of their reps' quotas.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from incentive_engine.domain.attainment import (
    AttainmentError,
    convert,
    deal_in,
    territory_revenues,
)
from incentive_engine.domain.errors import Conflict, EngineError, Invalid
from incentive_engine.domain.events import QuotaChanged, QuotaSet, QuotaSubject, Role, Share
from incentive_engine.domain.facts import Deal, Facts, Rep
from incentive_engine.domain.money import MINOR_UNITS, round_money
from incentive_engine.domain.periods import Period
from incentive_engine.domain.vocabulary import Method as Method

HUNDRED = Decimal(100)
ZERO = Decimal(0)
HISTORY_YEARS = 3
"""Years the ``average`` method looks back."""
_PERCENT = Decimal("0.01")


class QuotaError(EngineError, ValueError):
    """Quotas that cannot be allocated or rolled up (nothing was changed)."""


class RollUpError(QuotaError, Conflict):
    """Quotas that cannot be rolled up (an amount without an FX rate)."""


class AllocationError(QuotaError, Invalid):
    """An allocation that cannot be made: bad input, a missing market rate, no history."""


TERRITORY_METHODS = frozenset({Method.GROWTH, Method.AVERAGE, Method.MARKET})
"""Methods that allocate per territory (and so can cascade to reps)."""


def percent(value: Decimal) -> Decimal:
    """A percentage for reports: two decimals, rounded half-up."""
    return value.quantize(_PERCENT, rounding=ROUND_HALF_UP)


def same_period_years_ago(period: Period, years: int = 1) -> Period:
    """The same month, quarter or year ``years`` earlier (2027-Q1, 1 -> 2026-Q1)."""
    return Period(period.year - years, period.first_month, period.kind)


# ------------------------------------------------------------------- history


def _in_currency(facts: Facts, deal: Deal, amount: Decimal, currency: str) -> Decimal:
    try:
        return deal_in(facts, deal, amount, currency)
    except AttainmentError as exc:
        raise AllocationError(f"{exc} (the allocation is in {currency})") from None


def rep_revenue(facts: Facts, period: Period, currency: str) -> dict[str, Decimal]:
    """Every rep's credited revenue in a period (``Facts.credited_revenue`` for all reps in
    one pass: cancelled deals excluded), converted into ``currency``."""
    return {
        rep_id: sum((_in_currency(facts, d, c.amount, currency) for d, c in pairs), ZERO)
        for rep_id, pairs in facts.standing_credits(period).items()
    }


def territory_revenue(facts: Facts, period: Period, currency: str) -> dict[str, Decimal]:
    """Every territory's revenue in a period (``attainment.territory_revenues``), in
    ``currency``."""
    try:
        return territory_revenues(facts, period, currency)
    except AttainmentError as exc:
        raise AllocationError(f"{exc} (the allocation is in {currency})") from None


# ---------------------------------------------------------------- allocation


@dataclass(frozen=True)
class AllocationRow:
    """One proposed quota: who, the history behind it, the raw and the allocated amount."""

    subject: QuotaSubject
    subject_id: str
    name: str
    last_year: Decimal
    """Revenue in the same period one year earlier."""
    basis: Decimal
    """What the rate applies to: last year's revenue, or the three-year average."""
    raw: Decimal
    """basis x (1 + rate %), unrounded and before scaling to a target."""
    allocated: Decimal
    """The quota proposed: rounded (and scaled to the target, if any)."""
    share: Decimal
    """Percent of the allocation's total (two decimals)."""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The row as a JSON-ready dict (amounts as exact decimal text)."""
        return {
            "subject": self.subject.value,
            "subject_id": self.subject_id,
            "name": self.name,
            "last_year": str(self.last_year),
            "basis": str(self.basis),
            "raw": str(self.raw),
            "allocated": str(self.allocated),
            "share": str(self.share),
            "note": self.note,
        }


@dataclass(frozen=True)
class Allocation:
    """Proposed quotas for a period, with totals and the change they imply over last year."""

    period: Period
    base: Period
    """The same period one year earlier."""
    method: Method
    currency: str
    rate: Decimal
    market: tuple[tuple[str, Decimal], ...]
    target: Decimal | None
    rows: tuple[AllocationRow, ...]
    """Rep rows (uplift) or territory rows (the other methods), sorted by id."""
    cascaded: tuple[AllocationRow, ...] = ()
    """Rep rows cascaded from the territory rows (with ``cascade``), sorted by id."""
    history: tuple[Period, ...] = field(default=())
    """The periods the method looked at, oldest first."""

    @property
    def total(self) -> Decimal:
        """Sum of the allocated amounts."""
        return sum((r.allocated for r in self.rows), ZERO)

    @property
    def raw_total(self) -> Decimal:
        """Sum of the raw amounts (before rounding and scaling)."""
        return sum((r.raw for r in self.rows), ZERO)

    @property
    def last_year_total(self) -> Decimal:
        """Sum of the rows' revenue one year earlier."""
        return sum((r.last_year for r in self.rows), ZERO)

    @property
    def implied_change(self) -> Decimal | None:
        """The total over last year's total, as a change in percent (None without history)."""
        last = self.last_year_total
        if not last:
            return None
        return percent((self.total - last) * HUNDRED / last)

    def as_dict(self) -> dict[str, Any]:
        """The allocation as a JSON-ready dict (amounts as exact decimal text)."""
        change = self.implied_change
        return {
            "period": str(self.period),
            "base": str(self.base),
            "history": [str(p) for p in self.history],
            "method": self.method.value,
            "currency": self.currency,
            "rate": str(self.rate),
            "market": {region: str(r) for region, r in self.market},
            "target": None if self.target is None else str(self.target),
            "total": str(self.total),
            "raw_total": str(self.raw_total),
            "last_year_total": str(self.last_year_total),
            "implied_change": None if change is None else str(change),
            "rows": [r.as_dict() for r in self.rows],
            "cascaded": [r.as_dict() for r in self.cascaded],
        }


@dataclass(frozen=True)
class _Draft:
    subject_id: str
    name: str
    last_year: Decimal
    basis: Decimal
    raw: Decimal
    note: str


def _decimal(value: Decimal | int | str, what: str) -> Decimal:
    if isinstance(value, float):
        raise AllocationError(f"{what} must be an exact decimal, not a float ({value!r})")
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise AllocationError(f"{what} {value!r} is not a number") from None
    if not number.is_finite():
        raise AllocationError(f"{what} {value!r} is not a finite number")
    return number


def _growth_rate(value: Decimal | int | str, what: str) -> Decimal:
    rate = _decimal(value, what)
    if rate < -HUNDRED:
        raise AllocationError(f"{what} {rate} % is below -100 % (a quota cannot be negative)")
    return rate


def allocate(
    facts: Facts,
    period: Period,
    *,
    method: Method | str,
    currency: str,
    rate: Decimal | int = ZERO,
    market: Mapping[str, Decimal] | None = None,
    target: Decimal | int | None = None,
    cascade: bool = False,
) -> Allocation:
    """Propose quotas for a period by one of the methods (see the module docstring)."""
    try:
        method = Method(method)
    except ValueError:
        known = ", ".join(m.value for m in Method)
        raise AllocationError(f"unknown method {method!r}; methods: {known}") from None
    currency = currency.upper()
    if currency not in MINOR_UNITS:
        raise AllocationError(f"unknown currency {currency!r}; known: {', '.join(MINOR_UNITS)}")
    the_rate = _growth_rate(rate, "rate")
    if method is Method.MARKET and the_rate:
        raise AllocationError("the market method takes a growth rate per region, not a rate")
    if market is not None and method is not Method.MARKET:
        raise AllocationError(f"market growth rates only apply to the market method, not {method}")
    rates = {
        unicodedata.normalize("NFC", region.strip()): _growth_rate(r, f"market rate of {region}")
        for region, r in (market or {}).items()
    }
    if method is Method.MARKET and not rates:
        raise AllocationError("the market method needs a growth rate per region")
    if cascade and method not in TERRITORY_METHODS:
        raise AllocationError("cascade needs a territory method (growth, average or market)")
    the_target = None
    if target is not None:
        the_target = _decimal(target, "target")
        if the_target < 0:
            raise AllocationError(f"target {the_target} is negative")
        if round_money(the_target, currency) != the_target:
            raise AllocationError(
                f"target {the_target} has more decimals than {currency} allows "
                f"({MINOR_UNITS[currency]})"
            )
    base = same_period_years_ago(period)
    if method is Method.UPLIFT:
        drafts, history = _uplift(facts, period, base, currency, the_rate), (base,)
        subject = QuotaSubject.REP
    else:
        drafts, history = _per_territory(facts, period, method, currency, the_rate, rates)
        subject = QuotaSubject.TERRITORY
    amounts, remainder = _distribute(drafts, currency, the_target)
    rows = _rows(subject, drafts, amounts, remainder)
    cascaded: tuple[AllocationRow, ...] = ()
    if cascade:
        rows, cascaded = _cascade(facts, period, rows, currency)
    return Allocation(
        period=period,
        base=base,
        method=method,
        currency=currency,
        rate=the_rate,
        market=tuple(sorted(rates.items())),
        target=the_target,
        rows=rows,
        cascaded=cascaded,
        history=history,
    )


def _uplift(
    facts: Facts, period: Period, base: Period, currency: str, rate: Decimal
) -> list[_Draft]:
    first = period.start
    revenue = rep_revenue(facts, base, currency)
    drafts = []
    for rep_id in sorted(facts.reps):
        rep = facts.reps[rep_id]
        if not rep.active_on(first):
            continue
        last = revenue.get(rep_id, ZERO)
        if rep.role_on(first) not in (Role.REP, None) and not last:
            continue  # a manager or director without sales of their own
        days = rep.days_in(base)
        if not days:
            note = f"not employed in {base}: set by hand"
        elif not last:
            note = f"no sales in {base}: set by hand"
        elif days < base.days:
            note = f"employed {days} of {base.days} days in {base}"
        else:
            note = ""
        raw = last * (HUNDRED + rate) / HUNDRED
        drafts.append(_Draft(rep_id, rep.name, last, last, raw, note))
    return drafts


def _per_territory(
    facts: Facts,
    period: Period,
    method: Method,
    currency: str,
    rate: Decimal,
    rates: Mapping[str, Decimal],
) -> tuple[list[_Draft], tuple[Period, ...]]:
    first = period.start
    years = HISTORY_YEARS if method is Method.AVERAGE else 1
    history = tuple(same_period_years_ago(period, n) for n in range(years, 0, -1))
    base = history[-1]
    revenue = {p: territory_revenue(facts, p, currency) for p in history}
    drafts, problems = [], []
    for tid in sorted(facts.territories):
        territory = facts.territories[tid]
        definition = territory.definition_on(first)
        if definition is None:
            continue
        growth = rate
        if method is Method.MARKET:
            region = definition.criteria.region
            if region is None:
                problems.append(f"territory {tid} has no region criterion")
                continue
            if region not in rates:
                problems.append(f"no market growth rate for region {region!r} (territory {tid})")
                continue
            growth = rates[region]
        last = revenue[base].get(tid, ZERO)
        existed = [p for p in history if territory.definition_on(p.end) is not None]
        total = sum((revenue[p].get(tid, ZERO) for p in existed), ZERO)
        if existed:
            basis = total / len(existed)
            raw = total * (HUNDRED + growth) / (HUNDRED * len(existed))
        else:
            basis = raw = ZERO
        names = ", ".join(str(p) for p in history)
        if not existed:
            note = f"did not exist in {names}: set by hand"
        elif not total:
            note = f"no sales in {', '.join(str(p) for p in existed)}: set by hand"
        elif len(existed) < len(history):
            missing = ", ".join(str(p) for p in history if p not in existed)
            years_text = "1 year" if len(existed) == 1 else f"{len(existed)} years"
            note = f"average of {years_text} (did not exist in {missing})"
        else:
            note = ""
        drafts.append(_Draft(tid, definition.name, last, basis, raw, note))
    if problems:
        raise AllocationError(
            "market method: " + "; ".join(problems) + " (give each region's rate as REGION=PCT)"
        )
    return drafts, history


def _largest(amounts: list[Decimal], ids: list[str]) -> int:
    """Index of the largest amount (ties: the smallest id)."""
    return min(range(len(amounts)), key=lambda i: (-amounts[i], ids[i]))


def _distribute(
    drafts: list[_Draft], currency: str, target: Decimal | None
) -> tuple[list[Decimal], tuple[int, Decimal] | None]:
    """Rounded amounts (the raw ones, or scaled to sum to exactly the target), and where the
    rounding remainder went (row index, amount), if anywhere."""
    if target is None:
        return [round_money(d.raw, currency) for d in drafts], None
    total = sum((d.raw for d in drafts), ZERO)
    if not total:
        raise AllocationError(
            "cannot scale to the target: no row has history (every raw amount is 0)"
        )
    amounts = [round_money(d.raw * target / total, currency) for d in drafts]
    remainder = target - sum(amounts, ZERO)
    if not remainder:
        return amounts, None
    i = _largest(amounts, [d.subject_id for d in drafts])
    amounts[i] += remainder
    return amounts, (i, remainder)


def _share(amount: Decimal, total: Decimal) -> Decimal:
    return percent(amount * HUNDRED / total) if total else ZERO


def _rows(
    subject: QuotaSubject,
    drafts: list[_Draft],
    amounts: list[Decimal],
    remainder: tuple[int, Decimal] | None,
) -> tuple[AllocationRow, ...]:
    total = sum(amounts, ZERO)
    rows = []
    for i, (draft, amount) in enumerate(zip(drafts, amounts, strict=True)):
        note = draft.note
        if remainder is not None and remainder[0] == i:
            extra = f"takes the rounding remainder ({remainder[1]:+})"
            note = f"{note}; {extra}" if note else extra
        rows.append(
            AllocationRow(
                subject,
                draft.subject_id,
                draft.name,
                draft.last_year,
                draft.basis,
                draft.raw,
                amount,
                _share(amount, total),
                note,
            )
        )
    return tuple(rows)


def split(amount: Decimal, owners: Iterable[Share], currency: str) -> list[tuple[str, Decimal]]:
    """An amount split by owner shares (percent), each part rounded half-up; the rounding
    remainder goes to the largest share (ties: the smallest rep id), so the parts sum to
    exactly the amount.  Sorted by rep id."""
    ordered = sorted(owners, key=lambda s: s.rep_id)
    parts = [round_money(amount * s.share / HUNDRED, currency) for s in ordered]
    remainder = amount - sum(parts, ZERO)
    if remainder and parts:
        ids = [s.rep_id for s in ordered]
        parts[_largest([s.share for s in ordered], ids)] += remainder
    return [(s.rep_id, p) for s, p in zip(ordered, parts, strict=True)]


def _cascade(
    facts: Facts, period: Period, rows: tuple[AllocationRow, ...], currency: str
) -> tuple[tuple[AllocationRow, ...], tuple[AllocationRow, ...]]:
    """Territory rows (noting those without an owner) and the rep rows cascaded from them."""
    first = period.start
    parts: dict[str, list[tuple[str, Decimal, AllocationRow, Decimal]]] = {}
    noted = []
    for row in rows:
        ownership = facts.territories[row.subject_id].ownership_on(first)
        if ownership is None:
            note = f"no owner on {first}: not cascaded"
            noted.append(_with_note(row, note))
            continue
        noted.append(row)
        shares = {s.rep_id: s.share for s in ownership.owners}
        for rep_id, part in split(row.allocated, ownership.owners, currency):
            parts.setdefault(rep_id, []).append((row.subject_id, shares[rep_id], row, part))
    total = sum((p for items in parts.values() for *_, p in items), ZERO)
    cascaded = []
    for rep_id in sorted(parts):
        items = parts[rep_id]
        rep: Rep | None = facts.reps.get(rep_id)
        note = " + ".join(f"{tid} {share} %" for tid, share, _, _ in items)
        if rep is not None and not rep.active_on(first):
            note += f"; not employed on {first}"
        allocated = sum((p for *_, p in items), ZERO)
        cascaded.append(
            AllocationRow(
                QuotaSubject.REP,
                rep_id,
                rep.name if rep is not None else "",
                sum((r.last_year * s / HUNDRED for _, s, r, _ in items), ZERO),
                sum((r.basis * s / HUNDRED for _, s, r, _ in items), ZERO),
                sum((r.raw * s / HUNDRED for _, s, r, _ in items), ZERO),
                allocated,
                _share(allocated, total),
                note,
            )
        )
    return tuple(noted), tuple(cascaded)


def _with_note(row: AllocationRow, note: str) -> AllocationRow:
    return replace(row, note=f"{row.note}; {note}" if row.note else note)


# -------------------------------------------------------------------- events


def _part(text: str) -> str:
    """An event-id-safe form of a subject id (no whitespace, not too long)."""
    if len(text) <= 64 and not any(ch.isspace() for ch in text):
        return text
    return "h" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def amount_hash(amount: Decimal, currency: str) -> str:
    """First 12 hex digits of the sha256 of an amount and its currency."""
    return hashlib.sha256(f"{amount}|{currency}".encode()).hexdigest()[:12]


def quota_event(
    facts: Facts,
    subject: QuotaSubject,
    subject_id: str,
    period: Period,
    amount: Decimal,
    currency: str,
    *,
    reason: str,
) -> QuotaSet | QuotaChanged | None:
    """The event that makes a quota equal to an amount: a QuotaSet when none exists, a
    QuotaChanged when it differs, None when it is already equal.

    Ids are deterministic, so publishing the same quota twice is a no-op:
    ``quota:SUBJECT:ID:PERIOD`` for a set, ``quota-change:SUBJECT:ID:PERIOD:NNNN:HASH`` for
    a change, where NNNN counts the entries already there (so a later change sorts after the
    earlier ones, which facts order by event id on the same day) and HASH is
    ``amount_hash``."""
    name = str(period)
    key = f"{subject.value}:{_part(subject_id)}:{name}"
    current = facts.quota(subject, subject_id, period)
    if current is None:
        return QuotaSet(
            event_id=f"quota:{key}",
            subject=subject,
            subject_id=subject_id,
            period=name,
            amount=amount,
            currency=currency,
        )
    if current.amount == amount and current.currency == currency:
        return None
    if not reason.strip():
        raise AllocationError("changing a quota needs a reason")
    sequence = len(facts.quotas[(subject, subject_id, name)])
    event_id = f"quota-change:{key}:{sequence:04d}:{amount_hash(amount, currency)}"
    effective = max(period.start, current.effective)
    if (effective, 1, event_id) <= (current.effective, current.rank, current.event_id):
        raise AllocationError(
            f"the quota of {subject.value} {subject_id} for {name} was last changed by event "
            f"{current.event_id} on {current.effective}, which would still win: change it by hand"
        )
    return QuotaChanged(
        event_id=event_id,
        subject=subject,
        subject_id=subject_id,
        period=name,
        amount=amount,
        currency=currency,
        effective_date=effective,
        reason=reason,
    )


def to_events(
    allocation: Allocation, facts: Facts, *, reason: str
) -> list[QuotaSet | QuotaChanged]:
    """The events that publish an allocation: a QuotaSet per new quota, a QuotaChanged (with
    the reason) per changed one, nothing for equal ones; rows allocated 0 (no history: set
    by hand) are never published."""
    events: list[QuotaSet | QuotaChanged] = []
    for row in (*allocation.rows, *allocation.cascaded):
        if not row.allocated:
            continue
        event = quota_event(
            facts,
            row.subject,
            row.subject_id,
            allocation.period,
            row.allocated,
            allocation.currency,
            reason=reason,
        )
        if event is not None:
            events.append(event)
    return events


def action(facts: Facts, allocation: Allocation, row: AllocationRow) -> str:
    """What publishing would do for a row: ``set``, ``change``, ``unchanged`` or ``by hand``."""
    if not row.allocated:
        return "by hand"
    current = facts.quota(row.subject, row.subject_id, allocation.period)
    if current is None:
        return "set"
    if current.amount == row.allocated and current.currency == allocation.currency:
        return "unchanged"
    return "change"


# ------------------------------------------------------------------- roll-up


class Status(StrEnum):
    """How the reps' quotas compare with a top-down quota."""

    OVER = "over"
    UNDER = "under"
    BALANCED = "balanced"
    NO_TARGET = "no target"


@dataclass(frozen=True)
class RollupRow:
    """A team's or territory's top-down quota against the sum of its reps' quotas."""

    subject: QuotaSubject
    subject_id: str
    name: str
    period: str
    currency: str
    target: Decimal | None
    """The top-down quota (None when there is none)."""
    reps_sum: Decimal
    """The reps' quotas, weighted (days in the team, or ownership share) and rounded once."""
    reps: tuple[tuple[str, Decimal], ...]
    """Each rep's weighted quota, rounded for display, by rep id."""
    note: str = ""

    @property
    def difference(self) -> Decimal | None:
        """Reps' sum minus the target (None without a target)."""
        return None if self.target is None else self.reps_sum - self.target

    @property
    def status(self) -> Status:
        """Over, under or balanced against the target, or no target."""
        if self.target is None:
            return Status.NO_TARGET
        if self.reps_sum > self.target:
            return Status.OVER
        if self.reps_sum < self.target:
            return Status.UNDER
        return Status.BALANCED

    def as_dict(self) -> dict[str, Any]:
        """The row as a JSON-ready dict (amounts as exact decimal text)."""
        difference = self.difference
        return {
            "subject": self.subject.value,
            "subject_id": self.subject_id,
            "name": self.name,
            "period": self.period,
            "currency": self.currency,
            "target": None if self.target is None else str(self.target),
            "reps_sum": str(self.reps_sum),
            "difference": None if difference is None else str(difference),
            "status": self.status.value,
            "reps": [{"rep_id": r, "quota": str(a)} for r, a in self.reps],
            "note": self.note,
        }


def _convert(facts: Facts, amount: Decimal, currency: str, into: str, day: date) -> Decimal:
    try:
        return convert(facts, amount, currency, into, day, "a quota")
    except AttainmentError as exc:
        raise RollUpError(f"{exc} (for the roll-up)") from None


def rollup(facts: Facts, period: Period) -> list[RollupRow]:
    """Every team and territory with a top-down quota for the period, or with reps that have
    quotas: the top-down quota against the sum of its reps' quotas.

    A team counts each rep's quota weighted by the days the rep was employed in the team in
    the period over the period's days (a rep transferred mid-period counts in both teams pro
    rata).  A territory counts its owners' quotas (on the period's first day) weighted by
    their ownership shares.  Teams first, then territories, each sorted by id.  Quotas in
    another currency than the row's (the top-down one's, else the first rep's) are converted
    at the FX rate of the period's first day."""
    name = str(period)
    latest: dict[QuotaSubject, dict[str, Any]] = {s: {} for s in QuotaSubject}
    for (subject, subject_id, period_name), entries in facts.quotas.items():
        if period_name == name and entries:
            latest[subject][subject_id] = entries[-1]
    rep_quotas = latest[QuotaSubject.REP]
    members: dict[str, list[tuple[str, int]]] = {}
    for rep_id in sorted(rep_quotas):
        rep = facts.reps.get(rep_id)
        if rep is None:
            continue
        for team, days in sorted(rep.team_days(period).items()):
            members.setdefault(team, []).append((rep_id, days))
    rows = []
    for team in sorted(set(latest[QuotaSubject.TEAM]) | set(members)):
        weighted = [
            (rep_id, rep_quotas[rep_id], Decimal(days) / period.days)
            for rep_id, days in members.get(team, [])
        ]
        note = "" if weighted else "no rep quotas"
        rows.append(
            _rollup_row(facts, period, QuotaSubject.TEAM, team, team, latest, weighted, note)
        )
    first = period.start
    owned = {}
    for tid in sorted(facts.territories):
        ownership = facts.territories[tid].ownership_on(first)
        owners = ownership.owners if ownership is not None else ()
        if tid in latest[QuotaSubject.TERRITORY] or any(o.rep_id in rep_quotas for o in owners):
            owned[tid] = owners
    for tid, owners in owned.items():
        territory = facts.territories[tid]
        definition = territory.definition_on(first) or territory.current
        weighted = [
            (o.rep_id, rep_quotas[o.rep_id], o.share / HUNDRED)
            for o in owners
            if o.rep_id in rep_quotas
        ]
        without = [o.rep_id for o in owners if o.rep_id not in rep_quotas]
        if not owners:
            note = f"no owner on {first}"
        elif without:
            note = "owners without a quota: " + ", ".join(without)
        else:
            note = ""
        label = definition.name if definition is not None else tid
        rows.append(
            _rollup_row(facts, period, QuotaSubject.TERRITORY, tid, label, latest, weighted, note)
        )
    return rows


def _rollup_row(
    facts: Facts,
    period: Period,
    subject: QuotaSubject,
    subject_id: str,
    label: str,
    latest: dict[QuotaSubject, dict[str, Any]],
    weighted: list[tuple[str, Any, Decimal]],
    note: str,
) -> RollupRow:
    top = latest[subject].get(subject_id)
    if top is not None:
        currency = top.currency
    elif weighted:
        currency = weighted[0][1].currency
    else:  # pragma: no cover - a row exists only with a target or reps
        currency = "VND"
    total = ZERO
    reps = []
    for rep_id, entry, weight in weighted:
        amount = _convert(facts, entry.amount, entry.currency, currency, period.start) * weight
        total += amount
        reps.append((rep_id, round_money(amount, currency)))
    return RollupRow(
        subject,
        subject_id,
        label,
        str(period),
        currency,
        top.amount if top is not None else None,
        round_money(total, currency),
        tuple(reps),
        note,
    )


def subject_name(facts: Facts, subject: QuotaSubject, subject_id: str) -> str:
    """The display name of a quota's subject: the rep's name, the territory's, or the team."""
    if subject is QuotaSubject.REP:
        rep = facts.reps.get(subject_id)
        return rep.name if rep is not None else ""
    if subject is QuotaSubject.TERRITORY:
        territory = facts.territories.get(subject_id)
        current = territory.current if territory is not None else None
        return current.name if current is not None else ""
    return subject_id


def default_reason(allocation: Allocation, by: str | None) -> str:
    """The reason recorded on quotas an allocation changes, when none is given."""
    text = f"quota allocation: {allocation.method} over {allocation.base}"
    if allocation.method is Method.MARKET:
        text += " (" + ", ".join(f"{r} {p} %" for r, p in allocation.market) + ")"
    else:
        text += f" {allocation.rate:+} %"
    if allocation.target is not None:
        text += f", target {allocation.target}"
    return text + (f", by {by}" if by else "")
