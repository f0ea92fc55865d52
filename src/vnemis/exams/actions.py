"""Writes of the exam's set-up and registration: sessions, candidates, their subject choices.

Every function is one transaction (the set-wise registration: one per chunk) and records an
audit entry. Registration from enrolments is ``INSERT … SELECT`` in the database, chunk by chunk
of enrolment ids, so a million grade-12 pupils never pass through Python one by one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record
from vnemis.identity.models import Verification, VerificationStatus
from vnemis.orgs.models import Organisation, OrgClosure, User
from vnemis.orgs.scope import is_unrestricted
from vnemis.registry.models import ACTIVE_STATUSES, Enrolment, Person, SchoolYear

from . import catalogue, rules
from .access import ministry_ensure, unit_writer_ensure
from .models import Candidate, CandidateSubject, Claim, ExamSession, ExamSubject

REGISTER_CHUNK = 50_000
# Identity outcomes that contradict the population registry: a free candidate is refused until
# the record is corrected (a school's pupils are registered and flagged, see docs/exams.md).
IDENTITY_REFUSED = (VerificationStatus.MISMATCH, VerificationStatus.NOT_FOUND)


# -- sessions -------------------------------------------------------------------------------


def _session_check(
    *, opens: datetime, closes: datetime, publish: datetime | None, electives: int, capacity: int
) -> None:
    errors = {}
    if closes <= opens:
        errors["registration_closes_at"] = _("Hạn đăng ký phải sau ngày mở đăng ký.")
    if publish is not None and publish <= closes:
        errors["results_publish_at"] = _("Thời điểm công bố kết quả phải sau hạn đăng ký.")
    if not 1 <= electives <= 4:
        errors["electives_required"] = _("Số môn tự chọn phải từ 1 đến 4.")
    if not 1 <= capacity <= 100:
        errors["room_capacity"] = _("Sức chứa mặc định của phòng thi phải từ 1 đến 100.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def session_create(
    *,
    actor,
    year: int,
    school_year: SchoolYear,
    registration_opens_at: datetime,
    registration_closes_at: datetime,
    results_publish_at: datetime | None = None,
    name: str = "",
    electives_required: int = 2,
    room_capacity: int = 24,
) -> ExamSession:
    """Open a year's session (Ministry only)."""
    ministry_ensure(actor)
    if ExamSession.objects.filter(year=year).exists():
        raise ValidationError({"year": _("Kỳ thi năm %(year)s đã có.") % {"year": year}})
    _session_check(
        opens=registration_opens_at,
        closes=registration_closes_at,
        publish=results_publish_at,
        electives=electives_required,
        capacity=room_capacity,
    )
    session = ExamSession.objects.create(
        year=year,
        name=name.strip() or _("Kỳ thi tốt nghiệp THPT năm %(year)s") % {"year": year},
        school_year=school_year,
        registration_opens_at=registration_opens_at,
        registration_closes_at=registration_closes_at,
        results_publish_at=results_publish_at,
        electives_required=electives_required,
        room_capacity=room_capacity,
    )
    audit_record(actor=actor, action="create", object_type="exam_session", object_id=year)
    return session


SESSION_FIELDS = {
    "name",
    "registration_opens_at",
    "registration_closes_at",
    "results_publish_at",
    "electives_required",
    "room_capacity",
}


@transaction.atomic
def session_update(*, actor, session: ExamSession, **changes) -> ExamSession:
    """Change a session's settings (Ministry only); the publication time cannot be moved once
    results are out."""
    ministry_ensure(actor)
    locked = ExamSession.objects.select_for_update().get(pk=session.pk)
    unknown = set(changes) - SESSION_FIELDS
    if unknown:
        raise ValidationError(_("Không được sửa trường %(field)s.") % {"field": sorted(unknown)[0]})
    now = timezone.now()
    published = locked.results_publish_at is not None and locked.results_publish_at <= now
    if (
        published
        and "results_publish_at" in changes
        and changes["results_publish_at"] != locked.results_publish_at
    ):
        raise ValidationError(
            {"results_publish_at": _("Kết quả đã công bố; không thể đổi thời điểm công bố.")}
        )
    for field, value in changes.items():
        setattr(locked, field, value.strip() if isinstance(value, str) else value)
    _session_check(
        opens=locked.registration_opens_at,
        closes=locked.registration_closes_at,
        publish=locked.results_publish_at,
        electives=locked.electives_required,
        capacity=locked.room_capacity,
    )
    locked.save()
    audit_record(
        actor=actor,
        action="update",
        object_type="exam_session",
        object_id=locked.year,
        detail={"fields": sorted(changes)},
    )
    return locked


