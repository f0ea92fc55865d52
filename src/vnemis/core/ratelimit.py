"""A fixed-window request counter per client in the shared cache, for public endpoints.

``rate_limit_hit(scope=…, client=…, limit=…)`` counts one request of ``client`` in the current
window (``window`` seconds, aligned on the clock, so every app process counts in the same key)
and says whether it is still within ``limit`` and, if not, how many seconds until the window
ends (the ``Retry-After`` header). A fixed window lets through at most ``2 × limit`` requests
around a window boundary; that is the price of one counter per client instead of a log.

With Redis (``REDIS_URL``) the count is one round trip: a server-side script runs ``INCR`` and,
on the window's first request, ``EXPIRE``, so the key gets its lifetime from the first request
of the window and the counter is atomic across processes. ``rate_limit_hit_and_read`` also
reads cache keys in that same trip (a hot endpoint's cached answer: one trip per request). Other cache backends (local memory in development and tests) use the
portable ``cache.add`` + ``cache.incr``, atomic within one process.

The client is hashed into the key: the cache never holds an IP address, and a hostile
``X-Forwarded-For`` value (believed only from a trusted proxy) cannot make an invalid key.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

KEY_PREFIX = "rl"


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    count: int  # requests of this client in the current window, this one included
    limit: int
    retry_after: int  # seconds until the window ends (meaningful when refused)


def _client_digest(client: str) -> str:
    return hashlib.blake2b(client.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


# INCR, the window's lifetime on the first count, then the cache keys the caller wants read:
# one round trip, atomic in Redis. MGET's misses come back as false, kept in place in the list.
_INCR_EXPIRE_MGET = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local out = {n}
if #KEYS > 1 then
  local got = redis.call('MGET', unpack(KEYS, 2))
  for i = 1, #got do out[i + 1] = got[i] end
end
return out
"""


def redis_client(cache):
    """The backend's Redis client, made once per cache instance (None if not Redis).

    Django's Redis backend builds a new ``redis.Redis`` object for every call (measured here:
    ~190 µs of the ~500 µs a cached look-up took); the object is thread-safe and its
    connection pool is the backend's own, so one per instance serves every call.
    """
    if not isinstance(cache, RedisCache):
        return None
    backend = cache._cache
    client = getattr(backend, "_vnemis_client", None)
    if client is None:
        client = backend._vnemis_client = backend.get_client(write=True)
    return client


def cache_get_many(cache, keys: list[str]) -> dict:
    """``cache.get_many(keys)``, through the kept Redis client when the cache is Redis."""
    client = redis_client(cache)
    if client is None or not keys:
        return cache.get_many(keys) if keys else {}
    loads = cache._cache._serializer.loads
    values = client.mget([cache.make_key(k) for k in keys])
    return {k: loads(v) for k, v in zip(keys, values, strict=True) if v is not None}


def _count_redis(cache: RedisCache, key: str, ttl: int, reads: list[str]) -> tuple[int, dict]:
    client = redis_client(cache)
    script = getattr(client, "_vnemis_incr_expire", None)
    if script is None:
        script = client._vnemis_incr_expire = client.register_script(_INCR_EXPIRE_MGET)
    keys = [cache.make_key(key), *(cache.make_key(k) for k in reads)]
    count, *values = script(keys=keys, args=[ttl])
    loads = cache._cache._serializer.loads
    got = {k: loads(v) for k, v in zip(reads, values, strict=False) if v is not None}
    return int(count), got


def _count_portable(cache, key: str, ttl: int) -> int:
    for _attempt in range(3):
        if cache.add(key, 1, ttl):
            return 1
        try:
            return int(cache.incr(key))
        except ValueError:  # expired between add and incr: start the window again
            continue
    return 1  # the cache keeps losing the key (a dummy cache): count nothing, refuse nothing


def rate_limit_hit(
    *,
    scope: str,
    client: str,
    limit: int,
    window: int = 60,
    cache_alias: str = "default",
    now: float | None = None,
) -> RateDecision:
    """Count one request of ``client`` under ``scope`` and decide: allowed while the count in
    the current window is at most ``limit``; ``limit <= 0`` turns the limit off."""
    return rate_limit_hit_and_read(
        scope=scope, client=client, limit=limit, window=window, cache_alias=cache_alias, now=now
    )[0]


def rate_limit_hit_and_read(
    *,
    scope: str,
    client: str,
    limit: int,
    reads: list[str] = (),
    window: int = 60,
    cache_alias: str = "default",
    now: float | None = None,
) -> tuple[RateDecision, dict]:
    """``rate_limit_hit``, and ``cache.get_many(reads)`` in the same Redis round trip (a hot
    endpoint's counter and its cached answer cost one trip, not two). Other backends make two
    calls. The keys must live on one Redis server (no cluster slots)."""
    cache = caches[cache_alias]
    if limit <= 0:
        return RateDecision(True, 0, limit, 0), cache_get_many(cache, list(reads))
    now = time.time() if now is None else now
    slot = int(now // window)
    key = f"{KEY_PREFIX}:{scope}:{slot}:{_client_digest(client)}"
    ttl = window + 1  # outlives the window by a second, whatever the clock skew between calls
    if isinstance(cache, RedisCache):
        count, got = _count_redis(cache, key, ttl, list(reads))
    else:
        count = _count_portable(cache, key, ttl)
        got = cache_get_many(cache, list(reads))
    retry_after = max(1, math.ceil((slot + 1) * window - now))
    return RateDecision(count <= limit, count, limit, retry_after), got
