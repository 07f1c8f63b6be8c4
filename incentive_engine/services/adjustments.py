"""Manual adjustments with maker–checker approval: propose, approve, reject, list.

Every door (the CLI ``adjust``, ``/v1/adjustments``, the ``/adjustments`` page and the dispute
workflow) goes through this service: it checks the proposal against the facts (the rep, a
period the rep's plan pays, a currency it can pay or a stated FX rate), applies the pure rules
of ``incentive_engine.domain.adjustments`` (no self-approval unless single-approver mode is
configured, decided once, a rejection has a reason) and appends one event through the ingest
service, which checks the maker–checker rule again.  Who may act (finance) is the door's check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from incentive_engine.domain.adjustments import (
    Adjustment,
    AdjustmentConflict,
    AdjustmentInvalid,
    AdjustmentNotFound,
    Status,
    adjustments,
    check_approval,
    check_proposal,
    check_rejection,
)
from incentive_engine.domain.events import (
    AdjustmentApproved,
    AdjustmentProposed,
    AdjustmentRejected,
    Event,
    content_hash,
    event_content,
)
from incentive_engine.domain.periods import Period
from incentive_engine.domain.scopes import parse_scope
from incentive_engine.services.engine import Engine
from incentive_engine.services.ingest import IngestService, RawRecord
from incentive_engine.store.event_store import utc_now

__all__ = ["STATUS_FILTERS", "AdjustmentService", "build"]

STATUS_FILTERS = ("pending", "approved", "rejected", "decided", "all")
"""What a listing may be filtered by (``decided``: approved or rejected)."""

Clock = Callable[[], datetime]


class AdjustmentService:
    """Propose, approve, reject and list manual adjustments against the engine's facts."""

    def __init__(
        self, engine: Engine, *, single_approver: bool | None = None, clock: Clock = utc_now
    ) -> None:
        self.engine = engine
        self.store = engine.store
        configured = engine.settings.adjustments_single_approver
        self.single_approver = configured if single_approver is None else single_approver
        self.clock = clock

    # ----------------------------------------------------------------- reading

    def list(self, status: str | None = None, period: str | None = None) -> list[Adjustment]:
        """Proposals with where they stand, oldest first, filtered by status and period."""
        chosen = status or "all"
        if chosen not in STATUS_FILTERS:
            raise AdjustmentInvalid(
                f"status must be one of {', '.join(STATUS_FILTERS)}", field="status"
            )
        if period is not None:
            try:
                period = str(Period.parse(period))
            except ValueError as exc:
                raise AdjustmentInvalid(str(exc), field="period") from None
        found = adjustments(self.engine.snapshot().facts, period)
        if chosen == "all":
            return found
        if chosen == "decided":
            return [a for a in found if a.status is not Status.PENDING]
        return [a for a in found if a.status.value == chosen]

    def get(self, proposal_id: str) -> Adjustment:
        """One proposal (404 when there is none)."""
        found = self._find(proposal_id)
        if found is None:
            raise AdjustmentNotFound(f"no adjustment proposal {proposal_id!r}", field="proposal_id")
        return found

    def _find(self, proposal_id: str) -> Adjustment | None:
        facts = self.engine.snapshot().facts
        proposal = facts.adjustment_proposals.get(proposal_id)
        if proposal is None:
            return None
        return next(a for a in adjustments(facts, proposal.period) if a.proposal_id == proposal_id)

    def choices(self) -> tuple[list[tuple[str, str]], list[str], str | None]:
        """What a proposal form offers: the reps (id, name), the plan periods (newest first)
        and the currency most plans pay."""
        snap = self.engine.snapshot()
        facts, book = snap.facts, snap.book
        reps = sorted(
            ((r.rep_id, r.name) for r in facts.reps.values() if r.hire_date is not None),
            key=lambda r: (r[1].casefold(), r[0]),
        )
        periods = [str(p) for p in reversed(book.periods(facts))]
        currencies = [v.plan.currency for v in book.versions]
        common = max(sorted(set(currencies)), key=currencies.count) if currencies else None
        return reps, periods, common

    # ----------------------------------------------------------------- writing

    def propose(
        self,
        *,
        rep_id: str,
        period: str,
        amount: Decimal,
        currency: str,
        reason: str,
        by: str,
        fx_rate: Decimal | None = None,
        at: datetime | None = None,
    ) -> tuple[Adjustment, bool]:
        """Propose an adjustment (checked now, paid once approved); returns it and whether it
        was new (the same proposal made again is one proposal)."""
        proposal = self.proposal(
            rep_id=rep_id,
            period=period,
            amount=amount,
            currency=currency,
            reason=reason,
            by=by,
            fx_rate=fx_rate,
            at=at,
        )
        new = self._append([proposal], f"adjustment by {by}")
        return self.get(proposal.event_id), new

    def proposal(
        self,
        *,
        rep_id: str,
        period: str,
        amount: Decimal,
        currency: str,
        reason: str,
        by: str,
        fx_rate: Decimal | None = None,
        at: datetime | None = None,
        dispute_id: str | None = None,
    ) -> AdjustmentProposed:
        """The proposal event, checked against the facts (not stored): its id is made from
        its content, so proposing the same thing twice is one proposal."""
        currency = currency.strip().upper()
        if not reason or not reason.strip():
            raise AdjustmentInvalid("a reason is required", field="reason")
        payable = check_proposal(
            self.engine.snapshot().facts,
            rep_id=rep_id,
            period=period,
            amount=amount,
            currency=currency,
            fx_rate=fx_rate,
        )
        at = at or self.clock()
        values: dict[str, Any] = {
            "rep_id": rep_id,
            "period": str(Period.parse(period)),
            "amount": amount,
            "currency": currency,
            "fx_rate": payable.fx_rate,
            "pay_currency": payable.pay_currency if payable.fx_rate is not None else None,
            "reason": reason,
            "proposed_by": by,
            "proposed_at": at,
            "dispute_id": dispute_id,
        }
        basis = {k: (str(v) if v is not None else None) for k, v in values.items()}
        values["event_id"] = "adj-" + content_hash(basis).removeprefix("sha256:")[:20]
        event: AdjustmentProposed = build(AdjustmentProposed, **values)
        return event

    def approve(self, proposal_id: str, *, by: str) -> Adjustment:
        """Approve a pending proposal as a finance user other than its proposer (or as its
        proposer in single-approver mode): it is paid from now on."""
        current = self._find(proposal_id)
        check_approval(current, proposal_id, by, single_approver=self.single_approver)
        assert current is not None
        own = current.proposal.proposed_by.strip().casefold() == by.strip().casefold()
        event = build(
            AdjustmentApproved,
            event_id=f"{proposal_id}:approved",
            proposal_id=proposal_id,
            approved_by=by,
            approved_at=self.clock(),
            single_approver=True if own else None,
        )
        self._append([event], f"adjustment approval by {by}")
        return self.get(proposal_id)

    def reject(self, proposal_id: str, *, by: str, reason: str) -> Adjustment:
        """Reject a pending proposal with a reason: it is never paid."""
        current = self._find(proposal_id)
        check_rejection(current, proposal_id, by, reason)
        event = build(
            AdjustmentRejected,
            event_id=f"{proposal_id}:rejected",
            proposal_id=proposal_id,
            rejected_by=by,
            reason=reason,
            rejected_at=self.clock(),
        )
        self._append([event], f"adjustment rejection by {by}")
        return self.get(proposal_id)

    # ----------------------------------------------------------------- helpers

    def _append(self, events: list[Event], source: str) -> bool:
        """Append through the ingest service (references and the maker–checker rule checked
        again); whether anything new was stored."""
        return append(self.store, events, source, "the adjustment workflow")


