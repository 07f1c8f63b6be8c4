"""In Chromium, against ``incentive-engine serve`` on a SQLite file of its own: a rep sees "You
have not accepted plan example v1" on their home, presses Accept and sees the acceptance;
finance sees it in the plan version's acceptance list and records a paper signature for
another rep; both in Vietnamese and English, with no serious axe violation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from api.auth import Role
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, seed
from tests.e2e.web.conftest import Server, serving, sign_in
from tests.e2e.web.test_accessibility import violations


@pytest.fixture(scope="module")
def accept_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = api_settings(sqlite_settings(tmp_path_factory.mktemp("accept-store")))
    seed(settings)
    with serving(settings) as found:
        yield found


def accepted(server: Server) -> dict[str, str]:
    """Rep id -> how, of the PlanAccepted events in the store."""
    with EventStore(server.settings) as store:
        return {
            r.event.rep_id: r.event.how  # type: ignore[attr-defined]
            for r in store.read(types=["PlanAccepted"])
        }


@pytest.mark.parametrize(("lang", "rep", "banner"), [
    ("en", "an", "You have not accepted plan example v1"),
    ("vi", "binh", "Bạn chưa chấp thuận kế hoạch example phiên bản 1"),
])  # fmt: skip
def test_a_rep_accepts_their_plan_with_the_button(
    browser: Browser, accept_server: Server, lang: str, rep: str, banner: str
) -> None:
    context = browser.new_context(base_url=accept_server.url, bypass_csp=True)
    context.add_cookies([{"name": "ie_lang", "value": lang, "url": accept_server.url}])
    try:
        page = context.new_page()
        sign_in(page, accept_server.token(Role.REP, rep))
        notice = page.locator("[data-test=acceptance][data-accepted=no]")
        expect(notice).to_contain_text(banner)
        assert [v for v in violations(page) if v["impact"] in ("serious", "critical")] == []
        page.click("[data-test=accept]")
        page.wait_for_load_state()
        expect(page.locator("[data-test=acceptance][data-accepted=yes]")).to_be_visible()
        expect(page.locator("[data-test=accept]")).to_have_count(0)
        assert accepted(accept_server)[rep] == "web"
        page.goto("/statements/" + rep + "/2026-Q1")
        expect(page.locator("[data-test=statement-acceptance]")).to_have_attribute(
            "data-accepted", "yes"
        )
    finally:
        context.close()


def test_finance_sees_who_accepted_and_records_a_paper_signature(
    browser: Browser, accept_server: Server
) -> None:
    context = browser.new_context(base_url=accept_server.url, bypass_csp=True)
    context.add_cookies([{"name": "ie_lang", "value": "en", "url": accept_server.url}])
    try:
        page = context.new_page()
        sign_in(page, accept_server.token(Role.FINANCE, "fin"), "/plans/example/versions/1")
        rows = page.locator("[data-test=acceptance-row]")
        expect(rows).to_have_count(4)  # an, binh, chau, mgr
        page.select_option("#paper-rep", "chau")
        page.fill("#paper-day", "2026-01-02")
        page.fill("#paper-ref", "HĐ-017")
        page.click("[data-test=paper-form] button[type=submit]")
        page.wait_for_load_state()
        chau = page.locator("[data-test=acceptance-row][data-rep=chau]")
        expect(chau).to_have_attribute("data-accepted", "yes")
        expect(chau).to_contain_text("HĐ-017")
        assert accepted(accept_server)["chau"] == "paper"
    finally:
        context.close()
