"""Import jobs (files from people, batches from school software) and idempotency records.

An import is a staged job: the file is kept under ``VAR_DIR/imports/<id>/``, read in chunks
into canonical exchange-format files (intake: parse, normalise, validate), then loaded chunk by
chunk into the registry (engine). ``chunks_done`` is written in the same transaction as each
chunk, so a worker killed mid-import leaves whole chunks only and the job resumes after them.
Row-level errors live in ``errors.parquet`` beside the file, not in a table: 100,000 errors in
one file are a normal day.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Đang chờ")
        VALIDATING = "validating", _("Đang kiểm tra")
        APPLYING = "applying", _("Đang ghi dữ liệu")
        SUCCEEDED = "succeeded", _("Hoàn thành")
        REJECTED = "rejected", _("Bị từ chối (có lỗi, không ghi gì)")
        FAILED = "failed", _("Thất bại")
        CANCELLED = "cancelled", _("Đã huỷ")

    class Mode(models.TextChoices):
        APPLY_VALID = "apply_valid", _("Ghi các dòng hợp lệ, báo lỗi các dòng còn lại")
        ALL_OR_NOTHING = "all_or_nothing", _("Chỉ ghi khi toàn bộ tệp hợp lệ")

    class Origin(models.TextChoices):
        WEB = "web", _("Trang web")
        API = "api", _("API")
        CLI = "cli", _("Dòng lệnh")
        SYNC = "sync", _("Đồng bộ")
        ONEROSTER = "oneroster", _("OneRoster")

    FINISHED = (Status.SUCCEEDED, Status.REJECTED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The school the data is for; null for a Department or Ministry import of many schools
    # (then every row names its school and must be inside the caller's scope).
    school = models.ForeignKey(
        "orgs.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.WEB)
    entity = models.CharField(max_length=30, blank=True)  # standard entity; "" = detect
    source_name = models.CharField(max_length=255)  # the uploaded file's name, as given
    source_format = models.CharField(max_length=10, blank=True)  # csv, xlsx, parquet, jsonl
    source_size = models.BigIntegerField(default=0)
    source_sha256 = models.CharField(max_length=64, blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.APPLY_VALID)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    # Progress: rows read by intake, then rows applied by the engine (``done`` of ``total``).
    total = models.BigIntegerField(default=0)
    done = models.BigIntegerField(default=0)
    # Resume point: entity name → chunks committed (written inside each chunk's transaction).
    chunks_done = models.JSONField(default=dict, blank=True)
    rows_valid = models.BigIntegerField(default=0)
    rows_rejected = models.BigIntegerField(default=0)
    inserted = models.BigIntegerField(default=0)
    updated = models.BigIntegerField(default=0)
    unchanged = models.BigIntegerField(default=0)
    error_count = models.BigIntegerField(default=0)
    # Errors grouped by cause: [{"code", "column", "count", "message_vi", "message_en",
    # "sample_rows"}], largest first.
    causes = models.JSONField(default=list, blank=True)
    result = models.JSONField(default=dict, blank=True)  # per-entity counts from the engine
    error = models.TextField(blank=True)  # why a job failed (never personal data)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The claim token of the worker running the job (compare-and-set: two workers never run
    # one job); every progress write checks it, so a worker that lost the job stops.
    executor = models.CharField(max_length=32, blank=True)
    # A cancel asked while rows are being applied: the worker stops after the current chunk.
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # a stale one = dead worker
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["school", "-created_at"]),
            models.Index(fields=["created_by", "-created_at"]),
            models.Index(fields=["status"]),
        ]

    def __str__(self) -> str:
        return f"import {self.id} {self.status}"

    @property
    def workdir(self):
        return settings.VAR_DIR / "imports" / str(self.id)

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def no_changes(self) -> bool:
        """A finished, written import that changed nothing (the same file again)."""
        return (
            self.status == self.Status.SUCCEEDED
            and not self.dry_run
            and self.inserted == 0
            and self.updated == 0
        )

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return min(100, int(self.done * 100 / self.total)) if self.total else 0


class IdempotencyRecord(models.Model):
    """A sync-API request applied once: a retry with the same key replays the stored answer."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    request_sha256 = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="uniq_idempotency_key")
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"
