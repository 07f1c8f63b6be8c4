"""The pay run of a period, for finance: every covered rep's earned, adjustments (by the
closed period they correct), draws, total and status, with the figures of ``payouts``
(``period_payouts``: sealed once the period is closed), the reps whose statement cannot be
computed listed apart with the reason (never hiding the others), each rep's team on the
period's last day, totals per currency, sorting and filtering by team, and the bands of a
histogram of totals."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal

from incentive_engine.domain.acceptance import hold_reason
from incentive_engine.domain.events import PeriodClosed
from incentive_engine.domain.periods import Period
from incentive_engine.domain.visibility import figure_day
from incentive_engine.services.commissions import (
    Snapshot,
    StatementFailure,
    adjustments_total,
    payout_of,
    period_statements_or_failures,
    plan_currencies,
)
from incentive_engine.services.spreadsheets import Column, Table
from plans.evaluate import Statement

ZERO = Decimal(0)
DRAW_KINDS = ("draw", "draw_recovery")
"""The statement line kinds a draw writes (its top-up, or a deficit recovered)."""

SORT_KEYS = ("rep", "name", "team", "currency", "earned", "adjustments", "draws", "total")
"""The columns a pay run sorts by."""

Status = Literal["open", "sealed"]


@dataclass(frozen=True)
class PayRunRow:
    """A rep's pay for the period under one plan: ``earned`` (the period's own lines),
    adjustments by the closed period they correct, ``draws`` (the draw lines; None when a
    sealed figure's lines cannot be reproduced), ``total`` and the status."""

    rep_id: str
    name: str
    team: str
    plan_id: str
    plan_version: int
    currency: str
    earned: Decimal
    adjustments: tuple[tuple[str, Decimal], ...]
    adjustments_total: Decimal
    draws: Decimal | None
    total: Decimal
    status: Status
    statement_hash: str


@dataclass(frozen=True)
class PayRunFailure:
    """A covered rep whose statement cannot be computed, and why."""

    rep_id: str
    name: str
    team: str
    plan_id: str
    plan_version: int
    error: str


@dataclass(frozen=True)
class PayRunHeld:
    """A rep's pay held back (``INCENTIVE_HOLD_UNACCEPTED``): the row and why, left out of
    the totals until the rep accepts the plan version that pays them."""

    row: PayRunRow
    reason: str


@dataclass(frozen=True)
class PayRun:
    """A period's pay run: its rows (by rep id then plan unless sorted), the failures, the
    teams of the period, whether it is sealed, and the rows held apart (not in the totals)."""

    period: Period
    status: Status
    closed: PeriodClosed | None
    rows: list[PayRunRow]
    failures: list[PayRunFailure]
    teams: list[str]
    held: list[PayRunHeld] = field(default_factory=list)

    def totals(self) -> dict[str, Decimal]:
        """The total pay per currency of the rows (currencies in order)."""
        found: dict[str, Decimal] = {}
        for r in self.rows:
            found[r.currency] = found.get(r.currency, ZERO) + r.total
        return dict(sorted(found.items()))

    def of_team(self, team: str | None) -> PayRun:
        """The pay run of one team's reps (all when ``team`` is empty)."""
        if not team:
            return self
        return replace(
            self,
            rows=[r for r in self.rows if r.team == team],
            failures=[f for f in self.failures if f.team == team],
            held=[h for h in self.held if h.row.team == team],
        )

    def sorted_by(self, key: str, descending: bool = False) -> PayRun:
        """The rows sorted by a column of ``SORT_KEYS`` (ties by rep id then plan); an
        unknown key keeps the rep order."""
        if key not in SORT_KEYS:
            return self

        def value(r: PayRunRow) -> tuple[object, ...]:
            chosen: object = {
                "rep": r.rep_id,
                "name": r.name.casefold(),
                "team": r.team.casefold(),
                "currency": r.currency,
                "earned": r.earned,
                "adjustments": r.adjustments_total,
                "draws": r.draws if r.draws is not None else ZERO,
                "total": r.total,
            }[key]
            return (chosen,)

        ordered = sorted(self.rows, key=lambda r: (r.rep_id, r.plan_id))
        ordered.sort(key=value, reverse=descending)
        return replace(self, rows=ordered)


def team_of(snap: Snapshot, rep_id: str, period: Period) -> str:
    """The rep's team on the period's last day (empty when unknown)."""
    rep = snap.facts.reps.get(rep_id)
    if rep is None:
        return ""
    return rep.team_on(figure_day(period)) or ""


def _draws(statement: Statement) -> Decimal:
    return sum((ln.amount for ln in statement.lines if ln.kind in DRAW_KINDS), ZERO)


def pay_run(snap: Snapshot, period: Period, *, hold: bool = False) -> PayRun:
    """The pay run of a period: the figures of ``period_payouts`` (sealed once closed, the
    draws then from the statement that reproduces the sealed hash), with names and teams;
    with ``hold``, the rows of reps who have not accepted the plan version that pays them
    are held apart with the reason (``domain.acceptance``)."""
    statements, failed = period_statements_or_failures(snap, period)
    closed = snap.facts.closed_periods.get(str(period))
    currency = plan_currencies(snap)
    by_key = {(s.rep_id, s.plan_id, s.plan_version): s for s in statements}
    reps = snap.facts.reps
    status: Status = "sealed" if closed is not None else "open"
    payouts = list(closed.payouts) if closed is not None else [payout_of(s) for s in statements]
    rows: list[PayRunRow] = []
    for p in sorted(payouts, key=lambda x: (x.rep_id, x.plan_id)):
        found = by_key.get((p.rep_id, p.plan_id, p.version))
        draws = _draws(found) if found is not None and found.hash == p.statement_hash else None
        rows.append(
            PayRunRow(
                rep_id=p.rep_id,
                name=reps[p.rep_id].name if p.rep_id in reps else "",
                team=team_of(snap, p.rep_id, period),
                plan_id=p.plan_id,
                plan_version=p.version,
                currency=currency.get(p.plan_id, ""),
                earned=p.earned,
                adjustments=tuple((a.period, a.amount) for a in p.adjustments),
                adjustments_total=adjustments_total(p),
                draws=draws,
                total=p.total,
                status=status,
                statement_hash=p.statement_hash,
            )
        )
    failures = [] if closed is not None else [_failure(snap, period, f) for f in failed]
    teams = sorted(
        {r.team for r in rows if r.team} | {f.team for f in failures if f.team},
        key=str.casefold,
    )
    held: list[PayRunHeld] = []
    if hold:
        reasons = {
            id(r): hold_reason(snap.facts, r.rep_id, r.plan_id, r.plan_version) for r in rows
        }
        held = [PayRunHeld(r, why) for r in rows if (why := reasons[id(r)]) is not None]
        rows = [r for r in rows if reasons[id(r)] is None]
    return PayRun(period, status, closed, rows, failures, teams, held)


def _failure(snap: Snapshot, period: Period, f: StatementFailure) -> PayRunFailure:
    reps = snap.facts.reps
    return PayRunFailure(
        rep_id=f.rep_id,
        name=reps[f.rep_id].name if f.rep_id in reps else "",
        team=team_of(snap, f.rep_id, period),
        plan_id=f.plan_id,
        plan_version=f.plan_version,
        error=f.error,
    )


@dataclass(frozen=True)
class Band:
    """A band of a histogram: totals from ``low`` (inclusive) to ``high`` (exclusive; the
    last band includes its high end; ``low == high`` when every total is that amount) and
    how many fall in it."""

    low: Decimal
    high: Decimal
    count: int


def bands(values: Iterable[Decimal], count: int = 8) -> list[Band]:
    """Histogram bands of amounts: about ``count`` bands of a round width (1, 2 or 5
    times a power of ten) from a round floor; empty for no values."""
    found = sorted(values)
    if not found:
        return []
    low, high = found[0], found[-1]
    span = high - low
    if span == 0:
        return [Band(low, high, len(found))]  # every total the same: one band, that amount
    width = _nice(span / count)
    start = (low / width).to_integral_value(rounding="ROUND_FLOOR") * width
    number = max(1, int(((high - start) / width).to_integral_value(rounding="ROUND_FLOOR")) + 1)
    counts = [0] * number
    for v in found:
        index = min(number - 1, int(((v - start) / width).to_integral_value("ROUND_FLOOR")))
        counts[index] += 1
    return [
        Band(_plain(start + i * width), _plain(start + (i + 1) * width), counts[i])
        for i in range(number)
    ]


def _plain(value: Decimal) -> Decimal:
    """A band bound without an exponent (``2E+7`` as ``20000000``)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _nice(raw: Decimal) -> Decimal:
    """The smallest of 1, 2, 5 × 10^k not below ``raw`` (raw > 0)."""
    exponent = raw.adjusted()
    for step in (1, 2, 5, 10):
        candidate = Decimal(step).scaleb(exponent)
        if candidate >= raw:
            return candidate
    return Decimal(10).scaleb(exponent)  # pragma: no cover - 10 × 10^k always reaches it


PAYOUT_COLUMNS = (
    Column("rep_id", "rep_id"),
    Column("name", "name"),
    Column("team", "team"),
    Column("period", "period"),
    Column("plan", "plan"),
    Column("currency", "currency"),
    Column("earned", "earned", "money"),
    Column("adjustments", "adjustments", "money"),
    Column("draws", "draws", "money"),
    Column("total", "total", "money"),
    Column("status", "status"),
    Column("statement_hash", "statement_hash"),
)
"""The payouts table's columns (the API's CSV columns, with team and draws)."""


def payout_tables(run: PayRun) -> list[Table]:
    """The pay run as spreadsheet tables: ``payouts`` (a row per rep and plan),
    ``adjustments`` (a row per closed period corrected) and, when some statements cannot
    be computed, ``failures``."""
    period = str(run.period)
    payouts = [
        {
            "rep_id": r.rep_id,
            "name": r.name,
            "team": r.team,
            "period": period,
            "plan": f"{r.plan_id}@{r.plan_version}",
            "currency": r.currency,
            "earned": r.earned,
            "adjustments": r.adjustments_total,
            "draws": r.draws,
            "total": r.total,
            "status": r.status,
            "statement_hash": r.statement_hash,
        }
        for r in run.rows
    ]
    adjustments = [
        {
            "rep_id": r.rep_id,
            "name": r.name,
            "period": period,
            "plan": f"{r.plan_id}@{r.plan_version}",
            "origin_period": origin,
            "currency": r.currency,
            "amount": amount,
        }
        for r in run.rows
        for origin, amount in r.adjustments
    ]
    tables = [
        Table("payouts", PAYOUT_COLUMNS, payouts),
        Table(
            "adjustments",
            (
                Column("rep_id", "rep_id"),
                Column("name", "name"),
                Column("period", "period"),
                Column("plan", "plan"),
                Column("origin_period", "origin_period"),
                Column("currency", "currency"),
                Column("amount", "amount", "money"),
            ),
            adjustments,
        ),
    ]
    if run.held:
        tables.append(
            Table(
                "held",
                (
                    Column("rep_id", "rep_id"),
                    Column("name", "name"),
                    Column("plan", "plan"),
                    Column("currency", "currency"),
                    Column("total", "total", "money"),
                    Column("reason", "reason"),
                ),
                [
                    {
                        "rep_id": h.row.rep_id,
                        "name": h.row.name,
                        "plan": f"{h.row.plan_id}@{h.row.plan_version}",
                        "currency": h.row.currency,
                        "total": h.row.total,
                        "reason": h.reason,
                    }
                    for h in run.held
                ],
            )
        )
    if run.failures:
        tables.append(
            Table(
                "failures",
                (
                    Column("rep_id", "rep_id"),
                    Column("name", "name"),
                    Column("team", "team"),
                    Column("plan", "plan"),
                    Column("error", "error"),
                ),
                [
                    {
                        "rep_id": f.rep_id,
                        "name": f.name,
                        "team": f.team,
                        "plan": f"{f.plan_id}@{f.plan_version}",
                        "error": f.error,
                    }
                    for f in run.failures
                ],
            )
        )
    return tables
