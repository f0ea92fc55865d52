"""Pages of the period submissions: the Department's overview, a school's page, the review page.

Views translate between HTTP and ``selectors_submissions`` / ``submissions``; roles and scope are
enforced there. A refusal for scope or role becomes our 403 page with the selector's message; a
refused transition (failing checks, already decided, missing reason) comes back to the page as
an error message so the user sees what to do.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from vnemis.orgs.models import Organisation, User
from vnemis.orgs.scope import is_unrestricted

from . import selectors_submissions as selectors
from . import submissions as actions
from .models_submissions import ReportingPeriod, Submission
from .submission_errors import SubmissionError
from .submission_reminders import submissions_remind

CODE_MAX_LENGTH = 20


def _refuse(exc: SubmissionError):
    raise PermissionDenied(exc.message()) from exc


def _period_from(request) -> ReportingPeriod | None:
    raw = request.GET.get("period", "") or request.POST.get("period", "")
    if raw.isdigit():
        try:
            return selectors.period_get(period_id=int(raw))
        except SubmissionError:
            return None
    return selectors.period_current()


def _localise(checks: list[dict]) -> list[dict]:
    """Each check's message in the page's language."""
    en = get_language() == "en"
    return [{**c, "message": c["message_en"] if en else c["message_vi"]} for c in checks or []]


def _role(user: User) -> str:
    if is_unrestricted(user):
        return User.Role.MINISTRY
    return user.role


@login_required
@require_GET
def submission_overview(request):
    """Every school's status for a period: progress bars, late schools, reminders."""
    user = request.user
    role = _role(user)
    if role in (User.Role.SCHOOL, User.Role.SYSTEM) and user.scope_id:
        return redirect("submission_school", user.scope.code)
    if role not in selectors.OVERVIEW_VIEWERS:
        raise PermissionDenied(_("Vai trò của bạn không xem được tình hình nộp báo cáo."))
    period = _period_from(request)
    context = {
        "period": period,
        "periods": selectors.periods_all(),
        "role": role,
        "levels": Organisation.Level.choices,
        "statuses": Submission.Status.choices,
    }
    if period is None:
        return render(request, "exchange/submission_overview.html", context)
    province = request.GET.get("province", "")[:CODE_MAX_LENGTH]
    if role == User.Role.MINISTRY and not province:
        provinces = selectors.overview_progress(viewer=user, period=period, by="province")
        context.update(
            provinces=provinces,
            total=selectors.overview_total(provinces),
            late_period=selectors.period_is_late(period),
        )
        return render(request, "exchange/submission_ministry.html", context)
    level = request.GET.get("level", "")
    if level not in Organisation.Level.values:
        level = ""
    status = request.GET.get("status", "")
    if status not in Submission.Status.values:
        status = ""
    late_only = request.GET.get("late") == "1"
    after = request.GET.get("after", "")[:CODE_MAX_LENGTH]
    try:
        levels = selectors.overview_progress(
            viewer=user, period=period, province_code=province, by="level"
        )
        communes = selectors.overview_progress(
            viewer=user, period=period, province_code=province, by="commune"
        )
        rows, next_after = selectors.overview_schools(
            viewer=user,
            period=period,
            province_code=province,
            level=level,
            status=status,
            late_only=late_only,
            after=after,
        )
    except SubmissionError as exc:
        _refuse(exc)
    params = {
        k: v
        for k, v in {
            "period": period.pk,
            "province": province,
            "level": level,
            "status": status,
            "late": "1" if late_only else "",
        }.items()
        if v
    }
    context.update(
        province=province,
        level=level,
        status=status,
        late_only=late_only,
        by_level=levels,
        by_commune=communes,
        total=selectors.overview_total(levels),
        rows=rows,
        late_period=selectors.period_is_late(period),
        can_remind=role == User.Role.DEPARTMENT,
        next_url=(
            f"?{urlencode({**params, 'after': next_after})}" if next_after is not None else ""
        ),
        first_url=f"?{urlencode(params)}" if after else "",
    )
    return render(request, "exchange/submission_overview.html", context)


@login_required
@require_GET
def submission_school(request, code: str):
    """A school's periods: status, checks with links to fix, submit, history."""
    try:
        school, entries = selectors.submissions_of_school(viewer=request.user, school_code=code)
    except SubmissionError as exc:
        _refuse(exc)
    role = _role(request.user)
    can_submit = role in actions.SUBMITTERS or is_unrestricted(request.user)
    selected = _period_from(request)
    for entry in entries:
        sub = entry["submission"]
        entry["selected"] = selected is not None and entry["period"].pk == selected.pk
        entry["late"] = selectors.period_is_late(entry["period"]) and (
            sub is None or sub.status in (Submission.Status.DRAFT, Submission.Status.RETURNED)
        )
        entry["checks"] = _localise(sub.checks if sub else [])
        entry["editable"] = sub is None or sub.status in (
            Submission.Status.DRAFT,
            Submission.Status.RETURNED,
        )
    return render(
        request,
        "exchange/submission_school.html",
        {"school": school, "entries": entries, "can_submit": can_submit},
    )


