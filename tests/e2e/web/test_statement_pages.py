"""The statement and its disputes in a real browser, on a store of this module's own: a rep
reads a statement in both languages, downloads the CSV, looks at a past day, prints, and
raises a dispute from a line; the manager comments and resolves it; the rep sees the
outcome. The pages pass axe-core."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from api.auth import Role
from api.web.i18n import Formatter
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings
from tests.e2e.web.conftest import Server, serving, shoot, sign_in, text
from tests.e2e.web.statement_store import BEFORE_LATE, TOTAL_BEFORE, TOTAL_NOW, seed_statements
from tests.e2e.web.test_accessibility import violations

VI = Formatter("vi", "Asia/Ho_Chi_Minh")
EN = Formatter("en", "Asia/Ho_Chi_Minh")
STATEMENT = "/statements/an/2026-Q1"


@pytest.fixture(scope="module")
def store_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = api_settings(sqlite_settings(tmp_path_factory.mktemp("statement-pages")))
    seed_statements(settings)
    with serving(settings) as found:
        yield found


def new_page(browser: Browser, server: Server, **options: object) -> Page:
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 900}, **options
    )
    return context.new_page()


def test_a_rep_reads_downloads_and_looks_back_at_a_statement_then_disputes_a_line(
    browser: Browser, store_server: Server, tmp_path: Path
) -> None:
    server = store_server
    errors: list[str] = []
    rep = new_page(browser, server, accept_downloads=True)
    rep.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    rep.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(rep, server.token(Role.REP, "an"), STATEMENT)
    total = text(rep.inner_text("[data-test=statement-total]"))
    assert total == text(VI.money(TOTAL_NOW, "VND"))
    first = text(rep.locator("[data-test=description]").first.inner_text())
    assert first == "Hoa hồng: 150.000.000 ₫ trong bậc [0 %, 50 %) với tỷ lệ 2 %"
    shoot(rep, tmp_path / "statement-vi.png", full_page=True)
    # the language switch words the lines in English
    rep.click("button[value=en]")
    rep.wait_for_load_state()
    first = text(rep.locator("[data-test=description]").first.inner_text())
    assert first == "Hoa hồng: ₫150,000,000 in tier [0%, 50%) at 2%"
    shoot(rep, tmp_path / "statement-en.png", full_page=True)
    rep.click("button[value=vi]")
    rep.wait_for_load_state()
    # the CSV download: a BOM and the engine's figures
    with rep.expect_download() as info:
        rep.click("[data-test=csv]")
    data = Path(info.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    statement = server.api("/v1/reps/an/statements/2026-Q1", server.token(Role.REP, "an"))
    assert isinstance(statement, list)
    assert [r[11] for r in rows[1:]] == [ln["amount"] for ln in statement[0]["lines"]]
    assert Decimal(statement[0]["total"]) == TOTAL_NOW
    # the print view: the header is hidden, the printed-at line shown
    rep.emulate_media(media="print")
    assert not rep.locator("header.top").is_visible()
    assert rep.locator(".printed").is_visible()
    assert not rep.locator("[data-print]").is_visible()
    shoot(rep, tmp_path / "statement-print.png", full_page=True)
    rep.emulate_media(media="screen")
    # the as-of picker: before D3 was recorded
    rep.fill("#as_of", BEFORE_LATE)
    rep.click("form.as-of button[type=submit]")
    rep.wait_for_url(f"**{STATEMENT}?as_of={BEFORE_LATE}")
    assert text(rep.inner_text("[data-test=statement-total]")) == text(
        VI.money(TOTAL_BEFORE, "VND")
    )
    assert "01/03/2026" in rep.inner_text("[data-test=as-of-banner]")
    shoot(rep, tmp_path / "statement-as-of.png", full_page=True)
    rep.click("text=Về hôm nay")
    rep.wait_for_url(f"**{STATEMENT}")
    # a dispute from line 2
    rep.locator("tr[data-line='2'] [data-test=raise-dispute]").click()
    rep.wait_for_url("**/disputes/new?**")
    assert text(rep.inner_text("[data-test=line-amount]")) == text(VI.money(Decimal(7_000_000), "VND"))  # fmt: skip
    rep.fill("#reason", "Thiếu hợp đồng D4 đóng ngày 28/02")
    rep.fill("#expected_amount", "8.000.000")
    rep.fill("#attachment", "hop-dong-D4.pdf")
    shoot(rep, tmp_path / "dispute-new.png", full_page=True)
    rep.click("form[data-test=dispute-form] button[type=submit]")
    rep.wait_for_url("**/disputes/dsp-*")
    dispute_url = rep.url
    assert rep.inner_text("[data-test=status]") == "Đang mở"
    assert text(rep.inner_text("[data-test=expected]")) == text(VI.money(Decimal(8_000_000), "VND"))  # fmt: skip
    shoot(rep, tmp_path / "dispute-raised.png", full_page=True)
    assert errors == []

    # the manager comments and resolves it
    manager = new_page(browser, server)
    sign_in(manager, server.token(Role.MANAGER, "mgr"), "/disputes")
    shoot(manager, tmp_path / "disputes-manager.png", full_page=True)
    manager.locator("[data-test=disputes] a").first.click()
    manager.wait_for_url(dispute_url)
    manager.fill("#comment", "Đã kiểm tra với kế toán: D4 thuộc quý này.")
    manager.click("form[data-test=comment-form] button[type=submit]")
    manager.wait_for_load_state()
    assert "D4 thuộc quý này" in manager.inner_text("[data-test=comments]")
    manager.check("input[name=outcome][value=accepted]")
    manager.click("form[data-test=resolve-form] button[type=submit]")
    manager.wait_for_load_state()
    assert manager.inner_text("[data-test=status]") == "Đã chấp nhận"
    assert text(manager.inner_text("[data-test=adjustment]")) == text(
        VI.money(Decimal(1_000_000), "VND")
    )
    shoot(manager, tmp_path / "dispute-resolved.png", full_page=True)

    # the rep sees the outcome and the comment, and the adjustment on the statement
    rep.goto("/disputes")
    assert rep.inner_text("[data-test=status]") == "Đã chấp nhận"
    shoot(rep, tmp_path / "disputes-rep.png", full_page=True)
    rep.goto(dispute_url)
    assert "D4 thuộc quý này" in rep.inner_text("[data-test=comments]")
    # accepting proposed the adjustment: the total rises only once finance approves it
    rep.goto(STATEMENT)
    assert text(rep.inner_text("[data-test=statement-total]")) == text(VI.money(TOTAL_NOW, "VND"))
    finance = new_page(browser, server)
    sign_in(finance, server.token(Role.FINANCE, "fin"), "/adjustments")
    finance.locator("[data-test=pending] [data-test=approve]").first.click()
    finance.wait_for_load_state()
    assert "Đã phê duyệt" in finance.inner_text("[data-test=done]")
    rep.goto(STATEMENT)
    assert text(rep.inner_text("[data-test=statement-total]")) == text(
        VI.money(TOTAL_NOW + 1_000_000, "VND")
    )
    last = text(rep.locator("[data-test=description]").last.inner_text())
    assert last.startswith("Điều chỉnh thủ công bởi mgr: dispute dsp-")


def test_the_statement_and_dispute_pages_pass_axe(
    browser: Browser, store_server: Server, tmp_path: Path
) -> None:
    server = store_server
    for lang in ("vi", "en"):
        page = new_page(browser, server, bypass_csp=True)  # axe is let in for this test only
        page.context.add_cookies([{"name": "ie_lang", "value": lang, "url": server.url}])
        sign_in(page, server.token(Role.MANAGER, "mgr"), STATEMENT + f"?as_of={BEFORE_LATE}")
        found = {"statement-as-of": violations(page)}
        page.goto("/disputes/new?rep=an&period=2026-Q1&plan=example&line=1")
        found["dispute-new"] = violations(page)
        page.goto("/disputes?status=all")
        found["disputes"] = violations(page)
        link = page.locator("[data-test=disputes] a")
        if link.count():
            link.first.click()
            page.wait_for_load_state()
            found["dispute"] = violations(page)
        page.goto("/statements/an/2026-Q9")
        found["bad-period"] = violations(page)
        shoot(page, tmp_path / f"bad-period-{lang}.png", full_page=True)
        page.goto(STATEMENT + "?as_of=2026-02-30")
        found["bad-as-of"] = violations(page)
        shoot(page, tmp_path / f"bad-as-of-{lang}.png", full_page=True)
        page.context.close()
        assert {k: v for k, v in found.items() if v} == {}, lang
