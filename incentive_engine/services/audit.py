"""The audit trail: a hash chain over the log, signed checkpoints of it, and verification.

Each link is ``sha256(previous link | canonical form of the recorded event)``, where the
canonical form holds the event's position, content, recorded time and source.  A projection
keeps the chain beside the read models as the log grows; signed checkpoints (the chain head
and the event count at a position, signed with a key the database never holds) are taken at
every period close and at an interval, kept in the read-model database and optionally in a
file elsewhere; every ``PeriodClosed`` also seals the link of the last event before it.

``verify`` recomputes the chain from the log and reports the first event edited, deleted,
inserted or reordered (against the chain read model), a chain read model rebuilt after the
log was changed or deleted altogether (against the signed checkpoints), events written in
after a checkpoint with an earlier recorded time, checkpoints whose signature fails; then it
recomputes every closed period's statements as of its close and compares them with the
sealed hashes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Connection, select

from incentive_engine.domain.events import PeriodClosed
from incentive_engine.domain.isolation import Quarantined
from incentive_engine.domain.periods import Period
from incentive_engine.store.chain import GENESIS, next_link
from incentive_engine.store.checkpoints import Checkpoint, CheckpointKeys, load_keys, read_copy
from incentive_engine.store.event_store import decode_or_marker, format_instant
from plans.evaluate import statements
from projections.audit_chain import chain_table
from projections.integrity import stored_checkpoints

if TYPE_CHECKING:
    from incentive_engine.services.engine import Engine


KINDS = {
    "altered": "an event's content was edited",
    "removed": "an event was deleted",
    "inserted": "an event was written in",
    "reordered": "events were moved to other positions",
    "rebuilt": "the chain read model was recomputed after the log was changed",
    "checkpoint": "a checkpoint is forged, altered, missing, or no longer matches the log",
    "unreadable": "a stored event cannot be decoded",
    "anchor": "the log before a period close has changed",
    "statement": "a closed period no longer recomputes to its seal",
}
"""Every kind of finding, and what it means."""


@dataclass
class Finding:
    """One problem found by verification."""

    kind: str
    """One of ``KINDS``."""
    position: int | None
    """The first log position found bad (None when no position applies)."""
    event_id: str | None
    detail: str


@dataclass(frozen=True)
class QuarantinedRow:
    """A stored event that no longer validates, found by verification: outside the chain
    (never linked) unless it was edited after it was chained (then also an ``altered``
    finding), unresolved until finance voids it."""

    position: int
    event_id: str | None
    type: str | None
    reason: str
    voided_by: str | None
    """The approval that voided it (resolved), or None (unresolved)."""
    covered: bool
    """Whether it was there when the last valid checkpoint was signed (an old event)."""
    edited: bool
    """Whether it was chained when it validated and has been edited since."""

    @property
    def resolved(self) -> bool:
        """Whether it is voided: every figure is computed as if it had never been stored."""
        return self.voided_by is not None

    def describe(self) -> str:
        """One line for people: which event, why it is left out, and where it stands."""
        who = f"event {self.event_id!r}" if self.event_id else "an event without an id"
        kind = f" ({self.type})" if self.type else ""
        head = f"{who}{kind} at log position {self.position} is quarantined: {self.reason}"
        if self.edited:
            where = "; it validated when it was chained and has been edited since"
        elif self.covered:
            where = "; it was there at the last signed checkpoint (an old event)"
        else:
            where = "; no signed checkpoint covers it yet"
        if self.resolved:
            return f"{head}{where}; resolved: voided by {self.voided_by}"
        fix = f"incentive-engine void propose {self.event_id or '?'}"
        return f"{head}{where}; unresolved: the statements it concerns cannot be computed ({fix})"


@dataclass
class VerifyReport:
    """What verification checked and found (the first chain break, checkpoints, then sealed
    periods), and how far the log is covered by a valid checkpoint."""

    events: int = 0
    periods: int = 0
    position: int = 0
    """The last log position read."""
    checkpoints: int = 0
    """Valid checkpoints that match the log."""
    checkpoint: Checkpoint | None = None
    """The last valid checkpoint that matches the log."""
    link: str = GENESIS
    """The chain head recomputed from the log (at ``position``)."""
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    quarantined: list[QuarantinedRow] = field(default_factory=list)
    """Stored events that no longer validate, voided or not, in log order."""

    @property
    def ok(self) -> bool:
        """Whether nothing was found: the log is intact (quarantined events aside)."""
        return not self.findings

    @property
    def unresolved(self) -> list[QuarantinedRow]:
        """The quarantined events not voided: the statements they concern cannot be computed."""
        return [q for q in self.quarantined if not q.resolved]

    @property
    def status(self) -> Literal["ok", "quarantined", "failed"]:
        """``failed`` (a finding), ``quarantined`` (intact, but unresolved quarantined events
        remain) or ``ok``."""
        if self.findings:
            return "failed"
        return "quarantined" if self.unresolved else "ok"

    @property
    def first_bad(self) -> int | None:
        """The first bad position found, if any."""
        positions = [f.position for f in self.findings if f.position is not None]
        return min(positions) if positions else None

    def summary(self) -> str:
        """One line: verified up to which checkpoint, or where it failed."""
        if self.findings:
            first = self.findings[0]
            at = f" at position {self.first_bad}" if self.first_bad is not None else ""
            return f"FAILED{at}: {first.kind}: {first.detail}"
        if self.checkpoint is None:
            return f"not verified: no signed checkpoint covers the log (up to {self.position})"
        cp = self.checkpoint
        tail = self.position - cp.position
        more = f"; {tail} position(s) after it not covered yet" if tail > 0 else ""
        return f"verified up to checkpoint #{cp.number} at position {cp.position}{more}"

    def quarantine_summary(self) -> str:
        """One line on the quarantined events: how many are unresolved, how many voided."""
        unresolved, voided = len(self.unresolved), len(self.quarantined) - len(self.unresolved)
        if not self.quarantined:
            return "no quarantined event"
        first = next((q for q in self.unresolved), None)
        where = f" (first: {first.event_id or '?'} at position {first.position})" if first else ""
        return (
            f"{unresolved} unresolved quarantined event(s){where}, {voided} voided "
            "(void an unresolved one with `incentive-engine void propose`)"
        )


@dataclass
class _Mismatch:
    """The first position where the log and the chain read model disagree."""

    position: int
    log_id: str | None
    chain_id: str | None
    quarantined: Quarantined | None = None
    """The stored event at that position, chained once, that no longer validates."""


def _rows(engine: Engine) -> Iterator[tuple[int, bytes]]:
    """Every stored row of the log, as (position, state), in log order."""
    for page in engine.store.pages():
        yield from page


def _report_quarantined(
    engine: Engine, found: list[tuple[Quarantined, bool]], report: VerifyReport
) -> None:
    """File each quarantined event with whether it is voided, was there at the last valid
    checkpoint, or was edited after it was chained; warn about each."""
    if not found:
        return
    voids = engine.store.voids()
    cp = report.checkpoint
    for q, chained in found:
        row = QuarantinedRow(
            position=q.position,
            event_id=q.event_id,
            type=q.type,
            reason=q.reason,
            voided_by=voids.get(q.event_id) if q.event_id else None,
            covered=cp is not None and q.position <= cp.position,
            edited=chained,
        )
        report.quarantined.append(row)
        report.warnings.append(row.describe())


def checkpoints_of(
    engine: Engine, conn: Connection, keys: CheckpointKeys, report: VerifyReport
) -> list[Checkpoint]:
    """The valid checkpoints from the read-model database and the file copy, by position;
    a checkpoint whose signature fails, or present in one place and not the other, is a
    finding."""
    in_db = {cp.number: cp for cp in stored_checkpoints(conn)}
    in_file: dict[int, Checkpoint] = {}
    copy = engine.settings.checkpoint_file
    if copy is not None:
        found, problems = read_copy(copy)
        for problem in problems:
            report.findings.append(Finding("checkpoint", None, None, problem))
        in_file = {cp.number: cp for cp in found}
    if keys.public is None:
        if in_db or in_file:
            report.warnings.append(
                "no checkpoint key is configured: the checkpoints cannot be verified "
                "(set INCENTIVE_CHECKPOINT_KEY_FILE or INCENTIVE_CHECKPOINT_PUBLIC_KEY_FILE)"
            )
        else:
            report.warnings.append(
                "no checkpoint key is configured: truncation, appended forgeries and a rebuilt "
                "chain cannot be detected (set INCENTIVE_CHECKPOINT_KEY_FILE)"
            )
        return []
    valid: dict[int, Checkpoint] = {}
    for number in sorted(set(in_db) | set(in_file)):
        for where, copies in (("database", in_db), ("file", in_file)):
            cp = copies.get(number)
            if cp is None:
                continue
            if keys.verifies(cp):
                valid.setdefault(number, cp)
            else:
                report.findings.append(
                    Finding(
                        "checkpoint",
                        cp.position,
                        None,
                        f"checkpoint #{number} in the {where} does not carry a valid signature "
                        f"by key {keys.key_id}: forged or altered",
                    )
                )
        if copy is not None and in_db and number in in_file and number not in in_db:
            report.findings.append(
                Finding(
                    "checkpoint",
                    in_file[number].position,
                    None,
                    f"checkpoint #{number} is in the file copy {copy} but missing from the "
                    "read-model database: it was deleted",
                )
            )
    if not in_db and in_file:
        report.warnings.append(
            f"the read-model database holds no checkpoint: verified against the file copy {copy}"
        )
    return sorted(valid.values(), key=lambda cp: (cp.position, cp.number))


def verify(engine: Engine, conn: Connection) -> VerifyReport:
    """Recompute the chain from the engine's log against the chain read model, the signed
    checkpoints and the anchors sealed in each PeriodClosed, then every closed period's
    statements as of its close."""
    settings = engine.settings
    report = VerifyReport()
    keys = load_keys(settings)
    checkpoints = checkpoints_of(engine, conn, keys, report)
    chain_table.create(conn, checkfirst=True)  # a deleted read-model database comes back empty
    chain = {
        row.position: (row.event_id, row.link)
        for row in conn.execute(select(chain_table).order_by(chain_table.c.position))
    }
    chain_positions = sorted(chain)
    chain_end = chain_positions[-1] if chain_positions else 0
    if not chain and checkpoints:
        report.warnings.append(
            "the chain read model is missing (read models deleted?): the log is verified "
            "against the signed checkpoints alone, which locate a change to within the "
            "positions between two checkpoints"
        )
    skew = timedelta(seconds=settings.checkpoint_skew_seconds)
    mismatch: _Mismatch | None = None
    log_ids: set[str] = set()
    previous, count, last_position = GENESIS, 0, 0
    at_checkpoint: dict[int, tuple[int, str, int]] = {}
    """checkpoint number -> (count, link, last position) of the log at its position."""
    anchors: list[tuple[str, int, str]] = []
    closes: list[tuple[str, dict[tuple[str, str], str], datetime]] = []
    recomputed: dict[int, str] = {}
    inserted: Finding | None = None
    sealed_checkpoints: list[tuple[str, int, int]] = []
    i = j = 0

    def passed(position: int) -> None:
        """Record the log's state at every checkpoint whose position is before ``position``."""
        nonlocal j
        while j < len(checkpoints) and checkpoints[j].position < position:
            at_checkpoint[checkpoints[j].number] = (count, previous, last_position)
            j += 1

    quarantined: list[tuple[Quarantined, bool]] = []
    """Stored events that do not validate (outside the chain), and whether each was chained."""
    try:
        for position, state in _rows(engine):
            passed(position)
            while i < len(chain_positions) and chain_positions[i] < position:
                if mismatch is None:  # the chain knew a position the log no longer has
                    mismatch = _Mismatch(chain_positions[i], None, chain[chain_positions[i]][0])
                i += 1
            recorded = decode_or_marker(position, state)
            chained = i < len(chain_positions) and chain_positions[i] == position
            if isinstance(recorded, Quarantined):
                # Never linked: the chain read model leaves it out as the fold does (the head
                # stays the link before it).  A chained position that no longer validates
                # was edited after it was chained.
                if chained:
                    if mismatch is None:
                        mismatch = _Mismatch(
                            position, recorded.event_id, chain[position][0], recorded
                        )
                    i += 1
                quarantined.append((recorded, chained))
                recomputed[position], last_position = previous, position
                continue
            event_id = recorded.event.event_id
            if inserted is None and j > 0:
                cp = checkpoints[j - 1]
                signed = datetime.fromisoformat(cp.created_at)
                if recorded.recorded_at < signed - skew:
                    inserted = Finding(
                        "inserted",
                        position,
                        event_id,
                        f"event {event_id} at position {position} claims to be recorded at "
                        f"{format_instant(recorded.recorded_at)}, before checkpoint "
                        f"#{cp.number} was signed ({cp.created_at}), which ends at position "
                        f"{cp.position}: it was written into the log afterwards",
                    )
            link = next_link(previous, recorded)
            if chained:
                chained_id, chained_link = chain[position]
                if mismatch is None and (chained_id != event_id or chained_link != link):
                    mismatch = _Mismatch(position, event_id, chained_id)
                i += 1
            elif mismatch is None and position < chain_end:
                mismatch = _Mismatch(position, event_id, None)
            previous, count, last_position = link, count + 1, position
            recomputed[position] = link
            log_ids.add(event_id)
            report.events += 1
            event = recorded.event
            if isinstance(event, PeriodClosed):
                sealed = {(p.rep_id, p.plan_id): p.statement_hash for p in event.payouts}
                closes.append((event.period, sealed, recorded.recorded_at))
                if event.chain_position is not None:
                    anchors.append((event.period, event.chain_position, event.chain_link or ""))
                if event.checkpoint is not None:
                    sealed_checkpoints.append((event.period, event.checkpoint, position))
    except ValueError as exc:  # a row that no longer decodes
        report.findings.append(
            Finding("unreadable", None, None, f"a stored event cannot be read: {exc}")
        )
        return report
    passed(2**63)  # the state of the log at every checkpoint beyond its end
    if mismatch is None and i < len(chain_positions):  # the log ends before the chain does
        p = chain_positions[i]
        mismatch = _Mismatch(p, None, chain[p][0])
    report.position, report.link = last_position, previous
    if mismatch is not None:
        report.findings.append(_classify(mismatch, chain, log_ids))
    if inserted is not None:
        report.findings.append(inserted)
    _check_checkpoints(checkpoints, at_checkpoint, chain, mismatch, report)
    _report_quarantined(engine, quarantined, report)
    known = {cp.number for cp in checkpoints}
    for period, number, position in sealed_checkpoints:
        if keys.public is not None and number not in known:
            report.findings.append(
                Finding(
                    "checkpoint",
                    position,
                    f"close:{period}",
                    f"{period} was closed at checkpoint #{number}, which is found neither in "
                    "the read-model database nor in the checkpoint file: it was deleted",
                )
            )
    for period, position, link in anchors:
        if recomputed.get(position) != link:
            report.findings.append(
                Finding(
                    "anchor",
                    position,
                    None,
                    f"the log up to position {position}, sealed when {period} was closed, "
                    "has changed",
                )
            )
    _verify_periods(engine, closes, report)
    report.findings.sort(key=lambda f: (f.position is None, f.position or 0))
    return report


