"""Read models kept current from the event log, each with its own tracking position."""
