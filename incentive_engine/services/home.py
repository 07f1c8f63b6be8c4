"""A rep's home: earnings per period of the year, pace to quota this period, the next tier or
gate and the revenue that reaches it, draws and their balance, adjustments of closed periods,
and what changed since the viewer's last visit. Every figure comes from the evaluator's own
statements and crediting (no second implementation of a rule); the door decides who may see
it and passes today (in the organisation's time zone)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from weakref import WeakKeyDictionary

from incentive_engine.domain.attainment import Pace, pace
from incentive_engine.domain.changes import (
    Change,
    changes_from_facts,
    changes_from_log,
    newest_first,
    since,
)
from incentive_engine.domain.events import (
    DealLost,
    DisputeCommented,
    DisputeRaised,
    DisputeResolved,
    Event,
    PlanVersionPublished,
)
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import (
    CommissionError,
    EarningsRow,
    Snapshot,
    rep_earnings,
    rep_statements,
)
from incentive_engine.store.event_store import EventStore, format_instant
from plans.documents import PlanVersion
from plans.evaluate import EvaluationError, Statement
from plans.evaluate.credits import credits_for
from plans.evaluate.statement import PRIOR
from plans.model import Draw
from plans.thresholds import NextStep, next_step

LOG_TYPES = ("DealLost", "DisputeRaised", "DisputeCommented", "DisputeResolved")
"""Events that concern a rep but are not folded into facts: read from the log."""

DRAW_KINDS = ("draw", "draw_recovery")
"""The statement line kinds the draw component writes."""


@dataclass(frozen=True)
class Progress:
    """A plan in force this period: the statement's quota, credited revenue and attainment,
    the pace to quota by day, and the next step with the revenue that reaches it."""

    plan_id: str
    plan_version: int
    currency: str
    quota: Decimal | None
    credited: Decimal
    attainment: Decimal | None
    pace: Pace | None
    next: NextStep | None


@dataclass(frozen=True)
class DrawRow:
    """A period's draw lines under a plan: the top-up paid (positive) or the deficit
    recovered (negative), and what is still owed after the period."""

    period: str
    plan_id: str
    currency: str
    component: str
    amount: Decimal
    owed_after: Decimal
    recoverable: bool


@dataclass(frozen=True)
class AdjustmentRow:
    """An adjustment carried into a period for a closed one: the period it is paid in, the
    closed period it corrects, the amount, and the changes (events) behind it."""

    period: str
    origin: str
    plan_id: str
    currency: str
    amount: Decimal
    line: int
    description: str
    event_ids: tuple[str, ...]
    causes: tuple[Change, ...]


@dataclass(frozen=True)
class RepHome:
    """Everything the home page of a rep shows."""

    rep_id: str
    current: Period
    year: list[Period]
    rows: list[EarningsRow]
    progress: list[Progress]
    draws: list[DrawRow]
    balances: dict[str, tuple[Decimal, str]]
    """What each plan's recoverable draw is still owed after the current period."""
    adjustments: list[AdjustmentRow]
    changes: list[Change]
    """The changes to show: those since the last visit (the latest few on a first visit)."""
    new_since_visit: int
    """How many changes were recorded since the last visit (0 on a first visit)."""
    first_visit: bool
    errors: list[str] = field(default_factory=list)


def _statements(snap: Snapshot, rep_id: str, period: Period) -> list[Statement] | str:
    """The rep's statements of a period, or why they cannot be computed ("" if no plan)."""
    try:
        return rep_statements(snap, rep_id, period)
    except CommissionError:
        return ""
    except EvaluationError as exc:
        return str(exc)


