"""The pay run page (/pay-run) and the exports finance opens: finance only (every other role
is refused every page, fragment and download), the figures of ``GET /v1/payouts/{period}``,
sorting and the team filter, a rep whose statement fails listed with the reason, the view
remembered for the pre-close check; payouts, payroll and the audit pack's tables as XLSX
(checked with openpyxl against the engine's Decimals) and as CSV with a BOM; the payroll
mapping's errors at their path; the payroll refused when the log fails verification; and in
Chromium: sort, filter, the chart drawn, the XLSX downloaded, vi/en screenshots, axe."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from api.app import create_app
from api.auth import Role, issue_token
from api.web.i18n import Formatter
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import close_period
from incentive_engine.services.engine import Engine
from incentive_engine.services.integrity import checkpoint_after_verify, views_of
from incentive_engine.services.payroll import MappingError, mapping_from_text
from incentive_engine.services.payrun import bands
from incentive_engine.services.spreadsheets import XLSX_TYPE, money_format
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from projections.visits import last_visit
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, seed
from tests.e2e.test_quarantine_gaps import JUNK_ADJUSTMENT
from tests.e2e.test_write_scopes import insert_raw
from tests.e2e.web.conftest import serving, shoot, sign_in, text
from tests.e2e.web.test_accessibility import violations
from tests.examples.plans import quota, rep
from tests.factories import won
from tests.integration.test_audit import rows as sql

VI = Formatter("vi", "Asia/Ho_Chi_Minh")
MAPPING = """
columns:
  - {header: Mã NV, field: employee_number}
  - {header: Họ tên, field: name}
  - {header: PayCode, field: pay_code}
  - {header: Amount, field: amount}
  - {header: Currency, field: currency}
  - {header: Company, value: "=ACME"}