def append(
    store: Any, events: list[Event], source: str, writer: str, scope: str = "approvals"
) -> bool:
    """Append events through the ingest service, all or nothing; whether any was new."""
    records = [
        RawRecord(source, i, data, json.dumps(data, ensure_ascii=False))
        for i, data in enumerate((event_content(e) for e in events), start=1)
    ]
    service = IngestService(store, scope=parse_scope(scope), writer=writer)
    report = service.ingest(source, lambda: records)
    if report.errors:
        first = report.errors[0]
        if first.field == "proposal_id" and "already decided" in first.reason:
            raise AdjustmentConflict(f"{first.field}: {first.reason}", field=first.field)
        if first.field == "event_id" and first.reason.startswith("conflict"):
            raise AdjustmentConflict(
                "the adjustment was changed meanwhile by another request; read it again"
            )
        raise AdjustmentInvalid(f"{first.field}: {first.reason}", field=first.field)
    if report.conflicts:
        raise AdjustmentConflict(
            "the adjustment was changed meanwhile by another request; read it again"
        )
    return report.duplicates < len(events)


def build(cls: type[Any], **values: Any) -> Any:
    """An event from values; a bad value becomes AdjustmentInvalid naming the field."""
    try:
        return cls(**values)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = ".".join(str(p) for p in err["loc"]) or None
        raise AdjustmentInvalid(f"{name or 'request'}: {err['msg']}", field=name) from None
