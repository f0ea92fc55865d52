"""API of period submissions (mounted at /api/v1/submissions): list, read, check, decide.

Endpoints only translate: scope and roles are enforced by ``selectors_submissions`` and
``submissions``. A submission outside the caller's scope answers 404 like a missing one; a
transition that the current status does not allow (or a decision already taken by someone
else) answers 409; a return without a reason 422.
"""

from datetime import date, datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema

from vnemis.core.api_errors import ERROR_RESPONSES, ApiError, ErrorOut
from vnemis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT

from . import selectors_submissions as selectors
from . import submissions as actions
from .models_submissions import ReportingPeriod, Submission
from .submission_errors import SubmissionError

router = Router()

STATUS_OF_KIND = {"forbidden": 403, "not_found": 404, "conflict": 409, "invalid": 422}
RESPONSES = {**ERROR_RESPONSES, 409: ErrorOut}


class PeriodOut(Schema):
    id: int
    school_year: str
    kind: str
    label_vi: str
    as_of: date
    opens_on: date
    due_on: date


class CheckItemOut(Schema):
    class_id: int
    name: str
    count: int
    url: str


class CheckOut(Schema):
    code: str
    ok: bool
    blocking: bool
    count: int
    total: int
    message_vi: str
    message_en: str
    fix_url: str = ""
    items: list[CheckItemOut] = []


class EventOut(Schema):
    from_status: str
    to_status: str
    note: str
    by: str | None  # the log-in name
    by_name: str | None  # the person's name and organisation, as the pages show it
    at: datetime


class SubmissionOut(Schema):
    id: int
    school: str
    school_name: str
    period: int
    period_kind: str
    school_year: str
    status: str
    late: bool  # past the due date and not submitted (draft or returned)
    submitted_late: bool  # submitted or approved, (last) submitted after the due date
    locks_data: bool  # the school's data of the year is locked by this submission now
    due_on: date
    checks: list[CheckOut]
    counts: dict
    return_reason: str
    submitted_at: datetime | None
    decided_at: datetime | None


class SubmissionDetailOut(SubmissionOut):
    events: list[EventOut]


class SubmissionPage(Schema):
    items: list[SubmissionOut]
    next_cursor: str | None


class ReasonIn(Schema):
    reason: str = ""


def _raise(exc: SubmissionError):
    raise ApiError(
        STATUS_OF_KIND.get(exc.kind, 400), exc.code, exc.message_vi, exc.message_en, exc.errors
    ) from exc


def _period_out(p: ReportingPeriod) -> dict:
    return {
        "id": p.pk,
        "school_year": p.school_year.code,
        "kind": p.kind,
        "label_vi": str(ReportingPeriod.Kind(p.kind).label),
        "as_of": p.as_of,
        "opens_on": p.opens_on,
        "due_on": p.due_on,
    }


def _out(s: Submission, *, events: bool = False, periods: list | None = None) -> dict:
    p = s.period
    if periods is None:
        periods = selectors.periods_of_year(school_year_id=p.school_year_id)
    facts = selectors.submission_facts(period=p, submission=s, periods_of_year=periods)
    body = {
        "id": s.pk,
        "school": s.school.code,
        "school_name": s.school.name,
        "period": p.pk,
        "period_kind": p.kind,
        "school_year": p.school_year.code,
        "status": s.status,
        "late": facts.overdue,
        "submitted_late": facts.submitted_late,
        "locks_data": facts.locked,
        "due_on": p.due_on,
        "checks": s.checks or [],
        "counts": s.counts or {},
        "return_reason": s.return_reason,
        "submitted_at": s.submitted_at,
        "decided_at": s.decided_at,
    }
    if events:
        body["events"] = [
            {
                "from_status": e.from_status,
                "to_status": e.to_status,
                "note": e.note,
                "by": e.by.get_username() if e.by else None,
                "by_name": e.by_label or None,
                "at": e.at,
            }
            for e in selectors.submission_events(submission=s)
        ]
    return body


@router.get("/periods", response={200: list[PeriodOut], **RESPONSES})
def period_list(request: HttpRequest):
    """Reporting periods (start of year, end of term I, end of year), newest year first."""
    try:
        selectors.submissions_visible(viewer=request.user)  # role check only
    except SubmissionError as exc:
        _raise(exc)
    return [_period_out(p) for p in selectors.periods_all()]


@router.get("", response={200: SubmissionPage, **RESPONSES})
def submission_list(
    request: HttpRequest,
    period: int = Query(..., ge=1, description="reporting period id (GET /periods)"),
    status: str = Query("", max_length=10, description="draft, submitted, approved, returned"),
    cursor: str | None = Query(None, max_length=512),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
):
    """Submissions of a period in your scope, keyset-paged by id."""
    try:
        p = selectors.period_get(period_id=period)
        page = selectors.submissions_page(
            viewer=request.user, period=p, status=status, cursor=cursor, limit=limit
        )
    except SubmissionError as exc:
        _raise(exc)
    periods = selectors.periods_of_year(school_year_id=p.school_year_id)
    return {
        "items": [_out(s, periods=periods) for s in page.items],
        "next_cursor": page.next_cursor,
    }


def _get(request, submission_id: int) -> Submission:
    try:
        return selectors.submission_get(viewer=request.user, submission_id=submission_id)
    except SubmissionError as exc:
        _raise(exc)


def _after(request, submission_id: int) -> dict:
    return _out(_get(request, submission_id), events=True)


def _transition(request, submission_id: int, action, **kwargs) -> dict:
    """Run one workflow action on a submission the caller may see; its refusal as ApiError."""
    sub = _get(request, submission_id)
    try:
        action(actor=request.user, submission=sub, **kwargs)
    except SubmissionError as exc:
        _raise(exc)
    return _after(request, submission_id)


@router.get("/{submission_id}", response={200: SubmissionDetailOut, **RESPONSES})
def submission_detail(request: HttpRequest, submission_id: int):
    """One submission with its checks, counts and history."""
    return _after(request, submission_id)


@router.post("/{submission_id}/check", response={200: list[CheckOut], **RESPONSES})
def submission_check(request: HttpRequest, submission_id: int):
    """Run the completeness checks now (the school's users) and keep them on the draft."""
    sub = _get(request, submission_id)
    try:
        return actions.submission_check(actor=request.user, submission=sub)
    except SubmissionError as exc:
        _raise(exc)


@router.post("/{submission_id}/submit", response={200: SubmissionDetailOut, **RESPONSES})
def submission_submit(request: HttpRequest, submission_id: int):
    """Submit the school's data for the period (refused while a blocking check fails)."""
    return _transition(request, submission_id, actions.submission_submit)


@router.post("/{submission_id}/approve", response={200: SubmissionDetailOut, **RESPONSES})
def submission_approve(request: HttpRequest, submission_id: int):
    """Approve a submitted submission (the school's Department)."""
    return _transition(request, submission_id, actions.submission_approve)


@router.post("/{submission_id}/return", response={200: SubmissionDetailOut, **RESPONSES})
def submission_return(request: HttpRequest, submission_id: int, body: ReasonIn):
    """Return a submitted submission to the school with a reason (the school's Department)."""
    return _transition(request, submission_id, actions.submission_return, reason=body.reason)


@router.post("/{submission_id}/reopen", response={200: SubmissionDetailOut, **RESPONSES})
def submission_reopen(request: HttpRequest, submission_id: int, body: ReasonIn):
    """Reopen an approved submission with a reason (the Department or the Ministry)."""
    return _transition(request, submission_id, actions.submission_reopen, reason=body.reason)
