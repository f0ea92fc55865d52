"""Pages of the graduation exam: sessions, candidates, a candidate's record, file imports, and the
Ministry's session settings.

Views translate HTTP to the selectors (reads, scope, audit) and actions (writes, rights); a
refusal from either becomes the 403 page or a message on the form.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from vnemis.core.i18n import pick, pick_stored
from vnemis.core.pagination import CursorError
from vnemis.exchange.imports import ImportRefused

from . import actions, selectors
from .access import is_ministry, results_visible
from .forms import ImportForm, SessionForm, SessionSettingsForm
from .imports import exam_import_create, exam_import_errors_csv
from .models import Candidate, ExamImport

SETTINGS_FIELDS = (
    "name",
    "registration_opens_at",
    "registration_closes_at",
    "results_publish_at",
    "electives_required",
    "room_capacity",
)


def _staff_ensure(user) -> None:
    if not selectors.exam_staff(user):
        raise PermissionDenied(_("Trang này dành cho cán bộ nhà trường, Sở và Bộ GD&ĐT."))


def _errors_text(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


@login_required
@require_GET
def exam_home(request):
    """The exam sessions, newest first."""
    _staff_ensure(request.user)
    return render(
        request,
        "exams/home.html",
        {"sessions": selectors.sessions_all()[:20], "ministry": is_ministry(request.user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def session_new(request):
    """The Ministry opens a year's session."""
    if not is_ministry(request.user):
        raise PermissionDenied(_("Chỉ Bộ GD&ĐT được tạo kỳ thi."))
    form = SessionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            session = actions.session_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Đã tạo kỳ thi."))
            return redirect("exams:session", year=session.year)
    return render(request, "exams/session_form.html", {"form": form, "creating": True})


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
@require_http_methods(["GET", "POST"])
def session_settings(request, year: int):
    """The Ministry's settings of a session: window, publication time, electives, rooms."""
    session = selectors.session_get(year=year)
    if not is_ministry(request.user):
        raise PermissionDenied(_("Chỉ Bộ GD&ĐT được sửa thiết lập kỳ thi."))
    initial = {f: getattr(session, f) for f in SETTINGS_FIELDS}
    initial |= {"year": session.year, "school_year": session.school_year_id}
    form = SessionSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = {f: form.cleaned_data[f] for f in SETTINGS_FIELDS}
        try:
            actions.session_update(actor=request.user, session=session, **changes)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Đã lưu thiết lập kỳ thi."))
            return redirect("exams:session", year=year)
    return render(
        request, "exams/session_form.html", {"form": form, "session": session, "creating": False}
    )


@login_required
@require_GET
def session_detail(request, year: int):
    """A session's settings and the viewer's figures."""
    _staff_ensure(request.user)
    session = selectors.session_get(year=year)
    return render(
        request,
        "exams/session.html",
        {
            "session": session,
            "figures": selectors.session_figures(viewer=request.user, session=session),
            "ministry": is_ministry(request.user),
            "results_visible": results_visible(session, request.user),
        },
    )


@login_required
@require_GET
def candidate_list(request, year: int):
    """The viewer's candidates in number order, filtered; scope is applied in the query."""
    _staff_ensure(request.user)
    session = selectors.session_get(year=year)
    filters = selectors.CandidateFilters(
        unit_code=request.GET.get("unit", "")[:20],
        number=request.GET.get("q", "")[:20],
        identity=request.GET.get("identity", ""),
        result=request.GET.get("result", ""),
    )
    try:
        page = selectors.candidates_page(
            viewer=request.user, session=session, filters=filters, cursor=request.GET.get("after")
        )
    except CursorError:
        page = selectors.candidates_page(viewer=request.user, session=session, filters=filters)
    return render(
        request,
        "exams/candidate_list.html",
        {
            "session": session,
            "candidates": page.items,
            "next_after": page.next_cursor,
            "is_first_page": not request.GET.get("after"),
            "filters": filters,
            "results_visible": results_visible(session, request.user),
            "result_choices": Candidate.Result.choices,
        },
    )


