"""Pre-close checks of a period over the store: gathers what the pure checks
(``incentive_engine.domain.closing``) need (statements or their failures, open disputes,
the last pay-run view and what was recorded since) and runs them. ``close_period``
(``services.commissions``) applies the close rule on the same checks, so the CLI, the API
and the web page refuse and override alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from incentive_engine.domain.closing import (
    Check,
    PayRunView,
    Recorded,
    Since,
    pre_close_checks,
)
from incentive_engine.domain.events import DisputeRaised, PeriodClosed
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import (
    Snapshot,
    StatementFailure,
    period_statements_or_failures,
)
from plans.evaluate import Statement
from projections.visits import visits_table

if TYPE_CHECKING:
    from sqlalchemy import Engine as Views

    from incentive_engine.services.engine import Engine

READ_SINCE = 2000
"""The most events read after the last pay-run view (the rest are reported as more)."""


def pay_run_subject(period: Period) -> str:
    """The subject under which the pay-run page records its views (``projections.visits``)."""
    return f"pay-run:{period}"


def last_pay_run_view(views: Views | None, period: Period) -> PayRunView | None:
    """The latest view of the period's pay run by any finance user, or None (never viewed,
    or no read-model database)."""
    if views is None:
        return None
    t = visits_table
    try:
        with views.connect() as conn:
            row = conn.execute(
                select(t.c.viewer, t.c.at, t.c.position)
                .where(t.c.rep_id == pay_run_subject(period))
                .order_by(t.c.at.desc(), t.c.viewer)
                .limit(1)
            ).first()
    except SQLAlchemyError:  # the visits table is not created yet: never viewed
        return None
    if row is None:
        return None
    at = row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=UTC)
    return PayRunView(row.viewer, at, row.position)


def recorded_since(engine: Engine, view: PayRunView | None) -> Since:
    """The events recorded after the view's position (at most ``READ_SINCE``)."""
    if view is None:
        return Since()
    found: list[Recorded] = []
    for r in engine.store.read(view.position):
        if len(found) == READ_SINCE:
            return Since(tuple(found), more=True)
        found.append(Recorded(r.position, r.recorded_at, r.event))
    return Since(tuple(found))


def open_disputes_of(engine: Engine) -> list[DisputeRaised]:
    """The raise of every open dispute of the log."""
    from incentive_engine.services.disputes import DisputeService, Status

    return [d.raised for d in DisputeService(engine).disputes().values() if d.status is Status.OPEN]


@dataclass(frozen=True)
class PreClose:
    """A period's pre-close checks with what they were computed from."""

    period: Period
    checks: list[Check]
    statements: list[Statement]
    failures: list[StatementFailure]
    closed: PeriodClosed | None
    position: int

    @property
    def blocking(self) -> list[Check]:
        """The blocking checks that fail."""
        return [c for c in self.checks if c.blocks]


def pre_close(
    engine: Engine, period: Period, *, views: Views | None = None, snap: Snapshot | None = None
) -> PreClose:
    """Every pre-close check of a period, on the engine's facts (or the snapshot given);
    ``views``: the read-model database holding the pay-run views (None: never viewed)."""
    snap = snap or engine.snapshot()
    found, failed = period_statements_or_failures(snap, period)
    view = last_pay_run_view(views, period)
    checks = pre_close_checks(
        snap.facts,
        snap.book,
        period,
        failed,
        disputes=open_disputes_of(engine),
        view=view,
        since=recorded_since(engine, view),
        paid=[(s.rep_id, s.plan_id, s.plan_version) for s in found],
        hold=engine.settings.hold_unaccepted,
    )
    return PreClose(
        period,
        checks,
        found,
        failed,
        snap.facts.closed_periods.get(str(period)),
        engine.position,
    )


def period_to_close(snap: Snapshot, today: date) -> Period | None:
    """The period finance closes next: the oldest plan period that has ended and is still
    open; else the period containing today; else the latest (None: no plan period)."""
    periods = sorted(snap.book.periods(snap.facts), key=lambda p: (p.start, p.end))
    for p in periods:
        if p.end < today and str(p) not in snap.facts.closed_periods:
            return p
    for p in periods:
        if p.start <= today <= p.end:
            return p
    return periods[-1] if periods else None
