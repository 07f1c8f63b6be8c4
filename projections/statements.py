"""The pay read models: every covered rep's statement for every period, and attainment per
rep, team and territory for every period with quotas, kept current.

Statements depend on the whole history (tiers on attainment, draws carried between periods,
adjustments of closed periods), so this projection keeps the facts in memory: it folds every
page it is given and, when a run settles, rewrites the statements of every period from the
first plan's start to the latest activity, together with the log position they were computed
at, in one transaction.  A new process folds the log from the start again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Column, Connection, Integer, String, Table, Text, select

from incentive_engine.domain.attainment import AttainmentError, attainment
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.kpis import KPIS, KpiError, kpi
from incentive_engine.domain.leaderboards import LeaderboardError, Metric, leaderboard
from incentive_engine.domain.periods import Period
from incentive_engine.store.event_store import RecordedEvent
from plans.evaluate import EvaluationError, PlanBook, evaluate
from plans.points import badges
from projections.base import Projection, metadata

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


leaderboard_table = Table(
    "leaderboard",
    metadata,
    Column("metric", String(20), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("rank", Integer, primary_key=True),
    Column("rep_id", String(128), nullable=False),
    Column("name", Text, nullable=False),
    Column("value", String(40), nullable=False),
    Column("reached_at", String(40)),
    Column("movement", Integer),
)
badges_table = Table(
    "badges",
    metadata,
    Column("rep_id", String(128), primary_key=True),
    Column("badge_id", String(128), primary_key=True),
    Column("scope", String(40), primary_key=True),
    Column("plan_id", String(128), nullable=False),
    Column("name", Text, nullable=False),
    Column("earned_on", String(10), nullable=False),
    Column("event_ids", Text, nullable=False),
)


kpis_table = Table(
    "kpis",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("row", Integer, primary_key=True),
    Column("data", Text, nullable=False),
)


class Statements(Projection):
    """Statements per rep, period and plan, recomputed from in-memory facts when settled."""

    name = "statements"
    version = 4
    tables = (statements_table, attainment_table, leaderboard_table, badges_table, kpis_table)
    in_memory = True

    def __init__(self) -> None:
        self.facts = Facts()
        self.dirty = False

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Fold the page into the in-memory facts (rows are written when the run settles)."""
        self.facts.apply_recorded((r.event, r.recorded_at.isoformat()) for r in events)
        self.dirty = True

    def settle(self, conn: Connection) -> None:
        """Rewrite every statement from the facts as they now stand."""
        if not self.dirty:
            return
        for table, rows in (
            (statements_table, statement_rows(self.facts)),
            (attainment_table, attainment_rows(self.facts)),
            (leaderboard_table, leaderboard_rows(self.facts)),
            (badges_table, badge_rows(self.facts)),
            (kpis_table, kpi_rows(self.facts)),
        ):
            conn.execute(table.delete())
            if rows:
                conn.execute(table.insert(), rows)
        self.dirty = False


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


def leaderboard_rows(facts: Facts) -> list[dict[str, object]]:
    """Company leaderboards for every metric and every plan period (attainment only where
    quotas exist); team and territory boards are the same order filtered by membership."""
    book = PlanBook.from_facts(facts)
    rows: list[dict[str, object]] = []
    for period in book.periods(facts):
        for metric in Metric:
            try:
                board = leaderboard(facts, book, metric, period)
            except (LeaderboardError, EvaluationError):
                continue
            rows += [
                {
                    "metric": metric.value,
                    "period": str(period),
                    "rank": st.rank,
                    "rep_id": st.rep_id,
                    "name": st.name,
                    "value": str(st.value),
                    "reached_at": st.reached_at.isoformat() if st.reached_at else None,
                    "movement": st.movement,
                }
                for st in board
            ]
    return rows


def badge_rows(facts: Facts) -> list[dict[str, object]]:
    """Badges every rep holds at the latest day the facts reach, under each plan."""
    book = PlanBook.from_facts(facts)
    periods = book.periods(facts)
    if not periods:
        return []
    until = periods[-1].end
    rows: list[dict[str, object]] = []
    for plan_id in book.plan_ids():
        version = book.in_force(plan_id, until)
        if version is None or not version.plan.badges:
            continue
        plan_period = Period.containing(until, version.plan.period)
        for rep_id in sorted(facts.reps):
            if version not in book.for_rep(facts, rep_id, plan_period):
                continue
            for b in badges(facts, version, rep_id, until):
                rows.append(
                    {
                        "rep_id": rep_id,
                        "badge_id": b.badge_id,
                        "scope": b.scope,
                        "plan_id": version.plan.plan_id,
                        "name": b.name,
                        "earned_on": b.earned_on.isoformat(),
                        "event_ids": " ".join(b.event_ids),
                    }
                )
    return rows


def kpi_rows(facts: Facts) -> list[dict[str, object]]:
    """Company KPIs for every plan period (those that need no targets), one row per KPI row."""
    rows: list[dict[str, object]] = []
    for period in PlanBook.from_facts(facts).periods(facts):
        for name in KPIS:
            try:
                found = kpi(facts, name, period, "company")
            except KpiError:
                continue
            rows += [
                {
                    "name": name,
                    "period": str(period),
                    "row": i,
                    "data": json.dumps(r, ensure_ascii=False, default=str, sort_keys=True),
                }
                for i, r in enumerate(found)
            ]
    return rows


def stored_statements(conn: Connection, period: str | None = None) -> list[dict[str, object]]:
    """Rows of the statements read model (optionally one period), sorted."""
    query = select(statements_table).order_by("period", "rep_id", "plan_id")
    if period is not None:
        query = query.where(statements_table.c.period == period)
    return [dict(r._mapping) for r in conn.execute(query)]
