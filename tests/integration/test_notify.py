"""The notifier delivers the notification stream to people, against real components: a local
HTTP webhook receiver (stdlib http.server in a thread) that checks signatures, a local SMTP
server (aiosmtpd), the read-model database as a SQLite file, and the test broker for the
Kafka source (issue 19 item 5)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from incentive_engine.domain.events import Payout, PeriodClosed
from incentive_engine.notify.messages import verify
from incentive_engine.notify.notifier import Notifier, Stats
from incentive_engine.notify.sources import OutboxSource
from incentive_engine.services import notifications as service
from incentive_engine.services.replay import facts_until
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from projections import notifications as ledger
from projections.runner import ProjectionRunner, make_engine
from tests.broker import free_port
from tests.examples.plans import plan, rep, tiered
from tests.factories import won
from tests.integration.test_kafka import broker

__all__ = ["broker"]  # the session's broker fixture

SECRET = "s3cret-for-the-team-channel"
PLAN = plan(
    tiered(),
    points={"activities": {"call_connected": 1}, "won_deal": 10},
    badges=[{"id": "first", "name": "First win", "kind": "first_won_deal"}],
)


# ------------------------------------------------------------------ the real receivers


class Receiver:
    """A local webhook receiver: records every POST; ``/flaky`` answers 500 to the first
    attempt of each notification, ``/down`` always 500, ``/gone`` 410, anything else 200."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.seen: set[tuple[str, str]] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                notification_id = self.headers.get("X-Incentive-Notification-Id", "")
                receiver.posts.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                key = (self.path, notification_id)
                code = 200
                if self.path == "/down" or (self.path == "/flaky" and key not in receiver.seen):
                    code = 500
                elif self.path == "/gone":
                    code = 410
                receiver.seen.add(key)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def at(self, path: str) -> list[dict[str, Any]]:
        """The posts a path received, bodies decoded."""
        return [{**p, "json": json.loads(p["body"])} for p in self.posts if p["path"] == path]


class Mailbox:
    """aiosmtpd handler keeping every message received."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        mail = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), mail))
        return "250 OK"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """The webhook receiver for the module."""
    found = Receiver()
    yield found
    found.server.shutdown()


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    """A local SMTP server (no TLS) for the module."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


# ------------------------------------------------------------------ a store with news


def history() -> list[Any]:
    """A plan with points and a badge, two reps under a manager, a first win (statement,
    rank and badge news) and a closed quarter (pay news)."""
    return [
        publication(PLAN.plan),
        rep("mgr", role="manager"),
        rep("an", manager_id="mgr"),
        rep("binh"),
        won("D1", 45_000_000, rep_id="an", close_date="2026-01-20"),
    ]


def closed() -> PeriodClosed:
    """Q1 closed, paying An 1,900,000 VND."""
    return PeriodClosed(
        event_id="close:2026-Q1",
        period="2026-Q1",
        closed_at="2026-04-02T00:00:00Z",
        payouts=[
            Payout(
                rep_id="an",
                plan_id="example",
                version=1,
                earned=Decimal(1_900_000),
                total=Decimal(1_900_000),
                statement_hash="h",
            )
        ],
    )


@pytest.fixture()
def place(tmp_path: Path, receiver: Receiver) -> Iterator[tuple[Path, Receiver]]:
    """A fresh store in a temporary folder (the receiver's posts cleared)."""
    receiver.posts.clear()
    receiver.seen.clear()
    with EventStore(Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}")) as store:
        store.append([*history(), closed()])
    yield tmp_path, receiver


def settings_for(tmp_path: Path, receiver: Receiver, *hooks: dict[str, Any], **kw: Any) -> Settings:
    """Settings with webhooks at the receiver (paths) and fast retries."""
    webhooks = [
        {
            "name": h.get("name", h["path"].strip("/")),
            "secret": SECRET,
            **h,
            "url": receiver.url + h["path"],
        }
        for h in hooks
    ]
    for h in webhooks:
        h.pop("path")
    values: dict[str, Any] = {
        "store_url": f"sqlite:///{tmp_path / 'events.db'}",
        "notify_webhooks": webhooks,
        "notify_backoff_seconds": 0.01,
        "notify_max_attempts": 3,
        **kw,
    }
    return Settings(**values)


