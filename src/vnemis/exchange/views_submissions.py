"""Pages of the period submissions: the Department's overview, a school's page, the review page.

Views translate between HTTP and ``selectors_submissions`` / ``submissions``; roles and scope are
enforced there. A refusal for scope or role becomes our 403 page with the selector's message; a
refused transition (failing checks, already decided, missing reason) comes back to the page as
an error message so the user sees what to do.

Submit, approve, return, reopen and "remind every late school" take two steps without any
JavaScript: the button posts the form, which answers with a confirmation page saying what will
happen (nothing is changed yet); its "confirm" button posts the same form again with
``confirmed=1``. The API has no such step: a program means what it sends.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from vnemis.orgs.models import Organisation, User
from vnemis.orgs.scope import is_unrestricted
from vnemis.registry.selectors import school_year_current

from . import selectors_submissions as selectors
from . import submissions as actions
from .models_submissions import ReportingPeriod, Submission
from .submission_checks import checks_blocking_failures, checks_run, counts_of, reference_date
from .submission_errors import SubmissionError
from .submission_reminders import NOTE_MAX_LENGTH, submissions_remind

CODE_MAX_LENGTH = 20
Status = Submission.Status


def _confirmed(request) -> bool:
    return request.POST.get("confirmed") == "1"


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
        year = school_year_current()
        context["school_year_code"] = year.code if year else ""
        return render(request, "exchange/submission_overview.html", context)
    province = request.GET.get("province", "")[:CODE_MAX_LENGTH]
    if role == User.Role.MINISTRY and not province:
        provinces = selectors.overview_progress(viewer=user, period=period, by="province")
        context.update(
            provinces=provinces,
            total=selectors.overview_total(provinces),
            late_period=selectors.period_is_late(period),
            today=timezone.localdate(),
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
        reference=reference_date(period),
        today=timezone.localdate(),
        can_remind=role == User.Role.DEPARTMENT,
        remind_url=reverse("submission_remind")
        + f"?{urlencode({'period': period.pk, 'next': request.get_full_path()})}",
        next_url=(
            f"?{urlencode({**params, 'after': next_after})}" if next_after is not None else ""
        ),
        first_url=f"?{urlencode(params)}" if after else "",
    )
    return render(request, "exchange/submission_overview.html", context)


@login_required
@require_GET
def submission_school(request, code: str):
    """A school's periods: status, checks with links to fix, submit, reminders, history."""
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
        entry["late"] = entry["facts"].overdue
        entry["checks"] = _localise(sub.checks if sub else [])
        entry["editable"] = sub is None or sub.status in (Status.DRAFT, Status.RETURNED)
        entry["open"] = entry["period"].opens_on <= timezone.localdate()
        entry["decided_by"] = selectors.user_label(sub.decided_by) if sub else ""
    returned = [
        e for e in entries if e["submission"] is not None and e["submission"].status == "returned"
    ]
    return render(
        request,
        "exchange/submission_school.html",
        {
            "school": school,
            "entries": entries,
            "returned": returned,
            "can_submit": can_submit,
            "today": timezone.localdate(),
        },
    )


