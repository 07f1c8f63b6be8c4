"""The pay read models, kept for BI and payroll tools that read SQL (the README documents
their columns): every covered rep's statement for every period, and attainment per rep,
team and territory for every period with quotas.

Statements depend on the whole history (tiers on attainment, draws carried between periods,
adjustments of closed periods), so this projection is derived: the pages it is given only
mark it stale, and when a run settles it rewrites every row from the facts of the engine of
the door that runs it (``project``, ``replay``), together with the log position, in one
transaction.  It never folds the log itself; a restarted projector resumes from its
tracking position.  The CLI and the API answer from the engine, not from these tables:
their answers must be current, as of any instant, and for any scope.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Column, Connection, Integer, String, Table, Text, select, text

from incentive_engine.domain.attainment import AttainmentError, attainment
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from incentive_engine.store.event_store import RecordedEvent
from plans.evaluate import EvaluationError, PlanBook, evaluate
from projections.base import FactsSource, Projection, metadata

statements_table = Table(
    "statements",
    metadata,
    Column("rep_id", String(128), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("plan_id", String(128), primary_key=True),
    Column("plan_version", Integer, nullable=False),
    Column("plan_hash", String(80), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(8), nullable=False),
    Column("total", String(40), nullable=False),
    Column("earned", String(40), nullable=False),
    Column("statement_hash", String(80), nullable=False),
    Column("document", Text, nullable=False),
    Column("error", Text),
)


attainment_table = Table(
    "attainment",
    metadata,
    Column("subject", String(10), primary_key=True),
    Column("subject_id", String(500), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("name", Text, nullable=False),
    Column("currency", String(3)),
    Column("quota", String(40)),
    Column("credited", String(40), nullable=False),
    Column("attainment", String(60)),
    Column("note", Text, nullable=False),
    Column("error", Text),
)


RETIRED = ("leaderboard", "badges", "kpis")
"""Tables of earlier versions that nothing read (boards, badges and KPIs are answered by the
engine, for any scope, period and as-of): dropped when the projection is rebuilt."""


class Statements(Projection):
    """Statements per rep, period and plan, and attainment, rewritten from the engine's facts
    when a run that saw new events settles."""

    name = "statements"
    version = 5
    tables = (statements_table, attainment_table)
    derived = True

    def __init__(self, facts: FactsSource) -> None:
        self.facts = facts
        self.dirty = False

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Mark the rows stale (they are rewritten when the run settles)."""
        self.dirty = True

    def settle(self, conn: Connection) -> None:
        """Rewrite every row from the facts as they now stand (at or past the last page)."""
        if not self.dirty:
            return
        facts = self.facts()
        for table, rows in (
            (statements_table, statement_rows(facts)),
            (attainment_table, attainment_rows(facts)),
        ):
            conn.execute(table.delete())
            if rows:
                conn.execute(table.insert(), rows)
        self.dirty = False

    def reset(self, conn: Connection) -> None:
        """Remove every row, and the tables earlier versions wrote that nothing read."""
        super().reset(conn)
        for name in RETIRED:
            conn.execute(text(f"DROP TABLE IF EXISTS {name}"))


def statement_rows(facts: Facts) -> list[dict[str, object]]:
    """The rows of the statements table for the given facts (an error row when a statement
    cannot be computed, e.g. a missing quota, so one bad rep never hides the others)."""
    book = PlanBook.from_facts(facts)
    rows: list[dict[str, object]] = []
    for period in book.periods(facts):
        status = "sealed" if str(period) in facts.closed_periods else "open"
        for rep_id in sorted(facts.reps):
            for version in book.for_rep(facts, rep_id, period):
                base = {
                    "rep_id": rep_id,
                    "period": str(period),
                    "plan_id": version.plan.plan_id,
                    "plan_version": version.plan.version,
                    "plan_hash": version.content_hash,
                    "currency": version.plan.currency,
                    "status": status,
                }
                try:
                    s = evaluate(facts, version, rep_id, period, book=book)
                except EvaluationError as exc:
                    failed = {"total": "0", "earned": "0", "statement_hash": "", "document": "{}"}
                    rows.append({**base, **failed, "error": str(exc)})
                    continue
                rows.append(
                    {
                        **base,
                        "total": str(s.total),
                        "earned": str(s.earned),
                        "statement_hash": s.hash,
                        "document": json.dumps(s.as_dict(), ensure_ascii=False),
                        "error": None,
                    }
                )
    return rows


def attainment_rows(facts: Facts) -> list[dict[str, object]]:
    """The rows of the attainment table: every rep, team and territory for every period that
    has a quota (a row per subject kind with the error when one cannot be computed)."""
    rows: list[dict[str, object]] = []
    periods = sorted({Period.parse(p) for (_, _, p) in facts.quotas})
    for period in periods:
        for subject in ("rep", "team", "territory"):
            try:
                found = attainment(facts, period, subject)  # type: ignore[arg-type]
            except AttainmentError as exc:
                rows.append(
                    {
                        "subject": subject,
                        "subject_id": "*",
                        "period": str(period),
                        "name": "",
                        "currency": None,
                        "quota": None,
                        "credited": "0",
                        "attainment": None,
                        "note": "",
                        "error": str(exc),
                    }
                )
                continue
            for a in found:
                rows.append(
                    {
                        "subject": a.subject,
                        "subject_id": a.subject_id,
                        "period": a.period,
                        "name": a.name,
                        "currency": a.currency,
                        "quota": None if a.quota is None else str(a.quota),
                        "credited": str(a.credited),
                        "attainment": None if a.attainment is None else str(a.attainment),
                        "note": a.note,
                        "error": None,
                    }
                )
    return rows


def stored_statements(conn: Connection, period: str | None = None) -> list[dict[str, object]]:
    """Rows of the statements read model (optionally one period), sorted."""
    query = select(statements_table).order_by("period", "rep_id", "plan_id")
    if period is not None:
        query = query.where(statements_table.c.period == period)
    return [dict(r._mapping) for r in conn.execute(query)]