def run(settings: Settings, *, drain: bool = True) -> Stats:
    """One one-shot run of the notifier on the outbox (a fresh process, as after a restart)."""
    views = make_engine(settings.resolved_views_url())
    with EventStore(settings) as store:
        source = OutboxSource(store, views)
        notifier = Notifier(
            settings, views, source, lambda: facts_until(store, store.max_position())[0]
        )
        return notifier.run_once(drain=drain)


def ledger_rows(settings: Settings) -> list[ledger.Delivery]:
    """Every delivery in the ledger."""
    views: Engine = make_engine(settings.resolved_views_url())
    with views.connect() as conn:
        return ledger.deliveries(conn)


# ------------------------------------------------------------------ webhooks


def test_webhooks_are_signed_and_each_notification_is_sent_once_even_after_a_restart(
    place: tuple[Path, Receiver],
) -> None:
    tmp_path, receiver = place
    settings = settings_for(tmp_path, receiver, {"path": "/team", "viewer": "finance:ops"})
    stats = run(settings)
    posts = receiver.at("/team")
    kinds = sorted(p["json"]["kind"] for p in posts)
    assert kinds == ["badge_awarded", "period_closed", "rank_changed", "statement_changed"]
    assert stats.delivered == 4 and stats.dead == 0
    for post in posts:
        headers = post["headers"]
        assert headers["X-Incentive-Signature"].startswith("sha256=")
        assert verify(SECRET, post["body"], headers["X-Incentive-Signature"])
        assert not verify("another-secret-of-16+", post["body"], headers["X-Incentive-Signature"])
        assert int(headers["X-Incentive-Timestamp"]) == post["json"]["sent_at"]
        assert abs(time.time() - post["json"]["sent_at"]) < 60
        assert headers["X-Incentive-Notification-Id"] == post["json"]["id"]
    # a restart (a new process reading the same outbox and ledger) sends nothing again
    assert run(settings).delivered == 0
    assert len(receiver.at("/team")) == 4
    # the outbox read again from its start still finds every id delivered
    views = make_engine(settings.resolved_views_url())
    with views.begin() as conn:
        ledger.move_cursor(conn, "outbox", 0)
    again = run(settings)
    assert (again.read, again.queued, again.delivered) == (4, 0, 0)
    # new news is delivered, and only it
    with EventStore(settings) as store:
        store.append([won("D2", 10_000_000, rep_id="binh", close_date="2026-02-02")])
    run(settings)
    new = [p["json"]["id"] for p in receiver.at("/team")[4:]]
    assert "statement_changed:won-D2:binh" in new and len(new) == len(set(new))


def test_a_500_is_retried_with_backoff_and_then_delivered(place: tuple[Path, Receiver]) -> None:
    tmp_path, receiver = place
    settings = settings_for(tmp_path, receiver, {"path": "/flaky", "kinds": ["statement_changed"]})
    stats = run(settings)
    assert (stats.delivered, stats.failed, stats.dead) == (1, 1, 0)
    [row] = ledger_rows(settings)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 2, None)
    first, second = receiver.at("/flaky")
    assert first["json"]["id"] == second["json"]["id"] == "statement_changed:won-D1:an"


def test_after_the_last_attempt_a_delivery_is_dead_lettered_listed_and_retryable(
    place: tuple[Path, Receiver],
) -> None:
    from typer.testing import CliRunner

    from incentive_engine.cli.main import app

    tmp_path, receiver = place
    down = settings_for(
        tmp_path, receiver, {"name": "hook", "path": "/down", "kinds": ["statement_changed"]}
    )
    stats = run(down)
    assert (stats.delivered, stats.failed, stats.dead) == (0, 3, 1)
    assert len(receiver.at("/down")) == 3  # max attempts, then no more
    [row] = ledger_rows(down)
    assert (row.status, row.attempts) == ("dead", 3)
    assert row.last_error is not None and "HTTP 500" in row.last_error
    cli = CliRunner()
    env = {"INCENTIVE_STORE_URL": down.store_url}
    listed = cli.invoke(app, ["notify", "dead-letters", "--format", "json"], env=env)
    assert listed.exit_code == 0, listed.output
    [letter] = json.loads(listed.stdout)
    assert letter["notification_id"] == "statement_changed:won-D1:an"
    assert letter["target"] == "webhook:hook" and letter["attempts"] == 3
    # the receiver is fixed (same endpoint name, now answering): retry delivers it
    retried = cli.invoke(app, ["notify", "retry", "--target", "webhook:hook"], env=env)
    assert "requeued 1" in retried.stdout
    fixed = settings_for(
        tmp_path, receiver, {"name": "hook", "path": "/ok", "kinds": ["statement_changed"]}
    )
    assert run(fixed).delivered == 1
    assert [r.status for r in ledger_rows(fixed)] == ["delivered"]


