"""The graduation exam (kỳ thi tốt nghiệp THPT): sessions, candidates, rooms, scores, results.

One ``ExamSession`` per year. A ``Candidate`` is one registry person's candidacy in a session,
registered from their grade-12 enrolment or as a free candidate (thí sinh tự do); the graduation
result is kept on the candidate row so one set-wise pass writes it for the whole session.
``ExamResultLookup`` is the precomputed, read-only table the public result look-up serves: it
holds only what a candidate must see, and a keyed hash of the citizen ID, never the ID itself.

Scores are ``Decimal`` with two places everywhere (PostgreSQL numeric); the engine reads them as
whole hundredths, so no arithmetic on them is ever done in binary floating point.
"""

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from .catalogue import COMPULSORY, ELECTIVE, LANGUAGE

TWO_PLACES = {"max_digits": 4, "decimal_places": 2}


class ExamSession(models.Model):
    """A year's exam: the grade-12 school year it registers, its registration window and the
    moment results become visible."""

    year = models.PositiveSmallIntegerField(unique=True)
    name = models.CharField(max_length=200)
    school_year = models.ForeignKey(
        "registry.SchoolYear", on_delete=models.PROTECT, related_name="+"
    )
    registration_opens_at = models.DateTimeField()
    registration_closes_at = models.DateTimeField()
    results_publish_at = models.DateTimeField(null=True, blank=True)
    electives_required = models.PositiveSmallIntegerField(default=2)
    room_capacity = models.PositiveSmallIntegerField(default=24)
    # What has happened, so publication can refuse stale results: the last change of anything
    # the graduation score depends on (scores, points, exemptions, yearly averages).
    inputs_changed_at = models.DateTimeField(null=True, blank=True)
    graduated_at = models.DateTimeField(null=True, blank=True)
    lookup_built_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-year"]
        constraints = [
            models.CheckConstraint(
                condition=Q(registration_closes_at__gt=F("registration_opens_at")),
                name="exam_registration_in_order",
            ),
            models.CheckConstraint(
                condition=Q(results_publish_at__isnull=True)
                | Q(results_publish_at__gt=F("registration_closes_at")),
                name="exam_publish_after_registration",
            ),
            models.CheckConstraint(
                condition=Q(room_capacity__gte=1), name="exam_room_capacity_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ExamSubject(models.Model):
    """A paper of the exam (the catalogue of ``catalogue.SUBJECTS``, loaded by migration)."""

    class Category(models.TextChoices):
        COMPULSORY = COMPULSORY, _("Bắt buộc")
        ELECTIVE = ELECTIVE, _("Tự chọn")
        LANGUAGE = LANGUAGE, _("Ngoại ngữ (tự chọn)")

    code = models.CharField(max_length=8, unique=True)
    name_vi = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    category = models.CharField(max_length=10, choices=Category.choices)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name_vi


class Venue(models.Model):
    """An exam venue (điểm thi) of one province's council, usually an upper-secondary school."""

    session = models.ForeignKey(
        ExamSession, on_delete=models.CASCADE, related_name="venues", db_index=False
    )
    province_code = models.CharField(max_length=2)
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=255)
    address = models.CharField(max_length=255, blank=True)
    host = models.ForeignKey(
        "orgs.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["province_code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["session", "code"], name="uniq_exam_venue_code")
        ]
        indexes = [models.Index(fields=["session", "province_code", "code"])]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Room(models.Model):
    """An exam room (phòng thi) of a venue; never holds more candidates than its capacity."""

    venue = models.ForeignKey(Venue, on_delete=models.CASCADE, related_name="rooms", db_index=False)
    number = models.PositiveSmallIntegerField()
    capacity = models.PositiveSmallIntegerField(default=24)

    class Meta:
        ordering = ["venue", "number"]
        constraints = [
            models.UniqueConstraint(fields=["venue", "number"], name="uniq_exam_room"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="exam_room_has_seats"),
        ]

    def __str__(self) -> str:
        return f"{self.venue.code} P{self.number:03d}"


