"""Manual adjustments with maker–checker approval: the pure rules (no I/O, no clock).

An adjustment is *proposed* (``AdjustmentProposed``) and is paid only once a finance user
other than its proposer *approves* it (``AdjustmentApproved``); it may instead be *rejected*
with a reason (``AdjustmentRejected``).  A proposal is decided once: the first decision that
keeps the rules (by effective time, then event id) stands, whatever the order the events were
appended in.  An approval by the proposer counts only when it says it was made in
single-approver mode (``INCENTIVE_ADJUSTMENTS_SINGLE_APPROVER``, off by default).

The fold (``incentive_engine.domain.facts``) hands an approved adjustment to the evaluator as
a ``ManualAdjustment`` (``as_manual``), so it is paid exactly like one; a pending or rejected
proposal never reaches a statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from incentive_engine.domain.errors import Conflict, EngineError, Forbidden, Invalid, NotFound
from incentive_engine.domain.events import (
    AdjustmentApproved,
    AdjustmentProposed,
    AdjustmentRejected,
    ManualAdjustment,
)
from incentive_engine.domain.money import round_money
from incentive_engine.domain.periods import Period
from incentive_engine.domain.references import same_person

if TYPE_CHECKING:
    from incentive_engine.domain.facts import Facts

__all__ = [
    "ADJUSTMENT_TYPES",
    "Adjustment",
    "AdjustmentConflict",
    "AdjustmentError",
    "AdjustmentForbidden",
    "AdjustmentInvalid",
    "AdjustmentNotFound",
    "Decision",
    "Payable",
    "Status",
    "adjustments",
    "as_manual",
    "check_approval",
    "check_proposal",
    "check_rejection",
    "counts",
    "decision_of",
    "pending",
]

ADJUSTMENT_TYPES = ("AdjustmentProposed", "AdjustmentApproved", "AdjustmentRejected")
"""The event types of the approval workflow."""

Decision = AdjustmentApproved | AdjustmentRejected
"""What decides a proposal."""


class Status(StrEnum):
    """Where a proposal stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


# ------------------------------------------------------------------------ errors


class AdjustmentError(EngineError, ValueError):
    """A proposal, approval or rejection that cannot be made (nothing was written)."""


class AdjustmentNotFound(AdjustmentError, NotFound):
    """No such proposal or rep."""


class AdjustmentForbidden(AdjustmentError, Forbidden):
    """The maker–checker rule: the proposer may not approve their own proposal."""


class AdjustmentConflict(AdjustmentError, Conflict):
    """The proposal was already approved or rejected."""


class AdjustmentInvalid(AdjustmentError, Invalid):
    """A bad value: a currency the plan cannot pay, a period no plan pays, an empty reason."""


# ------------------------------------------------------------------------ status


@dataclass(frozen=True)
class Adjustment:
    """A proposal and the decision that stands on it (None while pending)."""

    proposal: AdjustmentProposed
    decision: Decision | None = None

    @property
    def proposal_id(self) -> str:
        """The proposal's event id (the adjustment's id)."""
        return self.proposal.event_id

    @property
    def status(self) -> Status:
        """pending, approved or rejected."""
        if self.decision is None:
            return Status.PENDING
        if isinstance(self.decision, AdjustmentApproved):
            return Status.APPROVED
        return Status.REJECTED

    @property
    def decided_by(self) -> str | None:
        """Who approved or rejected it."""
        match self.decision:
            case AdjustmentApproved():
                return self.decision.approved_by
            case AdjustmentRejected():
                return self.decision.rejected_by
        return None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (amounts as exact text, times as ISO text)."""
        p, d = self.proposal, self.decision
        return {
            "proposal_id": p.event_id,
            "status": self.status.value,
            "rep_id": p.rep_id,
            "period": p.period,
            "amount": str(p.amount),
            "currency": p.currency,
            "fx_rate": None if p.fx_rate is None else str(p.fx_rate),
            "paid_amount": str(p.paid_amount),
            "paid_currency": p.paid_currency,
            "reason": p.reason,
            "dispute_id": p.dispute_id,
            "proposed_by": p.proposed_by,
            "proposed_at": p.proposed_at.isoformat(),
            "decision_id": None if d is None else d.event_id,
            "decided_by": self.decided_by,
            "decided_at": None if d is None else d.effective_at.isoformat(),
            "rejection_reason": d.reason if isinstance(d, AdjustmentRejected) else None,
            "single_approver": bool(isinstance(d, AdjustmentApproved) and d.single_approver),
        }


def counts(proposal: AdjustmentProposed, decision: Decision) -> bool:
    """Whether a decision keeps the rules: it names the proposal, and an approval is by
    someone other than the proposer unless made in single-approver mode."""
    if decision.proposal_id != proposal.event_id:
        return False
    if isinstance(decision, AdjustmentApproved):
        return bool(decision.single_approver) or not same_person(
            proposal.proposed_by, decision.approved_by
        )
    return bool(decision.reason.strip())


def decision_of(proposal: AdjustmentProposed, decisions: Iterable[Decision]) -> Decision | None:
    """The decision that stands: the earliest (effective time, event id) that counts."""
    kept = [d for d in decisions if counts(proposal, d)]
    return min(kept, key=lambda d: (d.effective_at, d.event_id)) if kept else None


def as_manual(proposal: AdjustmentProposed, approval: AdjustmentApproved) -> ManualAdjustment:
    """An approved proposal as the evaluator reads it: a ``ManualAdjustment`` with the
    proposal's id, paid in the plan's currency (converted at the stated rate), posted on the
    day it was approved."""
    return ManualAdjustment(
        event_id=proposal.event_id,
        rep_id=proposal.rep_id,
        period=proposal.period,
        amount=proposal.paid_amount,
        currency=proposal.paid_currency,
        reason=proposal.reason,
        posted_by=proposal.proposed_by,
        posted_date=approval.approved_at.date(),
    )


# ------------------------------------------------------------------- workflow rules


@dataclass(frozen=True)
class Payable:
    """How a proposed amount will be paid: in the plan's currency, converted or not."""

    pay_currency: str
    fx_rate: Decimal | None
    paid_amount: Decimal


