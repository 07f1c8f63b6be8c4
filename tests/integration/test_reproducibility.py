"""Same log and plan version give byte-identical statements and hashes on SQLite and
PostgreSQL, in fresh processes, whatever the order in which the events were ingested (with a
second plan earning on payment, paid by payments on the demo's deals)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from incentive_engine.demo.generator import generate
from incentive_engine.domain.events import DealAmended, DealWon, PaymentReceived, event_content
from incentive_engine.domain.money import round_money
from plans.documents import load_plan, publication
from plans.model import EarnOn
from tests.conftest import postgres_settings

ROOT = Path(__file__).resolve().parents[2]


def export(path: Path, events: list) -> Path:
    path.write_text(
        "\n".join(json.dumps(event_content(e), ensure_ascii=False) for e in events) + "\n",
        encoding="utf-8",
    )
    return path


def payments(events: list) -> list[PaymentReceived]:
    """Two payments of 40 % of each won deal's smallest amount, 10 and 100 days after its
    close (never an overpayment, whatever its amendments)."""
    smallest: dict[str, Decimal] = {}
    for e in events:
        if isinstance(e, DealWon | DealAmended):
            smallest[e.deal_id] = min(smallest.get(e.deal_id, e.amount), e.amount)
    found = []
    for e in events:
        if not isinstance(e, DealWon):
            continue
        part = round_money(smallest[e.deal_id] * Decimal("0.4"), e.currency)
        for n, days in ((1, 10), (2, 100)):
            if part > 0:
                found.append(
                    PaymentReceived(
                        event_id=f"pay-{e.deal_id}-{n}", payment_id=f"{e.deal_id}-{n}",
                        deal_id=e.deal_id, amount=part, currency=e.currency,
                        received_date=e.close_date + timedelta(days=days),
                    )
                )  # fmt: skip
    return found


def engine(store: str, *args: str) -> str:
    env = {**os.environ, "INCENTIVE_STORE_URL": store}
    done = subprocess.run(
        [sys.executable, "-m", "incentive_engine", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_statements_are_identical_across_stores_processes_and_ingestion_orders(
    tmp_path: Path, pg_schema: str
) -> None:
    plan = load_plan((ROOT / "plans/catalog/field-sales-vn.yaml").read_text(encoding="utf-8"))
    cash = plan.model_copy(update={"plan_id": "field-sales-vn-cash", "earn_on": EarnOn.PAYMENT})
    demo = generate(reps=6, events=900, seed=3)
    events = [publication(plan), publication(cash), *demo, *payments(demo)]
    head = [
        e
        for e in events
        if e.type
        in ("PlanVersionPublished", "RepHired", "TerritoryDefined", "TerritoryAssigned", "QuotaSet")
    ]
    tail = [e for e in events if e not in head]
    shuffled = tail[:]
    random.Random(5).shuffle(shuffled)  # simultaneous and unrelated events in another order
    in_order = export(tmp_path / "in-order.jsonl", events)
    reordered = export(tmp_path / "reordered.jsonl", head + shuffled)
    sqlite = f"sqlite:///{tmp_path / 'events.db'}"
    postgres = postgres_settings(pg_schema).store_url
    engine(sqlite, "ingest", str(in_order))
    engine(postgres, "ingest", str(reordered))
    payouts = {}
    for period in ("2026-Q1", "2026-Q2"):
        a = engine(sqlite, "payouts", period, "--format", "json")
        b = engine(postgres, "payouts", period, "--format", "json")
        assert a == b
        assert {row["statement_hash"] for row in json.loads(a)["items"]}
        assert "field-sales-vn-cash" in a
        payouts[period] = json.loads(a)["items"]
    first_rep = payouts["2026-Q1"][0]["rep_id"]
    one = engine(sqlite, "statement", first_rep, "2026-Q1", "--format", "json")
    other = engine(postgres, "statement", first_rep, "2026-Q1", "--format", "json")
    assert one == other
