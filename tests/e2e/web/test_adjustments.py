"""The adjustments page (finance, maker–checker): who may open every page, fragment and form
(rep, manager, plan admin refused; signed out sent to sign in), proposals typed in the
reader's notation, the proposer never offered (nor allowed) to approve their own, and a
second finance user's approval paying the rep, checked against the engine; then the same
in a real Chromium, with screenshots in both languages and axe."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from api.app import create_app
from api.auth import Role, issue_token
from api.web.i18n import Formatter
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import rep_statements
from incentive_engine.services.engine import Engine
from incentive_engine.settings import Settings
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, seed
from tests.e2e.web.conftest import Server, serving, shoot, sign_in, text
from tests.e2e.web.test_accessibility import violations

Q1 = Period.parse("2026-Q1")
BASE_TOTAL = Decimal(17_700_000)
"""an's Q1 total in the API seed before any adjustment."""
VI = Formatter("vi", "Asia/Ho_Chi_Minh")


def total(settings: Settings, rep: str = "an") -> Decimal:
    """The rep's Q1 total as the engine computes it."""
    with Engine(settings) as engine:
        [statement] = rep_statements(engine.snapshot(), rep, Q1)
    return statement.total


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    found = api_settings(sqlite_settings(tmp_path))
    seed(found)
    return found


@pytest.fixture
def app(settings: Settings) -> Iterator[object]:
    yield create_app(settings)


def as_(
    app: object, settings: Settings, role: Role | None, subject: str = "", lang: str = "vi"
) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)  # type: ignore[arg-type]
    if role is not None:
        client.cookies.set("ie_session", issue_token(settings, role, subject))
    client.cookies.set("ie_lang", lang)
    client.get("/sign-in")  # the CSRF cookie
    return client


def csrf(client: TestClient) -> str:
    token = client.cookies.get("ie_csrf")
    assert token
    return token


def form(client: TestClient, **values: str) -> dict[str, str]:
    return {"csrf": csrf(client), "rep": "an", "period": "2026-Q1", "amount": "1.500.000",
            "currency": "VND", "fx_rate": "", "reason": "Thưởng nóng", **values}  # fmt: skip


def pending_ids(client: TestClient) -> list[str]:
    return re.findall(r'<tr data-adjustment="([^"]+)"', client.get("/adjustments/pending").text)


@pytest.mark.parametrize(
    ("role", "subject"),
    [(Role.REP, "an"), (Role.MANAGER, "mgr"), (Role.PLAN_ADMIN, "pa"), (Role.INTEGRATION, "crm")],
)
def test_only_finance_may_open_or_post_anything_of_the_page(
    app: object, settings: Settings, role: Role, subject: str
) -> None:
    finance = as_(app, settings, Role.FINANCE, "fin-a")
    assert (
        finance.post("/adjustments", data=form(finance), follow_redirects=False).status_code == 303
    )
    [pid] = pending_ids(finance)
    other = as_(app, settings, role, subject)
    assert other.get("/adjustments").status_code == 403
    assert (
        "Adjustments" not in other.get("/").text
        and 'href="/adjustments"' not in other.get("/").text
    )
    fragment = other.get("/adjustments/pending", headers={"HX-Request": "true"})
    assert fragment.status_code == 403 and "<html" not in fragment.text
    assert other.get("/adjustments/pending").status_code == 403
    assert other.post("/adjustments", data=form(other)).status_code == 403
    assert other.post(f"/adjustments/{pid}/approve", data={"csrf": csrf(other)}).status_code == 403
    rejected = other.post(f"/adjustments/{pid}/reject", data={"csrf": csrf(other), "reason": "x"})
    assert rejected.status_code == 403
    assert pending_ids(finance) == [pid] and total(settings) == BASE_TOTAL


def test_signed_out_goes_to_sign_in_and_htmx_gets_401(app: object, settings: Settings) -> None:
    out = as_(app, settings, None)
    for path in ("/adjustments", "/adjustments/pending"):
        answer = out.get(path, follow_redirects=False)
        assert answer.status_code == 303 and "/sign-in" in answer.headers["location"]
        htmx = out.get(path, headers={"HX-Request": "true"})
        assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/sign-in")
    for path in ("/adjustments", "/adjustments/x/approve", "/adjustments/x/reject"):
        answer = out.post(path, data={"csrf": csrf(out)}, follow_redirects=False)
        assert answer.status_code == 303 and "/sign-in" in answer.headers["location"]