def test_a_4xx_is_not_retried(place: tuple[Path, Receiver]) -> None:
    tmp_path, receiver = place
    settings = settings_for(tmp_path, receiver, {"path": "/gone", "kinds": ["statement_changed"]})
    assert run(settings).dead == 1
    assert len(receiver.at("/gone")) == 1


def test_pay_reaches_only_readers_allowed_to_see_it(place: tuple[Path, Receiver]) -> None:
    tmp_path, receiver = place
    hooks = [
        {"path": "/team", "kinds": ["period_closed"]},
        {"path": "/payroll", "kinds": ["period_closed"], "viewer": "finance:payroll"},
        {"path": "/mgr", "kinds": ["period_closed"], "viewer": "manager:mgr"},
        {"path": "/other", "kinds": ["period_closed"], "viewer": "manager:binh"},
    ]
    hooks += [
        {"path": "/channel", "kinds": ["badge_awarded", "rank_changed"]},
        {"path": "/coach", "kinds": ["badge_awarded", "rank_changed"], "viewer": "manager:mgr"},
    ]
    run(settings_for(tmp_path, receiver, *hooks))
    # a badge held is pay: not on a channel whose reader may not see An's pay; nor points
    [rank] = [p["json"] for p in receiver.at("/channel")]
    assert rank["kind"] == "rank_changed" and rank["rank"] == 1 and "points" not in rank
    coach = {p["json"]["kind"]: p["json"] for p in receiver.at("/coach")}
    assert coach["rank_changed"]["points"] == "10" and coach["badge_awarded"]["name"] == "First win"
    totals = {
        p: [x["json"].get("total") for x in receiver.at(p)]
        for p in ("/team", "/payroll", "/mgr", "/other")
    }
    assert totals == {
        "/team": [None],
        "/payroll": ["1900000"],
        "/mgr": ["1900000"],
        "/other": [None],
    }
    assert receiver.at("/team")[0]["json"]["period"] == "2026-Q1"


def test_a_rep_switching_a_kind_off_is_not_announced(place: tuple[Path, Receiver]) -> None:
    tmp_path, receiver = place
    settings = settings_for(tmp_path, receiver, {"path": "/team", "viewer": "finance:ops"})
    views = ledger.create_tables(make_engine(settings.resolved_views_url()))
    service.set_preferences(
        views, "an", default_language="vi", at=ledger_now(), disable=["badge_awarded:webhook"]
    )
    run(settings)
    assert "badge_awarded" not in {p["json"]["kind"] for p in receiver.at("/team")}


def ledger_now() -> Any:
    """Now, in UTC."""
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_slack_and_teams_get_their_incoming_webhook_shapes(place: tuple[Path, Receiver]) -> None:
    tmp_path, receiver = place
    settings = settings_for(
        tmp_path,
        receiver,
        {"path": "/slack", "format": "slack", "kinds": ["badge_awarded"], "viewer": "manager:mgr"},
        {"path": "/teams", "format": "teams", "kinds": ["badge_awarded"], "viewer": "finance:f"},
        web_locale="en",
    )
    run(settings)
    [slack] = receiver.at("/slack")
    assert (
        slack["json"]["text"]
        == "Badge awarded · an: You earned the badge “First win” on 20 Jan 2026."
    )
    assert [b["type"] for b in slack["json"]["blocks"]] == ["header", "section", "context"]
    [teams] = receiver.at("/teams")
    [card] = teams["json"]["attachments"]
    assert teams["json"]["type"] == "message"
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    texts = [b["text"] for b in card["content"]["body"]]
    assert "You earned the badge “First win” on 20 Jan 2026." in texts
    assert verify(SECRET, teams["body"], teams["headers"]["X-Incentive-Signature"])


# ------------------------------------------------------------------ e-mail