pay_codes: {commission: COM, prior_period: ADJ, default: OTH}
employee_numbers: {an: 1001, dung: E-0004}
missing_employee_number: rep_id
"""


def build(settings: Settings) -> None:
    """The shared seed (an, binh, chau in TP.HCM 1; mgr), plus dung in Hà Nội 1; 2026-Q1
    closed; then a late Q1 deal for an (an adjustment of 2026-Q1 paid in Q2), Q2 quotas, and
    a stored Q2 adjustment of chau that no longer validates (chau's Q2 statement cannot be
    computed)."""
    seed(settings)
    with EventStore(settings) as store:
        store.append(
            [
                rep("dung", name="Đặng Thị Dung", team="Hà Nội 1", manager_id="mgr"),
                quota("dung", 200_000_000),
                won("DQ1", 250_000_000, rep_id="dung", close_date="2026-03-01"),
            ]
        )
        close_period(store, Period.parse("2026-Q1"), closed_by="fin")
        store.append(
            [
                won("LATE", 60_000_000, rep_id="an", close_date="2026-03-20"),
                *[quota(r, 300_000_000, "2026-Q2") for r in ("an", "binh", "chau", "dung")],
                won("DQ2", 150_000_000, rep_id="binh", close_date="2026-05-05"),
            ]
        )
    junk = {**JUNK_ADJUSTMENT, "rep_id": "chau", "period": "2026-Q2", "posted_date": "2026-05-01"}
    insert_raw(settings, junk, recorded_at="2026-05-01T00:00:00.000000+00:00")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    found = api_settings(sqlite_settings(tmp_path_factory.mktemp("pay-run-store")))
    build(found)
    mapping = tmp_path_factory.mktemp("payroll") / "columns.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return found.model_copy(update={"payroll_columns": mapping})


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def as_(client: TestClient, settings: Settings, role: Role, subject: str) -> TestClient:
    client.cookies.set("ie_session", issue_token(settings, role, subject))
    return client


def api(client: TestClient, settings: Settings, path: str) -> Any:
    answer = client.get(path, headers=auth(settings, Role.FINANCE, "fin"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def rows_of(html: str) -> list[str]:
    return re.findall(r'<tr data-rep="([^"]+)"', html)


def cell(html: str, rep_id: str, name: str) -> str:
    row = html.split(f'<tr data-rep="{rep_id}"', 1)[1].split("</tr>", 1)[0]
    found = re.search(rf'data-test="{name}"[^>]*>(.*?)</td>', row, re.S)
    assert found, (rep_id, name, row)
    return text(re.sub(r"<[^>]+>", " ", found.group(1)).replace("&nbsp;", " ")).strip()


PAGES = (
    "/pay-run",
    "/pay-run?period=2026-Q1",
    "/pay-run/2026-Q1",
    "/pay-run/2026-Q2?sort=total&order=desc&team=H%C3%A0%20N%E1%BB%99i%201",
    "/pay-run/2026-Q1.xlsx",
    "/pay-run/2026-Q1.csv",
    "/pay-run/2026-Q1/payroll.csv",
    "/pay-run/2026-Q1/payroll.xlsx",
)


# ----------------------------------------------------------------- who may


@pytest.mark.parametrize(
    ("role", "subject"),
    [(Role.REP, "an"), (Role.MANAGER, "mgr"), (Role.PLAN_ADMIN, "pa"), (Role.INTEGRATION, "crm")],
)
def test_every_role_but_finance_is_refused_every_page_fragment_and_download(
    app: TestClient, settings: Settings, role: Role, subject: str
) -> None:
    client = as_(app, settings, role, subject)
    for path in PAGES:
        for headers in ({}, {"HX-Request": "true"}):
            answer = client.get(path, headers=headers, follow_redirects=False)
            assert answer.status_code == 403, (role, path, headers)
            assert "17.700.000" not in answer.text and "Nguyễn Văn An" not in answer.text
            assert answer.headers["content-type"].startswith("text/html")
    nav = client.get("/").text if role is not Role.INTEGRATION else ""
    assert 'href="/pay-run"' not in nav


def test_signed_out_goes_to_sign_in(settings: Settings) -> None:
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    for path in PAGES:
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")
        htmx = client.get(path, headers={"HX-Request": "true"}, follow_redirects=False)
        assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/sign-in")


# ------------------------------------------------------------------ figures


def test_the_pay_run_shows_the_figures_of_the_payouts_api(
    app: TestClient, settings: Settings
) -> None:
    fin = as_(app, settings, Role.FINANCE, "fin")
    assert 'href="/pay-run"' in fin.get("/").text  # in finance's navigation
    for period in ("2026-Q1", "2026-Q2"):
        html = fin.get(f"/pay-run/{period}").text
        payouts = api(app, settings, f"/v1/payouts/{period}")
        assert rows_of(html) == [p["rep_id"] for p in payouts["items"]]
        for p in payouts["items"]:
            for key in ("earned", "total"):
                want = text(VI.money(Decimal(p[key]), p["currency"]))
                assert cell(html, p["rep_id"], "earned" if key == "earned" else "row-total") == want
            assert f'href="/statements/{p["rep_id"]}/{period}"' in html
        assert cell(html, "dung", "team") == "Hà Nội 1"
        assert cell(html, "an", "team") == "TP.HCM 1"
        total = sum(Decimal(p["total"]) for p in payouts["items"])
        assert f'data-currency="VND">{VI.money(total, "VND")}</p>' in html
        assert [f["rep_id"] for f in payouts["failures"]] == re.findall(
            r'<li data-rep="([^"]+)"', html
        )
    q1 = fin.get("/pay-run/2026-Q1").text
    assert cell(q1, "an", "row-status") == "đã chốt"  # sealed
    # hand-computed: an 390,000,000 on a 300,000,000 quota, graduated: 17,700,000 (DESIGN §5)
    assert cell(q1, "an", "row-total") == "17.700.000 ₫"
    q2 = fin.get("/pay-run/2026-Q2").text
    # the late Q1 deal: an recomputed 450,000,000 -> 3,000,000 + 7,500,000 + 12,000,000 =
    # 22,500,000; paid 17,700,000; adjustment 4,800,000 of 2026-Q1 paid in Q2
    assert cell(q2, "an", "adjustments") == "2026-Q1: 4.800.000 ₫"
    # chau's stored adjustment no longer validates: listed with the reason, the others shown
    assert "chau" in re.findall(r'<li data-rep="([^"]+)"', q2) and "adj-junk" in q2
    assert "an" in rows_of(q2) and "chau" not in rows_of(q2)


def test_sorting_and_the_team_filter(app: TestClient, settings: Settings) -> None:
    fin = as_(app, settings, Role.FINANCE, "fin")
    payouts = api(app, settings, "/v1/payouts/2026-Q1")["items"]
    by_total = sorted(payouts, key=lambda p: (-Decimal(p["total"]), p["rep_id"]))
    html = fin.get("/pay-run/2026-Q1?sort=total&order=desc").text
    assert rows_of(html) == [p["rep_id"] for p in by_total]
    assert 'aria-sort="descending"' in html
    fragment = fin.get(
        "/pay-run/2026-Q1?team=H%C3%A0%20N%E1%BB%99i%201", headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert rows_of(fragment.text) == ["dung"]
    dung = next(p for p in payouts if p["rep_id"] == "dung")
    assert f'data-currency="VND">{VI.money(Decimal(dung["total"]), "VND")}</p>' in fragment.text
    unknown = fin.get("/pay-run/2026-Q1?team=nowhere&sort=bogus").text  # all teams, rep order
    assert rows_of(unknown) == sorted(p["rep_id"] for p in payouts)
    assert fin.get("/pay-run/2026-Q9").status_code == 422


def test_the_period_picker_and_the_current_period(app: TestClient, settings: Settings) -> None:
    fin = as_(app, settings, Role.FINANCE, "fin")
    picked = fin.get("/pay-run?period=2026-Q2&team=x", follow_redirects=False)
    assert picked.status_code == 303 and picked.headers["location"] == "/pay-run/2026-Q2?team=x"
    latest = fin.get("/pay-run", follow_redirects=False)
    assert latest.status_code == 303 and latest.headers["location"].startswith("/pay-run/2026-")


def test_a_view_is_remembered_and_recorded_in_the_access_log(
    app: TestClient, settings: Settings
) -> None:
    fin = as_(app, settings, Role.FINANCE, "fin2")
    fin.get("/pay-run/2026-Q1")
    seen = last_visit(app.app.state.views, "finance:fin2", "pay-run:2026-Q1")  # type: ignore[attr-defined]
    assert seen is not None and seen.position > 0
    log = api(app, settings, "/v1/access-log?resource=pay%20run&limit=1000")["items"]
    assert {r["rep_id"] for r in log if r["actor"] == "fin2"} >= {"an", "binh", "dung"}


# ------------------------------------------------------------------ exports


def workbook(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def table(sheet: Any) -> list[dict[str, Any]]:
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, (c.value for c in r), strict=True)) for r in sheet.iter_rows(2)]


def test_payouts_as_xlsx_from_the_page_and_the_api(app: TestClient, settings: Settings) -> None:
    fin = as_(app, settings, Role.FINANCE, "fin")
    page = fin.get("/pay-run/2026-Q2.xlsx?partial=true")
    assert page.status_code == 200 and page.headers["content-type"] == XLSX_TYPE
    via_api = app.get(
        "/v1/payouts/2026-Q2?format=xlsx&partial=true", headers=auth(settings, Role.FINANCE, "f")
    )
    assert via_api.status_code == 200 and via_api.headers["content-type"] == XLSX_TYPE
    assert via_api.content == page.content  # the same workbook, byte for byte
    book = workbook(page.content)
    assert book.sheetnames == ["payouts", "adjustments", "failures"]
    sheet = book["payouts"]
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["B"].width > 10
    got = table(sheet)
    payouts = api(app, settings, "/v1/payouts/2026-Q2")["items"]
    assert [r["rep_id"] for r in got] == [p["rep_id"] for p in payouts]
    for row, p in zip(got, payouts, strict=True):
        for key in ("earned", "adjustments", "total"):
            assert Decimal(str(row[key])) == Decimal(p[key]), (p["rep_id"], key)
    an = next(r for r in got if r["rep_id"] == "an")
    assert an["name"] == "Nguyễn Văn An"
    line = next(i for i, r in enumerate(got, start=2) if r["rep_id"] == "an")
    assert sheet.cell(line, 10).number_format == '#,##0 "₫"'  # total, VND: no decimals
    adjustments = table(book["adjustments"])
    assert [(r["rep_id"], r["origin_period"], r["amount"]) for r in adjustments] == [
        ("an", "2026-Q1", 4_800_000)
    ]
    assert [r["rep_id"] for r in table(book["failures"])] == ["chau"]
    refused = fin.get("/pay-run/2026-Q2.xlsx")  # without partial: chau cannot be computed
    assert refused.status_code == 409 and "chau" in refused.text


def test_payouts_as_csv_with_a_bom(app: TestClient, settings: Settings) -> None:
    answer = as_(app, settings, Role.FINANCE, "fin").get("/pay-run/2026-Q1.csv")
    assert answer.status_code == 200 and answer.content.startswith(b"\xef\xbb\xbf")
    found = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    payouts = api(app, settings, "/v1/payouts/2026-Q1")["items"]
    assert [(r["rep_id"], r["total"]) for r in found] == [
        (p["rep_id"], p["total"]) for p in payouts
    ]
    assert found[[r["rep_id"] for r in found].index("dung")]["name"] == "Đặng Thị Dung"


def test_the_payroll_export_in_the_mapping_s_columns(app: TestClient, settings: Settings) -> None:
    via_api = app.get("/v1/payroll/2026-Q2?partial=true", headers=auth(settings, Role.FINANCE, "f"))
    assert via_api.status_code == 200 and via_api.content.startswith(b"\xef\xbb\xbf")
    assert via_api.headers["X-Payout-Failures"] == "1"
    found = list(csv.DictReader(io.StringIO(via_api.content.decode("utf-8-sig"))))
    assert list(found[0]) == ["Mã NV", "Họ tên", "PayCode", "Amount", "Currency", "Company"]
    an = {r["PayCode"]: r for r in found if r["Mã NV"] == "1001"}
    assert an["ADJ"]["Amount"] == "4800000" and an["ADJ"]["Họ tên"] == "Nguyễn Văn An"
    assert {r["Company"] for r in found} == {"'=ACME"}  # a formula never runs
    assert "binh" in {r["Mã NV"] for r in found}  # no number: the rep id (the mapping says)
    payouts = {p["rep_id"]: p for p in api(app, settings, "/v1/payouts/2026-Q2")["items"]}
    per_rep: dict[str, Decimal] = {}
    for r in found:
        rep_id = {"1001": "an", "E-0004": "dung"}.get(r["Mã NV"], r["Mã NV"])
        per_rep[rep_id] = per_rep.get(rep_id, Decimal(0)) + Decimal(r["Amount"])
    for rep_id, amount in per_rep.items():
        assert amount == Decimal(payouts[rep_id]["total"]), rep_id
    book = workbook(
        as_(app, settings, Role.FINANCE, "fin")
        .get("/pay-run/2026-Q2/payroll.xlsx?partial=true")
        .content
    )
    assert book.sheetnames == ["payroll"] and book["payroll"].freeze_panes == "A2"
    cells = table(book["payroll"])
    assert {c["Company"] for c in cells} == {"=ACME"}  # typed as text, not a formula
    assert all(c.data_type != "f" for row in book["payroll"].iter_rows() for c in row)
    sealed = table(
        workbook(
            app.get(
                "/v1/payroll/2026-Q1?format=xlsx", headers=auth(settings, Role.FINANCE, "f")
            ).content
        )["payroll"]
    )
    q1 = {p["rep_id"]: p for p in api(app, settings, "/v1/payouts/2026-Q1")["items"]}
    assert Decimal(str(next(r for r in sealed if r["Mã NV"] == "1001")["Amount"])) == Decimal(
        q1["an"]["total"]
    )


def test_the_audit_pack_s_tables_as_xlsx(app: TestClient, settings: Settings) -> None:
    h = auth(settings, Role.FINANCE, "fin")
    answer = app.get("/v1/audit/export/2026-Q1?format=xlsx", headers=h)
    assert answer.status_code == 200 and answer.headers["content-type"] == XLSX_TYPE
    book = workbook(answer.content)
    assert book.sheetnames == ["statement_lines", "payouts", "adjustments", "events"]
    assert all(book[name].freeze_panes == "A2" for name in book.sheetnames)
    payouts = {p["rep_id"]: p for p in api(app, settings, "/v1/payouts/2026-Q1")["items"]}
    for row in table(book["payouts"]):
        assert Decimal(str(row["total"])) == Decimal(payouts[row["rep_id"]]["total"])
    import zipfile

    pack = zipfile.ZipFile(io.BytesIO(app.get("/v1/audit/export/2026-Q1", headers=h).content))
    assert pack.read("2026-Q1/tables.xlsx") == answer.content  # deterministic, in the pack


def test_payroll_mapping_errors_are_named_at_their_path() -> None:
    bad = """