def _classify(found: _Mismatch, chain: dict[int, tuple[str, str]], log_ids: set[str]) -> Finding:
    """What kind of change explains the first disagreement between the log and the chain."""
    p, log_id, chain_id = found.position, found.log_id, found.chain_id
    if found.quarantined is not None:
        return Finding(
            "altered",
            p,
            log_id,
            f"event {chain_id} at position {p} was chained when it validated and has been "
            f"edited since: it no longer validates ({found.quarantined.reason})",
        )
    chain_ids = {event_id for event_id, _ in chain.values()}
    if log_id is not None and log_id == chain_id:
        return Finding(
            "altered", p, log_id, f"event {log_id} at position {p} no longer matches its link"
        )
    if log_id is None:
        assert chain_id is not None
        if chain_id in log_ids:
            return Finding(
                "reordered", p, chain_id, f"event {chain_id} was moved from position {p}"
            )
        return Finding(
            "removed", p, chain_id, f"event {chain_id} at position {p} is missing from the log"
        )
    if chain_id is None:
        if log_id in chain_ids:
            return Finding("reordered", p, log_id, f"event {log_id} was moved to position {p}")
        return Finding("inserted", p, log_id, f"event {log_id} at position {p} was never chained")
    new, gone = log_id not in chain_ids, chain_id not in log_ids
    if new and not gone:
        kind, what = "inserted", f"{log_id} was written in before {chain_id}"
    elif gone and not new:
        kind, what = "removed", f"{chain_id} is missing from the log"
    elif new and gone:
        kind, what = "altered", f"{chain_id} was replaced by {log_id}"
    else:
        kind, what = "reordered", f"{log_id} stands where the chain recorded {chain_id}"
    return Finding(kind, p, log_id, f"at position {p}: event {what}")


