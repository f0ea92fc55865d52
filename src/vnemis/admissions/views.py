"""Pages of the admission round: the Ministry's round and runs, institutions' programmes and
admitted lists, a candidate's wishes, fee, placement and confirmation.

Views translate HTTP to selectors (reads, scope, audit) and actions (writes, rights); an
``AdmissionError`` becomes a message in the user's language, nothing half-applied.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from vnemis.exams import selectors as exam_selectors
from vnemis.exams.models import Candidate
from vnemis.stats.table_xlsx import table_xlsx

from . import selectors
from .access import candidate_of, institutions_managed, is_ministry, programme_manage_ensure
from .catalogue import METHODS
from .errors import AdmissionError
from .forms import ProfileForm, ProgrammeForm, ProgrammesFileForm, RoundForm
from .models import AdmissionProfile
from .runs import run_publish, run_request
from .setup import ProgrammeSpec, programme_save, programmes_import, round_create, round_update
from .wishes import (
    enrolment_confirm,
    fee_due,
    fee_order_start,
    wish_list_codes,
    wish_move,
    wishes_set,
)

MAX_PROGRAMMES_FILE = 20 * 1024 * 1024


def _ministry_ensure(user) -> None:
    if not is_ministry(user):
        raise PermissionDenied(_("Chỉ Bộ GD&ĐT được thực hiện thao tác này."))


def _staff(user) -> bool:
    return is_ministry(user) or institutions_managed(user).exists()


@login_required
@require_GET
def admissions_home(request):
    """The rounds; a candidate goes straight to their wishes in the latest round."""
    rounds = list(selectors.rounds_all()[:10])
    if request.user.role == "citizen":
        for round_ in rounds:
            if candidate_of(request.user, round_) is not None:
                return redirect("admissions:wishes", year=round_.year)
    return render(
        request,
        "admissions/home.html",
        {"rounds": rounds, "ministry": is_ministry(request.user), "staff": _staff(request.user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def round_new(request):
    _ministry_ensure(request.user)
    from django.conf import settings

    form = RoundForm(
        request.POST or None, initial={"fee_per_wish": settings.VNEMIS_ADMISSION_FEE_PER_WISH}
    )
    if request.method == "POST" and form.is_valid():
        try:
            round_ = round_create(actor=request.user, **form.cleaned_data)
        except AdmissionError as error:
            form.add_error(None, error.message())
        else:
            messages.success(request, _("Đã tạo đợt xét tuyển."))
            return redirect("admissions:round", year=round_.year)
    return render(request, "admissions/round_form.html", {"form": form, "creating": True})


@login_required
@require_http_methods(["GET", "POST"])
def round_settings(request, year: int):
    _ministry_ensure(request.user)
    round_ = selectors.round_get(year=year)
    fields = ("name", "wishes_open_at", "wishes_close_at", "fee_per_wish", "confirm_by")
    form = RoundForm(
        request.POST or None,
        fixed_year=True,
        initial={f: getattr(round_, f) for f in fields},
    )
    if request.method == "POST" and form.is_valid():
        try:
            round_update(actor=request.user, round_=round_, **form.cleaned_data)
        except AdmissionError as error:
            form.add_error(None, error.message())
        else:
            messages.success(request, _("Đã lưu."))
            return redirect("admissions:round", year=year)
    return render(request, "admissions/round_form.html", {"form": form, "round": round_})


@login_required
@require_GET
def round_detail(request, year: int):
    if not _staff(request.user):
        raise PermissionDenied(_("Trang này dành cho Bộ GD&ĐT và các cơ sở đào tạo."))
    round_ = selectors.round_get(year=year)
    ministry = is_ministry(request.user)
    return render(
        request,
        "admissions/round.html",
        {
            "round": round_,
            "ministry": ministry,
            "figures": selectors.round_figures(round_) if ministry else None,
            "runs": list(selectors.runs_of(round_)[:30]) if ministry else [],
            "file_form": ProgrammesFileForm(),
            "stale": ministry and _stale(round_),
        },
    )


def _stale(round_) -> bool:
    last = round_.runs.filter(status="done").order_by("-number").first()
    changed = round_.inputs_changed_at
    return last is not None and changed is not None and changed > last.started_at


@login_required
@require_POST
def programmes_upload(request, year: int):
    _ministry_ensure(request.user)
    round_ = selectors.round_get(year=year)
    form = ProgrammesFileForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Hãy chọn một tệp CSV."))
        return redirect("admissions:round", year=year)
    upload = form.cleaned_data["file"]
    if upload.size > MAX_PROGRAMMES_FILE:
        messages.error(request, _("Tệp quá lớn (tối đa 20 MB)."))
        return redirect("admissions:round", year=year)
    try:
        text = upload.read().decode("utf-8")
    except UnicodeDecodeError:
        messages.error(request, _("Tệp phải là CSV mã hoá UTF-8."))
        return redirect("admissions:round", year=year)
    try:
        done = programmes_import(actor=request.user, round_=round_, text=text)
    except AdmissionError as error:
        messages.error(request, error.message())
    else:
        messages.success(
            request,
            _("Đã nạp %(p)s ngành của %(i)s cơ sở đào tạo.")
            % {"p": done["programmes"], "i": done["institutions"]},
        )
    return redirect("admissions:round", year=year)


@login_required
@require_POST
def run_start(request, year: int):
    _ministry_ensure(request.user)
    round_ = selectors.round_get(year=year)
    try:
        run = run_request(round_=round_, actor=request.user, note=request.POST.get("note", ""))
    except AdmissionError as error:
        messages.error(request, error.message())
    else:
        messages.success(
            request, _("Đã xếp lượt lọc ảo số %(n)s vào hàng đợi.") % {"n": run.number}
        )
    return redirect("admissions:round", year=year)


@login_required
@require_GET
def run_detail(request, year: int, number: int):
    round_ = selectors.round_get(year=year)
    if not _staff(request.user):
        raise PermissionDenied(_("Trang này dành cho Bộ GD&ĐT và các cơ sở đào tạo."))
    run = selectors.run_get(round_=round_, number=number)
    if not is_ministry(request.user) and run.pk != round_.published_run_id:
        raise Http404
    scope = (
        None
        if is_ministry(request.user)
        else selectors.programmes_of_viewer(viewer=request.user, round_=round_)
    )
    return render(
        request,
        "admissions/run.html",
        {
            "round": round_,
            "run": run,
            "cutoffs": selectors.cutoffs_of(run, programmes=scope),
            "ministry": is_ministry(request.user),
        },
    )


@login_required
@require_POST
def run_publish_view(request, year: int, number: int):
    _ministry_ensure(request.user)
    round_ = selectors.round_get(year=year)
    run = selectors.run_get(round_=round_, number=number)
    try:
        run_publish(run=run, actor=request.user)
    except AdmissionError as error:
        messages.error(request, error.message())
    else:
        messages.success(request, _("Đã công bố kết quả lượt lọc ảo số %(n)s.") % {"n": run.number})
    return redirect("admissions:round", year=year)


# --- programmes ---------------------------------------------------------------------------


@login_required
@require_GET
def programme_list(request, year: int):
    round_ = selectors.round_get(year=year)
    query = request.GET.get("q", "")[:100]
    mine = not is_ministry(request.user) and institutions_managed(request.user).exists()
    programmes = (
        selectors.programmes_of_viewer(viewer=request.user, round_=round_)
        if mine
        else selectors.programmes_visible(viewer=request.user, round_=round_, query=query)
    )
    cutoffs = {}
    if round_.published_run_id:
        cutoffs = {c.programme_id: c for c in selectors.cutoffs_of(round_.published_run)}
    page = list(programmes[:500])
    for programme in page:
        programme.cutoff = cutoffs.get(programme.pk)
    return render(
        request,
        "admissions/programme_list.html",
        {
            "round": round_,
            "programmes": page,
            "truncated": len(page) == 500,
            "query": query,
            "mine": mine,
            "institutions": list(institutions_managed(request.user))
            if _staff(request.user)
            else [],
            "methods": METHODS,
        },
    )


def _programme_initial(programme) -> dict:
    quotas = {q.method: q.quota for q in programme.quotas.all()}
    weights = {}
    for pc in programme.combinations.all():
        weights.update(pc.weights)
    return {
        "code": programme.code,
        "name": programme.name,
        "combinations": [pc.combination.code for pc in programme.combinations.all()],
        "weights": "; ".join(f"{s}={w}" for s, w in sorted(weights.items())),
        "threshold": Decimal(programme.threshold) / 100,
        "ties": programme.ties,
        **{f"quota_{m}": quotas.get(m, 0) for m in METHODS},
    }


@login_required
@require_http_methods(["GET", "POST"])
def programme_edit(request, year: int, code: str | None = None):
    round_ = selectors.round_get(year=year)
    programme = selectors.programme_get(round_=round_, code=code) if code else None
    managed = institutions_managed(request.user)
    if programme is not None:
        try:
            programme_manage_ensure(request.user, programme)
        except AdmissionError as error:
            raise PermissionDenied(error.message()) from None
        institution = programme.institution
    else:
        if not managed.exists():
            raise PermissionDenied(_("Bạn không quản lý cơ sở đào tạo nào."))
        chosen = (request.POST.get("institution") or request.GET.get("institution") or "").upper()
        institution = managed.filter(code=chosen).first() if chosen else None
        if institution is None and managed.count() == 1:
            institution = managed.first()
    form = ProgrammeForm(
        request.POST or None,
        initial=_programme_initial(programme) if programme else {"ties": "all", "threshold": 15},
    )
    if programme is not None:
        form.fields["code"].disabled = True
    if request.method == "POST" and institution is None:
        form.add_error(None, _("Hãy chọn cơ sở đào tạo của ngành."))
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        spec = ProgrammeSpec(
            code=(programme.code if programme else data["code"]).strip().upper(),
            name=data["name"],
            quotas={m: data[f"quota_{m}"] for m in METHODS if data.get(f"quota_{m}")}
            | {"exam": data["quota_exam"]},
            combinations=[c.code for c in data["combinations"]],
            weights=data["weights"],
            threshold=int(data["threshold"] * 100),
            ties=data["ties"],
        )
        try:
            saved = programme_save(
                actor=request.user, round_=round_, institution=institution, spec=spec
            )
        except AdmissionError as error:
            form.add_error(None, error.message())
        else:
            messages.success(request, _("Đã lưu ngành %(code)s.") % {"code": saved.code})
            return redirect("admissions:programmes", year=year)
    return render(
        request,
        "admissions/programme_form.html",
        {"round": round_, "form": form, "programme": programme, "institution": institution,
         "institutions": list(managed[:200])},
    )  # fmt: skip


ADMITTED_HEADER = (
    "Số báo danh",
    "Họ và tên",
    "Ngày sinh",
    "Điểm xét tuyển",
    "Thứ tự nguyện vọng",
    "Đã xác nhận nhập học",
)


def _admitted_rows(rows):
    for r in rows:
        yield [
            r["candidate_number"], r["full_name"], r["birth_date"].strftime("%d/%m/%Y") if r["birth_date"] else "",
            f"{r['score'] / 100:.2f}" if r["score"] is not None else "", r["rank"], "x" if r["confirmed"] else "",
        ]  # fmt: skip


@login_required
@require_GET
def programme_admitted(request, year: int, code: str, fmt: str):
    """An institution's admitted list of the published run, as CSV or XLSX."""
    if fmt not in ("csv", "xlsx"):
        raise Http404
    round_ = selectors.round_get(year=year)
    programme = selectors.programme_get(round_=round_, code=code)
    rows = selectors.admitted_list(viewer=request.user, round_=round_, programme=programme)
    name = f"trung-tuyen-{programme.code}-{year}"
    if fmt == "xlsx":
        body = table_xlsx(
            list(ADMITTED_HEADER), _admitted_rows(rows),
            [(_("Ngành"), f"{programme.code} {programme.name}"), (_("Lượt lọc ảo"), round_.published_run.number if round_.published_run else "—")],
        )  # fmt: skip
        response = HttpResponse(
            body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        return response
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ADMITTED_HEADER)
    writer.writerows(_admitted_rows(rows))
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


