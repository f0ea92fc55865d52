"""Who may see and change what: the organisation scope of a user, as SQL sub-queries.

Every selector and action that touches registry data filters through these functions, so the web
pages, the API and exports obey the same rule. Scope follows the closure table: a Department
user reaches every school under its Department; a school user reaches only its school; a
teacher only the classes they are homeroom teacher of or teach; a citizen only their own record.
"""

from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import Organisation, OrgClosure, User

# Roles allowed to read sensitive personal data (health, ethnicity) of individual persons
# (Decree 13/2023: minimum fields per use). Ministry and Department work from aggregates.
SENSITIVE_READERS = {User.Role.SCHOOL, User.Role.TEACHER, User.Role.CITIZEN}
# Roles that may change registry records (teachers read only; citizens request corrections).
WRITERS = {User.Role.SCHOOL, User.Role.DEPARTMENT, User.Role.MINISTRY, User.Role.SYSTEM}


def is_unrestricted(user: User) -> bool:
    """An operator account (superuser without a scope node) reaches the whole tree."""
    return user.is_authenticated and user.is_superuser and user.scope_id is None


def org_ids_in_scope(user: User):
    """A sub-query of every organisation id the user may reach (empty for citizens, teachers)."""
    if is_unrestricted(user):
        return Organisation.objects.values("id")
    if not user.is_authenticated or user.role in (User.Role.CITIZEN, User.Role.TEACHER):
        return OrgClosure.objects.none().values("descendant_id")
    return OrgClosure.objects.filter(ancestor_id=user.scope_id).values("descendant_id")


def organisations_visible(user: User) -> QuerySet[Organisation]:
    if user.role == User.Role.TEACHER and not is_unrestricted(user):
        return Organisation.objects.filter(id=user.scope_id)
    return Organisation.objects.filter(id__in=org_ids_in_scope(user))


def class_ids_in_scope(user: User):
    """Classes a user may reach: by school scope, or a teacher's own classes.

    A teacher reaches only this school year's classes they are homeroom teacher of or teach, at a
    school where they hold a post today: access ends with the year and with the post.
    """
    from vnemis.registry.models import SchoolClass, StaffAssignment, TeachingAssignment

    if user.role == User.Role.TEACHER and not is_unrestricted(user):
        today = timezone.localdate()
        taught = TeachingAssignment.objects.filter(teacher_id=user.person_id).values(
            "school_class_id"
        )
        posted_at = StaffAssignment.objects.filter(
            Q(ends_on__isnull=True) | Q(ends_on__gte=today),
            person_id=user.person_id,
            starts_on__lte=today,
        ).values("school_id")
        return SchoolClass.objects.filter(
            Q(homeroom_teacher_id=user.person_id) | Q(id__in=taught),
            school_year__is_current=True,
            school_id__in=posted_at,
        ).values("id")
    return SchoolClass.objects.filter(school_id__in=org_ids_in_scope(user)).values("id")


def person_ids_in_scope(user: User):
    """Persons a user may reach: pupils enrolled (any year) or staff posted in their scope.

    After a transfer the old school still reaches the pupil, but selectors limit what it sees to
    the enrolments at its own schools (its own history).
    """
    from vnemis.registry.models import Enrolment, Person, StaffAssignment

    if not user.is_authenticated:
        return Person.objects.none().values("id")
    if is_unrestricted(user):
        return Person.objects.values("id")
    if user.role == User.Role.CITIZEN:
        return Person.objects.filter(id=user.person_id).values("id")
    if user.role == User.Role.TEACHER:
        return Enrolment.objects.filter(school_class_id__in=class_ids_in_scope(user)).values(
            "pupil_id"
        )
    orgs = org_ids_in_scope(user)
    pupils = Enrolment.objects.filter(school_id__in=orgs).values("pupil_id")
    staff = StaffAssignment.objects.filter(school_id__in=orgs).values("person_id")
    return Person.objects.filter(Q(id__in=pupils) | Q(id__in=staff)).values("id")


def current_person_ids_in_scope(user: User):
    """Persons the user reaches *today*: active enrolments of the current year or live posts.

    Sensitive data (health, ethnicity, address) follows the pupil: after a transfer only the new
    school sees it; the old school keeps its own history of enrolments and results.
    """
    from vnemis.registry.models import ACTIVE_STATUSES, Enrolment, Person, StaffAssignment

    if is_unrestricted(user):
        return Person.objects.values("id")
    if user.role == User.Role.CITIZEN:
        return Person.objects.filter(id=user.person_id).values("id")
    active = Enrolment.objects.filter(status__in=ACTIVE_STATUSES, school_year__is_current=True)
    if user.role == User.Role.TEACHER:
        return active.filter(school_class_id__in=class_ids_in_scope(user)).values("pupil_id")
    orgs = org_ids_in_scope(user)
    today = timezone.localdate()
    pupils = active.filter(school_id__in=orgs).values("pupil_id")
    staff = StaffAssignment.objects.filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=today), school_id__in=orgs
    ).values("person_id")
    return Person.objects.filter(Q(id__in=pupils) | Q(id__in=staff)).values("id")


def _reads_sensitive(user: User) -> bool:
    """Roles reading sensitive fields; also a school's own software (a system account scoped to
    one school), which holds its pupils' full records already."""
    if user.role in SENSITIVE_READERS:
        return True
    scope = user.scope if user.role == User.Role.SYSTEM and user.scope_id else None
    return scope is not None and scope.kind in Organisation.SCHOOL_KINDS


def can_read_sensitive(user: User, person=None) -> bool:
    """Whether the user's role may read sensitive fields, and of this person if one is given."""
    if is_unrestricted(user):
        return True
    if not _reads_sensitive(user):
        return False
    if person is None:
        return True
    from vnemis.registry.models import Person

    return Person.objects.filter(pk=person.pk, id__in=current_person_ids_in_scope(user)).exists()


def sensitive_person_ids(user: User, person_ids) -> set[int]:
    """Of ``person_ids`` (a page's, bounded), those whose sensitive fields the user may read:
    the same rule as ``can_read_sensitive`` in one query."""
    if not person_ids or not (is_unrestricted(user) or _reads_sensitive(user)):
        return set()
    from vnemis.registry.models import Person

    if is_unrestricted(user):
        return set(person_ids)
    return set(
        Person.objects.filter(id__in=list(person_ids))
        .filter(id__in=current_person_ids_in_scope(user))
        .values_list("id", flat=True)
    )


def can_write(user: User) -> bool:
    return is_unrestricted(user) or (user.is_authenticated and user.role in WRITERS)
