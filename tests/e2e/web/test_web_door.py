"""The web door without a browser: session cookie flags, CSRF on every form that writes, the
API's bad-credential limit, safe redirects, the navigation per role, and the catalogues and
package data that keep it working offline and in both languages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role, issue_token
from api.web.i18n import messages
from api.web.render import navigation
from api.web.session import safe_target
from incentive_engine.settings import Settings
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, seed

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "api" / "web"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    found = api_settings(sqlite_settings(tmp_path)).model_copy(update={"api_auth_failures": 3})
    seed(found)
    return found


def browser(settings: Settings, base_url: str = "http://testserver") -> TestClient:
    return TestClient(create_app(settings), base_url=base_url, raise_server_exceptions=False)


def csrf_of(client: TestClient) -> str:
    assert client.get("/sign-in").status_code == 200
    token = client.cookies.get("ie_csrf")
    assert token
    return token


def test_the_session_cookie_is_httponly_strict_and_secure_over_https(settings: Settings) -> None:
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        client = browser(settings, base)
        csrf = csrf_of(client)
        answer = client.post(
            "/sign-in",
            data={"csrf": csrf, "token": issue_token(settings, Role.REP, "an"), "next": "/"},
            follow_redirects=False,
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        cookie = answer.headers["set-cookie"].lower()
        assert cookie.startswith("ie_session=") and "httponly" in cookie
        assert "samesite=strict" in cookie and ("secure" in cookie) is secure


def test_every_form_that_writes_needs_the_csrf_token(settings: Settings) -> None:
    client = browser(settings)
    csrf = csrf_of(client)
    token = issue_token(settings, Role.REP, "an")
    for path, fields in (
        ("/sign-in", {"token": token}),
        ("/sign-out", {}),
        ("/language", {"lang": "en"}),
    ):
        for sent in (None, "forged"):
            data = fields if sent is None else {**fields, "csrf": sent}
            assert client.post(path, data=data, follow_redirects=False).status_code == 403, path
    assert (
        client.post(
            "/sign-in", data={"csrf": csrf, "token": token}, follow_redirects=False
        ).status_code
        == 303
    )
    assert client.get("/", follow_redirects=False).status_code == 200
    answer = client.post("/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/sign-in")


def test_bad_tokens_count_against_the_apis_limit(settings: Settings) -> None:
    client = browser(settings)
    csrf = csrf_of(client)
    statuses = [
        client.post("/sign-in", data={"csrf": csrf, "token": f"bad-{i}"}).status_code
        for i in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    # the same limiter as the API's: the client is refused there too
    assert (
        client.get("/v1/reps/an/earnings", headers={"Authorization": "Bearer x"}).status_code == 429
    )


def test_a_forged_session_cookie_sends_to_sign_in_and_htmx_follows(settings: Settings) -> None:
    client = browser(settings)
    client.cookies.set("ie_session", "not-a-token")
    answer = client.get("/statements/an/2026-Q1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in?next=/statements/an/2026-Q1")
    fragment = client.get("/statements/an/2026-Q1/example/lines/1", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/sign-in")


def test_a_manager_sees_a_reports_statement_and_a_rep_does_not_see_the_managers(
    settings: Settings,
) -> None:
    manager = browser(settings)
    manager.cookies.set("ie_session", issue_token(settings, Role.MANAGER, "mgr"))
    assert manager.get("/statements/an/2026-Q1").status_code == 200
    assert manager.get("/statements/chau/2026-Q1").status_code == 403
    rep = browser(settings)
    rep.cookies.set("ie_session", issue_token(settings, Role.REP, "binh"))
    for url in ("/statements/mgr/2026-Q1", "/statements/an/2026-Q1/example/lines/1"):
        assert rep.get(url).status_code == 403, url


def test_navigation_shows_only_what_the_role_may_see() -> None:
    from api.auth import Principal

    rep = [i.href for i in navigation(Principal(Role.REP, "an"))]
    assert rep == ["/", "/statements", "/what-if", "/leaderboards", "/disputes", "/docs"]
    manager = [i.href for i in navigation(Principal(Role.MANAGER, "mgr"))]
    assert "/team" in manager
    assert "/team" not in rep
    for role in (Role.FINANCE, Role.PLAN_ADMIN, Role.INTEGRATION):
        assert "/statements" not in [i.href for i in navigation(Principal(role, "x"))]
    assert navigation(None) == []


def test_finance_home_shows_no_pay_of_its_own(settings: Settings) -> None:
    client = browser(settings)
    client.cookies.set("ie_session", issue_token(settings, Role.FINANCE, "fin"))
    page = client.get("/")
    assert page.status_code == 200 and "₫" not in page.text


@pytest.mark.parametrize(
    ("target", "safe"),
    [("/statements/an/2026-Q1", "/statements/an/2026-Q1"), ("//evil.example", "/"),
     ("https://evil.example/", "/"), ("/\\evil.example", "/"), ("", "/")],
)  # fmt: skip
def test_after_sign_in_the_user_goes_only_to_a_page_of_this_site(target: str, safe: str) -> None:
    assert safe_target(target) == safe


def test_every_label_is_translated_into_vietnamese() -> None:
    sources = [*WEB.glob("templates/**/*.html"), *WEB.glob("*.py")]
    labels: set[str] = set()
    for path in sources:
        content = path.read_text(encoding="utf-8")
        for double, single in re.findall(r"""_\((?:"([^"]+)"|'([^']+)')\)""", content):
            labels.add(double or single)
        labels |= set(re.findall(r'NavItem\("[^"]+", "([^"]+)"\)', content))
    assert len(labels) > 40
    vi, en = messages("vi"), messages("en")
    assert sorted(labels - vi.keys()) == []
    assert sorted(labels - en.keys()) == []
    assert vi["Sign in"] == "Đăng nhập"


