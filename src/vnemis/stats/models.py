"""What the statistics app stores in the database: snapshot state and the population table.

The analytics snapshot itself is Parquet on disk (``stats.snapshot``, docs/stats.md); these
tables only say how far it has read the change feed (``SnapshotMark``), what each partition
holds (``SnapshotPartition``) and what each refresh did (``SnapshotRefresh``).
``PopulationEstimate`` is the population by single year of age that enrolment ratios divide by.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SnapshotMark(models.Model):
    """Per dataset: the highest change number already written to the snapshot."""

    dataset = models.CharField(max_length=20, unique=True)
    change_seq = models.BigIntegerField(default=0)
    # When the refresh that set the mark started: verification outcomes carry no change number,
    # so persons whose verification was checked after this are rewritten too.
    as_of = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.dataset} ≤ {self.change_seq}"


class SnapshotPartition(models.Model):
    """One partition file of the snapshot as last written (school_year 0: not by year)."""

    dataset = models.CharField(max_length=20)
    school_year = models.PositiveSmallIntegerField(default=0)
    province = models.CharField(max_length=2, blank=True)
    rows = models.BigIntegerField(default=0)
    written_at = models.DateTimeField()
    # The change number the partition is written up to (at least its dataset's mark).
    change_seq = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["dataset", "-school_year", "province"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "school_year", "province"], name="uniq_snapshot_partition"
            )
        ]

    def __str__(self) -> str:
        return f"{self.dataset} {self.school_year} {self.province}"


class SnapshotRefresh(models.Model):
    """One refresh of the snapshot: why it ran, what it rewrote, how it ended."""

    class Trigger(models.TextChoices):
        APPROVAL = "approval", _("Sau khi duyệt báo cáo")
        MANUAL = "manual", _("Theo yêu cầu")
        SCHEDULE = "schedule", _("Theo lịch")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Đang chờ")
        RUNNING = "running", _("Đang chạy")
        SUCCEEDED = "succeeded", _("Hoàn thành")
        FAILED = "failed", _("Thất bại")

    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # What was asked: a province (blank = all), a school year (0 = all), a full rewrite.
    province = models.CharField(max_length=2, blank=True)
    school_year = models.PositiveSmallIntegerField(default=0)
    full = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # ["enrolments/school_year=2025/province=01", ...]: what this refresh rewrote or removed.
    partitions = models.JSONField(default=list, blank=True)
    rows = models.BigIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"refresh {self.pk} ({self.trigger}, {self.status})"


class PopulationEstimate(models.Model):
    """Population of one province by single year of age and sex, for one calendar year."""

    class Sex(models.TextChoices):
        MALE = "M", _("Nam")
        FEMALE = "F", _("Nữ")

    year = models.PositiveSmallIntegerField()
    province_code = models.CharField(max_length=2)
    age = models.PositiveSmallIntegerField()
    sex = models.CharField(max_length=1, choices=Sex.choices)
    count = models.PositiveIntegerField()
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["year", "province_code", "age", "sex"]
        constraints = [
            models.UniqueConstraint(
                fields=["year", "province_code", "age", "sex"], name="uniq_population_estimate"
            ),
            models.CheckConstraint(condition=Q(sex__in=["M", "F"]), name="population_sex_valid"),
            models.CheckConstraint(condition=Q(age__lte=120), name="population_age_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.province_code} {self.age}{self.sex}: {self.count}"
