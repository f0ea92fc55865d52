"""Reads of the registry, always scoped to the viewer; reads of a person's record are audited.

Pages, the API and exports call these functions and nothing else, so scope cannot be forgotten.
Lists use keyset pagination (``after`` = the last id seen), never OFFSET.
"""

from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record, audit_record_many
from vnemis.core.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor, keyset_page
from vnemis.core.text import search_key
from vnemis.orgs.models import Organisation, OrgClosure, User
from vnemis.orgs.scope import (
    can_read_sensitive,
    class_ids_in_scope,
    is_unrestricted,
    org_ids_in_scope,
    organisations_visible,
    person_ids_in_scope,
)

from .education_id import is_valid_education_id
from .models import (
    ACTIVE_STATUSES,
    Enrolment,
    HealthRecord,
    Person,
    ResultSummary,
    SchoolClass,
    SchoolYear,
    StaffAssignment,
    SubjectResult,
)
from .search import search_education_id, search_names


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
    if viewer.role == User.Role.TEACHER and not is_unrestricted(viewer):
        qs = SchoolClass.objects.filter(id__in=class_ids_in_scope(viewer))
    else:
        # As ``class_ids_in_scope`` for organisation roles, written on the class's own school so
        # a school filter meets the scope in one index probe (no id list of every class).
        qs = SchoolClass.objects.filter(school_id__in=org_ids_in_scope(viewer))
    qs = qs.select_related("school", "school_year", "homeroom_teacher")
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


def _is_education_id(q: str) -> bool:
    return is_valid_education_id(q) or (q.isdigit() and len(q) == 12)


def persons_search(*, viewer: User, q: str, after: str | None = None, limit: int = 50) -> Page:
    """Name search ignoring diacritics and case, or an exact education ID; scoped; keyset-paged.

    A name query matches names that start with it or contain it as whole-word prefixes
    ("nguyen van an" finds "Nguyễn Văn An"; "van an" and "an" find it too), in alphabetical
    order of the matched part, each person once (``registry.search``). ``after`` is the
    ``next_cursor`` of the previous page (opaque; ``CursorError`` if not issued for this query).
    Listing persons is itself a read of personal data, so one audit entry records the page's ids.
    """
    q = q.strip()
    if _is_education_id(q):
        page = Page(items=search_education_id(viewer=viewer, education_id=q), next_cursor=None)
    else:
        page = search_names(viewer=viewer, key=search_key(q), cursor=after, limit=limit)
    if page.items:
        audit_record(
            actor=viewer,
            action="read",
            object_type="person_list",
            detail={
                "query": "education_id" if q.isdigit() else "name",
                "ids": [p.id for p in page.items],
            },
        )
    return page


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
    """Enrolments in scope: a teacher's classes, a citizen's own, else the enrolments at the
    organisations in scope (an enrolment's school is its class's school: ``enrolment_create``)."""
    if is_unrestricted(viewer):
        return Enrolment.objects.all()
    if viewer.role == User.Role.CITIZEN:
        return Enrolment.objects.filter(pupil_id=viewer.person_id)
    if viewer.role == User.Role.TEACHER:
        return Enrolment.objects.filter(school_class_id__in=class_ids_in_scope(viewer))
    return Enrolment.objects.filter(school_id__in=org_ids_in_scope(viewer))


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
            # The roster shows each pupil: name them, so "who read my record" finds this read.
            detail={"pupils": len(rows), "ids": [e.pupil_id for e in rows]},
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
    if not can_read_sensitive(viewer, person):
        raise PermissionDenied(_("Vai trò của bạn không được xem dữ liệu sức khoẻ."))
    if not persons_visible(viewer=viewer).filter(pk=person.pk).exists():
        raise PermissionDenied(_("Hồ sơ không tồn tại hoặc nằm ngoài phạm vi của bạn."))
    audit_record(actor=viewer, action="read", object_type="health_records", object_id=person.pk)
    return person.health_records.order_by("-measured_on")


