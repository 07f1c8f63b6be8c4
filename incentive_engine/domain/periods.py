"""Periods: days, ISO weeks, months, quarters and years, named like ``2026-01-05``,
``2026-W02``, ``2026-01``, ``2026-Q1`` and ``2026``."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import cached_property


class PeriodKind(StrEnum):
    """The length of a period."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


_MONTHS_IN = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}
_PATTERN = re.compile(r"^(?P<year>\d{4})(?:-(?:(?P<month>\d{2})|Q(?P<quarter>[1-4])))?$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK = re.compile(r"^(?P<year>\d{4})-W(?P<week>\d{2})$")


@dataclass(frozen=True, order=True)
class Period:
    """A calendar period: its first month and how many months it spans."""

    year: int
    first_month: int
    kind: PeriodKind

    first_day: int = 1
    """Day of the first month on which a day or week period starts."""

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse ``YYYY-MM-DD``, ``YYYY-Www``, ``YYYY-MM``, ``YYYY-Qn`` or ``YYYY``; raise
        ValueError naming the text."""
        text = text.strip() if isinstance(text, str) else text
        if isinstance(text, str) and _DAY.match(text):
            try:
                return cls.containing(date.fromisoformat(text), PeriodKind.DAY)
            except ValueError:
                raise ValueError(f"period {text!r} is not a real day") from None
        week = _WEEK.match(text) if isinstance(text, str) else None
        if week:
            try:
                monday = date.fromisocalendar(int(week["year"]), int(week["week"]), 1)
            except ValueError:
                raise ValueError(f"period {text!r} is not an ISO week") from None
            return cls.containing(monday, PeriodKind.WEEK)
        m = _PATTERN.match(text) if isinstance(text, str) else None
        if m is None:
            raise ValueError(
                f"period {text!r} is not a day (2026-01-05), a week (2026-W02), a month "
                "(2026-01), a quarter (2026-Q1) or a year (2026)"
            )
        year = int(m["year"])
        if m["month"]:
            month = int(m["month"])
            if not 1 <= month <= 12:
                raise ValueError(f"period {text!r} has month {month}, not 1..12")
            return cls(year, month, PeriodKind.MONTH)
        if m["quarter"]:
            return cls(year, 3 * int(m["quarter"]) - 2, PeriodKind.QUARTER)
        return cls(year, 1, PeriodKind.YEAR)

    @classmethod
    def containing(cls, day: date, kind: PeriodKind) -> Period:
        """Return the period of the given kind that contains a day."""
        if kind is PeriodKind.DAY:
            return cls(day.year, day.month, kind, day.day)
        if kind is PeriodKind.WEEK:
            monday = day - timedelta(days=day.weekday())
            return cls(monday.year, monday.month, kind, monday.day)
        span = _MONTHS_IN[kind]
        return cls(day.year, (day.month - 1) // span * span + 1, kind)

    @cached_property
    def start(self) -> date:
        """First day of the period."""
        return date(self.year, self.first_month, self.first_day)

    @cached_property
    def end(self) -> date:
        """Last day of the period (inclusive)."""
        if self.kind is PeriodKind.DAY:
            return self.start
        if self.kind is PeriodKind.WEEK:
            return self.start + timedelta(days=6)
        last_month = self.first_month + _MONTHS_IN[self.kind] - 1
        return date(self.year, last_month, calendar.monthrange(self.year, last_month)[1])

    @cached_property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def next(self) -> Period:
        """The period of the same kind that follows this one."""
        return Period.containing(self.end + timedelta(days=1), self.kind)

    def previous(self) -> Period:
        """The period of the same kind that precedes this one."""
        return Period.containing(self.start - timedelta(days=1), self.kind)

    def previous_year(self) -> Period:
        """The same period one year earlier (the same ISO week number for weeks)."""
        if self.kind is PeriodKind.WEEK:
            iso = self.start.isocalendar()
            week = min(iso.week, date(iso.year - 1, 12, 28).isocalendar().week)
            return Period.containing(date.fromisocalendar(iso.year - 1, week, 1), self.kind)
        try:
            earlier = self.start.replace(year=self.start.year - 1)
        except ValueError:  # Feb 29
            earlier = self.start.replace(year=self.start.year - 1, day=28)
        return Period.containing(earlier, self.kind)

    def __str__(self) -> str:
        if self.kind is PeriodKind.DAY:
            return self.start.isoformat()
        if self.kind is PeriodKind.WEEK:
            iso = self.start.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}-{self.first_month:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}-Q{(self.first_month + 2) // 3}"
        return f"{self.year}"
