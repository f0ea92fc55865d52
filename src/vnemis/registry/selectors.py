"""Reads of the registry, always scoped to the viewer; reads of a person's record are audited.

Pages, the API and exports call these functions and nothing else, so scope cannot be forgotten.
Lists use keyset pagination (``after`` = the last id seen), never OFFSET.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record, audit_record_many
from vnemis.core.text import search_key
from vnemis.orgs.models import Organisation, User
from vnemis.orgs.scope import (
    can_read_sensitive,
    class_ids_in_scope,
    org_ids_in_scope,
    organisations_visible,
    person_ids_in_scope,
)

from .education_id import is_valid_education_id
from .models import Enrolment, HealthRecord, Person, SchoolClass, SubjectResult


def schools_visible(
    *,
    viewer: User,
    province_code: str = "",
    commune_code: str = "",
    level: str = "",
    ownership: str = "",
    kind: str = "school",
    q: str = "",
) -> QuerySet[Organisation]:
    """Schools in the viewer's scope, filtered; ordered by code."""
    qs = organisations_visible(viewer).filter(kind=kind).select_related("province", "commune")
    if province_code:
        qs = qs.filter(province__code=province_code)
    if commune_code:
        qs = qs.filter(commune__code=commune_code)
    if level:
        qs = qs.filter(level=level)
    if ownership:
        qs = qs.filter(ownership=ownership)
    if q:
        qs = qs.filter(Q(name_search__contains=search_key(q)) | Q(code=q.strip()))
    return qs.order_by("code")


def organisation_get(*, viewer: User, code: str) -> Organisation:
    org = (
        organisations_visible(viewer)
        .filter(code=code)
        .select_related("province", "commune", "parent")
        .first()
    )
    if org is None:
        raise PermissionDenied(_("Đơn vị không tồn tại hoặc nằm ngoài phạm vi của bạn."))
    return org


def classes_visible(
    *, viewer: User, school: Organisation | None = None, school_year=None
) -> QuerySet[SchoolClass]:
    qs = SchoolClass.objects.filter(id__in=class_ids_in_scope(viewer)).select_related(
        "school", "school_year", "homeroom_teacher"
    )
    if school is not None:
        qs = qs.filter(school=school)
    if school_year is not None:
        qs = qs.filter(school_year=school_year)
    return qs.order_by("grade", "name", "id")


def class_get(*, viewer: User, class_id: int) -> SchoolClass:
    cls = classes_visible(viewer=viewer).filter(id=class_id).first()
    if cls is None:
        raise PermissionDenied(_("Lớp không tồn tại hoặc nằm ngoài phạm vi của bạn."))
    return cls


def persons_visible(*, viewer: User) -> QuerySet[Person]:
    return Person.objects.filter(id__in=person_ids_in_scope(viewer))


def persons_search(*, viewer: User, q: str, after: int = 0, limit: int = 50) -> list[Person]:
    """Name search ignoring diacritics and case, or an exact education ID; scoped; keyset-paged.

    A name query matches names that start with it or contain it as whole words
    ("nguyen van an" finds "Nguyễn Văn An"; "van an" finds it too). Listing persons is itself a
    read of personal data, so one audit entry records the query's result ids.
    """
    q = q.strip()
    qs = persons_visible(viewer=viewer)
    if is_valid_education_id(q) or (q.isdigit() and len(q) == 12):
        qs = qs.filter(education_id=q)
    else:
        key = search_key(q)
        if not key:
            return []
        qs = qs.filter(Q(name_search__startswith=key) | Q(name_search__contains=" " + key))
    rows = list(qs.filter(id__gt=after).order_by("id")[:limit])
    if rows:
        audit_record(
            actor=viewer,
            action="read",
            object_type="person_list",
            detail={
                "query": "education_id" if q.isdigit() else "name",
                "ids": [p.id for p in rows],
            },
        )
    return rows


def person_get(*, viewer: User, person_id: int) -> Person:
    """One person's record, if in scope; the read is audited."""
    person = (
        persons_visible(viewer=viewer)
        .filter(id=person_id)
        .select_related("ethnicity", "birth_province", "permanent_commune")
        .first()
    )
    if person is None:
        raise PermissionDenied(_("Hồ sơ không tồn tại hoặc nằm ngoài phạm vi của bạn."))
    audit_record(actor=viewer, action="read", object_type="person", object_id=person.pk)
    return person


def enrolments_of_person(*, viewer: User, person: Person) -> QuerySet[Enrolment]:
    """A person's enrolments the viewer may see: a school sees only its own part of the history."""
    qs = Enrolment.objects.filter(pupil=person).select_related(
        "school", "school_class", "school_year"
    )
    if viewer.role == User.Role.TEACHER:
        qs = qs.filter(school_class_id__in=class_ids_in_scope(viewer))
    elif viewer.role != User.Role.CITIZEN:
        qs = qs.filter(school_id__in=org_ids_in_scope(viewer))
    return qs.order_by("-school_year__start_year", "-started_on")


def enrolments_visible(*, viewer: User) -> QuerySet[Enrolment]:
    if viewer.role == User.Role.CITIZEN:
        return Enrolment.objects.filter(pupil_id=viewer.person_id)
    return Enrolment.objects.filter(school_class_id__in=class_ids_in_scope(viewer))


def class_roster(*, viewer: User, school_class: SchoolClass) -> list[Enrolment]:
    """The pupils of a class (all statuses), sorted the Vietnamese way: by given name."""
    class_get(viewer=viewer, class_id=school_class.pk)
    rows = list(
        Enrolment.objects.filter(school_class=school_class)
        .select_related("pupil")
        .order_by("pupil__given_name", "pupil__family_name", "pupil__middle_name", "pupil_id")
    )
    if rows:
        audit_record_many(
            actor=viewer,
            action="read",
            object_type="class_roster",
            object_ids=[school_class.pk],
            detail={"pupils": len(rows)},
        )
    return rows


def results_of_enrolment(*, viewer: User, enrolment: Enrolment) -> QuerySet[SubjectResult]:
    if not enrolments_visible(viewer=viewer).filter(pk=enrolment.pk).exists() and not (
        enrolments_of_person(viewer=viewer, person=enrolment.pupil).filter(pk=enrolment.pk).exists()
    ):
        raise PermissionDenied(_("Kết quả học tập nằm ngoài phạm vi của bạn."))
    return enrolment.results.select_related("subject").order_by("subject__code", "period")


def health_records_of_person(*, viewer: User, person: Person) -> QuerySet[HealthRecord]:
    """Health data is sensitive: only roles that need it see it (and only in scope)."""
    if not can_read_sensitive(viewer):
        raise PermissionDenied(_("Vai trò của bạn không được xem dữ liệu sức khoẻ."))
    if not persons_visible(viewer=viewer).filter(pk=person.pk).exists():
        raise PermissionDenied(_("Hồ sơ không tồn tại hoặc nằm ngoài phạm vi của bạn."))
    audit_record(actor=viewer, action="read", object_type="health_records", object_id=person.pk)
    return person.health_records.order_by("-measured_on")