# --- Figures and lists for the web pages (home per role, school page, pupil page) ---

FIGURES_CACHE_SECONDS = 300


def school_year_current() -> SchoolYear | None:
    """The school year marked current (reference data, not personal)."""
    return SchoolYear.objects.filter(is_current=True).first()


def home_figures(*, viewer: User) -> dict:
    """Schools, current pupils and current staff per province, and schools per level, in scope.

    A few GROUP BY counts over indexed columns, cached for a few minutes per scope: a home page
    must not recount millions of enrolments on every load. Full statistics come from the
    analytics snapshot, never from here.
    """
    if not viewer.is_superuser and viewer.role in (User.Role.TEACHER, User.Role.CITIZEN):
        raise PermissionDenied(_("Vai trò của bạn không xem được số liệu tổng hợp."))
    year = school_year_current()
    key = (
        f"vnemis:home_figures:v1:{viewer.role}:{viewer.scope_id or 0}:"
        f"{int(viewer.is_superuser)}:{year.pk if year else 0}"
    )
    figures = cache.get(key)
    if figures is not None:
        return figures
    orgs = org_ids_in_scope(viewer)
    today = timezone.localdate()
    schools = (
        Organisation.objects.filter(id__in=orgs, kind=Organisation.Kind.SCHOOL)
        .values_list("province__code", "province__name")
        .annotate(n=Count("id"))
        .order_by()
    )
    pupils = dict(
        Enrolment.objects.filter(school_id__in=orgs, school_year=year, status__in=ACTIVE_STATUSES)
        .values_list("province_code")
        .annotate(n=Count("id"))
        .order_by()
    )
    staff = dict(
        StaffAssignment.objects.filter(school_id__in=orgs)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .values_list("province_code")
        .annotate(n=Count("id"))
        .order_by()
    )
    levels = list(
        Organisation.objects.filter(id__in=orgs, kind=Organisation.Kind.SCHOOL)
        .values_list("level")
        .annotate(n=Count("id"))
        .order_by("level")
    )
    provinces = {}
    for code, name, n in schools:
        provinces[code or ""] = {"code": code or "", "name": name or "", "schools": n}
    for code in set(pupils) | set(staff):
        provinces.setdefault(code, {"code": code, "name": "", "schools": 0})
    rows = sorted(provinces.values(), key=lambda r: r["code"])
    for row in rows:
        row["pupils"] = pupils.get(row["code"], 0)
        row["staff"] = staff.get(row["code"], 0)
    figures = {
        "school_year": year.code if year else "",
        "provinces": rows,
        "levels": levels,
        "totals": {
            "schools": sum(r["schools"] for r in rows),
            "pupils": sum(r["pupils"] for r in rows),
            "staff": sum(r["staff"] for r in rows),
        },
    }
    cache.set(key, figures, FIGURES_CACHE_SECONDS)
    return figures


def classes_with_counts(
    *, viewer: User, school: Organisation | None = None, school_year=None, limit: int = 500
) -> list[SchoolClass]:
    """Classes in scope with their number of pupils currently studying, in one query."""
    return list(
        classes_visible(viewer=viewer, school=school, school_year=school_year).annotate(
            pupil_count=Count("enrolments", filter=Q(enrolments__status__in=ACTIVE_STATUSES))
        )[:limit]
    )


def enrolment_counts_by_grade_sex(*, viewer: User, school: Organisation, school_year) -> list[dict]:
    """Pupils currently studying at a school, counted by grade and sex (scoped)."""
    return list(
        enrolments_visible(viewer=viewer)
        .filter(school=school, school_year=school_year, status__in=ACTIVE_STATUSES)
        .values("school_class__grade", "pupil__sex")
        .annotate(n=Count("id"))
        .order_by("school_class__grade", "pupil__sex")
    )


