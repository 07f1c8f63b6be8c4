"""Quota and territory planning that every door shares: the territories with their owners
over time and coverage gaps, the quotas in force (with their history) a viewer may see, the
allocation preview (what publishing would do, with last year's figures only where the
visibility rule lets the viewer see them), publishing an allocation through ingest, and the
roll-ups of quotas against credited revenue per team, territory, region and the company."""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from incentive_engine.domain.attainment import HUNDRED, attainment
from incentive_engine.domain.events import (
    QuotaChanged,
    QuotaSet,
    QuotaSubject,
    Share,
    event_content,
)
from incentive_engine.domain.facts import Facts, QuotaEntry
from incentive_engine.domain.periods import Period
from incentive_engine.domain.quotas import (
    Allocation,
    AllocationRow,
    QuotaError,
    Status,
    action,
    rollup,
    subject_name,
)
from incentive_engine.domain.scopes import parse_scope
from incentive_engine.domain.territories import (
    Gap,
    OwnerStint,
    UnassignedDeal,
    criteria_values,
    deals_without_owner,
    in_force,
    matches_filter,
    owner_timeline,
    ownership_gaps,
)
from incentive_engine.domain.visibility import (
    Figure,
    Role,
    Viewer,
    aggregate_visible,
    figure_day,
    may_see,
    visible_groups,
)
from incentive_engine.services.commissions import Snapshot
from incentive_engine.services.ingest import IngestService, RawRecord
from incentive_engine.store.event_store import EventStore

ZERO = Decimal(0)

# -------------------------------------------------------------- territories


@dataclass(frozen=True)
class TerritoryView:
    """A territory in force on a day: criteria, owners then, owners over time, and gaps."""

    territory_id: str
    name: str
    criteria: dict[str, str]
    owners: tuple[Share, ...]
    owned_since: date | None
    timeline: tuple[OwnerStint, ...]
    gaps: tuple[Gap, ...]


def territories_on(
    facts: Facts, day: date, wanted: Mapping[str, str] | None = None
) -> list[TerritoryView]:
    """The territories in force on a day (those matching every wanted dimension value),
    by id, with their owners over time and their coverage gaps up to the day."""
    found = []
    for t in in_force(facts, day):
        if wanted and not matches_filter(t.definition.criteria, wanted):
            continue
        territory = facts.territories[t.territory_id]
        found.append(
            TerritoryView(
                territory_id=t.territory_id,
                name=t.definition.name,
                criteria=criteria_values(t.definition.criteria),
                owners=t.owners,
                owned_since=t.ownership.effective if t.ownership else None,
                timeline=tuple(s for s in owner_timeline(territory) if s.start <= day),
                gaps=tuple(ownership_gaps(facts, territory, day)),
            )
        )
    return found


_UNOWNED: list[tuple[weakref.ref[Snapshot], list[UnassignedDeal]]] = []


def unowned_deals(snap: Snapshot, until: date) -> list[UnassignedDeal]:
    """Won deals closed by ``until`` in a territory with no owner on their close date
    (``deals_without_owner``), computed once per snapshot of the facts: a new snapshot is
    made whenever the log grows, so the list never goes stale."""
    found = next((deals for ref, deals in _UNOWNED if ref() is snap), None)
    if found is None:
        found = deals_without_owner(snap.facts)
        _UNOWNED[:] = [(weakref.ref(snap), found)]
    return [d for d in found if d.close_date <= until]


# ------------------------------------------------------------------- quotas


@dataclass(frozen=True)
class QuotaLine:
    """A rep's, team's or territory's quota for a period: every entry, the latest in force."""

    period: Period
    subject: QuotaSubject
    subject_id: str
    name: str
    entries: tuple[QuotaEntry, ...]

    @property
    def latest(self) -> QuotaEntry:
        """The entry in force."""
        return self.entries[-1]

    @property
    def changes(self) -> int:
        """How many times the quota was changed after it was set."""
        return len(self.entries) - 1


def quotas_in_force(
    facts: Facts,
    viewer: Viewer,
    *,
    period: str | None = None,
    subject: QuotaSubject | None = None,
) -> list[QuotaLine]:
    """The quotas the viewer may see, by period, subject kind and id: rep quotas as the
    visibility rule allows (on the period's figure day), team and territory quotas to all."""
    found = []
    for (subj, subject_id, name), entries in facts.quotas.items():
        if not entries or (period is not None and name != period):
            continue
        if subject is not None and subj is not subject:
            continue
        the_period = Period.parse(name)
        if subj is QuotaSubject.REP and not may_see(
            viewer, subject_id, facts, figure_day(the_period), Figure.QUOTA
        ):
            continue
        found.append(
            QuotaLine(
                the_period, subj, subject_id, subject_name(facts, subj, subject_id), tuple(entries)
            )
        )
    found.sort(key=lambda q: (q.period.start, q.period.end, q.subject.value, q.subject_id))
    return found


# --------------------------------------------------------------- allocation


