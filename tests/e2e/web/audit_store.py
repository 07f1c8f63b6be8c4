"""A store for finance's disputes inbox and audit pages: the statement pages' store (events
recorded on known days), a rep in another team, and three open disputes raised on known
days (so their age and order are known), one of them by a rep of the other team."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from incentive_engine.domain.visibility import Role, Viewer
from incentive_engine.services.disputes import DisputeService
from incentive_engine.services.engine import Engine
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.e2e.web.statement_store import seed_statements
from tests.examples.plans import quota, rep
from tests.factories import won

RAISED = {
    "dsp-old": ("an", datetime(2026, 3, 10, 2, tzinfo=UTC), "D3 is missing from my credit"),
    "dsp-mid": ("dung", datetime(2026, 3, 20, 2, tzinfo=UTC), "Tôi nghĩ tỷ lệ phải là 5 %"),
    "dsp-new": ("binh", datetime(2026, 3, 28, 2, tzinfo=UTC), "Ticket <b>#42</b> & more"),
}
"""Dispute id -> (rep, when raised, reason): an's is the oldest; dung is in Hà Nội 1."""


def seed_audit(settings: Settings) -> None:
    """The statement store, dung (Hà Nội 1) with a deal, and the three disputes."""
    seed_statements(settings)
    with EventStore(settings) as store:
        store.append(
            [
                rep("dung", team="Hà Nội 1", name="Lê Văn Dũng"),
                quota("dung", 300_000_000),
                won("D4", 120_000_000, rep_id="dung", close_date="2026-03-02"),
                won("D5", 60_000_000, rep_id="binh", close_date="2026-03-03"),
            ],
            recorded_at=datetime(2026, 3, 6, 3, tzinfo=UTC),
        )
    for dispute_id, (rep_id, at, reason) in RAISED.items():
        with Engine(settings) as engine:
            service = DisputeService(engine, clock=lambda at=at: at, new_id=lambda d=dispute_id: d)
            service.raise_dispute(
                Viewer(Role.FINANCE, "fin"),
                rep_id=rep_id,
                period="2026-Q1",
                line=1,
                reason=reason,
                expected_amount=Decimal(12_000_000),
            )
