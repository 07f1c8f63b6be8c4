"""``incentive-engine notify``: deliver notifications to people (one-shot, or ``--follow``),
list and retry dead letters, and show or set a rep's delivery preferences."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from incentive_engine.cli.common import Format, console, emit, settings_of

notify_app = typer.Typer(
    help="Deliver notifications (webhooks, Slack, Teams, e-mail); dead letters; preferences.",
    invoke_without_command=True,
    rich_markup_mode=None,
)


@notify_app.callback()
def notify(
    ctx: typer.Context,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep delivering until SIGTERM (the service).")
    ] = False,
    drain: Annotated[
        bool,
        typer.Option(
            "--drain",
            help="One-shot: also wait out retry backoffs until nothing is pending "
            "(delivered or dead-lettered).",
        ),
    ] = False,
    poll: Annotated[float, typer.Option(min=0.05, help="Seconds between polls when idle.")] = 1.0,
) -> None:
    """Read the notification stream (the outbox of the read-model database, or the Kafka topic
    when INCENTIVE_NOTIFY_KAFKA_BOOTSTRAP is set) and deliver it; one-shot unless --follow."""
    if ctx.invoked_subcommand is not None:
        return
    import signal
    import threading

    from incentive_engine.domain.facts import Facts
    from incentive_engine.notify.notifier import Notifier
    from incentive_engine.notify.sources import KafkaSource, OutboxSource, Source
    from incentive_engine.services.engine import Engine
    from incentive_engine.store.event_store import EventStore
    from projections.runner import make_engine

    settings = settings_of(ctx)
    views = make_engine(settings.resolved_views_url())
    with EventStore(settings) as store:
        engine: list[Engine] = []

        def facts() -> Facts:  # the engine opens only when pay meets a viewer
            if not engine:
                engine.append(Engine(settings, store=store, views=views))
            return engine[0].snapshot().facts

        source: Source
        if settings.notify_kafka_bootstrap:
            source = KafkaSource(
                settings.notify_kafka_bootstrap, settings.notify_topic, settings.notify_group
            )
            where = f"topic {settings.notify_topic} at {settings.notify_kafka_bootstrap}"
        else:
            source = OutboxSource(store, views)
            where = "the outbox"
        notifier = Notifier(settings, views, source, facts)
        stop = threading.Event()
        try:
            if follow:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, lambda *_: stop.set())
                console.print(
                    f"delivering from {where} to {len(settings.notify_webhooks)} webhook(s)"
                    + (f" and e-mail via {settings.smtp_host}" if settings.smtp_host else "")
                )
                stats = notifier.follow(stop, poll_seconds=poll)
            else:
                stats = notifier.run_once(drain=drain)
        finally:
            source.close()
    console.print(stats.line())


@notify_app.command("dead-letters")
def dead_letters(
    ctx: typer.Context,
    fmt: Annotated[Format, typer.Option("--format", help="table, json or csv.")] = Format.TABLE,
    status: Annotated[
        str, typer.Option(help="Which deliveries: dead (default), pending or delivered.")
    ] = "dead",
) -> None:
    """List deliveries that gave up (or those pending, or delivered) with their last error."""
    from projections import notifications as ledger
    from projections.runner import make_engine

    if status not in (ledger.DEAD, ledger.PENDING, ledger.DELIVERED):
        from incentive_engine.cli.common import fail

        fail(f"--status {status!r}: choose dead, pending or delivered", 2)
    views = ledger.create_tables(make_engine(settings_of(ctx).resolved_views_url()))
    with views.connect() as conn:
        rows = [d.row() for d in ledger.deliveries(conn, status)]
    emit(rows, fmt, title=f"{status} deliveries")


@notify_app.command("retry")
def retry(
    ctx: typer.Context,
    notification_id: Annotated[
        str | None, typer.Option("--id", help="Only this notification id.")
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Only this target (webhook:NAME or email).")
    ] = None,
) -> None:
    """Put dead-lettered deliveries back in the queue (all, or one id/target); the next
    `notify` run delivers them."""
    from projections import notifications as ledger
    from projections.runner import make_engine

    views = ledger.create_tables(make_engine(settings_of(ctx).resolved_views_url()))
    with views.begin() as conn:
        moved = ledger.requeue(conn, datetime.now(UTC), notification_id, target)
    console.print(f"requeued {moved} dead-lettered delivery(ies)")


@notify_app.command("prefs")
def prefs(
    ctx: typer.Context,
    rep_id: Annotated[str, typer.Argument(help="The rep.")],
    language: Annotated[str | None, typer.Option(help="vi or en.")] = None,
    email: Annotated[str | None, typer.Option(help="The rep's e-mail address.")] = None,
    no_email: Annotated[
        bool, typer.Option("--no-email", help="Forget the e-mail address.")
    ] = False,
    enable: Annotated[
        list[str] | None,
        typer.Option(help="Switch on KIND:CHANNEL (channel email or webhook; * for all)."),
    ] = None,
    disable: Annotated[
        list[str] | None, typer.Option(help="Switch off KIND:CHANNEL (* for all).")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.TABLE,
) -> None:
    """Show a rep's notification preferences, or change them with the options."""
    from incentive_engine.services import notifications as service
    from projections import notifications as ledger
    from projections.runner import make_engine

    settings = settings_of(ctx)
    views = ledger.create_tables(make_engine(settings.resolved_views_url()))
    default = settings.locale or settings.web_locale
    if language or email or no_email or enable or disable:
        found = service.set_preferences(
            views,
            rep_id,
            default_language=default,
            at=datetime.now(UTC),
            language=language,
            email=email,
            clear_email=no_email,
            enable=enable or (),
            disable=disable or (),
        )
    else:
        found = service.preferences(views, rep_id, default)
    record = found.record()
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
        return
    console.print(
        f"{record['rep_id']}: language {record['language']}, e-mail {record['email'] or '–'}"
    )
    rows = [{"kind": kind, **channels} for kind, channels in record["channels"].items()]
    emit(rows, Format.TABLE)
