"""Read API of the registry: classes, persons, enrolments, all in the caller's scope.

Endpoints only translate: every read goes through ``registry.selectors`` (which apply scope and
audit reads of personal data) and every list through keyset pagination. A record that is
missing and one outside the caller's scope both answer 404, so the API never confirms that a
person exists elsewhere; a filter naming an existing organisation out of scope answers 403.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from ninja import Path, Query, Router

from vnemis.core.api_errors import ERROR_RESPONSES, not_found, out_of_scope, unknown_value
from vnemis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, keyset_page
from vnemis.orgs.models import Organisation, User
from vnemis.orgs.scope import can_read_sensitive, organisations_visible

from . import selectors
from .models import EnrolmentStatus, Person, SchoolYear
from .schemas import (
    ClassOut,
    ClassPage,
    EnrolmentPage,
    PersonOut,
    PersonPage,
)

router = Router()

ORG_CODE = Query(None, max_length=20, description="official organisation code")
SCHOOL_YEAR = Query(None, pattern=r"^\d{4}-\d{4}$", description="e.g. 2025-2026")
CURSOR = Query(None, max_length=512, description="next_cursor of the previous page")
LIMIT = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
EDUCATION_ID = Path(..., pattern=r"^\d{12}$", description="12-digit education ID")
HEALTH_RECORDS_SHOWN = 20


def _organisation_filter(viewer: User, code: str, field: str) -> Organisation:
    """The organisation a filter names: 422 if no such code, 403 if outside the scope."""
    org = (
        Organisation.objects.filter(code=code.strip())
        .annotate(in_scope=Exists(organisations_visible(viewer).filter(pk=OuterRef("pk"))))
        .first()
    )
    if org is None:
        raise unknown_value(field, code)
    if not org.in_scope:
        raise out_of_scope(field, code)
    return org


def _school_year_filter(code: str) -> SchoolYear:
    year = SchoolYear.objects.filter(code=code).first()
    if year is None:
        raise unknown_value("school_year", code)
    return year


def _masked_citizen_id(person: Person) -> str | None:
    # Only the last three digits are stored in clear; the rest is never decrypted for display.
    return "*" * 9 + person.citizen_id_last3 if person.citizen_id_last3 else None


# --- classes ---


@router.get("/classes", response={200: ClassPage, **ERROR_RESPONSES}, tags=["classes"])
def class_list(
    request: HttpRequest,
    school: str | None = ORG_CODE,
    school_year: str | None = SCHOOL_YEAR,
    cursor: str | None = CURSOR,
    limit: int = LIMIT,
):
    """Classes in your scope; filter by school code and school year.

    Sorted by grade, then name, when the list covers one school (the ``school`` filter) or a
    small scope (a school, a teacher's classes, a unit of at most ten organisations). A larger
    scope without a ``school`` filter (Ministry, Department) is listed in creation order (the
    class id), read page by page from the primary key; such a page may hold fewer items than
    ``limit`` before the end: page on until ``next_cursor`` is null."""
    viewer = request.auth
    org = _organisation_filter(viewer, school, "school") if school else None
    year = _school_year_filter(school_year) if school_year else None
    return selectors.classes_page(
        viewer=viewer, school=org, school_year=year, cursor=cursor, limit=limit
    )


@router.get("/classes/{class_id}", response={200: ClassOut, **ERROR_RESPONSES}, tags=["classes"])
def class_get(request: HttpRequest, class_id: int = Path(..., ge=1)):
    """One class in your scope. The id is opaque and valid only in this API: files identify a
    class by (school_code, school_year, name)."""
    try:
        return selectors.class_get(viewer=request.auth, class_id=class_id)
    except PermissionDenied:
        raise not_found("Lớp", "Class") from None


# --- persons ---


@router.get("/persons", response={200: PersonPage, **ERROR_RESPONSES}, tags=["persons"])
def person_list(
    request: HttpRequest,
    q: str | None = Query(
        None, max_length=100, description="name (diacritics ignored) or education ID"
    ),
    school: str | None = ORG_CODE,
    cursor: str | None = CURSOR,
    limit: int = LIMIT,
):
    """Pupils and staff in your scope, by education ID; search by name or education ID and
    filter by school. A name search (diacritics and case ignored; the name's start or a word
    prefix inside it) is sorted alphabetically by the matched part of the name, and its cursors
    are valid only for the same query. The persons listed are recorded in the audit log. For a
    large scope a page may hold fewer items than ``limit`` (even none) before the end: page on
    until ``next_cursor`` is null."""
    viewer = request.auth
    org = _organisation_filter(viewer, school, "school") if school else None
    return selectors.persons_page(viewer=viewer, q=q or "", school=org, cursor=cursor, limit=limit)


@router.get(
    "/persons/{education_id}", response={200: PersonOut, **ERROR_RESPONSES}, tags=["persons"]
)
def person_get(request: HttpRequest, education_id: str = EDUCATION_ID):
    """One person's record; the read is recorded in the audit log.

    The citizen ID is only ever shown masked. Ethnicity, disability, policy categories, place of
    birth, address and health records (``sensitive``) are null unless your role needs them and
    the person is in your scope today (Decree 13/2023).
    """
    viewer = request.auth
    try:
        person = selectors.person_get_by_education_id(viewer=viewer, education_id=education_id)
    except PermissionDenied:
        raise not_found("Hồ sơ", "Person") from None
    sensitive = None
    if can_read_sensitive(viewer, person):
        health = selectors.health_records_of_person(viewer=viewer, person=person)
        sensitive = {
            "ethnicity": person.ethnicity,
            "disability": person.disability,
            "policy_categories": person.policy_categories,
            "birth_province_code": (
                person.birth_province.code if person.birth_province_id else None
            ),
            "birth_place": person.birth_place,
            "permanent_commune_code": (
                person.permanent_commune.code if person.permanent_commune_id else None
            ),
            "permanent_address": person.permanent_address,
            "health_records": list(health[:HEALTH_RECORDS_SHOWN]),
        }
    return {
        "education_id": person.education_id,
        "full_name": person.full_name,
        "family_name": person.family_name,
        "middle_name": person.middle_name,
        "given_name": person.given_name,
        "birth_date": person.birth_date,
        "sex": person.sex,
        "nationality": person.nationality,
        "citizen_id_masked": _masked_citizen_id(person),
        "sensitive": sensitive,
    }


@router.get(
    "/persons/{education_id}/enrolments",
    response={200: EnrolmentPage, **ERROR_RESPONSES},
    tags=["persons"],
)
def person_enrolments(
    request: HttpRequest,
    education_id: str = EDUCATION_ID,
    cursor: str | None = CURSOR,
    limit: int = LIMIT,
):
    """A person's enrolments you may see, oldest first: a school sees only its own part of a
    transferred pupil's history. The read of the person is audited."""
    viewer = request.auth
    try:
        person = selectors.person_get_by_education_id(viewer=viewer, education_id=education_id)
    except PermissionDenied:
        raise not_found("Hồ sơ", "Person") from None
    qs = selectors.enrolments_of_person(viewer=viewer, person=person).select_related("pupil")
    return keyset_page(
        qs,
        order=("school_year__start_year", "started_on", "id"),
        cursor=cursor,
        limit=limit,
        namespace="person_enrolments",
    )


# --- enrolments ---


@router.get("/enrolments", response={200: EnrolmentPage, **ERROR_RESPONSES}, tags=["enrolments"])
def enrolment_list(
    request: HttpRequest,
    school: str | None = ORG_CODE,
    school_year: str | None = SCHOOL_YEAR,
    status: EnrolmentStatus | None = None,
    cursor: str | None = CURSOR,
    limit: int = LIMIT,
):
    """Enrolments in your scope, in creation order (id); filter by school, school year and
    status. The pupils listed are recorded in the audit log. For a large scope a page may hold
    fewer items than ``limit`` before the end: page on until ``next_cursor`` is null."""
    viewer = request.auth
    org = _organisation_filter(viewer, school, "school") if school else None
    year = _school_year_filter(school_year) if school_year else None
    return selectors.enrolments_page(
        viewer=viewer,
        school=org,
        school_year=year,
        status=status or "",
        cursor=cursor,
        limit=limit,
    )
