"""A plan admin simulates a plan change in a real Chromium: opens /plans/simulate from a
published version, changes a rate in the textarea, simulates (htmx swaps the result in), sees
the histogram drawn and the total change equal to the CLI's ``simulate`` for the same draft
and window; finance sorts the per-rep table. Screenshots in Vietnamese and English."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from api.auth import Role
from tests.e2e.web.conftest import ROOT, Server, shoot, sign_in, text


def cli_simulate(server: Server, draft: str, tmp_path: Path) -> dict[str, str]:
    """The CLI's report for the same draft document and window (a separate process)."""
    path = tmp_path / "draft.yaml"
    path.write_text(draft, encoding="utf-8")
    args = [sys.executable, "-m", "incentive_engine", "--store", server.settings.store_url]
    args += ["simulate", "--plan", str(path), "--baseline", "example@1"]
    args += ["--from", "2026-Q1", "--to", "2026-Q4", "--format", "json"]
    ran = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    report: dict[str, str] = json.loads(ran.stdout)[0]
    return report


@pytest.mark.parametrize(("lang", "change"), [("vi", "+1.800.000 ₫"), ("en", "+₫1,800,000")])
def test_a_plan_admin_changes_a_rate_and_simulates(
    browser: Browser, server: Server, tmp_path: Path, lang: str, change: str
) -> None:
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "ie_lang", "value": lang, "url": server.url}])
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        sign_in(page, server.token(Role.PLAN_ADMIN, "pa"), "/plans/simulate?plan=example&version=1")
        textarea = page.locator("[data-test=document]")
        document = textarea.input_value()
        assert "rate: 8" in document
        draft = document.replace("rate: 8", "rate: 10").replace("version: 1", "version: 2")
        textarea.fill(draft)
        page.fill("[data-test=start]", "2026-Q1")
        page.fill("[data-test=end]", "2026-Q4")
        url = page.url
        page.click("[data-test=simulate]")
        result = page.locator("[data-test=cost-change]")
        result.wait_for()
        assert page.url == url  # swapped in by htmx, no reload
        page.wait_for_function(
            "document.querySelector('canvas[data-chart=\"change-histogram-data\"]')"
            "?.dataset.drawn === '1'"
        )
        assert text(result.inner_text()) == text(change)
        report = cli_simulate(server, draft, tmp_path)
        assert result.get_attribute("data-value") == report["cost_change"] == "1800000"
        assert (
            page.locator("[data-test=draft-total]").get_attribute("data-value")
            == (report["simulated_total"])
        )
        assert page.locator("[data-test=aggregated-note]").is_visible()
        assert page.locator("[data-test=sim-reps]").count() == 0  # per-rep rows: finance only
        assert errors == []
        shoot(page, tmp_path / f"simulate-plan-admin-{lang}.png", full_page=True)
    finally:
        context.close()


def test_finance_sorts_the_reps_by_their_change(
    browser: Browser, server: Server, tmp_path: Path
) -> None:
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "ie_lang", "value": "en", "url": server.url}])
    try:
        page = context.new_page()
        sign_in(page, server.token(Role.FINANCE, "fin"), "/plans/simulate?plan=example&version=1")
        textarea = page.locator("[data-test=document]")
        textarea.fill(textarea.input_value().replace("rate: 2", "rate: 1"))
        page.click("[data-test=simulate]")
        table = page.locator("[data-test=sim-reps]")
        table.wait_for()
        change = table.locator("thead th").nth(3)
        change.locator("button").click()
        assert change.get_attribute("aria-sort") == "ascending"
        first = table.locator("tbody tr").first.get_attribute("data-rep")
        change.locator("button").click()
        assert change.get_attribute("aria-sort") == "descending"
        last = table.locator("tbody tr").last.get_attribute("data-rep")
        # 1 % instead of 2 % on the first half of quota: an loses 1,500,000, binh 1,000,000
        assert (first, last) == ("an", "an")
        assert table.locator("tbody tr").nth(2).get_attribute("data-rep") == "binh"
        shoot(page, tmp_path / "simulate-finance-en.png", full_page=True)
    finally:
        context.close()
