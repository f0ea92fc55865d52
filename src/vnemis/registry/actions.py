"""Writes to the registry. Each is one transaction and records an audit entry.

Bulk loading goes through ``vnemis.registry.loaders`` instead; these functions serve the pages,
the API and single corrections.
"""

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record
from vnemis.core.crypto import blind_index, encrypt_identifier
from vnemis.core.text import person_name, search_key, split_full_name
from vnemis.orgs.models import Organisation

from .citizen_id import citizen_id_problems
from .education_id import education_ids_issue
from .locks import year_data_ensure_unlocked
from .models import (
    ACTIVE_STATUSES,
    Enrolment,
    EnrolmentStatusChange,
    Ethnicity,
    Person,
    SchoolClass,
    SchoolYear,
    Term,
)
from .search import person_keys_replace

# Fields whose change is recorded by name in the audit log (values never are).
PERSON_FIELDS = {
    "full_name",
    "birth_date",
    "sex",
    "ethnicity",
    "nationality",
    "birth_province",
    "birth_place",
    "permanent_commune",
    "permanent_address",
    "policy_categories",
    "disability",
}


def _authorise(actor, *, school_id: int | None = None, person: Person | None = None) -> None:
    """Refuse a write the actor may not make; ``actor=None`` is the system itself (CLI, loader).

    Writers are school, Department, Ministry and system-client roles, within their scope: a
    school only for its own school, and a person only while they are enrolled or posted there now
    (after a transfer, only the new school may correct the record).
    """
    if actor is None:
        return
    from vnemis.orgs.scope import can_write, current_person_ids_in_scope, org_ids_in_scope

    refused = _("Bạn không có quyền sửa hồ sơ này.")
    if not can_write(actor):
        raise PermissionDenied(refused)
    if (
        school_id is not None
        and not Organisation.objects.filter(id=school_id, id__in=org_ids_in_scope(actor)).exists()
    ):
        raise PermissionDenied(refused)
    if (
        person is not None
        and not Person.objects.filter(
            pk=person.pk, id__in=current_person_ids_in_scope(actor)
        ).exists()
    ):
        raise PermissionDenied(refused)


def _set_citizen_id(person: Person, citizen_id: str) -> None:
    citizen_id = citizen_id.strip()
    if not citizen_id:
        person.citizen_id_ciphertext, person.citizen_id_index, person.citizen_id_last3 = (
            None,
            "",
            "",
        )
        return
    problems = citizen_id_problems(citizen_id, birth_date=person.birth_date, sex=person.sex)
    if "cccd_format" in problems:
        raise ValidationError(
            {"citizen_id": _("Số định danh cá nhân (CCCD) phải gồm đúng 12 chữ số.")}
        )
    person.citizen_id_ciphertext = encrypt_identifier(citizen_id)
    person.citizen_id_index = blind_index(citizen_id)
    person.citizen_id_last3 = citizen_id[-3:]


def _set_name(person: Person, full_name: str) -> None:
    person.full_name = person_name(full_name)
    person.family_name, person.middle_name, person.given_name = split_full_name(person.full_name)
    person.name_search = search_key(person.full_name)


@transaction.atomic
def person_create(
    *,
    actor,
    full_name: str,
    birth_date: date,
    sex: str,
    ethnicity: Ethnicity,
    province_code: str,
    citizen_id: str = "",
    **fields,
) -> Person:
    """Create a person and issue their education ID."""
    _authorise(actor)
    person = Person(
        birth_date=birth_date, sex=sex, ethnicity=ethnicity, province_code=province_code, **fields
    )
    _set_name(person, full_name)
    _set_citizen_id(person, citizen_id)
    person.education_id = education_ids_issue(
        province_code=province_code, year=timezone.localdate().year, count=1
    )[0]
    person.full_clean(exclude=["citizen_id_ciphertext"])
    person.save()
    person_keys_replace(person)
    audit_record(actor=actor, action="create", object_type="person", object_id=person.pk)
    return person


@transaction.atomic
def person_update(
    *, actor, person: Person, expected_version: int | None = None, **changes
) -> Person:
    """Change a person's fields; refuses a stale version (optimistic concurrency)."""
    _authorise(actor, person=person)
    for school_id, school_year_id in Enrolment.objects.filter(
        pupil=person, status__in=ACTIVE_STATUSES
    ).values_list("school_id", "school_year_id"):
        year_data_ensure_unlocked(school_id=school_id, school_year_id=school_year_id)
    locked = Person.objects.select_for_update().get(pk=person.pk)
    if expected_version is not None and locked.version != expected_version:
        raise ValidationError(
            _("Hồ sơ đã được người khác sửa; hãy tải lại trang rồi sửa lại."), code="stale"
        )
    changed = []
    citizen_id = changes.pop("citizen_id", None)
    for field, value in changes.items():
        if field not in PERSON_FIELDS:
            raise ValidationError(_("Không được sửa trường %(field)s.") % {"field": field})
        if field == "full_name":
            value = person_name(value)
            if value != locked.full_name:
                _set_name(locked, value)
                changed.append(field)
            continue
        if getattr(locked, field) != value:
            setattr(locked, field, value)
            changed.append(field)
    if citizen_id is not None:
        _set_citizen_id(locked, citizen_id)
        changed.append("citizen_id")
    if not changed:
        return locked
    locked.full_clean(exclude=["citizen_id_ciphertext"])
    locked.version = F("version") + 1
    locked.save()
    locked.refresh_from_db()
    if "full_name" in changed:
        person_keys_replace(locked)
    audit_record(
        actor=actor,
        action="update",
        object_type="person",
        object_id=locked.pk,
        detail={"fields": changed},
    )
    return locked


