"""What the evaluator produces: statement lines, the statement and its hash, and its error."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from incentive_engine.domain.errors import Conflict
from incentive_engine.domain.events import canonical_json, content_hash

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class EvaluationError(Conflict, ValueError):
    """A statement cannot be computed (for instance: tiers on attainment but no quota)."""


NUMBER_BASES = frozenset({"target_incentive", "kpi_bonus"})
"""Line kinds whose base is not money: attainment (percent) or a KPI's value."""


@dataclass(frozen=True)
class Line:
    """One statement line: what was paid, by which rule, on what base, because of which events."""

    number: int
    component: str
    kind: str
    description: str
    amount: Decimal
    base: Decimal | None = None
    tier: str | None = None
    rate: Decimal | None = None
    deal_ids: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    origin_period: str | None = None
    """For a holdback release or forfeit: the period of the holdback line it settles."""
    origin_line: int | None = None
    """For a holdback release or forfeit: the number of that holdback line in its period."""
    deal_line: int | None = None
    """The product line of the deal the line pays on (numbered from 1), if one."""
    won_over: tuple[str, ...] = ()
    """Components of the same exclusive group that matched too and lost to this one."""

    @property
    def base_is_money(self) -> bool:
        """Whether the base is an amount of money (a target incentive's base is a slice of
        attainment, a KPI bonus's the KPI's value: figures to show as numbers)."""
        return self.base is not None and self.kind not in NUMBER_BASES

    def as_dict(self) -> dict[str, Any]:
        """The line as a JSON-ready dict (Decimals as exact strings); the origin of a
        holdback release or forfeit, ``deal_line`` and ``won_over`` only when set, so that
        lines without them hash as they always did."""
        found: dict[str, Any] = {
            "number": self.number,
            "component": self.component,
            "kind": self.kind,
            "description": self.description,
            "base": None if self.base is None else str(self.base),
            "tier": self.tier,
            "rate": None if self.rate is None else str(self.rate),
            "amount": str(self.amount),
            "deal_ids": list(self.deal_ids),
            "event_ids": list(self.event_ids),
        }
        if self.origin_period is not None:
            found["origin_period"] = self.origin_period
            found["origin_line"] = self.origin_line
        if self.deal_line is not None:
            found["deal_line"] = self.deal_line
        if self.won_over:
            found["won_over"] = list(self.won_over)
        return found


PRIOR = "prior_period"
"""Kind of the lines that adjust an earlier, closed period."""
HOLDBACK = "holdback"
"""Kind of the negative lines holding back a share of what a component earned."""
RELEASE = "holdback_release"
"""Kind of the lines paying what an earlier holdback line held, once its condition holds."""
FORFEIT = "holdback_forfeit"
"""Kind of the zero lines saying a cancelled deal forfeits what was held back on it."""


@dataclass(frozen=True)
class Statement:
    """A rep's statement for a period under one plan version."""

    rep_id: str
    period: str
    plan_id: str
    plan_version: int
    plan_hash: str
    currency: str
    quota: Decimal | None
    credited: Decimal
    attainment: Decimal | None
    lines: tuple[Line, ...]
    held_balance: Decimal | None = None
    """What stays held back at the period's end, from this period and earlier ones (None
    when the plan holds nothing back: then the statement reads exactly as before)."""
    draw_owed: Decimal | None = None
    """What a recoverable draw has paid beyond earnings and not yet recovered, at the
    period's end (None when the plan has no recoverable draw). Beside the statement, never
    in its content or hash: its lines already say it (``document()`` gives it a field)."""

    @property
    def total(self) -> Decimal:
        """Sum of every line."""
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def earned(self) -> Decimal:
        """The period's own lines (everything but adjustments of earlier periods)."""
        return sum((ln.amount for ln in self.lines if ln.kind != PRIOR), ZERO)

    def _sum(self, kind: str) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.kind == kind), ZERO)

    @property
    def held_back(self) -> Decimal:
        """What the period's holdback lines hold back (a positive amount)."""
        return -self._sum(HOLDBACK)

    @property
    def released(self) -> Decimal:
        """What earlier holdbacks release in this period."""
        return self._sum(RELEASE)

    @property
    def forfeited(self) -> Decimal:
        """What cancelled deals forfeit in this period: what was held back on them before
        the cancellation (the part a clawback took included), never released."""
        return sum((ln.base or ZERO for ln in self.lines if ln.kind == FORFEIT), ZERO)

    @property
    def earned_before_holdback(self) -> Decimal:
        """The period's own earnings before anything is held back or released."""
        return self.earned + self.held_back - self.released

    def adjustments(self) -> dict[str, Decimal]:
        """Adjustment amounts by the earlier period they correct."""
        found: dict[str, Decimal] = {}
        for ln in self.lines:
            if ln.kind == PRIOR:
                origin = ln.component.removeprefix("prior:")
                found[origin] = found.get(origin, ZERO) + ln.amount
        return found

    def subtotals(self) -> dict[str, Decimal]:
        """Totals per component, in line order."""
        totals: dict[str, Decimal] = {}
        for ln in self.lines:
            totals[ln.component] = totals.get(ln.component, ZERO) + ln.amount
        return totals

    def as_dict(self) -> dict[str, Any]:
        """The statement as a JSON-ready dict, hash excluded (the hashed content); the
        holdback figures only when the plan holds pay back."""
        found: dict[str, Any] = {
            "rep_id": self.rep_id,
            "period": self.period,
            "plan_id": self.plan_id,
            "plan_version": self.plan_version,
            "plan_hash": self.plan_hash,
            "currency": self.currency,
            "quota": None if self.quota is None else str(self.quota),
            "credited": str(self.credited),
            "attainment": None if self.attainment is None else str(self.attainment),
            "lines": [ln.as_dict() for ln in self.lines],
            "subtotals": {k: str(v) for k, v in self.subtotals().items()},
            "total": str(self.total),
        }
        if self.held_balance is not None:
            found["holdback"] = {
                "earned": str(self.earned_before_holdback),
                "held_back": str(self.held_back),
                "released": str(self.released),
                "forfeited": str(self.forfeited),
                "balance": str(self.held_balance),
            }
        return found

    def document(self) -> dict[str, Any]:
        """The statement as every door's JSON gives it: the hashed content, the ``hash``,
        and beside them figures a reader needs as fields rather than inside a line's
        description (``earned``, ``adjustments``, ``draw_owed``)."""
        return {
            **self.as_dict(),
            "hash": self.hash,
            "earned": str(self.earned),
            "adjustments": str(sum(self.adjustments().values(), ZERO)),
            "draw_owed": None if self.draw_owed is None else str(self.draw_owed),
        }

    @property
    def hash(self) -> str:
        """sha256 of the canonical JSON of the statement."""
        return content_hash(self.as_dict())

    def canonical(self) -> bytes:
        """The canonical bytes the hash is taken over."""
        return canonical_json(self.as_dict())