def check_proposal(
    facts: Facts,
    *,
    rep_id: str,
    period: str,
    amount: Decimal,
    currency: str,
    fx_rate: Decimal | None = None,
) -> Payable:
    """Refuse, naming the field, a proposal that could not be paid: an unknown rep, a period
    no plan of the rep's pays, an amount of 0, a currency the rep's plan does not pay without
    an FX rate (or an FX rate where none is needed).  Returns how it will be paid."""
    from plans.evaluate.book import PlanBook  # plans import the fold, which imports this

    rep = facts.reps.get(rep_id)
    if rep is None or rep.hire_date is None:
        raise AdjustmentNotFound(f"unknown rep {rep_id!r}", field="rep_id")
    try:
        the_period = Period.parse(period)
    except ValueError as exc:
        raise AdjustmentInvalid(str(exc), field="period") from None
    if amount == 0:
        raise AdjustmentInvalid("an adjustment of 0 pays nothing", field="amount")
    versions = PlanBook.from_facts(facts).for_rep(facts, rep_id, the_period)
    if not versions:
        raise AdjustmentInvalid(
            f"no plan pays {rep_id} for {the_period} (a period of the rep's plan, e.g. a "
            "quarter for a quarterly plan, while the rep is employed)",
            field="period",
        )
    paid = sorted({v.plan.currency for v in versions})
    if currency in paid:
        if fx_rate is not None:
            raise AdjustmentInvalid(
                f"the amount is in {currency}, which {rep_id}'s plan pays: leave the FX rate out",
                field="fx_rate",
            )
        return Payable(currency, None, amount)
    if len(paid) > 1:
        raise AdjustmentInvalid(
            f"{rep_id}'s plans pay in {', '.join(paid)}: propose the adjustment in one of them",
            field="currency",
        )
    if fx_rate is None:
        raise AdjustmentInvalid(
            f"{rep_id}'s plan pays in {paid[0]}, not {currency}: state the FX rate "
            f"({paid[0]} per 1 {currency}) or propose the amount in {paid[0]}",
            field="currency",
        )
    if fx_rate <= 0:
        raise AdjustmentInvalid("the FX rate must be above 0", field="fx_rate")
    converted = round_money(amount * fx_rate, paid[0])
    if converted == 0:
        raise AdjustmentInvalid(
            f"{amount} {currency} at {fx_rate} is 0 {paid[0]}: nothing to pay", field="amount"
        )
    return Payable(paid[0], fx_rate, converted)


def check_approval(
    adjustment: Adjustment | None, proposal_id: str, by: str, *, single_approver: bool = False
) -> None:
    """Refuse an approval: of no proposal (404), of a decided one (409), by its proposer
    (403, unless single-approver mode is on)."""
    current = _current(adjustment, proposal_id)
    if same_person(current.proposal.proposed_by, by) and not single_approver:
        raise AdjustmentForbidden(
            f"{by} proposed this adjustment: a different finance user must approve it "
            "(maker–checker rule)",
            field="approved_by",
        )


def check_rejection(adjustment: Adjustment | None, proposal_id: str, by: str, reason: str) -> None:
    """Refuse a rejection: of no proposal (404), of a decided one (409), without a reason
    (422).  The proposer may withdraw their own proposal by rejecting it."""
    _current(adjustment, proposal_id)
    if not reason or not reason.strip():
        raise AdjustmentInvalid("a rejection needs a reason", field="reason")


def _current(adjustment: Adjustment | None, proposal_id: str) -> Adjustment:
    if adjustment is None:
        raise AdjustmentNotFound(f"no adjustment proposal {proposal_id!r}", field="proposal_id")
    if adjustment.status is not Status.PENDING:
        raise AdjustmentConflict(
            f"adjustment {proposal_id} was already {adjustment.status.value} "
            f"by {adjustment.decided_by}",
            field="proposal_id",
        )
    return adjustment


# ------------------------------------------------------------------------ reading


def adjustments(facts: Facts, period: str | Period | None = None) -> list[Adjustment]:
    """Every proposal with the decision that stands on it, oldest first (in a period if
    given)."""
    name = None if period is None else str(period)
    found = [
        Adjustment(p, decision_of(p, facts.adjustment_decisions.get(p.event_id, ())))
        for p in facts.adjustment_proposals.values()
        if name is None or p.period == name
    ]
    return sorted(found, key=lambda a: (a.proposal.proposed_at, a.proposal_id))


def pending(facts: Facts, period: str | Period | None = None) -> list[Adjustment]:
    """The proposals awaiting approval (in a period if given), oldest first: never paid."""
    return [a for a in adjustments(facts, period) if a.status is Status.PENDING]
