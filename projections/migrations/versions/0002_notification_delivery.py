"""Notification delivery: the outbox, the delivery ledger, the notifier's cursor and each
rep's preferences.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

None of these tables can be rebuilt from the log (the ledger is what was sent), so later
revisions must keep their rows.  Written out as they are in this revision, not imported from
the models, which later revisions change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

META = sa.MetaData()

sa.Table(
    "notification_outbox",
    META,
    sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("notification_id", sa.String(length=400), nullable=False),
    sa.Column("rep_id", sa.String(length=200), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("seq"),
    sa.UniqueConstraint("notification_id"),
)
sa.Table(
    "notification_deliveries",
    META,
    sa.Column("notification_id", sa.String(length=400), nullable=False),
    sa.Column("target", sa.String(length=200), nullable=False),
    sa.Column("rep_id", sa.String(length=200), nullable=False),
    sa.Column("kind", sa.String(length=80), nullable=False),
    sa.Column("status", sa.String(length=20), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("notification_id", "target"),
)
sa.Table(
    "notifier_cursor",
    META,
    sa.Column("source", sa.String(length=200), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("source"),
)
sa.Table(
    "notification_preferences",
    META,
    sa.Column("rep_id", sa.String(length=200), nullable=False),
    sa.Column("language", sa.String(length=10), nullable=True),
    sa.Column("email", sa.String(length=320), nullable=True),
    sa.Column("channels", sa.Text(), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("rep_id"),
)


def upgrade() -> None:
    """Create the notification tables (a database where the notifier of a pre-release build
    created them already keeps them and their rows)."""
    bind = op.get_bind()
    for table in META.sorted_tables:
        table.create(bind, checkfirst=True)


def downgrade() -> None:
    """Drop the notification tables (the delivery ledger and preferences are lost)."""
    bind = op.get_bind()
    for table in reversed(META.sorted_tables):
        table.drop(bind, checkfirst=True)
