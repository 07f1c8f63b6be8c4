"""The ``incentive-engine`` command line (a door): one module per command group, wired in
``main``."""

from incentive_engine.cli.main import app

__all__ = ["app"]
