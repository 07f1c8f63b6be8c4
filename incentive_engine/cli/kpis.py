"""The KPI commands: ``kpi NAME`` for each sales KPI of ``incentive_engine.domain.kpis`` (one
subcommand per KPI, its help being the KPI's definition) and ``kpi list``.

Register with ``app.add_typer(kpi_app, name="kpi")``; then
``incentive-engine kpi leads --by rep --period 2026-03 --target web=40 --target social=20``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer

from incentive_engine.cli.common import (
    EngineErrors,
    Format,
    emit,
    fail,
    parse_instant,
    snapshot_of,
)
from incentive_engine.domain.money import MINOR_UNITS, round_money
from incentive_engine.domain.periods import Period, PeriodKind

if TYPE_CHECKING:
    from incentive_engine.domain.facts import Facts
    from incentive_engine.domain.kpis import Kpi


MONEY = {
    "value", "total", "average", "average_deal_size", "velocity_per_day", "quota", "credited",
    "to_be_on_pace",
}  # fmt: skip
"""Columns (and trend measures) holding money, shown with separators in tables."""


class _KpiGroup(EngineErrors):
    """One subcommand per KPI, built on first use (the KPI registry loads the fold, which
    ``incentive-engine --help`` need not); accepts ``win-rate`` for ``win_rate`` and names an
    unknown KPI clearly (exit 2)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every KPI, then ``list``."""
        return [*_per_kpi().list_commands(ctx), *super().list_commands(ctx)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command of a KPI name, with dashes read as underscores."""
        name = cmd_name.replace("-", "_")
        return super().get_command(ctx, name) or _per_kpi().get_command(ctx, name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Resolve the subcommand, failing with the list of KPIs for an unknown name."""
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            known = ", ".join(_per_kpi().list_commands(ctx))
            fail(f"unknown KPI {name!r}; KPIs: {known} (see: kpi list)", 2)
        return super().resolve_command(ctx, args)


kpi_app = typer.Typer(
    cls=_KpiGroup,
    help="Sales KPIs per rep, team, territory or company: leads, pipeline, outcomes, "
    "activity and pace to quota. `kpi list` prints every definition; `kpi NAME --help` one.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ByOpt = Annotated[str, typer.Option("--by", help="Group by rep, team, territory or company.")]
PeriodOpt = Annotated[
    str | None,
    typer.Option(help="Month, quarter or year, e.g. 2026-03, 2026-Q1, 2026 (default: this month)."),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="What the engine knew at this instant (recorded time); also the day to stand "
        "on unless --on is given.",
    ),
]
OnOpt = Annotated[
    str | None,
    typer.Option(
        "--on",
        help="The day to stand on (effective time): later events do not count, the pipeline "
        "is read that day and pace measures the period elapsed by it (default: today when "
        "the period contains it, else the whole period).",
    ),
]
TargetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        help="A target, repeatable: monthly leads per source (web=40 social=20) for leads; "
        "calls per rep per working day (calls=30) for calls_per_day.",
    ),
]
CurrencyOpt = Annotated[
    str | None,
    typer.Option(help="Report money in this currency (needed when deals use several)."),
]
TrendOpt = Annotated[
    bool,
    typer.Option("--trend", help="Compare with the previous period and a year earlier."),
]
Fmt = Annotated[Format, typer.Option("--format")]


def _facts(ctx: typer.Context, as_of: datetime | None) -> Facts:
    return snapshot_of(ctx, as_of).facts


def _show(value: Any, column: str, currency: str | None) -> Any:
    """A cell for a table: percentages and days to one decimal, money to the currency's
    minor units with separators, booleans as yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, Decimal):
        return value
    if column in MONEY and currency in MINOR_UNITS:
        return f"{round_money(value, currency):,}"  # type: ignore[arg-type]
    shown = value.quantize(Decimal("0.1"))
    text = f"{shown:,}" if value != value.to_integral_value() else f"{value:,.0f}"
    return text + " %" if column.endswith("_pct") or column.startswith("pct_") else text


TREND_VALUES = ("value", "previous", "change", "year_ago", "yoy_change")