def staff_of_school(*, viewer: User, school: Organisation, limit: int = 300) -> list:
    """Current staff posts at a school (name and role only), head of school first."""
    role_order = Case(
        When(role=StaffAssignment.Role.PRINCIPAL, then=Value(0)),
        When(role=StaffAssignment.Role.VICE_PRINCIPAL, then=Value(1)),
        When(role=StaffAssignment.Role.TEACHER, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    return list(
        StaffAssignment.objects.filter(
            school=school, school_id__in=organisations_visible(viewer).values("id")
        )
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=timezone.localdate()))
        .select_related("person")
        .only("id", "role", "person__id", "person__full_name", "person__given_name")
        .order_by(role_order, "person__given_name", "person__family_name", "person_id")[:limit]
    )


def results_of_person(*, viewer: User, person: Person) -> QuerySet[SubjectResult]:
    """Subject results of the enrolments the viewer may see; ``person`` comes from person_get."""
    enrolments = enrolments_of_person(viewer=viewer, person=person).values("id")
    return (
        SubjectResult.objects.filter(enrolment_id__in=enrolments)
        .select_related("subject")
        .order_by("enrolment_id", "subject__code", "period")
    )


def summaries_of_person(*, viewer: User, person: Person) -> QuerySet[ResultSummary]:
    """Learning and conduct ratings of the enrolments the viewer may see."""
    enrolments = enrolments_of_person(viewer=viewer, person=person).values("id")
    return ResultSummary.objects.filter(enrolment_id__in=enrolments).order_by(
        "enrolment_id", "period"
    )


# --- Keyset-paged, audited lists for the HTTP API (core.pagination; never OFFSET) ---
#
# A list's cost must follow the page, not the registry (24 M pupils). How a list is read depends
# on the size of the viewer's scope (``list_scope``):
#
# - a few organisations (a school, a small unit; at most ``SMALL_SCOPE_MAX_ORGS``), a teacher, a
#   citizen: from the scope's side — its enrolments and staff posts, a few thousand rows;
# - every organisation (Ministry at the root, operator accounts): the table in list order,
#   nothing to check for enrolments and classes;
# - a large subtree (a Department): the table walked in list order from the cursor, in batches
#   of ``WALK_BATCH`` rows checked against the scope with EXISTS on the closure, at most
#   ``WALK_MAX_BATCHES`` batches per request (as ``registry.search``). A page cut short still
#   carries a cursor: a client pages on until ``next_cursor`` is null, and a page may hold fewer
#   items than ``limit`` (even none) before the end.

SMALL_SCOPE_MAX_ORGS = 10
WALK_FIRST_BATCH = 100
WALK_BATCH = 1000
WALK_MAX_BATCHES = 5


@dataclass(frozen=True)
class ListScope:
    # "none"; "unrestricted" (operator: every row, persons without any post included);
    # "national" (the scope's closure holds every organisation); "orgs" (at most
    # SMALL_SCOPE_MAX_ORGS organisations, listed in ``org_ids``); "large" (a bigger subtree);
    # "personal" (teacher, citizen: ``orgs.scope`` rules of their own).
    kind: str
    org_ids: tuple[int, ...] = ()


def list_scope(viewer: User) -> ListScope:
    """How large the viewer's scope is, in one or three small queries (the closure of the scope
    node, read at most SMALL_SCOPE_MAX_ORGS + 1 rows; for larger ones two counts)."""
    if not viewer.is_authenticated:
        return ListScope("none")
    if is_unrestricted(viewer):
        return ListScope("unrestricted")
    if viewer.role in (User.Role.TEACHER, User.Role.CITIZEN):
        return ListScope("personal")
    if viewer.scope_id is None:
        return ListScope("none")
    under = OrgClosure.objects.filter(ancestor_id=viewer.scope_id)
    ids = list(
        under.order_by("descendant_id").values_list("descendant_id", flat=True)[
            : SMALL_SCOPE_MAX_ORGS + 1
        ]
    )
    if len(ids) <= SMALL_SCOPE_MAX_ORGS:
        return ListScope("orgs", tuple(ids))
    # Exactly the closure rule: every organisation is under the scope node (pairs are unique).
    if under.count() == Organisation.objects.count():
        return ListScope("national")
    return ListScope("large")


