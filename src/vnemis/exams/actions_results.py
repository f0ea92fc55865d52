"""Graduation, publication and re-marking appeals: the writes that turn scores into results.

``session_graduate`` walks a session in chunks of candidate ids: it collects the yearly averages
from the registry, reads each chunk's inputs with a few grouped queries, computes every result
at once (``graduation.graduation_compute``) and writes back only the rows that changed. An
appeal's decision replaces one score, keeps the old one in ``ScoreChange``, and recomputes that
candidate's result and look-up row in the same transaction; other parts hear of it through
``hooks.exam_scores_changed``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record
from vnemis.registry.models import Subject, SubjectResult

from . import graduation as engine
from .access import ministry_ensure, province_ensure, results_published, unit_writer_ensure
from .hooks import exam_scores_changed
from .lookup import lookup_refresh
from .models import (
    Appeal,
    Candidate,
    CandidateSubject,
    ExamSession,
    Score,
    ScoreChange,
    YearAverage,
)
from .sql import rows_update, timestamp

GRADUATE_CHUNK = 50_000
GRADES = (10, 11, 12)


def _hundredths(value) -> int:
    return int((Decimal(value) * 100).to_integral_value())


# -- yearly averages from the registry -------------------------------------------------------


def _averages_collect(where: Q) -> None:
    """Write the registry's yearly averages of the candidates matching ``where``.

    A yearly average is the mean of the year results of the scored subjects (Circular 22/2021)
    of the pupil's grade-10, 11 or 12 enrolment, the latest school year when a grade was
    repeated, rounded half up to two decimals. It replaces an imported value for the same grade.
    Sub-queries, not id lists: a chunk of 50,000 ids would pass SQLite's parameter limit.
    """
    chosen = Candidate.objects.filter(where)
    by_person = dict(chosen.values_list("person_id", "id"))
    if not by_person:
        return
    rows = (
        SubjectResult.objects.filter(
            period="year",
            score__isnull=False,
            subject__assessment=Subject.Assessment.SCORE,
            enrolment__pupil_id__in=chosen.values("person_id"),
            enrolment__school_class__grade__in=GRADES,
        )
        .values(
            "enrolment__pupil_id",
            "enrolment__school_class__grade",
            "enrolment__school_year__start_year",
        )
        .annotate(total=Sum("score"), subjects=Count("id"))
    )
    latest: dict[tuple[int, int], tuple[int, int]] = {}
    for r in rows:
        key = (by_person[r["enrolment__pupil_id"]], r["enrolment__school_class__grade"])
        year = r["enrolment__school_year__start_year"]
        value = engine.year_average(_hundredths(r["total"]), r["subjects"])
        if key not in latest or year > latest[key][0]:
            latest[key] = (year, value)
    existing = {
        (cid, grade): (pk, average, source)
        for pk, cid, grade, average, source in YearAverage.objects.filter(
            candidate__in=chosen.values("id")
        ).values_list("id", "candidate_id", "grade", "average", "source")
    }
    create, update = [], []
    registry = YearAverage.Source.REGISTRY
    for key, (_year, value) in latest.items():
        average = engine.from_hundredths(value)
        row = existing.get(key)
        if row is None:
            create.append(
                YearAverage(candidate_id=key[0], grade=key[1], average=average, source=registry)
            )
        elif row[1] != average or row[2] != registry:
            update.append(YearAverage(id=row[0], average=average, source=registry))
    YearAverage.objects.bulk_create(create, batch_size=5000)
    YearAverage.objects.bulk_update(update, ["average", "source", "updated_at"], batch_size=1000)


# -- graduation ------------------------------------------------------------------------------


@dataclass
class Graduated:
    candidates: int = 0
    changed: int = 0
    results: Counter = field(default_factory=Counter)


def _inputs(where: Q) -> tuple[list[int], engine.GraduationInput, dict[int, tuple]]:
    """The engine's arrays for the candidates matching ``where``, with their current results."""
    current = {
        row[0]: row[1:]
        for row in Candidate.objects.filter(where)
        .order_by("id")
        .values_list(
            "id",
            "graduation_score",
            "three_year_average",
            "result",
            "result_reason",
            "priority_points",
            "incentive_points",
        )
    }
    ids = list(current)
    index = {cid: i for i, cid in enumerate(ids)}
    n = len(ids)
    papers = np.zeros(n, np.int64)
    scored = np.zeros(n, np.int64)
    exam_sum = np.zeros(n, np.int64)
    lowest = np.zeros(n, np.int64)
    years = {g: np.zeros(n, np.int64) for g in GRADES}
    seen_years = np.zeros(n, np.int64)
    taken = CandidateSubject.objects.filter(candidate__in=Candidate.objects.filter(where))
    for cid, count in (
        taken.filter(exempt=False).values("candidate_id").annotate(c=Count("id"))
    ).values_list("candidate_id", "c"):
        papers[index[cid]] = count
    paper_taken = CandidateSubject.objects.filter(
        candidate_id=OuterRef("candidate_id"), subject_id=OuterRef("subject_id"), exempt=False
    )
    for cid, total, low, count in (
        Score.objects.filter(candidate__in=Candidate.objects.filter(where))
        .filter(Exists(paper_taken))
        .values("candidate_id")
        .annotate(t=Sum("score"), low=Min("score"), c=Count("id"))
        .values_list("candidate_id", "t", "low", "c")
    ):
        i = index[cid]
        exam_sum[i], lowest[i], scored[i] = _hundredths(total), _hundredths(low), count
    for cid, grade, average in YearAverage.objects.filter(
        candidate__in=Candidate.objects.filter(where)
    ).values_list("candidate_id", "grade", "average"):
        i = index[cid]
        years[grade][i] = _hundredths(average)
        seen_years[i] += 1
    data = engine.GraduationInput(
        exam_sum=exam_sum,
        papers=papers,
        scored=scored,
        lowest=lowest,
        incentive=np.array([_hundredths(current[c][5]) for c in ids], np.int64),
        priority=np.array([_hundredths(current[c][4]) for c in ids], np.int64),
        year10=years[10],
        year11=years[11],
        year12=years[12],
        years_present=seen_years == len(GRADES),
    )
    return ids, data, current


