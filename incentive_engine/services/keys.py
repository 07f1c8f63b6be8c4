"""The API's signing keys: which keys verify tokens (by key id), which one signs new ones,
and the checks that refuse a weak secret or a key file others can read."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from incentive_engine.settings import Settings, sqlite_path
from incentive_engine.store.files import UnsafeFile, read_private, write_secret_once

DEFAULT_KID = "default"
"""The key id of INCENTIVE_API_SECRET and of the key file beside a SQLite store."""

MIN_SECRET_BYTES = 32
"""The shortest signing secret accepted (HS256 wants at least the hash's 32 bytes)."""

GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
"""How to make a good secret, quoted in every refusal."""

WEAK_SECRETS = frozenset(
    {
        "secret", "changeme", "change-me", "change_me", "password", "passw0rd", "default",
        "admin", "test", "testing", "development", "dev", "jwt", "jwt-secret", "jwtsecret",
        "secretkey", "secret-key", "secret_key", "mysecret", "your-secret-key",
        "your-256-bit-secret", "supersecret", "super-secret", "incentive-engine",
        "please-change-me", "insecure", "letmein", "qwerty", "123456",
    }
)  # fmt: skip
"""Well-known placeholder secrets (compared without case, also when repeated to length)."""


class KeySetupError(RuntimeError):
    """The signing keys are missing, weak or unsafely stored: the API must not start."""


@dataclass(frozen=True)
class KeyRing:
    """The HMAC keys that verify tokens, by key id, and the id that signs new ones."""

    keys: dict[str, str]
    signing_kid: str

    @property
    def signing_key(self) -> str:
        """The secret new tokens are signed with."""
        return self.keys[self.signing_kid]


def weakness(secret: str) -> str | None:
    """Why a signing secret is too weak, or None."""
    size = len(secret.encode())
    if size < MIN_SECRET_BYTES:
        return f"it is {size} bytes long; at least {MIN_SECRET_BYTES} are required"
    lowered = secret.lower()
    for weak in WEAK_SECRETS:
        if lowered == weak or lowered.replace(weak, "") == "":
            return f"it is a well-known placeholder ({weak!r})"
    if len(set(secret)) < 8:
        return "it repeats fewer than 8 distinct characters"
    return None


def _checked(kid: str, secret: str, where: str) -> str:
    reason = weakness(secret)
    if reason is not None:
        raise KeySetupError(
            f"{where} (key id {kid!r}) is too weak to sign API tokens: {reason}. "
            f"Generate one with: {GENERATE}"
        )
    return secret


def key_file(settings: Settings) -> Path:
    """Where the embedded default keeps its signing key: beside the SQLite store."""
    path = sqlite_path(settings.store_url)
    return path.with_name(path.name + ".secret")


def key_ring(settings: Settings) -> KeyRing:
    """The configured signing keys, checked: INCENTIVE_API_SECRETS (rotation),
    INCENTIVE_API_SECRET (key id ``default``), or, on SQLite with neither, a random key
    kept in an owner-only file beside the store (created on first use; a file that group
    or others may read is refused)."""
    keys: dict[str, str] = {}
    for kid, secret in settings.api_secrets.items():
        if not kid or len(kid) > 64 or not kid.isprintable():
            raise KeySetupError(f"INCENTIVE_API_SECRETS: key id {kid!r}: use 1-64 printable chars")
        keys[kid] = _checked(kid, secret, "INCENTIVE_API_SECRETS entry")
    if settings.api_secret:
        if DEFAULT_KID in keys:
            raise KeySetupError(
                f"INCENTIVE_API_SECRET has key id {DEFAULT_KID!r}, which INCENTIVE_API_SECRETS "
                "also names: keep one of them"
            )
        keys[DEFAULT_KID] = _checked(DEFAULT_KID, settings.api_secret, "INCENTIVE_API_SECRET")
    if not keys:
        if not settings.store_url.startswith("sqlite:"):
            raise KeySetupError(
                "set INCENTIVE_API_SECRET (or INCENTIVE_API_SECRETS): API tokens need a "
                f"signing key. Generate one with: {GENERATE}"
            )
        path = key_file(settings)
        if not path.exists():
            write_secret_once(path, secrets.token_urlsafe(48))
        try:
            secret = read_private(path, "signing key file")
        except UnsafeFile as exc:
            raise KeySetupError(str(exc)) from None
        keys[DEFAULT_KID] = _checked(DEFAULT_KID, secret, f"signing key file {path}")
    signing = settings.api_signing_kid or (
        next(reversed(settings.api_secrets)) if settings.api_secrets else DEFAULT_KID
    )
    if signing not in keys:
        raise KeySetupError(
            f"INCENTIVE_API_SIGNING_KID {signing!r} names no configured key "
            f"(known: {', '.join(sorted(keys))})"
        )
    return KeyRing(keys, signing)
