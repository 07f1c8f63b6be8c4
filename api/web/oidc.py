"""Signing in to the web door through an OpenID Connect provider (Keycloak, Azure AD,
Google, ...): the authorization code flow with PKCE, a state and a nonce. The token the
provider returns is verified by the API's own authenticator (the identity provider of the
``INCENTIVE_API_IDP_*`` settings: keys, issuer, audience, role and subject claims), then kept
as the session like a pasted token. Configured by ``INCENTIVE_OIDC_*``; absent, the sign-in
page offers the token form only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import verify
from api.errors import ApiError
from api.web.render import page
from api.web.session import safe_target, secure, start_session
from incentive_engine.services.keys import KeySetupError
from incentive_engine.settings import Settings

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

FLOW_COOKIE = "ie_oidc"
"""The state, nonce, PKCE verifier and target of a sign-in under way (ten minutes)."""

FLOW_SECONDS = 600
TOKEN_TIMEOUT_SECONDS = 10
MAX_ANSWER_BYTES = 1_000_000
"""The provider's token answer is small; a larger one is refused unread."""

CALLBACK = "/sign-in/oidc/callback"


@dataclass(frozen=True)
class OidcClient:
    """This app as a client of one OpenID Connect provider."""

    authorization_url: str
    token_url: str
    client_id: str
    client_secret: str | None
    redirect_url: str | None
    scopes: str
    token: str
    name: str

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcClient | None:
        """The configured client, None when OIDC is off; KeySetupError when half set up."""
        if not settings.oidc_authorization_url:
            return None
        missing = [
            name
            for name, value in (
                ("INCENTIVE_OIDC_TOKEN_URL", settings.oidc_token_url),
                ("INCENTIVE_OIDC_CLIENT_ID", settings.oidc_client_id),
                ("INCENTIVE_API_IDP_ISSUER", settings.api_idp_issuer),
                ("INCENTIVE_API_IDP_AUDIENCE", settings.api_idp_audience),
            )
            if not value
        ]
        if not (settings.api_idp_jwks_file or settings.api_idp_public_key_file):
            missing.append("INCENTIVE_API_IDP_JWKS_FILE (or _PUBLIC_KEY_FILE)")
        if missing:
            raise KeySetupError(
                "INCENTIVE_OIDC_AUTHORIZATION_URL is set: set " + ", ".join(missing) + " too "
                "(the provider's tokens are verified like the API's identity provider tokens)"
            )
        for name, url in (
            ("INCENTIVE_OIDC_AUTHORIZATION_URL", settings.oidc_authorization_url),
            ("INCENTIVE_OIDC_TOKEN_URL", settings.oidc_token_url),
        ):
            if urllib.parse.urlsplit(url or "").scheme not in ("http", "https"):
                raise KeySetupError(f"{name} must be an http(s) URL, not {url!r}")
        assert settings.oidc_token_url and settings.oidc_client_id
        return cls(
            settings.oidc_authorization_url,
            settings.oidc_token_url,
            settings.oidc_client_id,
            settings.oidc_client_secret,
            settings.oidc_redirect_url,
            settings.oidc_scopes,
            settings.oidc_token,
            settings.oidc_provider_name,
        )

    def redirect_uri(self, request: Request) -> str:
        """The callback URL the provider sends the browser back to."""
        return self.redirect_url or str(request.url_for("oidc_callback"))

    def exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, object]:
        """The provider's token answer for an authorization code (client_secret_post)."""
        fields = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "code_verifier": verifier,
        }
        if self.client_secret:
            fields["client_secret"] = self.client_secret
        request = urllib.request.Request(
            self.token_url,
            data=urllib.parse.urlencode(fields).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TOKEN_TIMEOUT_SECONDS) as answer:
                body = answer.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise SignInFailed(f"the provider refused the code (HTTP {exc.code})") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SignInFailed(f"the provider did not answer: {exc}") from None
        if len(body) > MAX_ANSWER_BYTES:
            raise SignInFailed("the provider's answer is too large")
        try:
            found = json.loads(body)
        except ValueError:
            raise SignInFailed("the provider's answer is not JSON") from None
        if not isinstance(found, dict):
            raise SignInFailed("the provider's answer is not a JSON object")
        return found


