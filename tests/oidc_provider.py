"""An OpenID Connect provider for the tests: a real HTTP server on loopback that signs users
in at once (no login form) with the authorization code flow, checks the PKCE verifier and the
client's secret, and answers RS256-signed ID tokens. Which user it signs in, and how it
misbehaves, is set by the test."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.broker import free_port

CLIENT_ID = "incentive-web"
CLIENT_SECRET = "s3cret-of-the-web-client-for-tests"
KID = "test-key-1"


@dataclass
class Provider:
    """The provider's address, keys, the user it signs in next, and what it was asked."""

    url: str
    key: rsa.RSAPrivateKey
    user: dict[str, Any] = field(default_factory=lambda: {"sub": "an", "role": "rep"})
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tamper: str | None = None
    login_form: bool = False
    """Show a sign-in page (a form the user submits, as real providers do) before going back:
    the browser then returns from a navigation the provider's page started."""
    """"nonce" (a wrong nonce), "audience" (another client's token) or None."""

    @property
    def issuer(self) -> str:
        """The ``iss`` of its tokens."""
        return self.url

    def write_jwks(self, path: Path) -> Path:
        """Its public keys as a JWKS file (what an operator downloads from the provider)."""
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": KID, "alg": "RS256", "use": "sig"})
        path.write_text(json.dumps({"keys": [jwk]}), encoding="utf-8")
        return path

    def settings_env(self, jwks: Path) -> dict[str, str]:
        """The ``INCENTIVE_*`` settings that make an app sign in through this provider."""
        return {
            "INCENTIVE_OIDC_AUTHORIZATION_URL": self.url + "/authorize",
            "INCENTIVE_OIDC_TOKEN_URL": self.url + "/token",
            "INCENTIVE_OIDC_CLIENT_ID": CLIENT_ID,
            "INCENTIVE_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "INCENTIVE_OIDC_PROVIDER_NAME": "Keycloak",
            "INCENTIVE_API_IDP_JWKS_FILE": str(jwks),
            "INCENTIVE_API_IDP_ISSUER": self.issuer,
            "INCENTIVE_API_IDP_AUDIENCE": CLIENT_ID,
        }

    def id_token(self, nonce: str) -> str:
        """A signed ID token for the current user."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": "another-client" if self.tamper == "audience" else CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": "not-the-nonce" if self.tamper == "nonce" else nonce,
            **self.user,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            """The authorization endpoint: the user is signed in at once, or after the
            provider's own sign-in form."""
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            if url.path not in ("/authorize", "/login") or query.get("client_id") != CLIENT_ID:
                self.send_error(400)
                return
            if provider.login_form and url.path == "/authorize":
                action = html.escape("/login?" + url.query, quote=True)
                body = (
                    '<!doctype html><title>Provider</title><form method="get" action="'
                    f'{action}">'
                    + "".join(
                        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                        for k, v in query.items()
                    )
                    + '<button id="provider-sign-in">Sign in</button></form>'
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            code = secrets.token_urlsafe(16)
            provider.codes[code] = query
            back = (
                query["redirect_uri"]
                + "?"
                + urllib.parse.urlencode({"code": code, "state": query.get("state", "")})
            )
            self.send_response(302)
            self.send_header("Location", back)
            self.end_headers()

        def do_POST(self) -> None:
            """The token endpoint: a code once, with its PKCE verifier and the client secret."""
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            asked = provider.codes.pop(form.get("code", ""), None)
            ok = (
                asked is not None
                and form.get("client_secret") == CLIENT_SECRET
                and form.get("redirect_uri") == asked["redirect_uri"]
                and asked.get("code_challenge_method") == "S256"
                and _challenge(form.get("code_verifier", "")) == asked.get("code_challenge")
            )
            if not ok or asked is None:
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"error":"invalid_grant"}')
                return
            body = json.dumps(
                {"id_token": provider.id_token(asked.get("nonce", "")), "token_type": "Bearer"}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def oidc_provider(host: str = "localhost") -> Iterator[Provider]:
    """A provider listening on loopback (named ``localhost`` by default: another site than
    ``127.0.0.1``, so that browser tests see the cross-site redirects a real provider makes)."""
    port = free_port()
    provider = Provider(f"http://{host}:{port}", rsa.generate_private_key(65537, 2048))
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(provider))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
