"""The manager's "My team" page (/team): who may open it (a manager their own reports, finance
any manager's, a rep never, signed out to sign-in), reporting lines over time (a report who
moved to another manager appears only for the periods the manager managed them), figures
checked against the API's own (attainment, earnings, payouts), one broken statement shown on
its row only; and in Chromium: the table and the chart, in Vietnamese and English, axe-clean."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page

from api.app import create_app
from api.auth import Role, issue_token
from api.web.i18n import Formatter
from incentive_engine.domain.events import RepTransferred
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import snapshot
from incentive_engine.services.team import expected_by, team_of
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, seed
from tests.e2e.test_quarantine_gaps import JUNK_ADJUSTMENT
from tests.e2e.test_write_scopes import insert_raw
from tests.e2e.web.conftest import Server, shoot, sign_in, text
from tests.e2e.web.test_accessibility import violations
from tests.examples.plans import quota, rep

VI = Formatter("vi", "Asia/Ho_Chi_Minh")
EN = Formatter("en", "Asia/Ho_Chi_Minh")


def moves(settings: Settings) -> None:
    """On the shared seed: a second manager mgr2 who manages chau from 2026-01-01 and binh
    from 2026-04-15 (binh is mgr's report in Q1 and mgr2's in Q2)."""
    with EventStore(settings) as store:
        store.append(
            [
                rep("mgr2", role="manager", name="Lê Văn Hai", team="HN 1"),
                RepTransferred(
                    event_id="t-chau",
                    rep_id="chau",
                    effective_date=date(2026, 1, 1),
                    team="HN 1",
                    manager_id="mgr2",
                ),
                RepTransferred(
                    event_id="t-binh",
                    rep_id="binh",
                    effective_date=date(2026, 4, 15),
                    team="HN 1",
                    manager_id="mgr2",
                ),
                quota("binh", 300_000_000, "2026-Q2"),
            ]
        )


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    found = api_settings(sqlite_settings(tmp_path_factory.mktemp("team-store")))
    seed(found)
    moves(found)
    return found


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def as_(client: TestClient, settings: Settings, role: Role, subject: str) -> TestClient:
    client.cookies.set("ie_session", issue_token(settings, role, subject))
    return client


def rows_of(html: str) -> list[str]:
    """The rep ids of the team table's rows."""
    return re.findall(r'<tr data-rep="([^"]+)">', html)


def cell(html: str, rep_id: str, name: str) -> str:
    """The text of a row's cell (data-test=name), tags stripped, spaces plain."""
    row = html.split(f'<tr data-rep="{rep_id}">', 1)[1].split("</tr>", 1)[0]
    found = re.search(rf'data-test="{name}"[^>]*>(.*?)</td>', row, re.S)
    assert found, (rep_id, name, row)
    return text(re.sub(r"<[^>]+>", " ", found.group(1)).replace("&nbsp;", " ")).strip()


def api(client: TestClient, settings: Settings, path: str, role: Role, who: str) -> Any:
    answer = client.get(path, headers=auth(settings, role, who))
    assert answer.status_code == 200, answer.text
    return answer.json()


# ----------------------------------------------------------- who sees what


def test_a_manager_sees_only_their_reports_with_the_engines_figures(
    app: TestClient, settings: Settings
) -> None:
    page = as_(app, settings, Role.MANAGER, "mgr").get("/team?period=2026-Q1")
    assert page.status_code == 200
    html = page.text
    assert rows_of(html) == ["an", "binh"]  # not chau (mgr2's), not mgr themself
    attainment = {
        a["subject_id"]: a
        for a in api(app, settings, "/v1/attainment/2026-Q1", Role.MANAGER, "mgr")["items"]
    }
    payouts = {
        p["rep_id"]: p
        for p in api(app, settings, "/v1/payouts/2026-Q1", Role.FINANCE, "fin")["items"]
    }
    for rep_id in ("an", "binh"):
        a = attainment[rep_id]
        assert cell(html, rep_id, "attainment") == text(VI.percent(Decimal(a["attainment"])))
        assert cell(html, rep_id, "credited") == text(VI.money(Decimal(a["credited"]), "VND"))
        assert cell(html, rep_id, "quota") == text(VI.money(Decimal(a["quota"]), "VND"))
        total = Decimal(payouts[rep_id]["total"])
        assert cell(html, rep_id, "earned") == text(VI.money(total, "VND"))
        assert cell(html, rep_id, "status") == "đang mở"
        assert f'href="/statements/{rep_id}/2026-Q1"' in html
        assert f'href="/reps/{rep_id}"' in html
    # hand-computed: an 390,000,000 / 300,000,000 = 130 %; graduated 17,700,000 (DESIGN §5)
    assert cell(html, "an", "attainment") == "130,0 %"
    assert cell(html, "an", "earned") == "17.700.000 ₫"
    # team attainment = (390 + 100) / (300 + 300) = 81.7 %
    assert 'data-test="team-attainment">81,7' in html
    assert 'href="/disputes"' in html and 'href="/leaderboards?scope=team"' in html
    assert 'data-test="chart-team-attainment"' in html


