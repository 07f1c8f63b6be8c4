"""Holdbacks at every door: the CLI statement (table and JSON), the API statement JSON and
the web statement page show earned, held back, released, forfeited and the balance held,
and word the new line kinds in Vietnamese and English."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.auth import Role, issue_token
from api.web.i18n import Formatter
from api.web.wording import Wording
from incentive_engine.cli.main import app
from incentive_engine.domain.events import DealCancelled, event_content
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from plans.evaluate import Statement, evaluate
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client
from tests.examples.plans import plan, rep
from tests.factories import won
from tests.unit.test_web_wording import EN, VI, clean

HOLDING = {"id": "commission", "kind": "rate", "rate": 10, "name": "Hoa hồng",
           "holdback": {"share": 30, "release": {"after_days": 90}}}  # fmt: skip


def events() -> list:
    """D1 100,000,000 (Feb 1): Q1 pays 7,000,000 and holds 3,000,000 until May 2; D2
    50,000,000 (Mar 20) holds 1,500,000 and is cancelled Apr 10, before its release."""
    return [publication(plan(HOLDING).plan), rep("an", name="Nguyễn Văn An"),
            won("D1", 100_000_000, rep_id="an", close_date="2026-02-01"),
            won("D2", 50_000_000, rep_id="an", close_date="2026-03-20"),
            DealCancelled(event_id="cancel-D2", deal_id="D2", cancelled_date="2026-04-10",
                          reason="customer withdrew")]  # fmt: skip


def test_cli_statement_shows_the_holdback_figures(tmp_path: Path) -> None:
    seed = tmp_path / "seed.jsonl"
    seed.write_text("\n".join(json.dumps(event_content(e), ensure_ascii=False) for e in events()))
    store = f"sqlite:///{tmp_path / 'events.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["--store", store, "ingest", str(seed)]).exit_code == 0
    table = runner.invoke(app, ["--store", store, "statement", "an", "2026-Q2"])
    assert table.exit_code == 0, table.output
    assert "holdback: earned 0 ₫ · held back 0 ₫ · released 3.000.000 ₫" in table.stdout
    assert "balance held 0 ₫" in table.stdout and "holdback_forfeit" in table.stdout
    out = runner.invoke(app, ["--store", store, "statement", "an", "2026-Q1", "--format", "json"])
    [doc] = json.loads(out.stdout)
    assert doc["holdback"] == {"earned": "10000000", "held_back": "3000000", "released": "0",
                               "forfeited": "0", "balance": "3000000"}  # fmt: skip
    # D2's clawback (inside the 90-day window) took its whole commission, held share first.
    assert [ln["kind"] for ln in doc["lines"]] == ["commission", "holdback", "holdback"]


def test_api_and_web_statement(tmp_path: Path) -> None:
    settings = api_settings(sqlite_settings(tmp_path))
    with EventStore(settings) as store:
        store.append(events())
    http = client(settings)
    answer = http.get("/v1/reps/an/statements/2026-Q2", headers=auth(settings, Role.FINANCE, "f"))
    assert answer.status_code == 200, answer.text
    [doc] = answer.json()
    assert doc["holdback"]["released"] == "3000000" and doc["total"] == "3000000"
    release = next(ln for ln in doc["lines"] if ln["kind"] == "holdback_release")
    assert (release["origin_period"], release["origin_line"]) == ("2026-Q1", 2)

    http.cookies.set("ie_session", issue_token(settings, Role.REP, "an"))
    page = http.get("/statements/an/2026-Q2", headers={"Accept-Language": "vi"})
    assert page.status_code == 200, page.text
    assert 'data-test="held-balance"' in page.text and "Số dư đang giữ lại" in page.text
    assert "trả 3.000.000" in page.text and "bị mất" in page.text
    # the plan's rules say what is held back and until when (the rep reads what they accept)
    rules = http.get("/plans/example/versions/1", headers={"Accept-Language": "vi"})
    assert rules.status_code == 200, rules.text[:300]
    said = rules.text.replace("\u00a0", " ")
    assert "Khoản giữ lại: 30 % số tiền thành phần này trả được giữ lại cho đến 90 ngày" in said


def test_new_line_kinds_are_worded_in_both_languages() -> None:
    facts = fold(events())
    version = plan(HOLDING)
    q1 = evaluate(facts, version, "an", Period.parse("2026-Q1"))
    q2 = evaluate(facts, version, "an", Period.parse("2026-Q2"))

    def words(s: Statement, f: Formatter) -> list[str]:
        return clean([Wording(s, version, facts, f).describe(ln) for ln in s.lines][1:])

    assert words(q1, EN) == [
        "Hoa hồng: 30% of ₫10,000,000 earned on deal D1 held back until 2 May 2026",
        "Hoa hồng: 30% of ₫5,000,000 earned on deal D2 held back; the deal was cancelled "
        "first, so ₫0 stays held and is forfeited",
    ]
    assert words(q2, EN) == [
        "Hoa hồng: releases ₫3,000,000 held back on deal D1 in 2026-Q1 (line 2)",
        "Hoa hồng: deal D2 cancelled on 10 Apr 2026: the ₫1,500,000 held back in 2026-Q1 "
        "(line 3) is forfeited, never released",
    ]
    vi = words(q1, VI) + words(q2, VI)
    assert vi[0].startswith("Hoa hồng: giữ lại 30") and "đến ngày 02/05/2026" in vi[0]
    assert "trả 3.000.000 ₫ đã giữ lại của giao dịch D1 trong kỳ 2026-Q1 (dòng 2)" in vi[2]
    assert "bị hủy ngày 10/04/2026" in vi[3]
