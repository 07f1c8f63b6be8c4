"""Disputes of statement lines, as events, and the service that raises, comments and resolves them.

Every step of a dispute is an event (DESIGN §2): ``DisputeRaised`` (a rep, their manager or
finance disputes one line of the rep's statement and says what they expected),
``DisputeCommented`` and ``DisputeResolved`` (accepted, with the ``AdjustmentProposed`` that
proposes to pay the difference, paid once a finance user other than the one who accepted
approves it; or rejected, with the reason).  Disputes accepted before the approval workflow
name a ``ManualAdjustment``, paid as it was.  The three types belong to the event
catalogue (``incentive_engine.domain.events``, next to ``ManualAdjustment``, so that the catalogue
imports nothing back); they are re-exported here.

Disputes are kept out of ``Facts`` (they change no pay; an accepted dispute's adjustment
does, once approved, like any manual adjustment): ``fold_disputes`` folds them, purely, from
the dispute events and the adjustment events of the log.  ``DisputeService`` is the shell:
access rules, checks against the rep's statement, and appends through the ingest service.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from incentive_engine.domain import visibility
from incentive_engine.domain.adjustments import ADJUSTMENT_TYPES, decision_of
from incentive_engine.domain.adjustments import Status as AdjustmentStatus
from incentive_engine.domain.errors import Conflict, EngineError, Forbidden, Invalid, NotFound
from incentive_engine.domain.events import (
    AdjustmentApproved,
    AdjustmentProposed,
    AdjustmentRejected,
    DisputeCommented,
    DisputeOutcome,
    DisputeRaised,
    DisputeResolved,
    Event,
    ManualAdjustment,
    event_content,
)
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from incentive_engine.domain.scopes import parse_scope
from incentive_engine.domain.visibility import Role, Viewer
from incentive_engine.services.commissions import CommissionError, rep_statements
from incentive_engine.services.engine import Engine
from incentive_engine.services.ingest import IngestService, RawRecord
from incentive_engine.store.event_store import utc_now
from plans.evaluate import EvaluationError, Statement

__all__ = [
    "DISPUTE_TYPES",
    "Actor",
    "Dispute",
    "DisputeCommented",
    "DisputeConflict",
    "DisputeError",
    "DisputeForbidden",
    "DisputeInvalid",
    "DisputeNotFound",
    "DisputeOutcome",
    "DisputeRaised",
    "DisputeResolved",
    "DisputeService",
    "Status",
    "fold_disputes",
]

DISPUTE_TYPES = ("DisputeRaised", "DisputeCommented", "DisputeResolved")
"""The event types of disputes."""

FINANCE, MANAGER, REP = Role.FINANCE, Role.MANAGER, Role.REP
"""The roles the dispute rules name."""

_TEXT_MAX = 500


class Status(StrEnum):
    """Where a dispute stands."""

    OPEN = "open"
    ACCEPTED = "resolved-accepted"
    REJECTED = "resolved-rejected"


STATUS_FILTERS = ("open", "resolved-accepted", "resolved-rejected", "resolved", "all")
"""What a queue may be filtered by (``resolved``: either outcome; ``all``: every dispute)."""


# ------------------------------------------------------------------------ errors


class DisputeError(EngineError, ValueError):
    """A dispute operation that cannot be carried out (nothing was written); ``field`` names
    the input at fault."""


class DisputeNotFound(DisputeError, NotFound):
    """No such dispute, rep, statement or plan."""


class DisputeForbidden(DisputeError, Forbidden):
    """The caller may not do this."""


class DisputeConflict(DisputeError, Conflict):
    """The dispute is not in a state that allows this (resolved already, a line disputed
    twice, a concurrent writer)."""


class DisputeInvalid(DisputeError, Invalid):
    """The request itself is wrong (a line that does not exist, a missing reason...)."""


# -------------------------------------------------------------------------- fold


@dataclass
class Dispute:
    """A dispute as folded from its events."""

    raised: DisputeRaised
    comments: list[DisputeCommented] = field(default_factory=list)
    resolution: DisputeResolved | None = None
    adjustment: ManualAdjustment | AdjustmentProposed | None = None
    """What an accepted dispute pays: its proposed adjustment (or, accepted before approvals
    existed, its ManualAdjustment)."""
    adjustment_status: AdjustmentStatus | None = None
    """Whether that adjustment is pending approval, approved (paid) or rejected."""

    @property
    def dispute_id(self) -> str:
        """The dispute's id."""
        return self.raised.dispute_id

    @property
    def status(self) -> Status:
        """open, resolved-accepted or resolved-rejected."""
        if self.resolution is None:
            return Status.OPEN
        if self.resolution.outcome is DisputeOutcome.ACCEPTED:
            return Status.ACCEPTED
        return Status.REJECTED

    @property
    def event_ids(self) -> list[str]:
        """The events behind the dispute, in effective order."""
        found = [self.raised.event_id, *(c.event_id for c in self.comments)]
        if self.resolution is not None:
            found.append(self.resolution.event_id)
        if self.adjustment is not None:
            found.append(self.adjustment.event_id)
        return found

    def as_dict(self) -> dict[str, Any]:
        """The dispute as a JSON-ready dict (amounts as exact strings)."""
        r = self.raised
        resolution = None
        if self.resolution is not None:
            s = self.resolution
            resolution = {
                "outcome": s.outcome.value,
                "reason": s.reason,
                "resolved_by": s.resolved_by,
                "at": s.at.isoformat(),
                "adjustment_event_id": s.adjustment_event_id,
                "adjustment_amount": None
                if self.adjustment is None
                else str(self.adjustment.amount),
                "adjustment_status": None
                if self.adjustment_status is None
                else self.adjustment_status.value,
            }
        return {
            "dispute_id": r.dispute_id,
            "status": self.status.value,
            "rep_id": r.rep_id,
            "period": r.period,
            "line": r.line,
            "plan_id": r.plan_id,
            "plan_version": r.plan_version,
            "component": r.component,
            "line_amount": None if r.line_amount is None else str(r.line_amount),
            "expected_amount": str(r.expected_amount),
            "currency": r.currency,
            "reason": r.reason,
            "attachment": r.attachment,
            "raised_by": r.raised_by,
            "raised_role": r.raised_role,
            "raised_at": r.raised_at.isoformat(),
            "comments": [
                {
                    "event_id": c.event_id,
                    "author": c.author,
                    "role": c.role,
                    "comment": c.comment,
                    "at": c.at.isoformat(),
                }
                for c in self.comments
            ],
            "resolution": resolution,
            "event_ids": self.event_ids,
        }