def _table(rows: list[dict[str, Any]], trended: bool) -> list[dict[str, Any]]:
    """Rows as table cells (a trend's values shown as their measure)."""
    shown = []
    for row in rows:
        kinds: dict[str, str] = {}
        if trended:
            kinds = dict.fromkeys(TREND_VALUES, row["measure"])
            kinds.update(change_pct="_pct", yoy_change_pct="_pct")
        currency = row.get("currency")
        shown.append({c: _show(v, kinds.get(c, c), currency) for c, v in row.items()})
    return shown


def _run(
    ctx: typer.Context,
    name: str,
    by: str,
    period: str | None,
    as_of: str | None,
    on: str | None,
    target: list[str] | None,
    currency: str | None,
    with_trend: bool,
    fmt: Format,
) -> None:
    from incentive_engine.domain.kpis import BY_CHOICES, KpiError, kpi, parse_targets, trend

    if by not in BY_CHOICES:
        fail(f"--by {by!r}: choose {', '.join(BY_CHOICES)}", 2)
    try:
        instant = parse_instant(as_of)
    except typer.BadParameter as exc:
        fail(f"--as-of: {exc.message}", 2)
    try:
        targets = parse_targets(target)
    except KpiError as exc:
        fail(f"--target {exc}", 2)
    today = datetime.now(UTC).date()
    try:
        on_day = date.fromisoformat(on) if on is not None else None
    except ValueError:
        fail(f"--on {on!r}: not an ISO date (YYYY-MM-DD)", 2)
    anchor = on_day or (instant.date() if instant else None)
    if period is None:
        the_period = Period.containing(anchor or today, PeriodKind.MONTH)
    else:
        try:
            the_period = Period.parse(period)
        except ValueError as exc:
            fail(f"--period: {exc}", 2)
    day = anchor or (today if today in the_period else None)
    facts = _facts(ctx, instant)
    compute = trend if with_trend else kpi
    rows = compute(facts, name, the_period, by, as_of=day, targets=targets, currency=currency)
    title = f"{name}{' trend' if with_trend else ''} by {by}, {the_period}"
    if day is not None:
        title += f", on {day}"
    emit(_table(rows, with_trend) if fmt is Format.TABLE else rows, fmt, title)


def _command(spec: Kpi) -> Callable[..., None]:
    """The command of one KPI (with --target only where the KPI takes targets)."""
    if spec.targets is not None:

        def targeted(
            ctx: typer.Context,
            by: ByOpt = "company",
            period: PeriodOpt = None,
            as_of: AsOfOpt = None,
            on: OnOpt = None,
            target: TargetOpt = None,
            currency: CurrencyOpt = None,
            with_trend: TrendOpt = False,
            fmt: Fmt = Format.TABLE,
        ) -> None:
            _run(ctx, spec.name, by, period, as_of, on, target, currency, with_trend, fmt)

        return targeted

    def plain(
        ctx: typer.Context,
        by: ByOpt = "company",
        period: PeriodOpt = None,
        as_of: AsOfOpt = None,
        on: OnOpt = None,
        currency: CurrencyOpt = None,
        with_trend: TrendOpt = False,
        fmt: Fmt = Format.TABLE,
    ) -> None:
        _run(ctx, spec.name, by, period, as_of, on, None, currency, with_trend, fmt)

    return plain


def _first_sentence(text: str) -> str:
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


@cache
def _per_kpi() -> click.Group:
    """The command group of every KPI, one command each, its help the KPI's definition."""
    from incentive_engine.domain.kpis import KPIS

    commands = typer.Typer()
    for spec in KPIS.values():
        commands.command(
            spec.name,
            help=spec.definition,
            short_help=f"({spec.group}) {_first_sentence(spec.definition)}",
        )(_command(spec))
    return typer.main.get_group(commands)


@kpi_app.command("list")
def list_kpis(fmt: Fmt = Format.TABLE) -> None:
    """Every KPI with its group and definition."""
    from incentive_engine.domain.kpis import KPIS

    rows = [{"kpi": k.name, "group": k.group, "definition": k.definition} for k in KPIS.values()]
    emit(rows, fmt, "KPIs")
