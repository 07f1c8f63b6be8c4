"""Sales KPIs as the sales literature asks a CRM to measure them (pure: facts in, rows out).

Five groups: **leads** (by source, against monthly targets), **pipeline** (the PEAK funnel as
of a day, stage conversion, forecast by expected close month), **outcomes** (win rate, loss
reasons, deal size, days open, sales cycle, sales velocity, new versus existing customers),
**activity** (new customers approached, calls per working day, connected versus unanswered
calls) and **control** (pace to quota and who is behind it while the period is open).

Every KPI is one function taking the same arguments, ``(facts, period, by, *, as_of,
targets, currency)``, and returning rows: dicts whose keys are the same for every row of
that KPI, ordered by group (``(none)`` last) and then by the KPI's own dimension.  Each
function's docstring is the KPI's definition; ``DEFINITIONS`` holds them by name, and
``docs/kpis.md`` prints them.

Conventions shared by every KPI:

* **Groups** (``by``): ``rep``, ``team`` (the rep's team on the day of the event counted),
  ``territory`` or ``company``.  An opportunity belongs to its owner (the rep who opened
  it; a deal won without an opportunity belongs to its named rep, else the rep with the
  largest split, else the territory owner with the largest share) and to the territory
  ``Facts.territory_for`` places it in.  Leads and activities carry no territory, so one
  is derived from the customer's deals: a lead falls in the territory of the opportunity
  opened from it (``lead_id``); an activity in the territory of the deal it names, else of
  the customer's latest opportunity opened on or before the activity's day, else of the
  customer's first opportunity.  Whatever cannot be placed is grouped as ``(none)``.
* **as_of** is the day one stands on: events effective after it are left out (a deal won
  later is still open), the pipeline is read on the earlier of it and the period's end,
  and pace to quota measures the share of the period elapsed by it.  Without it the whole
  period counts, as everything known.
* **Periods** are months, quarters or years.
* **Numbers** are exact: counts are ints, money and ratios are ``Decimal`` (ratios in
  percent, ``50`` meaning 50 %), computed in the default 28-significant-digit context and
  never rounded here; the CLI rounds them only for display.  A ratio whose denominator is
  zero is ``None``.
* **Money** is reported in one currency: the only one the deals use, or the ``currency``
  asked for, each amount converted at the FX rate of its day (close date for won deals,
  the pipeline day for open ones); deals in several currencies without ``currency`` are an
  error.  Pace to quota is in each quota's own currency.
"""

# The package, by concept: base (names, errors, arithmetic, targets), frame (the facts cut
# at a day, grouping, currency, deal helpers), a module per group of KPIs (lead_sources,
# funnel, win_loss and deal_cycle for the outcomes, activity, control), registry (KPIS by
# name, kpi, trend), scores (one KPI's value for a rep, team or territories, with the ids
# behind it: what a plan's KPI bonus pays on) and docs (docs/kpis.md).
# Import from here: the modules are internal.

from __future__ import annotations

from incentive_engine.domain.kpis.activity import call_outcomes, calls_per_day, customers_approached
from incentive_engine.domain.kpis.base import (
    BY_CHOICES,
    COMPANY,
    FUNNEL,
    HUNDRED,
    NONE,
    ZERO,
    By,
    KpiConflict,
    KpiError,
    KpiInvalid,
    Row,
    Targets,
    change,
    parse_targets,
    percent,
    working_days,
)
from incentive_engine.domain.kpis.control import behind_pace, elapsed, pace
from incentive_engine.domain.kpis.deal_cycle import days_open, deal_size, sales_cycle, velocity
from incentive_engine.domain.kpis.docs import definitions_markdown
from incentive_engine.domain.kpis.frame import (
    facts_on,
    open_on,
    owner,
    reporting_currency,
    stage_on,
)
from incentive_engine.domain.kpis.funnel import conversion, forecast, pipeline
from incentive_engine.domain.kpis.lead_sources import leads
from incentive_engine.domain.kpis.registry import (
    DEFINITIONS,
    KPIS,
    Kpi,
    KpiFunction,
    compare,
    kpi,
    trend,
)
from incentive_engine.domain.kpis.scores import (
    RATIOS,
    PayableKpi,
    Scope,
    Score,
    scope_groups,
    score,
)
from incentive_engine.domain.kpis.win_loss import loss_reasons, new_vs_existing, outcomes, win_rate

__all__ = [
    "BY_CHOICES",
    "COMPANY",
    "DEFINITIONS",
    "FUNNEL",
    "HUNDRED",
    "KPIS",
    "NONE",
    "RATIOS",
    "ZERO",
    "By",
    "Kpi",
    "KpiConflict",
    "KpiError",
    "KpiFunction",
    "KpiInvalid",
    "PayableKpi",
    "Row",
    "Scope",
    "Score",
    "Targets",
    "behind_pace",
    "call_outcomes",
    "calls_per_day",
    "change",
    "compare",
    "conversion",
    "customers_approached",
    "days_open",
    "deal_size",
    "definitions_markdown",
    "elapsed",
    "facts_on",
    "forecast",
    "kpi",
    "leads",
    "loss_reasons",
    "new_vs_existing",
    "open_on",
    "outcomes",
    "owner",
    "pace",
    "parse_targets",
    "percent",
    "pipeline",
    "reporting_currency",
    "sales_cycle",
    "scope_groups",
    "score",
    "stage_on",
    "trend",
    "velocity",
    "win_rate",
    "working_days",
]