def progress_of(
    snap: Snapshot, version: PlanVersion, statement: Statement, today: date
) -> Progress:
    """A plan's progress this period from its statement: pace by day on the statement's own
    crediting (clawback rules, plan currency), the next step on its quota and credit."""
    period = Period.parse(statement.period)
    plan = version.plan
    the_pace = None
    if statement.quota is not None:
        credits = [
            (c.deal.won.close_date, c.amount)  # type: ignore[union-attr]
            for c in credits_for(snap.facts, plan, statement.rep_id, period)
        ]
        the_pace = pace(period, statement.quota, plan.currency, credits, today)
    return Progress(
        plan.plan_id,
        plan.version,
        plan.currency,
        statement.quota,
        statement.credited,
        statement.attainment,
        the_pace,
        next_step(plan, statement.quota, statement.credited),
    )


def draws_of(
    snap: Snapshot, rep_id: str, computed: dict[Period, list[Statement] | str], upto: Period
) -> tuple[list[DrawRow], dict[str, tuple[Decimal, str]]]:
    """Draw rows from the statements' draw lines of every period up to ``upto``, and what
    each plan's recoverable draw is owed after it: the sum of its top-ups (owed more) and
    recoveries (owed less), as the evaluator's lines say."""
    rows: list[DrawRow] = []
    owed: dict[str, tuple[Decimal, str]] = {}
    recoverable = {
        (v.plan.plan_id, c.id): c.recoverable
        for v in snap.book.versions
        for c in v.plan.components
        if isinstance(c, Draw)
    }
    for period in sorted(computed, key=lambda p: p.start):
        found = computed[period]
        if period > upto or isinstance(found, str):
            continue
        for s in found:
            for ln in s.lines:
                if ln.kind not in DRAW_KINDS:
                    continue
                keeps = recoverable.get((s.plan_id, ln.component), True)
                before = owed.get(s.plan_id, (Decimal(0), s.currency))[0]
                after = before + ln.amount if keeps else before
                owed[s.plan_id] = (after, s.currency)
                row = DrawRow(
                    str(period), s.plan_id, s.currency, ln.component, ln.amount, after, keeps
                )
                rows.append(row)
    return rows, owed


def adjustments_of(
    computed: dict[Period, list[Statement] | str], year: Sequence[Period], changes: list[Change]
) -> list[AdjustmentRow]:
    """The adjustment lines of the year's statements, each with the changes it cites."""
    by_id = {c.event_id: c for c in changes}
    rows = []
    for period in year:
        found = computed.get(period)
        if not isinstance(found, list):
            continue
        for s in found:
            for ln in s.lines:
                if ln.kind != PRIOR:
                    continue
                causes = tuple(by_id[e] for e in ln.event_ids if e in by_id)
                rows.append(
                    AdjustmentRow(
                        str(period),
                        ln.component.removeprefix("prior:"),
                        s.plan_id,
                        s.currency,
                        ln.amount,
                        ln.number,
                        ln.description,
                        ln.event_ids,
                        causes,
                    )
                )
    return rows


class LoggedChanges:
    """The log's lost deals and dispute events (``LOG_TYPES``), by the rep they concern, read
    once and then only the tail since the last read (a page never rescans the log)."""

    def __init__(self) -> None:
        self.position = 0
        self.by_rep: dict[str, list[tuple[Event, str]]] = {}
        self.dispute_rep: dict[str, str] = {}
        self._lock = threading.Lock()

    def upto(self, snap: Snapshot, store: EventStore, head: int) -> LoggedChanges:
        """Read the events of ``LOG_TYPES`` after the last position read, up to ``head``."""
        with self._lock:
            if head <= self.position:
                return self
            for r in store.read(self.position, until=head, types=LOG_TYPES):
                event, rep = r.event, None
                if isinstance(event, DisputeRaised):
                    rep = self.dispute_rep.setdefault(event.dispute_id, event.rep_id)
                elif isinstance(event, DisputeCommented | DisputeResolved):
                    rep = self.dispute_rep.get(event.dispute_id)
                elif isinstance(event, DealLost):
                    deal = snap.facts.deals.get(event.deal_id)
                    created = deal.created if deal is not None else None
                    rep = created.rep_id if created is not None else None
                if rep is not None:
                    self.by_rep.setdefault(rep, []).append((event, format_instant(r.recorded_at)))
            self.position = head
        return self


