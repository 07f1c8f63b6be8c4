"""Periods: months, quarters and years named like ``2026-01``, ``2026-Q1`` and ``2026``."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class PeriodKind(StrEnum):
    """The length of a period."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


_MONTHS_IN = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}
_PATTERN = re.compile(r"^(?P<year>\d{4})(?:-(?:(?P<month>\d{2})|Q(?P<quarter>[1-4])))?$")


@dataclass(frozen=True, order=True)
class Period:
    """A calendar period: its first month and how many months it spans."""

    year: int
    first_month: int
    kind: PeriodKind

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse ``YYYY``, ``YYYY-MM`` or ``YYYY-Qn``; raise ValueError naming the text."""
        m = _PATTERN.match(text.strip()) if isinstance(text, str) else None
        if m is None:
            raise ValueError(
                f"period {text!r} is not a month (2026-01), a quarter (2026-Q1) or a year (2026)"
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
        span = _MONTHS_IN[kind]
        return cls(day.year, (day.month - 1) // span * span + 1, kind)

    @property
    def start(self) -> date:
        """First day of the period."""
        return date(self.year, self.first_month, 1)

    @property
    def end(self) -> date:
        """Last day of the period (inclusive)."""
        last_month = self.first_month + _MONTHS_IN[self.kind] - 1
        return date(self.year, last_month, calendar.monthrange(self.year, last_month)[1])

    @property
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

    def __str__(self) -> str:
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}-{self.first_month:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}-Q{(self.first_month + 2) // 3}"
        return f"{self.year}"
