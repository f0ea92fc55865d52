"""The per-client request quota: at most N requests in any window of S seconds."""

import math
import threading
import time
from collections import deque


class Quota:
    """A sliding log of each client's request times."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self._log: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, client_id: str) -> int | None:
        """None if the request is allowed (and counted), else whole seconds to wait."""
        now = time.monotonic()
        with self._lock:
            log = self._log.setdefault(client_id, deque())
            while log and log[0] <= now - self.window:
                log.popleft()
            if len(log) >= self.limit:
                return max(1, math.ceil(log[0] + self.window - now))
            log.append(now)
            return None
