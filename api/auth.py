"""Who is calling: bearer tokens (short-lived signed JWTs with a key id and a token id,
revocable) from this engine or from an identity provider, or API keys; and their roles."""

from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from incentive_engine.domain.scopes import ScopeError, WriteScope, scope_for
from incentive_engine.domain.visibility import Role, Viewer
from incentive_engine.services.keys import DEFAULT_KID, KeyRing, KeySetupError, key_ring
from incentive_engine.settings import MAX_TOKEN_MINUTES, Settings
from projections.runner import make_engine
from projections.tokens import Revocations

__all__ = [
    "ALGORITHM",
    "ISSUER",
    "AuthError",
    "Authenticator",
    "Display",
    "IdentityProvider",
    "Issued",
    "KeySetupError",
    "Principal",
    "Role",
    "check_keys",
    "from_api_key",
    "issue",
    "issue_display_key",
    "issue_token",
]

ALGORITHM = "HS256"
ISSUER = "incentive-engine"
DISPLAY_AUDIENCE = "incentive-engine:display"
"""The audience of a display key: tokens with an audience are never API credentials."""
DISPLAY_ROLE = "display"
DISPLAY_PREFIX = "display:"
"""A display key's subject is ``display:NAME``: revoking the subject retires the screen."""
MAX_DISPLAY_DAYS = 400
DISPLAY_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
IDP_LEEWAY_SECONDS = 30
"""Clock skew tolerated between this host and the identity provider."""


@dataclass(frozen=True)
class Principal(Viewer):
    """An authenticated caller: a role and a subject (the rep id for reps and managers), and
    the write scope its API key is configured with (None: the role's default)."""

    scope: str | None = None

    def write_scope(self) -> WriteScope:
        """The event types this caller may write (``domain.scopes``)."""
        return scope_for(self.role, self.scope)


class AuthError(Exception):
    """Missing, malformed, expired, revoked or unknown credentials (a 401)."""


@dataclass(frozen=True)
class Issued:
    """A token this engine issued, with its id (for revocation) and expiry."""

    token: str
    jti: str
    kid: str
    expires: datetime


def check_keys(settings: Settings) -> KeyRing:
    """The signing keys, checked (KeySetupError if missing, weak or unsafely stored), and
    the identity provider's keys if one is configured: what ``serve`` checks before it
    starts."""
    ring = key_ring(settings)
    IdentityProvider.from_settings(settings)
    return ring


def issue(
    settings: Settings,
    role: Role,
    subject: str,
    *,
    now: datetime | None = None,
    minutes: int | None = None,
) -> Issued:
    """A token for a role and subject signed with the newest key, valid for ``minutes``
    (default ``settings.token_minutes``; at most MAX_TOKEN_MINUTES)."""
    lifetime = settings.token_minutes if minutes is None else minutes
    if not 1 <= lifetime <= MAX_TOKEN_MINUTES:
        raise ValueError(f"token lifetime {lifetime} minutes: choose 1 to {MAX_TOKEN_MINUTES}")
    ring = key_ring(settings)
    now = now or datetime.now(UTC)
    expires = now + timedelta(minutes=lifetime)
    jti = secrets.token_urlsafe(16)
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "role": role.value,
        "jti": jti,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    token = jwt.encode(
        claims, ring.signing_key, algorithm=ALGORITHM, headers={"kid": ring.signing_kid}
    )
    return Issued(token, jti, ring.signing_kid, expires)


def issue_token(
    settings: Settings, role: Role, subject: str, *, now: datetime | None = None
) -> str:
    """A signed token for a role and subject, valid for ``settings.token_minutes``."""
    return issue(settings, role, subject, now=now).token


@dataclass(frozen=True)
class Display:
    """An office screen holding a display key: it may show boards and nothing else."""

    name: str

    @property
    def subject(self) -> str:
        """The subject its keys are issued to (and revoked by)."""
        return DISPLAY_PREFIX + self.name


