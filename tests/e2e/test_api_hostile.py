"""Hostile values in every writing operation (hypothesis): whatever is sent, the answer is
never 5xx, and a refusal stores nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.auth import Role
from incentive_engine.domain.events import event_content
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client, seed
from tests.factories import won

HOSTILE_TEXT = st.sampled_from(
    ["\\u0000", "\\ud800", "\\udfff", "\u200b", "\u202e", "\ufeff", "=HYPERLINK(1)", "x" * 600]
) | st.text(max_size=20)
HOSTILE_NUMBER = st.sampled_from(
    ["1e30", "9e26", "-1", "1" * 29, "1." + "1" * 20, "NaN", "Infinity", str(2**70), "1e-30"]
)
HOSTILE_DATE = st.sampled_from(
    ['"9999-12-31"', '"1899-01-01"', '"2030-01-01T00:00:00"', '"0001-01-01"', "null", "1"]
)
FIELDS = ["event_id", "deal_id", "rep_id", "amount", "close_date", "currency", "product_group"]


def _hostile_json(field: str, text: str, number: str, day: str, depth: int) -> str:
    """A DealWon record with one field replaced by a hostile value, as raw JSON text."""
    record = event_content(won("DH", 1_000, rep_id="an", close_date="2026-02-12"))
    record[field] = "__HOSTILE__"
    raw = json.dumps([record])
    value = {
        "amount": number,
        "close_date": day,
    }.get(field, '"' + text.replace('"', "") + '"')
    if depth:
        value = "[" * depth + value + "]" * depth
    return raw.replace('"__HOSTILE__"', value)


def test_hostile_values_never_answer_5xx_and_store_nothing_when_refused(tmp_path: Path) -> None:
    configured = api_settings(sqlite_settings(tmp_path))
    seed(configured)
    c = client(configured)
    admin = auth(configured, Role.PLAN_ADMIN, "pa")
    crm = {"X-API-Key": "crm-key-1", "Content-Type": "application/json"}

    def position() -> int:
        with EventStore(configured) as store:
            return store.max_position()

    @given(
        field=st.sampled_from(FIELDS),
        text=HOSTILE_TEXT,
        number=HOSTILE_NUMBER,
        day=HOSTILE_DATE,
        depth=st.sampled_from([0, 0, 5, 40, 3000]),
        duplicate=st.booleans(),
    )
    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(field: str, text: str, number: str, day: str, depth: int, duplicate: bool) -> None:
        body = _hostile_json(field, text, number, day, depth)
        if duplicate:
            body = body[:-2] + ', "amount": 1}]'
        before = position()
        answer = c.post("/v1/events", content=body.encode("utf-8", "surrogatepass"), headers=crm)
        assert answer.status_code < 500, (body[:300], answer.text[:300])
        if answer.status_code >= 400:
            assert position() == before, body[:300]
            assert answer.json()["error"]["message"]
        plan: dict[str, Any] = {
            "plan_id": "h", "version": 1, "name": "H", "effective_from": "2026-01-01",
            "currency": "VND", "period": "quarter", "covers": {"roles": ["rep"]},
            "components": [{"id": "c", "kind": "rate", "rate": "__RATE__"}],
        }  # fmt: skip
        text_plan = json.dumps(plan).replace('"__RATE__"', number if not depth else "[" * depth)
        for url in ("/v1/plans/validate", "/v1/plans", "/v1/simulations"):
            before = position()
            sent = text_plan
            if url == "/v1/simulations":
                sent = (
                    '{"plan": '
                    + text_plan
                    + ', "baseline": "example@1", "from": "2026-Q1", "to": "2026-Q1"}'
                )
            answer = c.post(
                url, content=sent, headers={**admin, "Content-Type": "application/json"}
            )
            assert answer.status_code < 500, (url, sent[:300], answer.text[:300])
            if answer.status_code >= 400:
                assert position() == before

    run()