def fold_disputes(events: Iterable[Event]) -> dict[str, Dispute]:
    """Disputes by id, from dispute events and manual adjustments (pure, order-independent).

    Should two events raise one dispute id, or two resolve one dispute, the earliest by
    effective time then event id stands; comments are in (time, event id) order; comments
    and resolutions of a dispute never raised are ignored."""
    raised: dict[str, DisputeRaised] = {}
    comments: dict[str, list[DisputeCommented]] = {}
    resolved: dict[str, DisputeResolved] = {}
    adjustments: dict[str, ManualAdjustment | AdjustmentProposed] = {}
    decisions: dict[str, list[AdjustmentApproved | AdjustmentRejected]] = {}
    for event in events:
        match event:
            case DisputeRaised():
                kept = raised.get(event.dispute_id)
                if kept is None or _key(event) < _key(kept):
                    raised[event.dispute_id] = event
            case DisputeCommented():
                comments.setdefault(event.dispute_id, []).append(event)
            case DisputeResolved():
                kept_r = resolved.get(event.dispute_id)
                if kept_r is None or _key(event) < _key(kept_r):
                    resolved[event.dispute_id] = event
            case ManualAdjustment() | AdjustmentProposed():
                adjustments[event.event_id] = event
            case AdjustmentApproved() | AdjustmentRejected():
                decisions.setdefault(event.proposal_id, []).append(event)
            case _:
                pass
    found: dict[str, Dispute] = {}
    for dispute_id in sorted(raised):
        resolution = resolved.get(dispute_id)
        adjustment = None
        status = None
        if resolution is not None and resolution.adjustment_event_id is not None:
            adjustment = adjustments.get(resolution.adjustment_event_id)
        if isinstance(adjustment, ManualAdjustment):
            status = AdjustmentStatus.APPROVED
        elif adjustment is not None:
            decision = decision_of(adjustment, decisions.get(adjustment.event_id, ()))
            status = (
                AdjustmentStatus.PENDING
                if decision is None
                else AdjustmentStatus.APPROVED
                if isinstance(decision, AdjustmentApproved)
                else AdjustmentStatus.REJECTED
            )
        found[dispute_id] = Dispute(
            raised[dispute_id],
            sorted(comments.get(dispute_id, []), key=_key),
            resolution,
            adjustment,
            status,
        )
    return found


