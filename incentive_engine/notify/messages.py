"""What people read: a notification written as an e-mail (Vietnamese or English, money and
dates formatted by locale as on the web pages) and as a webhook body (the notification's
JSON, or a Slack or Microsoft Teams incoming-webhook message), and the webhook signature."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from incentive_engine.presentation import Presenter

TITLES = {
    "en": {
        "statement_changed": "Statement changed",
        "rank_changed": "Rank changed",
        "badge_awarded": "Badge awarded",
        "period_closed": "Period closed",
        "dispute_updated": "Dispute updated",
    },
    "vi": {
        "statement_changed": "Bảng kê thay đổi",
        "rank_changed": "Thứ hạng thay đổi",
        "badge_awarded": "Nhận huy hiệu",
        "period_closed": "Chốt kỳ",
        "dispute_updated": "Khiếu nại được cập nhật",
    },
}
"""The title of each kind of news, by language."""

SENTENCES = {
    "en": {
        "statement_changed": "Your statement for {period} changed.",
        "rank_changed": "Your points rank for {period} is now {rank} (was {rank_before}), "
        "with {points} points.",
        "badge_awarded": "You earned the badge “{name}” on {earned_on}.",
        "period_closed": "Period {period} is closed.",
        "period_closed_paid": "Period {period} is closed: you are paid {total}.",
        "dispute_updated": "Your dispute for {period} was updated.",
        "statement_changed_any": "Your statement changed.",
        "dispute_updated_any": "Your dispute was updated.",
    },
    "vi": {
        "statement_changed": "Bảng kê hoa hồng kỳ {period} của bạn đã thay đổi.",
        "rank_changed": "Thứ hạng điểm kỳ {period} của bạn hiện là {rank} "
        "(trước đó {rank_before}), với {points} điểm.",
        "badge_awarded": "Bạn đã đạt huy hiệu “{name}” ngày {earned_on}.",
        "period_closed": "Kỳ {period} đã chốt.",
        "period_closed_paid": "Kỳ {period} đã chốt: bạn được trả {total}.",
        "dispute_updated": "Khiếu nại kỳ {period} của bạn đã được cập nhật.",
        "statement_changed_any": "Bảng kê hoa hồng của bạn đã thay đổi.",
        "dispute_updated_any": "Khiếu nại của bạn đã được cập nhật.",
    },
}
"""The sentence of each kind of news for the rep it concerns, by language."""

FOOTER = {
    "en": "Notification {id}. Change what you receive in your notification preferences.",
    "vi": "Thông báo {id}. Bạn có thể đổi loại thông báo nhận được trong phần cài đặt thông báo.",
}
NO_RANK = "–"


def _money(presenter: Presenter, total: object, currency: object) -> str | None:
    try:
        return presenter.money(Decimal(str(total)), str(currency))
    except (InvalidOperation, ValueError):
        return None


def sentence(message: dict[str, Any], presenter: Presenter) -> str:
    """The one sentence a notification says to its rep, in the presenter's language."""
    language = presenter.locale
    kind = str(message.get("kind"))
    texts = SENTENCES[language]
    values = {
        "period": message.get("period") or "",
        "rank": message.get("rank") or NO_RANK,
        "rank_before": message.get("rank_before") or NO_RANK,
        "points": presenter.number(Decimal(str(message["points"])))
        if message.get("points") is not None
        else NO_RANK,
        "name": message.get("name") or message.get("badge_id") or "",
        "earned_on": presenter.date(message["earned_on"]) if message.get("earned_on") else "",
        "total": None,
    }
    if kind == "period_closed" and message.get("total") is not None and message.get("currency"):
        values["total"] = _money(presenter, message["total"], message["currency"])
        if values["total"] is not None:
            kind = "period_closed_paid"
    if not message.get("period") and f"{kind}_any" in texts:
        kind = f"{kind}_any"  # news of a deal: its period is the statement's to say
    template = texts.get(kind)
    if template is None:
        return f"{message.get('kind')}: {message.get('id')}"
    return template.format(**values)


def email(message: dict[str, Any], presenter: Presenter) -> tuple[str, str]:
    """An e-mail's subject and plain-text body for the rep the notification concerns."""
    language = presenter.locale
    title = TITLES[language].get(str(message.get("kind")), str(message.get("kind")))
    period = message.get("period")
    subject = f"[incentive-engine] {title}" + (f" · {period}" if period else "")
    body = f"{sentence(message, presenter)}\n\n-- \n{FOOTER[language].format(id=message['id'])}\n"
    return subject, body


def _channel_text(message: dict[str, Any], presenter: Presenter) -> tuple[str, str]:
    """A title and a line for a team channel, naming the rep."""
    title = TITLES[presenter.locale].get(str(message.get("kind")), str(message.get("kind")))
    return f"{title} · {message.get('rep_id')}", sentence(message, presenter)


def webhook_body(message: dict[str, Any], fmt: str, presenter: Presenter, sent_at: int) -> bytes:
    """The bytes posted to a webhook: the notification's JSON with ``sent_at`` (json), or a
    Slack or Teams incoming-webhook message."""
    if fmt == "slack":
        title, text = _channel_text(message, presenter)
        document: dict[str, Any] = {
            "text": f"{title}: {text}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": title}},
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"`{message['id']}`"}],
                },
            ],
        }
    elif fmt == "teams":
        title, text = _channel_text(message, presenter)
        document = {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {
                                "type": "TextBlock",
                                "text": title,
                                "weight": "Bolder",
                                "size": "Medium",
                            },
                            {"type": "TextBlock", "text": text, "wrap": True},
                            {
                                "type": "TextBlock",
                                "text": str(message["id"]),
                                "isSubtle": True,
                                "size": "Small",
                            },
                        ],
                    },
                }
            ],
        }
    else:
        document = {**message, "sent_at": sent_at}
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()


SIGNATURE_HEADER = "X-Incentive-Signature"
TIMESTAMP_HEADER = "X-Incentive-Timestamp"
ID_HEADER = "X-Incentive-Notification-Id"


def signature(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether a signature header matches the body (what a receiver checks; constant time)."""
    return hmac.compare_digest(signature(secret, body), header)