def test_email_reaches_each_rep_in_their_language(
    place: tuple[Path, Receiver], smtp: tuple[Mailbox, int]
) -> None:
    tmp_path, receiver = place
    box, port = smtp
    box.messages.clear()
    settings = settings_for(
        tmp_path, receiver, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False
    )
    views = ledger.create_tables(make_engine(settings.resolved_views_url()))
    now = ledger_now()
    service.set_preferences(views, "an", default_language="vi", at=now, email="an@example.vn")
    service.set_preferences(
        views, "binh", default_language="vi", at=now, email="binh@example.com", language="en"
    )
    with EventStore(settings) as store:
        store.append([won("D2", 10_000_000, rep_id="binh", close_date="2026-02-02")])
    run(settings)
    mails = {(tuple(to), m["Subject"]): m for to, m in box.messages}
    closed_vi = mails[(("an@example.vn",), "[incentive-engine] Chốt kỳ · 2026-Q1")]
    assert "Kỳ 2026-Q1 đã chốt: bạn được trả 1.900.000\u00a0₫." in closed_vi.get_content()
    badge_vi = mails[(("an@example.vn",), "[incentive-engine] Nhận huy hiệu")]
    assert "Bạn đã đạt huy hiệu “First win” ngày 20/01/2026." in badge_vi.get_content()
    assert closed_vi["X-Incentive-Notification-Id"] == "period_closed:close:2026-Q1:an"
    binh = [m for (to, _), m in mails.items() if to == ("binh@example.com",)]
    subjects = sorted(m["Subject"] for m in binh)
    assert "[incentive-engine] Statement changed" in subjects
    changed = next(m for m in binh if m["Subject"] == "[incentive-engine] Statement changed")
    assert "Your statement changed." in changed.get_content()
    # sent once: a second run sends no mail again
    count = len(box.messages)
    run(settings)
    assert len(box.messages) == count


def test_email_off_for_a_kind_and_bad_preferences_are_refused(tmp_path: Path) -> None:
    from incentive_engine.domain.errors import Invalid

    views = ledger.create_tables(make_engine(f"sqlite:///{tmp_path / 'views.db'}"))
    now = ledger_now()
    prefs = service.set_preferences(
        views, "an", default_language="vi", at=now, email="an@example.vn", disable=["*:email"]
    )
    assert not prefs.wants("email", "period_closed") and prefs.wants("webhook", "period_closed")
    prefs = service.set_preferences(
        views, "an", default_language="vi", at=now, enable=["period_closed:email"]
    )
    assert prefs.wants("email", "period_closed") and not prefs.wants("email", "rank_changed")
    assert prefs.email == "an@example.vn"  # kept when not given
    for bad, field in (
        ({"language": "fr"}, "language"),
        ({"email": "not-an-address"}, "email"),
        ({"disable": ["payday:email"]}, "payday"),
        ({"disable": ["rank_changed:sms"]}, "sms"),
    ):
        with pytest.raises(Invalid, match=field):
            service.set_preferences(views, "an", default_language="vi", at=now, **bad)  # type: ignore[arg-type]
    assert service.preferences(views, "an", "vi").email == "an@example.vn"  # nothing half-written


# ------------------------------------------------------------------ the API route


def test_a_rep_reads_and_sets_only_their_own_preferences_through_the_api(tmp_path: Path) -> None:
    from api.auth import Role
    from tests.conftest import sqlite_settings
    from tests.e2e.api_helpers import api_settings, auth, client

    settings = api_settings(sqlite_settings(tmp_path))
    with client(settings) as app:
        an = auth(settings, Role.REP, "an")
        url = "/v1/me/notification-preferences"
        got = app.get(url, headers=an)
        assert got.status_code == 200, got.text
        assert got.json()["rep_id"] == "an" and got.json()["channels"]["period_closed"]["email"]
        put = app.put(
            url,
            headers=an,
            json={
                "language": "en",
                "email": "an@example.vn",
                "channels": {"rank_changed": {"email": False}},
            },
        )
        assert put.status_code == 200, put.text
        assert put.json()["channels"]["rank_changed"] == {"email": False, "webhook": True}
        # binh's view is binh's own: an's choices are not there
        binh = app.get(url, headers=auth(settings, Role.REP, "binh")).json()
        assert binh["rep_id"] == "binh" and binh["email"] is None
        # a rep id in the body is refused (no one sets another rep's preferences)
        assert app.put(url, headers=an, json={"rep_id": "binh"}).status_code == 422
        bad = app.put(url, headers=an, json={"channels": {"payday": {"email": True}}})
        assert bad.status_code == 422 and "payday" in bad.text
        assert app.put(url, headers=an, json={"email": "nope"}).status_code == 422
        assert app.get(url, headers=auth(settings, Role.FINANCE, "fin")).status_code == 403
        assert app.get(url).status_code == 401
        assert app.get(url, headers=an).json()["email"] == "an@example.vn"