class Candidate(models.Model):
    """One person's candidacy in one session, with the graduation result once computed."""

    class Kind(models.TextChoices):
        SCHOOL = "school", _("Học sinh lớp 12")
        FREE = "free", _("Thí sinh tự do")

    class Result(models.TextChoices):
        NONE = "", _("Chưa xét")
        PASSED = "passed", _("Đỗ tốt nghiệp")
        FAILED = "failed", _("Không đỗ tốt nghiệp")
        INCOMPLETE = "incomplete", _("Chưa đủ dữ liệu để xét")

    id = models.BigAutoField(primary_key=True)
    # Foreign keys without their own index lead one of the composite indexes below.
    session = models.ForeignKey(
        ExamSession, on_delete=models.PROTECT, related_name="candidates", db_index=False
    )
    person = models.ForeignKey(
        "registry.Person", on_delete=models.PROTECT, related_name="exam_candidacies"
    )
    kind = models.CharField(max_length=6, choices=Kind.choices)
    enrolment = models.ForeignKey(
        "registry.Enrolment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # Where the candidate registered: their school, or for a free candidate the school or
    # Department that took the dossier. Scope follows this unit.
    unit = models.ForeignKey(
        "orgs.Organisation", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    province_code = models.CharField(max_length=2)  # the exam council; distribution key
    identity_status = models.CharField(max_length=10, default="unverified")
    identity_checked_at = models.DateTimeField(null=True, blank=True)
    candidate_number = models.CharField(max_length=8, blank=True, help_text=_("Số báo danh"))
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.PROTECT, related_name="candidates"
    )
    priority_points = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    incentive_points = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    three_year_average = models.DecimalField(null=True, blank=True, **TWO_PLACES)
    graduation_score = models.DecimalField(null=True, blank=True, **TWO_PLACES)
    result = models.CharField(max_length=10, choices=Result.choices, blank=True, default="")
    result_reason = models.CharField(max_length=20, blank=True, default="")
    result_computed_at = models.DateTimeField(null=True, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "person"], name="one_candidacy_per_session"),
            models.UniqueConstraint(
                fields=["session", "candidate_number"],
                condition=~Q(candidate_number=""),
                name="uniq_candidate_number",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["school", "free"]), name="candidate_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(priority_points__gte=0) & Q(incentive_points__gte=0),
                name="candidate_points_not_negative",
            ),
        ]
        indexes = [
            # A school's or Department's list, in candidate-number order (keyset pages).
            models.Index(
                fields=["session", "unit", "candidate_number", "id"], name="candidate_unit_list"
            ),
            # The national list (the Ministry's pages) in candidate-number order.
            models.Index(
                fields=["session", "candidate_number", "id"], name="candidate_number_list"
            ),
            # Numbering and room filling per province.
            models.Index(
                fields=["session", "province_code", "candidate_number", "id"],
                name="candidate_province_list",
            ),
            # Graduation and look-up refresh walk a session in id chunks.
            models.Index(fields=["session", "id"], name="candidate_session_walk"),
        ]

    def __str__(self) -> str:
        return self.candidate_number or f"#{self.pk}"


class CandidateSubject(models.Model):
    """A paper the candidate registered for; ``exempt`` for a language exempted by certificate."""

    candidate = models.ForeignKey(
        Candidate, on_delete=models.CASCADE, related_name="subjects", db_index=False
    )
    subject = models.ForeignKey(ExamSubject, on_delete=models.PROTECT, related_name="+")
    exempt = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["candidate", "subject"], name="uniq_candidate_subject")
        ]


