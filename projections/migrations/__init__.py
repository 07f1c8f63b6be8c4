"""Alembic migrations of the read-model database (run by ``projections.schema``)."""

HEAD = "0002"
"""The newest revision: change it with each new migration (the suite checks it)."""