# ------------------------------------------------------------------ the Kafka source


def test_the_kafka_topic_is_read_through_the_same_notifier(
    broker: str, place: tuple[Path, Receiver]
) -> None:
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic

    from incentive_engine.notify.sources import KafkaSource
    from projections.publisher import Publisher

    tmp_path, receiver = place
    topic = f"notify-{time.monotonic_ns()}"
    admin = KafkaAdminClient(bootstrap_servers=broker)
    admin.create_topics([NewTopic(topic, 2, 1)])
    admin.close()
    settings = settings_for(tmp_path, receiver, {"path": "/team", "viewer": "finance:ops"})
    views = make_engine(settings.resolved_views_url())

    def deliver() -> Stats:
        source = KafkaSource(  # the test broker forms a group fast with these (DESIGN §4)
            broker, topic, f"g-{topic}", max_poll_interval_ms=3000, session_timeout_ms=6000
        )
        try:
            with EventStore(settings) as store:
                notifier = Notifier(settings, views, source, lambda: facts_until(store, 0)[0])
                return notifier.run_once(drain=True)
        finally:
            source.close()

    with EventStore(settings) as store:  # what `incentive-engine publish` does
        producer = KafkaProducer(bootstrap_servers=broker, acks="all")
        publisher = Publisher(producer, topic, store=store, refold=lambda p: facts_until(store, p))
        runner = ProjectionRunner(store, views, [publisher])
        publisher.prime(*facts_until(store, 0))
        runner.run()
        for _ in range(2):  # the page published again: the same ids
            producer.send(
                topic,
                key=b"an",
                value=json.dumps(
                    {
                        "id": "statement_changed:won-D1:an",
                        "kind": "statement_changed",
                        "rep_id": "an",
                        "event_id": "won-D1",
                        "period": None,
                    }
                ).encode(),
            )
        producer.close()
    stats = deliver()
    ids = [p["json"]["id"] for p in receiver.at("/team")]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 4
    assert stats.read == 6 and stats.delivered == 4
    assert deliver().read == 0  # offsets committed: a restart reads nothing again


# ------------------------------------------------------------------ PostgreSQL


def test_on_postgresql_the_ledger_retries_and_never_sends_twice(
    pg_schema: str, receiver: Receiver
) -> None:
    from tests.conftest import postgres_settings

    receiver.posts.clear()
    receiver.seen.clear()
    base = postgres_settings(pg_schema)
    settings = base.model_copy(
        update={
            "notify_webhooks": Settings(
                notify_webhooks=[
                    {
                        "name": "flaky",
                        "url": receiver.url + "/flaky",
                        "secret": SECRET,
                        "viewer": "finance:ops",
                    }
                ]
            ).notify_webhooks,
            "notify_backoff_seconds": 0.01,
        }
    )
    with EventStore(settings) as store:
        store.append([*history(), closed()])
    first = run(settings)
    assert (first.delivered, first.failed, first.dead) == (4, 4, 0)
    assert {(r.status, r.attempts) for r in ledger_rows(settings)} == {("delivered", 2)}
    assert run(settings).delivered == 0
    assert len(receiver.at("/flaky")) == 8


# ------------------------------------------------------------------ the command line


def test_the_command_line_sets_preferences_and_delivers_one_shot(
    place: tuple[Path, Receiver],
) -> None:
    from typer.testing import CliRunner

    from incentive_engine.cli.main import app

    tmp_path, receiver = place
    hooks = [
        {"name": "team", "url": receiver.url + "/cli", "secret": SECRET, "viewer": "finance:f"}
    ]
    env = {
        "INCENTIVE_STORE_URL": f"sqlite:///{tmp_path / 'events.db'}",
        "INCENTIVE_NOTIFY_WEBHOOKS": json.dumps(hooks),
    }
    cli = CliRunner()
    args = ["notify", "prefs", "an", "--language", "en", "--disable", "rank_changed:*"]
    shown = cli.invoke(app, [*args, "--format", "json"], env=env)
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    assert record["language"] == "en"
    assert record["channels"]["rank_changed"] == {"email": False, "webhook": False}
    refused = cli.invoke(app, ["notify", "prefs", "an", "--email", "x@"], env=env)
    assert refused.exit_code == 1 and "email 'x@' is not an e-mail address" in refused.output
    done = cli.invoke(app, ["notify"], env=env)
    assert done.exit_code == 0, done.output
    assert "delivered 3" in done.stdout
    assert sorted(p["json"]["kind"] for p in receiver.at("/cli")) == [
        "badge_awarded",
        "period_closed",
        "statement_changed",
    ]


