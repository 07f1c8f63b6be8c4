"""Structured logs: the standard library's logging, one JSON object a line (or text for
people), with the request's or the batch's fields, and never a credential.

Fields a caller passes with ``extra=`` (request_id, subject, role, route, status,
duration_ms, topic, ...) become keys of the JSON object.  Every formatted line goes through
``Redactor``: a bearer token, a JWT, or any configured secret (signing keys, API keys, the
metrics token, the OpenID client secret) is replaced by ``[redacted]`` wherever it appears,
so that not even an exception message or a caller's X-Request-ID can carry one into a log.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from incentive_engine.settings import Settings

REDACTED = "[redacted]"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
"""A JSON Web Token (its header always starts with ``{"`` , base64 ``eyJ``)."""
BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
"""An Authorization header's credentials."""

STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)
"""What every log record has; anything else on a record came with ``extra=``."""


class Redactor:
    """Replaces credentials in text: JWTs, bearer/basic credentials and known secrets."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so that a secret containing another is replaced whole; short values
        # are left out (they would redact ordinary words, and nothing that short is a key).
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """The text with every credential replaced."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if "eyJ" in text:
            text = JWT.sub(REDACTED, text)
        lowered = text.lower()  # the case-insensitive pattern only where it can match: fast
        if "bearer" in lowered or "basic" in lowered:
            text = BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        return text


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings hold (redacted from logs wherever it appears)."""
    found = [settings.api_secret, settings.metrics_token, settings.oidc_client_secret]
    found += list(settings.api_secrets.values())
    found += list(settings.api_keys)  # the keys themselves; their values name role:subject
    for url in (settings.store_url, settings.views_url):  # a database password in a URL
        found.append(urlparse(url).password if url else None)
    return [s for s in found if s]


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record was given with ``extra=``."""
    return {k: v for k, v in record.__dict__.items() if k not in STANDARD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the record's
    extra fields and the exception, if any; credentials redacted."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(entry, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """A line for people: time, level, logger, message and the extra fields as key=value;
    credentials redacted."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        """The record as a line of text."""
        line = super().format(record)
        fields = " ".join(f"{k}={v}" for k, v in extras(record).items())
        return self.redact(f"{line} {fields}" if fields else line)


def formatter(settings: Settings) -> logging.Formatter:
    """The formatter the settings ask for, redacting their secrets."""
    redact = Redactor(secrets_of(settings))
    return JsonFormatter(redact) if settings.log_format == "json" else TextFormatter(redact)


def configure_logging(settings: Settings, stream: Any = None) -> logging.Handler:
    """Send every log record (the engine's, uvicorn's, kafka-python's) at the configured
    level or above to ``stream`` (stderr) in the configured format; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(settings))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "incentive_engine", False)]:
        root.removeHandler(old)  # configured again (tests, a restarted command): one handler
    handler.incentive_engine = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []  # through the root handler, in the one format
        logging.getLogger(name).propagate = True
    logging.getLogger("kafka").setLevel(max(logging.WARNING, root.level))  # chatty at INFO
    return handler
