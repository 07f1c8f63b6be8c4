"""The notifier: reads the notification stream, routes each notification under the rep's
preferences and the visibility rule into the delivery ledger (each notification and target
once ever), and delivers what is due: signed webhooks and e-mail over SMTP, retried with
bounded exponential backoff, dead-lettered after the last attempt."""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

from sqlalchemy import Connection, Engine

from incentive_engine.domain.facts import Facts
from incentive_engine.notify import messages
from incentive_engine.notify.sources import Source
from incentive_engine.presentation import Presenter
from incentive_engine.services import notifications as routing
from incentive_engine.settings import Settings, WebhookEndpoint
from projections import notifications as ledger


class DeliveryFailed(Exception):
    """One attempt failed; ``permanent`` when trying again cannot help (a 4xx answer)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


def post_webhook(
    endpoint: WebhookEndpoint, message: dict[str, Any], presenter: Presenter, timeout: float
) -> None:
    """POST one notification to a webhook, signed; raise DeliveryFailed unless 2xx."""
    sent_at = int(time.time())
    body = messages.webhook_body(message, endpoint.format, presenter, sent_at)
    request = urllib.request.Request(
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "incentive-engine-notifier",
            messages.SIGNATURE_HEADER: messages.signature(endpoint.secret, body),
            messages.TIMESTAMP_HEADER: str(sent_at),
            messages.ID_HEADER: str(message["id"]),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
    except urllib.error.HTTPError as error:
        permanent = 400 <= error.code < 500 and error.code not in (408, 425, 429)
        raise DeliveryFailed(
            f"HTTP {error.code} from {endpoint.url}", permanent=permanent
        ) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DeliveryFailed(f"{endpoint.url} unreachable: {reason}") from None


def send_email(settings: Settings, to: str, subject: str, text: str, notification_id: str) -> None:
    """Send one e-mail over SMTP (TLS or STARTTLS and login as configured)."""
    mail = EmailMessage()
    mail["From"] = formataddr(("incentive-engine", settings.smtp_from))
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid("notification", domain="incentive-engine")
    mail["X-Incentive-Notification-Id"] = notification_id
    mail.set_content(text, charset="utf-8")
    assert settings.smtp_host is not None
    timeout = settings.notify_timeout_seconds
    context = ssl.create_default_context(
        cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None
    )
    try:
        if settings.smtp_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=timeout, context=context,
            )  # fmt: skip
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        with smtp:
            if settings.smtp_starttls and not settings.smtp_ssl:
                smtp.starttls(context=context)
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(mail)
    except smtplib.SMTPRecipientsRefused as error:
        raise DeliveryFailed(f"SMTP refused {to}: {error.recipients}", permanent=True) from None
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryFailed(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {error}") from None


@dataclass
class Stats:
    """What a run of the notifier did."""

    read: int = 0
    queued: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0

    def line(self) -> str:
        """A one-line summary."""
        return (
            f"read {self.read} notification(s), queued {self.queued} delivery(ies), "
            f"delivered {self.delivered}, {self.failed} failed attempt(s), "
            f"{self.dead} dead-lettered"
        )


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


class Notifier:
    """Reads a source into the delivery ledger and delivers what is due."""

    def __init__(
        self,
        settings: Settings,
        views: Engine,
        source: Source,
        facts: Callable[[], Facts],
        *,
        page: int = 500,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Deliver with ``settings`` (endpoints, SMTP, retries); ``facts`` are asked only to
        decide whether a manager's endpoint may see a rep's pay."""
        self.settings = settings
        self.views = views
        self.source = source
        self.facts = facts
        self.page = page
        self.clock = clock
        self.endpoints = {f"webhook:{e.name}": e for e in settings.notify_webhooks}
        self.default_language = settings.locale or settings.web_locale
        ledger.create_tables(views)

    def intake(self, stats: Stats) -> int:
        """Read one page of the stream into the ledger; how many notifications were read."""
        found = self.source.read(self.page)
        if not found:
            return 0
        now = self.clock()
        rows: list[dict[str, Any]] = []
        prefs: dict[str, routing.Preferences] = {}
        for message in found:
            rep_id = str(message["rep_id"])
            if rep_id not in prefs:
                prefs[rep_id] = routing.preferences(self.views, rep_id, self.default_language)
            rows.extend(routing.route(message, prefs[rep_id], self.settings, self.facts, now))
        with self.views.begin() as conn:
            stats.queued += ledger.enqueue(conn, rows)
            self.source.commit(conn)
        self.source.committed()
        stats.read += len(found)
        return len(found)

    def _attempt(self, delivery: ledger.Delivery) -> None:
        """One attempt at one delivery (raises DeliveryFailed)."""
        body = delivery.body
        if delivery.target == "email":
            if not self.settings.smtp_host:
                raise DeliveryFailed("no SMTP host configured (INCENTIVE_SMTP_HOST)")
            presenter = Presenter(body.get("_language", "vi"), self.settings.time_zone)
            message = {k: v for k, v in body.items() if not k.startswith("_")}
            subject, text = messages.email(message, presenter)
            send_email(self.settings, body["_email"], subject, text, delivery.notification_id)
            return
        endpoint = self.endpoints.get(delivery.target)
        if endpoint is None:
            raise DeliveryFailed(f"{delivery.target} is no longer configured")
        presenter = Presenter(self.default_language, self.settings.time_zone)
        post_webhook(endpoint, body, presenter, self.settings.notify_timeout_seconds)

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the given number of failed attempts (doubling, bounded)."""
        seconds = self.settings.notify_backoff_seconds * 2 ** (attempts - 1)
        return timedelta(seconds=min(seconds, self.settings.notify_backoff_max_seconds))

    def _outcome(self, delivery: ledger.Delivery) -> DeliveryFailed | None:
        """One attempt's failure, or None when delivered (never raises: a fault of ours, such
        as a message that cannot be written, fails the attempt rather than the notifier)."""
        try:
            self._attempt(delivery)
        except DeliveryFailed as failed:
            return failed
        except Exception as error:  # one bad delivery never stops the others
            return DeliveryFailed(f"{type(error).__name__}: {error}")
        return None

    def deliver_due(self, stats: Stats) -> int:
        """Attempt every delivery now due, ``notify_concurrency`` at a time (a slow receiver
        does not hold the others up), recording each group's outcomes as it ends; how many
        were attempted."""
        with self.views.connect() as conn:
            batch = ledger.due(conn, self.clock(), self.page)
        size = self.settings.notify_concurrency
        with ThreadPoolExecutor(max_workers=size, thread_name_prefix="notify") as pool:
            for start in range(0, len(batch), size):
                group = batch[start : start + size]
                outcomes = list(pool.map(self._outcome, group))
                now = self.clock()
                with self.views.begin() as conn:
                    for delivery, failed in zip(group, outcomes, strict=True):
                        self._record(conn, delivery, failed, now, stats)
        return len(batch)

    def _record(
        self,
        conn: Connection,
        delivery: ledger.Delivery,
        failed: DeliveryFailed | None,
        now: datetime,
        stats: Stats,
    ) -> None:
        """Write one attempt's outcome: delivered, pending with a backoff, or dead."""
        attempts = delivery.attempts + 1
        status = ledger.DELIVERED
        if failed is None:
            stats.delivered += 1
        else:
            stats.failed += 1
            last = failed.permanent or attempts >= self.settings.notify_max_attempts
            status = ledger.DEAD if last else ledger.PENDING
            stats.dead += status == ledger.DEAD
        ledger.record_attempt(
            conn,
            delivery,
            status=status,
            attempts=attempts,
            next_attempt_at=now + self.backoff(attempts) if failed else now,
            error=None if failed is None else str(failed),
            at=now,
        )

    def pending_wait(self) -> float | None:
        """Seconds until the next pending delivery is due (None when none is pending)."""
        with self.views.connect() as conn:
            soonest = ledger.next_due(conn)
        if soonest is None:
            return None
        return max(0.0, (soonest - self.clock()).total_seconds())

    def run_once(self, *, drain: bool = False, stop: threading.Event | None = None) -> Stats:
        """Read the stream to its end and deliver what is due (one-shot mode, for cron and
        tests); with ``drain``, also wait out the backoffs until nothing is pending."""
        stats = Stats()
        stop = stop or threading.Event()
        while not stop.is_set():
            read = self.intake(stats)
            attempted = self.deliver_due(stats)
            if read or attempted:
                continue
            wait = self.pending_wait() if drain else None
            if wait is None:
                break
            stop.wait(wait)
        return stats

    def follow(self, stop: threading.Event, *, poll_seconds: float = 1.0) -> Stats:
        """Keep reading and delivering until ``stop`` is set."""
        stats = Stats()
        while not stop.is_set():
            read = self.intake(stats)
            attempted = self.deliver_due(stats)
            if not read and not attempted:
                stop.wait(poll_seconds)
        return stats
