"""The audit trail: a hash chain over the log, and its verification.

Each link is ``sha256(previous link | canonical form of the recorded event)``, where the
canonical form holds the event's position, content, recorded time and source.  A projection
keeps the chain beside the read models as the log grows, and every ``PeriodClosed`` seals
the link of the last event before it.  ``verify`` recomputes the chain from the log and
reports the first event that was altered, removed or reordered; it then recomputes every
closed period's statements as of its close and compares them with the sealed hashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from incentive_engine.domain.events import PeriodClosed
from incentive_engine.domain.periods import Period
from incentive_engine.store.chain import GENESIS, next_link
from plans.evaluate import statements
from projections.audit_chain import chain_table

if TYPE_CHECKING:
    from incentive_engine.services.engine import Engine


@dataclass
class Finding:
    """One problem found by verification."""

    kind: str
    """altered, removed, reordered, inserted, unreadable, anchor, statement."""
    position: int | None
    event_id: str | None
    detail: str


@dataclass
class VerifyReport:
    """What verification checked and found (the first chain break, then sealed periods)."""

    events: int = 0
    periods: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing was found."""
        return not self.findings


def verify(engine: Engine, conn: Connection) -> VerifyReport:
    """Recompute the chain from the engine's log against the recorded chain and the anchors
    sealed in each PeriodClosed, then every closed period's statements as of its close."""
    store = engine.store
    report = VerifyReport()
    recorded_chain = {
        row.position: (row.event_id, row.link)
        for row in conn.execute(select(chain_table).order_by(chain_table.c.position))
    }
    seen: set[int] = set()
    previous = GENESIS
    anchors: list[tuple[str, int, str]] = []
    closes: list[tuple[str, dict[tuple[str, str], str], datetime]] = []
    recomputed: dict[int, str] = {}
    try:
        for recorded in store.read():
            report.events += 1
            position, event_id = recorded.position, recorded.event.event_id
            link = next_link(previous, recorded)
            recomputed[position] = link
            seen.add(position)
            expected = recorded_chain.get(position)
            if not report.findings and expected is not None:
                if expected[0] != event_id:
                    report.findings.append(
                        Finding(
                            "reordered",
                            position,
                            event_id,
                            f"position {position} holds {event_id}, "
                            f"the chain recorded {expected[0]}",
                        )
                    )
                elif expected[1] != link:
                    report.findings.append(
                        Finding(
                            "altered",
                            position,
                            event_id,
                            f"event {event_id} at position {position} "
                            "no longer matches its chain link",
                        )
                    )
            previous = link
            event = recorded.event
            if isinstance(event, PeriodClosed):
                sealed = {(p.rep_id, p.plan_id): p.statement_hash for p in event.payouts}
                closes.append((event.period, sealed, recorded.recorded_at))
                if event.chain_position is not None:
                    anchors.append((event.period, event.chain_position, event.chain_link or ""))
    except ValueError as exc:  # a row that no longer decodes
        report.findings.append(
            Finding("unreadable", None, None, f"a stored event cannot be read: {exc}")
        )
        return report
    missing = sorted(p for p in recorded_chain if p not in seen and p <= max(seen, default=0))
    if missing and not any(
        f.kind in ("altered", "reordered") and (f.position or 0) < missing[0]
        for f in report.findings
    ):
        p = missing[0]
        report.findings.insert(
            0,
            Finding(
                "removed",
                p,
                recorded_chain[p][0],
                f"event {recorded_chain[p][0]} at position {p} is missing from the log",
            ),
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
    return report


def _verify_periods(
    engine: Engine,
    closes: list[tuple[str, dict[tuple[str, str], str], datetime]],
    report: VerifyReport,
) -> None:
    """Recompute each closed period's statements from what was known just before its close
    and compare their hashes with the sealed ones (as-of questions to the engine)."""
    for period_name, sealed, recorded_at in closes:
        report.periods += 1
        before = engine.snapshot(recorded_at - timedelta(microseconds=1))
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
