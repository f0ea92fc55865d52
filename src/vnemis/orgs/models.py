"""The organisation tree (Ministry → Departments → schools, universities), users and their scope.

Scope checks join ``OrgClosure`` (every ancestor/descendant pair, depth 0 included) in SQL, so a
Department user's query for pupils becomes one join, whatever the depth of the tree.
"""

import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from vnemis.core.change_numbers import change_seq_field
from vnemis.geo.models import Commune, Province


class Organisation(models.Model):
    class Kind(models.TextChoices):
        MINISTRY = "ministry", _("Bộ Giáo dục và Đào tạo")
        DEPARTMENT = "department", _("Sở Giáo dục và Đào tạo")
        SCHOOL = "school", _("Trường")
        UNIVERSITY = "university", _("Đại học")
        COLLEGE = "college", _("Cao đẳng")

    # Kinds that enrol learners (the others administer them).
    SCHOOL_KINDS = ("school", "university", "college")

    class Level(models.TextChoices):
        PRESCHOOL = "preschool", _("Mầm non")
        PRIMARY = "primary", _("Tiểu học")
        LOWER_SECONDARY = "lower_secondary", _("Trung học cơ sở")
        UPPER_SECONDARY = "upper_secondary", _("Trung học phổ thông")
        MULTI_LEVEL = "multi_level", _("Nhiều cấp học")
        CONTINUING = "continuing", _("Giáo dục thường xuyên")

    class Ownership(models.TextChoices):
        PUBLIC = "public", _("Công lập")
        PRIVATE = "private", _("Tư thục")
        PEOPLE_FOUNDED = "people_founded", _("Dân lập")

    class Status(models.TextChoices):
        OPEN = "open", _("Đang hoạt động")
        MERGED = "merged", _("Đã sáp nhập")
        CLOSED = "closed", _("Đã giải thể")

    # Grades each level teaches; preschool age groups are grade 0 (nhà trẻ, mẫu giáo are classes).
    LEVEL_GRADES = {
        "preschool": (0, 0),
        "primary": (1, 5),
        "lower_secondary": (6, 9),
        "upper_secondary": (10, 12),
        "multi_level": (1, 12),
        "continuing": (6, 12),
    }

    code = models.CharField(max_length=20, unique=True, help_text=_("Mã đơn vị chính thức"))
    name = models.CharField(max_length=255)
    name_search = models.CharField(max_length=255, db_index=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    level = models.CharField(max_length=16, choices=Level.choices, blank=True)
    ownership = models.CharField(max_length=16, choices=Ownership.choices, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    province = models.ForeignKey(
        Province, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    commune = models.ForeignKey(
        Commune, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    address = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    opened_on = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    change_seq = change_seq_field()  # change number: version and feed position

    class Meta:
        ordering = ["code"]
        indexes = [
            models.Index(fields=["kind", "province", "level"]),
            models.Index(fields=["commune"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True)
                | Q(opened_on__isnull=True)
                | Q(closed_on__gte=F("opened_on")),
                name="org_dates_in_order",
            ),
            models.CheckConstraint(
                condition=~Q(kind="school") | ~Q(level=""), name="school_has_level"
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_on__isnull=True)
                | (~Q(status="open") & Q(closed_on__isnull=False)),
                name="org_closed_iff_closed_on",
            ),
            models.CheckConstraint(
                condition=~Q(status="merged") | Q(merged_into__isnull=False),
                name="merged_has_target",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        from vnemis.core.text import clean_text, search_key

        self.name = clean_text(self.name)
        self.name_search = search_key(self.name)
        super().save(*args, **kwargs)

    @property
    def grade_range(self) -> tuple[int, int]:
        return self.LEVEL_GRADES.get(self.level, (0, 12))


class OrgClosure(models.Model):
    """Every (ancestor, descendant) pair of the tree, with the node itself at depth 0."""

    ancestor = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    descendant = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    depth = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ancestor", "descendant"], name="uniq_closure_pair")
        ]
        indexes = [models.Index(fields=["descendant", "ancestor"])]


class User(AbstractUser):
    class Role(models.TextChoices):
        MINISTRY = "ministry", _("Bộ GD&ĐT")
        DEPARTMENT = "department", _("Sở GD&ĐT")
        SCHOOL = "school", _("Nhà trường")
        TEACHER = "teacher", _("Giáo viên")
        SYSTEM = "system", _("Hệ thống (API)")
        CITIZEN = "citizen", _("Công dân")

    role = models.CharField(max_length=12, choices=Role.choices, default=Role.CITIZEN)
    scope = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text=_("Nút của cây tổ chức mà người dùng được phép làm việc"),
    )
    # The person this account belongs to: a teacher's staff record, a citizen's own record.
    person = models.ForeignKey(
        "registry.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["citizen"]) | Q(scope__isnull=False) | Q(is_superuser=True),
                name="staff_roles_have_scope",
            ),
            models.CheckConstraint(
                condition=~Q(role__in=["teacher", "citizen"])
                | Q(person__isnull=False)
                | Q(is_superuser=True),
                name="teacher_citizen_have_person",
            ),
        ]


class ApiToken(models.Model):
    """A system client's bearer token; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def digest_of(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()
