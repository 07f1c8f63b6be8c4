"""The event store on the eventsourcing recorders (SQLite, PostgreSQL), its audit chain and
snapshots of folded facts."""
