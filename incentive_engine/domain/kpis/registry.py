"""The KPI registry: every KPI by name with its group, keys and measures; a KPI by name,
and its trend over periods."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from incentive_engine.domain.facts import Facts
from incentive_engine.domain.kpis.activity import call_outcomes, calls_per_day, customers_approached
from incentive_engine.domain.kpis.base import KpiInvalid, Row, Targets, change
from incentive_engine.domain.kpis.control import behind_pace, pace
from incentive_engine.domain.kpis.deal_cycle import days_open, deal_size, sales_cycle, velocity
from incentive_engine.domain.kpis.funnel import conversion, forecast, pipeline
from incentive_engine.domain.kpis.lead_sources import leads
from incentive_engine.domain.kpis.win_loss import loss_reasons, new_vs_existing, outcomes, win_rate
from incentive_engine.domain.periods import Period

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
