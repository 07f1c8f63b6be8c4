"""Files that hold secrets or pay: created owner-only from the first byte, and checked.

Nothing here creates a file and narrows its mode afterwards: a file is opened with
``O_CREAT | O_EXCL`` and mode 0600 (under a 077 umask), so no other user can open it in
between. A secret is written to a temporary file first and linked into place, so a reader
sees either no key or the whole key, and two processes creating it at once agree on one.
SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file, so creating
the database file owner-only covers them too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

PRIVATE_MODE = 0o600
"""Read and write for the owner only."""

_umask_lock = threading.Lock()


class UnsafeFile(Exception):
    """A secret file that others may read, or that is not a regular file."""


@contextlib.contextmanager
def owner_only() -> Iterator[None]:
    """Run a block under umask 077 (files created in it get no group or other bits),
    restoring the previous umask after. The umask is per process: the lock keeps two
    threads of this module from restoring each other's."""
    with _umask_lock:
        previous = os.umask(0o077)
        try:
            yield
        finally:
            os.umask(previous)


def create_private(path: Path) -> bool:
    """Create an empty owner-only file if none exists (True if this call created it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with owner_only():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_MODE)
        except FileExistsError:
            return False
    os.close(fd)
    return True


def write_secret_once(path: Path, text: str) -> bool:
    """Store ``text`` at ``path`` unless a file is already there (True if this call wrote
    it): written to an owner-only temporary file, synced, then hard-linked into place, which
    fails rather than replaces when another process got there first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    with owner_only():
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        temporary.unlink(missing_ok=True)


def check_private(path: Path, what: str = "key file") -> None:
    """Refuse a secret file that group or others may read or write, or that is not a
    regular file (UnsafeFile, naming the file and the fix)."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise UnsafeFile(f"{what} {path} is not a regular file: replace it with one")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise UnsafeFile(
            f"{what} {path} is readable or writable by group or others (mode {mode:04o}); "
            f"refusing to use it: run `chmod 600 {path}`"
        )


def read_private(path: Path, what: str = "key file") -> str:
    """The text of a secret file, after ``check_private``."""
    check_private(path, what)
    return path.read_text(encoding="utf-8").strip()
