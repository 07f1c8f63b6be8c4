"""The issue's walks end to end in a real Chromium, across the pages of finance and plan
admins: finance opens the pay run, sees a failing pre-close check and fixes it, proposes an
adjustment, cannot approve their own, a second finance user approves it, closes the period,
downloads the XLSX (read back with openpyxl against the engine) and the audit pack; a plan
admin edits a draft with an error, fixes it, simulates it (the figure equal to the CLI's
``simulate``), publishes it; reps and managers are refused every finance and plan page.

With ``IE_README_SCREENSHOTS=DIR`` the walks also save the README's screenshots in DIR."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from api.app import create_app
from api.auth import Role, issue_token
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, seed
from tests.e2e.test_close_checks import seeded
from tests.e2e.web.conftest import ROOT, Server, serving, shoot, sign_in
from tests.factories import assigned

README_SHOTS = os.environ.get("IE_README_SCREENSHOTS")


def shot(page: Page, tmp_path: Path, name: str) -> None:
    """A screenshot under the test's folder (and the README's, when asked)."""
    shoot(page, tmp_path / f"{name}.png", full_page=True)
    if README_SHOTS:
        page.screenshot(path=Path(README_SHOTS) / f"{name}.jpg", type="jpeg", quality=70)


@pytest.fixture(scope="module")
def finance_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The API seed plus D9, a Q1 deal in territory T-HN that nobody owns."""
    with serving(seeded(sqlite_settings(tmp_path_factory.mktemp("journey-fin")))) as found:
        yield found


def check_state(page: Page, name: str) -> str | None:
    return page.locator(f"[data-check={name}]").get_attribute("data-state")


def test_finance_closes_a_period_end_to_end(
    browser: Browser, finance_server: Server, tmp_path: Path
) -> None:
    server = finance_server
    viewport = {"width": 1280, "height": 900}
    a = browser.new_context(base_url=server.url, viewport=viewport).new_page()
    sign_in(a, server.token(Role.FINANCE, "fin-a"), "/pay-run/2026-Q1")
    expect(a.locator("[data-test=pay-run-table]")).to_be_visible()
    shot(a, tmp_path, "finance-pay-run")

    a.goto("/close/2026-Q1")
    expect(a.locator("[data-test=blocking-banner]")).to_be_visible()
    assert check_state(a, "deals_without_credit") == "blocks"
    shot(a, tmp_path, "finance-close-failing")
    with EventStore(server.settings) as store:  # the territory's owner is named: D9 credited
        store.append([assigned("T-HN", "chau")])
    a.reload()
    assert check_state(a, "deals_without_credit") == "pass"

    a.goto("/adjustments")
    a.select_option("#rep", "an")
    a.select_option("#period", "2026-Q1")
    a.fill("#amount", "2.000.000")
    a.fill("#reason", "Thưởng dự án Đà Nẵng")
    a.click("form[data-test=propose-form] button[type=submit]")
    a.wait_for_load_state()
    row = a.locator("[data-test=pending] tr[data-adjustment]")
    proposal = row.get_attribute("data-adjustment")
    assert row.locator("[data-test=approve]").count() == 0  # never on one's own proposal
    csrf = next(c["value"] for c in a.context.cookies() if c["name"] == "ie_csrf")
    own = a.request.post(f"{server.url}/adjustments/{proposal}/approve", form={"csrf": csrf})
    assert own.status == 403
    a.goto("/close/2026-Q1")  # an adjustment awaiting approval blocks the close
    assert check_state(a, "adjustments_awaiting_approval") == "blocks"
    pending = a.locator("[data-check=adjustments_awaiting_approval]")
    expect(pending.locator(f"[data-finding='{proposal}']")).to_contain_text("fin-a")

    b = browser.new_context(base_url=server.url, viewport=viewport).new_page()
    sign_in(b, server.token(Role.FINANCE, "fin-b"), "/adjustments")
    b.locator(f"tr[data-adjustment='{proposal}'] [data-test=approve]").click()
    b.wait_for_load_state()
    shot(b, tmp_path, "finance-adjustments")

    a.goto("/pay-run/2026-Q1")  # looked at again after the change, then closed
    a.goto("/close/2026-Q1")
    expect(a.locator("[data-test=clear-banner]")).to_be_visible()
    a.check("input[name=confirm]")
    a.click("[data-test=close-button]")
    expect(a.locator("[data-test=sealed]")).to_be_visible()
    shot(a, tmp_path, "finance-close-sealed")

    payouts = server.api("/v1/payouts/2026-Q1", server.token(Role.FINANCE, "fin-a"))
    assert payouts["status"] == "sealed"  # type: ignore[index]
    engine_totals = {r["rep_id"]: Decimal(r["total"]) for r in payouts["items"]}  # type: ignore[index]
    assert engine_totals["an"] == Decimal(17_700_000 + 2_000_000)
    a.goto("/pay-run/2026-Q1")
    with a.expect_download() as download:
        a.click("[data-test=download-xlsx]")
    book = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    sheet = book["payouts"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in r), strict=False)) for r in sheet.iter_rows(2)]
    assert {str(r["rep_id"]): Decimal(str(r["total"])) for r in rows} == engine_totals
    assert sheet.freeze_panes == "A2"

    a.goto("/audit")
    a.select_option("#pack-period", "2026-Q1")
    with a.expect_download() as pack_download:
        a.locator("[data-test=pack-form] button").click()
    pack = zipfile.ZipFile(io.BytesIO(Path(pack_download.value.path()).read_bytes()))
    names = set(pack.namelist())
    assert {"2026-Q1/manifest.json", "2026-Q1/tables.xlsx"} <= names
    tables = openpyxl.load_workbook(io.BytesIO(pack.read("2026-Q1/tables.xlsx")))
    assert "payouts" in tables.sheetnames
    shot(a, tmp_path, "finance-audit")