def test_follow_delivers_news_as_it_is_appended_until_stopped(
    place: tuple[Path, Receiver],
) -> None:
    tmp_path, receiver = place
    settings = settings_for(tmp_path, receiver, {"path": "/live", "kinds": ["statement_changed"]})
    views = make_engine(settings.resolved_views_url())
    stop = threading.Event()
    with EventStore(settings) as store:
        notifier = Notifier(
            settings, views, OutboxSource(store, views), lambda: facts_until(store, 0)[0]
        )
        thread = threading.Thread(
            target=notifier.follow, args=(stop,), kwargs={"poll_seconds": 0.05}
        )
        thread.start()
        try:
            store.append([won("D3", 5_000_000, rep_id="binh", close_date="2026-02-03")])
            deadline = time.monotonic() + 10
            while len(receiver.at("/live")) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            thread.join(10)
    assert not thread.is_alive()
    assert sorted(p["json"]["id"] for p in receiver.at("/live")) == [
        "statement_changed:won-D1:an",
        "statement_changed:won-D3:binh",
    ]


def test_a_delivery_whose_endpoint_was_removed_is_dead_lettered_saying_so(
    place: tuple[Path, Receiver],
) -> None:
    tmp_path, receiver = place
    before = settings_for(tmp_path, receiver, {"path": "/down", "kinds": ["statement_changed"]})
    run(before, drain=False)  # queued, first attempt failed
    after = settings_for(tmp_path, receiver, notify_max_attempts=2)  # the endpoint removed
    stats = run(after)
    [row] = ledger_rows(after)
    assert (row.status, stats.dead) == ("dead", 1)
    assert row.last_error == "webhook:down is no longer configured"


def test_endpoints_name_only_known_kinds_the_same_the_publisher_sends() -> None:
    from typing import get_args

    from incentive_engine.settings import WebhookEndpoint

    [kinds_list, _] = get_args(WebhookEndpoint.model_fields["kinds"].annotation)
    assert get_args(get_args(kinds_list)[0]) == service.KINDS
    with pytest.raises(ValueError, match="payday"):
        Settings(
            notify_webhooks=[
                {"name": "x", "url": "http://h", "secret": SECRET, "kinds": ["payday"]}
            ]
        )
    with pytest.raises(ValueError, match="viewer"):
        Settings(
            notify_webhooks=[{"name": "x", "url": "http://h", "secret": SECRET, "viewer": "boss"}]
        )
    with pytest.raises(ValueError, match="secret"):
        Settings(notify_webhooks=[{"name": "x", "url": "http://h", "secret": "short"}])


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files), for a local TLS server."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp.pem", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_email_over_starttls_with_a_login(place: tuple[Path, Receiver]) -> None:
    import ssl

    from aiosmtpd.smtp import AuthResult, LoginPassword

    tmp_path, receiver = place
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: object, session: object, envelope: object, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"mail-pass")

    box, port = Mailbox(), free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        settings = settings_for(
            tmp_path,
            receiver,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_ca_file=cert,
            smtp_user="notifier",
            smtp_password="mail-pass",
        )
        views = ledger.create_tables(make_engine(settings.resolved_views_url()))
        service.set_preferences(
            views, "an", default_language="en", at=ledger_now(), email="an@example.vn"
        )
        stats = run(settings)
        assert stats.dead == 0 and stats.delivered == len(box.messages) == 4
        assert logins and all(login == (b"notifier", b"mail-pass") for login in logins)
        # a wrong password is an SMTP error: retried, then dead-lettered, never a crash
        wrong = settings.model_copy(  # aiosmtpd stalls a failed login: a short timeout
            update={"smtp_password": "nope", "notify_max_attempts": 1, "notify_timeout_seconds": 1}
        )
        with EventStore(settings) as store:
            store.append([won("D9", 1_000_000, rep_id="an", close_date="2026-03-03")])
        failed = run(wrong)
        assert (failed.delivered, failed.dead) == (0, 1)
        dead = [r for r in ledger_rows(settings) if r.status == "dead"]
        assert dead[0].target == "email" and "SMTP 127.0.0.1" in (dead[0].last_error or "")
    finally:
        controller.stop()
