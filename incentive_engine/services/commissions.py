"""Commission services: statements, payouts and period close over the store (the I/O shell
around the pure evaluator in ``plans.evaluate``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from incentive_engine.domain.acceptance import hold_reason
from incentive_engine.domain.closing import CloseBlocked, decide_close
from incentive_engine.domain.errors import Conflict, EngineError, NotFound
from incentive_engine.domain.events import Payout, PeriodClosed, PriorAdjustment, content_hash
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from incentive_engine.store.event_store import EventStore, utc_now
from plans.documents import PlanVersion
from plans.evaluate import EvaluationError, PlanBook, Statement, evaluate, statements

if TYPE_CHECKING:
    from sqlalchemy import Engine as Views

    from incentive_engine.services.engine import Engine


class CommissionError(EngineError, ValueError):
    """A commission command that cannot be carried out (nothing was changed)."""


class CommissionNotFound(CommissionError, NotFound):
    """No such rep, no plan covering the rep in the period, or no such plan version."""


class CloseRefused(CommissionError, Conflict):
    """A period that may not be closed now (closed already, not ended, out of order...)."""


@dataclass(frozen=True)
class Snapshot:
    """Facts and plan versions as of an instant (or now)."""

    facts: Facts
    book: PlanBook


def engine_on(source: Engine | EventStore) -> Engine:
    """The engine given, or a transient one on a bare store (scripts and tests; the doors
    hold a long-lived engine)."""
    from incentive_engine.services.engine import Engine  # the engine imports Snapshot

    return source if isinstance(source, Engine) else Engine(store=source)


def snapshot(store: EventStore, *, as_of: datetime | None = None) -> Snapshot:
    """Facts and plan versions of a bare store (as of an instant), through a transient
    engine: for scripts and tests; the doors ask their engine."""
    return engine_on(store).snapshot(as_of)


def rep_statements(
    snap: Snapshot, rep_id: str, period: Period, *, plan_version: PlanVersion | None = None
) -> list[Statement]:
    """A rep's statements for a period: under the versions in force, or one version asked for."""
    if rep_id not in snap.facts.reps:
        raise CommissionNotFound(f"unknown rep {rep_id!r}")
    if plan_version is not None:
        return [evaluate(snap.facts, plan_version, rep_id, period, book=snap.book)]
    found = [
        evaluate(snap.facts, v, rep_id, period, book=snap.book)
        for v in snap.book.for_rep(snap.facts, rep_id, period)
    ]
    if not found:
        raise CommissionNotFound(f"no published plan covers {rep_id} in {period}")
    return found


def find_version(snap: Snapshot, plan_id: str, version: int) -> PlanVersion:
    """A published version by plan id and number, or a clear error."""
    for v in snap.book.versions:
        if v.key == (plan_id, version):
            return v
    known = ", ".join(f"{p}@{n}" for p, n in (v.key for v in snap.book.versions)) or "none"
    raise CommissionNotFound(
        f"plan {plan_id} version {version} is not published (published: {known})"
    )


def period_statements(snap: Snapshot, period: Period) -> list[Statement]:
    """Every covered rep's statements for a period (sorted by rep, then plan)."""
    return statements(snap.facts, period, book=snap.book)


@dataclass(frozen=True)
class StatementFailure:
    """A covered rep's statement that cannot be computed, and why (for example a quarantined
    event that concerns it)."""

    rep_id: str
    plan_id: str
    plan_version: int
    error: str


def period_statements_or_failures(
    snap: Snapshot, period: Period
) -> tuple[list[Statement], list[StatementFailure]]:
    """Every covered rep's statements for a period, and apart the ones that cannot be
    computed with the reason: one bad statement never hides the others."""
    found: list[Statement] = []
    failed: list[StatementFailure] = []
    for rep_id in sorted(snap.facts.reps):
        for version in snap.book.for_rep(snap.facts, rep_id, period):
            try:
                found.append(evaluate(snap.facts, version, rep_id, period, book=snap.book))
            except EvaluationError as exc:
                failed.append(StatementFailure(rep_id, *version.key, str(exc)))
    return found, failed


class PayoutsIncomplete(CommissionError, Conflict):
    """A payroll export of a period some of whose statements cannot be computed (nothing
    was exported): payroll never gets a partial file unless it asks for one."""


@dataclass(frozen=True)
class HeldPayout:
    """A payout held back (``INCENTIVE_HOLD_UNACCEPTED``): its rep has not accepted the plan
    version that pays it; paid once they accept."""

    payout: Payout
    reason: str


