"""Integrity where money moves: signing checkpoints of the audit chain, verifying the log
before a period is closed or pay is exported (refusing on failure unless finance overrides
with a recorded reason), and the cheap status line a statement shows."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine as Views
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from incentive_engine.domain.errors import Conflict, EngineError, Invalid
from incentive_engine.services.audit import VerifyReport, verify
from incentive_engine.store.chain import links
from incentive_engine.store.checkpoints import (
    Checkpoint,
    CheckpointKeys,
    append_copy,
    load_keys,
    public_pem,
)
from incentive_engine.store.event_store import format_instant
from projections.audit_chain import AuditChain
from projections.integrity import (
    Status,
    last_status,
    next_number,
    record_checkpoint,
    record_status,
    stored_checkpoints,
)
from projections.runner import ProjectionRunner, make_engine

if TYPE_CHECKING:
    from incentive_engine.domain.periods import Period
    from incentive_engine.services.engine import Engine
    from incentive_engine.settings import Settings


class IntegrityFailure(EngineError):
    """Base of the integrity refusals."""


class IntegrityRefused(IntegrityFailure, Conflict):
    """Money may not move: the log fails verification (nothing was written)."""


class OverrideInvalid(IntegrityFailure, Invalid):
    """An integrity override without a reason."""


def views_of(engine: Engine) -> Views:
    """A SQLAlchemy engine on the read-model database of the engine's settings."""
    return make_engine(engine.settings.resolved_views_url())


def run_verification(engine: Engine, views: Views | None = None) -> VerifyReport:
    """Verify the whole log, keep the result for the statements' status line, then extend the
    chain read model with the events not chained yet (on ``views``, else on a read-model
    database opened for this call and closed after it)."""
    if views is None:
        own = views_of(engine)
        try:
            return run_verification(engine, own)
        finally:
            own.dispose()
    with views.begin() as conn:
        report = verify(engine, conn)
        record_status(conn, status_of(report, engine))
    ProjectionRunner(engine.store, views, [AuditChain()]).run()
    return report


def status_of(report: VerifyReport, engine: Engine) -> Status:
    """The row kept of a verification."""
    cp = report.checkpoint
    return Status(
        checked_at=format_instant(engine.store.clock()),
        position=report.position,
        ok=report.ok,
        checkpoint_number=cp.number if cp else None,
        checkpoint_position=cp.position if cp else None,
        failed_at=report.first_bad,
        summary=report.summary()[:1000],
    )


def sign_checkpoint(
    engine: Engine,
    views: Views,
    *,
    reason: str,
    position: int,
    count: int,
    link: str,
    keys: CheckpointKeys | None = None,
) -> Checkpoint:
    """Sign the chain head and event count at a position, store the checkpoint in the
    read-model database and append it to the file copy when one is configured."""
    keys = keys or load_keys(engine.settings)
    created = format_instant(engine.store.clock())
    for _ in range(5):  # two signers racing for a number: the loser takes the next
        with views.begin() as conn:
            number = next_number(conn)
        checkpoint = keys.sign(
            Checkpoint(number, position, count, link, created, reason[:300], keys.key_id)
        )
        try:
            with views.begin() as conn:
                record_checkpoint(conn, checkpoint)
        except IntegrityError:
            continue
        if engine.settings.checkpoint_file is not None:
            append_copy(engine.settings.checkpoint_file, checkpoint)
        _advance_status(views, checkpoint)
        return checkpoint
    raise IntegrityRefused("could not number a checkpoint: other signers kept taking numbers")


def _advance_status(views: Views, checkpoint: Checkpoint) -> None:
    """After a checkpoint is signed on a log that verified, the statements' status line says
    it covers the log up to the new checkpoint (a failed verification stays failed)."""
    with views.begin() as conn:
        status = last_status(conn)
        if status is not None and status.ok:
            record_status(
                conn,
                Status(
                    checked_at=status.checked_at,
                    position=max(status.position, checkpoint.position),
                    ok=True,
                    checkpoint_number=checkpoint.number,
                    checkpoint_position=checkpoint.position,
                    failed_at=None,
                    summary=f"verified up to checkpoint #{checkpoint.number} at position "
                    f"{checkpoint.position}",
                ),
            )


def checkpoint_after_verify(engine: Engine, views: Views, *, reason: str) -> Checkpoint:
    """Verify the whole log and sign a checkpoint at its end; refused when it fails."""
    report = run_verification(engine, views)
    if not report.ok:
        raise IntegrityRefused(f"no checkpoint signed: the log {report.summary()}")
    return sign_checkpoint(
        engine,
        views,
        reason=reason,
        position=report.position,
        count=report.events,
        link=report.link,
    )


