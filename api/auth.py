"""Who is calling: bearer tokens (signed JWTs with an expiry) or API keys, and their roles."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from incentive_engine.domain.scopes import ScopeError, WriteScope, scope_for
from incentive_engine.domain.visibility import Role, Viewer
from incentive_engine.settings import Settings, sqlite_path

__all__ = [
    "ALGORITHM",
    "ISSUER",
    "AuthError",
    "Principal",
    "Role",
    "from_api_key",
    "from_token",
    "issue_token",
    "secret_of",
]

ALGORITHM = "HS256"
ISSUER = "incentive-engine"


@dataclass(frozen=True)
class Principal(Viewer):
    """An authenticated caller: a role and a subject (the rep id for reps and managers), and
    the write scope its API key is configured with (None: the role's default)."""

    scope: str | None = None

    def write_scope(self) -> WriteScope:
        """The event types this caller may write (``domain.scopes``)."""
        return scope_for(self.role, self.scope)


class AuthError(Exception):
    """Missing, malformed, expired or unknown credentials (a 401)."""


def secret_of(settings: Settings) -> str:
    """The token signing key: from settings, or (embedded default) a random key kept in a
    file beside the SQLite store, created on first use with owner-only permissions."""
    if settings.api_secret:
        return settings.api_secret
    if not settings.store_url.startswith("sqlite:"):
        raise RuntimeError("set INCENTIVE_API_SECRET: API tokens need a signing key")
    path = sqlite_path(settings.store_url)
    key_file = path.with_name(path.name + ".secret")
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        key_file.chmod(0o600)
    return Path(key_file).read_text(encoding="utf-8").strip()


def issue_token(
    settings: Settings, role: Role, subject: str, *, now: datetime | None = None
) -> str:
    """A signed token for a role and subject, valid for ``settings.token_minutes``."""
    now = now or datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "role": role.value,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=settings.token_minutes)).timestamp()),
    }
    return jwt.encode(claims, secret_of(settings), algorithm=ALGORITHM)


def from_token(settings: Settings, token: str) -> Principal:
    """The principal a token names, or AuthError (bad signature, expired, malformed)."""
    try:
        claims = jwt.decode(
            token,
            secret_of(settings),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
        return Principal(Role(claims["role"]), str(claims["sub"]))
    except jwt.ExpiredSignatureError:
        raise AuthError("the token has expired") from None
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise AuthError("the token is not valid") from None


def from_api_key(settings: Settings, key: str) -> Principal:
    """The principal an API key stands for, or AuthError."""
    for known, who in settings.api_keys.items():
        if hmac.compare_digest(known.encode(), key.encode()):
            role, _, rest = who.partition(":")
            subject, _, scope = rest.partition(":")
            try:
                principal = Principal(Role(role), subject or role, scope or None)
            except ValueError:
                raise AuthError("the API key is configured with an unknown role") from None
            try:
                principal.write_scope()
            except ScopeError as exc:
                raise AuthError(f"the API key is configured with a bad scope: {exc}") from None
            return principal
    raise AuthError("unknown API key")
