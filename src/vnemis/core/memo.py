"""A small per-process memo of configuration read on hot paths (an exchange partner's inbox
reads its own organisations, document types and seal for every message).

Values are kept for a few seconds and dropped at once when a model they come from is saved or
deleted in this process (``clear_on_save``); another process's edit shows within the lifetime.
Only for rows that change rarely and whose staleness for that long is harmless.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

_MISSING = object()


class Memo:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self._values: dict[Hashable, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], object]):
        now = time.monotonic()
        with self._lock:
            kept = self._values.get(key, _MISSING)
        if kept is not _MISSING and kept[0] > now:
            return kept[1]
        value = compute()
        with self._lock:
            self._values[key] = (now + self.seconds, value)
        return value

    def clear(self, *args, **kwargs) -> None:  # also a signal receiver
        with self._lock:
            self._values.clear()

    def clear_on_save(self, *models) -> Memo:
        from django.db.models.signals import post_delete, post_save

        for model in models:
            for signal in (post_save, post_delete):
                signal.connect(self.clear, sender=model, weak=False)
        return self
