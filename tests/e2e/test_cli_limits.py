"""Hard input limits at the file door (``ingest``) and formula-safe CSV exports, on SQLite and
PostgreSQL: a refused record is named with its line and field, the command exits 1, nothing
from the file is stored (or, with ``--dead-letter``, only the valid records), never a
traceback."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from incentive_engine.cli.main import app
from incentive_engine.domain.events import event_content
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import won

runner = CliRunner()


def cli(settings: Settings, *args: str) -> Any:
    """Run the CLI on this store."""
    return runner.invoke(app, ["--store", settings.store_url, *args])


def deal(**changes: Any) -> dict[str, Any]:
    """A valid DealWon record for An, with some fields changed."""
    record = event_content(won("DX", 50_000_000, rep_id="an", close_date="2026-02-12"))
    record.update(changes)
    return record


def write(path: Path, *lines: str) -> Path:
    """A JSONL file of these lines."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stored(settings: Settings) -> int:
    """How far the log goes."""
    with EventStore(settings) as store:
        return store.max_position()


def seed(settings: Settings, tmp_path: Path, name: str = "An") -> None:
    """A plan, two reps (An with the given name) and a won deal."""
    events = [
        publication(plan(tiered()).plan),
        rep("an", name=name),
        rep("binh"),
        quota("an", 300_000_000),
        won("D1", 390_000_000, rep_id="an", close_date="2026-02-10"),
    ]
    lines = [json.dumps(event_content(e), ensure_ascii=False) for e in events]
    assert cli(settings, "ingest", str(write(tmp_path / "seed.jsonl", *lines))).exit_code == 0


@pytest.mark.parametrize("dead_letter", [False, True])
def test_an_id_with_nul_is_refused_on_every_store(
    settings: Settings, tmp_path: Path, dead_letter: bool
) -> None:
    """On PostgreSQL a NUL in an id used to crash ``ingest`` even with --dead-letter."""
    good = json.dumps(event_content(rep("an")))
    bad = json.dumps({**event_content(rep("binh")), "event_id": "bad\u0000id"})
    source = write(tmp_path / "nul.jsonl", good, bad)
    letters = tmp_path / "dead.jsonl"
    args = ["ingest", str(source)] + (["--dead-letter", str(letters)] if dead_letter else [])
    result = cli(settings, *args)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "nul.jsonl:2" in result.stderr and "event_id" in result.stderr
    if dead_letter:
        assert stored(settings) == 1
        [letter] = [json.loads(line) for line in letters.read_text().splitlines()]
        assert letter["line"] == 2 and letter["errors"][0]["field"] == "event_id"
    else:
        assert stored(settings) == 0


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        ('{"event_id": "a", "event_id": "b"}', "event_id", "twice"),
        ("[" * 3000 + "]" * 3000, "(record)", "deep"),
        (json.dumps(deal(event_id="x")).replace('"x"', '"x\\ud800"'), "event_id", "surrogate"),
        (json.dumps(deal(deal_id="a\u200bb")), "deal_id", "zero-width"),
        (json.dumps(deal(amount="1234567890123456789012345678")), "amount", "digits"),
        (json.dumps(deal(close_date="9999-12-31")), "close_date", "2100-12-31"),
        ('{"version": ' + "9" * 5000 + "}", "(record)", "digits"),
        ('{"amount": NaN}', "(record)", "NaN"),
    ],
)
def test_hostile_records_are_named_and_nothing_is_stored(
    settings: Settings, tmp_path: Path, line: str, field: str, reason: str
) -> None:
    source = write(tmp_path / "hostile.jsonl", json.dumps(deal(event_id="ok-1")), line)
    result = cli(settings, "ingest", str(source))
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    message = result.stderr
    assert "hostile.jsonl:2" in message and f"field '{field}'" in message, message
    assert reason in message, message
    assert stored(settings) == 0


def test_a_line_too_long_is_refused_without_reading_it_whole(
    settings: Settings, tmp_path: Path
) -> None:
    configured = settings.model_copy(update={"max_record_bytes": 10_000})
    source = tmp_path / "long.jsonl"
    with source.open("w") as handle:
        handle.write(json.dumps(deal(event_id="ok-1")) + "\n")
        handle.write('{"event_id": "' + "x" * 200_000 + '"}\n')
        handle.write(json.dumps(deal(event_id="ok-3", deal_id="D3")) + "\n")
    result = runner.invoke(
        app,
        ["--store", configured.store_url, "ingest", str(source)],
        env={"INCENTIVE_MAX_RECORD_BYTES": "10000"},
    )
    assert result.exit_code == 1, result.output
    assert "long.jsonl:2" in result.stderr and "10000 bytes" in result.stderr, result.stderr
    assert stored(settings) == 0


def test_payouts_csv_neutralises_formulas(settings: Settings, tmp_path: Path) -> None:
    seed(settings, tmp_path, name='=HYPERLINK("http://evil.example","click")')
    result = cli(settings, "payouts", "2026-Q1", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    cells = [cell for row in rows for cell in row.values()]
    assert not any(cell[:1] in ("=", "+", "@", "\t", "\r") for cell in cells), cells
    assert any(cell.startswith("'=HYPERLINK(") for cell in cells), cells