def _under_scope(viewer: User, field: str = "school_id") -> Exists:
    """The row's organisation ``field`` is under the viewer's scope node (closure probe)."""
    return Exists(
        OrgClosure.objects.filter(ancestor_id=viewer.scope_id, descendant_id=OuterRef(field))
    )


def _person_reached(viewer: User, scope: ListScope) -> Q:
    """The person (outer row) has an enrolment or a staff post in scope (as
    ``orgs.scope.person_ids_in_scope``), as EXISTS probes by person."""
    pupils = Enrolment.objects.filter(pupil_id=OuterRef("pk"))
    staff = StaffAssignment.objects.filter(person_id=OuterRef("pk"))
    if scope.kind == "large":
        pupils = pupils.filter(_under_scope(viewer))
        staff = staff.filter(_under_scope(viewer))
    return Q(Exists(pupils)) | Q(Exists(staff))


def _walk(
    model: type[Model],
    *,
    key: str,
    keep: Q | None,
    where: Q | None = None,
    cursor: str | None,
    limit: int,
    namespace: str,
    select_related: tuple[str, ...] = (),
) -> Page:
    """One page of ``model`` in ``key`` order (a unique column) after ``cursor``, keeping the
    rows for which ``keep`` holds: the ``key`` index is read in batches (about two pages, then
    max(WALK_BATCH, limit + 1) rows), each batch's rows checked in the same query (index probes
    per row), at most WALK_MAX_BATCHES batches; then one query fetches the page. ``where``
    narrows the batches themselves (an exact key). A page cut short carries the cursor of the
    last row read. Cursors are those of ``keyset_page`` on the same key and namespace."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    after: Any = None
    if cursor:
        after = decode_cursor(cursor, namespace=namespace, model=model, order=(key,))[0]
    # A dense list (the whole country) fills the page from a first batch of about two pages; a
    # sparse one goes on by batches of WALK_BATCH rows.
    size = max(WALK_FIRST_BATCH, 2 * (limit + 1))
    flag = ExpressionWrapper(keep if keep is not None else Value(True), BooleanField())
    found: list[tuple[int, Any]] = []
    next_key: Any = None
    for _batch in range(WALK_MAX_BATCHES):
        batch = model._default_manager.all()
        if where is not None:
            batch = batch.filter(where)
        if after is not None:
            batch = batch.filter(**{f"{key}__gt": after})
        # The batch is a LIMITed sub-query so the planner sees ``size`` rows to check and
        # probes each by index; checked on the whole table it would hash every row in scope.
        batch = batch.order_by(key).values("pk")[:size]
        rows = list(
            model._default_manager.filter(pk__in=batch)
            .annotate(_keep=flag)
            .order_by(key)
            .values_list("pk", key, "_keep")
        )
        for pk, value, ok in rows:
            if ok:
                found.append((pk, value))
                if len(found) > limit:
                    break
        if len(found) > limit:
            found = found[:limit]
            next_key = found[-1][1]
            break
        if len(rows) < size:  # the index ran out: this is the last page
            break
        after = rows[-1][1]
        size = max(WALK_BATCH, limit + 1)
    else:
        next_key = after  # bounded work: stop here, hand back where the walk stopped
    items = []
    if found:
        items = list(
            model._default_manager.filter(pk__in=[pk for pk, _ in found])
            .select_related(*select_related)
            .order_by(key)
        )
    next_cursor = encode_cursor([next_key], namespace=namespace) if next_key is not None else None
    return Page(items=items, next_cursor=next_cursor)


def _persons_of_orgs(org_ids) -> QuerySet:
    """The ids of the persons enrolled or posted at ``org_ids`` (a list or a sub-query), read
    from the enrolments' and staff posts' side (a UNION, not an OR of two IN lists)."""
    return (
        Enrolment.objects.filter(school_id__in=org_ids)
        .values("pupil_id")
        .union(StaffAssignment.objects.filter(school_id__in=org_ids).values("person_id"))
    )


def persons_page(
    *,
    viewer: User,
    q: str = "",
    school: Organisation | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Persons in scope, by name (diacritics ignored) or education ID, and by school; audited.

    Sorted by education ID so the cursor carries no internal id; a name search is sorted and
    paged by ``registry.search`` instead (alphabetically by the matched part of the name).
    ``school`` must already be checked to be in the viewer's scope. One audit entry records the
    ids handed out.

    Small scopes and a ``school`` filter are read from the enrolments' and staff posts' side;
    large scopes walk the education ID index with a scope check per batch, so a page may be cut
    short (fewer items, a cursor) — see the notes above ``list_scope``.
    """
    q = q.strip()
    if q and not _is_education_id(q):
        # By name: the search engine's order (the matched part of the name) and its cursors.
        page = search_names(
            viewer=viewer, key=search_key(q), cursor=cursor, limit=limit, school=school
        )
    else:
        page = _persons_listed(
            viewer=viewer, education_id=q, school=school, cursor=cursor, limit=limit
        )
    if page.items:
        audit_record(
            actor=viewer,
            action="read",
            object_type="person_list",
            detail={
                "query": ("education_id" if q.isdigit() else "name") if q else "",
                "school": school.code if school else "",
                "ids": [p.id for p in page.items],
            },
        )
    return page


