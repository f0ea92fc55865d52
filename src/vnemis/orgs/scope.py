"""Who may see and change what: the organisation scope of a user, as SQL sub-queries.

Every selector and action that touches registry data filters through these functions, so the web
pages, the API and exports obey the same rule. Scope follows the closure table: a Department
user reaches every school under its Department; a school user reaches only its school; a
teacher only the classes they are homeroom teacher of or teach; a citizen only their own record.
"""

from django.db.models import Q, QuerySet

from .models import Organisation, OrgClosure, User

# Roles allowed to read sensitive personal data (health, ethnicity) of individual persons
# (Decree 13/2023: minimum fields per use). Ministry and Department work from aggregates.
SENSITIVE_READERS = {User.Role.SCHOOL, User.Role.TEACHER, User.Role.CITIZEN}
# Roles that may change registry records (teachers read only; citizens request corrections).
WRITERS = {User.Role.SCHOOL, User.Role.DEPARTMENT, User.Role.MINISTRY, User.Role.SYSTEM}


def org_ids_in_scope(user: User):
    """A sub-query of every organisation id the user may reach (empty for citizens, teachers)."""
    if not user.is_authenticated or user.role in (User.Role.CITIZEN, User.Role.TEACHER):
        return OrgClosure.objects.none().values("descendant_id")
    if user.is_superuser and user.scope_id is None:
        return Organisation.objects.values("id")
    return OrgClosure.objects.filter(ancestor_id=user.scope_id).values("descendant_id")


def organisations_visible(user: User) -> QuerySet[Organisation]:
    if user.role == User.Role.TEACHER:
        return Organisation.objects.filter(id=user.scope_id)
    return Organisation.objects.filter(id__in=org_ids_in_scope(user))


def class_ids_in_scope(user: User):
    """Classes a user may reach: by school scope, or a teacher's own classes."""
    from vnemis.registry.models import SchoolClass, TeachingAssignment

    if user.role == User.Role.TEACHER:
        taught = TeachingAssignment.objects.filter(teacher_id=user.person_id).values(
            "school_class_id"
        )
        return SchoolClass.objects.filter(
            Q(homeroom_teacher_id=user.person_id) | Q(id__in=taught)
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


def can_read_sensitive(user: User) -> bool:
    return user.is_superuser or user.role in SENSITIVE_READERS


def can_write(user: User) -> bool:
    return user.is_superuser or user.role in WRITERS
