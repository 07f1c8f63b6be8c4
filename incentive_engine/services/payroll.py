"""The payroll export: one row per rep and pay code for a period, with columns a mapping
file chooses (payroll systems differ). The mapping (YAML or JSON) names the columns in
order, the pay code of each statement line kind, and the employee number of each rep (a
lookup table: the rep events carry no employee number). Exporting verifies the log against
the last signed checkpoint first (DESIGN §4a), like ``period close``.

A mapping::

    columns:                       # in order; each a field, or a fixed value
      - {header: EmployeeNo, field: employee_number}
      - {header: PayCode, field: pay_code}
      - {header: Amount, field: amount}
      - {header: Currency, field: currency}
      - {header: Company, value: ACME-VN}
    pay_codes:                     # statement line kind -> pay code
      commission: COM
      spiff: SPF
      default: OTHER               # any kind not listed (else such a line is refused)
    employee_numbers: {an: E0001}  # rep id -> employee number
    missing_employee_number: refuse   # or blank, or rep_id
    include_zero: false            # rows whose amount is 0 are left out

Lines of a sealed period are the lines of the statement that reproduces the sealed hash
(recomputed now, else as known when the period was closed); a rep whose sealed figure
cannot be reproduced line by line is a failure, like a statement that cannot be computed."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from incentive_engine.domain.acceptance import hold_reason
from incentive_engine.domain.errors import Conflict
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import (
    PayoutsIncomplete,
    Snapshot,
    StatementFailure,
    period_statements_or_failures,
)
from incentive_engine.services.payrun import team_of
from incentive_engine.services.spreadsheets import Column, Table
from plans.documents import PlanError, parse_yaml
from plans.evaluate import Statement

if TYPE_CHECKING:
    from sqlalchemy import Engine as Views

    from incentive_engine.services.engine import Engine

ZERO = Decimal(0)

LINE_KINDS = (
    "commission",
    "target_incentive",
    "spiff",
    "override",
    "kpi_bonus",
    "team_pool",
    "draw",
    "draw_recovery",
    "gate",
    "cap",
    "manual",
    "prior_period",
)
"""The kinds of statement lines a pay code can be given to (``default``: any other)."""

FIELDS = (
    "rep_id",
    "name",
    "team",
    "employee_number",
    "pay_code",
    "amount",
    "currency",
    "period",
    "plan_id",
    "plan_version",
    "status",
    "statement_hash",
)
"""What a column can show."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class PayrollColumn(BaseModel):
    """A column of the export: its header and either a field of the row or a fixed value."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    header: Text
    field: Literal[FIELDS] | None = None  # type: ignore[valid-type]
    value: Annotated[str, StringConstraints(max_length=200)] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> PayrollColumn:
        if (self.field is None) == (self.value is None):
            raise ValueError("give either field or value (exactly one)")
        return self


class PayrollMapping(BaseModel):
    """How the payroll system wants the export: columns, pay codes, employee numbers."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    columns: list[PayrollColumn] = Field(min_length=1, max_length=50)
    pay_codes: dict[Literal[(*LINE_KINDS, "default")], Text] = Field(min_length=1)  # type: ignore[valid-type]
    employee_numbers: dict[Text, Text] = Field(default_factory=dict, max_length=100_000)
    missing_employee_number: Literal["refuse", "blank", "rep_id"] = "refuse"
    include_zero: bool = False

    @model_validator(mode="after")
    def _headers_unique(self) -> PayrollMapping:
        seen: set[str] = set()
        for c in self.columns:
            if c.header in seen:
                raise ValueError(f"the header {c.header!r} is given twice")
            seen.add(c.header)
        return self

    def code_of(self, kind: str) -> str | None:
        """The pay code of a line kind (the default's when not listed; None without one)."""
        return self.pay_codes.get(kind) or self.pay_codes.get("default")