def _graduate_where(where: Q, now: datetime) -> tuple[list[int], Counter]:
    """Compute and write the results of the candidates matching ``where``; (changed ids,
    results by kind)."""
    _averages_collect(where)
    ids, data, current = _inputs(where)
    out = engine.graduation_compute(data)
    rows, changed = [], []
    stamp = timestamp(now)
    for i, cid in enumerate(ids):
        score = engine.from_hundredths(out.score[i]) if out.score[i] >= 0 else None
        average = engine.from_hundredths(out.three_year[i]) if out.three_year[i] >= 0 else None
        result, reason = str(out.result[i]), str(out.reason[i])
        if (score, average, result, reason) != tuple(current[cid][:4]):
            rows.append((score, average, result, reason, stamp, cid))
            changed.append(cid)
    rows_update(
        Candidate,
        ["graduation_score", "three_year_average", "result", "result_reason", "result_computed_at"],
        rows,
    )
    return changed, Counter(str(r) for r in out.result)


def session_graduate(
    *,
    actor,
    session: ExamSession,
    chunk_size: int = GRADUATE_CHUNK,
    progress: Callable[[int, int], None] | None = None,
    now: datetime | None = None,
) -> Graduated:
    """Compute every candidate's graduation score and result (Ministry only), chunk by chunk
    of ids, each chunk its own transaction; rerunning changes nothing unless inputs did."""
    ministry_ensure(actor)
    now = now or timezone.now()
    if results_published(session, now=now):
        raise ValidationError(
            _("Kết quả đã công bố; điểm chỉ còn thay đổi qua phúc khảo."), code="published"
        )
    bounds = Candidate.objects.filter(session=session).aggregate(low=Min("id"), high=Max("id"))
    result = Graduated(candidates=Candidate.objects.filter(session=session).count())
    changed_all: list[int] = []
    if bounds["low"] is not None:
        low, high = bounds["low"], bounds["high"]
        start = low
        while start <= high:
            end = min(start + chunk_size - 1, high)
            with transaction.atomic():
                changed, counts = _graduate_where(
                    Q(session=session, id__gte=start, id__lte=end), now
                )
            changed_all += changed
            result.results.update(counts)
            if progress:
                progress(end - low + 1, high - low + 1)
            start = end + 1
    result.changed = len(changed_all)
    with transaction.atomic():
        ExamSession.objects.filter(pk=session.pk).update(graduated_at=now)
        audit_record(
            actor=actor,
            action="update",
            object_type="exam_graduation",
            object_id=session.year,
            detail={"candidates": result.candidates, "changed": result.changed,
                    "results": dict(result.results)},
        )  # fmt: skip
        exam_scores_changed(changed_all)
    return result


@transaction.atomic
def session_publish(*, actor, session: ExamSession, now: datetime | None = None) -> int:
    """Build the look-up table for the publication time (Ministry only). Refused while results
    are missing or older than the last change of their inputs. Returns the rows written."""
    ministry_ensure(actor)
    locked = ExamSession.objects.select_for_update().get(pk=session.pk)
    if locked.results_publish_at is None:
        raise ValidationError(
            _("Hãy đặt thời điểm công bố kết quả trước khi công bố."), code="no_publish_time"
        )
    stale = locked.inputs_changed_at is not None and (
        locked.graduated_at is None or locked.inputs_changed_at > locked.graduated_at
    )
    if locked.graduated_at is None or stale:
        raise ValidationError(
            _("Kết quả xét tốt nghiệp chưa được tính lại sau lần thay đổi điểm gần nhất; hãy "
              "chạy xét tốt nghiệp trước khi công bố."),
            code="results_stale",
        )  # fmt: skip
    written = lookup_refresh(session=locked, now=now)
    audit_record(
        actor=actor,
        action="update",
        object_type="exam_publication",
        object_id=locked.year,
        detail={"rows": written, "publish_at": locked.results_publish_at.isoformat()},
    )
    return written


