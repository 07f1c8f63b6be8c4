"""Pipeline KPIs: the PEAK funnel on a day, stage conversion, forecast by close month."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from incentive_engine.domain.events import Stage
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.kpis.base import (
    _RANK,
    FUNNEL,
    NONE,
    ZERO,
    By,
    Row,
    Targets,
    _group_key,
    percent,
)
from incentive_engine.domain.kpis.frame import _deals, _Frame, _frame, _opportunity_value, open_on
from incentive_engine.domain.periods import Period


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