def test_a_proposal_is_paid_only_after_a_second_finance_user_approves(
    app: object, settings: Settings
) -> None:
    a = as_(app, settings, Role.FINANCE, "fin-a")
    assert 'href="/adjustments"' in a.get("/").text  # the NavItem
    # no CSRF token: refused, nothing stored
    assert a.post("/adjustments", data={**form(a), "csrf": ""}).status_code == 403
    answer = a.post("/adjustments", data=form(a), follow_redirects=False)
    assert answer.status_code == 303
    [pid] = pending_ids(a)
    page = a.get(answer.headers["location"]).text
    assert "Đã đề xuất" in page and pid in page
    assert text(VI.money(Decimal(1_500_000), "VND")) in text(page)
    row = page.split(f'data-adjustment="{pid}"')[1].split("</tr>")[0]
    assert 'data-test="approve"' not in row and 'data-test="own"' in row  # never on one's own
    assert total(settings) == BASE_TOTAL
    own = a.post(f"/adjustments/{pid}/approve", data={"csrf": csrf(a)})
    assert own.status_code == 403 and "different finance user" in own.text
    assert total(settings) == BASE_TOTAL

    b = as_(app, settings, Role.FINANCE, "fin-b", lang="en")
    row = b.get("/adjustments").text.split(f'data-adjustment="{pid}"')[1].split("</tr>")[0]
    assert 'data-test="approve"' in row and "fin-a" in row
    answer = b.post(f"/adjustments/{pid}/approve", data={"csrf": csrf(b)}, follow_redirects=False)
    assert answer.status_code == 303
    assert total(settings) == BASE_TOTAL + 1_500_000
    decided = b.get("/adjustments").text
    assert pending_ids(b) == [] and "No adjustment awaits approval." in decided
    assert 'data-test="decided-by">fin-b' in decided
    again = b.post(f"/adjustments/{pid}/approve", data={"csrf": csrf(b)})
    assert again.status_code == 409 and "already approved by fin-b" in again.text
    assert total(settings) == BASE_TOTAL + 1_500_000


