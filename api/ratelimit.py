"""Bad credentials rate-limited per client address: after N failures in a window the
client is answered 429 with ``Retry-After`` until that window has passed. Memory is
bounded: the least recently seen clients are forgotten first."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class FailureLimiter:
    """Counts authentication failures per client in fixed windows."""

    def __init__(
        self,
        failures: int,
        window: float,
        clients: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.window = window
        self.clients = clients
        self.clock = clock
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()
        """client -> (start of its window, failures in it), least recently failed first."""
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        """Seconds until a blocked client may try again, or None if it is not blocked."""
        with self._lock:
            found = self._seen.get(client)
            if found is None:
                return None
            start, count = found
            left = start + self.window - self.clock()
            if left <= 0:
                del self._seen[client]
                return None
            return math.ceil(left) if count >= self.failures else None

    def failed(self, client: str) -> None:
        """Record one failure of a client (a new window if its last one has passed)."""
        with self._lock:
            now = self.clock()
            start, count = self._seen.pop(client, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            self._seen[client] = (start, count + 1)
            while len(self._seen) > self.clients:
                self._seen.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seen)
