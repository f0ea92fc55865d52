"""Pages of identity: what a school must fix, corrections that re-verify at once, the KPI, runs."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from vnemis.orgs.models import Organisation, User
from vnemis.registry import actions as registry_actions
from vnemis.registry.models import Sex
from vnemis.registry.selectors import organisation_get, person_get

from . import selectors
from .actions import verification_start
from .explain import explanation_rows
from .merge import merge_undo
from .models import ReviewItem
from .registry_client import RegistryError
from .review import review_decide
from .verification import verify_person_now

RESULT_MESSAGES = {
    "verified": gettext_lazy("Đã xác thực: thông tin khớp với CSDL quốc gia về dân cư."),
    "mismatch": gettext_lazy("Vẫn chưa khớp với CSDL dân cư: %(fields)s."),
    "not_found": gettext_lazy("Số định danh không có trong CSDL dân cư."),
    "no_id": gettext_lazy("Chưa có số định danh cá nhân 12 số nên chưa xác thực được."),
}


@login_required
@require_GET
def identity_home(request):
    user = request.user
    if user.role == User.Role.SCHOOL and user.scope_id:
        return redirect("identity_school", code=user.scope.code)
    return redirect("identity_rates")


@login_required
@require_GET
def school_fix(request, code: str):
    """The school's pupils whose identity did not check out, with what to check."""
    after = request.GET.get("after", "")
    school, pupils, next_after = selectors.pupils_to_fix(
        viewer=request.user, code=code, after=int(after) if after.isdigit() else 0
    )
    rates = selectors.rates_overview(viewer=request.user, code=code)[1]
    return render(
        request,
        "identity/school_fix.html",
        {"school": school, "pupils": pupils, "next_after": next_after, "rate": rates},
    )