# --- candidate --------------------------------------------------------------------------------


def _candidate_ensure(request, round_):
    candidate = candidate_of(request.user, round_)
    if candidate is None:
        raise PermissionDenied(
            _("Tài khoản của bạn không gắn với thí sinh nào của kỳ thi năm %(y)s.")
            % {"y": round_.year}
        )
    return candidate


@login_required
@require_http_methods(["GET", "POST"])
def wishes_page(request, year: int):
    round_ = selectors.round_get(year=year)
    candidate = _candidate_ensure(request, round_)
    if request.method == "POST":
        return _wishes_post(request, round_, candidate)
    query = request.GET.get("q", "")[:100].strip()
    listed, paid, due = fee_due(round_, candidate)
    now = timezone.now()
    from .wishes import placement_published

    return render(
        request,
        "admissions/wishes.html",
        {
            "round": round_,
            "candidate": candidate,
            "rows": selectors.wish_rows(round_, candidate),
            "listed": listed, "paid": paid, "due": due,
            "open": round_.wishes_open_at <= now < round_.wishes_close_at,
            "query": query,
            "found": list(selectors.programmes_visible(viewer=request.user, round_=round_, query=query)[:20]) if query else [],
            "placement": placement_published(round_, candidate),
            "confirmation": _confirmation(round_, candidate),
            "can_confirm": round_.confirm_by is None or now < round_.confirm_by,
        },
    )  # fmt: skip