def registration_ensure_open(session: ExamSession, *, now: datetime | None = None) -> None:
    now = now or timezone.now()
    if not session.registration_opens_at <= now <= session.registration_closes_at:
        local = timezone.localtime
        raise ValidationError(
            _("Ngoài thời gian đăng ký dự thi (từ %(opens)s đến %(closes)s).")
            % {
                "opens": local(session.registration_opens_at).strftime("%d/%m/%Y %H:%M"),
                "closes": local(session.registration_closes_at).strftime("%d/%m/%Y %H:%M"),
            },
            code="registration_closed",
        )


# -- registration from enrolments ------------------------------------------------------------


@dataclass
class Registered:
    created: int = 0
    already: int = 0  # grade-12 pupils of the scope already registered before this run
    unverified: int = 0  # of all the scope's candidates, those whose identity is not verified


def _scope_clause(actor, school: Organisation | None) -> tuple[str, list]:
    """SQL restricting enrolments to what the actor registers: one school, or their scope."""
    if school is not None:
        unit_writer_ensure(actor, school)
        return " AND e.school_id = %s", [school.pk]
    if actor is None or is_unrestricted(actor) or actor.role == User.Role.MINISTRY:
        return "", []
    if actor.role not in (User.Role.DEPARTMENT, User.Role.SCHOOL) or actor.scope_id is None:
        raise PermissionDenied(_("Bạn không có quyền đăng ký dự thi cho đơn vị này."))
    closure = OrgClosure._meta.db_table
    return (
        f" AND e.school_id IN (SELECT descendant_id FROM {closure} WHERE ancestor_id = %s)",  # noqa: S608
        [actor.scope_id],
    )