class SignInFailed(Exception):
    """The provider's sign-in did not end in a token this engine accepts."""


def client_of(request: Request) -> OidcClient | None:
    """The app's OpenID Connect client, or None when not configured."""
    return getattr(request.app.state, "oidc", None)


def challenge(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def failed(request: Request, reason: str, status: int = 401) -> HTMLResponse:
    """The sign-in page again, saying why the provider's sign-in did not hold."""
    client = client_of(request)
    response = page(
        request,
        "sign_in.html",
        None,
        status,
        next="/",
        error=reason,
        provider=client.name if client else None,
    )
    response.delete_cookie(FLOW_COOKIE, path=CALLBACK)
    return response


@router.get("/sign-in/oidc")
def oidc_start(request: Request, next: str = "/") -> Response:
    """Send the browser to the provider, remembering state, nonce and PKCE verifier."""
    client = client_of(request)
    if client is None:
        return RedirectResponse("/sign-in", status_code=303)
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri(request),
            "scope": client.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if "?" in client.authorization_url else "?"
    response = RedirectResponse(client.authorization_url + separator + query, status_code=303)
    flow = json.dumps([state, nonce, verifier, safe_target(next)])
    # Lax, not Strict: the provider sends the browser back with a cross-site navigation.
    response.set_cookie(
        FLOW_COOKIE,
        base64.urlsafe_b64encode(flow.encode()).decode(),
        max_age=FLOW_SECONDS,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path=CALLBACK,
    )
    return response


def flow_of(request: Request) -> tuple[str, str, str, str] | None:
    """The sign-in under way (state, nonce, verifier, target), or None."""
    raw = request.cookies.get(FLOW_COOKIE, "")
    try:
        found = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except ValueError:
        return None
    if isinstance(found, list) and len(found) == 4 and all(isinstance(v, str) for v in found):
        return found[0], found[1], found[2], found[3]
    return None


@router.get(CALLBACK, name="oidc_callback")
def oidc_callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    """The provider's answer: check the state, trade the code for a token, verify the token
    like the API does (and its nonce), then start the session."""
    client = client_of(request)
    if client is None:
        return RedirectResponse("/sign-in", status_code=303)
    flow = flow_of(request)
    if error:
        log.warning("OIDC sign-in: the provider answered error %r", error[:200])
        return failed(request, "The identity provider did not sign you in.")
    if flow is None or not state or not hmac.compare_digest(flow[0], state):
        return failed(request, "This sign-in was not started here or has expired: try again.")
    if not code or len(code) > 4096:
        return failed(request, "The identity provider did not sign you in.")
    _, nonce, verifier, target = flow
    try:
        answer = client.exchange(code, verifier, client.redirect_uri(request))
        token = answer.get(client.token)
        if not isinstance(token, str) or not token:
            raise SignInFailed(f"the provider's answer has no {client.token}")
        verify(request, authorization=f"Bearer {token}")
        if client.token == "id_token":
            claims = jwt.decode(token, options={"verify_signature": False})
            if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
                raise SignInFailed("the provider's token does not carry this sign-in's nonce")
    except SignInFailed as exc:
        log.warning("OIDC sign-in failed: %s", exc)
        return failed(request, "The identity provider did not sign you in.", 502)
    except ApiError as exc:
        log.warning("OIDC sign-in: the provider's token is refused: %s", exc.detail)
        if exc.status_code == 429:
            return failed(request, "Too many failed sign-ins: wait a moment.", 429)
        return failed(request, "Your account at the identity provider has no role here.", 403)
    response = start_session(request, token, target, via_page=True)
    response.delete_cookie(FLOW_COOKIE, path=CALLBACK)
    return response
