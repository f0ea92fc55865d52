"""Pages of the year-end rollover: preview with checks, run, follow the job, undo.

Views only translate HTTP to ``rollover_actions`` (which check scope, role and permission) and
render. The run is queued on the worker; its page polls the job's progress every 2 s (htmx).
A preview of a large scope is a job too (``rollover_actions.rollover_preview_start``): the page
polls it the same way and offers "refresh" to compute it again.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from vnemis.core.models import Job
from vnemis.orgs.models import Organisation
from vnemis.orgs.scope import organisations_visible

from .models import SchoolYear
from .models_rollover import RolloverRun
from .rollover_actions import (
    RolloverBlocked,
    preview_in_background,
    rollover_get,
    rollover_preview,
    rollover_preview_get,
    rollover_preview_start,
    rollover_run,
    rollover_undo,
)

COUNT_LABELS = [
    ("active", gettext_lazy("Đang học")),
    ("promoted", gettext_lazy("Lên lớp")),
    ("repeating", gettext_lazy("Ở lại lớp")),
    ("graduated", gettext_lazy("Hoàn thành cấp học")),
    ("left", gettext_lazy("Đã chuyển đi hoặc bỏ học (không chuyển)")),
    ("missing_outcome", gettext_lazy("Chưa có kết quả cuối năm")),
    ("pending_reassessment", gettext_lazy("Chờ kiểm tra lại hoặc rèn luyện hè")),
]


def _scope_and_year(request, data) -> tuple[Organisation, SchoolYear | None]:
    code = (data.get("scope") or "").strip()
    user = request.user
    if code:
        scope = organisations_visible(user).filter(code=code).first()
        if scope is None:
            raise PermissionDenied(_("Đơn vị không tồn tại hoặc nằm ngoài phạm vi của bạn."))
    elif user.scope_id:
        scope = user.scope
    else:
        scope = Organisation.objects.filter(parent__isnull=True).order_by("code").first()
        if scope is None:
            raise PermissionDenied(_("Chưa có đơn vị nào."))
    year_code = (data.get("year") or "").strip()
    years = SchoolYear.objects.all()
    year = years.filter(code=year_code).first() if year_code else None
    if year is None:
        year = years.filter(is_current=True).first() or years.first()
    return scope, year


def _preview_context(p: dict) -> dict:
    return {
        "preview": p,
        "count_rows": [(label, p["counts"].get(k, 0)) for k, label in COUNT_LABELS],
    }


@login_required
@require_GET
def preview(request):
    """The counts and checks of a rollover of the chosen scope and year.

    Inline for small scopes; for large ones a preview job is started (or a recent one reused)
    and the page polls it.
    """
    scope, year = _scope_and_year(request, request.GET)
    context = {"scope": scope, "year": year, "years": SchoolYear.objects.all()}
    if year is not None:
        if preview_in_background(scope):
            job = rollover_preview_start(
                actor=request.user,
                scope=scope,
                from_year=year,
                refresh=request.GET.get("refresh") == "1",
            )
            job.refresh_from_db()  # the immediate backend (tests) may have finished it
            context["preview_job"] = job
            if job.status == Job.Status.SUCCEEDED:
                context.update(_preview_context(job.result))
        else:
            p = rollover_preview(actor=request.user, scope=scope, from_year=year)
            context.update(_preview_context(p))
        context["runs"] = (
            RolloverRun.objects.filter(scope=scope, from_year=year)
            .select_related("job", "to_year")
            .order_by("-created_at")[:10]
        )
    return render(request, "registry/rollover.html", context)


@login_required
@require_GET
def preview_job(request, job_id):
    """The preview block of a large scope, polled by htmx until its job has finished."""
    job, scope, year = rollover_preview_get(actor=request.user, job_id=job_id)
    context = {"scope": scope, "year": year, "preview_job": job}
    if job.status == Job.Status.SUCCEEDED:
        context.update(_preview_context(job.result))
    return render(request, "registry/rollover_preview.html", context)


@login_required
@require_POST
def run(request):
    """Start the rollover (queued on the worker), then show its job."""
    scope, year = _scope_and_year(request, request.POST)
    if year is None:
        raise PermissionDenied(_("Chưa có năm học nào."))
    try:
        job = rollover_run(actor=request.user, scope=scope, from_year=year)
    except RolloverBlocked as exc:
        for check in exc.checks:
            messages.error(request, check.message)
        query = urlencode({"scope": scope.code, "year": year.code})
        return redirect(f"{reverse('rollover:preview')}?{query}")
    messages.success(request, _("Đã bắt đầu kết chuyển năm học."))
    return redirect("rollover:job", job_id=job.pk)


def _job_context(run: RolloverRun) -> dict:
    run.refresh_from_db()
    job: Job = run.job
    job.refresh_from_db()
    percent = int(100 * job.done / job.total) if job.total else 0
    return {
        "run": run,
        "job": job,
        "percent": percent,
        "running": run.status
        in (RolloverRun.Status.PENDING, RolloverRun.Status.RUNNING, RolloverRun.Status.UNDOING),
        # From the run, not the job: a run is FAILED only once its executor has stopped.
        "can_undo": run.status in (RolloverRun.Status.SUCCEEDED, RolloverRun.Status.FAILED),
    }


@login_required
@require_GET
def job_detail(request, job_id):
    """A rollover job: progress, result, undo."""
    run = rollover_get(actor=request.user, job_id=job_id)
    return render(request, "registry/rollover_job.html", _job_context(run))


@login_required
@require_GET
def job_progress(request, job_id):
    """The progress block alone, polled by htmx while the job runs."""
    run = rollover_get(actor=request.user, job_id=job_id)
    return render(request, "registry/rollover_progress.html", _job_context(run))


@login_required
@require_POST
def undo(request, job_id):
    """Reverse the run, or say why it cannot be reversed."""
    run = rollover_get(actor=request.user, job_id=job_id)
    try:
        counts = rollover_undo(actor=request.user, job=run.job)
    except RolloverBlocked as exc:
        for check in exc.checks:
            messages.error(request, check.message)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("Đã hoàn tác: khôi phục %(n)s hồ sơ, xoá %(c)s lớp.")
            % {"n": counts["enrolments_restored"], "c": counts["classes_deleted"]},
        )
    return redirect("rollover:job", job_id=run.job_id)
