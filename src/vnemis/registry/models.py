"""The national registry: school years, classes, persons, enrolments, staff, results, health.

Big tables carry ``province_code`` (the current two-digit province) so they can be partitioned or
distributed by it (DESIGN.md §5). Internal keys are surrogate ids; official codes are unique
attributes that may change.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from vnemis.core.change_numbers import change_seq_field
from vnemis.geo.models import Commune, Province
from vnemis.orgs.models import Organisation


class Sex(models.TextChoices):
    MALE = "M", _("Nam")
    FEMALE = "F", _("Nữ")


class Ethnicity(models.Model):
    """One of the 54 ethnic groups (dân tộc), official two-digit code; 55 foreign, 56 unknown."""

    code = models.CharField(max_length=2, unique=True)
    name = models.CharField(max_length=50)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Subject(models.Model):
    """A subject (môn học) or educational activity, scored 0–10 or assessed by comment."""

    class Assessment(models.TextChoices):
        SCORE = "score", _("Đánh giá bằng điểm số")
        COMMENT = "comment", _("Đánh giá bằng nhận xét")

    code = models.CharField(max_length=20, unique=True)
    name_vi = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    assessment = models.CharField(max_length=8, choices=Assessment.choices)
    levels = models.JSONField(default=list)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name_vi


class SchoolYear(models.Model):
    code = models.CharField(max_length=9, unique=True)  # "2025-2026"
    start_year = models.PositiveSmallIntegerField(unique=True)
    starts_on = models.DateField()
    ends_on = models.DateField()
    is_current = models.BooleanField(default=False)

    class Meta:
        ordering = ["-start_year"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gt=F("starts_on")), name="year_dates_in_order"
            ),
            models.UniqueConstraint(
                fields=["is_current"], condition=Q(is_current=True), name="one_current_year"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Term(models.Model):
    school_year = models.ForeignKey(SchoolYear, on_delete=models.CASCADE, related_name="terms")
    number = models.PositiveSmallIntegerField()
    starts_on = models.DateField()
    ends_on = models.DateField()

    class Meta:
        ordering = ["school_year", "number"]
        constraints = [
            models.UniqueConstraint(fields=["school_year", "number"], name="uniq_term"),
            models.CheckConstraint(condition=Q(number__in=[1, 2]), name="term_number_valid"),
            models.CheckConstraint(
                condition=Q(ends_on__gt=F("starts_on")), name="term_dates_in_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.school_year} HK{self.number}"


class Person(models.Model):
    """A pupil or a member of staff: one record per human being, for life."""

    class Disability(models.TextChoices):
        NONE = "", _("Không")
        VISION = "vision", _("Khuyết tật nhìn")
        HEARING = "hearing", _("Khuyết tật nghe, nói")
        PHYSICAL = "physical", _("Khuyết tật vận động")
        INTELLECTUAL = "intellectual", _("Khuyết tật trí tuệ")
        MENTAL = "mental", _("Khuyết tật thần kinh, tâm thần")
        AUTISM = "autism", _("Tự kỷ")
        MULTIPLE = "multiple", _("Đa tật")
        OTHER = "other", _("Khuyết tật khác")

    # Policy/priority categories (đối tượng chính sách); codes are kept as data in the standard.
    POLICY_CATEGORIES = {
        "ethnic_minority": _("Dân tộc thiểu số"),
        "poor_household": _("Hộ nghèo"),
        "near_poor_household": _("Hộ cận nghèo"),
        "disadvantaged_area": _("Vùng đặc biệt khó khăn"),
        "martyr_child": _("Con liệt sĩ"),
        "war_invalid_child": _("Con thương binh, bệnh binh"),
        "orphan": _("Mồ côi"),
        "disabled": _("Khuyết tật"),
    }

    education_id = models.CharField(
        max_length=12, unique=True, help_text=_("Mã định danh giáo dục")
    )
    full_name = models.CharField(max_length=150)
    family_name = models.CharField(max_length=50)
    middle_name = models.CharField(max_length=100, blank=True)
    given_name = models.CharField(max_length=50)
    name_search = models.CharField(max_length=150)
    birth_date = models.DateField()
    sex = models.CharField(max_length=1, choices=Sex.choices)
    # No index on the reference-data keys below: nothing looks persons up by them (statistics
    # read the snapshot), and every bulk insert would pay for the index.
    ethnicity = models.ForeignKey(
        Ethnicity, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    nationality = models.CharField(max_length=2, default="VN")
    birth_province = models.ForeignKey(
        Province, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    birth_place = models.CharField(max_length=255, blank=True)
    permanent_commune = models.ForeignKey(
        Commune, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    permanent_address = models.CharField(max_length=255, blank=True)
    policy_categories = models.JSONField(default=list, blank=True)
    disability = models.CharField(max_length=12, choices=Disability.choices, blank=True, default="")
    # Citizen ID (CCCD): AES-GCM ciphertext, keyed blind index for exact look-up, last three
    # digits for masked display. Never stored in clear.
    citizen_id_ciphertext = models.BinaryField(null=True, blank=True)
    citizen_id_index = models.CharField(max_length=32, blank=True, db_index=True)
    citizen_id_last3 = models.CharField(max_length=3, blank=True)
    province_code = models.CharField(max_length=2)  # distribution key, never a filter alone
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    change_seq = change_seq_field()  # change number: version and feed position

    class Meta:
        ordering = ["given_name", "family_name", "middle_name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(sex__in=["M", "F"]), name="person_sex_valid"),
            models.CheckConstraint(
                condition=Q(birth_date__gte="1900-01-01"), name="person_birth_plausible"
            ),
            models.CheckConstraint(condition=~Q(full_name=""), name="person_has_name"),
        ]

    def __str__(self) -> str:
        return self.full_name


class EducationIdCounter(models.Model):
    """The last sequence number issued per province and year; it only ever increases."""

    province_code = models.CharField(max_length=2)
    year = models.PositiveSmallIntegerField()
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["province_code", "year"], name="uniq_eduid_counter")
        ]


class SchoolClass(models.Model):
    """A class (lớp) of one school in one school year."""

    school = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="classes")
    school_year = models.ForeignKey(SchoolYear, on_delete=models.PROTECT, related_name="classes")
    grade = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=30)
    homeroom_teacher = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="homeroom_classes"
    )
    two_sessions = models.BooleanField(default=False)
    combined_grades = models.BooleanField(default=False)
    province_code = models.CharField(max_length=2)
    change_seq = change_seq_field()  # change number: version and feed position

    class Meta:
        ordering = ["grade", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "school_year", "name"], name="uniq_class_name"
            ),
            models.CheckConstraint(condition=Q(grade__lte=12), name="class_grade_valid"),
        ]
        indexes = [
            models.Index(fields=["school_year", "province_code", "grade"]),
            # The API's class list: a school's classes of a year in (grade, name, id) order.
            models.Index(
                fields=["school", "school_year", "grade", "name", "id"], name="class_school_list"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EnrolmentStatus(models.TextChoices):
    STUDYING = "studying", _("Đang học")
    TRANSFERRED_IN = "transferred_in", _("Chuyển đến")
    REPEATING = "repeating", _("Lưu ban")
    TRANSFERRED_OUT = "transferred_out", _("Chuyển đi")
    DROPPED_OUT = "dropped_out", _("Bỏ học")
    GRADUATED = "graduated", _("Tốt nghiệp / hoàn thành cấp học")
    COMPLETED = "completed", _("Hoàn thành năm học")


ACTIVE_STATUSES = ("studying", "transferred_in", "repeating")


class Enrolment(models.Model):
    """A pupil in a class for a school year, with its current status (history below)."""

    # The foreign keys have no single-column indexes: each leads one of the composite indexes
    # in Meta (school_year is only ever filtered with the school or the pupil).
    pupil = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="enrolments", db_index=False
    )
    school_class = models.ForeignKey(
        SchoolClass, on_delete=models.PROTECT, related_name="enrolments", db_index=False
    )
    school = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="enrolments", db_index=False
    )
    school_year = models.ForeignKey(
        SchoolYear, on_delete=models.PROTECT, related_name="enrolments", db_index=False
    )
    pupil_code = models.CharField(max_length=30, blank=True, help_text=_("Mã học sinh của trường"))
    status = models.CharField(
        max_length=16, choices=EnrolmentStatus.choices, default=EnrolmentStatus.STUDYING
    )
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    province_code = models.CharField(max_length=2)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    change_seq = change_seq_field()  # change number: version and feed position

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pupil", "school_year"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="one_active_enrolment",
            ),
            models.UniqueConstraint(
                fields=["school", "school_year", "pupil_code"],
                condition=~Q(pupil_code=""),
                name="uniq_pupil_code",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="enrolment_dates_in_order",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in EnrolmentStatus]),
                name="enrolment_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["school", "school_year", "status"]),
            models.Index(fields=["school_class", "status"]),
            models.Index(fields=["pupil", "school_year"]),
            # The API's enrolment list of a school (or a few), read in id order.
            models.Index(fields=["school", "id"], name="enrolment_school_list"),
        ]

    def __str__(self) -> str:
        return f"{self.pupil_id} @ {self.school_class_id} ({self.status})"


class EnrolmentStatusChange(models.Model):
    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="history")
    status = models.CharField(max_length=16, choices=EnrolmentStatus.choices)
    effective_on = models.DateField()
    note = models.CharField(max_length=255, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)
    # Unindexed: one row per pupil and status change, and nothing lists changes by their author.
    recorded_by = models.ForeignKey(
        "orgs.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["effective_on", "id"]


class StaffAssignment(models.Model):
    """A member of staff's post at a school: role, subjects, qualification, contract."""

    class Role(models.TextChoices):
        PRINCIPAL = "principal", _("Hiệu trưởng")
        VICE_PRINCIPAL = "vice_principal", _("Phó hiệu trưởng")
        TEACHER = "teacher", _("Giáo viên")
        STAFF = "staff", _("Nhân viên")

    class Qualification(models.TextChoices):
        DOCTORATE = "doctorate", _("Tiến sĩ")
        MASTER = "master", _("Thạc sĩ")
        BACHELOR = "bachelor", _("Đại học")
        COLLEGE = "college", _("Cao đẳng")
        INTERMEDIATE = "intermediate", _("Trung cấp")
        OTHER = "other", _("Khác")

    class Contract(models.TextChoices):
        PERMANENT = "permanent", _("Viên chức (biên chế)")
        FIXED_TERM = "fixed_term", _("Hợp đồng có thời hạn")
        LABOUR = "labour", _("Hợp đồng lao động")
        VISITING = "visiting", _("Thỉnh giảng")

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="assignments")
    school = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="staff_assignments"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    subjects = models.JSONField(default=list, blank=True)
    qualification = models.CharField(max_length=16, choices=Qualification.choices)
    contract_type = models.CharField(max_length=16, choices=Contract.choices)
    staff_code = models.CharField(max_length=30, blank=True)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    province_code = models.CharField(max_length=2)
    change_seq = change_seq_field()  # change number: version and feed position

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                name="assignment_dates_in_order",
            ),
            models.CheckConstraint(
                condition=Q(role__in=["principal", "vice_principal", "teacher", "staff"]),
                name="assignment_role_valid",
            ),
        ]
        indexes = [models.Index(fields=["school", "role"]), models.Index(fields=["person"])]