DEFAULT_MAPPING = PayrollMapping(
    columns=[
        PayrollColumn(header="rep_id", field="rep_id"),
        PayrollColumn(header="employee_number", field="employee_number"),
        PayrollColumn(header="pay_code", field="pay_code"),
        PayrollColumn(header="amount", field="amount"),
        PayrollColumn(header="currency", field="currency"),
    ],
    pay_codes={"default": "INCENTIVE"},
    missing_employee_number="blank",
)
"""The mapping when none is configured: rep id, employee number (blank), one pay code
``INCENTIVE`` for all lines, amount, currency."""


class MappingError(Conflict, ValueError):
    """A payroll mapping that is not valid, or cannot map a period's pay (a line kind with
    no pay code, a rep with no employee number): every problem at its path in the mapping.
    A conflict: the mapping is the server's configuration, not the request."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        listed = "; ".join(f"{path}: {reason}" for path, reason in problems)
        super().__init__(f"payroll mapping {source}: {listed}", field=problems[0][0])


def mapping_from_text(text: str, source: str = "<mapping>") -> PayrollMapping:
    """A validated mapping from YAML or JSON text, or MappingError naming each problem's
    path (``columns.2.field``, ``pay_codes.bonus``)."""
    try:
        data: Any = parse_yaml(text, source)
    except PlanError as exc:
        raise MappingError(source, list(exc.problems)) from None
    if not isinstance(data, dict):
        raise MappingError(source, [("(document)", "a payroll mapping must be a mapping")])
    try:
        return PayrollMapping.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            path = ".".join(str(p) for p in err["loc"] if p not in ("[key]",)) or "(document)"
            if err["loc"] and err["loc"][-1] == "[key]":
                path = ".".join(str(p) for p in err["loc"][:-1])
                reason = f"unknown line kind (known: {', '.join(LINE_KINDS)}, default)"
            elif err["type"] == "extra_forbidden":
                reason = "unknown field"
            else:
                reason = err["msg"].removeprefix("Value error, ")
            problems.append((path, reason))
        raise MappingError(source, problems) from None


def load_mapping(path: Path | None) -> PayrollMapping:
    """The mapping of a file (YAML or JSON), or the default mapping without one."""
    if path is None:
        return DEFAULT_MAPPING
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(str(path), [("(file)", exc.strerror or str(exc))]) from None
    return mapping_from_text(text, str(path))


@dataclass(frozen=True)
class PayrollRow:
    """One row of the export: a rep's amount under one pay code."""

    rep_id: str
    name: str
    team: str
    employee_number: str
    pay_code: str
    amount: Decimal
    currency: str
    period: str
    plan_id: str
    plan_version: int
    status: str
    statement_hash: str

    def value(self, column: PayrollColumn) -> object:
        """The cell of a column."""
        if column.value is not None:
            return column.value
        return getattr(self, column.field or "rep_id")


@dataclass(frozen=True)
class Payroll:
    """The export of a period: its rows, the reps that cannot be exported and why, and (with
    ``INCENTIVE_HOLD_UNACCEPTED``) the statements held because their rep has not accepted the
    plan version that pays them: (rep, plan, version, reason)."""

    period: Period
    mapping: PayrollMapping
    rows: list[PayrollRow]
    failures: list[StatementFailure]
    held: list[tuple[str, str, int, str]] = field(default_factory=list)

    def table(self, name: str = "payroll") -> Table:
        """The rows as a table in the mapping's columns (amounts as money)."""
        columns = [
            Column(c.header, c.header, "money" if c.field == "amount" else "text")
            for c in self.mapping.columns
        ]
        currency_header = next(
            (c.header for c in self.mapping.columns if c.field == "currency"), None
        )
        rows = []
        for r in self.rows:
            row = {c.header: r.value(c) for c in self.mapping.columns}
            row["currency"] = r.currency
            if currency_header is not None:
                row[currency_header] = r.currency
            rows.append(row)
        return Table(name, [_with_currency(c) for c in columns], rows)


def _with_currency(column: Column) -> Column:
    return Column(column.header, column.key, column.kind, currency_key="currency")


