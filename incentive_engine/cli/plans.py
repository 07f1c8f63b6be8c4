"""The ``plan`` commands: validate, publish, list, show and diff plan versions, and print the
plan document's JSON Schema.

A typer sub-application (``plan_app``) registered by the main command line as ``plan``; it
reads the global ``--store`` setting from the root context.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from incentive_engine.cli.common import (
    EngineErrors,
    Format,
    emit,
    fail,
    plan_ref_arg,
    settings_of,
)

if TYPE_CHECKING:
    from incentive_engine.settings import Settings
    from incentive_engine.store.event_store import EventStore
    from plans.model import Plan


plan_app = typer.Typer(
    cls=EngineErrors,
    name="plan",
    help="Validate, publish, list, show and compare plan versions (plans are YAML documents).",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


class ListFormat(StrEnum):
    """Output formats of the listing plan commands."""

    TABLE = "table"
    JSON = "json"


class DocumentFormat(StrEnum):
    """Output formats of a plan document."""

    YAML = "yaml"
    JSON = "json"


def _read_plan(path: Path) -> Plan:
    """A validated plan from a file, or exit: 2 when the file is missing, 1 when invalid."""
    from plans.documents import load_plan

    if not path.is_file():
        fail(f"{path}: no such file", 2)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        fail(f"{path}: (document): not UTF-8 text ({exc.reason})")
    return load_plan(text, str(path))


# ------------------------------------------------------------------- validate


@plan_app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Plan document (YAML or JSON).")],
) -> None:
    """Validate a plan document; print its content hash, or every problem (exit 1)."""
    from incentive_engine.domain.events import content_hash

    plan = _read_plan(file)
    digest = content_hash(plan.document())
    typer.echo(f"{file}: valid plan {plan.plan_id} v{plan.version} (content hash {digest})")


# -------------------------------------------------------------------- publish


@plan_app.command("publish")
def publish_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Plan document (YAML or JSON).")],
    by: Annotated[
        str | None, typer.Option("--by", help="Who publishes (recorded on the event).")
    ] = None,
) -> None:
    """Validate a plan document and publish it as a new, immutable plan version."""
    from incentive_engine.services.plan_publishing import publish
    from incentive_engine.store.event_store import EventStore

    plan = _read_plan(file)
    with EventStore(settings_of(ctx)) as store:
        result = publish(store, plan, published_by=by)
    name = f"plan {plan.plan_id} v{plan.version}"
    if result.already_published:
        digest = result.content_hash
        typer.echo(f"{name} is already published with this document ({digest}): nothing to do")
    else:
        typer.echo(
            f"published {name} ({result.content_hash}) as event {result.event_id} "
            f"at log position {result.position}"
        )


# ----------------------------------------------------------------------- list


@plan_app.command("list")
def list_command(
    ctx: typer.Context,
    fmt: Annotated[ListFormat, typer.Option("--format", help="table or json.")] = (
        ListFormat.TABLE
    ),
) -> None:
    """List the published plan versions."""
    from incentive_engine.services.plan_publishing import list_versions
    from incentive_engine.store.event_store import EventStore

    with EventStore(settings_of(ctx)) as store:
        versions = list_versions(store)
    rows = [
        {
            "plan": v.plan.plan_id,
            "version": v.plan.version,
            "name": v.plan.name,
            "effective_from": v.plan.effective_from.isoformat(),
            "effective_to": v.plan.effective_to.isoformat() if v.plan.effective_to else None,
            "currency": v.plan.currency,
            "period": v.plan.period.value,
            "components": [c.id for c in v.plan.components],
            "content_hash": v.content_hash,
        }
        for v in versions
    ]
    if not rows and fmt is ListFormat.TABLE:
        typer.echo("no plan is published yet")
        return
    emit(rows, Format(fmt.value), "published plan versions")


# ----------------------------------------------------------------------- show


@plan_app.command()
def show(
    ctx: typer.Context,
    plan_id: Annotated[str, typer.Argument(metavar="ID", help="Plan id.")],
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Version (default: the latest).")
    ] = None,
    fmt: Annotated[DocumentFormat, typer.Option("--format", help="yaml or json.")] = (
        DocumentFormat.YAML
    ),
) -> None:
    """Print a published plan version's document with its content hash and publishing event."""
    from incentive_engine.services.plan_publishing import get_version
    from incentive_engine.store.event_store import EventStore
    from plans.documents import plan_yaml

    with EventStore(settings_of(ctx)) as store:
        found = get_version(store, plan_id, version)
    plan = found.plan
    if fmt is DocumentFormat.JSON:
        out = {
            "plan_id": plan.plan_id,
            "version": plan.version,
            "content_hash": found.content_hash,
            "event_id": found.event_id,
            "document": plan.document(),
        }
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
        return
    sys.stdout.write(
        f"# plan {plan.plan_id} v{plan.version}: {plan.name}\n"
        f"# content hash: {found.content_hash}\n"
        f"# published by event: {found.event_id}\n" + plan_yaml(plan)
    )


# ----------------------------------------------------------------------- diff


