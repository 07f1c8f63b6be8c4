"""A rep in a real browser: sign in, home figures against the engine's own, a statement
line's explanation, the language switch, /docs offline, and another rep's pages refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page

from api.auth import Role, issue
from api.web.i18n import Formatter
from tests.e2e.web.conftest import Server, shoot, sign_in, text

VI = Formatter("vi", "Asia/Ho_Chi_Minh")
EN = Formatter("en", "Asia/Ho_Chi_Minh")


def earnings(server: Server, token: str) -> list[dict[str, Any]]:
    found = server.api("/v1/reps/an/earnings", token)
    assert isinstance(found, dict)
    return found["items"]


def test_a_rep_signs_in_and_reads_their_earnings_as_the_engine_computes_them(
    page: Page, server: Server, tmp_path: Path
) -> None:
    token = server.token(Role.REP, "an")
    sign_in(page, token)
    shoot(page, tmp_path / "home.png", full_page=True)
    assert page.url == server.url + "/"
    rows = earnings(server, token)
    assert [r["period"] for r in rows] == ["2026-Q1"]
    total = Decimal(rows[0]["total"])
    assert total > 0
    assert text(page.inner_text("[data-test=earned-now]")) == text(VI.money(total, "VND"))
    assert text(page.inner_text("tr[data-period='2026-Q1'] [data-test=total]")) == text(
        VI.money(total, "VND")
    )
    attainment = server.api("/v1/attainment/2026-Q1?rep=an", token)
    assert isinstance(attainment, dict)
    percent = Decimal(attainment["items"][0]["attainment"])
    assert text(page.inner_text("[data-test=attainment]")) == text(VI.percent(percent))
    # the navigation shows what a rep may see: their pages, not finance's
    nav = page.inner_text("nav")
    assert "Bảng kê của tôi" in nav and "Trang chủ" in nav
    page.click("text=Xem bảng kê")
    page.wait_for_url("**/statements/an/2026-Q1")
    statement = server.api("/v1/reps/an/statements/2026-Q1", token)
    assert isinstance(statement, list)
    assert page.inner_text("[data-test=statement-hash]") == statement[0]["hash"]


def test_a_statement_line_opens_its_explanation(page: Page, server: Server, tmp_path: Path) -> None:
    errors: list[str] = []  # a script refused by the page's CSP, or failing, shows here
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, server.token(Role.REP, "an"), "/statements/an/2026-Q1")
    rows = page.locator("tr[data-line]")
    assert rows.count() == 3
    assert "sha256:" in page.inner_text("[data-test=statement-hash]")
    rows.nth(2).get_by_role("button").click()
    explanation = page.locator("[data-test=explanation]")
    explanation.wait_for()
    shown = explanation.inner_text()
    assert "D1" in shown  # the deal behind the line
    assert "DealWon" in shown
    assert text(page.inner_text("[data-test=effective]")).startswith("10/02/2026")
    shoot(page, tmp_path / "statement-explained.png", full_page=True)
    assert errors == []


def test_the_language_switch_changes_labels_numbers_and_dates(
    page: Page, server: Server, tmp_path: Path
) -> None:
    token = server.token(Role.REP, "an")
    total = Decimal(earnings(server, token)[0]["total"])
    sign_in(page, token, "/statements/an/2026-Q1")
    assert page.inner_text("h1").startswith("Bảng kê")
    assert text(page.inner_text("[data-test=statement-total]")) == text(VI.money(total, "VND"))
    assert "01/01/2026" in page.inner_text("h1")
    shoot(page, tmp_path / "statement-vi.png", full_page=True)
    page.click("button[value=en]")
    page.wait_for_load_state()
    assert page.url.endswith("/statements/an/2026-Q1")
    assert page.inner_text("h1").startswith("Statement")
    assert text(page.inner_text("[data-test=statement-total]")) == text(EN.money(total, "VND"))
    assert text(EN.money(total, "VND")).startswith("₫")
    assert "1 Jan 2026" in page.inner_text("h1")
    shoot(page, tmp_path / "statement-en.png", full_page=True)
    page.goto("/")  # the choice is kept
    assert page.inner_text("h1").startswith("My earnings")
    assert text(page.inner_text("[data-test=attainment]")) == "130.0%"
    page.click("button[value=vi]")
    page.wait_for_load_state()
    assert page.inner_text("h1").startswith("Thu nhập của tôi")
    assert text(page.inner_text("[data-test=attainment]")) == "130,0 %"


def test_docs_render_swagger_ui_with_no_request_leaving_the_host(
    context: BrowserContext, server: Server, tmp_path: Path
) -> None:
    requested: list[str] = []
    context.on("request", lambda r: requested.append(r.url))
    context.route(  # anything not served by this host is cut, as on an air-gapped machine
        "**/*",
        lambda route, request: (
            route.continue_() if request.url.startswith(server.url) else route.abort()
        ),
    )
    page = context.new_page()
    page.goto("/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    page.locator("button.authorize").wait_for()
    assert "incentive-engine" in page.inner_text(".swagger-ui .info .title")
    page.click("button.authorize")
    page.locator(".auth-container").first.wait_for()
    dialog = page.inner_text(".modal-ux")
    assert "bearerToken" in dialog and "apiKey" in dialog
    shoot(page, tmp_path / "docs.png", full_page=False)
    assert requested and all(u.startswith(server.url + "/") for u in requested), requested
    assert any(u.endswith("/static/vendor/swagger-ui/swagger-ui-bundle.js") for u in requested)


def test_a_rep_is_refused_another_reps_statement_page_and_fragment(
    page: Page, server: Server, tmp_path: Path
) -> None:
    sign_in(page, server.token(Role.REP, "an"))
    answer = page.goto("/statements/binh/2026-Q1")
    assert answer is not None and answer.status == 403
    assert "Không được phép" in page.inner_text("h1")
    shoot(page, tmp_path / "refused.png", full_page=True)
    binh = page.content()
    assert "binh" not in page.inner_text("main").split("\n")[0]
    assert "₫" not in binh
    for url in (
        "/statements/binh/2026-Q1/example/lines/1",
        "/statements/nobody/2026-Q1/example/lines/1",  # the same answer for a rep who is not
        "/statements/nobody/2026-Q1",
    ):
        fragment = page.request.get(url, headers={"HX-Request": "true"})
        assert fragment.status == 403, url
        assert "₫" not in fragment.text()
    # their own is fine through the same session
    assert page.request.get("/statements/an/2026-Q1/example/lines/1").status == 200


def test_an_expired_session_goes_back_to_sign_in(
    context: BrowserContext, server: Server, tmp_path: Path
) -> None:
    expired = issue(
        server.settings, Role.REP, "an", now=datetime.now(UTC) - timedelta(hours=1), minutes=5
    )
    context.add_cookies([{"name": "ie_session", "value": expired.token, "url": server.url}])
    page = context.new_page()
    page.goto("/statements/an/2026-Q1")
    assert "/sign-in" in page.url and "expired=1" in page.url
    assert "Phiên làm việc đã hết" in page.inner_text("main")
    shoot(page, tmp_path / "expired.png", full_page=True)
    assert not [c for c in context.cookies() if c["name"] == "ie_session"]
    # signing in again lands on the page asked for
    page.fill("#token", server.token(Role.REP, "an"))
    page.click("form[action='/sign-in'] button[type=submit]")
    page.wait_for_url("**/statements/an/2026-Q1")
