"""Plan acceptance over the store: a rep accepts the plan version that pays them (or finance
records a paper signature), the report of who has and has not accepted, and the acceptance
shown beside a statement (never inside it: statements and their hashes do not change).
The rules are the domain's (``incentive_engine.domain.acceptance``); every event goes through
the ingest service (validation, references, idempotence by event id)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from incentive_engine.domain import acceptance
from incentive_engine.domain.errors import Conflict, EngineError, Forbidden, Invalid, NotFound
from incentive_engine.domain.events import PlanAccepted, acceptance_event_id, event_content
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.scopes import parse_scope
from incentive_engine.domain.visibility import Role, Viewer
from incentive_engine.services.ingest import IngestService, RawRecord
from incentive_engine.store.event_store import utc_now

if TYPE_CHECKING:
    from incentive_engine.services.engine import Engine

__all__ = [
    "AcceptanceConflict",
    "AcceptanceError",
    "AcceptanceInvalid",
    "AcceptanceNotFound",
    "AcceptanceService",
    "Accepted",
    "statement_acceptance",
]


class AcceptanceError(EngineError):
    """A plan acceptance that cannot be recorded or read (nothing was written)."""


class AcceptanceInvalid(AcceptanceError, Invalid):
    """A bad acceptance: a version that does not cover the rep, an unknown rep, a bad value."""


class AcceptanceNotFound(AcceptanceError, NotFound):
    """No such published plan version."""


class AcceptanceConflict(AcceptanceError, Conflict):
    """Another acceptance of the same rep and version was written meanwhile."""


@dataclass(frozen=True)
class Accepted:
    """The outcome of an acceptance: the rep's row, and whether it had already been given."""

    row: acceptance.AcceptanceRow
    already: bool


def statement_acceptance(facts: Facts, rep_id: str, plan_id: str, version: int) -> dict[str, Any]:
    """Whether the rep accepted the plan version that pays a statement, to carry beside it
    (never inside: the statement's content and hash stay as they are)."""
    row = acceptance.row_of(facts, rep_id, plan_id, version)
    return {
        "accepted": row.accepted,
        "accepted_at": row.accepted_at.isoformat() if row.accepted_at else None,
        "how": row.how,
        "event_id": row.event_id,
    }


class AcceptanceService:
    """Accept a plan version and report acceptances, with the access rules of each."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self.store = engine.store
        self.clock = clock

    def _published(self, facts: Facts, plan_id: str, version: int) -> None:
        if version not in facts.plan_versions.get(plan_id, {}):
            raise AcceptanceNotFound(
                f"plan {plan_id} version {version} is not published", field="version"
            )

    def report(
        self, actor: Viewer, plan_id: str, version: int, *, day: date | None = None
    ) -> list[acceptance.AcceptanceRow]:
        """The covered reps of a published version the actor may see (a rep themself, a
        manager their reports on ``day``, finance and plan admins everyone), accepted or not."""
        if actor.role not in (Role.REP, Role.MANAGER, Role.FINANCE, Role.PLAN_ADMIN):
            raise Forbidden(f"the {actor.role.value} role may not read acceptances")
        facts = self.engine.snapshot().facts
        self._published(facts, plan_id, version)
        return acceptance.acceptance_rows(
            facts, plan_id, version, actor, day or self.clock().date()
        )

    def accept(
        self,
        actor: Viewer,
        plan_id: str,
        version: int,
        *,
        how: str,
        rep_id: str | None = None,
        reference: str | None = None,
        accepted_at: datetime | None = None,
    ) -> Accepted:
        """Record that a rep accepts a plan version: a rep for themself (web, api), finance a
        paper signature for any rep (``accepted_at``: when it was signed; ``reference``: where
        the signed copy is).  Accepting again is a no-op that returns the first acceptance."""
        if rep_id is None:
            if actor.role not in (Role.REP, Role.MANAGER):
                raise AcceptanceInvalid("rep_id is required", field="rep_id")
            rep_id = actor.subject
        acceptance.check_accept(actor, rep_id, how)
        if accepted_at is not None and how in acceptance.SELF_SERVICE:
            raise AcceptanceInvalid(
                "accepted_at is given only for a recorded (paper) acceptance; a rep's "
                "acceptance is stamped when it is made",
                field="accepted_at",
            )
        now = self.clock()
        if accepted_at is not None and accepted_at > now:
            raise AcceptanceInvalid("accepted_at is in the future", field="accepted_at")
        facts = self.engine.snapshot().facts
        self._published(facts, plan_id, version)
        earlier = acceptance.accepted(facts, rep_id, plan_id, version)
        if earlier is not None:
            return Accepted(acceptance.row_of(facts, rep_id, plan_id, version), already=True)
        try:
            event = PlanAccepted(
                event_id=acceptance_event_id(plan_id, version, rep_id),
                rep_id=rep_id,
                plan_id=plan_id,
                version=version,
                accepted_at=accepted_at or now,
                how=how,  # type: ignore[arg-type]
                reference=reference or None,
                recorded_by=actor.subject,
            )
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            name = ".".join(str(p) for p in err["loc"]) or "request"
            raise AcceptanceInvalid(f"{name}: {err['msg']}", field=name) from None
        self._append(event)
        facts = self.engine.snapshot().facts
        return Accepted(acceptance.row_of(facts, rep_id, plan_id, version), already=False)

    def _append(self, event: PlanAccepted) -> None:
        """Append the acceptance through the ingest service (references checked there)."""
        data = event_content(event)
        source = f"acceptance:{event.plan_id}:v{event.version}"
        record = RawRecord(source, 1, data, json.dumps(data, ensure_ascii=False))
        service = IngestService(
            self.store, scope=parse_scope("acceptances"), writer="plan acceptance"
        )
        report = service.ingest(source, lambda: [record])
        if report.errors:
            first = report.errors[0]
            if first.field == "event_id":
                raise AcceptanceConflict(first.reason, field="event_id")
            raise AcceptanceInvalid(f"{first.field}: {first.reason}", field=first.field)
        if report.conflicts:
            raise AcceptanceConflict(
                "the acceptance was recorded meanwhile by another request; read it again"
            )
