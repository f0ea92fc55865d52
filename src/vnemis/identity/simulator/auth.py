"""Client authentication: OAuth2 client credentials and the bearer tokens they buy."""

import math
import secrets
import threading
import time
from dataclasses import dataclass

SCOPES = frozenset({"verify", "extract"})
DEFAULT_CLIENT = "vnemis:dev-secret:verify,extract"


@dataclass(frozen=True)
class Client:
    client_id: str
    secret: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class Grant:
    client: Client
    scopes: frozenset[str]
    expires: float  # time.monotonic()


def parse_client(spec: str) -> Client:
    """``ID:SECRET[:scope,scope]``; scopes default to verify and extract."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError(f"The client '{spec}' must be given as ID:SECRET[:scopes].")
    scopes = frozenset(parts[2].split(",")) if len(parts) == 3 else SCOPES
    unknown = scopes - SCOPES
    if unknown:
        raise ValueError(
            f"Unknown scope(s) {', '.join(sorted(unknown))} for client '{parts[0]}'; "
            f"the scopes are {', '.join(sorted(SCOPES))}."
        )
    return Client(parts[0], parts[1], scopes)


class TokenError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class Tokens:
    """Issues opaque bearer tokens and tells whose they are until they expire."""

    def __init__(self, clients: list[Client], ttl: float):
        self.clients = {c.client_id: c for c in clients}
        self.ttl = ttl
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()

    @property
    def expires_in(self) -> int:
        return max(1, math.ceil(self.ttl))

    def issue(self, client_id: str, secret: str, scope: str | None = None) -> tuple[str, Grant]:
        """A new token for a client whose secret is right, limited to ``scope`` if asked."""
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.secret.encode(), secret.encode()):
            raise TokenError("invalid_client", "Unknown client or wrong client secret.")
        scopes = client.scopes
        if scope:
            asked = frozenset(scope.split())
            if not asked <= client.scopes:
                raise TokenError(
                    "invalid_scope",
                    f"The client may not ask for: {', '.join(sorted(asked - client.scopes))}.",
                )
            scopes = asked
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        grant = Grant(client, scopes, now + self.ttl)
        with self._lock:
            if len(self._grants) > 10_000:  # clients that never reuse tokens must not grow memory
                self._grants = {t: g for t, g in self._grants.items() if g.expires > now}
            self._grants[token] = grant
        return token, grant

    def grant_of(self, token: str) -> Grant | None:
        """The grant behind a live token, or None (unknown or expired)."""
        with self._lock:
            grant = self._grants.get(token)
            if grant is None:
                return None
            if time.monotonic() >= grant.expires:
                del self._grants[token]
                return None
            return grant
