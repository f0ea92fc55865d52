"""Client authentication (OAuth2 client credentials) and the per-client request quota."""

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Client:
    client_id: str
    secret: str
    scopes: frozenset[str]


def parse_client(spec: str) -> Client:
    """``ID:SECRET[:scope,scope]``; scopes default to verify and extract."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError(f"client '{spec}' must be ID:SECRET[:scopes]")
    scopes = frozenset(parts[2].split(",")) if len(parts) == 3 else frozenset({"verify", "extract"})
    return Client(parts[0], parts[1], scopes)


class Tokens:
    def __init__(self, clients: list[Client], ttl: float):
        self.clients = {c.client_id: c for c in clients}
        self.ttl = ttl
        self._issued: dict[str, tuple[Client, float]] = {}
        self._lock = threading.Lock()

    def issue(self, client_id: str, secret: str) -> str | None:
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.secret, secret):
            return None
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._issued[token] = (client, time.monotonic() + self.ttl)
        return token

    def client_of(self, token: str) -> Client | None:
        with self._lock:
            found = self._issued.get(token)
            if found is None:
                return None
            if time.monotonic() >= found[1]:
                del self._issued[token]
                return None
            return found[0]


class Quota:
    """At most ``limit`` requests per client in any ``window`` seconds (sliding log)."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self._log: dict[str, deque] = {}
        self._lock = threading.Lock()

    def take(self, client_id: str) -> float | None:
        """None if allowed, else the seconds until a request would be."""
        now = time.monotonic()
        with self._lock:
            log = self._log.setdefault(client_id, deque())
            while log and log[0] <= now - self.window:
                log.popleft()
            if len(log) >= self.limit:
                return max(log[0] + self.window - now, 0.001)
            log.append(now)
            return None
