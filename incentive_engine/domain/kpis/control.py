"""Control KPIs: pace to quota while the period is open, and who is behind it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from incentive_engine.domain.attainment import Attainment, AttainmentError, attainment
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.kpis.base import (
    COMPANY,
    HUNDRED,
    ZERO,
    By,
    KpiConflict,
    Row,
    Targets,
    _tidy,
)
from incentive_engine.domain.kpis.frame import _Frame, _frame
from incentive_engine.domain.periods import Period


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
