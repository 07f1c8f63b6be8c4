"""Leads KPIs: leads by source against monthly targets."""

from __future__ import annotations

from datetime import date

from incentive_engine.domain.events import LeadSource
from incentive_engine.domain.facts import Facts, Lead
from incentive_engine.domain.kpis.base import _MONTHS, By, Row, Targets, _source_targets, percent
from incentive_engine.domain.kpis.frame import _Frame, _frame
from incentive_engine.domain.periods import Period


def _leads_in(f: _Frame) -> dict[str, list[Lead]]:
    """Per group: the leads created in the period with a source, by lead id (what the leads
    KPI counts, and whether each was qualified)."""
    found: dict[str, list[Lead]] = {}
    for lead_id in sorted(f.facts.leads):
        lead = f.facts.leads[lead_id]
        if lead.created_date is None or lead.source is None or lead.created_date not in f.period:
            continue
        found.setdefault(f.lead_group(lead), []).append(lead)
    return found


def leads(
    facts: Facts,
    period: Period,
    by: By = "company",
    *,
    as_of: date | None = None,
    targets: Targets | None = None,
    currency: str | None = None,
) -> list[Row]:
    """Leads created in the period, counted by source (web, social, sales_team, referral,
    other), with how many of them have been qualified. Targets are monthly, per source and
    per group (each rep, team, territory or the company): the period's target is the
    monthly one times the months in the period (3 for a quarter, 12 for a year), and
    pct_of_target = leads / target x 100. A lead belongs to its rep (and their team on the
    lead's day) and to the territory of the opportunity opened from it."""
    f = _frame(facts, period, by, as_of, currency)
    wanted = _source_targets(targets)
    months = _MONTHS[period.kind]
    counts: dict[str, dict[LeadSource, list[int]]] = {}
    for group, created in _leads_in(f).items():
        for lead in created:
            cell = counts.setdefault(group, {}).setdefault(lead.source, [0, 0])  # type: ignore[arg-type]
            cell[0] += 1
            cell[1] += lead.qualified_date is not None
    rows = []
    for group in f.groups(counts):
        for source in LeadSource:
            created, qualified = counts.get(group, {}).get(source, [0, 0])
            target = wanted[source] * months if source in wanted else None
            rows.append(
                {
                    "group": group,
                    "source": source.value,
                    "leads": created,
                    "qualified": qualified,
                    "target": target,
                    "pct_of_target": percent(created, target) if target is not None else None,
                }
            )
    return rows