def _persons_listed(
    *, viewer: User, education_id: str, school: Organisation | None, cursor: str | None, limit: int
) -> Page:
    scope = list_scope(viewer)
    exact = Q(education_id=education_id) if education_id else Q()
    if scope.kind == "none":
        return Page(items=[], next_cursor=None)
    if scope.kind == "personal":
        qs = Person.objects.filter(exact, id__in=person_ids_in_scope(viewer))
        if school is not None:
            qs = qs.filter(id__in=_persons_of_orgs([school.pk]))
    elif school is not None:
        # The school's own pupils and staff: in scope whenever the school is.
        qs = Person.objects.filter(exact, id__in=_persons_of_orgs([school.pk]))
        if scope.kind == "orgs" and school.pk not in scope.org_ids:
            qs = qs.none()
        elif scope.kind == "large":
            qs = qs.filter(
                Exists(OrgClosure.objects.filter(ancestor_id=viewer.scope_id, descendant=school))
            )
    elif scope.kind == "orgs":
        qs = Person.objects.filter(exact, id__in=_persons_of_orgs(list(scope.org_ids)))
    elif scope.kind == "unrestricted":
        qs = Person.objects.filter(exact)
    else:  # national or large: walk the education ID index, scope checked per batch
        return _walk(
            Person,
            key="education_id",
            keep=_person_reached(viewer, scope),
            where=exact if education_id else None,
            cursor=cursor,
            limit=limit,
            namespace="persons",
        )
    return keyset_page(qs, order=("education_id",), cursor=cursor, limit=limit, namespace="persons")


def person_get_by_education_id(*, viewer: User, education_id: str) -> Person:
    """One person's record by education ID, if in scope; the read is audited (person_get)."""
    person_id = (
        persons_visible(viewer=viewer)
        .filter(education_id=education_id)
        .values_list("id", flat=True)
        .first()
    )
    if person_id is None:
        raise PermissionDenied(_("Hồ sơ không tồn tại hoặc nằm ngoài phạm vi của bạn."))
    return person_get(viewer=viewer, person_id=person_id)