def test_the_web_files_are_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["api.web"]
    shipped = {p for pattern in patterns for p in WEB.glob(pattern) if p.is_file()}
    wanted = {
        p
        for folder in ("templates", "static", "locales")
        for p in (WEB / folder).rglob("*")
        if p.is_file()
    }
    assert wanted - shipped == set()
    sources = (WEB / "static" / "vendor" / "SOURCES.md").read_text(encoding="utf-8")
    for name in ("htmx.org", "2.0.11", "swagger-ui-dist", "5.35.0", "chart.js", "4.6.1"):
        assert name in sources
    for folder in (WEB / "static" / "vendor").iterdir():
        if folder.is_dir():
            assert list(folder.glob("LICENSE*")), folder


def test_ci_runs_the_readmes_test_command_which_installs_chromium() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = quick.strip().splitlines()
    assert len(commands) == 2
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci == commands[1]
    assert "apt-get install -y -qq chromium" in ci and "command -v chromium" in ci


def test_a_revoked_token_sends_the_user_back_to_sign_in(settings: Settings) -> None:
    import time

    from api.auth import issue
    from projections.runner import make_engine
    from projections.tokens import revoke_id

    settings = settings.model_copy(update={"api_revocation_refresh_seconds": 0})
    client = browser(settings)
    issued = issue(settings, Role.REP, "an")
    client.cookies.set("ie_session", issued.token)
    assert client.get("/", follow_redirects=False).status_code == 200
    engine = make_engine(settings.resolved_views_url(), pooled=False)
    try:
        revoke_id(engine, issued.jti, now=time.time(), reason="test")
    finally:
        engine.dispose()
    answer = client.get("/statements/an/2026-Q1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in?next=/statements/an/2026-Q1&expired=1")
    assert 'ie_session=""' in answer.headers["set-cookie"] or "max-age=0" in (
        answer.headers["set-cookie"].lower()
    )


def test_pages_forbid_inline_scripts_framing_and_caching(settings: Settings) -> None:
    client = browser(settings)
    client.cookies.set("ie_session", issue_token(settings, Role.REP, "an"))
    for url in ("/sign-in", "/", "/statements/an/2026-Q1", "/statements/binh/2026-Q1"):
        headers = client.get(url).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy, url
        assert headers["cache-control"] == "no-store" and headers["x-content-type-options"]
