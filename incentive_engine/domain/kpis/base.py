"""Names, errors, arithmetic and target parsing shared by every KPI."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from incentive_engine.domain.errors import Conflict, EngineError, Invalid
from incentive_engine.domain.events import ActivityKind, LeadSource, Stage
from incentive_engine.domain.periods import PeriodKind

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