def _operand(text: str, store: list[EventStore], settings: Settings) -> Plan:
    """A plan from a file path, or from ``ID@VERSION`` (``ID@latest``) in the store."""
    from incentive_engine.services.plan_publishing import get_version
    from incentive_engine.store.event_store import EventStore

    path = Path(text)
    if path.is_file() or "@" not in text:
        return _read_plan(path)
    ref = plan_ref_arg(text, latest=True, or_file=True)
    if not store:
        store.append(EventStore(settings))
    return get_version(store[0], ref.plan_id, ref.version).plan


@plan_app.command()
def diff(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(metavar="A", help="Plan file, or ID@VERSION published.")],
    b: Annotated[str, typer.Argument(metavar="B", help="Plan file, or ID@VERSION published.")],
    fmt: Annotated[ListFormat, typer.Option("--format", help="table or json.")] = (
        ListFormat.TABLE
    ),
) -> None:
    """Show what changes from plan A to plan B, field by field (components by id)."""
    from plans.diff import diff_plans

    opened: list[EventStore] = []
    try:
        before = _operand(a, opened, settings_of(ctx))
        after = _operand(b, opened, settings_of(ctx))
    finally:
        for s in opened:
            s.close()
    changes = [c.as_dict() for c in diff_plans(before, after)]
    if not changes and fmt is ListFormat.TABLE:
        typer.echo(f"no changes from {a} to {b}")
        return
    emit(changes, Format(fmt.value), f"{a} -> {b}")


# --------------------------------------------------------------------- schema


@plan_app.command()
def schema() -> None:
    """Print the JSON Schema of the plan document, for editors and CI to validate against."""
    from plans.model import plan_schema

    sys.stdout.write(json.dumps(plan_schema(), ensure_ascii=False, indent=2) + "\n")


# ----------------------------------------------------------------- acceptance


class AcceptHow(StrEnum):
    """How an operator's record of an acceptance was given."""

    CLI = "cli"
    PAPER = "paper"


def _latest_version(engine_store: EventStore, plan_id: str, version: int | None) -> int:
    """The version asked for, else the latest published version of the plan."""
    from incentive_engine.services.plan_publishing import get_version

    return get_version(engine_store, plan_id, version).plan.version


@plan_app.command("accept")
def accept_command(
    ctx: typer.Context,
    plan_id: Annotated[str, typer.Argument(metavar="PLAN", help="Plan id.")],
    rep: Annotated[str, typer.Option("--rep", help="The rep who accepts.")],
    by: Annotated[str, typer.Option("--by", help="Who records it (stored on the event).")],
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Version (default: the latest).")
    ] = None,
    how: Annotated[
        AcceptHow, typer.Option("--how", help="paper (a signature on file) or cli.")
    ] = AcceptHow.PAPER,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Paper: where the signed copy is (file, number)."),
    ] = None,
    signed_at: Annotated[
        str | None,
        typer.Option("--signed-at", help="When the rep signed (ISO date or instant; UTC)."),
    ] = None,
) -> None:
    """Record that a rep accepted a plan version (finance or an operator recording a paper
    signature); accepting again changes nothing."""
    from incentive_engine.cli.common import engine_of, parse_instant
    from incentive_engine.domain.visibility import Role, Viewer
    from incentive_engine.services.acceptance import AcceptanceService

    with engine_of(ctx) as engine:
        chosen = _latest_version(engine.store, plan_id, version)
        result = AcceptanceService(engine).accept(
            Viewer(Role.FINANCE, by),
            plan_id,
            chosen,
            how=how.value,
            rep_id=rep,
            reference=reference,
            # a date signed means that day's start (UTC), never a time still to come
            accepted_at=parse_instant(
                f"{signed_at}T00:00:00" if signed_at and len(signed_at) == 10 else signed_at
            ),
        )
    row = result.row
    when = row.accepted_at.isoformat() if row.accepted_at else "?"
    if result.already:
        typer.echo(f"{rep} already accepted plan {plan_id} v{chosen} ({row.how}, {when})")
    else:
        typer.echo(f"recorded: {rep} accepted plan {plan_id} v{chosen} ({row.how}, {when})")


@plan_app.command("acceptances")
def acceptances_command(
    ctx: typer.Context,
    plan_id: Annotated[str, typer.Argument(metavar="PLAN", help="Plan id.")],
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Version (default: the latest).")
    ] = None,
    fmt: Annotated[ListFormat, typer.Option("--format", help="table or json.")] = (
        ListFormat.TABLE
    ),
) -> None:
    """The reps a plan version covers and whether (when, how) each accepted it."""
    from incentive_engine.cli.common import engine_of
    from incentive_engine.domain.visibility import Role, Viewer
    from incentive_engine.services.acceptance import AcceptanceService

    with engine_of(ctx) as engine:
        chosen = _latest_version(engine.store, plan_id, version)
        rows = AcceptanceService(engine).report(Viewer(Role.FINANCE, "operator"), plan_id, chosen)
    found = [r.as_dict() for r in rows]
    if fmt is ListFormat.JSON:
        emit(found, Format.JSON)
        return
    listed = [
        {
            "rep_id": r["rep_id"],
            "name": r["name"],
            "accepted": "yes" if r["accepted"] else "NO",
            "accepted_at": r["accepted_at"] or "",
            "how": r["how"] or "",
            "reference": r["reference"] or "",
        }
        for r in found
    ]
    done = sum(1 for r in rows if r.accepted)
    emit(listed, Format.TABLE, f"plan {plan_id} v{chosen}: {done} of {len(rows)} accepted")