# -- re-marking appeals ----------------------------------------------------------------------


def score_parse(value) -> Decimal:
    """A score as typed: 0–10 with at most two decimals (a decimal comma is accepted)."""
    text = str(value).strip().replace(",", ".")
    try:
        score = Decimal(text)
    except InvalidOperation:
        raise ValidationError(
            _("Điểm '%(value)s' không phải là số.") % {"value": text[:20]}
        ) from None
    if not score.is_finite() or score != score.quantize(Decimal("0.01")):
        raise ValidationError(_("Điểm chỉ có tối đa hai chữ số thập phân."))
    if not Decimal(0) <= score <= Decimal(10):
        raise ValidationError(_("Điểm phải từ 0 đến 10."))
    return score.quantize(Decimal("0.01"))


@transaction.atomic
def appeal_file(*, actor, candidate: Candidate, subject_code: str, note: str = "") -> Appeal:
    """A candidate's request to re-mark one paper, after results are published."""
    unit_writer_ensure(actor, candidate.unit)
    if not results_published(candidate.session):
        raise ValidationError(
            _("Chỉ được phúc khảo sau khi kết quả đã công bố."), code="not_published"
        )
    score = (
        Score.objects.filter(candidate=candidate, subject__code=subject_code.strip().upper())
        .select_related("subject")
        .first()
    )
    if score is None:
        raise ValidationError(
            _("Thí sinh không có điểm môn %(subject)s để phúc khảo.") % {"subject": subject_code},
            code="no_score",
        )
    if Appeal.objects.filter(
        candidate=candidate, subject=score.subject, status=Appeal.Status.PENDING
    ).exists():
        raise ValidationError(_("Môn này đang chờ kết quả phúc khảo."), code="appeal_pending")
    appeal = Appeal.objects.create(
        candidate=candidate,
        subject=score.subject,
        request_note=note.strip()[:500],
        filed_by=actor if getattr(actor, "pk", None) else None,
        old_score=score.score,
    )
    audit_record(
        actor=actor,
        action="create",
        object_type="exam_appeal",
        object_id=appeal.pk,
        detail={"candidate": candidate.pk, "subject": score.subject.code},
    )
    return appeal


@transaction.atomic
def appeal_decide(
    *, actor, appeal: Appeal, new_score, reason: str, now: datetime | None = None
) -> Appeal:
    """Record the re-marked score: the old score goes to the history with the reason, who and
    when; the candidate's result and look-up row are recomputed at once."""
    now = now or timezone.now()
    locked = (
        Appeal.objects.select_for_update().select_related("candidate", "subject").get(pk=appeal.pk)
    )
    candidate = locked.candidate
    province_ensure(actor, candidate.province_code)
    if locked.status != Appeal.Status.PENDING:
        raise ValidationError(_("Đơn phúc khảo này đã có kết quả."), code="appeal_decided")
    if not reason.strip():
        raise ValidationError(_("Hãy ghi lý do thay đổi điểm (kết luận của hội đồng phúc khảo)."))
    value = score_parse(new_score)
    score = Score.objects.select_for_update().get(candidate=candidate, subject=locked.subject)
    who = actor if getattr(actor, "pk", None) else None
    if score.score != value:
        ScoreChange.objects.create(
            candidate=candidate,
            subject=locked.subject,
            old_score=score.score,
            new_score=value,
            kind=ScoreChange.Kind.APPEAL,
            reason=reason.strip()[:500],
            appeal=locked,
            changed_by=who,
            changed_at=now,
        )
        score.score = value
        score.save(update_fields=["score", "updated_at"])
    locked.status = Appeal.Status.DECIDED
    locked.old_score = locked.old_score if locked.old_score is not None else score.score
    locked.new_score = value
    locked.decision_note = reason.strip()[:500]
    locked.decided_by = who
    locked.decided_at = now
    locked.save()
    session = ExamSession.objects.get(pk=candidate.session_id)
    _graduate_where(Q(pk=candidate.pk), now)
    if session.lookup_built_at is not None:
        lookup_refresh(session=session, candidate_ids=[candidate.pk], now=now)
    audit_record(
        actor=actor,
        action="update",
        object_type="exam_appeal",
        object_id=locked.pk,
        detail={"candidate": candidate.pk, "subject": locked.subject.code,
                "changed": locked.old_score != value},
    )  # fmt: skip
    exam_scores_changed([candidate.pk])
    return locked
