"""Browser tests of the web pages: ``incentive-engine serve`` on a seeded store, driven by
Debian's chromium through Playwright (never a downloaded browser; missing chromium fails)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, sync_playwright

from api.auth import Role, issue_token
from incentive_engine.settings import Settings
from tests.broker import free_port
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import SECRET, api_settings, seed

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Server:
    """A running ``incentive-engine serve`` and the settings of its store."""

    url: str
    settings: Settings

    def token(self, role: Role, subject: str) -> str:
        """A fresh token, as ``incentive-engine token ROLE SUBJECT`` prints."""
        return issue_token(self.settings, role, subject)

    def api(self, path: str, token: str) -> object:
        """The JSON answer of the API of the same process."""
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())


@contextmanager
def serving(settings: Settings, env: dict[str, str] | None = None) -> Iterator[Server]:
    """``incentive-engine serve`` on the store of these settings, until the block ends (for a
    test module that needs a store of its own: seed it, then serve it)."""
    port = free_port()
    env = {**os.environ, "INCENTIVE_STORE_URL": settings.store_url, "INCENTIVE_API_SECRET": SECRET,
           **(env or {})}  # fmt: skip
    env.pop("INCENTIVE_WEB_LOCALE", None)
    proc = subprocess.Popen([sys.executable, "-m", "incentive_engine", "serve", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    pytest.fail(f"serve did not start: {proc.communicate()[1][-2000:]}")
                time.sleep(0.1)
        yield Server(url, settings)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The web app on the API tests' seeded store (shared: never append to it in a test)."""
    settings = api_settings(sqlite_settings(tmp_path_factory.mktemp("web-store")))
    seed(settings)
    with serving(settings) as found:
        yield found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:  # fail, never skip: the README's test command installs it
        pytest.fail("chromium is not on PATH: apt-get install chromium (see the README)")
    with sync_playwright() as playwright:
        found = playwright.chromium.launch(executable_path=executable)
        yield found
        found.close()


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    found = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    yield found
    found.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in(page: Page, token: str, target: str = "/") -> None:
    """Sign in through the sign-in form, as a person would."""
    page.goto(target)
    assert "/sign-in" in page.url
    page.fill("#token", token)
    page.click("form[action='/sign-in'] button[type=submit]")
    page.wait_for_load_state()


SCREENSHOTS = os.environ.get("INCENTIVE_SCREENSHOTS")
"""A folder to keep the browser tests' screenshots in, for a person to look at; unset (the
suite's default), no screenshot is taken: encoding full-page images cost the suite ~1 s a
page and no test reads them."""


def shoot(target: Page | Locator, path: Path, *, full_page: bool = False) -> None:
    """A screenshot named like ``path`` in ``INCENTIVE_SCREENSHOTS``, when that is set."""
    if SCREENSHOTS:
        folder = Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        options = {"full_page": True} if full_page else {}
        target.screenshot(path=folder / f"{path.parent.name}-{path.name}", **options)


def text(value: str) -> str:
    """Text with no-break spaces as plain spaces (Babel puts them in money and percents)."""
    return value.replace("\u00a0", " ").replace("\u202f", " ").strip()