def issue_display_key(
    settings: Settings, name: str, *, days: int = 365, now: datetime | None = None
) -> Issued:
    """A read-only display key for an office screen: a token signed with the newest key for
    the subject ``display:NAME`` with the display audience, which the API and the pages
    other than ``/tv`` refuse. Revoked with its screen (``token revoke --subject``) or by
    retiring the signing key."""
    if not DISPLAY_NAME.match(name):
        raise ValueError(f"screen name {name!r}: use 1 to 40 of a-z, 0-9 and '-'")
    if not 1 <= days <= MAX_DISPLAY_DAYS:
        raise ValueError(f"display key lifetime {days} days: choose 1 to {MAX_DISPLAY_DAYS}")
    ring = key_ring(settings)
    now = now or datetime.now(UTC)
    expires = now + timedelta(days=days)
    jti = secrets.token_urlsafe(16)
    claims = {
        "iss": ISSUER,
        "aud": DISPLAY_AUDIENCE,
        "sub": DISPLAY_PREFIX + name,
        "role": DISPLAY_ROLE,
        "jti": jti,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    token = jwt.encode(
        claims, ring.signing_key, algorithm=ALGORITHM, headers={"kid": ring.signing_kid}
    )
    return Issued(token, jti, ring.signing_kid, expires)


@dataclass(frozen=True)
class IdentityProvider:
    """An identity provider's public keys (from a PEM or JWKS file on disk, read once) and
    the issuer, audience and claims its tokens must carry."""

    keys: dict[str | None, tuple[Any, tuple[str, ...]]]
    """Key id (None for a single PEM key) -> (key, algorithms it may verify)."""
    issuer: str
    audience: str
    role_claim: str
    subject_claim: str
    roles: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityProvider | None:
        """The configured identity provider, or None; KeySetupError if misconfigured."""
        pem, jwks = settings.api_idp_public_key_file, settings.api_idp_jwks_file
        if pem is None and jwks is None:
            return None
        if not settings.api_idp_issuer or not settings.api_idp_audience:
            raise KeySetupError(
                "an identity provider's key is configured: set INCENTIVE_API_IDP_ISSUER and "
                "INCENTIVE_API_IDP_AUDIENCE too (its tokens are checked against both)"
            )
        allowed = tuple(a for a in settings.api_idp_algorithms if not a.upper().startswith("HS"))
        if not allowed:
            raise KeySetupError("INCENTIVE_API_IDP_ALGORITHMS names no asymmetric algorithm")
        keys: dict[str | None, tuple[Any, tuple[str, ...]]] = {}
        try:
            if pem is not None:
                data = pem.read_bytes()
                usable = tuple(a for a in allowed if _accepts(a, data))
                if not usable:
                    raise KeySetupError(
                        f"identity provider key {pem} is not a PEM public key for any of "
                        f"{', '.join(allowed)}"
                    )
                keys[None] = (data, usable)
            if jwks is not None:
                for jwk in jwt.PyJWKSet.from_json(jwks.read_text(encoding="utf-8")).keys:
                    usable = tuple(a for a in allowed if a == jwk.algorithm_name)
                    if usable and jwk.public_key_use in (None, "sig"):
                        keys[jwk.key_id] = (jwk.key, usable)
                if not keys:
                    raise KeySetupError(f"identity provider JWKS {jwks} has no usable key")
        except OSError as exc:
            raise KeySetupError(f"identity provider key: {exc}") from None
        except (jwt.PyJWTError, json.JSONDecodeError, ValueError) as exc:
            raise KeySetupError(f"identity provider keys are not valid: {exc}") from None
        for value, role in settings.api_idp_roles.items():
            if role not in {r.value for r in Role}:
                raise KeySetupError(
                    f"INCENTIVE_API_IDP_ROLES maps {value!r} to unknown role {role!r}"
                )
        return cls(
            keys,
            settings.api_idp_issuer,
            settings.api_idp_audience,
            settings.api_idp_role_claim,
            settings.api_idp_subject_claim,
            dict(settings.api_idp_roles),
        )

    def verify(self, token: str, header: dict[str, Any]) -> tuple[Principal, dict[str, Any]]:
        """The principal of an identity provider's token and its claims, or AuthError."""
        kid = header.get("kid")
        found = self.keys.get(kid) if isinstance(kid, str) else None
        if found is None and len(self.keys) == 1:
            found = next(iter(self.keys.values()))  # one key: the token need not name it
        if found is None:
            raise AuthError("the token is signed with a key the identity provider does not list")
        key, algorithms = found
        claims = jwt.decode(
            token,
            key,
            algorithms=list(algorithms),
            issuer=self.issuer,
            audience=self.audience,
            leeway=IDP_LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud"]},
        )
        subject = claims.get(self.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise AuthError(f"the token has no subject claim {self.subject_claim!r}")
        return Principal(self._role(claims.get(self.role_claim)), subject), claims

    def _role(self, value: object) -> Role:
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        known = {r.value for r in Role}
        mapped = {
            self.roles.get(v, v if not self.roles else "") for v in values if isinstance(v, str)
        }
        roles = sorted(m for m in mapped if m in known)
        if len(roles) != 1:
            which = "no" if not roles else "more than one"
            raise AuthError(f"the token's {self.role_claim!r} claim maps to {which} engine role")
        return Role(roles[0])


def _accepts(algorithm: str, pem: bytes) -> bool:
    try:
        jwt.get_algorithm_by_name(algorithm).prepare_key(pem)
    except (jwt.InvalidKeyError, ValueError, TypeError, NotImplementedError):
        return False
    return True


class Authenticator:
    """Verifies bearer tokens for one API process: the key ring and identity provider read
    once, and the revocation list through a short-lived cache."""

    def __init__(self, settings: Settings, *, wall: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.ring = key_ring(settings)
        self.idp = IdentityProvider.from_settings(settings)
        self.wall = wall
        self._revocations: Revocations | None = None
        self._opening = threading.Lock()

    @property
    def revocations(self) -> Revocations:
        """The deny list of the read-model database (opened on first use)."""
        if self._revocations is None:
            with self._opening:
                if self._revocations is None:
                    engine = make_engine(  # its tables ensured in the fail-closed check
                        self.settings.resolved_views_url(), pooled=False, migrate=False
                    )
                    self._revocations = Revocations(
                        engine, self.settings.api_revocation_refresh_seconds, wall=self.wall
                    )
        return self._revocations

    def close(self) -> None:
        """Release the revocation list's database connections."""
        if self._revocations is not None:
            self._revocations.engine.dispose()

    def from_token(self, token: str) -> Principal:
        """The principal a token names, or AuthError (bad signature, unknown key, expired,
        revoked, malformed)."""
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            if algorithm == ALGORITHM:
                who, claims = self._own(token, header)
            elif self.idp is not None and isinstance(algorithm, str):
                who, claims = self.idp.verify(token, header)
            else:
                raise AuthError(f"tokens signed with {algorithm!r} are not accepted")
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired") from None
        except (jwt.PyJWTError, KeyError, ValueError, TypeError):
            raise AuthError("the token is not valid") from None
        self._not_revoked(claims, who.subject)
        return who

    def _not_revoked(self, claims: dict[str, Any], subject: str) -> None:
        issued = claims.get("iat")
        refusal = self.revocations.current().refusal(
            claims.get("jti") if isinstance(claims.get("jti"), str) else None,
            subject,
            int(issued) if isinstance(issued, int | float) else None,
        )
        if refusal is not None:
            raise AuthError(refusal)

    def from_display_key(self, token: str) -> Display:
        """The screen a display key names, or AuthError (bad signature, retired key,
        expired, revoked, or not a display key)."""
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid", DEFAULT_KID)
            key = self.ring.keys.get(kid) if isinstance(kid, str) else None
            if header.get("alg") != ALGORITHM or key is None:
                raise AuthError("the display key is signed with a retired or unknown key")
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                audience=DISPLAY_AUDIENCE,
                options={"require": ["exp", "iat", "sub", "iss", "jti", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the display key has expired") from None
        except (jwt.PyJWTError, KeyError, ValueError, TypeError):
            raise AuthError("the display key is not valid") from None
        subject = str(claims["sub"])
        if claims.get("role") != DISPLAY_ROLE or not subject.startswith(DISPLAY_PREFIX):
            raise AuthError("the display key is not valid")
        self._not_revoked(claims, subject)
        return Display(subject.removeprefix(DISPLAY_PREFIX))

    def _own(self, token: str, header: dict[str, Any]) -> tuple[Principal, dict[str, Any]]:
        kid = header.get("kid", DEFAULT_KID)
        key = self.ring.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise AuthError("the token is signed with a retired or unknown key")
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "jti"]},
        )
        return Principal(Role(claims["role"]), str(claims["sub"])), claims


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