class TeachingAssignment(models.Model):
    """Who teaches which subject to which class (phân công giảng dạy)."""

    school_class = models.ForeignKey(SchoolClass, on_delete=models.CASCADE, related_name="teaching")
    teacher = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="teaching")
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    change_seq = change_seq_field()  # change number: version and feed position

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school_class", "subject", "teacher"], name="uniq_teaching"
            )
        ]
        indexes = [models.Index(fields=["teacher"])]


class Period(models.TextChoices):
    TERM1 = "term1", _("Học kỳ I")
    TERM2 = "term2", _("Học kỳ II")
    YEAR = "year", _("Cả năm")


class SubjectResult(models.Model):
    """A subject's result for a term or the year: a 0–10 score or a rating, per the current rules.

    Secondary (Circular 22/2021): scored subjects one decimal, comment subjects Đ/CĐ. Primary
    (Circular 27/2020): ratings T/H/C with a whole-number periodic test score where one is given.
    """

    RATINGS = (
        "D",
        "CD",
        "T",
        "H",
        "C",
    )  # Đạt, Chưa đạt; Hoàn thành tốt, Hoàn thành, Chưa hoàn thành

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="results")
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    period = models.CharField(max_length=5, choices=Period.choices)
    score = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    rating = models.CharField(max_length=2, blank=True)
    province_code = models.CharField(max_length=2)
    change_seq = change_seq_field()  # change number: version and feed position

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "subject", "period"], name="uniq_subject_result"
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | (Q(score__gte=0) & Q(score__lte=10)),
                name="score_in_range",
            ),
            models.CheckConstraint(
                condition=Q(rating__in=["", "D", "CD", "T", "H", "C"]), name="rating_valid"
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=False) | ~Q(rating=""), name="result_has_value"
            ),
        ]


