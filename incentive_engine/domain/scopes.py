"""Write scopes: which event types a caller may append, defined once for every door.

A scope is a set of event type names, written as groups and type names joined by ``+``
(``crm+quotas``, ``crm+FxRateSet``).  Each role has a default scope; an API key, the Kafka
worker and the ``ingest`` command may be configured with another.  The ingest service refuses
every record whose type is outside the writer's scope, naming the type and what the writer
may write.  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from incentive_engine.domain.errors import Forbidden, Invalid
from incentive_engine.domain.visibility import Role

__all__ = [
    "GROUPS",
    "ROLE_SCOPES",
    "ScopeError",
    "WriteScope",
    "parse_scope",
    "scope_for",
]

GROUPS: dict[str, tuple[str, ...]] = {
    "org": ("RepHired", "RepTransferred", "RepTerminated"),
    "pipeline": ("OpportunityCreated", "OpportunityStageChanged"),
    "deals": ("DealWon", "DealLost", "DealAmended", "DealCancelled"),
    "billing": ("InvoiceIssued", "InvoiceCancelled", "PaymentReceived", "PaymentRefunded"),
    "activities": ("ActivityLogged",),
    "leads": ("LeadCreated", "LeadQualified"),
    "territories": (
        "TerritoryModelDefined",
        "TerritoryDefined",
        "TerritoryAssigned",
        "TerritoryReassigned",
    ),
    "quotas": ("QuotaSet", "QuotaChanged"),
    "plans": ("PlanVersionPublished",),
    "closes": ("PeriodClosed",),
    "adjustments": ("ManualAdjustment",),
    "approvals": ("AdjustmentProposed", "AdjustmentApproved", "AdjustmentRejected"),
    "disputes": ("DisputeRaised", "DisputeCommented", "DisputeResolved"),
    "fx": ("FxRateSet",),
    "voids": ("EventVoidProposed", "EventVoidApproved"),
    "acceptances": ("PlanAccepted",),
}
"""Named groups of event types.  ``crm`` (below) is org, pipeline, deals, billing (invoices
and payments, which the CRM or the accounting system sends), activities, leads."""

ALIASES: dict[str, tuple[str, ...]] = {
    "crm": ("org", "pipeline", "deals", "billing", "activities", "leads"),
    "all": tuple(GROUPS),
}
"""Groups of groups."""

ROLE_SCOPES: dict[Role, str] = {
    Role.INTEGRATION: "crm",
    Role.FINANCE: "crm+territories+quotas+fx",
    Role.PLAN_ADMIN: "plans+territories+quotas",
    Role.MANAGER: "",
    Role.REP: "",
}
"""What each role may write through the generic event door (``POST /v1/events``) unless its
API key says otherwise.  Closes, disputes, voids and adjustments are written by their own
services (period close, the dispute workflow, the two-person void, the maker–checker
adjustment workflow: ``approvals``, finance only), which stamp who did it; plans by plan
publishing; plan acceptances (``acceptances``) by the acceptance service, which checks who
may accept for whom.  Nobody writes them raw unless a key is configured for it: an
adjustment is paid only once a second finance user approves it, so finance does not post a
raw ``ManualAdjustment`` either."""


class ScopeError(Invalid, ValueError):
    """A scope that names an unknown group or event type."""


@dataclass(frozen=True)
class WriteScope:
    """The event types a writer may append, and how the scope was written."""

    name: str
    types: frozenset[str]

    def allows(self, event_type: str) -> bool:
        """Whether the writer may append events of this type."""
        return event_type in self.types

    def describe(self) -> str:
        """What the writer may write, for refusals: the scope and its types."""
        if not self.types:
            return f"scope {self.name or '(none)'}: no event types"
        return f"scope {self.name}: {', '.join(sorted(self.types))}"

    def refusal(self, event_type: str, who: str = "this writer") -> str:
        """The reason an event type is refused."""
        return f"{who} may not write {event_type} events ({self.describe()})"

    def check(self, event_types: Iterable[str], who: str = "this writer") -> None:
        """Raise Forbidden naming the first type outside the scope."""
        for event_type in event_types:
            if not self.allows(event_type):
                raise Forbidden(self.refusal(event_type, who))

    def widened(self, extra: str) -> WriteScope:
        """This scope plus the groups and types of another scope text."""
        more = parse_scope(extra)
        if not more.types - self.types:
            return self
        return WriteScope(f"{self.name}+{more.name}", self.types | more.types)


def parse_scope(text: str, known_types: Iterable[str] | None = None) -> WriteScope:
    """A scope from its text: groups, aliases and event type names joined by ``+``."""
    from incentive_engine.domain.events import EVENT_CLASSES

    known = set(known_types) if known_types is not None else set(EVENT_CLASSES)
    types: set[str] = set()
    parts = [p.strip() for p in text.split("+") if p.strip()]
    for part in parts:
        if part in ALIASES:
            for group in ALIASES[part]:
                types.update(GROUPS[group])
        elif part in GROUPS:
            types.update(GROUPS[part])
        elif part in known:
            types.add(part)
        else:
            names = ", ".join([*sorted(ALIASES), *sorted(GROUPS)])
            raise ScopeError(
                f"unknown write scope {part!r}: use groups ({names}) or event type names, "
                "joined by '+'"
            )
    return WriteScope("+".join(parts), frozenset(types))


def scope_for(role: Role, configured: str | None = None) -> WriteScope:
    """A role's write scope: the configured one (an API key's), else the role's default."""
    return parse_scope(configured if configured is not None else ROLE_SCOPES[Role(role)])