def enrolments_page(
    *,
    viewer: User,
    school: Organisation | None = None,
    school_year: SchoolYear | None = None,
    status: str = "",
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Enrolments in scope (with pupil and class), filtered, in id order, keyset-paged; the
    pupils read are audited in one entry.

    A school filter or a small scope reads the index (school, id); the whole country reads the
    table in id order; a large subtree (or sparse filters at national scope) walks the id order
    in bounded batches, so a page may be cut short (see the notes above ``list_scope``)."""
    scope = list_scope(viewer)
    related = ("pupil", "school", "school_class", "school_year")
    filters = Q()
    if school_year is not None:
        filters &= Q(school_year=school_year)
    if status:
        filters &= Q(status=status)
    if scope.kind == "none":
        return Page(items=[], next_cursor=None)
    walk = False
    if scope.kind == "personal":
        qs = enrolments_visible(viewer=viewer)
        if school is not None:
            qs = qs.filter(school=school)
    elif school is not None:
        qs = Enrolment.objects.filter(school=school)
        if scope.kind == "orgs" and school.pk not in scope.org_ids:
            qs = qs.none()
        elif scope.kind == "large":
            qs = qs.filter(
                Exists(OrgClosure.objects.filter(ancestor_id=viewer.scope_id, descendant=school))
            )
    elif scope.kind == "orgs":
        qs = Enrolment.objects.filter(school_id__in=list(scope.org_ids))
    elif scope.kind in ("unrestricted", "national"):
        qs = Enrolment.objects.all()
        walk = bool(filters)
    else:
        walk = True
    if walk:
        keep = filters
        if scope.kind == "large":
            keep = Q(school_id__in=org_ids_in_scope(viewer)) & filters
        page = _walk(
            Enrolment,
            key="id",
            keep=keep,
            cursor=cursor,
            limit=limit,
            namespace="enrolments",
            select_related=related,
        )
    else:
        qs = qs.filter(filters).select_related(*related)
        page = keyset_page(qs, order=("id",), cursor=cursor, limit=limit, namespace="enrolments")
    if page.items:
        audit_record(
            actor=viewer,
            action="read",
            object_type="enrolment_list",
            detail={"ids": [e.pupil_id for e in page.items]},
        )
    return page


CLASS_ORDER = ("grade", "name", "id")


def classes_page(
    *,
    viewer: User,
    school: Organisation | None = None,
    school_year: SchoolYear | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Classes in scope, keyset-paged (classes are not personal data: not audited).

    By (grade, name, id) when the list covers one school (the ``school`` filter; index (school,
    school_year, grade, name, id)) or a small scope (a school, a teacher, a unit of at most
    SMALL_SCOPE_MAX_ORGS organisations): at most a few schools' classes to sort. A larger scope
    without a school filter (Ministry, Department: hundreds of thousands of classes a year) is
    listed in id order — the order the classes were created — read from the primary key (by
    bounded batches when the scope or the year must be checked per row), and its cursors are
    of that order (``classes.id``) only.
    """
    scope = list_scope(viewer)
    if scope.kind == "none":
        return Page(items=[], next_cursor=None)
    if school is not None or scope.kind in ("orgs", "personal"):
        qs = classes_visible(viewer=viewer, school=school, school_year=school_year)
        if school is None and scope.kind == "orgs":
            qs = qs.filter(school_id__in=list(scope.org_ids))
        return keyset_page(qs, order=CLASS_ORDER, cursor=cursor, limit=limit, namespace="classes")
    related = ("school", "school_year", "homeroom_teacher")
    year = Q(school_year=school_year) if school_year is not None else Q()
    if scope.kind in ("unrestricted", "national") and school_year is None:
        qs = SchoolClass.objects.select_related(*related)
        return keyset_page(qs, order=("id",), cursor=cursor, limit=limit, namespace="classes.id")
    keep = year
    if scope.kind == "large":
        keep = Q(school_id__in=org_ids_in_scope(viewer)) & year
    return _walk(
        SchoolClass,
        key="id",
        keep=keep,
        cursor=cursor,
        limit=limit,
        namespace="classes.id",
        select_related=related,
    )
