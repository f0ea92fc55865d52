"""A virtual-filtering run over the database: scores, engine, placements, cut-offs, reasons.

``run_request`` numbers a new run and queues it; ``run_execute`` (the task, or the CLI in the
foreground) recomputes every wish's admission score from the current exam scores, reads the
eligible, paid-for wishes as integer arrays (no ORM objects on this path), runs the engine
(``matching``), and writes the run's placements, cut-offs and missed wishes with COPY. The
engine is deterministic, so equal inputs give equal outputs: the run keeps a SHA-256 of its
inputs, and a rerun after appeals or quota changes is simply a new run on the new inputs.
"""

from __future__ import annotations

import hashlib
import logging
import time

import numpy as np
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from vnemis.core.audit import audit_record
from vnemis.exams.sql import rows_insert

from .catalogue import METHOD_EXAM
from .errors import AdmissionError
from .matching import TIE_ALL, match
from .models import (
    AdmissionRound,
    Cutoff,
    MatchRun,
    MissedWish,
    Placement,
    Programme,
    ProgrammeQuota,
)
from .scoring import wish_scores_refresh

logger = logging.getLogger(__name__)
FETCH = 100_000


def run_request(*, round_: AdmissionRound, actor=None, note: str = "", enqueue=True) -> MatchRun:
    """Number a new run of the round and queue it (refused while another is pending)."""
    with transaction.atomic():
        AdmissionRound.objects.select_for_update().get(pk=round_.pk)
        if round_.runs.filter(
            status__in=[MatchRun.Status.QUEUED, MatchRun.Status.RUNNING]
        ).exists():
            raise AdmissionError(
                "run_pending",
                "Đã có một lượt lọc ảo đang chờ hoặc đang chạy; hãy đợi lượt đó xong.",
                "A virtual-filtering run is already queued or running; wait for it to finish.",
            )
        number = (round_.runs.aggregate(n=Max("number"))["n"] or 0) + 1
        run = MatchRun.objects.create(
            round=round_, number=number, requested_by=actor, note=note[:255]
        )
        audit_record(actor=actor, action="create", object_type="admission_run", object_id=run.pk)
    if enqueue:
        from .tasks import match_run_task

        transaction.on_commit(lambda: match_run_task.enqueue(run.pk))
    return run


def run_execute(run_id: int) -> MatchRun:
    """Run a queued run to the end; a failure is recorded on the run, never half-written."""
    claimed = MatchRun.objects.filter(pk=run_id, status=MatchRun.Status.QUEUED).update(
        status=MatchRun.Status.RUNNING, started_at=timezone.now()
    )
    run = MatchRun.objects.select_related("round").get(pk=run_id)
    if not claimed:
        return run
    started = time.perf_counter()
    try:
        wish_scores_refresh(run.round)
        with transaction.atomic():
            figures = _match_and_write(run)
    except Exception as error:
        logger.exception("admission run %s failed", run_id)
        MatchRun.objects.filter(pk=run_id).update(
            status=MatchRun.Status.FAILED,
            finished_at=timezone.now(),
            error=f"{type(error).__name__}: {error}"[:2000],
        )
        raise
    MatchRun.objects.filter(pk=run_id).update(
        status=MatchRun.Status.DONE,
        finished_at=timezone.now(),
        seconds=round(time.perf_counter() - started, 3),
        **figures,
    )
    run.refresh_from_db()
    return run


def _programmes(round_: AdmissionRound) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Programme ids in id order, their exam-method quotas and their tie rules."""
    ids, ties = [], []
    for pk, rule in Programme.objects.filter(round=round_).order_by("id").values_list("id", "ties"):
        ids.append(pk)
        ties.append(rule)
    quotas = dict(
        ProgrammeQuota.objects.filter(programme__round=round_, method=METHOD_EXAM).values_list(
            "programme_id", "quota"
        )
    )
    id_array = np.array(ids, dtype=np.int64)
    return id_array, np.array([quotas.get(i, 0) for i in ids], dtype=np.int64), ties


def _wishes(round_: AdmissionRound) -> tuple[np.ndarray, ...]:
    """The eligible wishes within each candidate's paid count, as four int64 arrays."""
    paid_filter = "" if round_.fee_per_wish == 0 else "AND w.rank <= COALESCE(l.paid_wishes, 0)"
    sql = (
        "SELECT w.candidate_id, w.rank, w.programme_id, s.score FROM admissions_wish w "  # noqa: S608
        "JOIN admissions_wishscore s ON s.wish_id = w.id "
        "LEFT JOIN admissions_wishlist l ON l.round_id = w.round_id "
        "AND l.candidate_id = w.candidate_id "
        f"WHERE w.round_id = %s AND s.reason = '' {paid_filter} "
        "ORDER BY w.candidate_id, w.rank"
    )
    parts = []
    with connection.cursor() as cursor:
        cursor.execute(sql, [round_.pk])
        while rows := cursor.fetchmany(FETCH):
            parts.append(np.array(rows, dtype=np.int64).reshape(-1, 4))
    table = np.concatenate(parts) if parts else np.empty((0, 4), dtype=np.int64)
    return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy(), table[:, 3].copy()


