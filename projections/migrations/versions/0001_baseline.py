"""Baseline: the schema of release 0.1.0, the last one without migrations.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

A database written by 0.1.0 (tables, no ``alembic_version``) is upgraded in place: each table
and index missing is created (0.1.0 created some only on first use) and every row is kept.
A read model whose tracking row names a version of its projection other than 0.1.0's (an
even older release) is emptied and its tracking row removed, so that the runner rebuilds it
from the log: said in the log, never done silently.  The tables are written out here as they
were in 0.1.0, not imported from the models, which later revisions change.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from projections.schema import reset_read_models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

READ_MODELS: dict[str, int] = {
    "audit_chain": 1,
    "event_index": 3,
    "event_deals": 1,
    "event_counts": 1,
    "statements": 5,
    "publisher": 1,
}
"""The version of each projection in 0.1.0 (a later revision that rebuilds one names its new
version here, in its own module)."""

TABLES_OF: dict[str, tuple[str, ...]] = {
    "audit_chain": ("audit_chain",),
    "event_index": ("event_index", "event_reps"),
    "event_deals": ("event_deals",),
    "event_counts": ("event_counts",),
    "statements": ("statements", "attainment"),
    "publisher": (),
}
"""The tables each projection writes."""

log = logging.getLogger("projections.migrations")

META = sa.MetaData()


def _t(name: str) -> sa.Table:
    return META.tables[name]


sa.Table(
    "access_log",
    META,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor_role", sa.String(length=20), nullable=False),
    sa.Column("actor", sa.String(length=200), nullable=False),
    sa.Column("origin", sa.String(length=200), nullable=False),
    sa.Column("resource", sa.String(length=200), nullable=False),
    sa.Column("rep_id", sa.String(length=200), nullable=False),
    sa.Column("period", sa.String(length=40), nullable=True),
    sa.Column("reps", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
)
sa.Index("ix_access_log_actor", _t("access_log").c.actor)
sa.Index("ix_access_log_at", _t("access_log").c.at)
sa.Index("ix_access_log_rep_id", _t("access_log").c.rep_id)

sa.Table(
    "attainment",
    META,
    sa.Column("subject", sa.String(length=10), nullable=False),
    sa.Column("subject_id", sa.String(length=500), nullable=False),
    sa.Column("period", sa.String(length=16), nullable=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("currency", sa.String(length=3), nullable=True),
    sa.Column("quota", sa.String(length=40), nullable=True),
    sa.Column("credited", sa.String(length=40), nullable=False),
    sa.Column("attainment", sa.String(length=60), nullable=True),
    sa.Column("note", sa.Text(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint("subject", "subject_id", "period"),
)
sa.Table(
    "audit_chain",
    META,
    sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
    sa.Column("event_id", sa.String(length=128), nullable=False),
    sa.Column("link", sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint("position"),
)
sa.Table(
    "event_counts",
    META,
    sa.Column("type", sa.String(length=40), nullable=False),
    sa.Column("count", sa.Integer(), nullable=False),
    sa.Column("last_position", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("type"),
)
sa.Table(
    "event_deals",
    META,
    sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
    sa.Column("deal_id", sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint("position", "deal_id"),
)
sa.Index("ix_event_deals_deal", _t("event_deals").c.deal_id, _t("event_deals").c.position)

sa.Table(
    "event_index",
    META,
    sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
    sa.Column("event_id", sa.String(length=128), nullable=False),
    sa.Column("type", sa.String(length=40), nullable=False),
    sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("source_recorded_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("known_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("source", sa.Text(), nullable=True),
    sa.Column("summary", sa.Text(), nullable=False),
    sa.Column("quarantined", sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint("position"),
    sa.UniqueConstraint("event_id"),
)
sa.Index("ix_event_index_effective_at", _t("event_index").c.effective_at)
sa.Index("ix_event_index_known_at", _t("event_index").c.known_at)
sa.Index("ix_event_index_recorded_at", _t("event_index").c.recorded_at)
sa.Index("ix_event_index_type", _t("event_index").c.type)

sa.Table(
    "event_reps",
    META,
    sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
    sa.Column("rep_id", sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint("position", "rep_id"),
)
sa.Index("ix_event_reps_rep", _t("event_reps").c.rep_id, _t("event_reps").c.position)

sa.Table(
    "home_visits",
    META,
    sa.Column("viewer", sa.String(length=240), nullable=False),
    sa.Column("rep_id", sa.String(length=200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("viewer", "rep_id"),
)
sa.Table(
    "idempotency_keys",
    META,
    sa.Column("key", sa.String(length=200), nullable=False),
    sa.Column("subject", sa.String(length=200), nullable=False),
    sa.Column("request_hash", sa.String(length=64), nullable=False),
    sa.Column("status", sa.Integer(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("key", "subject"),
)
sa.Table(
    "integrity_checkpoints",
    META,
    sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("count", sa.Integer(), nullable=False),
    sa.Column("link", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.String(length=40), nullable=False),
    sa.Column("reason", sa.String(length=300), nullable=False),
    sa.Column("key_id", sa.String(length=32), nullable=False),
    sa.Column("signature", sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint("number"),
)
sa.Table(
    "integrity_status",
    META,
    sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
    sa.Column("checked_at", sa.String(length=40), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("ok", sa.Boolean(), nullable=False),
    sa.Column("checkpoint_number", sa.Integer(), nullable=True),
    sa.Column("checkpoint_position", sa.Integer(), nullable=True),
    sa.Column("failed_at", sa.Integer(), nullable=True),
    sa.Column("summary", sa.String(length=1000), nullable=False),
    sa.PrimaryKeyConstraint("id"),
)
sa.Table(
    "plan_drafts",
    META,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("plan_id", sa.String(length=200), nullable=True),
    sa.Column("version", sa.Integer(), nullable=True),
    sa.Column("based_on", sa.String(length=300), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("created_by", sa.String(length=200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("saved_by", sa.String(length=200), nullable=False),
    sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("published_by", sa.String(length=200), nullable=True),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("published_event", sa.String(length=300), nullable=True),
    sa.Column("reason", sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint("id"),
)
sa.Index("ix_plan_drafts_plan_id", _t("plan_drafts").c.plan_id)

sa.Table(
    "projection_tracking",
    META,
    sa.Column("name", sa.String(length=80), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("name"),
)
sa.Table(
    "revoked_tokens",
    META,
    sa.Column("jti", sa.String(length=200), nullable=False),
    sa.Column("revoked_at", sa.Integer(), nullable=False),
    sa.Column("forget_after", sa.Integer(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("jti"),
)
sa.Table(
    "scenarios",
    META,
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("log_position", sa.Integer(), nullable=False),
    sa.Column("draft_hash", sa.String(length=80), nullable=False),
    sa.Column("baseline_hash", sa.String(length=80), nullable=False),
    sa.Column("window", sa.String(length=100), nullable=False),
    sa.Column("result", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("name"),
)
sa.Table(
    "statements",
    META,
    sa.Column("rep_id", sa.String(length=128), nullable=False),
    sa.Column("period", sa.String(length=16), nullable=False),
    sa.Column("plan_id", sa.String(length=128), nullable=False),
    sa.Column("plan_version", sa.Integer(), nullable=False),
    sa.Column("plan_hash", sa.String(length=80), nullable=False),
    sa.Column("currency", sa.String(length=3), nullable=False),
    sa.Column("status", sa.String(length=8), nullable=False),
    sa.Column("total", sa.String(length=40), nullable=False),
    sa.Column("earned", sa.String(length=40), nullable=False),
    sa.Column("statement_hash", sa.String(length=80), nullable=False),
    sa.Column("document", sa.Text(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint("rep_id", "period", "plan_id"),
)
sa.Table(
    "token_subject_not_before",
    META,
    sa.Column("subject", sa.String(length=200), nullable=False),
    sa.Column("not_before", sa.Integer(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("subject"),
)
sa.Table(
    "fact_snapshot_sections",
    META,
    sa.Column("snapshot_id", sa.Integer(), autoincrement=False, nullable=False),
    sa.Column("name", sa.String(length=40), nullable=False),
    sa.Column("body", sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint("snapshot_id", "name"),
)
sa.Table(
    "fact_snapshots",
    META,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("position", sa.BigInteger(), nullable=False),
    sa.Column("recorded_high", sa.String(length=40), nullable=False),
    sa.Column("header", sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
)


_SQLITE_TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS access_log_no_{verb} BEFORE {VERB} ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END"
)
_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'the access log is append-only'; END $$ LANGUAGE plpgsql"
)
_PG_TRIGGER = (
    "CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON access_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()"
)


def upgrade() -> None:
    """Create what is missing of 0.1.0's schema, keep every row, and have read models from
    older projection versions rebuilt from the log."""
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    stale = _stale(bind) if "projection_tracking" in existing else []
    dropped = {t for name in stale for t in TABLES_OF[name]}
    for table in META.sorted_tables:
        if table.name in dropped:
            table.drop(bind, checkfirst=True)  # an older shape: rebuilt from the log
        table.create(bind, checkfirst=True)
        for index in table.indexes:
            index.create(bind, checkfirst=True)
    if stale:
        reset_read_models(bind, {name: TABLES_OF[name] for name in stale})
        log.warning("read models of older versions, rebuilt from the log: %s", ", ".join(stale))
    _access_log_append_only(bind)


def _stale(bind: sa.Connection) -> list[str]:
    """Projections whose tracking row names another version than 0.1.0's."""
    rows = bind.execute(sa.text("SELECT name, version FROM projection_tracking")).all()
    return sorted(n for n, v in rows if n in READ_MODELS and READ_MODELS[n] != v)


def _access_log_append_only(bind: sa.Connection) -> None:
    """The access log refuses updates and deletes (as 0.1.0 set it up)."""
    if bind.dialect.name == "sqlite":
        for verb in ("update", "delete"):
            bind.execute(sa.text(_SQLITE_TRIGGER.format(verb=verb, VERB=verb.upper())))
    elif bind.dialect.name == "postgresql":
        bind.execute(sa.text(_PG_FUNCTION))
        bind.execute(sa.text("DROP TRIGGER IF EXISTS access_log_append_only ON access_log"))
        bind.execute(sa.text(_PG_TRIGGER))


def downgrade() -> None:
    """There is nothing before the baseline: refuse rather than drop data."""
    raise NotImplementedError("the baseline cannot be downgraded (it would drop every table)")
