"""Signed checkpoints of the audit chain: the chain head and the event count at a log position,
signed with an Ed25519 key kept apart from the database, and the JSON-lines copy of them an
operator keeps off the database host.

A checkpoint vouches for the log up to its position as it stood when it was signed: whoever
owns the database can rewrite events and recompute the chain read model, but cannot sign a
checkpoint without the private key, which is never stored in the database.  The public key
alone verifies.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from incentive_engine.domain.errors import Unavailable
from incentive_engine.settings import Settings, sqlite_path

FORMAT = 1
"""The version of the signed payload's layout."""


class CheckpointKeyError(Unavailable):
    """The checkpoint key cannot be used: missing, unreadable, too open, or not Ed25519."""


@dataclass(frozen=True)
class Checkpoint:
    """The chain head and the event count at a position, signed."""

    number: int
    """1, 2, 3... in the order they were taken."""
    position: int
    """The last log position covered."""
    count: int
    """How many events the log holds up to ``position`` (positions may have gaps)."""
    link: str
    """The chain link at ``position``."""
    created_at: str
    """When it was signed (UTC ISO text)."""
    reason: str
    """Why it was taken: ``period close 2026-Q1``, ``interval``, ``audit checkpoint``..."""
    key_id: str
    """Which key signed it (the first 16 hex digits of the sha256 of the raw public key)."""
    signature: str = ""
    """Ed25519 signature of ``payload()``, base64."""

    def payload(self) -> bytes:
        """The signed bytes: every field but the signature, as canonical JSON."""
        data = asdict(self)
        del data["signature"]
        return orjson.dumps({"format": FORMAT, **data}, option=orjson.OPT_SORT_KEYS)

    def as_dict(self) -> dict[str, Any]:
        """The checkpoint as a JSON-ready dict (one line of the file copy)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        """A checkpoint read back from a dict (a row or a line of the file copy)."""
        return cls(
            number=int(data["number"]),
            position=int(data["position"]),
            count=int(data["count"]),
            link=str(data["link"]),
            created_at=str(data["created_at"]),
            reason=str(data["reason"]),
            key_id=str(data["key_id"]),
            signature=str(data["signature"]),
        )


def key_id_of(public: Ed25519PublicKey) -> str:
    """A short, stable name of a public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class CheckpointKeys:
    """The signing key (where this process may sign) and the verifying key."""

    public: Ed25519PublicKey | None
    private: Ed25519PrivateKey | None = None
    source: str = ""
    """Where the key came from, for messages."""

    @property
    def key_id(self) -> str:
        """The public key's short name ('' without a key)."""
        return key_id_of(self.public) if self.public is not None else ""

    def sign(self, checkpoint: Checkpoint) -> Checkpoint:
        """The checkpoint signed with the private key."""
        if self.private is None:
            raise CheckpointKeyError(
                "no checkpoint signing key: set INCENTIVE_CHECKPOINT_KEY_FILE to an Ed25519 "
                "private key kept off the database host"
            )
        unsigned = replace(checkpoint, key_id=self.key_id, signature="")
        signature = self.private.sign(unsigned.payload())
        return replace(unsigned, signature=base64.b64encode(signature).decode())

    def verifies(self, checkpoint: Checkpoint) -> bool:
        """Whether the checkpoint carries a valid signature by this key."""
        if self.public is None or checkpoint.key_id != self.key_id:
            return False
        try:
            self.public.verify(base64.b64decode(checkpoint.signature), checkpoint.payload())
        except (InvalidSignature, ValueError):
            return False
        return True


def key_file_of(settings: Settings) -> Path | None:
    """The private key file: the configured one, or one beside a SQLite store (created when
    absent); None on PostgreSQL when none is configured."""
    if settings.checkpoint_key_file is not None:
        return Path(settings.checkpoint_key_file)
    if settings.store_url.startswith("sqlite:"):
        path = sqlite_path(settings.store_url)
        return path.with_name(path.name + ".checkpoint-key")
    return None


def load_keys(settings: Settings) -> CheckpointKeys:
    """The checkpoint keys of these settings: the private key file (created 0600 on the
    embedded default when absent), or a public key file alone for a verify-only host."""
    private: Ed25519PrivateKey | None = None
    path = key_file_of(settings)
    if path is not None:
        if not path.exists() and settings.checkpoint_key_file is None:
            create_key_file(path)
        private = _read_private(path)
    public = private.public_key() if private is not None else None
    source = str(path) if path is not None else ""
    if settings.checkpoint_public_key_file is not None:
        declared = _read_public(Path(settings.checkpoint_public_key_file))
        if public is not None and key_id_of(declared) != key_id_of(public):
            raise CheckpointKeyError(
                f"checkpoint_public_key_file {settings.checkpoint_public_key_file} does not "
                f"match the private key in {path}"
            )
        public, source = declared, source or str(settings.checkpoint_public_key_file)
    return CheckpointKeys(public=public, private=private, source=source)


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def create_key_file(path: Path) -> None:
    """Write a new Ed25519 private key (PEM, PKCS#8) readable by its owner only, atomically:
    written under a restrictive umask to a private temporary file, then linked into place
    (a process that loses the race keeps the key the winner wrote)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with _umask(0o077):
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def _read_private(path: Path) -> Ed25519PrivateKey:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise CheckpointKeyError(f"checkpoint key file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CheckpointKeyError(
            f"checkpoint key file {path} is readable by others (mode {stat.filemode(mode)}): "
            f"chmod 600 {path}"
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CheckpointKeyError(f"checkpoint key file {path} cannot be read: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointKeyError(f"checkpoint key file {path} does not hold an Ed25519 key")
    return key


def _read_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CheckpointKeyError(f"checkpoint public key {path} cannot be read: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointKeyError(f"checkpoint public key {path} is not an Ed25519 key")
    return key


def public_pem(keys: CheckpointKeys) -> str:
    """The public key as PEM text (to hand to a verify-only host)."""
    if keys.public is None:
        raise CheckpointKeyError("no checkpoint key is configured")
    return keys.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


# ------------------------------------------------------------------ file copy


def append_copy(path: Path, checkpoint: Checkpoint) -> None:
    """Append a checkpoint to the operator's JSON-lines copy (created 0600), synced to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = orjson.dumps(checkpoint.as_dict(), option=orjson.OPT_SORT_KEYS) + b"\n"
    with _umask(0o077):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def read_copy(path: Path) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints of a JSON-lines copy, and a message for each line that cannot be read."""
    if not path.exists():
        return [], []
    found: list[Checkpoint] = []
    problems: list[str] = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(Checkpoint.from_dict(orjson.loads(line)))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            problems.append(f"{path}:{number}: not a checkpoint ({type(exc).__name__}: {exc})")
    return found, problems
