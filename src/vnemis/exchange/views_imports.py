"""Pages of import jobs: the list, the upload form, a job's progress and errors, the reports.

Views only translate HTTP to ``imports`` (actions) and ``selectors_imports`` (reads). The upload
page sends the file with XHR so the browser shows an upload progress bar, then opens the job
page, which polls its status fragment every second (htmx) until the job has finished.
"""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from vnemis.core.i18n import pick, pick_stored
from vnemis.core.pagination import CursorError
from vnemis.orgs.models import Organisation
from vnemis.orgs.scope import organisations_visible
from vnemis.registry import exchange_format as xf

from .imports import (
    ImportRefused,
    import_cancel,
    import_create,
    import_headers,
    import_max_bytes,
    import_report,
    import_rows_fixable,
)
from .models_imports import ImportJob
from .selectors_imports import (
    import_error_message,
    import_errors_rows,
    import_job_get,
    import_jobs_page,
)

UPLOAD_SLACK = 64 * 1024  # multipart envelope around the file
SCHOOL_SUGGESTIONS = 3000


def _wants_json(request) -> bool:
    return request.headers.get("x-requested-with") == "XMLHttpRequest"


@login_required
@require_GET
def import_list(request):
    """The user's and their scope's imports, newest first."""
    try:
        page = import_jobs_page(user=request.user, cursor=request.GET.get("cursor"), limit=50)
    except CursorError:
        page = import_jobs_page(user=request.user, cursor=None, limit=50)
    return render(
        request, "exchange/import_list.html", {"jobs": page.items, "next_cursor": page.next_cursor}
    )


def _form_context(request, **extra) -> dict:
    user = request.user
    own_school = user.scope if user.scope and user.scope.kind == Organisation.Kind.SCHOOL else None
    schools = []
    if own_school is None:
        # Suggestions for the school code box; a Department has up to a few thousand schools.
        schools = list(
            organisations_visible(user)
            .filter(kind=Organisation.Kind.SCHOOL)
            .order_by("code")
            .values_list("code", "name")[:SCHOOL_SUGGESTIONS]
        )
    return {
        "schools": schools,
        "entities": [(e.name, pick(e.title_vi, e.title_en) or e.name) for e in xf.LAYOUTS],
        "modes": ImportJob.Mode.choices,
        "own_school": own_school,
        "max_mb": import_max_bytes() // (1 << 20),
        "max_bytes": import_max_bytes(),
        **extra,
    }


def _refused(request, status: int, message: str, form: dict):
    if _wants_json(request):
        return JsonResponse({"message": message}, status=status)
    context = _form_context(request, error=message, form=form)
    return render(request, "exchange/import_new.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def import_new(request):
    """The upload form; a POST creates the job and opens (or, for XHR, names) its page."""
    if request.method == "GET":
        return render(request, "exchange/import_new.html", _form_context(request, form={}))
    # Refuse an oversized upload from its declared length, before Django reads the body.
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > import_max_bytes() + UPLOAD_SLACK:
        mb = import_max_bytes() // (1 << 20)
        return _refused(
            request,
            413,
            _("Tệp quá lớn: giới hạn là %(mb)s MB. Hãy chia tệp thành nhiều phần.") % {"mb": mb},
            {},
        )
    form = {
        "entity": request.POST.get("entity", "").strip(),
        "mode": request.POST.get("mode", ImportJob.Mode.APPLY_VALID),
        "dry_run": request.POST.get("dry_run") in ("on", "1", "true"),
        "school": request.POST.get("school", "").strip(),
    }
    upload = request.FILES.get("file")
    if upload is None:
        return _refused(request, 422, _("Hãy chọn một tệp để nhập."), form)
    try:
        job = import_create(
            actor=request.user,
            source=upload,
            source_name=upload.name,
            school=form["school"] or None,
            entity=form["entity"],
            mode=form["mode"],
            dry_run=form["dry_run"],
            origin=ImportJob.Origin.WEB,
        )
    except ImportRefused as exc:
        return _refused(request, exc.status, pick(exc.message_vi, exc.message_en), form)
    url = reverse("import_detail", args=[job.pk])
    if _wants_json(request):
        return JsonResponse({"id": str(job.pk), "url": url}, status=201)
    return redirect(url)


def _error_rows(request, job: ImportJob) -> list[dict]:
    if not job.finished or not job.causes:
        return []
    headers = import_headers(job)
    rows = import_errors_rows(user=request.user, job=job, after=0, limit=100)
    for row in rows:
        column = row.get("column")
        row["header"] = headers.get(column, column) if column else None
        row["message"] = pick(*import_error_message(row.get("code") or "", row["header"]))
    return rows


@login_required
@require_GET
def import_detail(request, job_id):
    """A job's status and progress (polled while running), counts, causes and first errors."""
    job = import_job_get(user=request.user, job_id=job_id)
    context = {
        "job": job,
        "error_rows": _error_rows(request, job),
        "causes": [{**c, "message": pick(c["message_vi"], c["message_en"])} for c in job.causes],
        "error_text": pick_stored(job.error),
        "fixable": job.finished and import_rows_fixable(job),
    }
    if request.headers.get("HX-Request"):
        return render(request, "exchange/import_status.html", context)
    return render(request, "exchange/import_detail.html", context)


@login_required
@require_http_methods(["POST"])
def import_cancel_view(request, job_id):
    job = import_job_get(user=request.user, job_id=job_id)
    try:
        import_cancel(actor=request.user, job=job)
    except ImportRefused as exc:
        return HttpResponse(pick(exc.message_vi, exc.message_en), status=exc.status)
    return redirect("import_detail", job_id=job.pk)


def _report(request, job_id, fmt: str):
    job = import_job_get(user=request.user, job_id=job_id)
    try:
        path = import_report(actor=request.user, job=job, fmt=fmt)
    except ImportRefused as exc:
        return HttpResponse(
            pick(exc.message_vi, exc.message_en), status=exc.status, content_type="text/plain"
        )
    stem = "dong-can-sua" if fmt == "fix" else "loi-nhap-du-lieu"
    name = f"{stem}-{str(job.pk)[:8]}.{'xlsx' if fmt == 'fix' else fmt}"
    return FileResponse(open(path, "rb"), as_attachment=True, filename=name)


@login_required
@require_GET
def import_errors_csv(request, job_id):
    return _report(request, job_id, "csv")


@login_required
@require_GET
def import_errors_xlsx(request, job_id):
    return _report(request, job_id, "xlsx")


@login_required
@require_GET
def import_rows_to_fix(request, job_id):
    """The refused rows with their errors, to fix in place and upload again."""
    return _report(request, job_id, "fix")
