"""The adjust commands end to end: propose (the old arguments), approve by a second finance
user (the proposer is refused), reject with a reason, list; only approved ones are paid."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_cli_commissions import cli, sqlite_store

PROPOSE = ["adjust", "an", "2026-Q1", "--amount", "1500000", "--currency", "VND",
           "--reason", "Thưởng nóng", "--by", "fin-a"]  # fmt: skip


def total(store: str) -> str:
    [doc] = json.loads(cli(store, "statement", "an", "2026-Q1", "--format", "json").stdout)
    return str(doc["total"])


def test_propose_approve_by_another_and_list(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    proposed = cli(store, *PROPOSE)
    assert proposed.exit_code == 0, proposed.output
    pid = proposed.stdout.split()[1]
    assert pid.startswith("adj-") and "awaits approval by another finance user" in proposed.stdout
    assert total(store) == "17700000"
    [row] = json.loads(cli(store, "adjust", "list", "--pending", "--format", "json").stdout)
    assert (row["proposal_id"], row["status"], row["proposed_by"]) == (pid, "pending", "fin-a")
    own = cli(store, "adjust", "approve", pid, "--by", "fin-a")
    assert own.exit_code == 1 and "different finance user" in own.stderr
    assert total(store) == "17700000"
    ok = cli(store, "adjust", "approve", pid, "--by", "fin-b")
    assert ok.exit_code == 0 and ok.stdout.startswith(f"approved: {pid} pays 1500000 VND")
    assert total(store) == "19200000"
    again = cli(store, "adjust", "reject", pid, "--reason", "late", "--by", "fin-c")
    assert again.exit_code == 1 and "already approved by fin-b" in again.stderr
    assert json.loads(cli(store, "adjust", "list", "--pending", "--format", "json").stdout) == []
    table = cli(store, "adjust", "list")
    assert table.exit_code == 0 and pid in table.stdout and "approved" in table.stdout


def test_reject_needs_a_reason_and_is_never_paid(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    pid = cli(store, *PROPOSE).stdout.split()[1]
    blank = cli(store, "adjust", "reject", pid, "--reason", " ", "--by", "fin-b")
    assert blank.exit_code == 1 and "needs a reason" in blank.stderr
    done = cli(store, "adjust", "reject", pid, "--reason", "đã trả rồi", "--by", "fin-b")
    assert done.exit_code == 0, done.output
    assert cli(store, "adjust", "approve", pid, "--by", "fin-c").exit_code == 1
    assert total(store) == "17700000"


def test_a_currency_the_plan_cannot_pay_needs_a_rate(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    usd = [*PROPOSE[:4], "100.50", "--currency", "USD", *PROPOSE[7:]]
    refused = cli(store, *usd)
    assert refused.exit_code == 1 and "pays in VND, not USD" in refused.stderr
    converted = cli(store, *usd, "--fx-rate", "25431.5")
    assert converted.exit_code == 0, converted.output
    assert "paid as 2555866 VND at 25431.5" in converted.stdout
    assert cli(store, *usd, "--fx-rate", "abc").exit_code == 2
    single = cli(store, "adjust", "approve", converted.stdout.split()[1], "--by", "fin-b")
    assert single.exit_code == 0
    assert total(store) == str(17_700_000 + 2_555_866)


def test_single_approver_mode_from_the_environment(tmp_path: Path, monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    store = sqlite_store(tmp_path)
    pid = cli(store, *PROPOSE).stdout.split()[1]
    monkeypatch.setenv("INCENTIVE_ADJUSTMENTS_SINGLE_APPROVER", "true")
    own = cli(store, "adjust", "approve", pid, "--by", "fin-a")
    assert own.exit_code == 0, own.output
    [row] = json.loads(cli(store, "adjust", "list", "--format", "json").stdout)
    assert (row["status"], row["decided_by"], row["single_approver"]) == ("approved", "fin-a", True)
