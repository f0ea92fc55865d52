"""What a year-end rollover did, kept so that it can be followed, checked and undone.

A ``RolloverRun`` belongs to one ``core.Job``. It records the schools it claimed (one active
claim per school and year, so two runs can never move the same pupils), the class plan (each
old class → the new-year classes its promoted and repeating pupils go to), the classes it
created, and one row per enrolment it closed with the previous values needed to restore it.
The per-enrolment rows use plain integer links without database constraints: they are written
and read set-wise in bulk and the undo checks for rows changed or removed since.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

__all__ = [
    "RolloverClass",
    "RolloverClassMap",
    "RolloverEnrolment",
    "RolloverRun",
    "RolloverSchool",
]


class RolloverRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Đang chờ")
        RUNNING = "running", _("Đang chạy")
        SUCCEEDED = "succeeded", _("Hoàn thành")
        FAILED = "failed", _("Thất bại")
        UNDOING = "undoing", _("Đang hoàn tác")
        UNDONE = "undone", _("Đã hoàn tác")

    job = models.OneToOneField("core.Job", on_delete=models.PROTECT, related_name="rollover")
    scope = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="+")
    from_year = models.ForeignKey("registry.SchoolYear", on_delete=models.PROTECT, related_name="+")
    # Null once an undo has removed the year the run created (its code stays in ``counts``).
    to_year = models.ForeignKey(
        "registry.SchoolYear", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_to_year = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Who holds the run: every status change is a compare-and-set (PENDING/FAILED → RUNNING,
    # SUCCEEDED/FAILED → UNDOING), which writes a fresh token here. Only the holder of the token
    # moves the run on (each chunk re-checks it under the row lock) or marks it FAILED.
    executor = models.CharField(max_length=32, blank=True, default="")
    # Written by the holder at the claim and with every chunk: a run RUNNING (or UNDOING) whose
    # heartbeat is old lost its worker, and only the operator may take it over.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    planned = models.BooleanField(default=False)  # the class plan has been written
    cursor = models.BigIntegerField(default=0)  # last old enrolment id processed
    counts = models.JSONField(default=dict, blank=True)
    # Time of the last write of the run: anything in its rows changed after it was changed by
    # someone else, and the undo refuses.
    applied_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"rollover {self.from_year_id}→{self.to_year_id} @ {self.scope_id} ({self.status})"


class RolloverSchool(models.Model):
    """A school claimed by a run; at most one live claim per school and year."""

    run = models.ForeignKey(RolloverRun, on_delete=models.CASCADE, related_name="schools")
    school = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="+")
    from_year = models.ForeignKey("registry.SchoolYear", on_delete=models.PROTECT, related_name="+")
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school", "from_year"],
                condition=Q(active=True),
                name="one_live_rollover_per_school",
            )
        ]


class RolloverClassMap(models.Model):
    """Where the pupils of one old class go: promoted ones and repeating ones."""

    run = models.ForeignKey(RolloverRun, on_delete=models.CASCADE, related_name="class_maps")
    source_class = models.ForeignKey(
        "registry.SchoolClass", on_delete=models.PROTECT, related_name="+"
    )
    promote_to = models.ForeignKey(
        "registry.SchoolClass", null=True, on_delete=models.PROTECT, related_name="+"
    )
    repeat_to = models.ForeignKey(
        "registry.SchoolClass", null=True, on_delete=models.PROTECT, related_name="+"
    )
    is_last_grade = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "source_class"], name="uniq_rollover_class_map")
        ]


class RolloverClass(models.Model):
    """A new-year class the run created (classes that already existed are only reused)."""

    run = models.ForeignKey(RolloverRun, on_delete=models.CASCADE, related_name="created_classes")
    school_class = models.ForeignKey(
        "registry.SchoolClass", on_delete=models.PROTECT, related_name="+"
    )


class RolloverEnrolment(models.Model):
    """One enrolment closed by the run, its previous values and the enrolment created for it."""

    class Action(models.TextChoices):
        PROMOTE = "promote", _("Lên lớp")
        REPEAT = "repeat", _("Ở lại lớp")
        GRADUATE = "graduate", _("Hoàn thành cấp học")

    run = models.ForeignKey(RolloverRun, on_delete=models.CASCADE, related_name="enrolments")
    old_enrolment_id = models.BigIntegerField()
    pupil_id = models.BigIntegerField()
    action = models.CharField(max_length=8, choices=Action.choices)
    target_class_id = models.BigIntegerField(null=True)
    new_enrolment_id = models.BigIntegerField(null=True)
    old_status = models.CharField(max_length=16)
    old_ended_on = models.DateField(null=True)
    old_updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "old_enrolment_id"], name="uniq_rollover_enrolment"
            )
        ]