class ResultSummary(models.Model):
    """Per term and year: learning and conduct ratings (Tốt/Khá/Đạt/Chưa đạt) and the year outcome."""

    class Rating(models.TextChoices):
        GOOD = "T", _("Tốt")
        FAIR = "K", _("Khá")
        PASS = "D", _("Đạt")
        FAIL = "CD", _("Chưa đạt")

    class Outcome(models.TextChoices):
        PROMOTED = "promoted", _("Được lên lớp")
        REASSESS = "reassess", _("Kiểm tra, đánh giá lại trong hè")
        REPEAT = "repeat", _("Ở lại lớp")
        COMPLETED_LEVEL = "completed_level", _("Hoàn thành chương trình cấp học")

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="summaries")
    period = models.CharField(max_length=5, choices=Period.choices)
    learning_rating = models.CharField(max_length=2, choices=Rating.choices, blank=True)
    conduct_rating = models.CharField(max_length=2, choices=Rating.choices, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    province_code = models.CharField(max_length=2)
    change_seq = change_seq_field()  # change number: version and feed position

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "period"], name="uniq_result_summary"),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(period="year"), name="outcome_only_for_year"
            ),
        ]


class HealthRecord(models.Model):
    """One measurement (sensitive data: only roles that need it may read it)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="health_records")
    school = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    measured_on = models.DateField()
    height_cm = models.DecimalField(max_digits=4, decimal_places=1)
    weight_kg = models.DecimalField(max_digits=4, decimal_places=1)
    bmi = models.DecimalField(max_digits=4, decimal_places=1)
    # Visual acuity in tenths (10 = 10/10), per eye.
    eyesight_left = models.PositiveSmallIntegerField(null=True, blank=True)
    eyesight_right = models.PositiveSmallIntegerField(null=True, blank=True)
    province_code = models.CharField(max_length=2)
    change_seq = change_seq_field()  # change number: version and feed position

    class Meta:
        ordering = ["-measured_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(height_cm__gte=40) & Q(height_cm__lte=230), name="height_plausible"
            ),
            models.CheckConstraint(
                condition=Q(weight_kg__gte=2) & Q(weight_kg__lte=250), name="weight_plausible"
            ),
            models.CheckConstraint(
                condition=(Q(eyesight_left__isnull=True) | Q(eyesight_left__lte=10))
                & (Q(eyesight_right__isnull=True) | Q(eyesight_right__lte=10)),
                name="eyesight_valid",
            ),
            models.UniqueConstraint(
                fields=["person", "measured_on"], name="uniq_health_measurement"
            ),
        ]


from .models_rollover import *  # noqa
from .models_search import *  # noqa
from .models_changes import *  # noqa