@dataclass(frozen=True)
class PreviewRow:
    """One proposed quota as a viewer sees it: the quota in force now, the proposal, the
    change and what publishing does; ``history`` is False when last year's revenue behind
    it is pay the viewer may not see (the page then shows the resulting quota only)."""

    row: AllocationRow
    current: QuotaEntry | None
    action: str
    history: bool

    @property
    def change(self) -> Decimal | None:
        """Proposed minus the quota in force (None when there is none)."""
        return None if self.current is None else self.row.allocated - self.current.amount


@dataclass(frozen=True)
class Preview:
    """An allocation with each row as the viewer may see it, and a fingerprint of what
    publishing it stores (a publish form carries it, so what is published is what was
    previewed)."""

    allocation: Allocation
    rows: tuple[PreviewRow, ...]
    cascaded: tuple[PreviewRow, ...]
    totals: bool
    """Whether the totals of last year's revenue (and the change implied) may be shown."""
    fingerprint: str


def _owners(facts: Facts, territory_id: str, day: date) -> set[str]:
    ownership = facts.territories[territory_id].ownership_on(day)
    return {s.rep_id for s in ownership.owners} if ownership else set()


def preview(facts: Facts, viewer: Viewer, allocation: Allocation) -> Preview:
    """The allocation as the viewer may see it. Last year's revenue of a rep is pay
    (credited revenue): shown only to who may see that rep's attainment; a territory's
    only when its owners' aggregate is visible (``aggregate_visible``), the totals likewise
    over every rep behind the rows. Plan admins thus see the quotas proposed, not the
    revenue behind them."""
    day = figure_day(allocation.base)
    behind: set[str] = set()

    def shown(row: AllocationRow) -> bool:
        if row.subject is QuotaSubject.REP:
            behind.add(row.subject_id)
            return may_see(viewer, row.subject_id, facts, day, Figure.ATTAINMENT)
        owners = (
            _owners(facts, row.subject_id, day) if row.subject_id in facts.territories else set()
        )
        behind.update(owners)
        return aggregate_visible(viewer, owners, facts, day, Figure.ATTAINMENT)

    def one(row: AllocationRow) -> PreviewRow:
        current = facts.quota(row.subject, row.subject_id, allocation.period)
        return PreviewRow(row, current, action(facts, allocation, row), shown(row))

    rows = tuple(one(r) for r in allocation.rows)
    cascaded = tuple(one(r) for r in allocation.cascaded)
    totals = bool(behind) and aggregate_visible(viewer, behind, facts, day, Figure.ATTAINMENT)
    return Preview(allocation, rows, cascaded, totals, fingerprint(allocation))