@dataclass(frozen=True)
class PeriodPayouts:
    """A period's payouts (sealed once it is closed) and, while it is open, the covered
    reps' statements that cannot be computed; with the hold on, the payouts held apart."""

    payouts: list[Payout]
    failures: list[StatementFailure]
    closed: PeriodClosed | None
    held: list[HeldPayout] = field(default_factory=list)

    def require_complete(self, period: Period, *, partial: bool = False) -> None:
        """Refuse (``PayoutsIncomplete``, naming each failing rep) a payroll export missing
        some statements, unless a partial export is asked for."""
        if self.failures and not partial:
            reps = ", ".join(dict.fromkeys(f.rep_id for f in self.failures))
            raise PayoutsIncomplete(
                f"the payroll export of {period} is refused: the statements of {reps} cannot "
                f"be computed ({self.failures[0].error}); void or repair the event cited, or "
                "ask for a partial export of the other reps (partial=true, --partial)"
            )


def period_payouts(snap: Snapshot, period: Period, *, hold: bool = False) -> PeriodPayouts:
    """Every rep's pay for a period: the sealed payouts once closed, else every computable
    statement's payout and apart the statements that cannot be computed (one broken rep
    never hides the others); with ``hold``, the payouts of plan versions their rep has not
    accepted are held apart (``split_held``)."""
    closed = snap.facts.closed_periods.get(str(period))
    if closed is not None:
        payable, held = split_held(snap.facts, list(closed.payouts), hold=hold)
        return PeriodPayouts(payable, [], closed, held)
    computed, failed = period_statements_or_failures(snap, period)
    payable, held = split_held(snap.facts, [payout_of(s) for s in computed], hold=hold)
    return PeriodPayouts(payable, failed, None, held)


def split_held(
    facts: Facts, payouts: list[Payout], *, hold: bool
) -> tuple[list[Payout], list[HeldPayout]]:
    """The payable payouts and, with ``hold``, those held because their rep has not accepted
    the plan version that pays them (everything payable without it)."""
    if not hold:
        return payouts, []
    payable: list[Payout] = []
    held: list[HeldPayout] = []
    for p in payouts:
        reason = hold_reason(facts, p.rep_id, p.plan_id, p.version)
        if reason is None:
            payable.append(p)
        else:
            held.append(HeldPayout(p, reason))
    return payable, held


def payout_of(statement: Statement) -> Payout:
    """The sealed form of a statement."""
    return Payout(
        rep_id=statement.rep_id,
        plan_id=statement.plan_id,
        version=statement.plan_version,
        earned=statement.earned,
        adjustments=tuple(
            PriorAdjustment(period=p, amount=a) for p, a in sorted(statement.adjustments().items())
        ),
        total=statement.total,
        statement_hash=statement.hash,
    )


def close_period(
    source: Engine | EventStore,
    period: Period,
    *,
    closed_by: str,
    now: datetime | None = None,
    override_integrity: str | None = None,
    override_reason: str | None = None,
    views: Views | None = None,
) -> PeriodClosed:
    """Seal a period: every covered rep's payout and statement hash, as a PeriodClosed event.

    Refused (nothing written) when the period is already closed, has not ended, or follows
    a period that had a plan in force and is still open; and when the log fails verification
    against the chain and the signed checkpoints, unless finance gives a reason
    (``override_integrity``, recorded on the event); and while a blocking pre-close check
    fails (``services.closing``, ``domain.closing``), unless finance overrides it with a
    written reason (``override_reason``, stored on the event with the checks it lifts).
    A signed checkpoint is taken just before the close (its number sealed in the event) and
    one just after.  The facts are the
    engine's, caught up with the log (a bare store gets a transient engine); ``views`` is
    the read-model database (the settings' by default)."""
    from incentive_engine.services.closing import pre_close
    from incentive_engine.services.integrity import (
        checkpoint_tail,
        guard,
        sign_checkpoint,
        views_of,
        with_override,
    )
    from incentive_engine.store.checkpoints import load_keys

    now = now or utc_now()
    engine = engine_on(source)
    store = engine.store
    snap = engine.snapshot()
    facts = snap.facts
    name = str(period)
    if name in facts.closed_periods:
        at = facts.closed_periods[name].closed_at.isoformat()
        raise CloseRefused(f"period {name} is already closed (closed at {at})")
    if period.end >= now.date():
        raise CloseRefused(f"period {name} has not ended yet (it ends on {period.end})")
    previous = period.previous()
    had_plan = any(
        v.plan.period == period.kind and v.plan.in_force_on(previous.end)
        for v in snap.book.versions
    )
    if had_plan and str(previous) not in facts.closed_periods:
        raise CloseRefused(f"close {previous} first: periods are closed in order")
    own_views = views is None
    views = views if views is not None else views_of(engine)
    try:
        # The pre-close checks and the close rule (domain.closing): refused while a
        # blocking check fails, unless finance overrides with a written reason; never
        # over statements that cannot be computed (there is nothing to seal for them).
        checked = pre_close(engine, period, views=views, snap=snap)
        try:
            decision = decide_close(checked.checks, override_reason)
        except CloseBlocked as exc:
            raise CloseRefused(f"cannot close {name}: {exc}") from None
        payouts = tuple(payout_of(s) for s in checked.statements)
        report = guard(engine, views, action=f"closing {name}", override=override_integrity)
        keys = load_keys(engine.settings)
        before = None
        if keys.private is not None:
            before = sign_checkpoint(
                engine,
                views,
                reason=f"before closing {name}",
                position=report.position,
                count=report.events,
                link=report.link,
                keys=keys,
            )
        event = PeriodClosed(
            event_id=f"close:{name}",
            period=name,
            closed_at=now,
            closed_by=closed_by,
            payouts=payouts,
            statements_hash=content_hash([p.statement_hash for p in payouts]),
            chain_position=report.position,
            chain_link=report.link,
            checkpoint=before.number if before is not None else None,
            integrity_override=with_override(report, override_integrity),
            override_reason=decision.reason,
            overridden_checks=decision.overridden or None,
        )
        appended = store.append([event], source=f"period close by {closed_by}")
        if appended.conflicts or appended.duplicates:
            raise CloseRefused(f"period {name} was closed meanwhile by another process")
        if keys.private is not None:
            checkpoint_tail(engine, views, reason=f"period close {name}")
    finally:
        if own_views:
            views.dispose()
    return event


