"""Publishing and looking up plan versions in the event store.

A plan version is published as one ``PlanVersionPublished`` event whose id is derived from
the plan id and version (``plan:ID:vN``).  Published versions are immutable: publishing the
same document again is a reported no-op, a different document under a published version
is refused, and versions of a plan must rise.  Nothing is stored when a rule is broken.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from incentive_engine.domain.errors import Conflict, NotFound
from incentive_engine.domain.events import PlanVersionPublished, content_hash
from incentive_engine.domain.limits import STORED
from incentive_engine.store.event_store import EventStore
from plans.diff import diff_plans
from plans.documents import PlanVersion, plan_from_data, publication
from plans.model import Plan

PLAN_EVENT = "PlanVersionPublished"


class UnknownPlanVersion(NotFound, LookupError):
    """No such plan, or no such version of it (the message names what is published)."""


class PlanPublishError(Conflict, ValueError):
    """A plan version that may not be published (the message names plan id and version)."""

    def __init__(self, plan_id: str, version: int, reason: str) -> None:
        self.plan_id = plan_id
        self.version = version
        self.reason = reason
        super().__init__(f"plan {plan_id} v{version}: {reason}")


@dataclass(frozen=True)
class PublishResult:
    """What publishing did: the version as stored, whether it was already there, and the
    log position of its publishing event."""

    version: PlanVersion
    already_published: bool
    position: int

    @property
    def event_id(self) -> str:
        """The id of the publishing event."""
        return self.version.event_id

    @property
    def content_hash(self) -> str:
        """The content hash of the published document."""
        return self.version.content_hash


@dataclass(frozen=True)
class _Published:
    """A publishing event as read from the log, with its position and recorded time."""

    position: int
    event: PlanVersionPublished
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class Publication:
    """A published version with who published it, why, and when the log recorded it."""

    version: PlanVersion
    published_by: str | None
    reason: str | None
    recorded_at: datetime | None
    position: int


def _published(store: EventStore) -> dict[tuple[str, int], _Published]:
    """Every published (plan id, version) with its first publishing event in log order.

    The store's unique event ids keep ``publish`` from storing two documents under one
    version; should another path (a CRM export) have recorded a second event for the same
    version, the first one recorded stands."""
    found: dict[tuple[str, int], _Published] = {}
    for recorded in store.read(types=[PLAN_EVENT]):
        event = recorded.event
        assert isinstance(event, PlanVersionPublished)
        found.setdefault(
            (event.plan_id, event.version),
            _Published(recorded.position, event, recorded.recorded_at),
        )
    return found


def publish(
    store: EventStore,
    plan: Plan,
    *,
    published_by: str | None = None,
    reason: str | None = None,
    known_since: datetime | None = None,
) -> PublishResult:
    """Publish a plan version (recording who published it and why), or report that this very
    document is already published; raise PlanPublishError (storing nothing) when the version
    may not be published.  ``known_since``: a plan migrated with history, agreed in the old
    system at that (past) instant (stored as the event's source time)."""
    event = publication(plan, published_by=published_by, reason=reason)
    _check_round_trip(plan, event)
    published = _published(store)
    key = (plan.plan_id, plan.version)
    versions = sorted(v for pid, v in published if pid == plan.plan_id)
    latest = versions[-1] if versions else 0
    existing = published.get(key)
    if existing is not None:
        if existing.event.content_hash == event.content_hash:
            return PublishResult(PlanVersion.from_event(existing.event), True, existing.position)
        raise _immutable(plan, existing.event, latest)
    if plan.version <= latest:
        raise PlanPublishError(
            plan.plan_id,
            plan.version,
            f"version {latest} is already published and versions must rise: "
            f"publish version {latest + 1}",
        )
    times = {event.event_id: known_since} if known_since is not None else None
    report = store.append([event], source=f"plan:{plan.plan_id}", source_times=times)
    if report.stored:
        position = report.stored[0][1]
        return PublishResult(PlanVersion(plan, event.content_hash, event.event_id), False, position)
    # Another writer stored this event id between the check and the append.
    existing = _published(store).get(key)
    if existing is None:
        raise PlanPublishError(
            plan.plan_id, plan.version, f"event id {event.event_id} is taken by another event"
        )
    if existing.event.content_hash == event.content_hash:
        return PublishResult(PlanVersion.from_event(existing.event), True, existing.position)
    raise _immutable(plan, existing.event, max(latest, plan.version))


def _check_round_trip(plan: Plan, event: PlanVersionPublished) -> None:
    """The document to store must validate again into the same document (so that it can be
    read back and evaluated exactly as published)."""
    again = plan_from_data(event.document, f"{plan.plan_id} v{plan.version}")
    if content_hash(again.document()) != event.content_hash:
        raise PlanPublishError(
            plan.plan_id, plan.version, "the document does not read back as itself"
        )


def _immutable(plan: Plan, stored: PlanVersionPublished, latest: int) -> PlanPublishError:
    """The error for a different document under a version already published."""
    reason = (
        f"already published with a different document ({stored.content_hash}); "
        f"published versions are immutable: publish version {latest + 1}"
    )
    try:
        before = plan_from_data(
            stored.document, f"{stored.plan_id} v{stored.version}", context=STORED
        )
    except ValueError:
        before = None
    if before is not None and not diff_plans(before, plan):
        reason += " (the two documents differ only in how numbers are written, e.g. 2 and 2.0)"
    return PlanPublishError(plan.plan_id, plan.version, reason)


def list_versions(store: EventStore) -> list[PlanVersion]:
    """Every published plan version, sorted by plan id then version."""
    published = _published(store)
    return [PlanVersion.from_event(published[key].event) for key in sorted(published)]


def publications(store: EventStore) -> list[Publication]:
    """Every published version with who published it, why and when, by plan id then
    version."""
    published = _published(store)
    return [
        Publication(
            PlanVersion.from_event(found.event),
            found.event.published_by,
            found.event.reason,
            found.recorded_at,
            found.position,
        )
        for found in (published[key] for key in sorted(published))
    ]


def get_version(store: EventStore, plan_id: str, version: int | None = None) -> PlanVersion:
    """One published version of a plan (its latest when ``version`` is None);
    UnknownPlanVersion (a LookupError) naming what is published otherwise."""
    published = _published(store)
    versions = sorted(v for pid, v in published if pid == plan_id)
    if not versions:
        plans = sorted({pid for pid, _ in published})
        known = f"published plans: {', '.join(plans)}" if plans else "no plan is published yet"
        raise UnknownPlanVersion(f"no published plan {plan_id!r}; {known}")
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        listed = ", ".join(str(v) for v in versions)
        raise UnknownPlanVersion(
            f"plan {plan_id!r} has no version {chosen}; published versions: {listed}"
        )
    return PlanVersion.from_event(published[(plan_id, chosen)].event)


def version_in_force(
    versions: Iterable[PlanVersion], plan_id: str, day: date
) -> PlanVersion | None:
    """The newest version (highest number) of a plan whose effective dates include a day."""
    candidates = [v for v in versions if v.plan.plan_id == plan_id and v.plan.in_force_on(day)]
    return max(candidates, key=lambda v: v.plan.version, default=None)