def _confirmation(round_, candidate):
    from .models import Confirmation

    return (
        Confirmation.objects.filter(round=round_, candidate=candidate)
        .select_related("programme")
        .first()
    )


def _wishes_post(request, round_, candidate):
    action = request.POST.get("action", "")
    code = request.POST.get("code", "").strip().upper()
    here = reverse("admissions:wishes", kwargs={"year": round_.year})
    try:
        if action == "add":
            if not code:
                raise AdmissionError(
                    "no_code", "Hãy nhập mã xét tuyển của ngành.", "Enter the programme's code."
                )
            wishes_set(
                actor=request.user,
                round_=round_,
                candidate=candidate,
                codes=[*wish_list_codes(round_, candidate), code],
            )
            messages.success(request, _("Đã thêm nguyện vọng %(code)s.") % {"code": code})
        elif action == "remove":
            codes = [c for c in wish_list_codes(round_, candidate) if c != code]
            wishes_set(actor=request.user, round_=round_, candidate=candidate, codes=codes)
            messages.success(request, _("Đã xoá nguyện vọng %(code)s.") % {"code": code})
        elif action in ("up", "down"):
            wish_move(
                actor=request.user,
                round_=round_,
                candidate=candidate,
                code=code,
                step=-1 if action == "up" else 1,
            )
        elif action == "pay":
            order = fee_order_start(actor=request.user, round_=round_, candidate=candidate)
            return redirect("payments_pay", txn_ref=order.txn_ref)
        elif action == "confirm":
            enrolment_confirm(actor=request.user, round_=round_, candidate=candidate)
            messages.success(request, _("Đã xác nhận nhập học."))
        else:
            raise AdmissionError("bad_action", "Thao tác không hợp lệ.", "Unknown action.")
    except AdmissionError as error:
        messages.error(request, error.message())
    except Exception as error:  # a payment refusal (PaymentError) is shown the same way
        from vnemis.payments.errors import PaymentError

        if not isinstance(error, PaymentError):
            raise
        messages.error(request, error.message())
    return redirect(here)  # fmt: skip


