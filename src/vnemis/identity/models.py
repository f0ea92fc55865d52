"""What is known of each person's identity: registry checks, their history, review and merges.

``Verification`` holds one row per person checked (the current outcome), ``VerificationEvent``
every outcome over time, ``VerificationRun`` a background run over a scope. The fingerprint is
a digest of the identifying fields as they were sent, so a run skips a person it has already
checked unless those fields changed; a database trigger (migration 0002) sets the status back
to unverified the moment they change.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# The identifying fields sent to the registry; the registry answers match or mismatch for each.
CHECKED_FIELDS = ("citizen_id", "full_name", "birth_date", "sex")


class VerificationStatus(models.TextChoices):
    UNVERIFIED = "unverified", _("Chưa xác thực")
    VERIFIED = "verified", _("Đã xác thực")
    MISMATCH = "mismatch", _("Thông tin chưa khớp")
    NOT_FOUND = "not_found", _("Không tìm thấy trong CSDL dân cư")
    NO_ID = "no_id", _("Chưa có số định danh cá nhân")


class VerificationMethod(models.TextChoices):
    ID_CHECK = "id_check", _("Đối chiếu số định danh")
    LINKAGE = "linkage", _("Ghép nối xác suất")
    REVIEW = "review", _("Cán bộ xác nhận")
    CHANGED = "changed", _("Thông tin định danh đã sửa")


class VerificationRun(models.Model):
    """A background verification of every unverified or changed person of a scope."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Đang chờ")
        RUNNING = "running", _("Đang chạy")
        SUCCEEDED = "succeeded", _("Hoàn thành")
        PAUSED = "paused", _("Tạm dừng: CSDL dân cư không phản hồi")
        FAILED = "failed", _("Thất bại")

    job = models.OneToOneField("core.Job", on_delete=models.PROTECT, related_name="verification")
    scope = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Persons are taken in id order; every person up to the cursor has been answered and saved.
    cursor = models.BigIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"verification @ {self.scope_id} ({self.status})"


class Verification(models.Model):
    """The latest outcome of checking one person against the population registry."""

    person = models.OneToOneField(
        "registry.Person", primary_key=True, on_delete=models.CASCADE, related_name="verification"
    )
    status = models.CharField(
        max_length=10, choices=VerificationStatus.choices, default=VerificationStatus.UNVERIFIED
    )
    method = models.CharField(max_length=10, choices=VerificationMethod.choices, blank=True)
    mismatched = models.JSONField(default=list, blank=True)  # names from CHECKED_FIELDS
    fingerprint = models.CharField(max_length=32, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    run = models.ForeignKey(
        VerificationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.person_id}: {self.status}"


class VerificationEvent(models.Model):
    """One outcome in a person's verification history (append-only)."""

    id = models.BigAutoField(primary_key=True)
    # Indexed by (person, id) below, which also serves the foreign key.
    person = models.ForeignKey(
        "registry.Person", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    status = models.CharField(max_length=10, choices=VerificationStatus.choices)
    method = models.CharField(max_length=10, choices=VerificationMethod.choices, blank=True)
    mismatched = models.JSONField(default=list, blank=True)
    at = models.DateTimeField()
    run = models.ForeignKey(
        VerificationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["person", "id"]
        indexes = [models.Index(fields=["person", "id"])]


class VerificationRate(models.Model):
    """Daily verification figures of one organisation (nation, province or school): the KPI."""

    day = models.DateField()
    organisation = models.ForeignKey(
        "orgs.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    persons = models.PositiveIntegerField(default=0)
    verified = models.PositiveIntegerField(default=0)
    mismatch = models.PositiveIntegerField(default=0)
    not_found = models.PositiveIntegerField(default=0)
    no_id = models.PositiveIntegerField(default=0)
    unverified = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "day"], name="one_rate_per_org_day")
        ]

    @property
    def share_verified(self) -> float:
        return self.verified / self.persons if self.persons else 0.0


class ReviewItem(models.Model):
    """A candidate pair between the thresholds, for a clerk to accept or reject.

    ``kind`` registry_link: one of our persons and a citizen of the registry's cohort extract
    (the citizen's fields are kept as shown, the ID encrypted); duplicate: two of our persons.
    """

    class Kind(models.TextChoices):
        REGISTRY_LINK = "registry_link", _("Ghép với CSDL dân cư")
        DUPLICATE = "duplicate", _("Hồ sơ trùng lặp")

    class Status(models.TextChoices):
        PENDING = "pending", _("Chờ xem xét")
        ACCEPTED = "accepted", _("Đã chấp nhận")
        REJECTED = "rejected", _("Đã từ chối")
        AUTO_ACCEPTED = "auto", _("Tự động chấp nhận")
        MERGED = "merged", _("Đã hợp nhất")

    kind = models.CharField(max_length=14, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    person = models.ForeignKey("registry.Person", on_delete=models.CASCADE, related_name="+")
    other_person = models.ForeignKey(
        "registry.Person", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    citizen_id_ciphertext = models.BinaryField(null=True, blank=True)
    citizen_id_index = models.CharField(max_length=32, blank=True)
    candidate = models.JSONField(default=dict, blank=True)  # the registry's fields, as shown
    match_probability = models.FloatField()
    match_weight = models.FloatField()
    explanation = models.JSONField(default=list, blank=True)  # per field: level and weight
    model_version = models.CharField(max_length=40)
    province_code = models.CharField(max_length=2)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-match_probability", "id"]
        indexes = [models.Index(fields=["kind", "status", "province_code"])]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "citizen_id_index"],
                condition=Q(kind="registry_link"),
                name="one_review_per_citizen_pair",
            ),
            models.UniqueConstraint(
                fields=["person", "other_person"],
                condition=Q(kind="duplicate"),
                name="one_review_per_duplicate_pair",
            ),
        ]


class EducationIdAlias(models.Model):
    """An education ID retired by a merge: it still leads to the person it was merged into."""

    education_id = models.CharField(max_length=12, unique=True)
    person = models.ForeignKey("registry.Person", on_delete=models.CASCADE, related_name="+")
    merge = models.OneToOneField("Merge", on_delete=models.CASCADE, related_name="alias")


class Merge(models.Model):
    """Two records of one pupil made one: what moved, so that it can be undone."""

    survivor = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+")
    merged_person_id = models.BigIntegerField()  # the removed record's id, restored on undo
    merged_education_id = models.CharField(max_length=12)
    # The removed person's row as it was, the ids of each moved row per table, and the
    # enrolments closed to keep one active enrolment per year with their previous values.
    snapshot = models.JSONField()
    review = models.ForeignKey(
        ReviewItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_at = models.DateTimeField(auto_now_add=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-merged_at"]


class EnrichmentExport(models.Model):
    """One delta of education attributes sent to the population registry."""

    since_seq = models.BigIntegerField()
    until_seq = models.BigIntegerField()
    rows = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-until_seq"]