def _check_checkpoints(
    checkpoints: list[Checkpoint],
    at_checkpoint: dict[int, tuple[int, str, int]],
    chain: dict[int, tuple[str, str]],
    mismatch: _Mismatch | None,
    report: VerifyReport,
) -> None:
    """Compare the log at each checkpoint's position with what was signed; the first that
    fails says where the change lies (after the last checkpoint that still matches)."""
    good: Checkpoint | None = None
    for cp in checkpoints:
        count, link, last = at_checkpoint.get(cp.number, (0, GENESIS, 0))
        if count == cp.count and link == cp.link:
            good = cp
            report.checkpoints += 1
            continue
        after = good.position if good is not None else 0
        signed = f"checkpoint #{cp.number} ({cp.reason}, signed {cp.created_at})"
        if mismatch is not None and mismatch.position <= cp.position:
            report.findings.append(
                Finding(
                    "checkpoint",
                    cp.position,
                    None,
                    f"{signed} no longer matches the log up to position {cp.position}",
                )
            )
        elif chain and max(chain) >= cp.position:
            report.findings.append(
                Finding(
                    "rebuilt",
                    after + 1,
                    None,
                    f"the chain read model agrees with the log, but {signed} does not: the "
                    f"log was changed between positions {after + 1} and {cp.position} and the "
                    "chain recomputed to hide it",
                )
            )
        else:
            if count < cp.count:
                kind = "removed"
                first = last + 1 if last < cp.position else after + 1
            elif count > cp.count:
                kind, first = "inserted", after + 1
            else:
                kind, first = "altered", after + 1
            report.findings.append(
                Finding(
                    kind,
                    first,
                    None,
                    f"{signed} covers {cp.count} events up to position {cp.position}; the log "
                    f"now holds {count} there, with another chain head: changed between "
                    f"positions {after + 1} and {cp.position}",
                )
            )
        break
    report.checkpoint = good


