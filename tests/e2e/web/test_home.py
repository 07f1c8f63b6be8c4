"""The rep's home page ("Home / my earnings") and ``/reps/{rep}``: who may see it, its figures
against the engine's own and hand-computed ones (tests/e2e/web/home_store.py), what changed
since the last visit, the charts drawn in a real browser, both languages and axe."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page

from api.auth import Role, issue_token
from api.web.i18n import Formatter, messages
from incentive_engine.domain.events import QuotaChanged
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, client
from tests.e2e.web.conftest import Server, serving, shoot, sign_in, text
from tests.e2e.web.home_store import ADJUSTMENT, DRAW_BALANCE, NEXT_GATE_NEEDS, seed_home
from tests.e2e.web.test_accessibility import violations

VI = Formatter("vi", "Asia/Ho_Chi_Minh")
EN = Formatter("en", "Asia/Ho_Chi_Minh")
WEB = Path(__file__).resolve().parents[3] / "api" / "web"


@pytest.fixture(scope="module")
def store_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = api_settings(sqlite_settings(tmp_path_factory.mktemp("home-store")))
    seed_home(settings)
    return settings


@pytest.fixture(scope="module")
def home_server(store_settings: Settings) -> Iterator[Server]:
    with serving(store_settings) as found:
        yield found


def as_(settings: Settings, role: Role, subject: str) -> TestClient:
    found = client(settings)
    found.cookies.set("ie_session", issue_token(settings, role, subject))
    return found


# ------------------------------------------------------------------ visibility


@pytest.mark.parametrize(
    ("role", "subject", "path", "status"),
    [
        (Role.REP, "an", "/", 200),  # own
        (Role.REP, "an", "/reps/an", 200),  # own, by its address
        (Role.MANAGER, "mgr", "/reps/an", 200),  # a report, as their manager
        (Role.MANAGER, "mgr", "/", 200),  # a manager's own home
        (Role.FINANCE, "fin", "/reps/an", 200),  # finance sees everyone's pay
        (Role.REP, "binh", "/reps/an", 403),  # another rep
        (Role.REP, "an", "/reps/binh", 403),
        (Role.REP, "an", "/reps/nobody", 403),  # the same answer whether or not the rep exists
        (Role.PLAN_ADMIN, "admin", "/reps/an", 403),
    ],
)
def test_who_may_see_a_reps_home(
    store_settings: Settings, role: Role, subject: str, path: str, status: int
) -> None:
    answer = as_(store_settings, role, subject).get(path)
    assert answer.status_code == status, answer.text[:500]
    if status == 403:
        assert "10.000.000" not in answer.text and "Nguyễn Văn An" not in answer.text
    elif path.startswith("/reps/an") or subject == "an":
        assert 'data-test="draw-balance"' in answer.text and "Nguyễn Văn An" in answer.text


def test_signed_out_goes_to_sign_in_and_htmx_gets_401(store_settings: Settings) -> None:
    anonymous = client(store_settings)
    for path in ("/", "/reps/an"):
        answer = anonymous.get(path, follow_redirects=False)
        assert answer.status_code in (302, 303) and "/sign-in" in answer.headers["location"]
        fragment = anonymous.get(path, headers={"HX-Request": "true"}, follow_redirects=False)
        assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith(
            "/sign-in"
        )


def test_a_manager_sees_a_report_read_only_and_a_rep_sees_only_their_own_in_the_page(
    store_settings: Settings,
) -> None:
    page = as_(store_settings, Role.MANAGER, "mgr").get("/reps/an").text
    assert 'data-test="read-only"' in page and "Nguyễn Văn An" in page
    assert '<form method="post" action="/reps' not in page  # nothing to write here
    own = as_(store_settings, Role.REP, "binh").get("/").text
    assert "Lê Văn Bình" in own and "Nguyễn Văn An" not in own


# --------------------------------------------------------------------- figures


def figure(html: str, test: str) -> str:
    found = re.search(rf'data-test="{test}"[^>]*>([^<]*)<', html)
    assert found is not None, test
    return text(found.group(1))


def test_home_figures_are_the_engines_and_the_hand_computed_ones(store_settings: Settings) -> None:
    rep = as_(store_settings, Role.REP, "an")
    html = rep.get("/").text
    bearer = {"Authorization": f"Bearer {issue_token(store_settings, Role.REP, 'an')}"}
    [december] = rep.get("/v1/reps/an/statements/2026-12", headers=bearer).json()
    # the next step: the 40 % gate, quota 100,000,000 x 40 % - 30,000,000 credited
    assert Decimal(december["credited"]) == Decimal(30_000_000)
    assert figure(html, "revenue-needed") == text(VI.money(NEXT_GATE_NEEDS, "VND"))
    # the draw balance: the evaluator's own "owed after" on December's draw line
    [draw] = [ln for ln in december["lines"] if ln["kind"] == "draw"]
    assert "owed after: 10,000,000 VND" in draw["description"]
    assert figure(html, "draw-balance") == text(VI.money(DRAW_BALANCE, "VND"))
    # the adjustment carried into November for October, citing the cancellation
    [november] = rep.get("/v1/reps/an/statements/2026-11", headers=bearer).json()
    [prior] = [ln for ln in november["lines"] if ln["kind"] == "prior_period"]
    assert Decimal(prior["amount"]) == ADJUSTMENT and prior["event_ids"] == ["cancel-O2"]
    assert figure(html, "adjustment-amount") == text(VI.money(ADJUSTMENT, "VND"))
    assert "Hợp đồng O2 bị hủy ngày 20/11/2026" in html
    # pace: credited by today is the statement's credited revenue (one deal on 1 Dec)
    assert figure(html, "credited-by-today") == text(VI.money(Decimal(30_000_000), "VND"))
    assert 'data-test="chart-pace-monthly"' in html and 'data-test="chart-earnings"' in html


def test_what_changed_since_the_last_visit_is_remembered_per_user_server_side(
    tmp_path: Path,
) -> None:
    settings = api_settings(sqlite_settings(tmp_path))
    seed_home(settings)
    first = as_(settings, Role.REP, "an").get("/").text
    assert 'data-test="first-visit"' in first
    assert first.count('data-change="') == 5  # the latest few
    again = as_(settings, Role.REP, "an").get("/").text  # another browser, same person
    assert 'data-test="nothing-new"' in again and 'data-test="first-visit"' not in again
    with EventStore(settings) as store:
        store.append([QuotaChanged(event_id="qc-an-12", subject_id="an", period="2026-12",
                                   amount=Decimal(80_000_000), currency="VND",
                                   effective_date="2026-12-01", reason="re-plan")])  # fmt: skip
    later = as_(settings, Role.REP, "an").get("/").text
    assert re.findall(r'data-event="([^"]+)"', later) == ["qc-an-12"]
    assert "Chỉ tiêu kỳ 2026-12 được đổi thành 80.000.000 ₫ từ 01/12/2026." in text(later)
    # the manager's visit is theirs: a first visit of an's page, whatever an saw
    manager = as_(settings, Role.MANAGER, "mgr").get("/reps/an").text
    assert 'data-test="first-visit"' in manager
    english = as_(settings, Role.REP, "binh")
    english.cookies.set("ie_lang", "en")
    assert "Quota for 2026-11 set to ₫100,000,000 from 1 Nov 2026." in text(english.get("/").text)


def test_every_home_sentence_is_translated_into_both_languages() -> None:
    labels: set[str] = set()
    for name in ("templates/home.html", "templates/changes.html", "rep.py"):
        content = (WEB / name).read_text(encoding="utf-8")
        labels |= set(re.findall(r'(?:_|gettext)\("([^"]+)"', content))
    assert len(labels) > 40
    vi, en = messages("vi"), messages("en")
    assert sorted(labels - vi.keys()) == [] and sorted(labels - en.keys()) == []
    for label in labels:  # the placeholders survive translation
        assert set(re.findall(r"{\w+}", vi[label])) == set(re.findall(r"{\w+}", label)), label


# --------------------------------------------------------------------- browser


def drawn_charts(page: Page) -> list[dict[str, Any]]:
    return page.evaluate(
        "() => [...document.querySelectorAll('canvas[data-chart]')].map(c => ({"
        "id: c.dataset.chart, drawn: c.dataset.drawn, chart: !!Chart.getChart(c)}))"
    )


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_home_page_in_a_browser_draws_its_charts_and_shows_the_figures(
    browser: Browser, home_server: Server, tmp_path: Path, lang: str
) -> None:
    fmt = VI if lang == "vi" else EN
    context = browser.new_context(base_url=home_server.url, viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "ie_lang", "value": lang, "url": home_server.url}])
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        token = home_server.token(Role.REP, "an")
        sign_in(page, token)
        page.wait_for_function("document.querySelectorAll('canvas[data-drawn=\"1\"]').length >= 2")
        shoot(page, tmp_path / f"home-{lang}.png", full_page=True)
        charts = drawn_charts(page)
        assert {c["id"] for c in charts} == {"pace-monthly-data", "earnings-data"}
        assert all(c["drawn"] == "1" and c["chart"] for c in charts)
        assert text(page.inner_text("[data-test=revenue-needed]")) == text(
            fmt.money(NEXT_GATE_NEEDS, "VND")
        )
        assert text(page.inner_text("[data-test=draw-balance]")) == text(
            fmt.money(DRAW_BALANCE, "VND")
        )
        # pace: the figures of the chart's own table, today's row
        [december] = home_server.api("/v1/reps/an/statements/2026-12", token)  # type: ignore[misc]
        credited = text(page.inner_text("[data-test=credited-by-today]"))
        assert credited == text(fmt.money(Decimal(december["credited"]), "VND"))
        expected = text(page.inner_text("[data-test=expected-by-today]"))
        today = date.fromisoformat(page.get_attribute("[data-test=pace]", "data-today") or "")
        rows = page.locator("[data-test=chart-pace-monthly] tbody tr").all_text_contents()
        today_row = [text(r) for r in rows if text(r).startswith(fmt.date(today))]
        assert today_row and today_row[0].endswith(expected)
        # the prorated quota of the day: 100,000,000 x days elapsed / 31, hand-computed
        hand = (Decimal(100_000_000) * today.day / 31).quantize(Decimal(1), ROUND_HALF_UP)
        assert expected == text(fmt.money(hand, "VND"))
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_home_pages_have_no_serious_accessibility_violation(
    browser: Browser, home_server: Server, tmp_path: Path, lang: str
) -> None:
    context = browser.new_context(base_url=home_server.url, bypass_csp=True)
    context.add_cookies([{"name": "ie_lang", "value": lang, "url": home_server.url}])
    try:
        page = context.new_page()
        sign_in(page, home_server.token(Role.REP, "an"))
        found = {"home": violations(page)}
        context.clear_cookies()
        context.add_cookies([{"name": "ie_lang", "value": lang, "url": home_server.url}])
        sign_in(page, home_server.token(Role.MANAGER, "mgr"), "/reps/an")
        page.wait_for_function("document.querySelectorAll('canvas[data-drawn=\"1\"]').length >= 2")
        shoot(page, tmp_path / f"reps-an-as-manager-{lang}.png", full_page=True)
        found["reps/an"] = violations(page)
        page.goto("/reps/binh")
        assert "binh" in page.url
        found["reps/binh (a report)"] = violations(page)
        assert {k: v for k, v in found.items() if v} == {}
    finally:
        context.close()
