"""Client of the national population registry's data-sharing API (or its simulator).

One ``RegistryClient`` is shared by the threads of a verification run: it holds an OAuth2
client-credentials token (renewed before it expires, and once on a 401), retries what may
succeed later (timeouts, dropped connections, HTTP 5xx and 429) with exponential backoff and
full jitter, honours ``Retry-After``, and trips a circuit breaker after repeated failures so a
registry that is down is not hammered: calls then fail fast with ``RegistryUnavailable`` until
the cool-down has passed and one trial call succeeds. The answer is per field, match or
mismatch: the registry never sends its data back.
"""

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

BATCH_LIMIT = 1_000
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RegistryError(Exception):
    """The registry could not answer; ``code`` says why (for counts and the UI)."""

    code = "registry_error"


class RegistryUnavailable(RegistryError):
    """Retries exhausted or the circuit is open: try again later."""

    code = "registry_unavailable"


class RegistryRefused(RegistryError):
    """A request the registry will never accept as sent (credentials, scope, malformed)."""

    code = "registry_refused"


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    client_id: str
    client_secret: str
    timeout: float = 10.0  # seconds per attempt
    retries: int = 5  # attempts after the first
    backoff_base: float = 0.2
    backoff_max: float = 10.0
    breaker_failures: int = 8  # consecutive failed attempts that open the circuit
    breaker_cooldown: float = 30.0
    concurrency: int = 8  # requests in flight (the run's thread pool)

    @classmethod
    def from_settings(cls, **overrides) -> "ClientConfig":
        from django.conf import settings

        values = {
            "base_url": settings.VNEMIS_REGISTRY_URL,
            "client_id": settings.VNEMIS_REGISTRY_CLIENT_ID,
            "client_secret": settings.VNEMIS_REGISTRY_CLIENT_SECRET,
            "timeout": settings.VNEMIS_REGISTRY_TIMEOUT,
            "concurrency": settings.VNEMIS_REGISTRY_CONCURRENCY,
        }
        return cls(**{**values, **overrides})


class CircuitBreaker:
    """Closed → open after ``failures`` consecutive failures; one trial after ``cooldown``."""

    def __init__(self, failures: int, cooldown: float, clock: Callable[[], float]):
        self._limit, self._cooldown, self._clock = failures, cooldown, clock
        self._failed = 0
        self._opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def before_call(self) -> None:
        with self._lock:
            if self._opened_at is None:
                return
            if self._trial or self._clock() - self._opened_at < self._cooldown:
                raise RegistryUnavailable("circuit open")
            self._trial = True  # half-open: this caller is the one trial

    def success(self) -> None:
        with self._lock:
            self._failed, self._opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._failed += 1
            if self._trial or self._failed >= self._limit:
                self._opened_at, self._trial = self._clock(), False


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    failures: int = 0
    network_seconds: float = 0.0
    by_outcome: dict = field(default_factory=dict)


class RegistryClient:
    def __init__(
        self,
        config: ClientConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ):
        self.config = config
        self.stats = ClientStats()
        self._sleep, self._clock = sleep, clock
        self._rng = rng or random.Random()  # jitter, not secrecy
        self._breaker = CircuitBreaker(config.breaker_failures, config.breaker_cooldown, clock)
        limits = httpx.Limits(
            max_connections=config.concurrency, max_keepalive_connections=config.concurrency
        )
        self._http = httpx.Client(
            base_url=config.base_url, timeout=config.timeout, limits=limits, trust_env=False
        )
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()
        self._stats_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- public calls -----------------------------------------------------------------------

    def verify_batch(self, items: list[dict]) -> list[dict]:
        """Check up to 1,000 persons; ``items`` carry ``ref``, citizen_id, full_name,
        birth_date (ISO), sex. Answers come back in the same order."""
        if len(items) > BATCH_LIMIT:
            raise ValueError(f"at most {BATCH_LIMIT} items per batch")
        body = self._post("/api/v1/citizens/verify/batch", {"items": items})
        answers = body.get("items")
        if not isinstance(answers, list) or len(answers) != len(items):
            raise RegistryRefused("the registry's answer does not match the request")
        return answers

    def verify_one(self, item: dict) -> dict:
        return self._post("/api/v1/citizens/verify", item)

    def cohort_extract(self, *, birth_years: list[int], provinces: list[str] | None = None):
        """The citizens of some birth cohorts (Parquet bytes), under the data-sharing agreement."""
        payload: dict = {"birth_years": birth_years}
        if provinces:
            payload["birth_province_codes"] = provinces
        return self._request("/api/v1/extracts/cohort", payload).content

    # --- transport --------------------------------------------------------------------------

    def _post(self, path: str, payload: dict) -> dict:
        response = self._request(path, payload)
        try:
            return response.json()
        except ValueError as exc:
            raise RegistryRefused("the registry's answer is not JSON") from exc

    def _request(self, path: str, payload: dict) -> httpx.Response:
        attempt = 0
        renewed = False
        while True:
            self._breaker.before_call()
            retry_after = None
            started = self._clock()
            try:
                token = self._bearer()
                response = self._http.post(
                    path, json=payload, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.TransportError as exc:  # timeouts, refused and dropped connections
                outcome = type(exc).__name__
            except RegistryUnavailable as exc:  # the token endpoint failed the same ways
                outcome = str(exc)
            else:
                outcome = str(response.status_code)
                if response.status_code == 401 and not renewed:
                    renewed = True
                    self._token = None
                    self._count(outcome, started)
                    continue
                if response.status_code < 400:
                    self._count(outcome, started)
                    self._breaker.success()
                    return response
                if response.status_code not in RETRY_STATUSES:
                    self._count(outcome, started)
                    self._breaker.success()  # the registry is up; the request is wrong
                    raise RegistryRefused(_error_text(response))
                retry_after = _retry_after(response)
            self._count(outcome, started, failed=True)
            self._breaker.failure()
            if attempt >= self.config.retries:
                raise RegistryUnavailable(f"gave up after {attempt + 1} attempts ({outcome})")
            delay = self._rng.uniform(
                0, min(self.config.backoff_max, self.config.backoff_base * 2**attempt)
            )
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.config.backoff_max))
            attempt += 1
            with self._stats_lock:
                self.stats.retries += 1
            self._sleep(delay)

    def _bearer(self) -> str:
        with self._token_lock:
            if self._token and self._clock() < self._token_expires - 30:
                return self._token
            try:
                response = self._http.post(
                    "/oauth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self.config.client_id,
                        "client_secret": self.config.client_secret,
                    },
                )
            except httpx.TransportError as exc:
                raise RegistryUnavailable(f"token: {type(exc).__name__}") from exc
            if response.status_code in RETRY_STATUSES:
                raise RegistryUnavailable(f"token: HTTP {response.status_code}")
            if response.status_code != 200:
                raise RegistryRefused(f"token: {_error_text(response)}")
            body = response.json()
            self._token = body["access_token"]
            self._token_expires = self._clock() + float(body.get("expires_in", 300))
            return self._token

    def _count(self, outcome: str, started: float, *, failed: bool = False) -> None:
        with self._stats_lock:
            self.stats.requests += 1
            self.stats.failures += failed
            self.stats.network_seconds += self._clock() - started
            self.stats.by_outcome[outcome] = self.stats.by_outcome.get(outcome, 0) + 1


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        return f"HTTP {response.status_code} {error.get('code', '')}: {error.get('message', '')}"
    except (ValueError, AttributeError):
        return f"HTTP {response.status_code}"
