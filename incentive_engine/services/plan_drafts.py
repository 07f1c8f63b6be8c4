"""Plan drafts: a plan admin's YAML text, validated as ``plan validate`` validates a file,
saved beside the read models (``projections.plan_drafts``: drafts are never events and never
pay), its impact simulated against the published baseline, and published through the same
service as ``POST /v1/plans`` with who published it and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine as Views

import plans
from incentive_engine.domain.errors import Invalid, NotFound
from incentive_engine.domain.periods import Period
from incentive_engine.domain.simulation import Simulation, simulate, window
from incentive_engine.services.commissions import Snapshot
from incentive_engine.services.plan_publishing import PublishResult, get_version, publish
from incentive_engine.store.event_store import EventStore
from plans.documents import PlanError, PlanVersion, parse_yaml, plan_from_data, plan_yaml
from plans.model import Plan
from plans.yaml_lines import line_of
from projections.plan_drafts import (
    DraftRow,
    all_drafts,
    find_draft,
    insert_draft,
    mark_published,
    update_draft,
)

__all__ = [
    "MAX_DRAFT_BYTES",
    "MAX_REASON",
    "Checked",
    "DraftRow",
    "Impact",
    "Problem",
    "all_drafts",
    "catalogue",
    "check",
    "create_draft",
    "draft",
    "impact",
    "publish_draft",
    "save_draft",
    "starting_text",
]

CATALOGUE = Path(plans.__file__).parent / "catalog"
MAX_DRAFT_BYTES = 200_000
"""The largest draft text (a plan covering many reps by id is long; ten catalogue plans)."""
MAX_REASON = 500
"""The longest reason for publishing (the event's text limit)."""


class DraftNotFound(NotFound, LookupError):
    """No draft with this id."""


@dataclass(frozen=True)
class Problem:
    """One problem of a draft: its path as ``plan validate`` names it, why, and the line of
    the text it points at (None when the text does not place it)."""

    path: str
    reason: str
    line: int | None


@dataclass(frozen=True)
class Checked:
    """A draft's text validated: the plan, or every problem."""

    plan: Plan | None
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class Impact:
    """What publishing a draft would change over a window: the simulation against the
    published baseline (None for a plan's first version: nothing to compare with)."""

    periods: tuple[Period, ...]
    baseline: PlanVersion | None
    simulation: Simulation


# ----------------------------------------------------------------- validating


def check(text: str, context: dict[str, Any] | None = None) -> Checked:
    """Validate a draft's YAML text exactly as ``plan validate`` and ``/v1/plans/validate``
    do, with the line of each problem."""
    if len(text.encode("utf-8")) > MAX_DRAFT_BYTES:
        reason = f"the document is larger than {MAX_DRAFT_BYTES} bytes"
        return Checked(None, (Problem("(document)", reason, None),))
    try:
        plan = plan_from_data(parse_yaml(text, "draft"), "draft", context=context)
    except PlanError as exc:
        return Checked(None, tuple(Problem(p, r, line_of(text, p)) for p, r in exc.problems))
    return Checked(plan, ())


# --------------------------------------------------------------- starting text


def catalogue() -> list[str]:
    """The names of the catalogue's plan templates (``plans/catalog``)."""
    return sorted(p.stem for p in CATALOGUE.glob("*.yaml"))


def starting_text(store: EventStore, source: str) -> tuple[str, str]:
    """The text a new draft starts from and what it is based on: ``template:NAME`` (a
    catalogue plan as written, comments and all) or ``PLAN@VERSION`` (a published version,
    its number raised by one so that it can be published). Invalid naming ``source``."""
    if source.startswith("template:"):
        name = source.removeprefix("template:")
        if name not in catalogue():
            raise Invalid(f"no catalogue template {name!r}", field="source")
        return (CATALOGUE / f"{name}.yaml").read_text(encoding="utf-8"), source
    plan_id, at, number = source.rpartition("@")[0], "@", source.rpartition("@")[2]
    if not plan_id or not at or not number.isdigit():
        raise Invalid("choose a template or a published version (PLAN@VERSION)", field="source")
    found = get_version(store, plan_id, int(number))
    latest = get_version(store, plan_id).plan.version
    raised = found.plan.model_copy(update={"version": latest + 1})
    return plan_yaml(raised), f"{plan_id}@{number}"


# --------------------------------------------------------------------- storing


def create_draft(views: Views, store: EventStore, source: str, by: str, at: datetime) -> int:
    """A new draft from a template or a published version; its id."""
    text, based_on = starting_text(store, source)
    plan = check(text).plan
    return insert_draft(
        views,
        text=text,
        based_on=based_on,
        by=by,
        at=at,
        plan_id=plan.plan_id if plan else None,
        version=plan.version if plan else None,
    )


def draft(views: Views, draft_id: int) -> DraftRow:
    """A stored draft, or DraftNotFound."""
    found = find_draft(views, draft_id)
    if found is None:
        raise DraftNotFound(f"no draft {draft_id}")
    return found


def save_draft(
    views: Views, draft_id: int, text: str, by: str, at: datetime, context: dict[str, Any]
) -> Checked:
    """Save a draft's text, valid or not (a draft may be half-written), and what its
    validation says. Nothing reaches the event store. Invalid when the draft is published
    (a published draft is read-only) or the text too large."""
    if len(text.encode("utf-8")) > MAX_DRAFT_BYTES:
        raise Invalid(f"the document is larger than {MAX_DRAFT_BYTES} bytes", field="document")
    checked = check(text, context)
    plan = checked.plan
    saved = update_draft(
        views,
        draft_id,
        text=text,
        by=by,
        at=at,
        plan_id=plan.plan_id if plan else None,
        version=plan.version if plan else None,
    )
    if not saved:
        draft(views, draft_id)  # DraftNotFound when there is none
        raise Invalid("this draft is already published: start a new draft", field="document")
    return checked


# ---------------------------------------------------------------------- impact


def default_window(snap: Snapshot, plan: Plan, today: date) -> tuple[Period, Period]:
    """The window whose impact is shown by default: the plan's period containing today, or
    the latest period of the plan's kind the engine has figures for (a store of past data)."""
    known = sorted(p for p in snap.book.periods(snap.facts) if p.kind == plan.period)
    here = Period.containing(today, plan.period)
    chosen = here if here in known or not known else known[-1]
    return chosen, chosen


def impact(snap: Snapshot, plan: Plan, periods: list[Period]) -> Impact:
    """The draft against the newest published version of its plan over the periods (the
    draft against itself for a first version: its totals alone)."""
    version = PlanVersion.draft(plan)
    mine = sorted(
        (v for v in snap.book.versions if v.plan.plan_id == plan.plan_id),
        key=lambda v: v.plan.version,
    )
    baseline = mine[-1] if mine else None
    found = simulate(snap.facts, version, baseline or version, window(periods[0], periods[-1]))
    return Impact(tuple(periods), baseline, found)


# -------------------------------------------------------------------- publishing


def publish_draft(
    views: Views,
    store: EventStore,
    draft_id: int,
    *,
    by: str,
    reason: str,
    at: datetime,
    context: dict[str, Any],
) -> PublishResult:
    """Publish a saved draft through the same service as ``POST /v1/plans`` (its document
    validated again inside the event), recording who published it and why, then mark the
    draft published. Invalid without a reason, PlanError for an invalid draft,
    PlanPublishError when the version may not be published (nothing stored)."""
    reason = reason.strip()
    if not reason:
        raise Invalid("say why this version is published", field="reason")
    if len(reason) > MAX_REASON:
        raise Invalid(f"the reason is longer than {MAX_REASON} characters", field="reason")
    found = draft(views, draft_id)
    if found.published:
        raise Invalid("this draft is already published", field="document")
    plan = plan_from_data(parse_yaml(found.text, "draft"), "draft", context=context)
    result = publish(store, plan, published_by=by, reason=reason)
    mark_published(views, draft_id, by=by, at=at, event_id=result.event_id, reason=reason)
    return result
