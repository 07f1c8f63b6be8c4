"""Finance's disputes inbox and audit pages in a real browser, on a store of this module's
own: finance reads the inbox (each line's explanation beside the rep's reason), rejects one
dispute with a reason and accepts another (the page shows what the service returned); opens
/audit, verifies the log, opens an explanation, searches the event log by rep and type,
opens an event's JSON and downloads the audit pack. Screenshots in both languages; axe."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from api.auth import Role
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings
from tests.e2e.web.audit_store import seed_audit
from tests.e2e.web.conftest import Server, serving, shoot, sign_in, text
from tests.e2e.web.test_accessibility import violations


@pytest.fixture(scope="module")
def audit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = api_settings(sqlite_settings(tmp_path_factory.mktemp("audit-browser")))
    seed_audit(settings)
    with serving(settings) as found:
        yield found


def finance_page(browser: Browser, server: Server, lang: str, **options: object) -> Page:
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 900}, **options
    )
    context.add_cookies([{"name": "ie_lang", "value": lang, "url": server.url}])
    page = context.new_page()
    sign_in(page, server.token(Role.FINANCE, "fin"), "/disputes/inbox")
    return page


def test_finance_works_the_disputes_inbox(
    browser: Browser, audit_server: Server, tmp_path: Path
) -> None:
    page = finance_page(browser, audit_server, "en")
    assert page.url.endswith("/disputes/inbox")
    items = page.locator("section.inbox-item")
    assert [items.nth(i).get_attribute("data-dispute") for i in range(3)] == [
        "dsp-old", "dsp-mid", "dsp-new"
    ]  # fmt: skip
    oldest = page.locator("#d-dsp-old")
    assert "D3 is missing from my credit" in oldest.locator("[data-test=reason]").inner_text()
    explained = oldest.locator("[data-test=line-explanation] [data-test=explanation]")
    assert "D1" in explained.inner_text() or "won" in explained.inner_text()
    claim, beside = (
        oldest.locator("[data-test=claim]"),
        oldest.locator("[data-test=line-explanation]"),
    )
    left, right = claim.bounding_box(), beside.bounding_box()
    assert left and right and left["x"] + left["width"] <= right["x"]  # side by side
    shoot(page, tmp_path / "inbox-en.png", full_page=True)
    # a rejection without a reason is refused, naming the field; with one it is done
    newest = page.locator("#d-dsp-new")
    newest.locator("[data-test=reject-form] button").click()
    page.wait_for_load_state()
    assert "reason" in page.locator("[data-test=form-error]").inner_text()
    page.locator("#reason-dsp-new").fill("D5 is already paid in Q1")
    page.locator("#d-dsp-new [data-test=reject-form] button").click()
    page.wait_for_url("**/disputes/inbox?done=dsp-new")
    done = page.locator("[data-test=done]").inner_text()
    assert "D5 is already paid in Q1" in done and "rejected" in done.lower()
    assert page.locator("#d-dsp-new").count() == 0
    # accepting: the page shows what the dispute service returned
    page.locator("#d-dsp-mid [data-test=accept-form] button").click()
    page.wait_for_url("**/disputes/inbox?done=dsp-mid")
    shown = text(page.locator("[data-test=done]").inner_text())
    api = audit_server.api("/v1/disputes/dsp-mid", audit_server.token(Role.FINANCE, "fin"))
    assert isinstance(api, dict) and api["status"] != "open"
    assert api["dispute_id"] in shown
    shoot(page, tmp_path / "inbox-accepted-en.png", full_page=True)
    vi = finance_page(browser, audit_server, "vi")
    assert "Hộp khiếu nại" in vi.locator("h1").inner_text()
    shoot(vi, tmp_path / "inbox-vi.png", full_page=True)


def test_finance_verifies_explains_searches_and_downloads(
    browser: Browser, audit_server: Server, tmp_path: Path
) -> None:
    page = finance_page(browser, audit_server, "vi")
    page.goto("/audit")
    page.locator("[data-test=verify-form] button").click()
    page.wait_for_url("**/audit?verified=1")
    assert "Nguyên vẹn" in page.locator("[data-test=verify-result]").inner_text()
    with EventStore(audit_server.settings) as store:
        head = store.max_position()
        events = list(store.read())
    assert text(page.locator("[data-test=verified-position]").inner_text()) == f"{head}"
    shoot(page, tmp_path / "audit-vi.png", full_page=True)
    # explanation of a rep's period
    page.select_option("#explain-rep", "an")
    page.select_option("#explain-period", "2026-Q1")
    page.locator("[data-test=explain-form] button").click()
    page.wait_for_url("**/audit/an/2026-Q1")
    api = audit_server.api("/v1/audit/an/2026-Q1", audit_server.token(Role.FINANCE, "fin"))
    assert isinstance(api, dict)
    assert page.locator("[data-test=chain]").count() == len(api["chains"])
    page.locator("[data-test=chain]").first.locator("summary").click()
    shoot(page, tmp_path / "explain-vi.png", full_page=True)
    # the event log, by rep and type; an event's JSON
    page.goto("/audit/events")
    page.fill("#rep", "an")
    page.select_option("#type", ["DealWon"])
    page.locator("[data-test=event-search] button").click()
    page.wait_for_load_state()
    rows = page.locator("table[data-test=events] tbody tr")
    wanted = [r.position for r in events if r.event.type == "DealWon" and "an" in r.event.rep_ids()]
    assert [
        int(rows.nth(i).get_attribute("data-position") or 0) for i in range(rows.count())
    ] == wanted
    rows.first.locator("[data-test=open-event]").click()
    shown = page.locator("[data-test=event-json]")
    shown.wait_for()
    assert json.loads(shown.inner_text())["type"] == "DealWon"
    shoot(page, tmp_path / "events-vi.png", full_page=True)
    # the audit pack, through the page's form
    page.goto("/audit")
    page.select_option("#pack-period", "2026-Q1")
    with page.expect_download() as download:
        page.locator("[data-test=pack-form] button").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "audit-pack-2026-Q1.zip"
    with zipfile.ZipFile(saved) as pack:
        names = set(pack.namelist())
        manifest = json.loads(pack.read("2026-Q1/manifest.json"))
    for name in (
        "statements.json",
        "statement_lines.csv",
        "payouts.csv",
        "events.csv",
        "plans.json",
    ):
        assert f"2026-Q1/{name}" in names
    assert manifest["period"] == "2026-Q1" and manifest["log_position"] >= head


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_finance_pages_pass_axe(
    browser: Browser, audit_server: Server, tmp_path: Path, lang: str
) -> None:
    page = finance_page(browser, audit_server, lang, bypass_csp=True)
    found = {"inbox": violations(page)}
    for name, path in (
        ("audit", "/audit"),
        ("explain", "/audit/an/2026-Q1"),
        ("events", "/audit/events?type=DealWon"),
        ("event", "/audit/events/1"),
        ("bad-input", "/audit/events?since=nope"),
    ):
        page.goto(path)
        found[name] = violations(page)
        shoot(page, tmp_path / f"{name}-{lang}.png", full_page=True)
    assert {k: v for k, v in found.items() if v} == {}
