"""Run the command line with ``python -m incentive_engine.cli``."""

from incentive_engine.cli import app

app()
