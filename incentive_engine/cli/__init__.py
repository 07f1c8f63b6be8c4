"""The ``incentive-engine`` command line (a door): one module per command group, wired in
``main``; ``app`` is loaded on first use."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """``incentive_engine.cli.app``: the typer application (imported when asked for)."""
    if name == "app":
        from incentive_engine.cli.main import app

        return app
    raise AttributeError(name)