def candidates_register_school(
    *,
    actor,
    session: ExamSession,
    school: Organisation | None = None,
    chunk_size: int = REGISTER_CHUNK,
    progress: Callable[[int, int], None] | None = None,
    now: datetime | None = None,
) -> Registered:
    """Register every active grade-12 pupil of the session's school year in the actor's scope
    (or of one school) who is not yet a candidate, with the compulsory papers.

    Set-wise and idempotent: a second run registers only pupils enrolled since. Each pupil's
    identity status is copied from the verification record (unverified if never checked), so
    the pages can flag who still needs verifying. Pupils already registered are skipped by
    ``ON CONFLICT DO NOTHING`` on the unique (session, person) index, not by a NOT EXISTS
    anti-join: PostgreSQL mis-costed that against a table growing as it ran (100,000 pupils
    took 290 s; with the conflict clause, seconds).
    """
    now = now or timezone.now()
    registration_ensure_open(session, now=now)
    scope_sql, scope_params = _scope_clause(actor, school)
    ops = connection.ops
    stamp = ops.adapt_datetimefield_value(now)
    enrolments = Enrolment._meta.db_table
    classes = Enrolment._meta.get_field("school_class").related_model._meta.db_table
    candidates = Candidate._meta.db_table
    subjects = CandidateSubject._meta.db_table
    exam_subjects = ExamSubject._meta.db_table
    verifications = Verification._meta.db_table
    statuses = ", ".join(["%s"] * len(ACTIVE_STATUSES))
    actor_id = getattr(actor, "pk", None)
    bounds = Enrolment.objects.filter(school_year_id=session.school_year_id).aggregate(
        low=Min("id"), high=Max("id")
    )
    low, high = bounds["low"], bounds["high"]
    result = Registered()
    if low is None:
        return result
    total = high - low + 1
    start = low - 1
    while start < high:
        end = min(start + chunk_size, high)
        with transaction.atomic():
            before = Candidate.objects.filter(session=session).aggregate(m=Max("id"))["m"] or 0
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""
                    INSERT INTO {candidates} (
                        session_id, person_id, kind, enrolment_id, unit_id, province_code,
                        identity_status, identity_checked_at, candidate_number, room_id,
                        priority_points, incentive_points, three_year_average, graduation_score,
                        result, result_reason, result_computed_at, registered_by_id,
                        created_at, updated_at)
                    SELECT %s, e.pupil_id, 'school', e.id, e.school_id, e.province_code,
                        COALESCE(v.status, 'unverified'), %s, '', NULL,
                        0, 0, NULL, NULL, '', '', NULL, %s, %s, %s
                    FROM {enrolments} e
                    JOIN {classes} c ON c.id = e.school_class_id
                    LEFT JOIN {verifications} v ON v.person_id = e.pupil_id
                    WHERE e.school_year_id = %s AND c.grade = 12 AND e.status IN ({statuses})
                      AND e.id > %s AND e.id <= %s{scope_sql}
                    ON CONFLICT (session_id, person_id) DO NOTHING
                    """,  # noqa: S608 - table names from model metadata, values are parameters
                    [
                        session.pk,
                        stamp,
                        actor_id,
                        stamp,
                        stamp,
                        session.school_year_id,
                        *ACTIVE_STATUSES,
                        start,
                        end,
                        *scope_params,
                    ],
                )
                created = max(cursor.rowcount, 0)
                cursor.execute(
                    f"""
                    INSERT INTO {subjects} (candidate_id, subject_id, exempt)
                    SELECT x.id, s.id, %s FROM {candidates} x
                    JOIN {exam_subjects} s ON s.category = %s AND s.active = %s
                    WHERE x.session_id = %s AND x.id > %s
                    ON CONFLICT (candidate_id, subject_id) DO NOTHING
                    """,  # noqa: S608
                    [False, catalogue.COMPULSORY, True, session.pk, before],
                )
            if created:
                audit_record(
                    actor=actor,
                    action="create",
                    object_type="exam_candidates",
                    object_id=session.year,
                    detail={"created": created, "school": school.code if school else ""},
                )
        result.created += created
        start = end
        if progress:
            progress(min(end - low + 1, total), total)
    scoped = _candidates_of_scope(actor, session, school)
    result.already = scoped.filter(kind=Candidate.Kind.SCHOOL).count() - result.created
    result.unverified = scoped.exclude(identity_status=VerificationStatus.VERIFIED).count()
    return result


def _candidates_of_scope(actor, session: ExamSession, school: Organisation | None):
    qs = Candidate.objects.filter(session=session)
    if school is not None:
        return qs.filter(unit=school)
    if actor is None or is_unrestricted(actor) or actor.role == User.Role.MINISTRY:
        return qs
    return qs.filter(
        unit_id__in=OrgClosure.objects.filter(ancestor_id=actor.scope_id).values("descendant_id")
    )


@transaction.atomic
def candidates_identity_refresh(*, session: ExamSession, now: datetime | None = None) -> int:
    """Copy every candidate's current verification status (one statement for the session)."""
    now = now or timezone.now()
    candidates = Candidate._meta.db_table
    verifications = Verification._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {candidates} SET
              identity_status = COALESCE((SELECT v.status FROM {verifications} v
                                          WHERE v.person_id = {candidates}.person_id),
                                         'unverified'),
              identity_checked_at = %s
            WHERE session_id = %s
            """,  # noqa: S608 - table names from model metadata
            [connection.ops.adapt_datetimefield_value(now), session.pk],
        )
        return max(cursor.rowcount, 0)


# -- free candidates -------------------------------------------------------------------------


def _identity_status(person: Person) -> str:
    return (
        Verification.objects.filter(person=person).values_list("status", flat=True).first()
        or VerificationStatus.UNVERIFIED
    )


@transaction.atomic
def candidate_register_free(
    *,
    actor,
    session: ExamSession,
    unit: Organisation,
    person: Person,
    electives: list[str],
    documents: list[dict],
    now: datetime | None = None,
) -> Candidate:
    """Register a free candidate (thí sinh tự do) at ``unit`` with the dossier's documents
    (each ``{"code", "document_number", "issuer", "issued_on"}``) and subject choice.

    Refused when the person's details contradict the population registry (mismatch, not found):
    they must be corrected first. An unverified identity is registered and flagged.
    """
    now = now or timezone.now()
    unit_writer_ensure(actor, unit)
    registration_ensure_open(session, now=now)
    if unit.kind not in (Organisation.Kind.SCHOOL, Organisation.Kind.DEPARTMENT):
        raise ValidationError(_("Thí sinh tự do đăng ký tại một trường hoặc Sở GD&ĐT."))
    if unit.province_id is None:
        raise ValidationError(_("Đơn vị nhận hồ sơ chưa gắn với tỉnh nào."))
    status = _identity_status(person)
    if status in IDENTITY_REFUSED:
        raise ValidationError(
            _(
                "Thông tin của thí sinh không khớp với CSDL quốc gia về dân cư (%(status)s); hãy "
                "sửa hồ sơ và xác thực lại trước khi đăng ký dự thi."
            )
            % {"status": VerificationStatus(status).label},
            code="identity_mismatch",
        )
    if Candidate.objects.filter(session=session, person=person).exists():
        raise ValidationError(_("Người này đã đăng ký dự thi kỳ thi này."), code="duplicate")
    if not documents:
        raise ValidationError(_("Hồ sơ của thí sinh tự do phải có ít nhất một giấy tờ."))
    candidate = Candidate.objects.create(
        session=session,
        person=person,
        kind=Candidate.Kind.FREE,
        unit=unit,
        province_code=unit.province.code,
        identity_status=status,
        identity_checked_at=now,
        registered_by=actor if getattr(actor, "pk", None) else None,
    )
    _compulsory_ensure(candidate)
    _electives_write(candidate, electives, session=session)
    for doc in documents:
        _document_add(actor=actor, candidate=candidate, **doc)
    audit_record(
        actor=actor,
        action="create",
        object_type="exam_candidate",
        object_id=candidate.pk,
        detail={"kind": "free", "unit": unit.code, "identity": status},
    )
    return candidate


def _document_add(
    *, actor, candidate: Candidate, code: str, document_number: str = "", issuer: str = "",
    issued_on=None,
) -> Claim:  # fmt: skip
    if code not in catalogue.FREE_CANDIDATE_DOCUMENTS:
        raise ValidationError(
            _("Loại giấy tờ '%(code)s' không có trong danh mục.") % {"code": code}
        )
    return Claim.objects.create(
        candidate=candidate,
        kind=Claim.Kind.DOCUMENT,
        code=code,
        document_number=document_number.strip()[:60],
        issuer=issuer.strip()[:200],
        issued_on=issued_on,
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )


# -- subject choice --------------------------------------------------------------------------


def _subjects_by_code() -> dict[str, ExamSubject]:
    return {s.code: s for s in ExamSubject.objects.filter(active=True)}


def _compulsory_ensure(candidate: Candidate) -> None:
    existing = set(candidate.subjects.values_list("subject_id", flat=True))
    CandidateSubject.objects.bulk_create(
        CandidateSubject(candidate=candidate, subject=s)
        for s in ExamSubject.objects.filter(category=catalogue.COMPULSORY, active=True)
        if s.pk not in existing
    )


def elective_errors(codes: list[str], *, required: int) -> list[str]:
    """The choice's problems as sentences of the active language."""
    from vnemis.core.i18n import pick

    return [pick(*rules.problem_text(code, **values)) for code, values in
            rules.elective_problems(codes, required=required)]  # fmt: skip