def school_year_get_or_create(*, code: str) -> SchoolYear:
    """The school year "2025-2026", created with its two terms if missing.

    Default calendar: 5 September to 31 May, term I to mid-January (the Ministry sets the exact
    dates each year; they can be edited afterwards).
    """
    try:
        start_year, end_year = (int(part) for part in code.split("-"))
    except ValueError:
        raise ValidationError(
            _("Năm học phải có dạng 2025-2026."), code="school_year_format"
        ) from None
    if end_year != start_year + 1:
        raise ValidationError(_("Năm học phải có dạng 2025-2026."), code="school_year_format")
    year, created = SchoolYear.objects.get_or_create(
        start_year=start_year,
        defaults={
            "code": code,
            "starts_on": date(start_year, 9, 5),
            "ends_on": date(end_year, 5, 31),
        },
    )
    if created:
        Term.objects.bulk_create(
            [
                Term(
                    school_year=year,
                    number=1,
                    starts_on=year.starts_on,
                    ends_on=date(end_year, 1, 15),
                ),
                Term(
                    school_year=year,
                    number=2,
                    starts_on=date(end_year, 1, 16),
                    ends_on=year.ends_on,
                ),
            ]
        )
    return year


def school_class_get_or_create(
    *, school: Organisation, school_year: SchoolYear, grade: int, name: str
) -> SchoolClass:
    """The class of that name in that school and year, created if missing."""
    low, high = school.grade_range
    if not low <= grade <= high:
        raise ValidationError(
            _("Khối %(grade)s không thuộc cấp học của trường.") % {"grade": grade},
            code="grade_level",
        )
    cls, _created = SchoolClass.objects.get_or_create(
        school=school,
        school_year=school_year,
        name=name.strip(),
        defaults={
            "grade": grade,
            "province_code": school.province.code if school.province_id else "",
        },
    )
    return cls


@transaction.atomic
def enrolment_create(
    *,
    actor,
    pupil: Person,
    school_class: SchoolClass,
    started_on: date,
    pupil_code: str = "",
    status: str = "studying",
) -> Enrolment:
    """Enrol a pupil in a class for that class's school year."""
    _authorise(actor, school_id=school_class.school_id)
    year_data_ensure_unlocked(
        school_id=school_class.school_id, school_year_id=school_class.school_year_id
    )
    if Enrolment.objects.filter(
        pupil=pupil, school_year=school_class.school_year_id, status__in=ACTIVE_STATUSES
    ).exists():
        raise ValidationError(
            _("Học sinh đã có một lớp đang học trong năm học này."), code="already_enrolled"
        )
    enrolment = Enrolment.objects.create(
        pupil=pupil,
        school_class=school_class,
        school_id=school_class.school_id,
        school_year_id=school_class.school_year_id,
        pupil_code=pupil_code.strip(),
        status=status,
        started_on=started_on,
        province_code=school_class.province_code,
    )
    EnrolmentStatusChange.objects.create(
        enrolment=enrolment,
        status=status,
        effective_on=started_on,
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(actor=actor, action="create", object_type="enrolment", object_id=enrolment.pk)
    return enrolment


@transaction.atomic
def enrolment_change_status(
    *, actor, enrolment: Enrolment, status: str, effective_on: date, note: str = ""
) -> Enrolment:
    """Move an enrolment to a new status (transfer, drop-out, graduation...), keeping the history."""
    _authorise(actor, school_id=enrolment.school_id)
    year_data_ensure_unlocked(
        school_id=enrolment.school_id, school_year_id=enrolment.school_year_id
    )
    locked = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
    if effective_on < locked.started_on:
        raise ValidationError(
            _("Ngày thay đổi trạng thái không được trước ngày nhập học."), code="date_order"
        )
    locked.status = status
    locked.ended_on = None if status in ACTIVE_STATUSES else effective_on
    locked.full_clean()
    locked.save()
    EnrolmentStatusChange.objects.create(
        enrolment=locked,
        status=status,
        effective_on=effective_on,
        note=note,
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="update",
        object_type="enrolment",
        object_id=locked.pk,
        detail={"status": status},
    )
    return locked
