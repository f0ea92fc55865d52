"""Reads of the exam, scoped to the viewer in the query: a school sees its own candidates, a
Department those registered under it, the Ministry all. Lists and pages that show candidates'
personal data record an audit entry with the ids they handed out. Scores and results are shown
to the Ministry always, to everyone else only from the session's publication time.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record
from vnemis.core.pagination import Page, keyset_page
from vnemis.orgs.models import User
from vnemis.orgs.scope import is_unrestricted, org_ids_in_scope

from .access import is_ministry, results_visible
from .models import (
    Appeal,
    Candidate,
    CandidateSubject,
    Claim,
    ExamImport,
    ExamSession,
    Score,
    ScoreChange,
    YearAverage,
)

LIST_ORDER = ("candidate_number", "id")
STAFF_ROLES = (User.Role.MINISTRY, User.Role.DEPARTMENT, User.Role.SCHOOL)


def exam_staff(viewer) -> bool:
    """Roles that work on the exam's pages."""
    return is_unrestricted(viewer) or (viewer.is_authenticated and viewer.role in STAFF_ROLES)


def sessions_all() -> QuerySet[ExamSession]:
    return ExamSession.objects.select_related("school_year").order_by("-year")


def session_get(*, year: int) -> ExamSession:
    session = ExamSession.objects.select_related("school_year").filter(year=year).first()
    if session is None:
        raise Http404("exam session")
    return session


def candidates_visible(*, viewer, session: ExamSession) -> QuerySet[Candidate]:
    """The session's candidates the viewer reaches (none for citizens, teachers, systems)."""
    qs = Candidate.objects.filter(session=session)
    if is_ministry(viewer):
        return qs
    if not exam_staff(viewer):
        return qs.none()
    return qs.filter(unit_id__in=org_ids_in_scope(viewer))


@dataclass(frozen=True)
class CandidateFilters:
    unit_code: str = ""
    number: str = ""  # a candidate number or an education ID
    identity: str = ""  # "unverified": every status but verified
    result: str = ""


def candidates_page(
    *,
    viewer,
    session: ExamSession,
    filters: CandidateFilters = CandidateFilters(),
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """One page of the viewer's candidates in number order (keyset), audited."""
    qs = candidates_visible(viewer=viewer, session=session).select_related(
        "person", "unit", "room__venue"
    )
    if filters.unit_code:
        qs = qs.filter(unit__code=filters.unit_code.strip())
    if filters.number:
        value = filters.number.strip()
        qs = qs.filter(Q(candidate_number=value) | Q(person__education_id=value))
    if filters.identity == "unverified":
        qs = qs.exclude(identity_status="verified")
    if filters.result and results_visible(session, viewer):
        qs = qs.filter(result=filters.result if filters.result != "none" else "")
    page = keyset_page(
        qs, order=LIST_ORDER, cursor=cursor, limit=limit, namespace=f"exam-{session.year}"
    )
    if page.items:
        audit_record(
            actor=viewer,
            action="read",
            object_type="exam_candidate_list",
            object_id=session.year,
            detail={"ids": [c.pk for c in page.items]},
        )
    return page


def candidate_get(*, viewer, session: ExamSession, candidate_id: int) -> Candidate:
    """One candidate the viewer reaches, else PermissionDenied; the read is audited."""
    candidate = (
        candidates_visible(viewer=viewer, session=session)
        .select_related("person", "unit", "room__venue", "session")
        .filter(pk=candidate_id)
        .first()
    )
    if candidate is None:
        raise PermissionDenied(_("Thí sinh không tồn tại hoặc nằm ngoài phạm vi của bạn."))
    audit_record(actor=viewer, action="read", object_type="exam_candidate", object_id=candidate.pk)
    return candidate


@dataclass
class CandidateRecord:
    """What the candidate page shows; scores and results are None while not visible."""

    subjects: list[CandidateSubject]
    claims: list[Claim]
    averages: list[YearAverage]
    appeals: list[Appeal]
    results_visible: bool
    scores: dict[str, Score] | None
    history: list[ScoreChange] | None


def candidate_record(*, viewer, candidate: Candidate) -> CandidateRecord:
    """The candidate's papers, claims, averages and appeals; scores and history if visible.
    ``candidate`` must come from ``candidate_get`` (scope checked, read audited)."""
    visible = results_visible(candidate.session, viewer)
    return CandidateRecord(
        subjects=list(candidate.subjects.select_related("subject").order_by("subject__position")),
        claims=list(candidate.claims.select_related("subject").order_by("kind", "id")),
        averages=list(candidate.year_averages.order_by("grade")),
        appeals=list(candidate.appeals.select_related("subject")[:50]),
        results_visible=visible,
        scores={s.subject.code: s for s in candidate.scores.select_related("subject")}
        if visible
        else None,
        history=list(
            candidate.score_changes.select_related("subject", "changed_by").order_by(
                "changed_at", "id"
            )[:200]
        )
        if visible
        else None,
    )


def session_figures(*, viewer, session: ExamSession) -> dict:
    """Counts of the viewer's candidates: total, unverified, numbered, seated, by result."""
    qs = candidates_visible(viewer=viewer, session=session)
    figures = qs.aggregate(
        total=Count("id"),
        free=Count("id", filter=Q(kind=Candidate.Kind.FREE)),
        unverified=Count("id", filter=~Q(identity_status="verified")),
        numbered=Count("id", filter=~Q(candidate_number="")),
        seated=Count("id", filter=Q(room__isnull=False)),
    )
    if results_visible(session, viewer):
        figures["results"] = dict(
            qs.values_list("result").annotate(n=Count("id")).order_by("result")
        )
    return figures


# -- imports ---------------------------------------------------------------------------------


def imports_visible(*, viewer, session: ExamSession) -> QuerySet[ExamImport]:
    """Imports of the session the viewer may see: the Ministry all; others their own and those
    of accounts inside their scope."""
    qs = ExamImport.objects.filter(session=session).select_related("created_by", "subject")
    if is_ministry(viewer):
        return qs
    if not exam_staff(viewer):
        return qs.none()
    return qs.filter(Q(created_by=viewer) | Q(created_by__scope_id__in=org_ids_in_scope(viewer)))


def imports_recent(*, viewer, session: ExamSession, limit: int = 20) -> list[ExamImport]:
    return list(imports_visible(viewer=viewer, session=session).order_by("-created_at")[:limit])


def import_get(*, viewer, session: ExamSession, job_id) -> ExamImport:
    job = imports_visible(viewer=viewer, session=session).filter(pk=job_id).first()
    if job is None:
        raise Http404("exam import")
    return job


def import_error_rows(*, viewer, job: ExamImport, limit: int = 100) -> list[dict]:
    """The first error rows with their messages; they quote the file, so the read is audited."""
    from .imports import exam_import_errors

    df = exam_import_errors(job)
    if not df.height:
        return []
    rows = df.head(limit).to_dicts()
    audit_record(
        actor=viewer,
        action="read",
        object_type="exam_import_errors",
        object_id=job.pk,
        detail={"rows": len(rows)},
    )
    return rows
