"""Run the command line with ``python -m incentive_engine``."""

from incentive_engine.cli import app

app()
