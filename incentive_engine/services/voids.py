"""Voiding a stored event: finance proposes, a different finance user approves (two-person rule).

The log is append-only: a void is a compensating pair of events (``EventVoidProposed``,
``EventVoidApproved``).  Once approved, the engine folds the log as if the voided event had
never been stored; closed periods it changed get prior-period adjustments citing the approval.
The voided event stays in the log (``events``, the audit chain) and in the audit pack, marked
voided.  A quarantined event (one that no longer validates) can be voided like any other:
that is how finance repairs a bad event without editing the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from incentive_engine.domain.errors import Conflict, EngineError, Forbidden, Invalid, NotFound
from incentive_engine.domain.events import (
    EventVoidApproved,
    EventVoidProposed,
    content_hash,
    event_content,
)
from incentive_engine.domain.isolation import summarise
from incentive_engine.domain.references import same_person
from incentive_engine.domain.scopes import parse_scope
from incentive_engine.services.ingest import IngestService, RawRecord
from incentive_engine.store.event_store import EventStore, utc_now

VOID_TYPES = ("EventVoidProposed", "EventVoidApproved")


class VoidError(EngineError):
    """A void that cannot be proposed or approved (nothing was written)."""


class VoidNotFound(VoidError, NotFound):
    """No such event to void, or no such proposal."""


class VoidForbidden(VoidError, Forbidden):
    """The two-person rule: the proposer may not approve their own proposal."""


class VoidConflict(VoidError, Conflict):
    """Already voided, already approved, or a void of a void."""


class VoidInvalid(VoidError, Invalid):
    """A proposal or approval with a bad value (an empty reason, a bad id)."""


@dataclass(frozen=True)
class VoidStatus:
    """One void proposal and where it stands."""

    proposal: EventVoidProposed
    approval: EventVoidApproved | None
    target_type: str | None
    target_position: int | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "proposal_id": self.proposal.event_id,
            "target_event_id": self.proposal.target_event_id,
            "target_type": self.target_type,
            "target_position": self.target_position,
            "reason": self.proposal.reason,
            "proposed_by": self.proposal.proposed_by,
            "proposed_at": self.proposal.proposed_at.isoformat(),
            "status": "approved" if self.approval else "proposed",
            "approval_id": self.approval.event_id if self.approval else None,
            "approved_by": self.approval.approved_by if self.approval else None,
            "approved_at": self.approval.approved_at.isoformat() if self.approval else None,
        }


def propose(
    store: EventStore, target_event_id: str, *, reason: str, by: str, now: datetime | None = None
) -> EventVoidProposed:
    """Propose to void a stored event (valid or quarantined); nothing changes until a
    different finance user approves."""
    now = now or utc_now()
    found = store.raw(target_event_id)
    if found is None:
        raise VoidNotFound(f"no stored event {target_event_id!r} to void", field="event_id")
    kind = summarise(found[1]).type
    if kind in VOID_TYPES:
        raise VoidConflict(f"{target_event_id!r} is a {kind}: a void cannot be voided")
    if target_event_id in store.voids():
        raise VoidConflict(f"event {target_event_id!r} is already voided")
    basis = {"target": target_event_id, "by": by, "at": now.isoformat(), "reason": reason}
    proposal_id = f"void:{target_event_id}:{content_hash(basis).removeprefix('sha256:')[:12]}"
    event = _build(
        EventVoidProposed,
        event_id=proposal_id,
        target_event_id=target_event_id,
        reason=reason,
        proposed_by=by,
        proposed_at=now,
    )
    _append(store, event, by)
    return event


def approve(
    store: EventStore, proposal_id: str, *, by: str, now: datetime | None = None
) -> EventVoidApproved:
    """Approve a void proposal as a second finance user (never its proposer): from then on
    every figure is computed as if the target had never been stored."""
    now = now or utc_now()
    recorded = store.get(proposal_id)
    proposal = recorded.event if recorded is not None else None
    if not isinstance(proposal, EventVoidProposed):
        raise VoidNotFound(f"no void proposal {proposal_id!r}", field="proposal_id")
    if same_person(proposal.proposed_by, by):
        raise VoidForbidden(
            f"{by!r} proposed this void: a different finance user must approve it (two-person rule)"
        )
    if proposal.target_event_id in store.voids():
        raise VoidConflict(f"event {proposal.target_event_id!r} is already voided")
    event = _build(
        EventVoidApproved,
        event_id=f"{proposal_id}:approved",
        proposal_id=proposal_id,
        target_event_id=proposal.target_event_id,
        approved_by=by,
        approved_at=now,
    )
    _append(store, event, by)
    return event


def voids(store: EventStore) -> list[VoidStatus]:
    """Every void proposal, with its approval if any, in log order."""
    approvals: dict[str, EventVoidApproved] = {}
    proposals: list[EventVoidProposed] = []
    for recorded in store.read(types=VOID_TYPES):
        if isinstance(recorded.event, EventVoidProposed):
            proposals.append(recorded.event)
        elif isinstance(recorded.event, EventVoidApproved):
            approvals.setdefault(recorded.event.proposal_id, recorded.event)
    approved = store.voids()
    found = []
    for p in proposals:
        target = store.raw(p.target_event_id)
        approval = approvals.get(p.event_id)
        if approval is not None and approved.get(p.target_event_id) != approval.event_id:
            approval = None  # an approval that breaks the two-person rule counts for nothing
        found.append(
            VoidStatus(
                p,
                approval,
                summarise(target[1]).type if target else None,
                target[0] if target else None,
            )
        )
    return found


def voided_events(store: EventStore) -> list[dict[str, Any]]:
    """The voided events as stored, each marked voided with its proposal and approval (for
    the audit pack)."""
    rows = []
    for status in voids(store):
        if status.approval is None:
            continue
        raw = store.raw(status.proposal.target_event_id)
        rows.append(
            {
                **status.as_dict(),
                "status": "voided",
                "recorded_at": raw[2] if raw else None,
                "event": raw[1] if raw else None,
            }
        )
    return rows


def _build(cls: type[Any], **values: Any) -> Any:
    """An event from values; a bad value becomes VoidInvalid naming the field."""
    from pydantic import ValidationError

    try:
        return cls(**values)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = ".".join(str(p) for p in err["loc"]) or None
        raise VoidInvalid(f"{name or 'request'}: {err['msg']}", field=name) from None


def _append(store: EventStore, event: EventVoidProposed | EventVoidApproved, by: str) -> None:
    """Append through the ingest service (references and the two-person rule checked again)."""
    source = f"void by {by}"
    data = event_content(event)
    records = [RawRecord(source, 1, data, json.dumps(data, ensure_ascii=False))]
    service = IngestService(store, scope=parse_scope("voids"), writer="the void workflow")
    report = service.ingest(source, lambda: records)
    if report.errors:
        first = report.errors[0]
        raise VoidConflict(f"{first.field}: {first.reason}", field=first.field)
    if report.conflicts:
        raise VoidConflict("this void was changed meanwhile by another request")
