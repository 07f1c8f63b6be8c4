"""The shared bases of every error the engine raises, so that each door maps them once.

An error says what kind of refusal it is by its base, never by its message: the HTTP door
maps ``NotFound`` to 404, ``Forbidden`` to 403, ``Conflict`` to 409, ``Invalid`` to 422 and
``Unavailable`` to 503 (``api/errors.py``); the command line exits 1 for all of them
(``incentive_engine/cli/common.py``).  Each error class of a module (``CommissionError``,
``KpiError``...) keeps its name and derives from ``EngineError`` through the base that fits,
or, when it covers several kinds, has a subclass per kind raised at each site.
"""

from __future__ import annotations

__all__ = ["Conflict", "EngineError", "Forbidden", "Invalid", "NotFound", "Unavailable"]


class EngineError(Exception):
    """A refusal of the engine: nothing was written.  ``field`` names the input at fault,
    when one is (a door reports it with the message)."""

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(EngineError):
    """What was asked for does not exist (a rep, a plan version, a dispute...)."""


class Forbidden(EngineError):
    """The caller may not do or see this."""


class Conflict(EngineError):
    """The request is well formed but the data cannot answer it as asked (a period already
    closed, a plan that cannot be evaluated, a concurrent writer)."""


class Invalid(EngineError):
    """The request itself is wrong: a value out of range, text that does not parse."""


class Unavailable(EngineError):
    """Something the engine depends on cannot be reached now; try again later."""