@login_required
@require_POST
def submission_school_action(request, code: str, period_id: int, action: str):
    """Check or submit a school's data for a period (the school's own users)."""
    if action not in ("check", "submit"):
        return HttpResponseBadRequest(_("Thao tác không hợp lệ."))
    try:
        school, _entries = selectors.submissions_of_school(viewer=request.user, school_code=code)
        period = selectors.period_get(period_id=period_id)
    except SubmissionError as exc:
        _refuse(exc)
    back = reverse("submission_school", args=[school.code]) + f"?period={period.pk}"
    try:
        # Role first, so a read-only viewer never creates a draft by pressing a button.
        actions._require(request.user, actions.SUBMITTERS, what=action)
        sub = actions.submission_get_or_create(school=school, period=period)
        if action == "check":
            checks = actions.submission_check(actor=request.user, submission=sub)
            failing = [c for c in checks if not c["ok"]]
            if failing:
                messages.warning(
                    request, _("Kiểm tra xong: còn %(n)s mục cần bổ sung.") % {"n": len(failing)}
                )
            else:
                messages.success(request, _("Kiểm tra xong: dữ liệu đầy đủ, có thể nộp."))
        else:
            actions.submission_submit(actor=request.user, submission=sub)
            messages.success(request, _("Đã nộp báo cáo; đang chờ Sở duyệt."))
    except SubmissionError as exc:
        if exc.kind in ("forbidden", "not_found"):
            _refuse(exc)
        messages.error(request, exc.message(), extra_tags="danger")  # Bootstrap class
    return redirect(back)


@login_required
@require_GET
def submission_detail(request, submission_id: int):
    """The Department's review page: counts, checks, history; approve or return with a reason."""
    try:
        sub = selectors.submission_get(viewer=request.user, submission_id=submission_id)
        live = selectors.submission_checks_live(viewer=request.user, submission=sub)
    except SubmissionError as exc:
        _refuse(exc)
    role = _role(request.user)
    return render(
        request,
        "exchange/submission_detail.html",
        {
            "sub": sub,
            "period": sub.period,
            "checks": _localise(sub.checks),
            "live_checks": _localise(live),
            "events": selectors.submission_events(submission=sub),
            "can_decide": role in actions.DECIDERS and sub.status == Submission.Status.SUBMITTED,
            "can_reopen": role in actions.REOPENERS and sub.status == Submission.Status.APPROVED,
            "late": selectors.period_is_late(sub.period)
            and sub.status in (Submission.Status.DRAFT, Submission.Status.RETURNED),
        },
    )


@login_required
@require_POST
def submission_decide(request, submission_id: int, action: str):
    """Approve, return or reopen (the Department; reopen also the Ministry)."""
    if action not in ("approve", "return", "reopen"):
        return HttpResponseBadRequest(_("Thao tác không hợp lệ."))
    try:
        sub = selectors.submission_get(viewer=request.user, submission_id=submission_id)
    except SubmissionError as exc:
        _refuse(exc)
    reason = request.POST.get("reason", "")
    try:
        if action == "approve":
            actions.submission_approve(actor=request.user, submission=sub)
            messages.success(
                request, _("Đã duyệt báo cáo của %(school)s.") % {"school": sub.school.name}
            )
        elif action == "return":
            actions.submission_return(actor=request.user, submission=sub, reason=reason)
            messages.success(
                request, _("Đã trả lại báo cáo của %(school)s.") % {"school": sub.school.name}
            )
        else:
            actions.submission_reopen(actor=request.user, submission=sub, reason=reason)
            messages.success(
                request, _("Đã mở lại báo cáo của %(school)s.") % {"school": sub.school.name}
            )
    except SubmissionError as exc:
        if exc.kind in ("forbidden", "not_found"):
            _refuse(exc)
        messages.error(request, exc.message(), extra_tags="danger")  # Bootstrap class
    return redirect("submission_detail", sub.pk)


@login_required
@require_POST
def submission_remind(request):
    """Send reminders to one late school or to every late school of the period in scope."""
    period = _period_from(request)
    if period is None:
        return HttpResponseBadRequest(_("Kỳ báo cáo không hợp lệ."))
    school_ids = None
    code = request.POST.get("school", "")[:CODE_MAX_LENGTH]
    if code:
        school_ids = list(Organisation.objects.filter(code=code).values_list("id", flat=True))
    try:
        result = submissions_remind(
            actor=request.user,
            period=period,
            school_ids=school_ids,
            base_url=request.build_absolute_uri("/").rstrip("/"),
        )
    except SubmissionError as exc:
        _refuse(exc)
    if result.reminded:
        messages.success(
            request,
            _("Đã gửi nhắc nhở tới %(n)s trường (%(r)s địa chỉ e-mail).")
            % {"n": len(result.reminded), "r": result.recipients},
        )
    if result.already_today:
        messages.info(
            request,
            _("%(n)s trường đã được nhắc hôm nay; mỗi trường chỉ được nhắc một lần mỗi ngày.")
            % {"n": len(result.already_today)},
        )
    if not result.reminded and not result.already_today:
        messages.info(request, _("Không có trường nào nộp muộn để nhắc."))
    back = request.POST.get("next", "")
    if not back.startswith("/exchange/submissions/"):
        back = reverse("submission_overview") + f"?period={period.pk}"
    return redirect(back)