# --- admission profile (schools, Departments) -----------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def profile_page(request, year: int):
    """Region, priority group and bonus of one candidate, found by candidate number."""
    round_ = selectors.round_get(year=year)
    if (
        request.user.role not in ("school", "department", "ministry")
        and not request.user.is_superuser
    ):
        raise PermissionDenied(_("Trang này dành cho nhà trường, Sở và Bộ GD&ĐT."))
    number = (request.POST.get("number") or request.GET.get("number") or "").strip()
    candidate = None
    if number:
        found = (
            Candidate.objects.filter(session_id=round_.exam_session_id, candidate_number=number)
            .values_list("pk", flat=True)
            .first()
        )
        if found is not None:
            try:
                candidate = exam_selectors.candidate_get(
                    viewer=request.user, session=round_.exam_session, candidate_id=found
                )
            except PermissionDenied:
                candidate = None
        if candidate is None:
            messages.error(
                request, _("Không tìm thấy thí sinh số báo danh này trong phạm vi của bạn.")
            )
    profile = AdmissionProfile.objects.filter(candidate=candidate).first() if candidate else None
    initial = {"region": profile.region, "priority_group": profile.priority_group, "bonus": Decimal(profile.bonus) / 100,
               "evidence": profile.evidence} if profile else {"region": "KV3"}  # fmt: skip
    form = ProfileForm(
        request.POST if request.method == "POST" and candidate else None, initial=initial
    )
    if request.method == "POST" and candidate and form.is_valid():
        from .wishes import profile_set

        data = form.cleaned_data
        try:
            profile_set(actor=request.user, candidate=candidate, region=data["region"],
                        priority_group=data["priority_group"] or "", bonus=int(data["bonus"] * 100),
                        evidence=data["evidence"])  # fmt: skip
        except (AdmissionError, PermissionDenied) as error:
            form.add_error(
                None, error.message() if isinstance(error, AdmissionError) else str(error)
            )
        else:
            messages.success(request, _("Đã lưu thông tin ưu tiên xét tuyển."))
            return redirect(
                f"{reverse('admissions:profile', kwargs={'year': year})}?number={number}"
            )
    return render(
        request,
        "admissions/profile.html",
        {"round": round_, "candidate": candidate, "form": form, "number": number},
    )