@login_required
@require_GET
def candidate_detail(request, year: int, candidate_id: int):
    """A candidate's papers, claims, averages, scores and result (these two once visible)."""
    _staff_ensure(request.user)
    session = selectors.session_get(year=year)
    candidate = selectors.candidate_get(
        viewer=request.user, session=session, candidate_id=candidate_id
    )
    record = selectors.candidate_record(viewer=request.user, candidate=candidate)
    papers = [
        {
            "subject": cs.subject,
            "name": pick(cs.subject.name_vi, cs.subject.name_en),
            "exempt": cs.exempt,
            "score": record.scores.get(cs.subject.code) if record.scores is not None else None,
        }
        for cs in record.subjects
    ]
    return render(
        request,
        "exams/candidate_detail.html",
        {
            "session": session,
            "candidate": candidate,
            "record": record,
            "papers": papers,
            "reason_text": _reason_text(candidate.result_reason),
        },
    )


REASONS = {
    "missing_score": ("Còn thiếu điểm của bài thi.", "A paper's score is missing."),
    "missing_average": (
        "Còn thiếu điểm trung bình của một năm học lớp 10, 11 hoặc 12.",
        "A yearly average of grade 10, 11 or 12 is missing.",
    ),
    "paper_at_floor": (
        "Có bài thi từ 1,0 điểm trở xuống (điểm liệt).",
        "A paper scored 1.0 or less (the failing floor).",
    ),
    "total_too_low": ("Điểm xét tốt nghiệp dưới 5,0.", "The graduation score is below 5.0."),
}


def _reason_text(code: str) -> str:
    return pick(*REASONS[code]) if code in REASONS else ""


@login_required
@require_http_methods(["GET", "POST"])
def import_new(request, year: int):
    """Upload a scores, averages or choices file; the job runs on the worker."""
    _staff_ensure(request.user)
    session = selectors.session_get(year=year)
    form = ImportForm(request.POST or None, request.FILES or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = exam_import_create(
                actor=request.user,
                session=session,
                kind=data["kind"],
                source=data["file"],
                source_name=data["file"].name,
                subject_code=data["subject"],
                mode=data["mode"],
                dry_run=data["dry_run"],
            )
        except ImportRefused as exc:
            error = pick(exc.message_vi, exc.message_en)
        else:
            return redirect("exams:import_detail", year=year, job_id=job.pk)
    return render(
        request,
        "exams/import_new.html",
        {
            "session": session,
            "form": form,
            "error": error,
            "jobs": selectors.imports_recent(viewer=request.user, session=session),
        },
        status=422 if error else 200,
    )


@login_required
@require_GET
def import_detail(request, year: int, job_id):
    """A job's status, its errors by cause and its first error rows (polled until finished)."""
    _staff_ensure(request.user)
    session = selectors.session_get(year=year)
    job = selectors.import_get(viewer=request.user, session=session, job_id=job_id)
    causes = [
        {**c, "message": pick(c.get("message_vi", ""), c.get("message_en", ""))} for c in job.causes
    ]
    rows = []
    if job.finished:
        for r in selectors.import_error_rows(viewer=request.user, job=job):
            r["message"] = pick(r["message_vi"], r["message_en"])
            r["header"] = job.headers.get(r["column"], r["column"]) if r["column"] else ""
            rows.append(r)
    template = "exams/_import_status.html" if request.htmx else "exams/import_detail.html"
    return render(
        request,
        template,
        {
            "session": session,
            "job": job,
            "causes": causes,
            "error_rows": rows,
            "error_text": pick_stored(job.error),
        },
    )


@login_required
@require_GET
def import_errors_csv(request, year: int, job_id):
    _staff_ensure(request.user)
    session = selectors.session_get(year=year)
    job = selectors.import_get(viewer=request.user, session=session, job_id=job_id)
    if job.status not in (ExamImport.Status.SUCCEEDED, ExamImport.Status.REJECTED):
        raise PermissionDenied(_("Báo cáo lỗi chỉ có khi tệp đã được kiểm tra xong."))
    path = exam_import_errors_csv(actor=request.user, job=job)
    return FileResponse(open(path, "rb"), as_attachment=True, filename=f"loi-{job.pk}.csv")