def _unvoided(event_id: str, voided: Mapping[str, str]) -> str:
    """The id for an event of a dispute: itself, or the next ``id:N`` when a voided event
    holds it (a resolution voided reopens its dispute, which may be resolved again)."""
    candidate, n = event_id, 1
    while candidate in voided:
        n += 1
        candidate = f"{event_id}:{n}"
    return candidate


def _key(event: Event) -> tuple[datetime, str]:
    return (event.effective_at, event.event_id)


def _matches(dispute: Dispute, status: str) -> bool:
    """Whether a dispute passes a status filter."""
    if status == "all":
        return True
    if status == "resolved":
        return dispute.status is not Status.OPEN
    return dispute.status.value == status


# ------------------------------------------------------------------------ access


Actor = Viewer
"""Who acts: a role and a subject (a rep id for reps and managers)."""


def may_see(actor: Actor, rep_id: str, facts: Facts, day: date) -> bool:
    """Finance sees every dispute; a rep their own; a manager their own and their reports'
    (the visibility rule of pay, on the reporting lines of ``day``)."""
    return visibility.may_see(actor, rep_id, facts, day)


def may_resolve(actor: Actor, rep_id: str, facts: Facts, day: date) -> bool:
    """Finance, or a manager above the rep on ``day`` (never the rep themselves)."""
    return actor.role is Role.FINANCE or visibility.manages(actor, rep_id, facts, day)


def _period_end(text: str) -> date:
    return visibility.figure_day(Period.parse(text))


# ----------------------------------------------------------------------- service

Clock = Callable[[], datetime]


