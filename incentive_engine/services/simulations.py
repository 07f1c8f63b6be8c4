"""Simulating a plan change over history: the one use case behind ``POST /v1/simulations``,
the web page ``/plans/simulate`` and the CLI ``simulate``.

A draft (a document, unpublished) or a published version is evaluated against a published
baseline over a window of periods (``domain.simulation``); nothing is written to the log.
Per-rep rows of a simulation are pay: a reader who may not see every rep's pay gets the
anonymised report (``Simulation.aggregated``), decided by the one visibility rule.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from incentive_engine.domain.errors import Invalid
from incentive_engine.domain.periods import Period, PeriodKind
from incentive_engine.domain.simulation import Simulation, SimulationError, simulate
from incentive_engine.domain.simulation import window as periods_of
from incentive_engine.domain.visibility import Figure, Viewer, figure_day, visible_reps
from incentive_engine.services.commissions import Snapshot, find_version
from plans.documents import PlanError, PlanVersion, parse_yaml, plan_from_data
from plans.ref import PlanRef

__all__ = [
    "PlanError",
    "Simulation",
    "baseline_for",
    "draft_from_data",
    "draft_from_text",
    "periods_between",
    "published",
    "report",
    "run",
    "sees_rows",
    "window",
]

MAX_PERIODS = 400
"""The longest window, in periods (more than a year of days, 33 years of months): a
request for more is refused before anything is evaluated."""


class DocumentTooLarge(Invalid, ValueError):
    """A draft document over the size limit (refused before it is parsed)."""


def draft_from_data(
    data: Any, source: str = "plan", *, context: dict[str, Any] | None = None
) -> PlanVersion:
    """A parsed draft document validated as an unpublished version; PlanError listing each
    problem at its path (prefixed by ``source``) otherwise."""
    return PlanVersion.draft(plan_from_data(data, source, context=context))


def draft_from_text(
    text: str,
    source: str = "document",
    *,
    context: dict[str, Any] | None = None,
    max_bytes: int | None = None,
) -> PlanVersion:
    """A draft from YAML (or JSON) text, as ``plan validate`` reads a file: DocumentTooLarge
    past ``max_bytes`` (before parsing), PlanError listing each problem at its path."""
    if max_bytes is not None and len(text.encode("utf-8")) > max_bytes:
        raise DocumentTooLarge(
            f"the plan document is larger than {max_bytes} bytes", field="document"
        )
    return draft_from_data(parse_yaml(text, source), source, context=context)


def published(snap: Snapshot, text: str, field: str) -> PlanVersion:
    """A published version named ``PLAN@VERSION`` (Invalid naming ``field``, or NotFound)."""
    return find_version(snap, *PlanRef.parse(text, field=field).key)


def baseline_for(snap: Snapshot, draft: PlanVersion, version: int | None = None) -> PlanVersion:
    """The published baseline of a draft: the version asked for, else the newest published
    version of the draft's plan not above the draft's number (else its newest); NotFound
    when the plan has no published version."""
    plan_id = draft.plan.plan_id
    if version is not None:
        return find_version(snap, plan_id, version)
    mine = sorted((v for v in snap.book.versions if v.plan.plan_id == plan_id), key=_number)
    if not mine:
        return find_version(snap, plan_id, draft.plan.version)  # raises, naming what exists
    below = [v for v in mine if v.plan.version <= draft.plan.version]
    return (below or mine)[-1]


def _number(version: PlanVersion) -> int:
    return version.plan.version


def _bound(text: str, kind: PeriodKind, field: str) -> Period:
    """One end of a window: a period (``2026-Q1``) or a day (``2026-02-15``: the plan's
    period that contains it)."""
    text = text.strip()
    if not text:
        raise Invalid("give a period (e.g. 2026-Q1) or a day (e.g. 2026-01-01)", field=field)
    if len(text) == 10:
        try:
            return Period.containing(date.fromisoformat(text), kind)
        except ValueError:
            pass
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise Invalid(
            f"{text!r} is neither a period (e.g. 2026-Q1) nor a day (e.g. 2026-01-01): {exc}",
            field=field,
        ) from None


def window(
    first: Period, last: Period, *, fields: tuple[str, str] = ("from", "to")
) -> list[Period]:
    """The periods from first to last inclusive (one kind, in order, at most MAX_PERIODS),
    or SimulationError naming the field of the window at fault."""
    if first.kind == last.kind and first <= last:
        count = 0
        current = first
        while current <= last:
            count += 1
            if count > MAX_PERIODS:
                raise SimulationError(
                    f"the window {first}..{last} has more than {MAX_PERIODS} periods",
                    field=fields[1],
                )
            current = current.next()
    try:
        return periods_of(first, last)
    except SimulationError as exc:
        raise SimulationError(str(exc), field=fields[0]) from None


def periods_between(start: str, end: str, kind: PeriodKind) -> list[Period]:
    """The window ``start``..``end`` of a form (periods, or days read as the plan's period
    containing them), errors naming ``start`` or ``end``."""
    first, last = _bound(start, kind, "start"), _bound(end, kind, "end")
    return window(first, last, fields=("start", "end"))


def run(
    snap: Snapshot, draft: PlanVersion, baseline: PlanVersion, periods: list[Period]
) -> Simulation:
    """Evaluate every covered rep over the window under the baseline and the draft."""
    return simulate(snap.facts, draft, baseline, periods)


def sees_rows(viewer: Viewer, snap: Snapshot, result: Simulation) -> bool:
    """Whether the viewer may see every rep's row of the simulation (the visibility rule on
    each period's day: only a reader of every rep's pay)."""
    return all(
        visible_reps(viewer, snap.facts, figure_day(Period.parse(p)), Figure.MONEY) is None
        for p in result.periods
    )


def report(viewer: Viewer, snap: Snapshot, result: Simulation) -> dict[str, Any]:
    """The simulation as the viewer may read it: every rep's row for a reader of everyone's
    pay, else the anonymised report (SimulationForbidden when it would reveal one rep)."""
    if sees_rows(viewer, snap, result):
        return result.as_dict()
    return result.aggregated()