columns:
  - {header: A, field: employee_no}
  - {header: B}
  - {header: C, field: amount, extra: 1}
pay_codes: {commision: X}
"""
    with pytest.raises(MappingError) as found:
        mapping_from_text(bad, "columns.yaml")
    paths = [p for p, _ in found.value.problems]
    assert paths == ["columns.0.field", "columns.1", "columns.2.extra", "pay_codes.commision"]
    assert "give either field or value" in str(found.value)
    with pytest.raises(MappingError, match=r"\(document\)"):
        mapping_from_text("- a list", "x")
    with pytest.raises(MappingError, match=r"line [23]"):  # the end of the text: libyaml says 3
        mapping_from_text("columns: [\n  {", "x")


def test_a_mapping_without_a_code_or_a_number_refuses_the_export(
    app: TestClient, settings: Settings, tmp_path: Path
) -> None:
    strict = tmp_path / "strict.yaml"
    strict.write_text("columns: [{header: n, field: employee_number}]\npay_codes: {spiff: S}\n")
    with TestClient(
        create_app(settings.model_copy(update={"payroll_columns": strict})),
        raise_server_exceptions=False,
    ) as client:
        answer = client.get("/v1/payroll/2026-Q1", headers=auth(settings, Role.FINANCE, "f"))
        assert answer.status_code == 409
        message = answer.json()["error"]["message"]
        assert "employee_numbers.an: no employee number" in message
        assert "pay_codes.commission: no pay code" in message


def test_bands_of_a_histogram() -> None:
    found = bands([Decimal(v) for v in (0, 2_000_000, 17_700_000, 17_700_000, 38_000_000)])
    assert [(b.low, b.high, b.count) for b in found] == [
        (0, 5_000_000, 2), (5_000_000, 10_000_000, 0), (10_000_000, 15_000_000, 0),
        (15_000_000, 20_000_000, 2), (20_000_000, 25_000_000, 0), (25_000_000, 30_000_000, 0),
        (30_000_000, 35_000_000, 0), (35_000_000, 40_000_000, 1),
    ]  # fmt: skip
    assert [(b.low, b.high, b.count) for b in bands([Decimal(7), Decimal(7)])] == [(7, 7, 2)]
    assert bands([]) == []
    assert money_format("VND") == '#,##0 "₫"' and money_format("USD") == '"$"#,##0.00'


def test_the_payroll_is_refused_when_the_log_fails_verification(tmp_path: Path) -> None:
    settings = api_settings(sqlite_settings(tmp_path))
    seed(settings)
    engine = Engine(settings)
    views = views_of(engine)
    try:
        checkpoint_after_verify(engine, views, reason="test")
    finally:
        views.dispose()
        engine.close()
    with EventStore(settings) as store:
        last = store.max_position()
    sql(settings)("DELETE FROM stored_events WHERE notification_id = %s", (last,))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        answer = client.get("/v1/payroll/2026-Q1", headers=auth(settings, Role.FINANCE, "f"))
        assert answer.status_code == 409 and "refused: the log FAILED" in answer.text
        client.cookies.set("ie_session", issue_token(settings, Role.FINANCE, "fin"))
        for path in ("/pay-run/2026-Q1/payroll.csv", "/pay-run/2026-Q1.xlsx"):
            page = client.get(path)
            assert page.status_code == 409 and "the log FAILED" in page.text, path


# ------------------------------------------------------------------ browser


@pytest.fixture(scope="module")
def live(settings: Settings) -> Iterator[Any]:
    with serving(settings, {"INCENTIVE_PAYROLL_COLUMNS": str(settings.payroll_columns)}) as s:
        yield s


def test_finance_sorts_filters_and_downloads_in_chromium(
    browser: Browser, live: Any, settings: Settings, tmp_path: Path
) -> None:
    context = browser.new_context(
        base_url=live.url,
        accept_downloads=True,
        viewport={"width": 1280, "height": 900},
        bypass_csp=True,  # for axe only; the page's own scripts are files of this host
    )
    page = context.new_page()
    sign_in(page, live.token(Role.FINANCE, "fin"), "/pay-run/2026-Q1")
    page.wait_for_selector('[data-test="pay-run-table"]')
    page.wait_for_function(
        "() => { const c = document.querySelector('canvas[data-chart]');"
        " return c && c.width > 0 && window.Chart && Chart.getChart(c); }"
    )
    page.click('a[data-sort="total"]')
    page.wait_for_selector('th[aria-sort="ascending"] a[data-sort="total"]')
    page.click('a[data-sort="total"]')
    page.wait_for_selector('th[aria-sort="descending"] a[data-sort="total"]')
    assert "sort=total" in page.url and "order=desc" in page.url
    shown = page.eval_on_selector_all("tbody tr[data-rep]", "rows => rows.map(r => r.dataset.rep)")
    payouts = live.api("/v1/payouts/2026-Q1", live.token(Role.FINANCE, "fin"))["items"]
    by_total = sorted(payouts, key=lambda p: (-Decimal(p["total"]), p["rep_id"]))
    assert shown == [p["rep_id"] for p in by_total]
    page.select_option("#team", "Hà Nội 1")
    page.wait_for_function("() => document.querySelectorAll('tbody tr[data-rep]').length === 1")
    assert page.eval_on_selector("tbody tr[data-rep]", "r => r.dataset.rep") == "dung"
    page.wait_for_function(
        "() => { const c = document.querySelector('canvas[data-chart]');"
        " return c && window.Chart && Chart.getChart(c); }"
    )
    shoot(page, tmp_path / "pay-run-vi.png", full_page=True)
    assert violations(page) == []
    page.select_option("#team", "")
    page.wait_for_function("() => document.querySelectorAll('tbody tr[data-rep]').length > 1")
    with page.expect_download() as info:
        page.click('[data-test="download-xlsx"]')
    saved = tmp_path / "payouts.xlsx"
    info.value.save_as(saved)
    got = table(openpyxl.load_workbook(saved)["payouts"])
    an = next(r for r in got if r["rep_id"] == "an")
    assert Decimal(str(an["total"])) == Decimal("17700000") and an["name"] == "Nguyễn Văn An"
    page.click('button[lang="en"]')
    page.wait_for_selector('html[lang="en"]')
    page.goto("/pay-run/2026-Q2")
    page.wait_for_selector('[data-test="failures"]')
    assert "Statements that cannot be computed" in page.content()
    shoot(page, tmp_path / "pay-run-en.png", full_page=True)
    assert violations(page) == []
    context.close()


def test_the_page_is_fast_on_this_store(app: TestClient, settings: Settings) -> None:
    fin = as_(app, settings, Role.FINANCE, "fin")
    fin.get("/pay-run/2026-Q2")
    started = time.perf_counter()
    for _ in range(5):
        assert fin.get("/pay-run/2026-Q2").status_code == 200
    assert (time.perf_counter() - started) / 5 < 0.5


def test_the_cli_writes_the_same_workbooks(
    app: TestClient, settings: Settings, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from incentive_engine.cli.main import app as cli

    run = CliRunner()
    store = ["--store", settings.store_url]
    out = tmp_path / "payouts.xlsx"
    done = run.invoke(cli, [*store, "payouts", "2026-Q1", "--format", "xlsx", "--output", str(out)])
    assert done.exit_code == 0, done.output
    via_api = app.get("/v1/payouts/2026-Q1?format=xlsx", headers=auth(settings, Role.FINANCE, "f"))
    assert out.read_bytes() == via_api.content
    assert run.invoke(cli, [*store, "payouts", "2026-Q1", "--format", "xlsx"]).exit_code == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: [{header: a, field: nope}]\npay_codes: {default: X}\n")
    refused = run.invoke(cli, [*store, "payroll", "2026-Q1", "--columns", str(bad)])
    assert refused.exit_code == 1 and "columns.0.field" in refused.stderr
    payroll = tmp_path / "payroll.csv"
    good = [*store, "payroll", "2026-Q1", "--columns", str(settings.payroll_columns)]
    assert run.invoke(cli, [*good, "--output", str(payroll)]).exit_code == 0
    assert (
        payroll.read_bytes()
        == app.get("/v1/payroll/2026-Q1", headers=auth(settings, Role.FINANCE, "f")).content
    )