_LOGGED: WeakKeyDictionary[EventStore, LoggedChanges] = WeakKeyDictionary()
_LOGGED_LOCK = threading.Lock()


def logged_changes(snap: Snapshot, store: EventStore, head: int) -> LoggedChanges:
    """The store's lost deals and dispute events by rep, read up to ``head``."""
    with _LOGGED_LOCK:
        found = _LOGGED.get(store)
        if found is None:
            found = _LOGGED[store] = LoggedChanges()
    return found.upto(snap, store, head)


def rep_changes(
    snap: Snapshot, store: EventStore, rep_id: str, periods: Sequence[Period], head: int
) -> list[Change]:
    """Every recorded change that concerns the rep in the given (visible) periods, newest
    first: from the facts, and lost deals and disputes from the log (up to ``head``)."""
    facts = snap.facts
    versions: list[PlanVersion] = []
    crediting: list[str] = []
    for period in periods:
        for v in snap.book.for_rep(facts, rep_id, period):
            if v not in versions:
                versions.append(v)
                crediting.append(v.plan.crediting)
    published: list[PlanVersionPublished] = [
        facts.plan_versions[v.plan.plan_id][v.plan.version]
        for v in versions
        if v.plan.version in facts.plan_versions.get(v.plan.plan_id, {})
    ]
    found = changes_from_facts(
        facts,
        rep_id,
        periods,
        crediting=crediting or ("named",),  # type: ignore[arg-type]
        plans=published,
    )
    logged = logged_changes(snap, store, head).by_rep.get(rep_id, [])
    found += changes_from_log(facts, rep_id, list(logged), periods)
    return newest_first(found)


def rep_home(
    snap: Snapshot,
    store: EventStore,
    rep_id: str,
    periods: Sequence[Period],
    current: Period,
    today: date,
    last_visit: datetime | None,
    *,
    head: int | None = None,
    first_few: int = 5,
) -> RepHome:
    """The home page of a rep: ``periods`` are the plan periods the viewer may see (oldest
    first), ``current`` the one containing today (or the latest), ``last_visit`` when the
    viewer's previous visit began (None for a first visit), ``head`` the log position the
    snapshot is at (the store's last position by default)."""
    head = store.max_position() if head is None else head
    year = [p for p in periods if p.start.year == current.start.year]
    rows = rep_earnings(snap, rep_id, year)
    upto = [p for p in snap.book.periods(snap.facts) if p <= current or p in year]
    computed: dict[Period, list[Statement] | str] = {}
    for p in upto:
        computed[p] = _statements(snap, rep_id, p)
    errors = [found for found in computed.values() if isinstance(found, str) and found]
    progress = []
    now = computed.get(current)
    if isinstance(now, list):
        in_force = {v.key: v for v in snap.book.for_rep(snap.facts, rep_id, current)}
        for s in now:
            version = in_force.get((s.plan_id, s.plan_version))
            if version is not None:
                progress.append(progress_of(snap, version, s, today))
    draws, balances = draws_of(snap, rep_id, computed, current)
    visible = {str(p) for p in periods}
    draws = [d for d in draws if d.period in visible]
    everything = rep_changes(snap, store, rep_id, periods, head)
    adjustments = adjustments_of(computed, year, everything)
    fresh = since(everything, None if last_visit is None else format_instant(last_visit))
    shown = fresh if last_visit is not None else everything[:first_few]
    return RepHome(
        rep_id=rep_id,
        current=current,
        year=year,
        rows=rows,
        progress=progress,
        draws=draws,
        balances=balances,
        adjustments=adjustments,
        changes=shown,
        new_since_visit=len(fresh) if last_visit is not None else 0,
        first_visit=last_visit is None,
        errors=errors,
    )