def total_paid(payouts: tuple[Payout, ...] | list[Payout]) -> Decimal:
    """Sum of payout totals."""
    return sum((p.total for p in payouts), Decimal(0))


# ------------------------------------------------------------- earnings


def plan_currencies(snap: Snapshot) -> dict[str, str]:
    """The currency of every published plan, by plan id."""
    return {v.plan.plan_id: v.plan.currency for v in snap.book.versions}


def adjustments_total(payout: Payout) -> Decimal:
    """The sum of a sealed payout's adjustments of earlier periods."""
    return sum((a.amount for a in payout.adjustments), Decimal(0))


@dataclass(frozen=True)
class EarningsRow:
    """A rep's earnings in one plan period under one plan version: sealed figures once the
    period is closed, else as computed now (or why they cannot be computed)."""

    period: str
    plan_id: str
    plan_version: int
    currency: str
    earned: Decimal | None
    adjustments: Decimal | None
    total: Decimal | None
    status: Literal["open", "sealed"]
    statement_hash: str | None
    error: str | None = None


def rep_earnings(snap: Snapshot, rep_id: str, periods: Sequence[Period]) -> list[EarningsRow]:
    """A rep's earnings in each of the given periods (those no plan covers left out): what
    ``GET /v1/reps/{rep}/earnings`` and the rep's home page show."""
    currency = plan_currencies(snap)
    rows: list[EarningsRow] = []
    for period in periods:
        closed = snap.facts.closed_periods.get(str(period))
        if closed is not None:
            for p in sorted(closed.payouts, key=lambda x: x.plan_id):
                if p.rep_id == rep_id:
                    rows.append(
                        EarningsRow(
                            period=str(period),
                            plan_id=p.plan_id,
                            plan_version=p.version,
                            currency=currency.get(p.plan_id, ""),
                            earned=p.earned,
                            adjustments=adjustments_total(p),
                            total=p.total,
                            status="sealed",
                            statement_hash=p.statement_hash,
                        )
                    )
            continue
        try:
            found = rep_statements(snap, rep_id, period)
        except CommissionError:
            continue  # no plan covers the rep in this period
        except EvaluationError as exc:
            for v in snap.book.for_rep(snap.facts, rep_id, period):
                rows.append(_failed(period, v, str(exc)))
            continue
        for s in found:
            rows.append(
                EarningsRow(
                    period=str(period),
                    plan_id=s.plan_id,
                    plan_version=s.plan_version,
                    currency=s.currency,
                    earned=s.earned,
                    adjustments=s.total - s.earned,
                    total=s.total,
                    status="open",
                    statement_hash=s.hash,
                )
            )
    return rows


def _failed(period: Period, version: PlanVersion, error: str) -> EarningsRow:
    return EarningsRow(
        period=str(period),
        plan_id=version.plan.plan_id,
        plan_version=version.plan.version,
        currency=version.plan.currency,
        earned=None,
        adjustments=None,
        total=None,
        status="open",
        statement_hash=None,
        error=error,
    )