def _electives_write(candidate: Candidate, electives: list[str], *, session: ExamSession) -> None:
    errors = elective_errors(electives, required=session.electives_required)
    if errors:
        raise ValidationError(errors, code="electives")
    wanted = rules.electives_normalise(electives)
    by_code = _subjects_by_code()
    current = {
        cs.subject.code: cs
        for cs in candidate.subjects.select_related("subject").exclude(
            subject__category=catalogue.COMPULSORY
        )
    }
    dropped = [cs for code, cs in current.items() if code not in wanted]
    if any(cs.exempt for cs in dropped):
        raise ValidationError(
            _(
                "Thí sinh đang được miễn thi môn ngoại ngữ đã chọn; hãy huỷ miễn thi trước khi đổi môn."
            ),
            code="exempt_subject",
        )
    CandidateSubject.objects.filter(pk__in=[cs.pk for cs in dropped]).delete()
    CandidateSubject.objects.bulk_create(
        CandidateSubject(candidate=candidate, subject=by_code[code])
        for code in wanted
        if code not in current
    )


@transaction.atomic
def candidate_subjects_set(
    *, actor, candidate: Candidate, electives: list[str], now: datetime | None = None
) -> Candidate:
    """Set a candidate's electives (exactly the session's number, distinct, at most one
    language), within the registration window."""
    unit_writer_ensure(actor, candidate.unit)
    registration_ensure_open(candidate.session, now=now)
    locked = Candidate.objects.select_for_update().select_related("session").get(pk=candidate.pk)
    _compulsory_ensure(locked)
    _electives_write(locked, electives, session=locked.session)
    audit_record(
        actor=actor,
        action="update",
        object_type="exam_candidate",
        object_id=locked.pk,
        detail={"fields": ["subjects"], "electives": rules.electives_normalise(electives)},
    )
    return locked
