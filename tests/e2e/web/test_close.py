"""The close page (finance only): the pre-close checks with their findings, the close form
(confirmation, CSRF, override reason while blocking checks fail) and the sealed result;
through TestClient for every role, and end to end in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from api.app import create_app
from api.auth import Role, issue_token
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.test_close_checks import seeded, stored_close
from tests.e2e.web.conftest import Server, serving, shoot, sign_in, text
from tests.factories import assigned

URLS = ["/close", "/close/2026-Q1", "/close/2026-Q1/checks"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return seeded(sqlite_settings(tmp_path))


def as_role(settings: Settings, role: Role | None, subject: str = "x") -> TestClient:
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    if role is not None:
        client.cookies.set("ie_session", issue_token(settings, role, subject))
    assert client.get("/sign-in").status_code in (200, 303)
    return client


def csrf(client: TestClient) -> str:
    client.get("/sign-in")
    token = client.cookies.get("ie_csrf")
    assert token
    return token


def test_finance_sees_the_checks_and_the_page_lists_each_finding(settings: Settings) -> None:
    fin = as_role(settings, Role.FINANCE, "fin")
    first = fin.get("/close", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/close/2026-Q1"
    found = fin.get("/close/2026-Q1")
    assert found.status_code == 200
    html = found.text
    assert 'data-check="deals_without_credit" data-state="blocks"' in html
    assert 'data-check="unowned_territories" data-state="blocks"' in html
    assert 'data-check="open_disputes" data-state="pass"' in html
    assert '<a href="/audit/events?deal=D9">D9</a>' in html
    assert 'name="override_reason"' in html  # blocking checks fail: the reason is asked
    assert 'href="/close"' in html  # the navigation lists the page for finance
    fragment = fin.get("/close/2026-Q1/checks", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'data-finding="T-HN"' in fragment.text


@pytest.mark.parametrize(
    ("role", "subject"), [(Role.REP, "an"), (Role.MANAGER, "mgr"), (Role.PLAN_ADMIN, "pa")]
)
def test_reps_managers_and_plan_admins_are_refused_every_page_fragment_and_post(
    settings: Settings, role: Role, subject: str
) -> None:
    client = as_role(settings, role, subject)
    for url in URLS:
        assert client.get(url).status_code == 403, url
    assert client.get(URLS[2], headers={"HX-Request": "true"}).status_code == 403
    posted = client.post(
        "/close/2026-Q1", data={"csrf": csrf(client), "confirm": "yes", "override_reason": "x"}
    )
    assert posted.status_code == 403
    assert 'href="/close"' not in client.get("/leaderboards").text  # no navigation link
    with EventStore(settings) as store:
        assert not list(store.read(types=["PeriodClosed"]))


def test_signed_out_goes_to_sign_in(settings: Settings) -> None:
    client = as_role(settings, None)
    for url in URLS:
        answer = client.get(url, follow_redirects=False)
        assert answer.status_code == 303 and "/sign-in" in answer.headers["location"]
    htmx = client.get(URLS[2], headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 401 and "HX-Redirect" in htmx.headers
    posted = client.post("/close/2026-Q1", data={"confirm": "yes"}, follow_redirects=False)
    assert posted.status_code in (303, 403)


def test_the_close_form_applies_the_rule(settings: Settings) -> None:
    fin = as_role(settings, Role.FINANCE, "fin")
    token = csrf(fin)
    assert fin.post("/close/2026-Q1", data={"confirm": "yes"}).status_code == 403  # no CSRF
    unconfirmed = fin.post("/close/2026-Q1", data={"csrf": token, "override_reason": "x"})
    assert unconfirmed.status_code == 422 and 'data-test="form-error"' in unconfirmed.text
    no_reason = fin.post("/close/2026-Q1", data={"csrf": token, "confirm": "yes"})
    assert no_reason.status_code == 409 and "deals_without_credit" in no_reason.text
    blank = fin.post(
        "/close/2026-Q1", data={"csrf": token, "confirm": "yes", "override_reason": "  "}
    )
    assert blank.status_code == 409  # an empty reason is no override
    with EventStore(settings) as store:
        assert not list(store.read(types=["PeriodClosed"]))
    done = fin.post(
        "/close/2026-Q1",
        data={"csrf": token, "confirm": "yes", "override_reason": "Hợp đồng nội bộ"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/close/2026-Q1"
    assert stored_close(settings).override_reason == "Hợp đồng nội bộ"
    sealed = fin.get("/close/2026-Q1").text
    assert 'data-test="sealed"' in sealed and "Hợp đồng nội bộ" in sealed
    assert 'name="confirm"' not in sealed  # closed: no form
    again = fin.post("/close/2026-Q1", data={"csrf": token, "confirm": "yes"})
    assert again.status_code == 409


# -------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def close_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The web app on a store of its own (the test appends to it and closes Q1)."""
    settings = seeded(sqlite_settings(tmp_path_factory.mktemp("close-store")))
    with serving(settings) as found:
        yield found


def test_finance_fixes_a_failing_check_and_closes(
    browser: Browser, close_server: Server, tmp_path: Path
) -> None:
    context = browser.new_context(
        base_url=close_server.url, viewport={"width": 1280, "height": 900}
    )
    try:
        page = context.new_page()
        sign_in(page, close_server.token(Role.FINANCE, "fin"), "/close")
        assert page.url.endswith("/close/2026-Q1")
        deals = page.locator("[data-check=deals_without_credit]")
        expect(deals).to_have_attribute("data-state", "blocks")
        expect(deals.locator("[data-finding=D9]")).to_contain_text("D9")
        expect(page.locator("[data-test=blocking-banner]")).to_be_visible()
        expect(page.locator("#override_reason")).to_be_visible()
        shoot(page, tmp_path / "close-failing-vi.png", full_page=True)
        # Another user assigns the territory: D9 is now credited to its owner.
        with EventStore(close_server.settings) as store:
            store.append([assigned("T-HN", "chau")])
        page.locator("[data-test=rerun]").click()  # the fragment runs the checks again
        expect(page.locator("[data-check=deals_without_credit]")).to_have_attribute(
            "data-state", "pass"
        )
        page.reload()
        expect(page.locator("[data-test=clear-banner]")).to_be_visible()
        expect(page.locator("#override_reason")).to_have_count(0)
        page.click("[data-test=close-button]")  # not confirmed: the browser holds it back
        assert page.url.endswith("/close/2026-Q1")
        expect(page.locator("[data-test=sealed]")).to_have_count(0)
        page.check("input[name=confirm]")
        page.click("[data-test=close-button]")
        expect(page.locator("[data-test=sealed]")).to_be_visible()
        expect(page.locator("[data-test=closed-by]")).to_have_text("fin")
        payouts = close_server.api("/v1/payouts/2026-Q1", close_server.token(Role.FINANCE, "f"))
        assert payouts["status"] == "sealed"  # type: ignore[index]
        total = sum(int(r["total"]) for r in payouts["items"])  # type: ignore[index]
        shown = text(page.locator("[data-test=sealed-total]").inner_text())
        assert shown == f"{total:,}".replace(",", ".") + " ₫"
        expect(page.locator("[data-test=statements-hash]")).to_have_text(
            stored_close(close_server.settings).statements_hash or ""
        )
        shoot(page, tmp_path / "close-sealed-vi.png", full_page=True)
        page.click("button[lang=en]")
        expect(page.locator("[data-test=sealed]")).to_contain_text("is closed")
        shoot(page, tmp_path / "close-sealed-en.png", full_page=True)
    finally:
        context.close()
