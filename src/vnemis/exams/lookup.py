"""The precomputed result look-up table (``ExamResultLookup``) and its two public reads.

``lookup_refresh`` writes one row per numbered candidate of a session (all of them, or the
given ones after an appeal): number, name, birth date, per-paper scores, graduation score and
result, and ``citizen_key`` — a keyed hash of the citizen ID (HMAC under the blind-index key,
separated by a prefix and the year from the registry's own index), so the table can be copied
to the look-up servers without any citizen ID in it. The public service finds a row with
``lookup_by_number`` or ``lookup_by_citizen_id``; both answer nothing before the session's
publication time, however early the table was built.

Every refresh bumps the session's cache generation (``lookup_generation_bump``, after commit):
the public service (``public.py``) keys its cached answers by it, so a refreshed row is never
served from the cache.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from functools import partial

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from vnemis.core.crypto import blind_index, decrypt_identifier

from .access import results_published
from .models import Candidate, CandidateSubject, ExamResultLookup, ExamSession, Score
from .sql import rows_insert, timestamp

REFRESH_CHUNK = 20_000
EXEMPT_MARK = "MT"  # miễn thi: the language paper exempted by certificate


def citizen_key(*, year: int, citizen_id: str) -> str:
    """The look-up key of a citizen ID for one session's table (32 hex characters)."""
    return blind_index(f"exam-lookup:{year}:{citizen_id.strip()}")


def lookup_generation_key(year: int) -> str:
    """The cache key holding the generation of a session's look-up table."""
    return f"exams:lookup:gen:{year}"


def lookup_generation_bump(*, year: int) -> int:
    """A new generation for the session's cached answers: every answer cached before is dropped
    (a clock value, so it never repeats an old one even if the key was evicted)."""
    generation = time.time_ns()
    cache.set(lookup_generation_key(year), generation, timeout=None)
    return generation


LOOKUP_COLUMNS = (
    "session",
    "candidate_id",
    "candidate_number",
    "citizen_key",
    "full_name",
    "birth_date",
    "scores",
    "graduation_score",
    "result",
    "updated_at",
)


def _rows(session: ExamSession, ids: list[int], now: datetime) -> list[tuple]:
    """The look-up rows of these candidates, in ``LOOKUP_COLUMNS`` order, database-ready."""
    candidates = list(
        Candidate.objects.filter(id__in=ids)
        .exclude(candidate_number="")
        .values_list(
            "id",
            "candidate_number",
            "graduation_score",
            "result",
            "person__full_name",
            "person__birth_date",
            "person__citizen_id_ciphertext",
        )
    )
    scores: dict[int, dict[str, str]] = {}
    for cid, code, value in Score.objects.filter(candidate_id__in=ids).values_list(
        "candidate_id", "subject__code", "score"
    ):
        scores.setdefault(cid, {})[code] = f"{value:.2f}"
    for cid, code in CandidateSubject.objects.filter(candidate_id__in=ids, exempt=True).values_list(
        "candidate_id", "subject__code"
    ):
        scores.setdefault(cid, {})[code] = EXEMPT_MARK
    stamp = timestamp(now)
    rows = []
    for cid, number, total, result, name, born, blob in candidates:
        key = citizen_key(year=session.year, citizen_id=decrypt_identifier(blob)) if blob else ""
        paper = json.dumps(scores.get(cid, {}), ensure_ascii=False, sort_keys=True)
        rows.append((session.pk, cid, number, key, name, born, paper, total, result, stamp))
    return rows


@transaction.atomic
def lookup_refresh(
    *, session: ExamSession, candidate_ids: list[int] | None = None, now: datetime | None = None
) -> int:
    """Rewrite the look-up rows of the given candidates (every candidate if None), in one
    transaction so readers see the old rows or the new ones, never a gap. Returns rows written."""
    now = now or timezone.now()
    if candidate_ids is None:
        ExamResultLookup.objects.filter(session=session).delete()
        source = Candidate.objects.filter(session=session).order_by("id")
        ids_iter = source.values_list("id", flat=True).iterator(chunk_size=REFRESH_CHUNK)
    else:
        ExamResultLookup.objects.filter(session=session, candidate_id__in=candidate_ids).delete()
        ids_iter = iter(sorted(candidate_ids))
    written = 0
    chunk: list[int] = []
    for cid in ids_iter:
        chunk.append(cid)
        if len(chunk) >= REFRESH_CHUNK:
            written += rows_insert(ExamResultLookup, LOOKUP_COLUMNS, _rows(session, chunk, now))
            chunk = []
    if chunk:
        written += rows_insert(ExamResultLookup, LOOKUP_COLUMNS, _rows(session, chunk, now))
    if candidate_ids is None:
        ExamSession.objects.filter(pk=session.pk).update(lookup_built_at=now)
    # After commit: a reader caching between a bump and the commit would keep the old row.
    transaction.on_commit(partial(lookup_generation_bump, year=session.year))
    return written


def _published_session(year: int, now: datetime | None) -> ExamSession | None:
    session = ExamSession.objects.filter(year=year).first()
    if session is None or not results_published(session, now=now):
        return None
    return session


def lookup_by_number(
    *, year: int, candidate_number: str, now: datetime | None = None
) -> ExamResultLookup | None:
    """A published result by candidate number (None before publication or if unknown)."""
    session = _published_session(year, now)
    if session is None:
        return None
    return ExamResultLookup.objects.filter(
        session=session, candidate_number=candidate_number.strip()
    ).first()


def lookup_by_citizen_id(
    *, year: int, citizen_id: str, now: datetime | None = None
) -> ExamResultLookup | None:
    """A published result by citizen ID (None before publication or if unknown)."""
    session = _published_session(year, now)
    if session is None or not citizen_id.strip():
        return None
    key = citizen_key(year=year, citizen_id=citizen_id)
    return ExamResultLookup.objects.filter(session=session, citizen_key=key).first()