def test_reporting_lines_over_time_decide_who_is_on_the_team(
    app: TestClient, settings: Settings
) -> None:
    mgr = as_(app, settings, Role.MANAGER, "mgr")
    assert rows_of(mgr.get("/team?period=2026-Q1").text) == ["an", "binh"]
    assert rows_of(mgr.get("/team?period=2026-Q2").text) == ["an"]  # binh left on 15/04
    mgr2 = as_(app, settings, Role.MANAGER, "mgr2")
    assert rows_of(mgr2.get("/team?period=2026-Q1").text) == ["chau"]
    assert rows_of(mgr2.get("/team?period=2026-Q2").text) == ["binh", "chau"]


def test_another_manager_cannot_open_a_team_not_below_them(
    app: TestClient, settings: Settings
) -> None:
    mgr2 = as_(app, settings, Role.MANAGER, "mgr2")
    refused = mgr2.get("/team?period=2026-Q1&manager=mgr")
    assert refused.status_code == 403
    assert "an" not in rows_of(refused.text) and "17.700.000" not in refused.text


def test_a_rep_is_refused_the_team_page(app: TestClient, settings: Settings) -> None:
    for who in ("an", "mgr"):  # mgr's token as a rep: the role decides, not the id
        refused = as_(app, settings, Role.REP, who).get("/team?period=2026-Q1")
        assert refused.status_code == 403
        assert "Chỉ quản lý mới có nhóm." in refused.text and rows_of(refused.text) == []
    plan_admin = as_(app, settings, Role.PLAN_ADMIN, "pa").get("/team?manager=mgr")
    assert plan_admin.status_code == 403


def test_finance_picks_a_manager(app: TestClient, settings: Settings) -> None:
    fin = as_(app, settings, Role.FINANCE, "fin")
    picker = fin.get("/team?period=2026-Q1")
    assert picker.status_code == 200 and rows_of(picker.text) == []
    assert '<option value="mgr"' in picker.text and '<option value="mgr2"' in picker.text
    assert rows_of(fin.get("/team?period=2026-Q1&manager=mgr").text) == ["an", "binh"]


