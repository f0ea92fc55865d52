"""Reads of identity data, scoped to the viewer; lists of persons are audited like the registry's."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vnemis.core.audit import audit_record
from vnemis.orgs.models import Organisation, User
from vnemis.registry.models import ACTIVE_STATUSES, Enrolment
from vnemis.registry.selectors import organisation_get, school_year_current

from .models import ReviewItem, VerificationRate, VerificationRun, VerificationStatus

Status = VerificationStatus
TO_FIX = (Status.MISMATCH, Status.NOT_FOUND, Status.NO_ID)

# What the school should check for each outcome (shown beside each pupil).
ADVICE = {
    "citizen_id": gettext_lazy(
        "Số định danh cá nhân khác với CSDL dân cư: đối chiếu với giấy khai sinh hoặc thẻ căn cước."
    ),
    "full_name": gettext_lazy(
        "Họ tên khác với CSDL dân cư: kiểm tra dấu, chính tả và thứ tự tên đệm theo giấy khai sinh."
    ),
    "birth_date": gettext_lazy(
        "Ngày sinh khác với CSDL dân cư: kiểm tra ngày và tháng có bị đảo không."
    ),
    "sex": gettext_lazy("Giới tính khác với CSDL dân cư."),
    Status.NOT_FOUND: gettext_lazy(
        "Số định danh không có trong CSDL dân cư: kiểm tra từng chữ số, có thể nhập nhầm."
    ),
    Status.NO_ID: gettext_lazy(
        "Chưa có số định danh cá nhân 12 số: bổ sung theo giấy khai sinh hoặc thẻ căn cước."
    ),
}
FIELD_LABELS = {
    "citizen_id": gettext_lazy("Số định danh"),
    "full_name": gettext_lazy("Họ tên"),
    "birth_date": gettext_lazy("Ngày sinh"),
    "sex": gettext_lazy("Giới tính"),
}


@dataclass(frozen=True)
class PupilToFix:
    person_id: int
    full_name: str
    birth_date: object
    sex: str
    class_name: str
    status: str
    status_label: str
    mismatched: list[str]
    advice: list[str]


def _school_in_scope(viewer: User, code: str) -> Organisation:
    school = organisation_get(viewer=viewer, code=code)
    if school.kind not in Organisation.SCHOOL_KINDS:
        raise PermissionDenied(_("Đơn vị này không phải là trường."))
    return school


def pupils_to_fix(
    *, viewer: User, code: str, after: int = 0, limit: int = 50
) -> tuple[Organisation, list[PupilToFix], int | None]:
    """This year's pupils of a school whose identity did not check out, in id order (keyset)."""
    school = _school_in_scope(viewer, code)
    year = school_year_current()
    rows = list(
        Enrolment.objects.filter(
            school=school,
            school_year=year,
            status__in=ACTIVE_STATUSES,
            pupil__verification__status__in=TO_FIX,
            pupil_id__gt=after,
        )
        .order_by("pupil_id")
        .values_list(
            "pupil_id",
            "pupil__full_name",
            "pupil__birth_date",
            "pupil__sex",
            "school_class__name",
            "pupil__verification__status",
            "pupil__verification__mismatched",
        )[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    labels = dict(Status.choices)
    pupils = [
        PupilToFix(
            person_id=pid,
            full_name=name,
            birth_date=born,
            sex=sex,
            class_name=class_name,
            status=status,
            status_label=str(labels[status]),
            mismatched=[str(FIELD_LABELS.get(f, f)) for f in mismatched or []],
            advice=[str(ADVICE[f]) for f in (mismatched or [status]) if f in ADVICE],
        )
        for pid, name, born, sex, class_name, status, mismatched in rows
    ]
    if pupils:
        audit_record(
            actor=viewer,
            action="read",
            object_type="person_list",
            detail={"list": "identity_to_fix", "ids": [p.person_id for p in pupils]},
        )
    return school, pupils, (pupils[-1].person_id if more else None)


@dataclass(frozen=True)
class RateRow:
    organisation: Organisation
    rate: VerificationRate | None


def rates_overview(*, viewer: User, code: str | None = None):
    """An organisation's latest rates, its children's (provinces or schools) and its trend."""
    if code is None:
        org = viewer.scope if viewer.scope_id else Organisation.objects.get(parent__isnull=True)
    else:
        org = organisation_get(viewer=viewer, code=code)
    latest = VerificationRate.objects.filter(organisation=org).aggregate(day=Max("day"))["day"]
    children = list(Organisation.objects.filter(parent=org).order_by("code"))
    by_org = {
        r.organisation_id: r
        for r in VerificationRate.objects.filter(day=latest, organisation__in=children)
    }
    own = VerificationRate.objects.filter(organisation=org, day=latest).first()
    trend = list(
        VerificationRate.objects.filter(organisation=org)
        .order_by("-day")
        .values("day", "persons", "verified")[:90]
    )[::-1]
    rows = [RateRow(c, by_org.get(c.pk)) for c in children]
    rows.sort(key=lambda r: (r.rate is None, r.rate.share_verified if r.rate else 0))
    return org, own, rows, trend


def runs_visible(*, viewer: User, limit: int = 20):
    runs = VerificationRun.objects.select_related("scope", "job").order_by("-created_at")
    if viewer.scope_id and not viewer.is_superuser:
        from vnemis.orgs.scope import org_ids_in_scope

        runs = runs.filter(scope_id__in=org_ids_in_scope(viewer))
    return list(runs[:limit])


def review_items_visible(
    *, viewer: User, kind: str, status: str | None = ReviewItem.Status.PENDING
):
    """Review items of the viewer's provinces (a Department sees its own, the Ministry all)."""
    items = ReviewItem.objects.filter(kind=kind).select_related(
        "person__birth_province", "other_person__birth_province"
    )
    if status is not None:
        items = items.filter(status=status)
    if viewer.is_superuser and not viewer.scope_id:
        return items
    if viewer.role == User.Role.MINISTRY:
        return items
    if viewer.role == User.Role.DEPARTMENT and viewer.scope and viewer.scope.province_id:
        return items.filter(province_code=viewer.scope.province.code)
    raise PermissionDenied(_("Chỉ cán bộ Sở và Bộ được xem danh sách cần đối chiếu."))


def review_item_get(*, viewer: User, item_id: int) -> ReviewItem:
    item = None
    for kind in ReviewItem.Kind.values:
        items = review_items_visible(viewer=viewer, kind=kind, status=None)
        item = item or items.filter(pk=item_id).first()
    if item is None:
        raise PermissionDenied(_("Cặp hồ sơ không tồn tại hoặc nằm ngoài phạm vi của bạn."))
    audit_record(
        actor=viewer,
        action="read",
        object_type="review_item",
        object_id=item.pk,
        detail={"ids": [i for i in (item.person_id, item.other_person_id) if i]},
    )
    return item


SIDE_FIELDS = (
    ("full_name", gettext_lazy("Họ và tên")),
    ("birth_date", gettext_lazy("Ngày sinh")),
    ("sex", gettext_lazy("Giới tính")),
    ("birth_province", gettext_lazy("Nơi sinh")),
    ("father_name", gettext_lazy("Họ tên cha")),
    ("mother_name", gettext_lazy("Họ tên mẹ")),
    ("education_id", gettext_lazy("Mã định danh giáo dục")),
)


@dataclass(frozen=True)
class Comparison:
    left_title: str
    right_title: str
    left_person_id: int
    right_person_id: int | None
    rows: list[tuple[str, str, str, bool]]  # label, left value, right value, equal


def _side_of(person) -> dict:
    return {
        "full_name": person.full_name,
        "birth_date": person.birth_date.strftime("%d/%m/%Y"),
        "sex": person.get_sex_display(),
        "birth_province": person.birth_province.name if person.birth_province_id else "",
        "education_id": person.education_id,
    }


def review_comparison(item: ReviewItem) -> Comparison:
    """The two records field by field (the registry's side as its extract gave it)."""
    left = _side_of(item.person)
    if item.kind == ReviewItem.Kind.DUPLICATE and item.other_person_id:
        right_title, right = _("Hồ sơ trùng"), _side_of(item.other_person)
    else:
        right_title, right = _("CSDL quốc gia về dân cư"), dict(item.candidate)
    rows = []
    for key, label in SIDE_FIELDS:
        a, b = str(left.get(key) or ""), str(right.get(key) or "")
        if a or b:
            rows.append((str(label), a or "—", b or "—", a == b))
    return Comparison(
        _("Hồ sơ ngành giáo dục"),
        right_title,
        item.person_id,
        item.other_person_id if item.kind == ReviewItem.Kind.DUPLICATE else None,
        rows,
    )


def merges_visible(*, viewer: User, limit: int = 100):
    from .models import Merge

    merges = Merge.objects.select_related("survivor", "merged_by", "undone_by")
    if (viewer.is_superuser and not viewer.scope_id) or viewer.role == User.Role.MINISTRY:
        return list(merges[:limit])
    if viewer.role == User.Role.DEPARTMENT and viewer.scope and viewer.scope.province_id:
        return list(merges.filter(survivor__province_code=viewer.scope.province.code)[:limit])
    raise PermissionDenied(_("Chỉ cán bộ Sở và Bộ được xem các lần hợp nhất."))


def merge_get(*, viewer: User, merge_id: int):
    from .models import Merge

    merges_visible(viewer=viewer, limit=0)  # refuses roles without access
    merge = Merge.objects.filter(pk=merge_id).first()
    if merge is not None and (
        viewer.role != User.Role.DEPARTMENT
        or merge.survivor.province_code == viewer.scope.province.code
    ):
        return merge
    raise PermissionDenied(_("Không tìm thấy lần hợp nhất này trong phạm vi của bạn."))


def verification_history(person):
    """The current outcome (or None) and the last 100 outcomes, newest first, with labels."""
    from .models import Verification, VerificationEvent, VerificationMethod

    current = Verification.objects.filter(person=person).first()
    events = list(VerificationEvent.objects.filter(person=person).order_by("-id")[:100])
    statuses, methods = dict(Status.choices), dict(VerificationMethod.choices)
    rows = [
        {
            "at": e.at,
            "status": str(statuses.get(e.status, e.status)),
            "method": str(methods.get(e.method, e.method)),
            "fields": ", ".join(str(FIELD_LABELS.get(f, f)) for f in e.mismatched or []),
        }
        for e in events
    ]
    return current, rows
