"""The pages pass axe-core (its npm package, kept beside this test: nothing is downloaded)
with no serious or critical violation, in Vietnamese and in English."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from api.auth import Role
from tests.e2e.web.conftest import Server, shoot, sign_in

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


def violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice'],"
        " resultTypes: ['violations']}))"  # passes and incomplete are not collected: faster
        ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_pages_have_no_serious_accessibility_violation(
    browser: Browser, server: Server, tmp_path: Path, lang: str
) -> None:
    # the pages' CSP refuses injected scripts, as it should: axe is let in for this test only
    context = browser.new_context(base_url=server.url, bypass_csp=True)
    context.add_cookies([{"name": "ie_lang", "value": lang, "url": server.url}])
    try:
        page = context.new_page()
        page.goto("/sign-in")
        assert violations(page) == [], "sign-in"
        sign_in(page, server.token(Role.REP, "an"))
        found = {"home": violations(page)}
        page.goto("/statements/an/2026-Q1")
        page.locator("tr[data-line='1'] button").click()
        page.locator("[data-test=explanation]").wait_for()
        found["statement"] = violations(page)
        page.goto("/statements/an/2026-Q1?as_of=2026-11-30")
        found["statement-as-of"] = violations(page)
        page.goto("/disputes/new?rep=an&period=2026-Q1&plan=example&line=1")
        found["dispute-new"] = violations(page)
        page.goto("/disputes")
        found["disputes"] = violations(page)
        page.goto("/statements/an/2026-Q9")
        found["bad-period"] = violations(page)
        page.goto("/statements/binh/2026-Q1")
        found["refused"] = violations(page)
        shoot(page, tmp_path / f"refused-{lang}.png")
        page.goto("/what-if?amount=60000000&close_date=2026-03-01&product_group=cloud")
        page.locator("[data-test=extra-pay]").wait_for()
        found["what-if"] = violations(page)
        page.goto("/what-if?amount=0&close_date=2026-03-01")
        found["what-if-error"] = violations(page)
        page.goto("/sign-in")
        context.clear_cookies()
        context.add_cookies([{"name": "ie_lang", "value": lang, "url": server.url}])
        sign_in(page, server.token(Role.FINANCE, "fin"), "/close/2026-Q1")
        found["close"] = violations(page)
        assert {k: v for k, v in found.items() if v} == {}
    finally:
        context.close()
    finance = browser.new_context(base_url=server.url, bypass_csp=True)  # the pay run
    finance.add_cookies([{"name": "ie_lang", "value": lang, "url": server.url}])
    try:
        page = finance.new_page()
        sign_in(page, server.token(Role.FINANCE, "fin"), "/pay-run/2026-Q1")
        page.locator("[data-test=pay-run-table]").wait_for()
        assert violations(page) == [], "pay-run"
    finally:
        finance.close()


def test_the_quota_and_territory_pages_have_no_serious_violation(
    browser: Browser, server: Server
) -> None:
    """The plan admin's quota and territory pages on the shared seed (the richer store is
    checked in test_quotas_browser.py)."""
    context = browser.new_context(base_url=server.url, bypass_csp=True)
    try:
        page = context.new_page()
        sign_in(page, server.token(Role.PLAN_ADMIN, "pa"), "/quotas")
        found = {"quotas": violations(page)}
        page.goto("/territories")
        found["territories"] = violations(page)
        assert {k: v for k, v in found.items() if v} == {}
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_simulation_page_has_no_serious_accessibility_violation(
    browser: Browser, server: Server, lang: str
) -> None:
    context = browser.new_context(base_url=server.url, bypass_csp=True)
    context.add_cookies([{"name": "ie_lang", "value": lang, "url": server.url}])
    try:
        page = context.new_page()
        sign_in(page, server.token(Role.FINANCE, "fin"), "/plans/simulate?plan=example&version=1")
        found = {"simulate": violations(page)}
        page.click("[data-test=simulate]")
        page.locator("[data-test=sim-reps]").wait_for()
        found["simulate-result"] = violations(page)
        page.fill("[data-test=document]", "plan_id: example\nversion: [")
        page.click("[data-test=simulate]")
        page.locator("[data-test=simulation-error]").wait_for()
        found["simulate-error"] = violations(page)
        assert {k: v for k, v in found.items() if v} == {}
    finally:
        context.close()
