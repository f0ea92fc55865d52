"""What other parts call when exam scores change: ``exam_scores_changed(candidate_ids)``.

Admissions (a higher app) must recompute admission scores after a re-marking appeal, but the
exam cannot import it (dependencies point down, DESIGN.md §2). So a higher app subscribes a
callback, in its ``AppConfig.ready``::

    from vnemis.exams.hooks import scores_changed_subscribe
    scores_changed_subscribe(admission_scores_refresh)   # called with a list of candidate ids

The exam calls ``exam_scores_changed`` after its own graduation results and look-up rows are
recomputed, on commit of that transaction (never for a change that was rolled back). A plain
list of callbacks rather than a Django signal: explicit, and no domain logic hides in receivers.
A callback that fails is logged and does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.db import transaction

logger = logging.getLogger(__name__)

ScoresChanged = Callable[[list[int]], None]
_subscribers: list[ScoresChanged] = []


def scores_changed_subscribe(callback: ScoresChanged) -> None:
    """Call ``callback(candidate_ids)`` whenever candidates' scores or results change."""
    if callback not in _subscribers:
        _subscribers.append(callback)


def scores_changed_unsubscribe(callback: ScoresChanged) -> None:
    if callback in _subscribers:
        _subscribers.remove(callback)


def exam_scores_changed(candidate_ids: Iterable[int]) -> None:
    """Tell the subscribers, once the current transaction commits (at once outside one)."""
    ids = sorted({int(i) for i in candidate_ids})
    if not ids:
        return

    def notify() -> None:
        for callback in list(_subscribers):
            try:
                callback(ids)
            except Exception:  # one subscriber's failure must not hide the change from others
                logger.exception("exam_scores_changed subscriber %r failed", callback)

    transaction.on_commit(notify)
