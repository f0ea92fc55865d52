"""Reporting periods and each school's submission for a period (DHIS2-style approval and lock).

A school prepares its data, checks completeness and submits; the Department approves (the
school's data for that school year is then locked against imports and sync) or returns it
with a reason (unlocked again). Every transition is an event with who, when and why.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ReportingPeriod(models.Model):
    class Kind(models.TextChoices):
        START_OF_YEAR = "start_of_year", _("Đầu năm học")
        END_OF_TERM1 = "end_of_term1", _("Cuối học kỳ I")
        END_OF_YEAR = "end_of_year", _("Cuối năm học")

    school_year = models.ForeignKey(
        "registry.SchoolYear", on_delete=models.PROTECT, related_name="reporting_periods"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    as_of = models.DateField()  # data as of (Circular 25/2024: 30/09, 31/05)
    opens_on = models.DateField()
    due_on = models.DateField()

    class Meta:
        ordering = ["school_year__start_year", "as_of"]
        constraints = [
            models.UniqueConstraint(fields=["school_year", "kind"], name="uniq_reporting_period"),
            models.CheckConstraint(
                condition=Q(opens_on__lte=models.F("due_on")), name="period_dates_in_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.school_year} {self.kind}"


class Submission(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Đang chuẩn bị")
        SUBMITTED = "submitted", _("Đã nộp, chờ duyệt")
        APPROVED = "approved", _("Đã duyệt")
        RETURNED = "returned", _("Bị trả lại")

    # While submitted or approved, the school's data of that school year is locked.
    LOCKING = (Status.SUBMITTED, Status.APPROVED)

    school = models.ForeignKey(
        "orgs.Organisation", on_delete=models.PROTECT, related_name="submissions"
    )
    period = models.ForeignKey(
        ReportingPeriod, on_delete=models.PROTECT, related_name="submissions"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # Completeness at the last check: [{"code", "ok", "count", "total", "message_vi",
    # "message_en"}]; and the headline counts (classes, pupils, staff...) frozen at submit.
    checks = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    return_reason = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["school", "period"], name="uniq_submission")]
        indexes = [models.Index(fields=["period", "status"])]

    def __str__(self) -> str:
        return f"{self.school_id} {self.period_id} {self.status}"


class SubmissionEvent(models.Model):
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    note = models.TextField(blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]


class Reminder(models.Model):
    """A reminder sent by a Department to a school late with its submission.

    The school sees it on its submission page (date, period, the Department's note) whether or
    not any of its users has an e-mail address; e-mail is sent besides, where there is one.
    ``sent_on`` (the Vietnamese calendar day) with a unique constraint is the rate limit: two
    officers pressing "Nhắc nhở" at the same moment still send one e-mail per school per day.
    """

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="reminders")
    school = models.ForeignKey(
        "orgs.Organisation", on_delete=models.CASCADE, related_name="+", null=True
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(auto_now_add=True)
    sent_on = models.DateField(null=True)
    recipients = models.PositiveIntegerField(default=0)  # school users e-mailed
    note = models.TextField(blank=True)  # the Department's words to the school

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "sent_on"], name="one_reminder_per_school_day"
            )
        ]