def checkpoint_tail(engine: Engine, views: Views, *, reason: str = "interval") -> Checkpoint:
    """Sign a checkpoint at the log's end from the last valid checkpoint, reading only the
    events after it (the interval checkpoint of a projection worker); refused when an event
    after it claims to be recorded before it was signed (written in afterwards)."""
    keys = load_keys(engine.settings)
    with views.begin() as conn:
        last = next((cp for cp in reversed(stored_checkpoints(conn)) if keys.verifies(cp)), None)
    if last is None:
        return checkpoint_after_verify(engine, views, reason=reason)
    skew = timedelta(seconds=engine.settings.checkpoint_skew_seconds)
    signed = datetime.fromisoformat(last.created_at)
    position, count, link = last.position, last.count, last.link
    records = list(engine.store.read(after=last.position))
    for recorded in records:
        if recorded.recorded_at < signed - skew:
            raise IntegrityRefused(
                f"no checkpoint signed: event {recorded.event.event_id} at position "
                f"{recorded.position} claims to be recorded before checkpoint #{last.number} "
                "was signed, which does not cover it (run `audit verify`)"
            )
    for chained in links(records, last.link):
        position, _, link = chained
        count += 1
    return sign_checkpoint(
        engine, views, reason=reason, position=position, count=count, link=link, keys=keys
    )


class IntervalCheckpoints:
    """Sign a checkpoint when ``every_events`` events or ``every_seconds`` (with at least one
    new event) have passed since the last one: what a projection worker calls after each run."""

    def __init__(
        self,
        engine: Engine,
        views: Views,
        *,
        every_events: int,
        every_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine, self.views = engine, views
        self.every_events, self.every_seconds, self.clock = every_events, every_seconds, clock
        self.last = clock()
        self.signed: list[Checkpoint] = []

    def covered(self) -> int:
        """The last position a stored checkpoint covers (0 when none)."""
        with self.views.begin() as conn:
            found = stored_checkpoints(conn)
        return max((cp.position for cp in found), default=0)

    def maybe(self) -> Checkpoint | None:
        """Sign a checkpoint if one is due; the checkpoint signed, or None."""
        head, covered = self.engine.store.max_position(), self.covered()
        late = self.clock() - self.last >= self.every_seconds
        if head <= covered or (head - covered < self.every_events and not late):
            return None
        try:
            checkpoint = checkpoint_tail(self.engine, self.views)
        finally:  # a refusal is retried after the interval, not at every poll
            self.last = self.clock()
        self.signed.append(checkpoint)
        return checkpoint


def guard(engine: Engine, views: Views, *, action: str, override: str | None) -> VerifyReport:
    """Verify the log before money moves; refuse when it fails unless finance gives a reason
    (which the caller records). Returns the report either way."""
    if override is not None and not override.strip():
        raise OverrideInvalid("an integrity override needs a reason", field="override_integrity")
    report = run_verification(engine, views)
    if not report.ok and override is None:
        raise IntegrityRefused(
            f"{action} refused: the log {report.summary()} (run `incentive-engine audit "
            "verify`; finance may override with a recorded reason)"
        )
    return report


def statement_status(views: Views, position: int) -> str:
    """How far the log a statement was computed from (up to ``position``) has been verified,
    from the last verification kept (one row read, nothing recomputed)."""
    try:
        with views.connect() as conn:
            status = last_status(conn)
    except SQLAlchemyError:  # the read-model database was deleted under a running process
        status = None
    if status is None:
        return f"not verified: no verification has run (log at position {position})"
    if not status.ok:
        at = f" at position {status.failed_at}" if status.failed_at is not None else ""
        return f"FAILED{at} (verified {status.checked_at}; see `audit verify`)"
    if status.checkpoint_number is None or status.checkpoint_position is None:
        return f"not verified: no signed checkpoint (log at position {position})"
    line = (
        f"verified up to checkpoint #{status.checkpoint_number} at position "
        f"{status.checkpoint_position}"
    )
    if position > status.checkpoint_position:
        line += f"; not verified since {status.checkpoint_position}"
    return line


def last_verification(views: Views) -> Status | None:
    """The last verification's result kept (when, up to which position, what it found), or
    None when none has run (one row read)."""
    try:
        with views.connect() as conn:
            return last_status(conn)
    except SQLAlchemyError:  # the read-model database was deleted under a running process
        return None


def with_override(report: VerifyReport, reason: str | None) -> str | None:
    """The override to record on a PeriodClosed: the reason, only when it was needed."""
    if reason is None or report.ok:
        return None
    return reason.strip()


def guard_export(
    engine: Engine, period: Period, *, what: str, views: Views | None = None
) -> VerifyReport:
    """Verify the log before pay of a period leaves the engine (payroll CSV, audit pack):
    refused when it fails, unless the period was sealed with a recorded integrity override
    (what is exported is then what finance chose to seal)."""
    report = run_verification(engine, views)
    if report.ok:
        return report
    closed = engine.snapshot().facts.closed_periods.get(str(period))
    if closed is not None and closed.integrity_override:
        return report
    raise IntegrityRefused(
        f"exporting {what} refused: the log {report.summary()} (run `incentive-engine audit "
        "verify`)"
    )


def public_key_pem(settings: Settings) -> str:
    """The checkpoint public key as PEM text."""
    return public_pem(load_keys(settings))
