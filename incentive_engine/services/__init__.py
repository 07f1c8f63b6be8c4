"""The application core every door shares: the engine, ingest, statements and payouts,
close, disputes, audit and plan publishing."""
