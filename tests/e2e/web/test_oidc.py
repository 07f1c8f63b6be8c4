"""Signing in to the web door through an OpenID Connect provider: a real provider on loopback
(tests/oidc_provider.py), the authorization code flow with PKCE, state and nonce checked, the
token verified like the API's identity-provider tokens, and a real browser crossing sites."""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from api.app import create_app
from api.auth import KeySetupError
from incentive_engine.settings import Settings
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, seed
from tests.e2e.web.conftest import serving, shoot
from tests.oidc_provider import Provider, oidc_provider


@pytest.fixture
def provider() -> Iterator[Provider]:
    with oidc_provider() as found:
        yield found


def oidc_settings(tmp_path: Path, provider: Provider) -> Settings:
    """Seeded settings whose web sign-in goes through the provider."""
    base = api_settings(sqlite_settings(tmp_path))
    seed(base)
    env = provider.settings_env(provider.write_jwks(tmp_path / "jwks.json"))
    update = {k.removeprefix("INCENTIVE_").lower(): v for k, v in env.items()}
    update["api_idp_jwks_file"] = Path(update["api_idp_jwks_file"])
    return base.model_copy(update=update)


def follow_provider(location: str) -> str:
    """Ask the provider's authorization endpoint (no redirect followed): where it sends the
    browser back."""
    url = urllib.parse.urlsplit(location)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    connection.request("GET", url.path + "?" + url.query)
    answer = connection.getresponse()
    assert answer.status == 302, answer.read()
    return answer.getheader("Location") or ""


def start(client: TestClient, target: str = "/statements") -> str:
    """Press the provider's button: the callback URL the provider answers with."""
    answer = client.get(f"/sign-in/oidc?next={target}", follow_redirects=False)
    assert answer.status_code == 303
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.headers["location"]).query))
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["state"] and query["nonce"] and query["scope"] == "openid profile email"
    flow = answer.headers["set-cookie"]
    assert "HttpOnly" in flow and "SameSite=lax" in flow and "Path=/sign-in/oidc/callback" in flow
    return follow_provider(answer.headers["location"])


def callback(client: TestClient, back: str) -> object:
    url = urllib.parse.urlsplit(back)
    return client.get(url.path + "?" + url.query, follow_redirects=False)


def test_a_rep_signs_in_through_the_provider_and_lands_on_the_page_asked(
    tmp_path: Path, provider: Provider
) -> None:
    with TestClient(create_app(oidc_settings(tmp_path, provider))) as client:
        page = client.get("/sign-in")
        assert "Keycloak" in page.text and 'href="/sign-in/oidc?next=/"' in page.text
        answer = callback(client, start(client, "/statements"))
        assert answer.status_code == 200  # a page that moves on by itself (same-site)
        assert 'content="0;url=/statements"' in answer.text
        assert client.cookies.get("ie_session")
        home = client.get("/")
        assert home.status_code == 200 and "Nguyễn Văn An" in home.text


def test_a_callback_with_another_state_or_none_started_is_refused(
    tmp_path: Path, provider: Provider
) -> None:
    with TestClient(create_app(oidc_settings(tmp_path, provider))) as client:
        back = start(client)
        forged = back.replace("state=", "state=x")
        answer = callback(client, forged)
        assert answer.status_code == 401 and "ie_session" not in client.cookies
    with TestClient(create_app(oidc_settings(tmp_path / "b", provider))) as fresh:
        answer = callback(fresh, back)  # a code carried to a browser that did not start it
        assert answer.status_code == 401 and "ie_session" not in fresh.cookies


def test_a_code_is_traded_once_and_only_with_the_verifier(
    tmp_path: Path, provider: Provider
) -> None:
    with TestClient(create_app(oidc_settings(tmp_path, provider))) as client:
        back = start(client)
        flow = client.cookies.get("ie_oidc", path="/sign-in/oidc/callback")
        assert callback(client, back).status_code == 200
        client.cookies.delete("ie_session")
        client.cookies.set("ie_oidc", flow or "", path="/sign-in/oidc/callback")
        again = callback(client, back)  # the provider refuses a code used before
        assert again.status_code == 502 and "ie_session" not in client.cookies


@pytest.mark.parametrize(
    ("tamper", "user", "status"),
    [
        ("nonce", {"sub": "an", "role": "rep"}, 502),
        ("audience", {"sub": "an", "role": "rep"}, 403),
        (None, {"sub": "an", "role": "sales-wizard"}, 403),
        (None, {"sub": "an"}, 403),
    ],
)
def test_a_token_the_api_would_refuse_does_not_sign_in(
    tmp_path: Path, provider: Provider, tamper: str | None, user: dict[str, str], status: int
) -> None:
    provider.tamper, provider.user = tamper, user
    with TestClient(create_app(oidc_settings(tmp_path, provider))) as client:
        answer = callback(client, start(client))
        assert answer.status_code == status
        assert "ie_session" not in client.cookies
        assert client.get("/", follow_redirects=False).status_code == 303


def test_the_provider_saying_no_is_a_page_not_an_error(tmp_path: Path, provider: Provider) -> None:
    with TestClient(create_app(oidc_settings(tmp_path, provider))) as client:
        start(client)
        answer = client.get("/sign-in/oidc/callback?error=access_denied&state=x")
        assert answer.status_code == 401 and "<form" in answer.text


def test_half_an_oidc_setup_stops_the_app_with_what_is_missing(tmp_path: Path) -> None:
    settings = api_settings(sqlite_settings(tmp_path)).model_copy(
        update={"oidc_authorization_url": "https://idp.example/auth"}
    )
    with pytest.raises(KeySetupError, match=r"INCENTIVE_OIDC_TOKEN_URL.*INCENTIVE_OIDC_CLIENT_ID"):
        create_app(settings)


def test_without_oidc_the_sign_in_page_has_the_token_form_only(tmp_path: Path) -> None:
    settings = api_settings(sqlite_settings(tmp_path))
    with TestClient(create_app(settings)) as client:
        assert "/sign-in/oidc" not in client.get("/sign-in").text
        answer = client.get("/sign-in/oidc", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"


def test_a_browser_signs_in_through_a_provider_on_another_site(
    browser: Browser, tmp_path: Path, provider: Provider
) -> None:
    provider.login_form = True
    settings = oidc_settings(tmp_path, provider)
    env = provider.settings_env(tmp_path / "jwks.json")
    with serving(settings, env) as server:
        context = browser.new_context(base_url=server.url)
        try:
            page = context.new_page()
            page.goto("/statements/an/2026-Q1")
            assert "/sign-in" in page.url
            page.click("[data-test=oidc]")
            page.click("#provider-sign-in")  # the provider's page sends the browser back
            page.wait_for_url(
                lambda url: urllib.parse.urlsplit(url).path != "/sign-in/oidc/callback"
            )
            assert urllib.parse.urlsplit(page.url).path == "/statements/an/2026-Q1"
            assert page.locator("[data-test=statement-total]").count() == 1
            shoot(page, tmp_path / "oidc-signed-in.png", full_page=True)
        finally:
            context.close()