def cli_simulation(server: Server, document: str, tmp_path: Path) -> dict[str, str]:
    """The CLI's ``simulate`` report for a draft document and window (another process)."""
    path = tmp_path / "draft.yaml"
    path.write_text(document, encoding="utf-8")
    args = [sys.executable, "-m", "incentive_engine", "--store", server.settings.store_url,
            "simulate", "--plan", str(path), "--baseline", "example@1",
            "--from", "2026-Q1", "--to", "2026-Q1", "--format", "json"]  # fmt: skip
    ran = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    report: dict[str, str] = json.loads(ran.stdout)[0]
    return report


@pytest.fixture(scope="module")
def plans_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = api_settings(sqlite_settings(tmp_path_factory.mktemp("journey-plans")))
    seed(settings)
    with serving(settings) as found:
        yield found


def test_a_plan_admin_edits_simulates_and_publishes_end_to_end(
    browser: Browser, plans_server: Server, tmp_path: Path
) -> None:
    server = plans_server
    page = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 900}
    ).new_page()
    sign_in(page, server.token(Role.PLAN_ADMIN, "pat"), "/plans/drafts/new")
    page.select_option("#source", "example@1")
    page.click("[data-test=new-draft-form] button[type=submit]")
    page.wait_for_url("**/plans/drafts/*")
    draft_url = page.url
    editor = page.locator("#document")
    original = editor.input_value()
    editor.fill(original.replace("rate: 5\n", "rate: -5\n"))
    expect(page.locator("[data-path='components.0.tiers.1.rate']")).to_be_visible(timeout=5000)
    shot(page, tmp_path, "plans-draft-error")
    fixed = original.replace("rate: 8\n", "rate: 10\n")
    assert fixed != original
    editor.fill(fixed)
    expect(page.locator("[data-test=draft-valid]")).to_be_visible(timeout=5000)
    page.click("[data-test=save-draft]")
    expect(page.locator("[data-test=draft-saved]")).to_be_visible()

    page.fill("#start", "2026-Q1")
    page.fill("#end", "2026-Q1")
    page.click("[data-test=simulate-draft]")
    change = page.locator("[data-test=cost-change]")
    expect(change).to_be_visible()
    report = cli_simulation(server, page.locator("[data-test=document]").input_value(), tmp_path)
    assert change.get_attribute("data-value") == report["cost_change"] == "1800000"
    shot(page, tmp_path, "plans-simulation")

    page.goto(draft_url.rstrip("/") + "/publish")
    expect(page.locator("[data-test=cost-change]")).to_be_visible()
    page.fill("#reason", "Reward over-achievement")
    page.check("#confirm")
    page.click("[data-test=publish]")
    expect(page.locator("[data-test=draft-published]")).to_be_visible()
    page.click("[data-test=draft-published] a")
    page.wait_for_selector("[data-test=chart-payout] canvas")
    shot(page, tmp_path, "plans-version")
    with EventStore(server.settings) as store:
        last = [r.event for r in store.read(types=["PlanVersionPublished"])][-1]
    assert (last.published_by, last.reason) == ("pat", "Reward over-achievement")  # type: ignore[attr-defined]


FINANCE_AND_PLAN_PAGES = (
    "/pay-run", "/pay-run/2026-Q1", "/pay-run/2026-Q1.xlsx", "/pay-run/2026-Q1.csv",
    "/pay-run/2026-Q1/payroll.csv", "/close", "/close/2026-Q1", "/close/2026-Q1/checks",
    "/adjustments", "/adjustments/pending", "/disputes/inbox", "/audit", "/audit/events",
    "/audit/an/2026-Q1", "/audit/pack?period=2026-Q1", "/audit/explain?rep=an&period=2026-Q1",
    "/audit/events/1", "/plans", "/plans/drafts/new",
    "/plans/example/diff?from=1&to=1", "/plans/simulate",
)  # fmt: skip
"""Every finance and plan-admin page, fragment and download of the web app (a plan version's
page is read by the reps and managers it covers too: tests/e2e/web/test_acceptance_pages.py)."""


@pytest.mark.parametrize(("role", "subject"), [(Role.REP, "an"), (Role.MANAGER, "mgr")])
@pytest.mark.parametrize("htmx", [False, True])
def test_reps_and_managers_are_refused_every_finance_and_plan_page(
    tmp_path: Path, role: Role, subject: str, htmx: bool
) -> None:
    settings = api_settings(sqlite_settings(tmp_path))
    seed(settings)
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    client.cookies.set("ie_session", issue_token(settings, role, subject))
    headers = {"HX-Request": "true"} if htmx else {}
    answers = {
        path: client.get(path, headers=headers).status_code for path in FINANCE_AND_PLAN_PAGES
    }
    assert {p: s for p, s in answers.items() if s != 403} == {}
    client.get("/sign-in")
    csrf = client.cookies.get("ie_csrf") or ""
    posts = ("/close/2026-Q1", "/adjustments", "/adjustments/x/approve", "/adjustments/x/reject",
             "/audit/verify", "/plans/drafts", "/plans/drafts/check", "/plans/simulate",
             "/disputes/inbox/x/comment", "/disputes/inbox/x/resolve")  # fmt: skip
    answered = {p: client.post(p, data={"csrf": csrf}, headers=headers).status_code for p in posts}
    assert {p: s for p, s in answered.items() if s != 403} == {}
