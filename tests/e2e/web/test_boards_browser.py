"""Leaderboards, badges and the TV board in Chromium, on a store of this module's own: the
rep's own row highlighted at the rank the API gives, badges with their day and events, the TV
following the log by itself (no reload), and axe checks, in Vietnamese and English."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, expect

from api.auth import Role, issue_display_key
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.web.boards_seed import activity, seed_boards
from tests.e2e.web.conftest import Server, serving, shoot, sign_in, text
from tests.e2e.web.test_accessibility import violations


@pytest.fixture(scope="module")
def boards_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = seed_boards(sqlite_settings(tmp_path_factory.mktemp("boards-web")))
    with serving(settings) as found:
        yield found


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_rep_sees_the_board_with_the_own_row_and_badges(
    browser: Browser, boards_server: Server, tmp_path: Path, lang: str
) -> None:
    context = browser.new_context(
        base_url=boards_server.url, viewport={"width": 1280, "height": 900}
    )
    context.add_cookies([{"name": "ie_lang", "value": lang, "url": boards_server.url}])
    try:
        page = context.new_page()
        token = boards_server.token(Role.REP, "an")
        sign_in(page, token, "/leaderboards")
        api: Any = boards_server.api("/v1/leaderboards/points?period=2026-Q1", token)
        own = page.locator("[data-test=own-row]")
        expect(own).to_have_count(1)
        assert own.get_attribute("data-rep") == "an"
        assert text(own.locator("[data-test=rank]").inner_text()) == str(api["you"]["rank"])
        assert text(own.locator("[data-test=value]").inner_text()) == api["you"]["value"] == "57"
        assert own.locator("[data-move=up]").count() == 1
        assert page.locator("canvas[data-chart]").count() == 1
        badges = page.locator("[data-test=badge]")
        expect(badges).to_have_count(3)
        first = page.locator("[data-badge=first]")
        day = "10/02/2026" if lang == "vi" else "10 Feb 2026"
        assert text(first.locator("[data-test=badge-day]").inner_text()) == day
        assert first.locator("[data-test=badge-event]").inner_text() == "won-D-AN"
        assert page.locator("h1").inner_text() == (
            "Bảng xếp hạng" if lang == "vi" else "Leaderboards"
        )
        shoot(page, tmp_path / f"leaderboards-{lang}.png", full_page=True)
        # a picker swaps the board in place (htmx), and the address follows it
        page.select_option("#pick-metric", "deals_won")
        expect(page.locator("[data-test=board] h2")).to_contain_text(
            "Hợp đồng thắng" if lang == "vi" else "Deals won"
        )
        assert "metric=deals_won" in page.url
        own = page.locator("[data-test=own-row]")
        assert text(own.locator("[data-test=value]").inner_text()) == "1"
        assert (
            page.locator("tr[data-rep=chau] [data-test=value]").inner_text().strip().startswith("–")
        )
        shoot(page, tmp_path / f"deals-won-{lang}.png", full_page=True)
    finally:
        context.close()


def test_the_tv_follows_the_log_without_a_reload(
    browser: Browser, boards_server: Server, tmp_path: Path
) -> None:
    key = issue_display_key(boards_server.settings, "lobby").token
    context = browser.new_context(
        base_url=boards_server.url, viewport={"width": 1920, "height": 1080}
    )
    try:
        page = context.new_page()
        target = "/tv/points/2026-Q1?every=2"
        page.goto(f"/tv?key={quote(key)}&next={quote(target)}")
        assert page.url.endswith(target) and "key=" not in page.url
        chau = page.locator("tr[data-rep=chau] [data-test=value]")
        expect(chau).to_have_text("5")
        loaded = page.evaluate("performance.timeOrigin")
        shoot(page, tmp_path / "tv-before.png", full_page=True)
        with EventStore(boards_server.settings) as store:
            store.append(
                [activity(f"chau-demo-{n}", "chau", "demo", f"2026-03-1{n}T03:00:00Z")
                 for n in range(1, 10)]  # 9 demos: 5 + 45 = 50 points, 2nd place
            )  # fmt: skip
        expect(chau).to_have_text("50", timeout=20_000)
        expect(page.locator("tr[data-rep=chau] [data-test=rank]")).to_have_text("2")
        assert page.evaluate("performance.timeOrigin") == loaded  # the same page: no reload
        shoot(page, tmp_path / "tv-after.png", full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_boards_and_the_tv_pass_axe(
    browser: Browser, boards_server: Server, tmp_path: Path, lang: str
) -> None:
    context = browser.new_context(base_url=boards_server.url, bypass_csp=True)
    context.add_cookies([{"name": "ie_lang", "value": lang, "url": boards_server.url}])
    try:
        page = context.new_page()
        sign_in(page, boards_server.token(Role.REP, "an"), "/leaderboards")
        found = {"leaderboards": violations(page)}
        page.goto("/badges/an")
        found["badges"] = violations(page)
        key = issue_display_key(boards_server.settings, "axe").token
        page.goto(f"/tv?key={quote(key)}&next={quote('/tv/points/2026-Q1')}")
        found["tv"] = violations(page)
        shoot(page, tmp_path / f"tv-{lang}.png", full_page=True)
        page.context.clear_cookies()
        page.goto("/tv/points/2026-Q1")
        found["tv-key"] = violations(page)
        assert {k: v for k, v in found.items() if v} == {}
    finally:
        context.close()
