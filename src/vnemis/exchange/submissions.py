"""Writes of the period submission workflow: periods, checks, submit, approve, return, reopen.

A school's submission for a period moves draft → submitted → approved | returned (with a
reason) → submitted again; an approved submission may be reopened (→ returned, with a reason) by
its Department or the Ministry. Every transition is a compare-and-set ``UPDATE … WHERE status IN
(…)``: of two officers deciding at the same moment one wins, the other gets "already decided".
Each transition writes a ``SubmissionEvent`` and an audit entry in the same transaction.

Who may do what (scope via ``vnemis.orgs.scope``):
- the school's own users (role school, or the school's software, role system) check and submit;
- the Department whose scope holds the school approves, returns and reopens, and sends reminders;
- the Ministry reads everything and may reopen an approved submission.
``actor=None`` is the system itself (the ``vnemis periods`` command). Reminders to late
schools: ``submission_reminders``.

Locking (which data a submission freezes) is read by ``selectors_submissions.locked_pairs``,
re-exported here for the import pipeline and the sync API.
"""

from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from vnemis.core.audit import audit_record
from vnemis.orgs.models import Organisation, User
from vnemis.orgs.scope import is_unrestricted, org_ids_in_scope
from vnemis.registry.models import SchoolYear, Term

from .models_submissions import ReportingPeriod, Submission, SubmissionEvent
from .selectors_submissions import (  # noqa: F401  (re-exported for the engine's callers)
    locked_pairs,
    school_year_locked,
)
from .submission_checks import checks_blocking_failures, checks_run, counts_of
from .submission_errors import SubmissionError, forbidden_role, not_found

Status = Submission.Status
Kind = ReportingPeriod.Kind

SUBMITTERS = {User.Role.SCHOOL, User.Role.SYSTEM}
DECIDERS = {User.Role.DEPARTMENT}
REOPENERS = {User.Role.DEPARTMENT, User.Role.MINISTRY}
REASON_MAX_LENGTH = 2000
# End of term I is not in Circular 25/2024: our own period, its deadline a setting.
TERM1_DUE_DAYS = 30


# --- periods ---------------------------------------------------------------------------------


def _period_defaults(school_year: SchoolYear) -> dict[str, dict[str, date]]:
    """Default dates: Circular 25/2024 for start and end of year; end of term I our own.

    Periods open one after the other (each the day after the previous one is due), so an
    approved submission stays locked until the next period opens (see ``locked_pairs``).
    """
    y = school_year.start_year
    start_due = date(y, 10, 30)
    term1 = Term.objects.filter(school_year=school_year, number=1).first()
    term1_end = term1.ends_on if term1 else date(y + 1, 1, 15)
    due_days = int(getattr(settings, "VNEMIS_TERM1_REPORT_DUE_DAYS", TERM1_DUE_DAYS))
    term1_due = term1_end + timedelta(days=due_days)
    return {
        Kind.START_OF_YEAR: {
            "as_of": date(y, 9, 30),
            "opens_on": min(school_year.starts_on, date(y, 9, 30)),
            "due_on": start_due,
        },
        Kind.END_OF_TERM1: {
            "as_of": term1_end,
            "opens_on": min(start_due + timedelta(days=1), term1_end),
            "due_on": term1_due,
        },
        Kind.END_OF_YEAR: {
            "as_of": date(y + 1, 5, 31),
            "opens_on": min(term1_due + timedelta(days=1), date(y + 1, 5, 31)),
            "due_on": date(y + 1, 6, 30),
        },
    }


@transaction.atomic
def reporting_periods_create(*, school_year: SchoolYear, actor=None) -> list[ReportingPeriod]:
    """The year's three periods with their default dates (existing ones are kept as edited),
    and a draft submission for every open school (so lists and reminders see every school)."""
    _require(actor, {User.Role.MINISTRY}, what="periods")
    periods = []
    for kind, dates in _period_defaults(school_year).items():
        period, created = ReportingPeriod.objects.get_or_create(
            school_year=school_year, kind=kind, defaults=dates
        )
        if created:
            audit_record(
                actor=actor,
                action="create",
                object_type="reporting_period",
                object_id=period.pk,
                detail={"kind": kind, "school_year": school_year.code},
            )
        submissions_ensure(period=period)
        periods.append(period)
    return periods


