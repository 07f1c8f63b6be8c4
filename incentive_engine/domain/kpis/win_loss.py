"""Outcome KPIs: what closed in the period, grouped (win rate, loss reasons, new versus
existing customers, and every outcome in one row)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from incentive_engine.domain.facts import Deal, Facts
from incentive_engine.domain.kpis.base import HUNDRED, ZERO, By, Row, Targets, _mean, _tidy, percent
from incentive_engine.domain.kpis.frame import _closed_in, _deals, _Frame, _frame, _won_value
from incentive_engine.domain.kpis.funnel import _open_pipeline
from incentive_engine.domain.periods import Period


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
    counted: dict[str, list[Deal]] = field(default_factory=dict)
    """The deals behind each count: ``won``, ``lost``, ``sold`` and ``new`` (a plan's KPI
    bonus names them on its statement line)."""

    def count(self, what: str, deal: Deal) -> None:
        """Note a deal behind one of the counts."""
        self.counted.setdefault(what, []).append(deal)

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
            o.count("lost", deal)
            reason = deal.lost.reason  # type: ignore[union-attr]
            o.reasons[reason] = o.reasons.get(reason, 0) + 1
            continue
        o.won += 1
        o.count("won", deal)
        if days is not None:
            o.won_timed += 1
            o.cycle_days += days
        if deal.cancellation is not None:
            continue
        value = _won_value(f, deal)
        o.sold += 1
        o.count("sold", deal)
        o.revenue += value
        cell = o.new if deal.won.customer.is_new else o.existing  # type: ignore[union-attr]
        if cell is o.new:
            o.count("new", deal)
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


def _velocity(open_count: int, o: _Outcome) -> Decimal | None:
    rate, size, cycle = o.win_rate, o.deal_size, o.cycle
    if rate is None or size is None or not cycle:
        return None
    return _tidy(open_count * rate / HUNDRED * size / cycle)


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