def test_signed_out_goes_to_sign_in(settings: Settings) -> None:
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    answer = client.get("/team?period=2026-Q1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in?next=/team")
    htmx = client.get("/team", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/sign-in")


def test_a_bad_period_is_a_clear_message(app: TestClient, settings: Settings) -> None:
    answer = as_(app, settings, Role.MANAGER, "mgr").get("/team?period=2026-Q9")
    assert answer.status_code == 422 and "period:" in answer.text


def test_reading_the_team_is_in_the_access_log(app: TestClient, settings: Settings) -> None:
    as_(app, settings, Role.MANAGER, "mgr").get("/team?period=2026-Q1")
    found = api(app, settings, "/v1/access-log?resource=team", Role.FINANCE, "fin")
    mine = {
        r["rep_id"]
        for r in found["items"]
        if r["actor"] == "mgr" and r["resource"] == "team" and r["period"] == "2026-Q1"
    }
    assert mine == {"an", "binh"}


def test_one_broken_statement_shows_on_its_row_only(tmp_path: Path) -> None:
    s = api_settings(sqlite_settings(tmp_path))
    seed(s)
    insert_raw(s, JUNK_ADJUSTMENT, recorded_at="2026-04-01T00:00:00.000000+00:00")
    with TestClient(create_app(s), raise_server_exceptions=False) as client:
        html = as_(client, s, Role.MANAGER, "mgr").get("/team?period=2026-Q1")
        assert html.status_code == 200
        assert rows_of(html.text) == ["an", "binh"]
        assert "adj-junk" in cell(html.text, "an", "status")
        assert cell(html.text, "an", "earned") == "–"
        assert cell(html.text, "an", "attainment") == "130,0 %"  # attainment still stands
        assert cell(html.text, "binh", "status") == "đang mở"
        assert cell(html.text, "binh", "earned") == "2.000.000 ₫"


# ------------------------------------------------------------------ pace


def test_pace_is_the_prorated_quota_by_today(settings: Settings) -> None:
    with EventStore(settings) as store:
        snap = snapshot(store)
    q1 = Period.parse("2026-Q1")
    manager = Role.MANAGER
    from api.auth import Principal

    team = team_of(snap, Principal(manager, "mgr"), "mgr", q1, date(2026, 2, 14))
    an = next(r for r in team.rows if r.rep_id == "an")
    # 2026-01-01..2026-02-14 is 45 days of 90: 300,000,000 x 45 / 90 = 150,000,000
    assert an.expected == Decimal(150_000_000)
    assert an.pace == Decimal(240_000_000)  # credited 390,000,000, ahead
    assert team.totals.expected == Decimal(300_000_000)
    assert team.totals.attainment is not None
    assert round(team.totals.attainment, 1) == Decimal("81.7")
    assert expected_by(Decimal(90), q1, date(2026, 4, 1)) is None
    assert expected_by(Decimal(90), q1, q1.end) == Decimal(90)


# -------------------------------------------------------------- in Chromium


def test_a_manager_reads_the_team_table_and_chart(
    page: Page, server: Server, tmp_path: Path
) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    token = server.token(Role.MANAGER, "mgr")
    sign_in(page, token, "/team")
    assert page.url.endswith("/team")
    shoot(page, tmp_path / "team-vi.png", full_page=True)
    rows = page.locator("[data-test=team-table] tbody tr")
    assert [rows.nth(i).get_attribute("data-rep") for i in range(rows.count())] == ["an", "binh"]
    attainment = server.api("/v1/attainment/2026-Q1", token)
    assert isinstance(attainment, dict)
    for a in attainment["items"]:
        if a["subject_id"] in ("an", "binh"):
            shown = page.inner_text(f"tr[data-rep={a['subject_id']}] [data-test=attainment]")
            assert text(shown) == text(VI.percent(Decimal(a["attainment"])))
    canvas = page.locator("[data-test=chart-team-attainment] canvas")
    canvas.wait_for()
    assert canvas.get_attribute("data-drawn") == "1"  # Chart.js drew it (no CSP refusal)
    assert canvas.bounding_box() is not None
    page.click("button[value=en]")  # the language switch: English
    page.wait_for_load_state()
    assert "My team" in page.inner_text("h1")
    earned = text(page.inner_text("tr[data-rep=an] [data-test=earned]"))
    assert earned == text(EN.money(Decimal(17_700_000), "VND"))
    shoot(page, tmp_path / "team-en.png", full_page=True)
    page.click("tr[data-rep=an] a:has-text('Statement')")
    page.wait_for_url("**/statements/an/2026-Q1")
    assert "sha256:" in page.inner_text("[data-test=statement-hash]")  # read-only, not 403
    assert errors == []


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_team_page_has_no_serious_accessibility_violation(
    browser: Browser, server: Server, tmp_path: Path, lang: str
) -> None:
    context = browser.new_context(base_url=server.url, bypass_csp=True)
    context.add_cookies([{"name": "ie_lang", "value": lang, "url": server.url}])
    try:
        page = context.new_page()
        sign_in(page, server.token(Role.MANAGER, "mgr"), "/team")
        page.locator("[data-test=chart-team-attainment] canvas").wait_for()
        shoot(page, tmp_path / f"team-axe-{lang}.png", full_page=True)
        assert violations(page) == []
    finally:
        context.close()
