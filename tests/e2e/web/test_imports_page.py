"""The import page (finance and integration users, as ``POST /v1/imports`` allows): choose a
shipped mapping or upload one, upload a CSV or XLSX export, check it (dry run: counts, the
first events, the problems by row and column) or import it (all or nothing); through
TestClient for every role, and end to end in Chromium (a split report imported, then the
statement page showing each owner's pay)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from api.app import create_app
from api.auth import Role, issue_token
from api.web.i18n import messages
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings
from tests.e2e.web.conftest import Server, serving, shoot, sign_in, text
from tests.examples.plans import plan, quota, rep, tiered

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "incentive_engine" / "imports" / "samples"
SPLITS = SAMPLES / "salesforce-opportunity-splits.csv"
VN = SAMPLES / "vietnamese-spreadsheet.csv"
WEB = ROOT / "api" / "web"
SHOTS = Path(os.environ.get("IMPORT_SHOTS", "")) if os.environ.get("IMPORT_SHOTS") else None


def seeded(settings: Settings) -> Settings:
    """The graduated plan (2 % / 5 % / 8 % on a 300,000,000 quota), An and Bình named as the
    CRM exports name them, each with a Q1 quota of 300,000,000."""
    settings = api_settings(settings)
    with EventStore(settings) as store:
        store.append([
            publication(plan(tiered()).plan),
            rep("an", name="Nguyễn Văn An"), rep("binh", name="Lê Văn Bình"),
            quota("an", 300_000_000), quota("binh", 300_000_000),
        ])  # fmt: skip
    return settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return seeded(sqlite_settings(tmp_path))


def as_role(settings: Settings, role: Role | None, subject: str = "x") -> TestClient:
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    if role is not None:
        client.cookies.set("ie_session", issue_token(settings, role, subject))
    client.get("/sign-in")
    return client


def post(client: TestClient, action: str, data: bytes, name: str = "export.csv",
         mapping: str = "vietnamese-spreadsheet", csrf: bool = True,
         mapping_file: bytes | None = None) -> object:  # fmt: skip
    form = {"mapping": mapping, "action": action}
    if csrf:
        form["csrf"] = client.cookies.get("ie_csrf") or ""
    files = {"file": (name, data, "text/csv")}
    if mapping_file is not None:
        files["mapping_file"] = ("m.yaml", mapping_file, "application/yaml")
    return client.post("/imports", data=form, files=files)


def count(settings: Settings) -> int:
    with EventStore(settings) as store:
        return store.max_position()


@pytest.mark.parametrize(
    ("role", "subject"), [(Role.REP, "an"), (Role.MANAGER, "mgr"), (Role.PLAN_ADMIN, "pa")]
)
def test_reps_managers_and_plan_admins_are_refused_the_page_and_the_post(
    settings: Settings, role: Role, subject: str
) -> None:
    client = as_role(settings, role, subject)
    before = count(settings)
    assert client.get("/imports").status_code == 403
    posted = post(client, "import", VN.read_bytes())
    assert posted.status_code == 403  # type: ignore[attr-defined]
    assert count(settings) == before
    assert 'href="/imports"' not in client.get("/leaderboards").text  # no navigation link


def test_signed_out_goes_to_sign_in_and_a_post_without_csrf_is_refused(
    settings: Settings,
) -> None:
    client = as_role(settings, None)
    answer = client.get("/imports", follow_redirects=False)
    assert answer.status_code == 303 and "/sign-in" in answer.headers["location"]
    fin = as_role(settings, Role.FINANCE, "fin")
    assert post(fin, "import", VN.read_bytes(), csrf=False).status_code == 403  # type: ignore[attr-defined]
    assert fin.post("/imports", data={"csrf": "x"}).status_code == 415  # not an upload


def test_finance_and_integration_see_the_form_with_the_catalogue(settings: Settings) -> None:
    fin = as_role(settings, Role.FINANCE, "fin").get("/imports")
    assert fin.status_code == 200
    assert 'value="salesforce-opportunity-splits"' in fin.text and 'href="/imports"' in fin.text
    assert 'enctype="multipart/form-data"' in fin.text and 'name="csrf"' in fin.text
    integration = as_role(settings, Role.INTEGRATION, "crm").get("/imports")
    assert integration.status_code == 200


def test_a_dry_run_shows_the_bad_row_by_row_column_and_field_and_stores_nothing(
    settings: Settings,
) -> None:
    fin = as_role(settings, Role.FINANCE, "fin")
    before = count(settings)
    bad = VN.read_bytes().replace("Cá nhân".encode(), "Hộ KD".encode())
    answer = post(fin, "check", bad, "hop-dong.csv")
    html = answer.text  # type: ignore[attr-defined]
    assert answer.status_code == 200 and count(settings) == before  # type: ignore[attr-defined]
    assert 'data-dry-run="yes"' in html
    row = re.search(r'<tr data-row="4">(.*?)</tr>', html, re.S)
    assert row is not None, html
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert cells[:4] == [
        "4",
        "Loại khách hàng",
        "OpportunityCreated",
        "<code>customer.customer_type</code>",
    ]
    assert "is not in the map" in cells[4]
    # the rows that are fine: counted, and shown as events
    assert '<tr data-type="DealWon"><td>DealWon</td><td class="num">3</td>' in html
    assert 'data-test="sample"' in html and "HD-2026-001" in html
    # importing the same file stores nothing: all or nothing
    refused = post(fin, "import", bad, "hop-dong.csv")
    assert refused.status_code == 422 and count(settings) == before  # type: ignore[attr-defined]


def test_finance_imports_a_split_report_and_the_statement_pays_each_share(
    settings: Settings,
) -> None:
    """An: 120,000,000 + 130,000,000 + 75,000,000 = 325,000,000 → 150,000,000 × 2 % +
    150,000,000 × 5 % + 25,000,000 × 8 % = 12,500,000; Bình: 80,000,000 + 75,000,000 +
    60,000,000 = 215,000,000 → 3,000,000 + 65,000,000 × 5 % = 6,250,000 (the split report's
    worked example in tests/integration/test_imports.py)."""
    fin = as_role(settings, Role.FINANCE, "fin")
    done = post(fin, "import", SPLITS.read_bytes(), SPLITS.name,
                mapping="salesforce-opportunity-splits")  # fmt: skip
    assert done.status_code == 200, done.text  # type: ignore[attr-defined]
    assert 'data-dry-run="no"' in done.text and "Đã nhập: lưu 4 sự kiện" in done.text  # type: ignore[attr-defined]
    an = fin.get("/statements/an/2026-Q1").text
    binh = fin.get("/statements/binh/2026-Q1").text
    assert 'data-test="statement-total">12.500.000 ₫' in text(an)
    assert 'data-test="statement-total">6.250.000 ₫' in text(binh)


def test_an_integration_user_cannot_import_quotas_through_its_own_mapping(
    settings: Settings,
) -> None:
    mapping = (
        b"events:\n  - type: QuotaSet\n    event_id: {hash: [Rep], prefix: q-}\n"
        b"    fields:\n      subject_id: {column: Rep}\n      period: {value: 2026-Q2}\n"
        b"      amount: {column: Quota, parse: {thousands: '.'}}\n      currency: {value: VND}\n"
    )
    crm = as_role(settings, Role.INTEGRATION, "crm")
    before = count(settings)
    refused = post(crm, "import", b"Rep,Quota\nbinh,300.000.000\n", mapping="",
                   mapping_file=mapping)  # fmt: skip
    assert refused.status_code == 403 and count(settings) == before  # type: ignore[attr-defined]
    assert "QuotaSet" in refused.text  # type: ignore[attr-defined]
    broken = post(crm, "check", b"Rep,Quota\n", mapping="",
                  mapping_file=mapping.replace(b"QuotaSet", b"Quota"))  # fmt: skip
    assert broken.status_code == 422  # type: ignore[attr-defined]
    assert "events.0.type" in broken.text  # type: ignore[attr-defined]


def test_the_row_cap_refuses_a_long_file_on_the_page(tmp_path: Path) -> None:
    capped = seeded(sqlite_settings(tmp_path)).model_copy(update={"import_max_rows": 3})
    fin = as_role(capped, Role.FINANCE, "fin")
    answer = post(fin, "import", VN.read_bytes())
    assert answer.status_code == 413 and "more than 3 data rows" in answer.text  # type: ignore[attr-defined]


def test_every_label_of_the_page_is_translated() -> None:
    labels = {"Import"}
    for name in ("templates/imports.html", "imports.py"):
        content = (WEB / name).read_text(encoding="utf-8")
        labels |= set(re.findall(r'_\("([^"]+)"', content))
    labels.add("Only finance (or an integration user) may import CRM exports.")
    vi, en = messages("vi"), messages("en")
    assert sorted(labels - vi.keys()) == [] and sorted(labels - en.keys()) == []
    for label in labels:
        assert set(re.findall(r"{\w+}", vi[label])) == set(re.findall(r"{\w+}", label)), label


# --------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def import_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The web app on a store of its own (the test imports into it)."""
    settings = seeded(sqlite_settings(tmp_path_factory.mktemp("import-store")))
    with serving(settings) as found:
        yield found


