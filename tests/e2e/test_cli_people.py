"""The CLI's tables for people show figures as the web pages do (Babel by INCENTIVE_LOCALE,
times in the organisation's time zone): ``17.700.000 ₫`` and ``130,0 %`` in Vietnamese,
``₫17,700,000`` and ``130.0%`` in English; JSON and CSV outputs stay exact and unchanged."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from typer.testing import CliRunner, Result

from incentive_engine.cli.main import app
from incentive_engine.presentation import Presenter
from tests.e2e.test_cli_commissions import sqlite_store

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """an: quota 300,000,000, credited 390,000,000 (130 %), graduated 17,700,000 (DESIGN §5);
    binh: quota 100,000,000, credited 50,000,000 (50 %), 1,000,000."""
    return sqlite_store(tmp_path_factory.mktemp("people"))


def run(store: str, locale: str | None, *args: str) -> Result:
    env = {"INCENTIVE_LOCALE": locale, "INCENTIVE_WEB_LOCALE": None}
    found = runner.invoke(app, ["--store", store, *args], env=env)
    assert found.exit_code == 0, found.output
    return found


def test_statement_table_in_vietnamese_and_english(store: str) -> None:
    vi = run(store, "vi", "statement", "an", "2026-Q1").stdout
    assert "quota 300.000.000 ₫ · credited 390.000.000 ₫ · attainment 130,0 %" in vi
    assert "7.500.000 ₫" in vi and "5 %" in vi  # line 2: 150,000,000 x 5 %
    assert "total 17.700.000 ₫" in vi
    assert "│ 150.000.000 ₫" in vi  # line 1's base: the first 50 % of quota
    en = run(store, "en", "statement", "an", "2026-Q1").stdout
    assert "quota ₫300,000,000 · credited ₫390,000,000 · attainment 130.0%" in en
    assert "₫7,500,000" in en and "5%" in en
    assert "total ₫17,700,000" in en
    default = run(store, None, "statement", "an", "2026-Q1").stdout  # no setting: vi
    assert "total 17.700.000 ₫" in default


def test_payouts_table_in_vietnamese_and_english(store: str) -> None:
    vi = run(store, "vi", "payouts", "2026-Q1").stdout
    assert "17.700.000 ₫" in vi and "1.000.000 ₫" in vi
    assert "total 18.700.000 ₫ for 2 statements" in vi
    en = run(store, "en", "payouts", "2026-Q1").stdout
    assert "₫17,700,000" in en and "₫1,000,000" in en
    assert "total ₫18,700,000 for 2 statements" in en


def test_machine_outputs_are_not_localised(store: str) -> None:
    for locale in ("vi", "en"):
        payouts = run(store, locale, "payouts", "2026-Q1", "--format", "csv").stdout
        rows = list(csv.DictReader(io.StringIO(payouts)))
        assert [(r["rep_id"], r["earned"], r["total"]) for r in rows] == [
            ("an", "17700000", "17700000"),
            ("binh", "1000000", "1000000"),
        ]
        [doc] = json.loads(
            run(store, locale, "statement", "an", "2026-Q1", "--format", "json").stdout
        )
        assert doc["total"] == "17700000" and doc["attainment"] == "130"
        lines = list(
            csv.DictReader(io.StringIO(run(store, locale, "statement", "an", "2026-Q1",
                                           "--format", "csv").stdout))
        )  # fmt: skip
        assert [ln["amount"] for ln in lines] == ["3,000,000 VND", "7,500,000 VND", "7,200,000 VND"]
        attainment = json.loads(
            run(store, locale, "attainment", "2026-Q1", "--format", "json").stdout
        )
        assert attainment[0]["attainment"] == "130"


def test_attainment_and_leaderboard_tables(store: str) -> None:
    assert "130,0 %" in run(store, "vi", "attainment", "2026-Q1").stdout
    assert "130.0%" in run(store, "en", "attainment", "2026-Q1").stdout
    board = run(store, "vi", "leaderboard", "revenue", "--period", "2026-Q1").stdout
    # an reached 390,000,000 with D1 closed 2026-02-10 (00:00 UTC): 07:00 in Hồ Chí Minh City
    assert "390.000.000" in board and "10/02/2026 07:00:00 +07:00" in board
    english = run(store, "en", "leaderboard", "revenue", "--period", "2026-Q1").stdout
    assert "390,000,000" in english and "10 Feb 2026 07:00:00 +07:00" in english
    [an, _] = json.loads(
        run(store, "vi", "leaderboard", "revenue", "--period", "2026-Q1", "--format", "json").stdout
    )
    assert (an["value"], an["reached_at"]) == ("390000000", "2026-02-10T00:00:00+00:00")


def test_presenter_examples_of_the_issue() -> None:
    vi = Presenter("vi", "Asia/Ho_Chi_Minh", plain_spaces=True)
    en = Presenter("en", "Asia/Ho_Chi_Minh", plain_spaces=True)
    assert vi.money(Decimal(1_900_000_000), "VND") == "1.900.000.000 ₫"
    assert en.money(Decimal(1_900_000_000), "VND") == "₫1,900,000,000"
    assert vi.percent(Decimal("109.8")) == "109,8 %"
    assert vi.date("2026-02-20") == "20/02/2026" and en.date("2026-02-20") == "20 Feb 2026"
    instant = datetime(2026, 2, 20, 17, 30, 0, 123456, tzinfo=UTC)
    assert vi.datetime(instant) == "21/02/2026 00:30:00 +07:00"  # no microseconds, no UTC
    assert "\u00a0" in Presenter("vi", "Asia/Ho_Chi_Minh").money(Decimal(1), "VND")
    with pytest.raises(ValueError, match="locale"):
        Presenter("fr", "Asia/Ho_Chi_Minh")