class Claim(models.Model):
    """Something claimed with evidence: a priority category, a prize, a language certificate, or
    a document of a free candidate's dossier. Points apply only while not withdrawn, and of each
    kind only the highest counts."""

    class Kind(models.TextChoices):
        PRIORITY = "priority", _("Đối tượng ưu tiên")
        INCENTIVE = "incentive", _("Điểm khuyến khích (giải thưởng)")
        EXEMPTION = "exemption", _("Miễn thi ngoại ngữ (chứng chỉ)")
        DOCUMENT = "document", _("Giấy tờ hồ sơ")

    candidate = models.ForeignKey(
        Candidate, on_delete=models.CASCADE, related_name="claims", db_index=False
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    code = models.CharField(max_length=40)  # category, prize, certificate kind or document
    points = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    subject = models.ForeignKey(
        ExamSubject, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    document_number = models.CharField(max_length=60, blank=True)
    issuer = models.CharField(max_length=200, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    # An uploaded scan, stored under VAR_DIR/exams/evidence/ (path relative to it).
    file_path = models.CharField(max_length=255, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    note = models.CharField(max_length=255, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "-points", "id"]
        indexes = [models.Index(fields=["candidate", "kind"])]


class YearAverage(models.Model):
    """A candidate's yearly average of scored subjects for grade 10, 11 or 12.

    Collected from the registry's year results where they exist (``source=registry``); imported
    for the years the registry lacks (free candidates' older years).
    """

    class Source(models.TextChoices):
        REGISTRY = "registry", _("Từ CSDL học bạ")
        IMPORTED = "imported", _("Nhập từ tệp")

    candidate = models.ForeignKey(
        Candidate, on_delete=models.CASCADE, related_name="year_averages", db_index=False
    )
    grade = models.PositiveSmallIntegerField()
    average = models.DecimalField(**TWO_PLACES)
    source = models.CharField(max_length=8, choices=Source.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["grade"]
        constraints = [
            models.UniqueConstraint(fields=["candidate", "grade"], name="uniq_year_average"),
            models.CheckConstraint(condition=Q(grade__in=[10, 11, 12]), name="average_grade"),
            models.CheckConstraint(
                condition=Q(average__gte=0) & Q(average__lte=10), name="average_in_range"
            ),
        ]


class ExamImport(models.Model):
    """A file from the marking system or a council: scores, yearly averages or subject choices.

    The file and its error rows (``errors.parquet``) live in ``VAR_DIR/exams/imports/<id>/``;
    the errors grouped by cause are stored here to show with the job.
    """

    class Kind(models.TextChoices):
        SCORES = "scores", _("Điểm thi")
        AVERAGES = "averages", _("Điểm trung bình các năm học")
        CHOICES = "choices", _("Đăng ký môn thi")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Đang chờ")
        RUNNING = "running", _("Đang xử lý")
        SUCCEEDED = "succeeded", _("Hoàn thành")
        REJECTED = "rejected", _("Bị từ chối (có lỗi, không ghi gì)")
        FAILED = "failed", _("Thất bại")

    class Mode(models.TextChoices):
        APPLY_VALID = "apply_valid", _("Ghi các dòng hợp lệ, báo lỗi các dòng còn lại")
        ALL_OR_NOTHING = "all_or_nothing", _("Chỉ ghi khi toàn bộ tệp hợp lệ")

    FINISHED = (Status.SUCCEEDED, Status.REJECTED, Status.FAILED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(
        ExamSession, on_delete=models.PROTECT, related_name="imports", db_index=False
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    subject = models.ForeignKey(
        ExamSubject, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_name = models.CharField(max_length=255)
    source_format = models.CharField(max_length=10, blank=True)
    source_size = models.BigIntegerField(default=0)
    source_sha256 = models.CharField(max_length=64, blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.APPLY_VALID)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.BigIntegerField(default=0)
    rows_rejected = models.BigIntegerField(default=0)
    inserted = models.BigIntegerField(default=0)
    updated = models.BigIntegerField(default=0)
    unchanged = models.BigIntegerField(default=0)
    error_count = models.BigIntegerField(default=0)
    causes = models.JSONField(default=list, blank=True)
    headers = models.JSONField(default=dict, blank=True)  # column → header as the file wrote it
    error = models.TextField(blank=True)  # why it failed, "vi / en"; never personal data
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["session", "-created_at"], name="exam_import_list")]

    @property
    def workdir(self) -> Path:
        return Path(settings.VAR_DIR) / "exams" / "imports" / str(self.pk)

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def no_changes(self) -> bool:
        """Finished, applied and nothing changed: the file was already in."""
        return (
            self.status == self.Status.SUCCEEDED
            and not self.dry_run
            and self.inserted == 0
            and self.updated == 0
        )


class Score(models.Model):
    """A candidate's score on one paper (0–10, two decimals)."""

    candidate = models.ForeignKey(
        Candidate, on_delete=models.CASCADE, related_name="scores", db_index=False
    )
    subject = models.ForeignKey(
        ExamSubject, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    score = models.DecimalField(**TWO_PLACES)
    source_import = models.ForeignKey(
        ExamImport,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["candidate", "subject"], name="uniq_exam_score"),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=10), name="exam_score_in_range"
            ),
        ]


class Appeal(models.Model):
    """A re-marking request (phúc khảo) on one paper, and its decision."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Đang chờ chấm phúc khảo")
        DECIDED = "decided", _("Đã có kết quả phúc khảo")

    candidate = models.ForeignKey(
        Candidate, on_delete=models.CASCADE, related_name="appeals", db_index=False
    )
    subject = models.ForeignKey(ExamSubject, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    request_note = models.CharField(max_length=500, blank=True)
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    filed_at = models.DateTimeField(auto_now_add=True)
    old_score = models.DecimalField(null=True, blank=True, **TWO_PLACES)
    new_score = models.DecimalField(null=True, blank=True, **TWO_PLACES)
    decision_note = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-filed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "subject"],
                condition=Q(status="pending"),
                name="one_pending_appeal_per_paper",
            )
        ]
        indexes = [models.Index(fields=["candidate", "filed_at"])]


class ScoreChange(models.Model):
    """Every change of a recorded score, with the old value, why, who and when (append-only)."""

    class Kind(models.TextChoices):
        IMPORT = "import", _("Nhập lại từ tệp chấm thi")
        APPEAL = "appeal", _("Phúc khảo")

    id = models.BigAutoField(primary_key=True)
    candidate = models.ForeignKey(
        Candidate, on_delete=models.CASCADE, related_name="score_changes", db_index=False
    )
    subject = models.ForeignKey(ExamSubject, on_delete=models.PROTECT, related_name="+")
    old_score = models.DecimalField(**TWO_PLACES)
    new_score = models.DecimalField(**TWO_PLACES)
    kind = models.CharField(max_length=6, choices=Kind.choices)
    reason = models.CharField(max_length=500, blank=True)
    appeal = models.ForeignKey(
        Appeal, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    source_import = models.ForeignKey(
        ExamImport,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["candidate", "changed_at"])]


class ExamResultLookup(models.Model):
    """The public result look-up, precomputed: one row per candidate with a number.

    Written only by ``lookup.lookup_refresh`` (after graduation or an appeal); the public service
    reads it and nothing else. ``citizen_key`` is ``lookup.citizen_key(year, id)``: a keyed hash,
    so a copy of this table reveals no citizen ID. ``scores`` maps subject codes to "7.25", or to
    "MT" (miễn thi) for an exempted language.
    """

    id = models.BigAutoField(primary_key=True)
    session = models.ForeignKey(
        ExamSession, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    candidate_id = models.BigIntegerField()  # not a foreign key: the table may live elsewhere
    candidate_number = models.CharField(max_length=8)
    citizen_key = models.CharField(max_length=32, blank=True)
    full_name = models.CharField(max_length=150)
    birth_date = models.DateField()
    scores = models.JSONField(default=dict)
    graduation_score = models.DecimalField(null=True, blank=True, **TWO_PLACES)
    result = models.CharField(max_length=10, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "candidate_number"], name="uniq_lookup_number"
            ),
            models.UniqueConstraint(fields=["session", "candidate_id"], name="uniq_lookup_cand"),
        ]
        indexes = [models.Index(fields=["session", "citizen_key"], name="lookup_citizen")]
