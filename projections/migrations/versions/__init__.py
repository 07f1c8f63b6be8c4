"""One module per revision of the read-model database, oldest first (Alembic skips this one)."""