def fingerprint(allocation: Allocation) -> str:
    """A short hash of what publishing the allocation stores (period, currency, each
    subject's quota)."""
    stored = [
        (r.subject.value, r.subject_id, str(r.allocated))
        for r in (*allocation.rows, *allocation.cascaded)
    ]
    text = json.dumps([str(allocation.period), allocation.currency, stored], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Published:
    """What publishing stored: quotas set, changed, already equal, and left to set by hand."""

    stored: int
    set: int
    changed: int
    unchanged: int
    by_hand: int


class PublishRefused(QuotaError):
    """The quotas were refused by ingest (nothing was stored); ``details`` say why."""

    def __init__(self, details: list[dict[str, str | None]]) -> None:
        super().__init__("the quotas were refused; nothing was stored")
        self.details = details


def publish(
    store: EventStore,
    allocation: Allocation,
    events: list[QuotaSet | QuotaChanged],
    source: str,
) -> Published:
    """Append an allocation's events through the ingest service with the quotas write
    scope (all or nothing) and count the outcome; publishing it again stores nothing."""
    rows = (*allocation.rows, *allocation.cascaded)
    by_hand = sum(1 for r in rows if not r.allocated)
    stored = duplicates = 0
    if events:
        records = [event_content(e) for e in events]
        raws = [
            RawRecord(source, i, r, json.dumps(r, ensure_ascii=False, default=str))
            for i, r in enumerate(records, start=1)
        ]
        service = IngestService(store, scope=parse_scope("quotas"), writer="quota allocation")
        report = service.ingest(source, lambda: raws)
        if report.errors:
            raise PublishRefused(
                [
                    {"field": e.field, "reason": e.reason, "event_id": e.event_id}
                    for e in report.errors
                ]
            )
        stored, duplicates = report.stored, report.duplicates
    changed = sum(1 for e in events if isinstance(e, QuotaChanged))
    return Published(
        stored=stored,
        set=len(events) - changed,
        changed=changed,
        unchanged=len(rows) - by_hand - len(events) + duplicates,
        by_hand=by_hand,
    )


# ------------------------------------------------------------------ roll-ups

Level = Literal["team", "territory", "region", "company"]


@dataclass(frozen=True)
class RollupView:
    """A group's top-down quota against the sum of its reps' quotas (over/under), and its
    credited revenue against its quota (attainment), as far as the viewer may see them."""

    level: Level
    subject_id: str
    name: str
    currency: str | None
    target: Decimal | None
    reps_sum: Decimal | None
    credited: Decimal | None
    """None when the aggregate would reveal one person's revenue to the viewer."""
    attainment: Decimal | None
    note: str = ""

    @property
    def status(self) -> Status:
        """Over-allocated (reps' quotas above the target), under, balanced, or no target."""
        if self.target is None or self.reps_sum is None:
            return Status.NO_TARGET
        if self.reps_sum > self.target:
            return Status.OVER
        if self.reps_sum < self.target:
            return Status.UNDER
        return Status.BALANCED

    @property
    def difference(self) -> Decimal | None:
        """Reps' quotas minus the target."""
        if self.target is None or self.reps_sum is None:
            return None
        return self.reps_sum - self.target


def _sum(values: list[tuple[Decimal | None, str | None]]) -> tuple[Decimal | None, str | None]:
    """The sum of amounts in one currency (None when there is none or currencies mix)."""
    known = [(v, c) for v, c in values if v is not None and c is not None]
    currencies = {c for _, c in known}
    if len(currencies) != 1:
        return None, None
    return sum((v for v, _ in known), ZERO), currencies.pop()


def rollups(facts: Facts, viewer: Viewer, period: Period) -> list[RollupView]:
    """Teams, territories, regions (territories by their region) and the company: the
    top-down quota against the sum of the reps' quotas, and the credited revenue (as
    ``GET /v1/attainment/{period}?by=team|territory``) against the quota. Finance and plan
    admins see every group (credited only where it hides at least two people from a plan
    admin); a manager sees the groups whose every rep they may see (their own team)."""
    day = figure_day(period)
    rows = rollup(facts, period)
    credited = {
        (a.subject, a.subject_id): a
        for by in ("team", "territory")
        for a in attainment(facts, period, by)
    }
    visible = {
        by: visible_groups(viewer, facts, by, period, Figure.ATTAINMENT)
        for by in ("team", "territory")
    }

    def members(row_reps: tuple[tuple[str, Decimal], ...], extra: set[str]) -> set[str]:
        return {r for r, _ in row_reps} | extra

    def quota_visible(people: set[str]) -> bool:
        return all(may_see(viewer, p, facts, day, Figure.QUOTA) for p in people)

    found: list[RollupView] = []
    regions: dict[str, list[RollupView]] = {}
    everyone: set[str] = set()
    region_people: dict[str, set[str]] = {}
    for r in rows:
        by = r.subject.value
        people = members(
            r.reps, _owners(facts, r.subject_id, period.start) if by == "territory" else set()
        )
        everyone |= people if by == "team" else set()
        if viewer.role is Role.MANAGER and not (people and quota_visible(people)):
            continue
        a = credited.get((by, r.subject_id))
        seen = visible[by] is None or r.subject_id in (visible[by] or set())
        view = RollupView(
            level="team" if by == "team" else "territory",
            subject_id=r.subject_id,
            name=r.name,
            currency=r.currency,
            target=r.target,
            reps_sum=r.reps_sum if r.reps else None,
            credited=a.credited if a is not None and seen else None,
            attainment=a.attainment if a is not None and seen else None,
            note=r.note,
        )
        found.append(view)
        if by == "territory":
            definition = facts.territories[r.subject_id].definition_on(period.start)
            region = definition.criteria.region if definition is not None else None
            if region:
                regions.setdefault(region, []).append(view)
                region_people.setdefault(region, set()).update(people)
    for region in sorted(regions):
        found.append(
            _group("region", region, regions[region], region_people[region], facts, viewer, day)
        )
    teams = [v for v in found if v.level == "team"]
    if teams and viewer.role is not Role.MANAGER:
        found.append(_group("company", "company", teams, everyone, facts, viewer, day))
    return found


def _group(
    level: Level,
    name: str,
    parts: list[RollupView],
    people: set[str],
    facts: Facts,
    viewer: Viewer,
    day: date,
) -> RollupView:
    """A region or the company: the sums of its parts (in one currency)."""
    target, currency = _sum([(p.target, p.currency) for p in parts])
    reps_sum, reps_currency = _sum([(p.reps_sum, p.currency) for p in parts])
    seen = aggregate_visible(viewer, people, facts, day, Figure.ATTAINMENT)
    credit, credit_currency = (
        _sum([(p.credited, p.currency) for p in parts]) if seen else (None, None)
    )
    if seen and any(p.credited is None for p in parts):
        credit = None  # a part hidden from the viewer: its sum would reveal it
    currency = currency or reps_currency or credit_currency
    quota = target if target is not None else reps_sum
    rate = credit * HUNDRED / quota if credit is not None and quota else None
    note = "" if len({p.currency for p in parts if p.currency}) <= 1 else "mixed currencies"
    return RollupView(level, name, name, currency, target, reps_sum, credit, rate, note)