def _listed_candidates(round_: AdmissionRound) -> np.ndarray:
    """Every candidate with a wish in the round: each gets a placement row, placed or not."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT candidate_id FROM admissions_wish WHERE round_id = %s "
            "ORDER BY candidate_id",
            [round_.pk],
        )
        return np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)


def inputs_digest(*arrays: np.ndarray, ties: list[str]) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
        digest.update(b"|")
    digest.update(",".join(ties).encode())
    return digest.hexdigest()


def _match_and_write(run: MatchRun) -> dict:
    round_ = run.round
    programme_ids, quotas, ties = _programmes(round_)
    candidates, ranks, programme_of_wish, scores = _wishes(round_)
    programme_index = np.searchsorted(programme_ids, programme_of_wish)
    result = match(
        quotas=quotas,
        ties=ties or TIE_ALL,
        candidates=candidates,
        ranks=ranks,
        programmes=programme_index,
        scores=scores,
    )
    placed_programme = {}
    placed_wish = result.placed_wish
    for cid, index, rank, wish in zip(
        result.candidate_ids.tolist(),
        result.placement.tolist(),
        result.placed_rank.tolist(),
        placed_wish.tolist(),
        strict=True,
    ):
        if index >= 0:
            score = int(result.market.wish_score[wish])
            placed_programme[cid] = (int(programme_ids[index]), rank, score)
    listed = _listed_candidates(round_)
    rows_insert(
        Placement,
        ("run", "candidate", "programme", "rank", "score"),
        ((run.pk, cid, *placed_programme.get(cid, (None, None, None))) for cid in listed.tolist()),
    )
    cut_score, cut_rank, admitted = result.cutoff_score, result.cutoff_rank, result.admitted
    rows_insert(
        Cutoff,
        ("run", "programme", "quota", "admitted", "score", "rank"),
        (
            (
                run.pk,
                int(programme_ids[p]),
                int(quotas[p]),
                int(admitted[p]),
                int(cut_score[p]) if cut_score[p] >= 0 else None,
                int(cut_rank[p]) if cut_score[p] >= 0 else None,
            )
            for p in range(len(programme_ids))
        ),
    )
    missed = result.missed()
    rows_insert(
        MissedWish,
        ("run", "candidate", "programme", "rank", "score", "reason"),
        zip(
            [run.pk] * len(missed),
            missed.candidate.tolist(),
            programme_ids[missed.programme].tolist(),
            missed.rank.tolist(),
            missed.score.tolist(),
            missed.reason.tolist(),
            strict=True,
        ),
    )
    return {
        "candidates": len(listed),
        "wishes": len(candidates),
        "placed": len(placed_programme),
        "inputs_digest": inputs_digest(
            candidates, ranks, programme_of_wish, scores, programme_ids, quotas, ties=ties
        ),
    }


def run_publish(*, run: MatchRun, actor=None) -> AdmissionRound:
    """Make a finished run the one candidates and institutions see."""
    from .models import Confirmation

    with transaction.atomic():
        round_ = AdmissionRound.objects.select_for_update().get(pk=run.round_id)
        if run.status != MatchRun.Status.DONE:
            raise AdmissionError(
                "run_not_done",
                "Chỉ công bố được lượt lọc ảo đã chạy xong.",
                "Only a finished run can be published.",
            )
        if round_.published_run_id != run.pk and Confirmation.objects.filter(round=round_).exists():
            raise AdmissionError(
                "confirmations_exist",
                "Thí sinh đã bắt đầu xác nhận nhập học theo kết quả đã công bố: không thể công "
                "bố kết quả khác.",
                "Candidates have begun confirming enrolment on the published result: another "
                "result can no longer be published.",
            )
        round_.published_run = run
        round_.published_at = timezone.now()
        round_.save(update_fields=["published_run", "published_at", "updated_at"])
        audit_record(
            actor=actor, action="update", object_type="admission_publication", object_id=run.pk
        )
    return round_