def test_amounts_in_english_notation_rejections_and_bad_input(
    app: object, settings: Settings
) -> None:
    a = as_(app, settings, Role.FINANCE, "fin-a", lang="en")
    answer = a.post(
        "/adjustments", data=form(a, amount="-250,000", reason="phone"), follow_redirects=False
    )
    assert answer.status_code == 303
    [pid] = pending_ids(a)
    b = as_(app, settings, Role.FINANCE, "fin-b", lang="en")
    no_reason = b.post(f"/adjustments/{pid}/reject", data={"csrf": csrf(b), "reason": " "})
    assert no_reason.status_code == 422 and "a rejection needs a reason" in no_reason.text
    done = b.post(f"/adjustments/{pid}/reject", data={"csrf": csrf(b), "reason": "paid already"},
                  follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    page = b.get("/adjustments").text
    assert "Rejected because:" in page and "paid already" in page
    assert total(settings) == BASE_TOTAL  # rejected: never paid
    bad = a.post("/adjustments", data=form(a, amount="a lot"))
    assert bad.status_code == 422 and "Amount: &#39;a lot&#39; is not a number" in bad.text
    usd = a.post("/adjustments", data=form(a, amount="100", currency="USD"))
    assert usd.status_code == 422 and "<strong>Currency</strong>" in usd.text
    assert (
        "pays in VND, not USD" in usd.text
        and 'id="currency" name="currency" aria-invalid="true"' in usd.text
    )
    converted = a.post("/adjustments", data=form(a, amount="100.5", currency="USD", fx_rate="25,431.5"),
                       follow_redirects=False)  # fmt: skip
    assert converted.status_code == 303
    assert "₫2,555,866" in a.get("/adjustments/pending").text  # 2,555,865.75 rounded half-up
    ghost = a.post("/adjustments", data=form(a, rep="ghost", amount="1,500,000"))
    assert ghost.status_code == 404 and "unknown rep" in ghost.text


# ------------------------------------------------------------------ in Chromium


@pytest.fixture(scope="module")
def adjust_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    found = api_settings(sqlite_settings(tmp_path_factory.mktemp("adjust-web")))
    seed(found)
    with serving(found) as server:
        yield server


def test_two_finance_users_in_chromium_and_the_rep_paid_only_after_approval(
    browser: Browser, adjust_server: Server, tmp_path: Path
) -> None:
    server = adjust_server
    rep = browser.new_page(base_url=server.url)
    sign_in(rep, server.token(Role.REP, "an"), "/statements/an/2026-Q1")
    before = text(rep.inner_text("[data-test=statement-total]"))
    assert before == text(VI.money(total(server.settings), "VND"))

    a = browser.new_page(base_url=server.url)
    sign_in(a, server.token(Role.FINANCE, "fin-a"), "/adjustments")
    a.select_option("#rep", "an")
    a.select_option("#period", "2026-Q1")
    a.fill("#amount", "2.000.000")
    a.fill("#reason", "Thưởng dự án Đà Nẵng")
    shoot(a, tmp_path / "adjustments-propose-vi.png", full_page=True)
    a.click("form[data-test=propose-form] button[type=submit]")
    a.wait_for_load_state()
    assert "Đã đề xuất" in a.inner_text("[data-test=done]")
    row = a.locator("[data-test=pending] tr[data-adjustment]")
    assert row.count() == 1
    pid = row.get_attribute("data-adjustment")
    assert row.locator("[data-test=approve]").count() == 0  # never on one's own proposal
    assert "fin-a" in row.inner_text()
    shoot(a, tmp_path / "adjustments-pending-vi.png", full_page=True)
    # posting the approval anyway is refused
    token = a.context.cookies()
    csrf = next(c["value"] for c in token if c["name"] == "ie_csrf")
    refused = a.request.post(f"{server.url}/adjustments/{pid}/approve", form={"csrf": csrf})
    assert refused.status == 403 and "different finance user" in refused.text()
    rep.reload()
    assert text(rep.inner_text("[data-test=statement-total]")) == before

    b = browser.new_page(base_url=server.url)
    b.context.add_cookies([{"name": "ie_lang", "value": "en", "url": server.url}])
    sign_in(b, server.token(Role.FINANCE, "fin-b"), "/adjustments")
    shoot(b, tmp_path / "adjustments-pending-en.png", full_page=True)
    b.locator(f"tr[data-adjustment='{pid}'] [data-test=approve]").click()
    b.wait_for_load_state()
    assert "Approved" in b.inner_text("[data-test=done]")
    assert "fin-b" in b.inner_text("[data-test=decided]")
    shoot(b, tmp_path / "adjustments-decided-en.png", full_page=True)

    rep.reload()
    after = text(rep.inner_text("[data-test=statement-total]"))
    assert after == text(VI.money(total(server.settings), "VND"))
    assert total(server.settings) == BASE_TOTAL + 2_000_000 and after != before
    # a rep is refused the page
    rep.goto("/adjustments")
    assert rep.locator("h1").inner_text() == "Không được phép"


def test_the_adjustments_page_passes_axe_in_both_languages(
    browser: Browser, adjust_server: Server, tmp_path: Path
) -> None:
    server = adjust_server
    for lang in ("vi", "en"):
        context = browser.new_context(base_url=server.url, bypass_csp=True)
        context.add_cookies([{"name": "ie_lang", "value": lang, "url": server.url}])
        try:
            page = context.new_page()
            sign_in(page, server.token(Role.FINANCE, f"fin-{lang}"), "/adjustments")
            page.fill("#amount", "-100.000" if lang == "vi" else "-100,000")
            page.fill("#reason", "axe")
            page.select_option("#rep", "binh")
            page.click("form[data-test=propose-form] button[type=submit]")
            page.wait_for_load_state()
            assert violations(page) == [], lang
            page.select_option("#rep", "binh")
            page.fill("#amount", "nhiều")
            page.fill("#reason", "x")
            page.click("form[data-test=propose-form] button[type=submit]")
            page.wait_for_load_state()
            assert page.locator("[data-test=form-error]").count() == 1
            assert violations(page) == [], f"{lang} error"
            shoot(page, tmp_path / f"adjustments-error-{lang}.png", full_page=True)
        finally:
            context.close()
