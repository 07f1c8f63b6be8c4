"""Deal size and cycle KPIs: average deal size, days open, sales-cycle length, velocity."""

from __future__ import annotations

from datetime import date

from incentive_engine.domain.facts import Facts
from incentive_engine.domain.kpis.base import By, Row, Targets, _mean
from incentive_engine.domain.kpis.frame import _frame
from incentive_engine.domain.kpis.funnel import _open_pipeline
from incentive_engine.domain.kpis.win_loss import _per_outcome, _velocity
from incentive_engine.domain.periods import Period


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
