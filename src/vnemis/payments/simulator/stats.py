"""Counters of what the simulator did, for tests and benches (``GET /_sim/stats``)."""

import threading
from collections import Counter


class Stats:
    def __init__(self):
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self._counts: Counter = Counter()
        self._ipn: Counter = Counter()
        self._queries: Counter = Counter()
        self._errors: Counter = Counter()
        self._results: Counter = Counter()

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def ipn_attempt(self, outcome: str) -> None:
        with self._lock:
            self._counts["ipn_attempts"] += 1
            self._ipn[outcome] += 1

    def query(self, code: str) -> None:
        with self._lock:
            self._counts["queries"] += 1
            self._queries[code] += 1

    def error(self, code: str) -> None:
        with self._lock:
            self._errors[code] += 1

    def result(self, code: str) -> None:
        with self._lock:
            self._results[code] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                **{k: self._counts.get(k, 0) for k in ("pages", "ipn_attempts", "queries")},
                "ipn_never": self._counts.get("ipn_never", 0),
                "results": dict(self._results),
                "ipn_by_answer": dict(self._ipn),
                "queries_by_code": dict(self._queries),
                "errors_by_code": dict(self._errors),
            }