class DisputeService:
    """Raise, comment on, resolve and list disputes, with the access rules of each step.

    Reads statements from the engine's facts (caught up when the service is made); appends
    every event through the ingest service (validation, references, idempotence by event id)."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = utc_now,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self.store = engine.store
        self.snap = engine.snapshot()
        self.clock = clock
        self.new_id = new_id or (lambda: "dsp-" + uuid.uuid4().hex[:16])

    # ----------------------------------------------------------------- reading

    def disputes(self) -> dict[str, Dispute]:
        """Every dispute of the log, leaving out voided events as the fold does (a voided
        resolution reopens its dispute; a voided raise removes it with what followed)."""
        types = [*DISPUTE_TYPES, "ManualAdjustment", *ADJUSTMENT_TYPES]
        voided = self.store.voids()
        return fold_disputes(
            r.event for r in self.store.read(types=types) if r.event.event_id not in voided
        )

    def get(self, actor: Actor, dispute_id: str) -> Dispute:
        """One dispute the caller may read (403 for others, whether or not it exists; finance
        is told when it does not)."""
        self._check_role(actor, (REP, MANAGER, FINANCE), "read disputes")
        dispute = self.disputes().get(dispute_id)
        if dispute is None:
            if actor.role == FINANCE:
                raise DisputeNotFound(f"no dispute {dispute_id!r}")
            raise DisputeForbidden("you may not read this dispute")
        if not may_see(
            actor, dispute.raised.rep_id, self.snap.facts, _period_end(dispute.raised.period)
        ):
            raise DisputeForbidden("you may not read this dispute")
        return dispute

    def queue(self, actor: Actor, status: str | None = None) -> list[Dispute]:
        """The disputes the caller may read, oldest first: finance all, a manager their own
        and their reports', a rep their own.  By default finance and managers see the open
        ones (their queue), reps all of theirs with their status."""
        self._check_role(actor, (REP, MANAGER, FINANCE), "read disputes")
        chosen = status or ("all" if actor.role == REP else "open")
        if chosen not in STATUS_FILTERS:
            raise DisputeInvalid(
                f"status must be one of {', '.join(STATUS_FILTERS)}", field="status"
            )
        facts = self.snap.facts
        found = [
            d
            for d in self.disputes().values()
            if _matches(d, chosen)
            and may_see(actor, d.raised.rep_id, facts, _period_end(d.raised.period))
        ]
        return sorted(found, key=lambda d: (d.raised.raised_at, d.dispute_id))

    # ----------------------------------------------------------------- writing

    def raise_dispute(
        self,
        actor: Actor,
        *,
        period: str,
        line: int,
        reason: str,
        expected_amount: Decimal,
        rep_id: str | None = None,
        plan_id: str | None = None,
        currency: str | None = None,
        attachment: str | None = None,
    ) -> Dispute:
        """Dispute a line of a rep's statement: a rep their own, a manager a report's (or
        their own), finance anyone's.  The line must exist on the statement as it stands."""
        self._check_role(actor, (REP, MANAGER, FINANCE), "raise disputes")
        if rep_id is None:
            if actor.role == FINANCE:
                raise DisputeInvalid("rep_id is required", field="rep_id")
            rep_id = actor.subject
        try:
            the_period = Period.parse(period)
        except ValueError as exc:
            raise DisputeInvalid(str(exc), field="period") from None
        facts = self.snap.facts
        if not may_see(actor, rep_id, facts, the_period.end):
            raise DisputeForbidden("you may not dispute this rep's statement")
        statement = self._statement(rep_id, the_period, plan_id)
        if not 1 <= line <= len(statement.lines):
            raise DisputeInvalid(
                f"the {statement.plan_id} statement of {rep_id} for {the_period} has "
                f"{len(statement.lines)} line(s); there is no line {line}",
                field="line",
            )
        disputed = statement.lines[line - 1]
        currency = (currency or statement.currency).upper()
        if currency != statement.currency:
            raise DisputeInvalid(
                f"the statement pays in {statement.currency}, not {currency}", field="currency"
            )
        for d in self.disputes().values():
            r = d.raised
            if d.status is Status.OPEN and (r.rep_id, r.period, r.plan_id, r.line) == (
                rep_id,
                str(the_period),
                statement.plan_id,
                line,
            ):
                raise DisputeConflict(f"line {line} is already disputed by {d.dispute_id}")
        dispute_id = self.new_id()
        event = self._event(
            DisputeRaised,
            event_id=f"dispute:{dispute_id}:raised",
            dispute_id=dispute_id,
            rep_id=rep_id,
            period=str(the_period),
            line=line,
            plan_id=statement.plan_id,
            plan_version=statement.plan_version,
            component=disputed.component,
            line_amount=disputed.amount,
            reason=reason,
            expected_amount=expected_amount,
            currency=currency,
            attachment=attachment or None,
            raised_by=actor.subject,
            raised_role=actor.role,
            raised_at=self.clock(),
        )
        self._append([event], f"dispute:{dispute_id}")
        return self._reread(dispute_id)

    def comment(self, actor: Actor, dispute_id: str, text: str) -> Dispute:
        """Comment on an open dispute: its rep, a manager who may read it, or finance."""
        self._check_role(actor, (REP, MANAGER, FINANCE), "comment on disputes")
        dispute = self.get(actor, dispute_id)
        if dispute.status is not Status.OPEN:
            raise DisputeConflict(f"dispute {dispute_id} is {dispute.status.value}")
        event = self._event(
            DisputeCommented,
            event_id=f"dispute:{dispute_id}:comment:{uuid.uuid4().hex[:16]}",
            dispute_id=dispute_id,
            author=actor.subject,
            role=actor.role,
            comment=text,
            at=self.clock(),
        )
        self._append([event], f"dispute:{dispute_id}")
        return self._reread(dispute_id)

    def resolve(
        self,
        actor: Actor,
        dispute_id: str,
        *,
        outcome: DisputeOutcome,
        reason: str | None = None,
        amount: Decimal | None = None,
    ) -> Dispute:
        """Accept or reject an open dispute (finance, or a manager above the rep).

        Rejecting needs a reason.  Accepting *proposes* an adjustment on the disputed period
        for ``amount``, by default the expected amount minus the line's amount when the
        dispute was raised, citing the dispute; it is paid once a finance user other than the
        one who accepted approves it (``services.adjustments``).  The proposal and the
        resolution are appended together."""
        self._check_role(actor, (MANAGER, FINANCE), "resolve disputes")
        dispute = self.get(actor, dispute_id)
        raised = dispute.raised
        if not may_resolve(actor, raised.rep_id, self.snap.facts, _period_end(raised.period)):
            raise DisputeForbidden("only finance or the rep's manager may resolve this dispute")
        if dispute.status is not Status.OPEN:
            raise DisputeConflict(f"dispute {dispute_id} is already {dispute.status.value}")
        at = self.clock()
        voided = self.store.voids()
        resolved_id = _unvoided(f"dispute:{dispute_id}:resolved", voided)
        if outcome is DisputeOutcome.REJECTED:
            if not reason or not reason.strip():
                raise DisputeInvalid("a rejection needs a reason", field="reason")
            if amount is not None:
                raise DisputeInvalid("a rejection pays no amount", field="amount")
            resolution = self._event(
                DisputeResolved,
                event_id=resolved_id,
                dispute_id=dispute_id,
                outcome=outcome,
                reason=reason,
                resolved_by=actor.subject,
                at=at,
            )
            self._append([resolution], f"dispute:{dispute_id}")
            return self._reread(dispute_id)
        if amount is None:
            if raised.line_amount is None:
                raise DisputeInvalid(
                    "the dispute does not record the line's amount: give the amount",
                    field="amount",
                )
            amount = raised.expected_amount - raised.line_amount
        if amount == 0:
            raise DisputeInvalid(
                "the adjustment would be 0: give an amount, or reject the dispute", field="amount"
            )
        why = f"dispute {dispute_id}, line {raised.line}: {reason or raised.reason}"
        adjustment = self._event(
            AdjustmentProposed,
            event_id=_unvoided(f"dispute:{dispute_id}:adjustment", voided),
            rep_id=raised.rep_id,
            period=raised.period,
            amount=amount,
            currency=raised.currency,
            reason=why[:_TEXT_MAX],
            proposed_by=actor.subject,
            proposed_at=at,
            dispute_id=dispute_id,
        )
        resolution = self._event(
            DisputeResolved,
            event_id=resolved_id,
            dispute_id=dispute_id,
            outcome=outcome,
            reason=reason or None,
            resolved_by=actor.subject,
            at=at,
            adjustment_event_id=adjustment.event_id,
        )
        self._append([adjustment, resolution], f"dispute:{dispute_id}")
        return self._reread(dispute_id)

    # ----------------------------------------------------------------- helpers

    @staticmethod
    def _check_role(actor: Actor, roles: tuple[str, ...], what: str) -> None:
        if actor.role not in roles:
            raise DisputeForbidden(
                f"the {actor.role} role may not {what} (allowed: {', '.join(roles)})"
            )

    def _statement(self, rep_id: str, period: Period, plan_id: str | None) -> Statement:
        """The rep's statement for the period under a plan (the only one if none is named)."""
        try:
            found = rep_statements(self.snap, rep_id, period)
        except CommissionError as exc:
            raise DisputeNotFound(str(exc)) from None
        except EvaluationError as exc:
            raise DisputeConflict(str(exc)) from None
        if plan_id is not None:
            chosen = [s for s in found if s.plan_id == plan_id]
            if not chosen:
                plans = ", ".join(s.plan_id for s in found)
                raise DisputeNotFound(
                    f"{rep_id} has no {period} statement under plan {plan_id!r} (plans: {plans})"
                )
            return chosen[0]
        if len(found) > 1:
            plans = ", ".join(s.plan_id for s in found)
            raise DisputeInvalid(
                f"{rep_id} has statements under several plans in {period} ({plans}): "
                "name the plan_id",
                field="plan_id",
            )
        return found[0]

    @staticmethod
    def _event(cls: type[Event], **values: Any) -> Any:
        """An event built from values, invalid values becoming DisputeInvalid."""
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            name = ".".join(str(p) for p in err["loc"]) or None
            raise DisputeInvalid(f"{name or 'request'}: {err['msg']}", field=name) from None

    def _append(self, events: list[Event], source: str) -> None:
        """Append events through the ingest service, all or nothing."""
        records = [
            RawRecord(source, i, data, json.dumps(data, ensure_ascii=False))
            for i, data in enumerate((event_content(e) for e in events), start=1)
        ]
        service = IngestService(
            self.store, scope=parse_scope("disputes+approvals"), writer="the dispute workflow"
        )
        report = service.ingest(source, lambda: records)
        if report.errors:
            first = report.errors[0]
            if first.field == "event_id" and first.reason.startswith("conflict"):
                raise DisputeConflict(
                    "the dispute was changed meanwhile by another request; read it again"
                )
            raise DisputeInvalid(f"{first.field}: {first.reason}", field=first.field)
        if report.conflicts:
            raise DisputeConflict(
                "the dispute was changed meanwhile by another request; read it again"
            )

    def _reread(self, dispute_id: str) -> Dispute:
        found = self.disputes().get(dispute_id)
        if found is None:  # pragma: no cover - just appended
            raise DisputeNotFound(f"no dispute {dispute_id!r}")
        return found