class CorrectionForm(forms.Form):
    full_name = forms.CharField(label=gettext_lazy("Họ và tên"), max_length=150)
    birth_date = forms.DateField(
        label=gettext_lazy("Ngày sinh"),
        input_formats=["%d/%m/%Y", "%Y-%m-%d"],
        widget=forms.DateInput(format="%d/%m/%Y", attrs={"placeholder": "dd/mm/yyyy"}),
        error_messages={"invalid": gettext_lazy("Ngày sinh phải theo dạng ngày/tháng/năm.")},
    )
    sex = forms.ChoiceField(label=gettext_lazy("Giới tính"), choices=Sex.choices)
    citizen_id = forms.RegexField(
        label=gettext_lazy("Số định danh cá nhân mới (để trống nếu không đổi)"),
        regex=r"^\d{12}$",
        required=False,
        error_messages={"invalid": gettext_lazy("Số định danh cá nhân phải gồm đúng 12 chữ số.")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


@login_required
@require_http_methods(["GET", "POST"])
def person_correct(request, person_id: int):
    """Correct a pupil's identifying fields; the registry is asked again straight away."""
    person = person_get(viewer=request.user, person_id=person_id)
    form = CorrectionForm(
        request.POST or None,
        initial={"full_name": person.full_name, "birth_date": person.birth_date, "sex": person.sex},
    )
    if request.method == "POST" and form.is_valid():
        changes = {k: form.cleaned_data[k] for k in ("full_name", "birth_date", "sex")}
        if form.cleaned_data["citizen_id"]:
            changes["citizen_id"] = form.cleaned_data["citizen_id"]
        try:
            person = registry_actions.person_update(actor=request.user, person=person, **changes)
        except ValidationError as exc:
            for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            _reverify_and_tell(request, person)
            return redirect(_back_to(request))
    return render(
        request,
        "identity/person_correct.html",
        {"person": person, "form": form, "back": _back_to(request)},
    )


@login_required
@require_POST
def person_reverify(request, person_id: int):
    person = person_get(viewer=request.user, person_id=person_id)
    if request.user.role not in (User.Role.SCHOOL, User.Role.DEPARTMENT, User.Role.MINISTRY):
        raise PermissionDenied(_("Bạn không có quyền xác thực hồ sơ này."))
    _reverify_and_tell(request, person)
    return redirect(_back_to(request))


def _reverify_and_tell(request, person) -> None:
    try:
        outcome = verify_person_now(person)
    except RegistryError:
        messages.warning(
            request,
            _(
                "Đã lưu. CSDL dân cư chưa phản hồi; hồ sơ sẽ được xác thực trong lượt xác thực "
                "tiếp theo."
            ),
        )
        return
    text = RESULT_MESSAGES[outcome.status] % {
        "fields": ", ".join(str(selectors.FIELD_LABELS[f]) for f in outcome.mismatched)
    }
    level = messages.SUCCESS if outcome.status == "verified" else messages.WARNING
    messages.add_message(request, level, f"{person.full_name}: {text}")


def _back_to(request) -> str:
    back = request.POST.get("next") or request.GET.get("next") or ""
    if back.startswith("/identity/") and "//" not in back:
        return back
    return reverse("identity_home")


@login_required
@require_GET
def rates(request, code: str | None = None):
    """Verification rates by province (Ministry) or school (Department), and the trend."""
    managers = (User.Role.DEPARTMENT, User.Role.MINISTRY, User.Role.SCHOOL)
    if request.user.role not in managers and not request.user.is_superuser:
        raise PermissionDenied(_("Trang này dành cho cán bộ quản lý."))
    org, own, rows, trend = selectors.rates_overview(viewer=request.user, code=code)
    chart = {
        "labels": [t["day"].strftime("%d/%m/%Y") for t in trend],
        "values": [
            round(100 * t["verified"] / t["persons"], 2) if t["persons"] else 0 for t in trend
        ],
    }
    return render(
        request,
        "identity/rates.html",
        {
            "org": org,
            "own": own,
            "rows": rows,
            "chart": chart,
            "children_are_schools": org.kind == Organisation.Kind.DEPARTMENT,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def runs(request):
    """Verification runs of the viewer's scope; a POST starts one over their scope."""
    user = request.user
    managers = (User.Role.SCHOOL, User.Role.DEPARTMENT, User.Role.MINISTRY)
    if user.role not in managers and not user.is_superuser:
        raise PermissionDenied(_("Trang này dành cho cán bộ quản lý."))
    if request.method == "POST":
        scope = organisation_get(viewer=user, code=request.POST.get("scope", ""))
        try:
            run = verification_start(actor=user, scope=scope)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("Đã bắt đầu lượt xác thực số %(id)s cho %(name)s.")
                % {"id": run.pk, "name": scope.name},
            )
        return redirect("identity_runs")
    return render(
        request,
        "identity/runs.html",
        {"runs": selectors.runs_visible(viewer=user), "scope": user.scope},
    )


# --- clerical review ----------------------------------------------------------------------------


@login_required
@require_GET
def review_list(request, kind: str):
    if kind not in ReviewItem.Kind.values:
        raise Http404
    items = list(selectors.review_items_visible(viewer=request.user, kind=kind)[:100])
    return render(
        request,
        "identity/review_list.html",
        {"items": items, "kind": kind, "kind_label": ReviewItem.Kind(kind).label},
    )


@login_required
@require_http_methods(["GET", "POST"])
def review_detail(request, item_id: int):
    """One pair side by side, with the weight of each field; accept or reject."""
    item = selectors.review_item_get(viewer=request.user, item_id=item_id)
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision not in ("accept", "reject"):
            messages.error(request, _("Hãy chọn chấp nhận hoặc từ chối."))
        else:
            survivor = request.POST.get("survivor", "")
            try:
                review_decide(
                    actor=request.user,
                    item=item,
                    accept=decision == "accept",
                    note=request.POST.get("note", ""),
                    survivor_id=int(survivor) if survivor.isdigit() else None,
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, _("Đã ghi nhận quyết định."))
                return redirect("identity_review", kind=item.kind)
    return render(
        request,
        "identity/review_detail.html",
        {
            "item": item,
            "cmp": selectors.review_comparison(item),
            "explanation": explanation_rows(item.explanation),
            "survivors": [p for p in (item.person, item.other_person) if p is not None],
        },
    )


@login_required
@require_POST
def merge_undo_view(request, merge_id: int):
    merge = selectors.merge_get(viewer=request.user, merge_id=merge_id)
    try:
        merge_undo(actor=request.user, merge=merge)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Đã hoàn tác việc hợp nhất."))
    return redirect("identity_merges")


@login_required
@require_GET
def merges(request):
    return render(
        request, "identity/merges.html", {"merges": selectors.merges_visible(viewer=request.user)}
    )


@login_required
@require_GET
def person_identity(request, person_id: int):
    """A person's verification status and its history."""
    person = person_get(viewer=request.user, person_id=person_id)
    current, history = selectors.verification_history(person)
    return render(
        request,
        "identity/person_identity.html",
        {"person": person, "current": current, "history": history},
    )


@login_required
@require_POST
def review_scan(request, kind: str):
    """A Department asks for its province's candidate pairs to be found (a background job)."""
    user = request.user
    scope = user.scope
    if user.role != User.Role.DEPARTMENT or scope is None or scope.province_id is None:
        raise PermissionDenied(_("Chỉ Sở GD&ĐT tìm cặp hồ sơ cho tỉnh, thành phố của mình."))
    if kind not in ReviewItem.Kind.values:
        raise Http404
    from .tasks import linkage_execute

    engine_kind = "dedupe" if kind == ReviewItem.Kind.DUPLICATE else "link"
    linkage_execute.enqueue(scope.province.code, engine_kind)
    messages.success(
        request,
        _("Đã bắt đầu tìm cặp hồ sơ; danh sách sẽ cập nhật khi xong."),
    )
    return redirect("identity_review", kind=kind)
