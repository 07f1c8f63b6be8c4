"""In Chromium, a plan admin's walk: open a draft, type an error and see it at its path
without a reload, fix it, save, see the impact and publish with a reason; the version page
with its payout curve; in Vietnamese and English, with screenshots and no serious axe
violation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from api.auth import Role
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, seed
from tests.e2e.web.conftest import Server, serving, shoot, sign_in, text
from tests.e2e.web.test_accessibility import violations


@pytest.fixture(scope="module")
def plans_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = api_settings(sqlite_settings(tmp_path_factory.mktemp("plans-store")))
    seed(settings)
    with serving(settings) as found:
        yield found


def published(settings: Settings) -> list[tuple[int, str | None, str | None]]:
    with EventStore(settings) as store:
        return [
            (r.event.version, r.event.published_by, r.event.reason)  # type: ignore[attr-defined]
            for r in store.read(types=["PlanVersionPublished"])
        ]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_plan_admin_edits_validates_saves_and_publishes_a_draft(
    browser: Browser, plans_server: Server, tmp_path: Path, lang: str
) -> None:
    context = browser.new_context(
        base_url=plans_server.url, bypass_csp=True, viewport={"width": 1280, "height": 900}
    )
    context.add_cookies([{"name": "ie_lang", "value": lang, "url": plans_server.url}])
    found: dict[str, object] = {}
    try:
        page = context.new_page()
        sign_in(page, plans_server.token(Role.PLAN_ADMIN, "pat"), "/plans")
        assert page.url.endswith("/plans")
        found["plans"] = violations(page)
        shoot(page, tmp_path / f"plans-{lang}.png", full_page=True)

        page.click("[data-test=new-draft]")
        latest = published(plans_server.settings)[-1][0]
        page.select_option("#source", f"example@{latest}")
        found["new"] = violations(page)
        page.click("[data-test=new-draft-form] button[type=submit]")
        page.wait_for_url("**/plans/drafts/*")
        editor = page.locator("#document")
        original = editor.input_value()
        assert "rate: 5\n" in original
        page.evaluate("window.notReloaded = true")
        editor.fill(original.replace("rate: 5\n", "rate: -5\n"))
        problem = page.locator("[data-path='components.0.tiers.1.rate']")
        expect(problem).to_be_visible(timeout=5000)
        line = original.splitlines().index("    rate: 5") + 1
        assert problem.get_attribute("data-line") == str(line)
        assert page.evaluate("window.notReloaded") is True  # the fragment came by htmx
        found["editor-error"] = violations(page)
        shoot(page, tmp_path / f"draft-error-{lang}.png", full_page=True)

        top = int(original.rsplit("rate: ", 1)[1].split()[0])  # the top tier's rate
        raised = original.rsplit(f"rate: {top}\n", 1)
        editor.fill(f"rate: {top + 2}\n".join(raised))
        expect(page.locator("[data-test=draft-valid]")).to_be_visible(timeout=5000)
        page.click("[data-test=save-draft]")
        expect(page.locator("[data-test=draft-saved]")).to_be_visible()
        assert f"rate: {top + 2}" in page.locator("#document").input_value()

        page.click("[data-test=publish-link]")
        impact = page.locator("[data-test=cost-change]")
        expect(impact).to_be_visible()
        # an (130 % of 300,000,000): 90,000,000 above quota at 2 points more
        assert "1.800.000" in text(impact.inner_text()) or "1,800,000" in impact.inner_text()
        found["publish"] = violations(page)
        shoot(page, tmp_path / f"publish-{lang}.png", full_page=True)
        page.fill("#reason", f"Reward over-achievement ({lang})")
        page.check("#confirm")
        page.click("[data-test=publish]")
        expect(page.locator("[data-test=draft-published]")).to_be_visible()
        assert f"Reward over-achievement ({lang})" in page.inner_text("[data-test=draft-published]")
        version, by, reason = published(plans_server.settings)[-1]
        assert (by, reason) == ("pat", f"Reward over-achievement ({lang})") and version >= 2

        page.click("[data-test=draft-published] a")
        page.wait_for_selector("[data-test=chart-payout] canvas")
        found["version"] = violations(page)
        shoot(page, tmp_path / f"version-{lang}.png", full_page=True)
        page.goto(f"/plans/example/diff?from=1&to={version}")
        assert page.locator("[data-where='components.commission.tiers.2.rate']").count() == 1
        found["diff"] = violations(page)
        shoot(page, tmp_path / f"diff-{lang}.png", full_page=True)
        assert {k: v for k, v in found.items() if v} == {}
    finally:
        context.close()
