"""Counters of what the simulator did (``GET /_sim/stats``), shared by the handler threads."""

import threading
from collections import Counter


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests = 0
            self._items = 0
            self._status: Counter[str] = Counter()
            self._fault: Counter[str] = Counter()
            self._endpoint: Counter[str] = Counter()
            self._client: dict[str, Counter[str]] = {}

    def request(self, endpoint: str) -> None:
        with self._lock:
            self._requests += 1
            self._endpoint[endpoint] += 1

    def answered(self, status: int) -> None:
        with self._lock:
            self._status[str(status)] += 1

    def fault(self, name: str) -> None:
        with self._lock:
            self._fault[name] += 1

    def client_request(self, client_id: str) -> None:
        """One API request by an authenticated client."""
        with self._lock:
            self._client.setdefault(client_id, Counter())["requests"] += 1

    def verified(self, client_id: str, items: int) -> None:
        with self._lock:
            self._client.setdefault(client_id, Counter())["items_verified"] += items
            self._items += items

    def snapshot(self) -> dict:
        with self._lock:
            flat = {
                "requests": self._requests,
                "items_verified": self._items,
                **{f"status_{k}": v for k, v in self._status.items()},
                **{f"fault_{k}": v for k, v in self._fault.items()},
            }
            return {
                "requests": self._requests,
                "items_verified": self._items,
                "by_status": dict(self._status),
                "by_fault": dict(self._fault),
                "by_endpoint": dict(self._endpoint),
                "per_client": {c: dict(v) for c, v in self._client.items()},
                "counts": flat,  # the same, flat (status_200, fault_drop, ...)
            }