def _verify_periods(
    engine: Engine,
    closes: list[tuple[str, dict[tuple[str, str], str], datetime]],
    report: VerifyReport,
) -> None:
    """Recompute each closed period's statements from what was known just before its close
    and compare their hashes with the sealed ones (as-of questions to the engine)."""
    for period_name, sealed, recorded_at in closes:
        report.periods += 1
        # On the engine's own clock: a backfilled event stored after the close (with a source
        # time before it) was not in what the close sealed.
        before = engine.snapshot(recorded_at - timedelta(microseconds=1), cut_on="recorded")
        try:
            now = {
                (s.rep_id, s.plan_id): s.hash
                for s in statements(before.facts, Period.parse(period_name), book=before.book)
            }
        except ValueError as exc:  # the facts it was computed from are gone or changed
            detail = f"period {period_name} can no longer be recomputed: {exc}"
            report.findings.append(Finding("statement", None, None, detail))
            continue
        for key in sorted(set(sealed) | set(now)):
            if sealed.get(key) != now.get(key):
                report.findings.append(
                    Finding(
                        "statement",
                        None,
                        None,
                        f"period {period_name}: the statement of {key[0]} under {key[1]} "
                        f"recomputes to {now.get(key)}, sealed {sealed.get(key)}",
                    )
                )
