"""Quota commands end to end: allocate (dry run and publish), list and roll-up, on a SQLite
file (and one publish on PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import typer
from typer.testing import CliRunner

import incentive_engine.cli.main
from incentive_engine.cli.quotas import quota_app
from incentive_engine.domain.events import Event, TerritoryAssigned, TerritoryDefined
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import postgres_settings
from tests.examples.plans import rep
from tests.factories import customer, won

runner = CliRunner()
app = typer.Typer()
app.callback()(incentive_engine.cli.main.main)
app.add_typer(quota_app, name="quota")


def seed_events() -> list[Event]:
    """Reps an and binh (team HN), chi (team HCM); T-HN (an 60 / binh 40), T-HCM (chi),
    T-DN (no owner, no sales); 2026-Q1 sales: T-HN 150,000,000, T-HCM 210,000,000."""

    def territory(tid: str, region: str) -> TerritoryDefined:
        return TerritoryDefined(event_id=f"def-{tid}", territory_id=tid, name=f"Territory {tid}",
                                criteria={"region": region}, effective_date="2025-01-01")  # fmt: skip

    def sale(deal_id: str, amount: int, region: str, rep_id: str) -> Event:
        return won(
            deal_id,
            amount,
            close_date="2026-02-10",
            customer=customer(region=region),
            rep_id=rep_id,
        )

    return [
        rep("an", team="HN", name="Nguyễn Văn An"), rep("binh", team="HN"), rep("chi", team="HCM"),
        territory("T-HN", "Hà Nội"), territory("T-HCM", "TP.HCM"), territory("T-DN", "Đà Nẵng"),
        TerritoryAssigned(event_id="own-hn", territory_id="T-HN", effective_date="2025-01-01",
                          owners=[{"rep_id": "an", "share": 60}, {"rep_id": "binh", "share": 40}]),
        TerritoryAssigned(event_id="own-hcm", territory_id="T-HCM", effective_date="2025-01-01",
                          rep_id="chi"),
        sale("D1", 100_000_000, "Hà Nội", "an"), sale("D2", 50_000_000, "Hà Nội", "binh"),
        sale("D3", 210_000_000, "TP.HCM", "chi"),
    ]  # fmt: skip


def seeded(settings: Settings) -> str:
    with EventStore(settings) as store:
        store.append(seed_events(), source="test seed")
    return settings.store_url


def cli(store: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--store", store, *args])


def position(store: str) -> int:
    with EventStore(Settings(store_url=store)) as s:
        return s.max_position()


def sqlite(tmp_path: Path) -> str:
    return seeded(Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}"))


GROWTH = ["quota", "allocate", "2027-Q1", "--method", "growth", "--rate", "10", "--cascade"]


def test_dry_run_prints_the_allocation_and_writes_nothing(tmp_path: Path) -> None:
    store = sqlite(tmp_path)
    before = position(store)
    result = cli(store, *GROWTH)
    assert result.exit_code == 0, result.output
    # T-HN 150,000,000 x 1.1 = 165,000,000; T-HCM 210,000,000 x 1.1 = 231,000,000
    out = result.stdout
    assert "165,000,000 VND" in out and "231,000,000 VND" in out
    assert "no sales in 2026-Q1: set by hand" in out  # T-DN
    assert "Nguyễn Văn An" in out and "99,000,000 VND" in out  # cascaded: 60 % of T-HN
    assert (
        "total 396,000,000 VND · last year (2026-Q1) 360,000,000 VND · implied change +10.00 %"
        in out
    )
    assert "dry run: nothing published (add --publish)" in out
    assert position(store) == before
    as_json = cli(store, *GROWTH, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.stdout)
    assert (doc["total"], doc["implied_change"], doc["published"]) == ("396000000", "10.00", None)
    assert [(r["subject_id"], r["allocated"]) for r in doc["cascaded"]] == [
        ("an", "99000000"), ("binh", "66000000"), ("chi", "231000000"),
    ]  # fmt: skip
    assert (
        doc["actions"]["territory:T-HN"] == "set" and doc["actions"]["territory:T-DN"] == "by hand"
    )
    assert "dry run" in as_json.stderr
    targeted = cli(
        store,
        "quota",
        "allocate",
        "2027-Q1",
        "--method",
        "growth",
        "--target",
        "400_000_000",
        "--format",
        "csv",
    )
    rows = list(csv.DictReader(io.StringIO(targeted.stdout)))
    # 150 x 400/360 = 166,666,666.67 -> 166,666,667; 210 x 400/360 = 233,333,333.33 -> 233,333,333
    assert [(r["id"], r["allocated"], r["action"]) for r in rows] == [
        ("T-DN", "0", "by hand"), ("T-HCM", "233333333", "set"), ("T-HN", "166666667", "set"),
    ]  # fmt: skip
    assert position(store) == before


def test_publish_stores_quota_events_once_then_lists_and_rolls_up(tmp_path: Path) -> None:
    store = sqlite(tmp_path)
    before = position(store)
    published = cli(store, *GROWTH, "--publish", "--by", "sales-ops@vn")
    assert published.exit_code == 0, published.output
    assert (
        "published: 5 stored (5 set, 0 changed), 0 unchanged, 1 left to set by hand"
        in published.stdout
    )
    assert position(store) == before + 5
    with EventStore(Settings(store_url=store)) as s:
        recorded = s.get("quota:territory:T-HN:2027-Q1")
        assert recorded is not None and recorded.event.amount == Decimal(165_000_000)
        assert recorded.source == "quota allocate 2027-Q1 by sales-ops@vn"
    again = cli(store, *GROWTH, "--publish", "--by", "sales-ops@vn")
    assert again.exit_code == 0, again.output
    assert "published: 0 stored (0 set, 0 changed), 5 unchanged" in again.stdout
    assert position(store) == before + 5
    # 20 % instead: every quota changes (QuotaChanged with the reason), once
    changed = cli(store, "quota", "allocate", "2027-Q1", "--method", "growth", "--rate", "20",
                  "--publish", "--by", "ops", "--reason", "board asked for +20 %", "--format", "json")  # fmt: skip
    assert changed.exit_code == 0, changed.output
    assert json.loads(changed.stdout)["published"] == {
        "stored": 2,
        "set": 0,
        "changed": 2,
        "unchanged": 0,
        "by_hand": 1,
    }
    listed = cli(
        store, "quota", "list", "--period", "2027-Q1", "--subject", "territory", "--format", "json"
    )
    assert listed.exit_code == 0, listed.output
    # T-HN 150,000,000 x 1.2 = 180,000,000; T-HCM 210,000,000 x 1.2 = 252,000,000
    assert [(r["id"], r["amount"], r["changes"]) for r in json.loads(listed.stdout)] == [
        ("T-HCM", "252000000", 1), ("T-HN", "180000000", 1),
    ]  # fmt: skip
    reps = list(
        csv.DictReader(
            io.StringIO(cli(store, "quota", "list", "--subject", "rep", "--format", "csv").stdout)
        )
    )
    assert [(r["id"], r["name"], r["amount"]) for r in reps] == [
        ("an", "Nguyễn Văn An", "99000000"), ("binh", "Binh", "66000000"), ("chi", "Chi", "231000000"),
    ]  # fmt: skip
    assert "quotas in force" in cli(store, "quota", "list").stdout
    rolled = cli(store, "quota", "rollup", "2027-Q1", "--format", "json")
    assert rolled.exit_code == 0, rolled.output
    got = {
        r["subject_id"]: (r["target"], r["reps_sum"], r["difference"], r["status"])
        for r in json.loads(rolled.stdout)
    }
    assert got == {
        "HCM": (None, "231000000", None, "no target"),  # chi
        "HN": (None, "165000000", None, "no target"),  # an 99,000,000 + binh 66,000,000
        "T-HCM": ("252000000", "231000000", "-21000000", "under"),
        # an 99,000,000 x 60 % + binh 66,000,000 x 40 % = 59,400,000 + 26,400,000
        "T-HN": ("180000000", "85800000", "-94200000", "under"),
    }
    as_csv = list(
        csv.DictReader(
            io.StringIO(cli(store, "quota", "rollup", "2027-Q1", "--format", "csv").stdout)
        )
    )
    assert (as_csv[3]["id"], as_csv[3]["reps"]) == ("T-HN", "an=59400000; binh=26400000")
    assert "quota roll-up, 2027-Q1" in cli(store, "quota", "rollup", "2027-Q1").stdout
    past = cli(store, "quota", "list", "--as-of", "2000-01-01", "--format", "json")
    assert json.loads(past.stdout) == []


def test_errors_are_clear_and_write_nothing(tmp_path: Path) -> None:
    store = sqlite(tmp_path)
    before = position(store)
    market = cli(store, "quota", "allocate", "2027-Q1", "--method", "market", "--market", "Hà Nội=8",
                 "--market", "TP.HCM=12", "--publish", "--by", "ops")  # fmt: skip
    assert market.exit_code == 1
    assert "no market growth rate for region 'Đà Nẵng' (territory T-DN)" in market.stderr
    no_by = cli(store, *GROWTH, "--publish")
    assert no_by.exit_code == 2 and "--publish needs --by NAME" in no_by.stderr
    bad_rate = cli(store, *GROWTH[:-1], "--rate", "ten")
    assert bad_rate.exit_code == 2 and "'ten' is not a number" in bad_rate.output
    bad_market = cli(
        store, "quota", "allocate", "2027-Q1", "--method", "market", "--market", "Hà Nội"
    )
    assert bad_market.exit_code == 2 and "is not REGION=PCT" in bad_market.output
    bad_method = cli(store, "quota", "allocate", "2027-Q1", "--method", "guess")
    assert bad_method.exit_code == 2
    bad_period = cli(store, "quota", "rollup", "2027-Q9")
    assert bad_period.exit_code == 2 and "2027-Q9" in bad_period.output
    cascade = cli(store, "quota", "allocate", "2027-Q1", "--method", "uplift", "--cascade")
    assert cascade.exit_code == 1 and "cascade needs a territory method" in cascade.stderr
    currency = cli(store, *GROWTH, "--currency", "XYZ")
    assert currency.exit_code == 2 and "'XYZ' is not a known currency" in currency.stderr
    assert position(store) == before


def test_publish_on_postgres(pg_schema: str) -> None:
    store = seeded(postgres_settings(pg_schema))
    before = position(store)
    first = cli(store, *GROWTH, "--publish", "--by", "ops")
    assert first.exit_code == 0, first.output
    assert "published: 5 stored" in first.stdout and position(store) == before + 5
    second = cli(store, *GROWTH, "--publish", "--by", "ops")
    assert "published: 0 stored (0 set, 0 changed), 5 unchanged" in second.stdout
    listed = json.loads(
        cli(store, "quota", "list", "--period", "2027-Q1", "--format", "json").stdout
    )
    assert [(r["subject"], r["id"], r["amount"]) for r in listed] == [
        ("rep", "an", "99000000"), ("rep", "binh", "66000000"), ("rep", "chi", "231000000"),
        ("territory", "T-HCM", "231000000"), ("territory", "T-HN", "165000000"),
    ]  # fmt: skip