@transaction.atomic
def reporting_period_update(
    *,
    actor,
    period: ReportingPeriod,
    as_of: date | None = None,
    opens_on: date | None = None,
    due_on: date | None = None,
) -> ReportingPeriod:
    """Change a period's dates (the Ministry sets each year's calendar)."""
    _require(actor, {User.Role.MINISTRY}, what="periods")
    locked = ReportingPeriod.objects.select_for_update().get(pk=period.pk)
    new = {
        "as_of": as_of or locked.as_of,
        "opens_on": opens_on or locked.opens_on,
        "due_on": due_on or locked.due_on,
    }
    if not new["opens_on"] <= new["due_on"] or not new["as_of"] <= new["due_on"]:
        raise SubmissionError(
            "invalid",
            "period_dates",
            "Ngày mở và ngày số liệu phải không muộn hơn hạn nộp.",
            "The opening date and the data date must not be later than the due date.",
        )
    changed = [k for k, v in new.items() if getattr(locked, k) != v]
    for k, v in new.items():
        setattr(locked, k, v)
    locked.save()
    if changed:
        audit_record(
            actor=actor,
            action="update",
            object_type="reporting_period",
            object_id=locked.pk,
            detail={"fields": changed},
        )
    return locked


def submissions_ensure(*, period: ReportingPeriod, school_ids: list[int] | None = None) -> int:
    """Insert the missing draft submissions of the period, for every open school (or those
    given), in one INSERT … SELECT; returns how many were added."""
    jsonb = "::jsonb" if connection.vendor == "postgresql" else ""
    sub = Submission._meta.db_table
    org = Organisation._meta.db_table
    params: list = [period.pk, timezone.now(), Organisation.Kind.SCHOOL, Organisation.Status.OPEN]
    only = ""
    if school_ids is not None:
        if not school_ids:
            return 0
        only = f" AND o.id IN ({', '.join(['%s'] * len(school_ids))})"
        params.extend(school_ids)
    params.append(period.pk)
    # Table names come from the models and every value is a parameter: nothing user-given.
    sql = (
        f"INSERT INTO {sub} (school_id, period_id, status, checks, counts, return_reason, "  # noqa: S608
        f"updated_at) SELECT o.id, %s, 'draft', '[]'{jsonb}, '{{}}'{jsonb}, '', %s "
        f"FROM {org} o WHERE o.kind = %s AND o.status = %s{only} "
        f"AND NOT EXISTS (SELECT 1 FROM {sub} s WHERE s.school_id = o.id AND s.period_id = %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# --- permissions -------------------------------------------------------------------------------


def _require(actor, roles: set, *, what: str) -> None:
    """Refuse an actor whose role may not do this (``None`` is the system itself)."""
    if actor is None or is_unrestricted(actor):
        return
    if not actor.is_authenticated or actor.role not in roles:
        raise forbidden_role()


def _require_scope(actor, school_id: int) -> None:
    if actor is None or is_unrestricted(actor):
        return
    if not Organisation.objects.filter(id=school_id, id__in=org_ids_in_scope(actor)).exists():
        raise not_found()


def submission_get_or_create(*, school: Organisation, period: ReportingPeriod) -> Submission:
    """The school's submission for the period, created as a draft if missing."""
    if school.kind != Organisation.Kind.SCHOOL:
        raise SubmissionError(
            "invalid",
            "not_a_school",
            "Chỉ trường học mới nộp báo cáo định kỳ.",
            "Only schools make period submissions.",
        )
    try:
        with transaction.atomic():
            sub, _created = Submission.objects.get_or_create(school=school, period=period)
    except IntegrityError:  # created by a concurrent request between our read and insert
        sub = Submission.objects.get(school=school, period=period)
    return sub


# --- checks and transitions --------------------------------------------------------------------


@transaction.atomic
def submission_check(*, actor, submission: Submission) -> list[dict]:
    """Run the completeness checks of the school for the period and store them on the draft."""
    _require(actor, SUBMITTERS, what="check")
    _require_scope(actor, submission.school_id)
    school = submission.school
    checks = checks_run(
        school_ids=[school.pk],
        period=submission.period,
        school_codes={school.pk: school.code},
        detail=True,
    )[school.pk]
    # Only an editable submission keeps the latest checks; a submitted one keeps what it was
    # submitted with (the Department reviews those).
    Submission.objects.filter(pk=submission.pk, status__in=[Status.DRAFT, Status.RETURNED]).update(
        checks=checks, updated_at=timezone.now()
    )
    return checks


def transition_refused(submission_id: int, wanted: str) -> SubmissionError:
    """The refusal of a move to ``wanted`` from the submission's current status."""
    current = Submission.objects.filter(pk=submission_id).values_list("status", flat=True).first()
    if current in (Status.APPROVED, Status.RETURNED) and wanted in (
        Status.APPROVED,
        Status.RETURNED,
    ):
        return SubmissionError(
            "conflict",
            "already_decided",
            "Báo cáo đã được quyết định (đã duyệt hoặc đã trả lại) trước đó; hãy tải lại trang.",
            "The submission has already been decided (approved or returned); reload the page.",
        )
    labels = dict(Status.choices)
    return SubmissionError(
        "conflict",
        "invalid_transition",
        f"Không thể chuyển báo cáo từ trạng thái '{labels.get(current, current)}' sang "
        f"'{labels.get(wanted, wanted)}'.",
        f"A submission cannot move from '{current}' to '{wanted}'.",
    )


def _transition(
    *, actor, submission: Submission, from_statuses: tuple, to: str, note: str = "", **fields
) -> Submission:
    """Compare-and-set the status, then record the event and the audit entry."""
    now = timezone.now()
    user = actor if getattr(actor, "pk", None) else None
    if to in (Status.APPROVED, Status.RETURNED):
        fields.setdefault("decided_at", now)
        fields.setdefault("decided_by", user)
    changed = Submission.objects.filter(pk=submission.pk, status__in=from_statuses).update(
        status=to, updated_at=now, **fields
    )
    if not changed:
        raise transition_refused(submission.pk, to)
    # With one possible source status the row had it; else the row read under lock.
    event_from = from_statuses[0] if len(from_statuses) == 1 else submission.status
    SubmissionEvent.objects.create(
        submission_id=submission.pk,
        from_status=event_from,
        to_status=to,
        note=note,
        by=user,
    )
    # The audit log's actions are a fixed short list: a transition is an "update" whose detail
    # names the statuses.
    audit_record(
        actor=actor,
        action="update",
        object_type="submission",
        object_id=submission.pk,
        detail={
            "school": submission.school_id,
            "period": submission.period_id,
            "from": event_from,
            "to": to,
        },
    )
    submission.refresh_from_db()
    return submission


def reason_clean(reason: str | None) -> str:
    """The reason of a return or reopen, stripped; refused when empty or too long."""
    reason = (reason or "").strip()
    if not reason:
        raise SubmissionError(
            "invalid",
            "reason_required",
            "Hãy ghi rõ lý do trả lại để nhà trường biết cần sửa gì.",
            "Give a reason so the school knows what to fix.",
            errors=[{"field": "reason", "type": "required", "message": "reason is required"}],
        )
    if len(reason) > REASON_MAX_LENGTH:
        raise SubmissionError(
            "invalid",
            "reason_too_long",
            f"Lý do không được dài quá {REASON_MAX_LENGTH} ký tự.",
            f"The reason must not be longer than {REASON_MAX_LENGTH} characters.",
            errors=[{"field": "reason", "type": "too_long", "message": str(len(reason))}],
        )
    return reason


def submission_submit(*, actor, submission: Submission) -> Submission:
    """Submit the school's data for the period: refused while a blocking check fails.

    A refused submission still keeps the checks it failed (committed before the refusal is
    raised), so the school's page shows what to fix.
    """
    _require(actor, SUBMITTERS, what="submit")
    _require_scope(actor, submission.school_id)
    with transaction.atomic():
        submission = (
            Submission.objects.select_for_update(of=("self",))
            .select_related("school", "period")
            .get(pk=submission.pk)
        )
        if submission.status not in (Status.DRAFT, Status.RETURNED):
            raise transition_refused(submission.pk, Status.SUBMITTED)
        period = submission.period
        if timezone.localdate() < period.opens_on:
            raise SubmissionError(
                "conflict",
                "period_not_open",
                f"Kỳ báo cáo chưa mở; nhà trường nộp được từ ngày {period.opens_on:%d/%m/%Y}.",
                f"The reporting period is not open yet; submissions open on {period.opens_on}.",
            )
        school = submission.school
        checks = checks_run(
            school_ids=[school.pk],
            period=period,
            school_codes={school.pk: school.code},
            detail=True,
        )[school.pk]
        failing = checks_blocking_failures(checks)
        if failing:
            Submission.objects.filter(pk=submission.pk).update(
                checks=checks, updated_at=timezone.now()
            )
        else:
            counts = counts_of(school_ids=[school.pk], period=period)[school.pk]
            return _transition(
                actor=actor,
                submission=submission,
                from_statuses=(Status.DRAFT, Status.RETURNED),
                to=Status.SUBMITTED,
                checks=checks,
                counts=counts,
                submitted_at=timezone.now(),
                submitted_by=actor if getattr(actor, "pk", None) else None,
                return_reason="",
                decided_at=None,
                decided_by=None,
            )
    raise SubmissionError(
        "conflict",
        "checks_failed",
        "Chưa nộp được: dữ liệu còn thiếu. "
        + " ".join(c["message_vi"] for c in failing)
        + " Hãy bổ sung rồi nộp lại.",
        "Cannot submit: data is incomplete. "
        + " ".join(c["message_en"] for c in failing)
        + " Complete it and submit again.",
        errors=[
            {"field": c["code"], "type": "check_failed", "message": c["message_en"]}
            for c in failing
        ],
    )


@transaction.atomic
def submission_approve(*, actor, submission: Submission) -> Submission:
    """The Department accepts the school's submission; the data stays locked."""
    _require(actor, DECIDERS, what="approve")
    _require_scope(actor, submission.school_id)
    return _transition(
        actor=actor,
        submission=submission,
        from_statuses=(Status.SUBMITTED,),
        to=Status.APPROVED,
    )


@transaction.atomic
def submission_return(*, actor, submission: Submission, reason: str) -> Submission:
    """The Department sends the submission back with a reason; the school's data unlocks."""
    _require(actor, DECIDERS, what="return")
    _require_scope(actor, submission.school_id)
    reason = reason_clean(reason)
    return _transition(
        actor=actor,
        submission=submission,
        from_statuses=(Status.SUBMITTED,),
        to=Status.RETURNED,
        note=reason,
        return_reason=reason,
    )


@transaction.atomic
def submission_reopen(*, actor, submission: Submission, reason: str) -> Submission:
    """Reopen an approved submission (returned, with a reason) so the school can correct it."""
    _require(actor, REOPENERS, what="reopen")
    _require_scope(actor, submission.school_id)
    reason = reason_clean(reason)
    return _transition(
        actor=actor,
        submission=submission,
        from_statuses=(Status.APPROVED,),
        to=Status.RETURNED,
        note=reason,
        return_reason=reason,
    )