def _reproduced(
    engine: Engine, snap: Snapshot, period: Period
) -> tuple[list[Statement], list[StatementFailure]]:
    """The statements behind a period's pay: computed now while open; once sealed, those
    that reproduce the sealed hashes (now, else as known at the close)."""
    found, failed = period_statements_or_failures(snap, period)
    closed = snap.facts.closed_periods.get(str(period))
    if closed is None:
        return found, failed
    by_hash = {s.hash: s for s in found}
    missing = [p for p in closed.payouts if p.statement_hash not in by_hash]
    if missing:
        # what the engine itself had recorded at the close (a later backfill is not in it)
        then_snap = engine.snapshot(closed.closed_at, cut_on="recorded")
        then, _ = period_statements_or_failures(then_snap, period)
        by_hash.update({s.hash: s for s in then})
    result: list[Statement] = []
    failures: list[StatementFailure] = []
    for p in sorted(closed.payouts, key=lambda x: (x.rep_id, x.plan_id)):
        s = by_hash.get(p.statement_hash)
        if s is None:
            failures.append(
                StatementFailure(
                    p.rep_id,
                    p.plan_id,
                    p.version,
                    f"the sealed statement {p.statement_hash[:19]}… cannot be reproduced line "
                    "by line (its sealed total is in the payouts export)",
                )
            )
        else:
            result.append(s)
    return result, failures


def payroll(
    engine: Engine,
    period: Period,
    mapping: PayrollMapping,
    *,
    partial: bool = False,
    views: Views | None = None,
) -> Payroll:
    """The payroll export of a period: the log verified first (refused when it fails, like a
    close), then one row per rep and pay code (the sum of the statement's lines of the kinds
    mapped to that code). Refused (``PayoutsIncomplete``) when a statement cannot be computed
    unless ``partial``; refused (``MappingError``) when a line kind has no pay code or a rep
    no employee number and the mapping says to refuse."""
    from incentive_engine.services.integrity import guard_export

    guard_export(engine, period, what=f"the payroll of {period}", views=views)
    snap = engine.snapshot()
    found, failed = _reproduced(engine, snap, period)
    if failed and not partial:
        reps = ", ".join(dict.fromkeys(f.rep_id for f in failed))
        raise PayoutsIncomplete(
            f"the payroll export of {period} is refused: the statements of {reps} cannot be "
            f"computed ({failed[0].error}); void or repair the event cited, or ask for a "
            "partial export of the other reps (partial=true, --partial)"
        )
    status = "sealed" if str(period) in snap.facts.closed_periods else "open"
    problems: list[tuple[str, str]] = []
    rows: list[PayrollRow] = []
    held: list[tuple[str, str, int, str]] = []
    reps = snap.facts.reps
    for s in sorted(found, key=lambda x: (x.rep_id, x.plan_id)):
        if engine.settings.hold_unaccepted:
            reason = hold_reason(snap.facts, s.rep_id, s.plan_id, s.plan_version)
            if reason is not None:
                held.append((s.rep_id, s.plan_id, s.plan_version, reason))
                continue
        number = mapping.employee_numbers.get(s.rep_id)
        if number is None:
            if mapping.missing_employee_number == "refuse":
                problems.append((f"employee_numbers.{s.rep_id}", "no employee number for this rep"))
            number = s.rep_id if mapping.missing_employee_number == "rep_id" else ""
        amounts: dict[str, Decimal] = {}
        for ln in s.lines:
            code = mapping.code_of(ln.kind)
            if code is None:
                problems.append((f"pay_codes.{ln.kind}", "no pay code for this line kind"))
                continue
            amounts[code] = amounts.get(code, ZERO) + ln.amount
        for code, amount in amounts.items():
            if amount == ZERO and not mapping.include_zero:
                continue
            rows.append(
                PayrollRow(
                    rep_id=s.rep_id,
                    name=reps[s.rep_id].name if s.rep_id in reps else "",
                    team=team_of(snap, s.rep_id, period),
                    employee_number=number,
                    pay_code=code,
                    amount=amount,
                    currency=s.currency,
                    period=str(period),
                    plan_id=s.plan_id,
                    plan_version=s.plan_version,
                    status=status,
                    statement_hash=s.hash,
                )
            )
    if problems:
        raise MappingError("for " + str(period), list(dict.fromkeys(problems)))
    return Payroll(period, mapping, rows, failed, held)