def test_finance_checks_fixes_and_imports_in_a_browser(
    browser: Browser, import_server: Server, tmp_path: Path
) -> None:
    shots = SHOTS or tmp_path
    context = browser.new_context(
        base_url=import_server.url, viewport={"width": 1280, "height": 900}
    )
    try:
        page = context.new_page()
        sign_in(page, import_server.token(Role.FINANCE, "fin"), "/imports")
        assert page.url.endswith("/imports")
        page.click("nav a[href='/imports']")
        page.select_option("#mapping", "salesforce-opportunity-splits")
        bad = (
            SPLITS.read_bytes()
            .replace(b'"210,000,000"', b"")
            .replace(
                b'Revenue,40.00%,"80,000,000","200,000,000"',
                b'Revenue,40.00%,"80,000,000","210,000,000"',
            )
        )
        page.set_input_files("#file", {"name": "splits.csv", "mimeType": "text/csv", "buffer": bad})
        page.click("[data-test=check]")
        expect(page.locator("[data-test=verdict]")).to_contain_text("1 dòng có lỗi")
        problem = page.locator("[data-test=problems] tr[data-row='3']")
        expect(problem).to_contain_text("Amount")
        expect(problem).to_contain_text("'200,000,000' in row 2, '210,000,000' in row 3")
        expect(page.locator("#mapping")).to_have_value("salesforce-opportunity-splits")
        shoot(page, shots / "imports-dry-run-vi.png", full_page=True)
        page.set_input_files("#file", str(SPLITS))
        page.click("[data-test=import]")
        expect(page.locator("[data-test=verdict]")).to_contain_text("Đã nhập: lưu 4 sự kiện")
        expect(page.locator("[data-test=counts] tr[data-type=DealWon]")).to_contain_text("4")
        shoot(page, shots / "imports-stored-vi.png", full_page=True)
        page.goto("/statements/an/2026-Q1")
        total = text(page.locator("[data-test=statement-total]").inner_text())
        assert total == "12.500.000 ₫"
        page.goto("/imports")
        page.click("button[lang=en]")
        expect(page.locator("h1")).to_have_text("Import from your CRM")
        shoot(page, shots / "imports-form-en.png", full_page=True)
    finally:
        context.close()
