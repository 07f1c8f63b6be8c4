"""``docs/kpis.md``: the conventions and every KPI's definition, generated from the code."""

from __future__ import annotations

from incentive_engine.domain.kpis.registry import KPIS


def definitions_markdown() -> str:
    """``docs/kpis.md``: the conventions (the package's docstring) and every KPI's
    definition, by group."""
    from incentive_engine.domain import kpis  # the package, whose docstring is the intro

    doc = (kpis.__doc__ or "").replace("``", "`")
    intro, _, conventions = doc.partition("Conventions shared by every KPI:")
    lines = [
        "# Sales KPIs",
        "",
        "<!-- Generated from incentive_engine/domain/kpis/ (the package docstring and "
        "DEFINITIONS); a test keeps it equal. -->",
        "",
        intro.split("\n\n", 1)[1].strip(),
        "",
        "```bash",
        "incentive-engine kpi list",
        "incentive-engine kpi leads --period 2026-03 --by team --target web=40 --target social=20",
        "incentive-engine kpi win_rate --period 2026-Q1 --by rep --trend",
        "incentive-engine kpi behind_pace --period 2026-Q1 --on 2026-02-14",
        "```",
        "",
        "Options of every `kpi NAME`: `--by rep|team|territory|company` (default company),",
        "`--period` (default this month), `--as-of T` (what the engine knew at T; also the day",
        "to stand on), `--on DAY` (the day to stand on; default today inside the current",
        "period), `--currency`, `--trend` (previous period and a year earlier, with changes;",
        "a change of a `_pct` measure is in percentage points, its `change_pct` relative) and",
        "`--format table|json|csv`; `leads` and `calls_per_day` also take `--target`.",
        "",
        "## Conventions",
        "",
        conventions.strip(),
    ]
    for group in dict.fromkeys(k.group for k in KPIS.values()):
        lines += ["", f"## {group.capitalize()}"]
        for k in KPIS.values():
            if k.group == group:
                lines += ["", f"### `{k.name}`", "", k.definition]
    return "\n".join(lines) + "\n"
