"""The fold: events into plan-independent facts (pure: no I/O, no clock, no randomness).

Facts answer the questions plans ask: who was in which team under which manager on a
day, who owned a territory on a day, what quota a rep had for a period, which deals
closed, for how much, credited to whom, and what activity and leads each rep had.

Facts do not depend on the order in which events were appended: every timeline is
ordered by effective time, then by a documented tie-break (``QuotaChanged`` after
``QuotaSet`` on the same day, then event id), so the same set of events always gives
the same facts.  Each fact keeps the ids of the events behind it, for explanations.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from incentive_engine.domain.activity_log import Activity as Activity
from incentive_engine.domain.activity_log import ActivityLog
from incentive_engine.domain.adjustments import as_manual, decision_of
from incentive_engine.domain.events import (
    EVENT_TYPES,
    ActivityLogged,
    AdjustmentApproved,
    AdjustmentProposed,
    AdjustmentRejected,
    DealAmended,
    DealCancelled,
    DealLine,
    DealLost,
    DealWon,
    DisputeCommented,
    DisputeRaised,
    DisputeResolved,
    Event,
    EventVoidApproved,
    EventVoidProposed,
    FxRateSet,
    InvoiceCancelled,
    InvoiceIssued,
    LeadCreated,
    LeadQualified,
    LeadSource,
    ManualAdjustment,
    OpportunityCreated,
    OpportunityStageChanged,
    PaymentReceived,
    PaymentRefunded,
    PeriodClosed,
    PlanAccepted,
    PlanVersionPublished,
    QuotaChanged,
    QuotaSet,
    QuotaSubject,
    RepHired,
    RepTerminated,
    RepTransferred,
    Role,
    Share,
    Stage,
    TerritoryAssigned,
    TerritoryCriteria,
    TerritoryDefined,
    TerritoryModelDefined,
    TerritoryReassigned,
)
from incentive_engine.domain.handlers import MissingHandlerError, check_handlers
from incentive_engine.domain.isolation import Quarantined, Voided
from incentive_engine.domain.money import fx_rate_in
from incentive_engine.domain.periods import Period
from incentive_engine.domain.sharing import Sharing

FOLD_VERSION = 5
"""The version of what the fold produces.  Bump it whenever a change to this module (an event
folded differently, a field added to or removed from a fact, a new tie-break) changes the facts
that a log folds into: snapshots of facts folded by another fold version are then ignored and
rebuilt from the log (``incentive_engine.store.snapshots``), never trusted."""

LAZY_FIELDS = ("activities", "leads")
"""Facts that a snapshot may supply on first use (``Facts.defer``): they are large and only
points, KPIs and leaderboards read them, never statements."""

PIPELINE_FIELDS = ("created", "stages", "lost")
"""The parts of a deal that only pipeline KPIs read (``Deal.defer_pipeline``)."""

HUNDRED = Decimal(100)
DIMENSIONS = ("region", "customer_type", "industry", "size", "ownership", "product_group")
"""The territory dimensions, in the order used to name and compare territories."""


def _insort(items: list, item: Any, key: Callable[[Any], Any] | None = None) -> None:  # type: ignore[type-arg]
    """Insert keeping ``items`` sorted (by ``key``, or by the items' own order)."""
    bisect.insort(items, item, key=key)


# ------------------------------------------------------------------------ org


@dataclass(frozen=True, slots=True, order=True)
class Placement:
    """Where a rep sits from a day on: team, manager and role."""

    effective: date
    event_id: str
    team: str
    manager_id: str | None
    role: Role | None
    """None when a transfer kept the role unchanged."""


@dataclass
class Rep:
    """A person of the sales organisation over time: employment spells and placements."""

    rep_id: str
    hires: list[tuple[date, str, str]] = field(default_factory=list)
    """(hire date, event id, name), in date order."""
    terminations: list[tuple[date, str]] = field(default_factory=list)
    """(last working day, event id), in date order."""
    placements: list[Placement] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The name given by the latest hire."""
        return self.hires[-1][2] if self.hires else ""

    @property
    def hire_date(self) -> date | None:
        """The first hire date (None if never hired)."""
        return self.hires[0][0] if self.hires else None

    @property
    def termination_date(self) -> date | None:
        """The last working day of the latest spell, if it has ended."""
        spells = self.spells()
        return spells[-1][1] if spells else None

    def spells(self) -> list[tuple[date, date | None]]:
        """Employment spells (first day, last day or None), from hires and terminations in
        date order (a hire before a termination of the same day); a hire while employed and
        a termination while not employed change nothing."""
        timeline = sorted(
            [(d, 0, e) for d, e, _ in self.hires] + [(d, 1, e) for d, e in self.terminations]
        )
        spells: list[tuple[date, date | None]] = []
        start: date | None = None
        for day, kind, _ in timeline:
            if kind == 0 and start is None:
                start = day
            elif kind == 1 and start is not None and day >= start:
                spells.append((start, day))
                start = None
        if start is not None:
            spells.append((start, None))
        return spells

    def placement_on(self, day: date) -> Placement | None:
        """Team, manager and role on a day (None before hire)."""
        i = bisect.bisect_right(
            self.placements, (day, "\uffff"), key=lambda p: (p.effective, p.event_id)
        )
        return self.placements[i - 1] if i else None

    def role_on(self, day: date) -> Role | None:
        """The rep's role on a day (a transfer without a role keeps the earlier one)."""
        i = bisect.bisect_right(
            self.placements, (day, "\uffff"), key=lambda p: (p.effective, p.event_id)
        )
        for p in reversed(self.placements[:i]):
            if p.role is not None:
                return p.role
        return None

    def team_on(self, day: date) -> str | None:
        """The rep's team on a day."""
        p = self.placement_on(day)
        return p.team if p else None

    def manager_on(self, day: date) -> str | None:
        """The rep's manager on a day."""
        p = self.placement_on(day)
        return p.manager_id if p else None

    def active_on(self, day: date) -> bool:
        """Whether the rep is employed on a day."""
        return any(start <= day and (end is None or day <= end) for start, end in self.spells())

    def days_in(self, period: Period) -> int:
        """Days of the period during which the rep is employed."""
        total = 0
        for start, end in self.spells():
            first, last = max(period.start, start), min(period.end, end or period.end)
            total += max(0, (last - first).days + 1)
        return total

    def team_days(self, period: Period) -> dict[str, int]:
        """Days of the period the rep was employed in each team."""
        days: dict[str, int] = {}
        spells = self.spells()
        for i, placement in enumerate(self.placements):
            start = max(placement.effective, period.start)
            end = period.end
            if i + 1 < len(self.placements):
                end = min(end, self.placements[i + 1].effective - timedelta(days=1))
            for first, last in spells if start <= end else []:
                lo, hi = max(start, first), min(end, last or end)
                if lo <= hi:
                    days[placement.team] = days.get(placement.team, 0) + (hi - lo).days + 1
        return days

    def last_day_in(self, period: Period) -> date | None:
        """The rep's last day employed within the period (None if not employed in it)."""
        days = [
            min(period.end, end or period.end)
            for start, end in self.spells()
            if start <= period.end and (end is None or end >= period.start)
        ]
        return max(days) if days else None


# ---------------------------------------------------------------- territories


@dataclass(frozen=True, slots=True, order=True)
class Ownership:
    """The owners of a territory from a day on."""

    effective: date
    event_id: str
    owners: tuple[Share, ...] = field(compare=False)


@dataclass(frozen=True, slots=True, order=True)
class Definition:
    """A territory's name and criteria from a day on."""

    effective: date
    event_id: str
    name: str = field(compare=False)
    criteria: TerritoryCriteria = field(compare=False)

    @property
    def specificity(self) -> int:
        """How many dimensions the criteria constrain (more is more specific)."""
        return sum(getattr(self.criteria, d) is not None for d in DIMENSIONS)

    def matches(self, attributes: dict[str, str | None]) -> bool:
        """Whether a deal with these dimension values falls in the territory."""
        for dim in DIMENSIONS:
            wanted = getattr(self.criteria, dim)
            if wanted is not None and attributes.get(dim) != wanted:
                return False
        return True


@dataclass
class Territory:
    """A territory: its definitions (criteria) and its owners over time."""

    territory_id: str
    definitions: list[Definition] = field(default_factory=list)
    ownerships: list[Ownership] = field(default_factory=list)

    def definition_on(self, day: date) -> Definition | None:
        """The definition in force on a day (None before the territory exists)."""
        i = bisect.bisect_right(
            self.definitions, (day, "\uffff"), key=lambda d: (d.effective, d.event_id)
        )
        return self.definitions[i - 1] if i else None

    @property
    def current(self) -> Definition | None:
        """The latest definition."""
        return self.definitions[-1] if self.definitions else None

    def ownership_on(self, day: date) -> Ownership | None:
        """The ownership in force on a day (None if unowned)."""
        i = bisect.bisect_right(
            self.ownerships, (day, "\uffff"), key=lambda o: (o.effective, o.event_id)
        )
        return self.ownerships[i - 1] if i else None


# ---------------------------------------------------------------------- deals


@dataclass(frozen=True, slots=True, order=True)
class Amendment:
    """A change of a won deal's amount (and maybe splits, and maybe product lines) from a day on."""

    effective: date
    event_id: str
    amount: Decimal = field(compare=False)
    splits: tuple[Share, ...] | None = field(compare=False)
    reason: str = field(compare=False)
    lines: tuple[DealLine, ...] | None = field(default=None, compare=False)
    """The product lines that replace the deal's (None: the earlier lines stand)."""


def _none() -> None:
    """The default of a deferrable field: a factory, not a class attribute, so that reading
    the field of an instance that lacks it reaches ``__getattr__``."""


@dataclass
class Deal:
    """An opportunity and, once won, the deal it became."""

    deal_id: str
    created: OpportunityCreated | None = field(default_factory=_none)
    stages: list[tuple[date, str, Stage]] = field(default_factory=list)
    won: DealWon | None = None
    lost: DealLost | None = field(default_factory=_none)
    amendments: list[Amendment] = field(default_factory=list)
    cancellation: DealCancelled | None = None

    def defer_pipeline(self, load: Callable[[Deal], None]) -> None:
        """Leave out the pipeline parts (``PIPELINE_FIELDS``) until one is first read: then
        ``load(self)`` sets each of them still missing (one the fold set meanwhile is newer
        than the snapshot's and stays).  Statements never read them; KPIs do."""
        for name in PIPELINE_FIELDS:
            self.__dict__.pop(name, None)
        self.__dict__["_load_pipeline"] = load

    def __getattr__(self, name: str) -> Any:
        """Supply the deferred pipeline parts on first read (only called when absent)."""
        load = self.__dict__.get("_load_pipeline")
        if load is None or name not in PIPELINE_FIELDS:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        load(self)
        return self.__dict__[name]

    @property
    def amount(self) -> Decimal:
        """The won amount after every amendment (0 before the deal is won)."""
        if self.won is None:
            return Decimal(0)
        return self.amendments[-1].amount if self.amendments else self.won.amount

    def amount_on(self, day: date) -> Decimal:
        """The won amount as amended up to and including a day."""
        if self.won is None:
            return Decimal(0)
        amount = self.won.amount
        for a in self.amendments:
            if a.effective <= day:
                amount = a.amount
        return amount

    @property
    def splits(self) -> tuple[Share, ...] | None:
        """The credit splits after every amendment that changed them."""
        for a in reversed(self.amendments):
            if a.splits is not None:
                return a.splits
        return self.won.splits if self.won else None

    @property
    def lines(self) -> tuple[DealLine, ...] | None:
        """The product lines after every amendment that replaced them (None without lines)."""
        for a in reversed(self.amendments):
            if a.lines is not None:
                return a.lines
        return self.won.lines if self.won else None

    @property
    def attributes(self) -> dict[str, str | None]:
        """The deal's territory dimensions (region, customer type, industry, ...)."""
        source = self.won or self.created
        if source is None:
            return {}
        c = source.customer
        return {
            "region": c.region,
            "customer_type": c.customer_type.value,
            "industry": c.industry,
            "size": c.size.value if c.size else None,
            "ownership": c.ownership.value if c.ownership else None,
            "product_group": source.product_group,
        }

    @property
    def pay_event_ids(self) -> list[str]:
        """The events that decide what the deal pays: the win, amendments, cancellation."""
        ids = [self.won.event_id] if self.won is not None else []
        ids += [a.event_id for a in self.amendments]
        if self.cancellation is not None:
            ids.append(self.cancellation.event_id)
        return ids

    @property
    def event_ids(self) -> list[str]:
        """Every event behind the deal, in effective order."""
        ids = [e.event_id for e in (self.created, self.won, self.lost) if e is not None]
        ids += [s[1] for s in self.stages] + [a.event_id for a in self.amendments]
        if self.cancellation is not None:
            ids.append(self.cancellation.event_id)
        return ids


@dataclass(frozen=True, slots=True)
class Credit:
    """One rep's credit for a deal: their share of its amount and why they get it."""

    deal_id: str
    rep_id: str
    share: Decimal
    amount: Decimal
    currency: str
    basis: Literal["split", "rep", "territory"]
    territory_id: str | None
    event_ids: tuple[str, ...]


@dataclass(frozen=True)
class Billing:
    """A won deal's invoices, the payments received for it (on its invoices or on the deal)
    and their refunds, each in (effective day, event id) order."""

    invoices: tuple[InvoiceIssued, ...] = ()
    payments: tuple[PaymentReceived, ...] = ()
    refunds: tuple[PaymentRefunded, ...] = ()

    def event_ids_in(self, period: Period, *, by: Literal["invoice", "payment"]) -> list[str]:
        """The deal's invoices issued (``invoice``) or payments received (``payment``) in a
        period: what a plan earning on invoice or payment earns in it."""
        events = self.invoices if by == "invoice" else self.payments
        return [e.event_id for e in events if e.effective_day in period]

    def refunds_of(self, payment_id: str) -> list[PaymentRefunded]:
        """The refunds of one of the deal's payments."""
        return [r for r in self.refunds if r.payment_id == payment_id]

    def payments_on(self, invoice_id: str) -> list[PaymentReceived]:
        """The payments received on one of the deal's invoices."""
        return [p for p in self.payments if p.invoice_id == invoice_id]


NO_BILLING = Billing()
"""The billing of a deal with no invoice and no payment."""


# ------------------------------------------------------------ quota, activity


@dataclass(frozen=True, slots=True, order=True)
class QuotaEntry:
    """A quota amount from a day on (a QuotaChanged beats a QuotaSet of the same day)."""

    effective: date
    rank: int
    event_id: str
    amount: Decimal = field(compare=False)
    currency: str = field(compare=False)


@dataclass(slots=True)
class Lead:
    """A lead, its source and whether it was qualified."""

    lead_id: str
    source: LeadSource | None = None
    created_date: date | None = None
    rep_id: str | None = None
    qualified_date: date | None = None
    event_ids: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------- facts


@dataclass
class Facts:
    """Everything the engine knows, folded from events, independent of any plan."""

    reps: dict[str, Rep] = field(default_factory=dict)
    territories: dict[str, Territory] = field(default_factory=dict)
    deals: dict[str, Deal] = field(default_factory=dict)
    quotas: dict[tuple[QuotaSubject, str, str], list[QuotaEntry]] = field(default_factory=dict)
    activities: dict[str, ActivityLog] = field(default_factory=dict)
    """Each rep's activities, in (time, event id) order (columns of integers: see
    ``domain.activity_log``)."""
    leads: dict[str, Lead] = field(default_factory=dict)
    plan_versions: dict[str, dict[int, PlanVersionPublished]] = field(default_factory=dict)
    closed_periods: dict[str, PeriodClosed] = field(default_factory=dict)
    acceptances: dict[str, dict[int, dict[str, PlanAccepted]]] = field(default_factory=dict)
    """Plan acceptances by plan id, version and rep id (the earliest by time, then event id,
    when a rep accepted a version more than once)."""
    territory_models: list[TerritoryModelDefined] = field(default_factory=list)
    """Territory models in effective order (the last in force on a day applies)."""
    manual_adjustments: dict[tuple[str, str], list[ManualAdjustment]] = field(default_factory=dict)
    """Adjustments paid on a rep's statement for a period: ``ManualAdjustment`` events, and
    approved proposals as the ``ManualAdjustment`` they pay (``adjustments.as_manual``)."""
    adjustment_proposals: dict[str, AdjustmentProposed] = field(default_factory=dict)
    """Proposed adjustments by proposal (event) id, paid only once approved."""
    adjustment_decisions: dict[str, list[AdjustmentApproved | AdjustmentRejected]] = field(
        default_factory=dict
    )
    """Approvals and rejections by the proposal id they decide, in (time, event id) order."""
    recorded: dict[str, str] = field(default_factory=dict)
    """Recorded time (ISO text) of the events that can change pay, when the shell knows it."""
    fx_rates: dict[tuple[str, str], list[tuple[date, str, Decimal]]] = field(default_factory=dict)
    invoices: dict[str, InvoiceIssued] = field(default_factory=dict)
    """Issued invoices by invoice id (of two issues of one id, the smaller event id)."""
    invoice_cancellations: dict[str, InvoiceCancelled] = field(default_factory=dict)
    """Invoice cancellations by invoice id (the earliest, then the smaller event id)."""
    payments: dict[str, PaymentReceived] = field(default_factory=dict)
    """Payments received by payment id (of two with one id, the smaller event id)."""
    refunds: dict[str, PaymentRefunded] = field(default_factory=dict)
    """Refunds by refund id (of two with one id, the smaller event id)."""
    quarantined: dict[str, Quarantined] = field(default_factory=dict)
    """Stored events that do not validate, left out of the fold (by event id, else position):
    the statements they may concern report them until they are voided."""
    voided: dict[str, Voided] = field(default_factory=dict)
    """Stored events voided by an approved void, left out as if never stored (by event id)."""
    event_count: int = 0
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    """Answers derived from the facts as they stand (won deals per period, credits per rep);
    emptied whenever an event is folded in."""
    _deferred: dict[str, Callable[[Facts], object]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Loaders of the lazy fields not supplied yet (see ``defer``)."""
    _pending: list[Event] = field(default_factory=list, repr=False, compare=False)
    """Events for a deferred field, folded in once the field is supplied."""
    _sharing: Sharing = field(default_factory=Sharing, repr=False, compare=False)
    """Equal values of the events held, held once (``domain.sharing``)."""

    # ------------------------------------------------------------ deferred fields

    def defer(self, name: str, load: Callable[[Facts], object]) -> None:
        """Leave a lazy field (one of ``LAZY_FIELDS``) out until it is first read: then
        ``load(self)`` is called and must call ``self.supply(name, value)`` exactly once, even
        when several threads read the field at once (the loader serialises them).  Events
        for the field folded meanwhile wait in order and are folded in when it is supplied,
        so the facts behave exactly as if the field had been there all along."""
        if name not in LAZY_FIELDS:
            raise ValueError(f"{name!r} is not a lazy field (lazy: {', '.join(LAZY_FIELDS)})")
        self.__dict__.pop(name, None)
        self._deferred[name] = load

    def supply(self, name: str, value: Any) -> None:
        """Put a deferred field in place and fold in the events that waited for it."""
        self.__dict__[name] = value
        del self._deferred[name]
        waiting = [e for e in self._pending if LAZY_EVENTS[type(e)] == name]
        if waiting:
            self._pending = [e for e in self._pending if LAZY_EVENTS[type(e)] != name]
            for event in waiting:
                _APPLY[type(event)](self, event)
        self._cache.clear()

    @property
    def deferred(self) -> tuple[str, ...]:
        """The lazy fields not supplied yet."""
        return tuple(self._deferred)

    def __getattr__(self, name: str) -> Any:
        """Supply a deferred field on first read (only called when the field is absent)."""
        deferred = self.__dict__.get("_deferred")
        load = deferred.get(name) if deferred else None
        if load is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        load(self)
        return self.__dict__[name]

    def _handlers(self) -> dict[type[Event], Callable[[Facts, Event], None]]:
        """The fold's handlers, with those of deferred fields set to wait."""
        if not self._deferred:
            return _APPLY
        waiting = {t: _wait for t, name in LAZY_EVENTS.items() if name in self._deferred}
        return {**_APPLY, **waiting}

    # ------------------------------------------------------------ folding

    def apply(self, event: Event) -> None:
        """Fold one event into the facts."""
        self.event_count += 1
        self._cache.clear()
        self._handlers().get(type(event), _unfoldable)(self, event)

    def apply_all(self, events: Iterable[Event]) -> Facts:
        """Fold many events; returns self for chaining."""
        self._cache.clear()
        apply = self._handlers()
        count = 0
        for event in events:
            apply.get(type(event), _unfoldable)(self, event)
            count += 1
        self.event_count += count
        return self

    def apply_recorded(self, page: Iterable[tuple[Event, str]]) -> Facts:
        """Fold (event, recorded-at text) pairs, remembering when pay-relevant events were
        recorded (activities are not: they never change pay).  Events appended together share
        one recorded time: it is held once."""
        self._cache.clear()
        apply, recorded = self._handlers(), self.recorded
        count, last = 0, ""
        for event, when in page:
            kind = type(event)
            apply.get(kind, _unfoldable)(self, event)
            if kind is not ActivityLogged and kind not in _MARKERS:
                if when == last:
                    when = last
                recorded[event.event_id] = last = when
            count += 1
        self.event_count += count
        return self

    def _rep(self, rep_id: str) -> Rep:
        rep = self.reps.get(rep_id)
        if rep is None:
            rep = self.reps[rep_id] = Rep(rep_id)
        return rep

    def _deal(self, deal_id: str) -> Deal:
        deal = self.deals.get(deal_id)
        if deal is None:
            deal = self.deals[deal_id] = Deal(deal_id)
        return deal

    def _territory(self, territory_id: str) -> Territory:
        t = self.territories.get(territory_id)
        if t is None:
            t = self.territories[territory_id] = Territory(territory_id)
        return t

    def _lead(self, lead_id: str) -> Lead:
        lead = self.leads.get(lead_id)
        if lead is None:
            lead = self.leads[lead_id] = Lead(lead_id)
        return lead

    def _on_hired(self, e: RepHired) -> None:
        rep = self._rep(e.rep_id)
        _insort(rep.hires, (e.hire_date, e.event_id, e.name))
        rep.event_ids.append(e.event_id)
        _insort(rep.placements, Placement(e.hire_date, e.event_id, e.team, e.manager_id, e.role))

    def _on_transferred(self, e: RepTransferred) -> None:
        rep = self._rep(e.rep_id)
        rep.event_ids.append(e.event_id)
        _insort(
            rep.placements, Placement(e.effective_date, e.event_id, e.team, e.manager_id, e.role)
        )

    def _on_terminated(self, e: RepTerminated) -> None:
        rep = self._rep(e.rep_id)
        rep.event_ids.append(e.event_id)
        _insort(rep.terminations, (e.termination_date, e.event_id))

    def _on_opportunity(self, e: OpportunityCreated) -> None:
        deal = self._deal(e.deal_id)
        deal.created = self._sharing.event(e)
        _insort(deal.stages, (e.created_date, e.event_id, e.stage))

    def _on_stage(self, e: OpportunityStageChanged) -> None:
        day = self._sharing.value(e.changed_date)
        _insort(self._deal(e.deal_id).stages, (day, e.event_id, e.stage))

    def _on_won(self, e: DealWon) -> None:
        deal = self._deal(e.deal_id)
        if deal.won is None or e.event_id < deal.won.event_id:
            deal.won = self._sharing.event(e)

    def _on_lost(self, e: DealLost) -> None:
        self._deal(e.deal_id).lost = self._sharing.event(e)

    def _on_amended(self, e: DealAmended) -> None:
        amendment = Amendment(e.amended_date, e.event_id, e.amount, e.splits, e.reason, e.lines)
        _insort(self._deal(e.deal_id).amendments, amendment)

    def _on_cancelled(self, e: DealCancelled) -> None:
        deal = self._deal(e.deal_id)
        earlier = deal.cancellation
        if earlier is None or (e.cancelled_date, e.event_id) < (
            earlier.cancelled_date,
            earlier.event_id,
        ):
            deal.cancellation = self._sharing.event(e)

    def _on_territory(self, e: TerritoryDefined) -> None:
        definition = Definition(e.effective_date, e.event_id, e.name, e.criteria)
        _insort(self._territory(e.territory_id).definitions, definition)

    def _on_model(self, e: TerritoryModelDefined) -> None:
        _insort(self.territory_models, e, key=lambda m: (m.effective_date, m.event_id))

    def _on_ownership(self, e: TerritoryAssigned | TerritoryReassigned) -> None:
        _insort(
            self._territory(e.territory_id).ownerships,
            Ownership(e.effective_date, e.event_id, e.owners),
        )

    def _on_quota(self, e: QuotaSet | QuotaChanged) -> None:
        assert e.effective_date is not None
        entry = QuotaEntry(
            e.effective_date, int(isinstance(e, QuotaChanged)), e.event_id, e.amount, e.currency
        )
        _insort(self.quotas.setdefault((e.subject, e.subject_id, e.period), []), entry)

    def _on_lead(self, e: LeadCreated) -> None:
        lead, share = self._lead(e.lead_id), self._sharing.value
        lead.source, lead.created_date = e.source, share(e.created_date)
        lead.rep_id = lead.rep_id or (share(e.rep_id) if e.rep_id is not None else None)
        lead.event_ids.append(e.event_id)

    def _on_qualified(self, e: LeadQualified) -> None:
        lead, share = self._lead(e.lead_id), self._sharing.value
        lead.qualified_date = share(e.qualified_date)
        lead.rep_id = (share(e.rep_id) if e.rep_id is not None else None) or lead.rep_id
        lead.event_ids.append(e.event_id)

    def _on_activity(self, e: ActivityLogged) -> None:
        log = self.activities.get(e.rep_id)
        if log is None:
            log = self.activities[e.rep_id] = ActivityLog(e.rep_id, self._sharing.value)
        log.add(e.occurred_at, e.event_id, e.kind, e.customer_id, e.deal_id)

    def _on_plan(self, e: PlanVersionPublished) -> None:
        self.plan_versions.setdefault(e.plan_id, {})[e.version] = e

    def _on_accepted(self, e: PlanAccepted) -> None:
        by_rep = self.acceptances.setdefault(e.plan_id, {}).setdefault(e.version, {})
        earlier = by_rep.get(e.rep_id)
        if earlier is None or (e.accepted_at, e.event_id) < (earlier.accepted_at, earlier.event_id):
            by_rep[e.rep_id] = e

    def _on_closed(self, e: PeriodClosed) -> None:
        earlier = self.closed_periods.get(e.period)
        if earlier is None or (e.closed_at, e.event_id) < (earlier.closed_at, earlier.event_id):
            self.closed_periods[e.period] = e

    def _on_manual(self, e: ManualAdjustment) -> None:
        items = self.manual_adjustments.setdefault((e.rep_id, e.period), [])
        _insort(items, e, key=lambda m: (m.posted_date, m.event_id))

    def _on_proposed(self, e: AdjustmentProposed) -> None:
        self.adjustment_proposals.setdefault(e.event_id, e)
        self._settle(e.event_id)

    def _on_decided(self, e: AdjustmentApproved | AdjustmentRejected) -> None:
        items = self.adjustment_decisions.setdefault(e.proposal_id, [])
        _insort(items, e, key=lambda d: (d.effective_at, d.event_id))
        self._settle(e.proposal_id)

    def _settle(self, proposal_id: str) -> None:
        """Put an approved proposal among the manual adjustments the evaluator pays (and
        only then), whatever order its proposal and decisions were folded in."""
        proposal = self.adjustment_proposals.get(proposal_id)
        if proposal is None:
            return
        key = (proposal.rep_id, proposal.period)
        items = [m for m in self.manual_adjustments.get(key, []) if m.event_id != proposal_id]
        decision = decision_of(proposal, self.adjustment_decisions.get(proposal_id, ()))
        if isinstance(decision, AdjustmentApproved):
            _insort(items, as_manual(proposal, decision), key=lambda m: (m.posted_date, m.event_id))
        if items:
            self.manual_adjustments[key] = items
        else:
            self.manual_adjustments.pop(key, None)

    def adjustment_event_ids(self, adjustment: ManualAdjustment) -> tuple[str, ...]:
        """The events behind a manual adjustment line: the ``ManualAdjustment``, or an
        approved proposal and the approval that made it payable."""
        decisions = self.adjustment_decisions.get(adjustment.event_id)
        proposal = self.adjustment_proposals.get(adjustment.event_id)
        if proposal is None or not decisions:
            return (adjustment.event_id,)
        decision = decision_of(proposal, decisions)
        return (
            (adjustment.event_id,) if decision is None else (proposal.event_id, decision.event_id)
        )

    def _on_invoice(self, e: InvoiceIssued) -> None:
        _keep_first(self.invoices, e.invoice_id, e)

    def _on_invoice_cancelled(self, e: InvoiceCancelled) -> None:
        earlier = self.invoice_cancellations.get(e.invoice_id)
        if earlier is None or (e.cancelled_date, e.event_id) < (
            earlier.cancelled_date,
            earlier.event_id,
        ):
            self.invoice_cancellations[e.invoice_id] = e

    def _on_payment(self, e: PaymentReceived) -> None:
        _keep_first(self.payments, e.payment_id, e)

    def _on_refund(self, e: PaymentRefunded) -> None:
        _keep_first(self.refunds, e.refund_id, e)

    def _on_quarantined(self, q: Quarantined) -> None:
        self.quarantined[q.key] = q

    def _on_voided(self, v: Voided) -> None:
        self.voided[v.event_id] = v

    def _on_fx(self, e: FxRateSet) -> None:
        _insort(self.fx_rates.setdefault((e.base, e.quote), []), (e.rate_date, e.event_id, e.rate))

    # ------------------------------------------------------------ questions

    def territory_model_on(self, day: date) -> TerritoryModelDefined | None:
        """The territory model in force on a day."""
        found = None
        for m in self.territory_models:
            if m.effective_date <= day:
                found = m
        return found

    def quota(self, subject: QuotaSubject, subject_id: str, period: Period) -> QuotaEntry | None:
        """The quota in force for a subject and period (the latest entry)."""
        entries = self.quotas.get((subject, subject_id, str(period)))
        return entries[-1] if entries else None

    def territory_for(self, deal: Deal) -> tuple[Territory, Definition] | None:
        """The territory a deal falls in, with the definition that placed it there: the most
        specific definition in force on the close date that matches; ties go to the
        smallest territory id."""
        day = _deal_day(deal)
        if day is None:
            return None
        attributes = deal.attributes
        best: tuple[Territory, Definition] | None = None
        for t in self.territories.values():
            d = t.definition_on(day)
            if d is None or not d.matches(attributes):
                continue
            if best is None or (-d.specificity, t.territory_id) < (
                -best[1].specificity,
                best[0].territory_id,
            ):
                best = (t, d)
        return best

    def credits(
        self, deal: Deal, *, by: Literal["named", "territory"] = "named"
    ) -> tuple[Credit, ...]:
        """Who is credited for a won deal and with how much.  ``named`` credits the
        splits, else the named rep, else the territory owners on the close date;
        ``territory`` always credits the territory owners on the close date."""
        won = deal.won
        if won is None:
            return ()
        amount = deal.amount
        base = tuple(deal.pay_event_ids)
        splits = deal.splits
        if by == "named" and splits:
            return tuple(
                Credit(deal.deal_id, s.rep_id, s.share, amount * s.share / HUNDRED,
                       won.currency, "split", None, base)
                for s in splits
            )  # fmt: skip
        if by == "named" and won.rep_id is not None:
            return (
                Credit(deal.deal_id, won.rep_id, HUNDRED, amount, won.currency, "rep", None, base),
            )
        found = self.territory_for(deal)
        ownership = found[0].ownership_on(won.close_date) if found else None
        if found is None or ownership is None:
            return ()
        territory, definition = found
        ids = (*base, definition.event_id, ownership.event_id)
        return tuple(
            Credit(deal.deal_id, s.rep_id, s.share, amount * s.share / HUNDRED, won.currency,
                   "territory", territory.territory_id, ids)
            for s in ownership.owners
        )  # fmt: skip

    def won_deals(self, period: Period | None = None) -> list[Deal]:
        """Won deals (closed within the period if given), ordered by close date and id."""
        key = ("won", period)
        if key not in self._cache:
            deals = [
                d
                for d in self.deals.values()
                if d.won is not None and (period is None or d.won.close_date in period)
            ]
            self._cache[key] = sorted(deals, key=lambda d: (d.won.close_date, d.deal_id))  # type: ignore[union-attr]
        return list(self._cache[key])

    def reports_of(self, manager: str, day: date) -> set[str]:
        """Everyone below a manager on a day (direct and indirect reports)."""
        below: set[str] = set()
        frontier = {manager}
        while frontier:
            found = {
                rep_id
                for rep_id, rep in self.reps.items()
                if rep.manager_on(day) in frontier and rep_id not in below and rep_id != manager
            }
            below |= found
            frontier = found
        return below

    def leads_of(self, rep_id: str) -> list[Lead]:
        """The leads a rep holds, by lead id."""
        if "leads" not in self._cache:
            index: dict[str, list[Lead]] = {}
            for lead_id in sorted(self.leads):
                lead = self.leads[lead_id]
                if lead.rep_id is not None:
                    index.setdefault(lead.rep_id, []).append(lead)
            self._cache["leads"] = index
        return list(self._cache["leads"].get(rep_id, []))

    def credits_by_rep(
        self, period: Period, *, by: Literal["named", "territory"] = "named"
    ) -> dict[str, list[tuple[Deal, Credit]]]:
        """Every rep's (deal, credit) pairs for the deals won in a period, in close order."""
        key = ("credits", period, by)
        if key not in self._cache:
            found: dict[str, list[tuple[Deal, Credit]]] = {}
            for deal in self.won_deals(period):
                for credit in self.credits(deal, by=by):
                    found.setdefault(credit.rep_id, []).append((deal, credit))
            self._cache[key] = found
        return self._cache[key]  # type: ignore[no-any-return]

    def billing(self, deal_id: str) -> Billing:
        """A deal's invoices, payments (on its invoices or on the deal) and refunds."""
        return self._billing().get(deal_id, NO_BILLING)

    def billed_deals(self, period: Period, *, by: Literal["invoice", "payment"]) -> list[Deal]:
        """Won deals with an invoice issued (``invoice``) or a payment received (``payment``)
        in a period: ordered by close date and id."""
        key = ("billed", period, by)
        if key not in self._cache:
            self._cache[key] = [
                d for d in self.won_deals() if self.billing(d.deal_id).event_ids_in(period, by=by)
            ]
        return list(self._cache[key])

    def _billing(self) -> dict[str, Billing]:
        """Every deal's billing, built once per state of the facts (order-independent: each
        list is sorted by effective day, then event id)."""
        if "billing" not in self._cache:
            invoices: dict[str, list[InvoiceIssued]] = {}
            payments: dict[str, list[PaymentReceived]] = {}
            refunds: dict[str, list[PaymentRefunded]] = {}
            for invoice in self.invoices.values():
                invoices.setdefault(invoice.deal_id, []).append(invoice)
            paid_deal: dict[str, str] = {}
            for payment in self.payments.values():
                deal_id = self.paid_deal(payment)
                if deal_id is not None:
                    paid_deal[payment.payment_id] = deal_id
                    payments.setdefault(deal_id, []).append(payment)
            for refund in self.refunds.values():
                if refund.payment_id in paid_deal:
                    refunds.setdefault(paid_deal[refund.payment_id], []).append(refund)
            order = _by_day
            self._cache["billing"] = {
                deal_id: Billing(
                    tuple(sorted(invoices.get(deal_id, ()), key=order)),
                    tuple(sorted(payments.get(deal_id, ()), key=order)),
                    tuple(sorted(refunds.get(deal_id, ()), key=order)),
                )
                for deal_id in sorted({*invoices, *payments, *refunds})
            }
        return self._cache["billing"]  # type: ignore[no-any-return]

    def paid_deal(self, payment: PaymentReceived) -> str | None:
        """The deal a payment pays: its invoice's deal, else the deal it names."""
        if payment.invoice_id is not None:
            invoice = self.invoices.get(payment.invoice_id)
            return invoice.deal_id if invoice is not None else None
        return payment.deal_id

    def team_credits(
        self, period: Period, *, by: Literal["named", "territory"] = "named"
    ) -> dict[str, list[tuple[str, Deal, Credit]]]:
        """Every team's (rep id, deal, credit) for the deals won in a period, in close order:
        each credit counts for the team its rep was in on the deal's close date (whether the
        rep stayed, moved on or left since)."""
        key = ("team credits", period, by)
        if key not in self._cache:
            found: dict[str, list[tuple[str, Deal, Credit]]] = {}
            for deal in self.won_deals(period):
                for credit in self.credits(deal, by=by):
                    rep = self.reps.get(credit.rep_id)
                    team = rep.team_on(deal.won.close_date) if rep and deal.won else None
                    if team is not None:
                        found.setdefault(team, []).append((credit.rep_id, deal, credit))
            self._cache[key] = found
        return self._cache[key]  # type: ignore[no-any-return]

    def teams_on(self, day: date) -> dict[str, tuple[str, ...]]:
        """Every team's members on a day (reps employed that day and placed in it), by rep id."""
        key = ("teams", day)
        if key not in self._cache:
            found: dict[str, list[str]] = {}
            for rep_id in sorted(self.reps):
                rep = self.reps[rep_id]
                team = rep.team_on(day)
                if team is not None and rep.active_on(day):
                    found.setdefault(team, []).append(rep_id)
            self._cache[key] = {team: tuple(ids) for team, ids in found.items()}
        return self._cache[key]  # type: ignore[no-any-return]

    def unassigned_deals(self) -> list[Deal]:
        """Won deals that name no rep and fall in no owned territory."""
        return [d for d in self.won_deals() if not self.credits(d)]

    def standing_credits(self, period: Period) -> dict[str, list[tuple[Deal, Credit]]]:
        """Every rep's (deal, credit) pairs for deals won in a period and not cancelled, in
        close order (named crediting)."""
        key = ("standing", period)
        if key not in self._cache:
            self._cache[key] = {
                rep_id: kept
                for rep_id, pairs in self.credits_by_rep(period).items()
                if (kept := [(d, c) for d, c in pairs if d.cancellation is None])
            }
        return self._cache[key]  # type: ignore[no-any-return]

    def credited_revenue(self, rep_id: str, period: Period) -> Decimal:
        """A rep's credited revenue from deals closed in a period (cancellations excluded)."""
        return sum((c.amount for _, c in self.standing_credits(period).get(rep_id, [])), Decimal(0))

    def fx_rate(self, base: str, quote: str, day: date) -> Decimal:
        """The rate converting base into quote on a day (the latest set on or before it)."""
        return fx_rate_in(self.fx_rates, base, quote, day)

    def summary(self) -> dict[str, int]:
        """Counts of what the engine knows, for a quick look."""
        won = [d for d in self.deals.values() if d.won is not None]
        return {
            "events": self.event_count,
            "reps": sum(1 for r in self.reps.values() if r.hire_date is not None),
            "teams": len({p.team for r in self.reps.values() for p in r.placements}),
            "territories": len(self.territories),
            "opportunities": sum(1 for d in self.deals.values() if d.created is not None),
            "deals_won": len(won),
            "deals_lost": sum(1 for d in self.deals.values() if d.lost is not None),
            "deals_cancelled": sum(1 for d in won if d.cancellation is not None),
            "quotas": len(self.quotas),
            "leads": len(self.leads),
            "activities": sum(len(a) for a in self.activities.values()),
            "plan_versions": sum(len(v) for v in self.plan_versions.values()),
            "closed_periods": len(self.closed_periods),
            **({"invoices": len(self.invoices)} if self.invoices else {}),
            **({"payments": len(self.payments)} if self.payments else {}),
            **({"quarantined": len(self.quarantined)} if self.quarantined else {}),
            **(
                {"acceptances": sum(len(r) for v in self.acceptances.values() for r in v.values())}
                if self.acceptances
                else {}
            ),
            **({"voided": len(self.voided)} if self.voided else {}),
        }


def _deal_day(deal: Deal) -> date | None:
    if deal.won is not None:
        return deal.won.close_date
    return deal.created.created_date if deal.created else None


def _keep_first(found: dict[str, Any], key: str, event: Event) -> None:
    """File an event under a business id, keeping the smaller event id of two (so that the
    facts do not depend on the order the events were folded in)."""
    earlier = found.get(key)
    if earlier is None or event.event_id < earlier.event_id:
        found[key] = event


def _by_day(event: Event) -> tuple[date, str]:
    """An event's (effective day, event id): the order of a deal's billing."""
    return (event.effective_day, event.event_id)


def _unconcerned(facts: Facts, event: Event) -> None:
    """Events in ``UNCONCERNED`` do not change the facts: they are counted, not folded."""


def _unfoldable(facts: Facts, event: Event) -> None:
    """An object of a type outside the catalogue: refused loudly, never silently dropped."""
    event_id = getattr(event, "event_id", None)
    raise MissingHandlerError(
        f"the fold has no handler for {type(event).__name__} (event {event_id!r}): "
        "it is not an event type of the catalogue"
    )


def _wait(facts: Facts, event: Event) -> None:
    """An event for a deferred field waits until the field is supplied (``Facts.supply``)."""
    facts._pending.append(event)


def fold(events: Iterable[Event]) -> Facts:
    """Fold events into a fresh set of facts."""
    return Facts().apply_all(events)


UNCONCERNED: frozenset[type[Event]] = frozenset(
    {
        # A dispute questions a statement line; it changes no business fact.  Money only
        # moves when an accepted dispute posts a ManualAdjustment, which the fold folds.
        DisputeRaised,
        # Conversation on a dispute: no fact, no money.
        DisputeCommented,
        # The outcome of a dispute; the adjustment it names is its own ManualAdjustment
        # event (folded), and services/disputes.py reads the dispute events themselves.
        DisputeResolved,
        # A void proposal changes nothing until a second finance user approves it.
        EventVoidProposed,
        # An approval takes effect in the shell, which leaves the voided event out of the fold
        # (a ``Voided`` marker in its place, filed in ``Facts.voided``).
        EventVoidApproved,
    }
)
"""Event types the fold deliberately leaves out (each for the reason beside it): every type
of the catalogue is either folded or listed here, checked when this module is imported."""

_APPLY: dict[type[Event], Callable[[Facts, Event], None]] = {
    RepHired: Facts._on_hired,
    RepTransferred: Facts._on_transferred,
    RepTerminated: Facts._on_terminated,
    OpportunityCreated: Facts._on_opportunity,
    OpportunityStageChanged: Facts._on_stage,
    DealWon: Facts._on_won,
    DealLost: Facts._on_lost,
    DealAmended: Facts._on_amended,
    DealCancelled: Facts._on_cancelled,
    TerritoryDefined: Facts._on_territory,
    TerritoryModelDefined: Facts._on_model,
    TerritoryAssigned: Facts._on_ownership,
    TerritoryReassigned: Facts._on_ownership,
    QuotaSet: Facts._on_quota,
    QuotaChanged: Facts._on_quota,
    LeadCreated: Facts._on_lead,
    LeadQualified: Facts._on_qualified,
    ActivityLogged: Facts._on_activity,
    PlanVersionPublished: Facts._on_plan,
    PeriodClosed: Facts._on_closed,
    PlanAccepted: Facts._on_accepted,
    ManualAdjustment: Facts._on_manual,
    AdjustmentProposed: Facts._on_proposed,
    AdjustmentApproved: Facts._on_decided,
    AdjustmentRejected: Facts._on_decided,
    FxRateSet: Facts._on_fx,
    InvoiceIssued: Facts._on_invoice,
    InvoiceCancelled: Facts._on_invoice_cancelled,
    PaymentReceived: Facts._on_payment,
    PaymentRefunded: Facts._on_refund,
    **dict.fromkeys(UNCONCERNED, _unconcerned),
    Quarantined: Facts._on_quarantined,
    Voided: Facts._on_voided,
}  # type: ignore[dict-item]
"""The fold's handler of every event type of the catalogue (``EVENT_TYPES``): the types it
folds, and the ``UNCONCERNED`` ones it deliberately leaves out."""

_MARKERS = frozenset({Quarantined, Voided})
"""What the store hands the fold in place of an event it left out (``domain.isolation``)."""

check_handlers(
    _APPLY,
    (*EVENT_TYPES, *_MARKERS),
    "event types the fold neither folds nor declares unconcerned",
)

LAZY_EVENTS: dict[type[Event], str] = {
    ActivityLogged: "activities",
    LeadCreated: "leads",
    LeadQualified: "leads",
}
"""The event types folded into each lazy field (and into nothing else)."""

PIPELINE_EVENTS: tuple[type[Event], ...] = (OpportunityCreated, OpportunityStageChanged, DealLost)
"""The event types folded into a deal's pipeline parts (and into nothing else)."""
