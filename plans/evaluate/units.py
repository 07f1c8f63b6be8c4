"""What per-unit rules pay on: a credited deal, or each of its product lines, with the
amount and margin the plan counts, and the exclusive groups deciding which rule pays it.

A deal's lines are those of its win, or of the last amendment counted under the plan's
clawback rules that carried lines.  The deal's amount for commission (after amendments
without lines, the cancellation share, conversion to the plan's currency) is spread over its
lines in proportion to their amounts, and so is their cost: a 30 % clawback removes 30 % of
every line and of its margin.  A deal without lines is one line with no product.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from incentive_engine.domain.events import DealLine
from plans.evaluate.context import Context
from plans.evaluate.credits import Credited
from plans.evaluate.filters import matches
from plans.evaluate.statement import HUNDRED, ZERO, EvaluationError
from plans.model import ON_MARGIN, PER_LINE, Exclusive, Measure, Spiff, precedence


@dataclass(frozen=True)
class Unit:
    """A credited deal (``number`` None) or one of its product lines (numbered from 1)."""

    credited: Credited
    number: int | None
    line: DealLine | None
    lines: tuple[DealLine, ...] | None
    """The deal's lines as counted (None without lines)."""
    scale: tuple[Decimal, Decimal]
    """(deal amount for commission, sum of the lines' amounts): what each line is scaled by."""
    lost: tuple[str, ...] = ()
    """Ids of the group's other rules that matched this unit and lost to the one paying it."""

    @property
    def deal_id(self) -> str:
        """The deal's id."""
        return self.credited.deal_id

    @property
    def share(self) -> Decimal:
        """The rep's share of the deal's credit, in percent."""
        return self.credited.credit.share

    @property
    def label(self) -> str:
        """``deal D1``, or ``deal D1 line 2 (P-9)`` for a product line."""
        if self.line is None or self.number is None:
            return f"deal {self.deal_id}"
        return f"deal {self.deal_id} line {self.number} ({self.line.product_id})"

    def won_over(self, group: str | None) -> str:
        """A description's note of the group's rules this unit's winner won over, if any."""
        return f"; won group {group} over {', '.join(self.lost)}" if self.lost else ""

    def _scaled(self, value: Decimal) -> Decimal:
        amount, total = self.scale
        return value if amount == total else value * amount / total

    def whole(self, measure: Measure, component: str) -> Decimal:
        """The whole deal's (or line's) amount or margin for commission, every rep's share
        together (a margin below zero counts as zero)."""
        if measure not in ON_MARGIN:
            if self.line is None:
                return self.credited.deal_amount
            return self._scaled(self.line.amount)
        chosen = (self.line,) if self.line is not None else self.lines
        if not chosen:
            raise EvaluationError(
                f"deal {self.deal_id} has no product lines, so no cost: component "
                f"{component!r} pays on margin"
            )
        margin = ZERO
        for ln in chosen:
            if ln.margin is None:
                number = self.number or (self.lines or ()).index(ln) + 1
                raise EvaluationError(
                    f"deal {self.deal_id} line {number} ({ln.product_id}) has no cost: "
                    f"component {component!r} pays on margin"
                )
            margin += ln.margin
        return max(self._scaled(margin), ZERO)

    def own(self, measure: Measure, component: str) -> Decimal:
        """The rep's share of ``whole`` (and, earning on invoice or payment, of the part of the
        deal the period earns)."""
        if self.line is None and measure not in ON_MARGIN:
            return self.credited.amount
        return self.credited.pro_rata(self.whole(measure, component) * self.share / HUNDRED)

    def matches(self, comp: Exclusive) -> bool:
        """Whether a rule's filter (and a spiff's window) lets this unit through."""
        c = self.credited
        won = c.deal.won
        assert won is not None
        window = comp.window if isinstance(comp, Spiff) else None
        if window is not None and not window.start <= won.close_date <= window.end:
            return False
        if self.number is None:
            return matches(c.deal, comp.filter, c.deal_amount, lines=self.lines or ())
        return matches(c.deal, comp.filter, c.deal_amount, line=self.line)


def counted_lines(c: Credited) -> tuple[DealLine, ...] | None:
    """The deal's product lines as the plan counts them: the last counted amendment's that
    carried lines, else the win's."""
    for a in reversed(c.deal.amendments):
        if a.lines is not None and a.event_id in c.event_ids:
            return a.lines
    won = c.deal.won
    return won.lines if won is not None else None


def units_of(c: Credited, per_line: bool) -> list[Unit]:
    """The deal as one unit, or one unit per product line (a deal without lines: one)."""
    lines = counted_lines(c)
    total = sum((ln.amount for ln in lines or ()), ZERO)
    if lines is not None and total == 0 and c.deal_amount != 0:
        raise EvaluationError(
            f"deal {c.deal_id}: its lines sum to 0 but its amount for commission is "
            f"{c.deal_amount}: amend it with lines"
        )
    scale = (c.deal_amount, total) if lines is not None else (ZERO, ZERO)
    if not per_line or lines is None:
        return [Unit(c, None, None, lines, scale)]
    return [Unit(c, i, ln, lines, scale) for i, ln in enumerate(lines, start=1)]


def units_for(ctx: Context, comp: Exclusive) -> list[Unit]:
    """The units a rule pays on, in credit and line order: those its filter matches and,
    in a group, that it wins (each naming the group's matching rules it won over)."""
    per_line = comp.unit_measure in PER_LINE
    if comp.group is None:
        return [u for c in ctx.credits for u in units_of(c, per_line) if u.matches(comp)]
    members = [
        m
        for m in ctx.plan.components
        if isinstance(m, Exclusive) and m.group == comp.group and m.kind == comp.kind
    ]
    found = []
    for c in ctx.credits:
        for u in units_of(c, per_line):
            matched = [m for m in members if u.matches(m)]
            if not matched:
                continue
            winner = max(matched, key=precedence)  # the first in plan order on a tie
            if winner.id == comp.id:
                found.append(replace(u, lost=tuple(m.id for m in matched if m.id != comp.id)))
    return found