def _submit_confirmation(request, *, school: Organisation, period: ReportingPeriod, back: str):
    """What submitting would send and lock, and what still stops it (nothing is written)."""
    sub = Submission.objects.filter(school=school, period=period).first()
    checks = checks_run(
        school_ids=[school.pk], period=period, school_codes={school.pk: school.code}, detail=True
    )[school.pk]
    problems = [
        c["message_en"] if get_language() == "en" else c["message_vi"]
        for c in checks_blocking_failures(checks)
    ]
    today = timezone.localdate()
    if sub is not None and sub.status not in (Status.DRAFT, Status.RETURNED):
        problems.insert(0, _("Báo cáo kỳ này đã được nộp; không nộp lại được."))
    if today < period.opens_on:
        problems.insert(
            0,
            _("Kỳ báo cáo chưa mở; nhà trường nộp được từ ngày %(d)s.")
            % {"d": f"{period.opens_on:%d/%m/%Y}"},
        )
    facts = selectors.submission_facts(
        period=period,
        submission=Submission(status=Status.APPROVED),
        periods_of_year=selectors.periods_of_year(school_year_id=period.school_year_id),
        today=today,
    )
    return render(
        request,
        "exchange/submission_confirm.html",
        {
            "action": "submit",
            "school": school,
            "period": period,
            "counts": counts_of(school_ids=[school.pk], period=period)[school.pk],
            "reference": reference_date(period, today=today),
            "late_days": (today - period.due_on).days if today > period.due_on else 0,
            "after_approval": facts,
            "problems": problems,
            "post_url": reverse(
                "submission_school_action", args=[school.code, period.pk, "submit"]
            ),
            "back": back,
        },
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
        if action == "submit" and not _confirmed(request):
            return _submit_confirmation(request, school=school, period=period, back=back)
        sub = actions.submission_get_or_create(school=school, period=period)
        if action == "check":
            checks = actions.submission_check(actor=request.user, submission=sub)
            failing = [c for c in checks if not c["ok"]]
            if failing:
                messages.warning(
                    request,
                    ngettext(
                        "Kiểm tra xong: còn %(n)s mục cần bổ sung.",
                        "Kiểm tra xong: còn %(n)s mục cần bổ sung.",
                        len(failing),
                    )
                    % {"n": len(failing)},
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


def _detail_facts(sub: Submission) -> dict:
    """Lateness, lock and today's figures of one submission, for its pages."""
    periods = selectors.periods_of_year(school_year_id=sub.period.school_year_id)
    facts = selectors.submission_facts(period=sub.period, submission=sub, periods_of_year=periods)
    now = selectors.counts_now(school_id=sub.school_id, items=[(sub.period, sub, facts)])
    return {"facts": facts, "counts_now": now.get(sub.period_id), "periods_of_year": periods}


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
    detail = _detail_facts(sub)
    people = {
        u.pk: u
        for u in User.objects.filter(pk__in=[sub.submitted_by_id, sub.decided_by_id])
        .select_related("person", "scope")
        .order_by()
    }
    return render(
        request,
        "exchange/submission_detail.html",
        {
            "sub": sub,
            "period": sub.period,
            "checks": _localise(sub.checks),
            "live_checks": _localise(live),
            "events": selectors.submission_events(submission=sub),
            "reminders": selectors.submission_reminders(submission=sub),
            "submitted_by": selectors.user_label(people.get(sub.submitted_by_id)),
            "decided_by": selectors.user_label(people.get(sub.decided_by_id)),
            "can_decide": role in actions.DECIDERS and sub.status == Status.SUBMITTED,
            "can_reopen": role in actions.REOPENERS and sub.status == Status.APPROVED,
            "late": detail["facts"].overdue,
            "live_reference": reference_date(sub.period),
            "today": timezone.localdate(),
            **detail,
        },
    )


DECISIONS = {
    "approve": (actions.DECIDERS, Status.SUBMITTED),
    "return": (actions.DECIDERS, Status.SUBMITTED),
    "reopen": (actions.REOPENERS, Status.APPROVED),
}


def _decision_confirmation(request, *, sub: Submission, action: str, reason: str):
    """What approving, returning or reopening would do (nothing is written)."""
    detail = _detail_facts(sub)
    after = selectors.submission_facts(
        period=sub.period,
        submission=Submission(status=Status.APPROVED),
        periods_of_year=detail["periods_of_year"],
    )
    return render(
        request,
        "exchange/submission_confirm.html",
        {
            "action": action,
            "sub": sub,
            "school": sub.school,
            "period": sub.period,
            "reason": reason,
            "after_approval": after,
            "post_url": reverse("submission_decide", args=[sub.pk, action]),
            "back": reverse("submission_detail", args=[sub.pk]),
            **detail,
        },
    )


@login_required
@require_POST
def submission_decide(request, submission_id: int, action: str):
    """Approve, return or reopen (the Department; reopen also the Ministry), after confirming."""
    if action not in DECISIONS:
        return HttpResponseBadRequest(_("Thao tác không hợp lệ."))
    try:
        sub = selectors.submission_get(viewer=request.user, submission_id=submission_id)
    except SubmissionError as exc:
        _refuse(exc)
    reason = request.POST.get("reason", "")
    try:
        if not _confirmed(request):
            # Refuse now what the action would refuse, so a confirmation is never a dead end.
            roles, needed = DECISIONS[action]
            actions._require(request.user, roles, what=action)
            if action != "approve":
                reason = actions.reason_clean(reason)
            if sub.status != needed:
                raise actions.transition_refused(
                    sub.pk, Status.APPROVED if action == "approve" else Status.RETURNED
                )
            return _decision_confirmation(request, sub=sub, action=action, reason=reason)
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


def _remind_back(request, period: ReportingPeriod) -> str:
    back = request.POST.get("next", "") or request.GET.get("next", "")
    if not back.startswith("/exchange/submissions/"):
        back = reverse("submission_overview") + f"?period={period.pk}"
    return back


@login_required
@require_http_methods(["GET", "POST"])
def submission_remind(request):
    """Remind one late school, or every late school of the period in scope after a confirmation
    page that says how many schools will be reminded and how many can be reached by e-mail."""
    period = _period_from(request)
    if period is None:
        return HttpResponseBadRequest(_("Kỳ báo cáo không hợp lệ."))
    back = _remind_back(request, period)
    code = request.POST.get("school", "")[:CODE_MAX_LENGTH]
    if request.method == "GET" or (not code and not _confirmed(request)):
        try:
            actions._require(request.user, actions.DECIDERS, what="remind")
            preview = selectors.remind_preview(viewer=request.user, period=period)
        except SubmissionError as exc:
            _refuse(exc)
        return render(
            request,
            "exchange/submission_remind_confirm.html",
            {
                "period": period,
                "preview": preview,
                "late_period": selectors.period_is_late(period),
                "back": back,
                "note": request.POST.get("note", "")[:NOTE_MAX_LENGTH],
                "note_max": NOTE_MAX_LENGTH,
            },
        )
    school_ids = None
    if code:
        school_ids = list(Organisation.objects.filter(code=code).values_list("id", flat=True))
    try:
        result = submissions_remind(
            actor=request.user,
            period=period,
            school_ids=school_ids,
            base_url=request.build_absolute_uri("/").rstrip("/"),
            note=request.POST.get("note", ""),
        )
    except SubmissionError as exc:
        if exc.kind in ("forbidden", "not_found"):
            _refuse(exc)
        messages.error(request, exc.message(), extra_tags="danger")
        return redirect(back)
    if result.reminded:
        messages.success(
            request,
            ngettext(
                "Đã nhắc nhở %(n)s trường: lời nhắc hiện trên trang báo cáo định kỳ của từng trường.",
                "Đã nhắc nhở %(n)s trường: lời nhắc hiện trên trang báo cáo định kỳ của từng trường.",
                len(result.reminded),
            )
            % {"n": len(result.reminded)},
        )
        if result.email_error:
            messages.warning(
                request,
                _(
                    "Không gửi được e-mail (máy chủ thư báo lỗi); các trường vẫn thấy lời nhắc "
                    "trên hệ thống."
                ),
            )
        elif result.recipients:
            sent = result.recipients if result.emails_sent is None else result.emails_sent
            messages.info(
                request,
                ngettext(
                    "Đã gửi %(e)s e-mail tới %(s)s trường có địa chỉ e-mail.",
                    "Đã gửi %(e)s e-mail tới %(s)s trường có địa chỉ e-mail.",
                    result.emailed_schools,
                )
                % {"e": sent, "s": result.emailed_schools},
            )
        no_email = len(result.reminded) - result.emailed_schools
        if no_email:
            messages.info(
                request,
                ngettext(
                    "%(n)s trường chưa có người dùng nào khai báo e-mail nên không nhận được "
                    "e-mail, chỉ thấy lời nhắc trên hệ thống.",
                    "%(n)s trường chưa có người dùng nào khai báo e-mail nên không nhận được "
                    "e-mail, chỉ thấy lời nhắc trên hệ thống.",
                    no_email,
                )
                % {"n": no_email},
            )
    if result.already_today:
        messages.info(
            request,
            ngettext(
                "%(n)s trường đã được nhắc hôm nay; mỗi trường chỉ được nhắc một lần mỗi ngày.",
                "%(n)s trường đã được nhắc hôm nay; mỗi trường chỉ được nhắc một lần mỗi ngày.",
                len(result.already_today),
            )
            % {"n": len(result.already_today)},
        )
    if not result.reminded and not result.already_today:
        messages.info(request, _("Không có trường nào nộp muộn để nhắc."))
    return redirect(back)
