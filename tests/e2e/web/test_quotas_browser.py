"""The quota and territory pages in Chromium: a plan admin opens the territories (owners over
time, a coverage gap), opens the quotas, previews an allocation, publishes it and sees the
roll-up flags; in Vietnamese and English, axe-clean (screenshots under the test's tmp_path)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from api.auth import Role
from api.web.i18n import Formatter
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings
from tests.e2e.web.conftest import Server, serving, shoot, sign_in, text
from tests.e2e.web.quotas_store import seed_quotas
from tests.e2e.web.test_accessibility import violations


@pytest.fixture(scope="module")
def planning(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = api_settings(sqlite_settings(tmp_path_factory.mktemp("quota-browser")))
    seed_quotas(settings)
    with serving(settings) as found:
        yield found


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_plan_admin_previews_publishes_and_sees_the_flags(
    browser: Browser, planning: Server, tmp_path: Path, lang: str
) -> None:
    f = Formatter(lang, "Asia/Ho_Chi_Minh")
    period = "2027-Q1"
    rate = 10 if lang == "vi" else 20  # the second run changes the quotas the first set
    context = browser.new_context(base_url=planning.url, bypass_csp=True,
                                  viewport={"width": 1280, "height": 900})  # fmt: skip
    context.add_cookies([{"name": "ie_lang", "value": lang, "url": planning.url}])
    try:
        page = context.new_page()
        sign_in(page, planning.token(Role.PLAN_ADMIN, "pa"), "/territories?on=2026-03-31")
        page.locator("[data-test=territory-table]").wait_for()
        hn = page.locator("tr[data-territory='T-HN']")
        assert "Phạm Châu" in hn.locator("[data-test=timeline]").inner_text()
        gap = text(hn.locator("[data-test=gaps]").inner_text())
        assert text(f.date("2025-01-01")) in gap and text(f.date("2026-01-31")) in gap
        assert f.gettext("unowned") in gap
        assert text(page.locator("[data-test=gap-count]").inner_text()) == "1"
        assert violations(page) == [], "territories"
        shoot(page, tmp_path / f"territories-{lang}.png", full_page=True)

        page.click("nav a[href='/quotas']")
        page.goto("/quotas?period=2026-Q1")
        flags = page.locator("[data-test=rollups] [data-test=status]")
        assert text(flags.nth(0).inner_text()) == f.gettext("over")
        assert text(flags.nth(1).inner_text()) == f.gettext("under")
        assert violations(page) == [], "quotas"

        page.fill("#a-period", period)
        page.select_option("#a-method", "uplift")
        page.fill("#a-rate", str(rate))
        page.click("[data-test=preview]")
        page.locator("[data-test=preview-table]").wait_for()
        proposed = [text(t) for t in page.locator("[data-test=proposed]").all_inner_texts()]
        last_year = [390_000_000, 100_000_000, 150_000_000, 120_000_000]  # 2026-Q1 credited
        expected = [a * (100 + rate) // 100 for a in last_year]
        assert proposed == [text(f.money(a, "VND")) for a in expected]
        assert page.locator("[data-test=last-year]").count() == 0  # pay: not for plan admins
        assert violations(page) == [], "preview"
        shoot(page, tmp_path / f"preview-{lang}.png", full_page=True)

        page.check("#confirm")
        page.click("[data-test=publish]")
        page.locator("[data-test=published]").wait_for()
        assert "4" in page.locator("[data-test=published]").inner_text()
        amounts = [text(t) for t in page.locator("[data-test=quota-table] [data-test=amount]")
                   .all_inner_texts()]  # fmt: skip
        assert amounts[:4] == [text(f.money(a, "VND")) for a in expected]
        assert (
            planning.api(f"/v1/quotas?period={period}", planning.token(Role.FINANCE, "fin"))[
                "total"
            ]
            == 4
        )  # type: ignore[index]
        page.goto("/quotas?period=2026-Q1")
        shoot(page, tmp_path / f"quotas-{lang}.png", full_page=True)
    finally:
        context.close()


def test_a_rep_is_refused_the_pages_in_the_browser(browser: Browser, planning: Server) -> None:
    context = browser.new_context(base_url=planning.url)
    try:
        page = context.new_page()
        sign_in(page, planning.token(Role.REP, "an"), "/quotas")
        assert page.locator("nav a[href='/quotas']").count() == 0
        page.goto("/territories")
        assert page.locator("[data-test=territory-table]").count() == 0
    finally:
        context.close()
