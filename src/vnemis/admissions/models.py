"""University admissions: the round, programmes and their places, wishes, runs and placements.

One ``AdmissionRound`` per year, tied to that year's graduation exam session. Institutions
declare ``Programme`` rows with places per admission method (``ProgrammeQuota``), the
combinations they accept and their weights (``ProgrammeCombination``), a minimum threshold and
their tie rule. Candidates keep an ordered list of ``Wish`` rows and pay a fee per wish; the
scoring writes one ``WishScore`` per wish (best combination, priority, eligibility), and every
virtual-filtering run (``MatchRun``) writes its ``Placement`` per candidate, its ``Cutoff`` per
programme and each ``MissedWish`` with its reason. Scores are integer hundredths of a point.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .catalogue import GROUPS, METHODS, REGIONS


class AdmissionRound(models.Model):
    """The national admission round of one year (đợt xét tuyển)."""

    year = models.PositiveSmallIntegerField(unique=True)
    exam_session = models.OneToOneField(
        "exams.ExamSession", on_delete=models.PROTECT, related_name="admission_round"
    )
    name = models.CharField(max_length=200)
    wishes_open_at = models.DateTimeField()
    wishes_close_at = models.DateTimeField()
    fee_per_wish = models.PositiveIntegerField(help_text=_("Lệ phí mỗi nguyện vọng (đồng)"))
    confirm_by = models.DateTimeField(null=True, blank=True)
    published_run = models.ForeignKey(
        "MatchRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    # Set when scores, wishes or places change: a run older than this is out of date.
    inputs_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-year"]
        constraints = [
            models.CheckConstraint(
                condition=Q(wishes_close_at__gt=models.F("wishes_open_at")),
                name="round_wishes_window_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Institution(models.Model):
    """A university or college taking part (mã trường such as BKA)."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=255)
    # Accounts scoped to this organisation manage the institution's programmes.
    organisation = models.ForeignKey(
        "orgs.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Combination(models.Model):
    """A subject combination (tổ hợp) such as A00: three exam subjects."""

    code = models.CharField(max_length=4, unique=True)
    name = models.CharField(max_length=100)
    subjects = models.JSONField()  # three exam subject codes

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Programme(models.Model):
    """A programme open to this round (ngành / chương trình, by its admission code)."""

    class Ties(models.TextChoices):
        ALL = "all", _("Nhận hết thí sinh bằng điểm ở ngưỡng (có thể vượt chỉ tiêu)")
        NONE = "none", _("Không nhận nhóm bằng điểm làm vượt chỉ tiêu")

    round = models.ForeignKey(AdmissionRound, on_delete=models.CASCADE, related_name="programmes")
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=20)  # institution code + programme code: BKA-7480201
    name = models.CharField(max_length=255)
    threshold = models.PositiveSmallIntegerField(
        default=1500, help_text=_("Ngưỡng đảm bảo chất lượng đầu vào (phần trăm điểm)")
    )
    ties = models.CharField(max_length=4, choices=Ties.choices, default=Ties.ALL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["round", "code"], name="uniq_programme_code"),
            models.CheckConstraint(condition=Q(threshold__lte=3000), name="threshold_on_scale"),
            models.CheckConstraint(condition=Q(ties__in=["all", "none"]), name="ties_valid"),
        ]
        indexes = [models.Index(fields=["round", "institution", "code"], name="programme_inst")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ProgrammeQuota(models.Model):
    """The places (chỉ tiêu) a programme gives one admission method."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="quotas")
    method = models.CharField(max_length=12, choices=list(METHODS.items()))
    quota = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["programme", "method"], name="uniq_programme_method"),
        ]


class ProgrammeCombination(models.Model):
    """A combination a programme accepts, with the weight of each subject (môn nhân hệ số)."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="combinations")
    combination = models.ForeignKey(Combination, on_delete=models.PROTECT, related_name="+")
    weights = models.JSONField(default=dict)  # exam subject code -> weight 1..3 (1 if absent)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "combination"], name="uniq_programme_combination"
            ),
        ]


class AdmissionProfile(models.Model):
    """A candidate's admission priority: region, priority group and bonus points."""

    candidate = models.OneToOneField(
        "exams.Candidate", on_delete=models.CASCADE, related_name="admission_profile"
    )
    region = models.CharField(
        max_length=5, choices=[(k, v[1]) for k, v in REGIONS.items()], default="KV3"
    )
    priority_group = models.CharField(
        max_length=3, choices=[(k, v[1]) for k, v in GROUPS.items()], blank=True, default=""
    )
    bonus = models.PositiveSmallIntegerField(default=0)  # hundredths, capped at 300
    evidence = models.CharField(max_length=255, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(bonus__lte=300), name="bonus_capped")]


class WishList(models.Model):
    """A candidate's list in a round: how many wishes the fees paid so far cover.

    The fee is per wish: ``paid_wishes`` is the total settled amount divided by the fee, so
    reordering or swapping a wish never asks for a new payment; wishes ranked beyond the paid
    count are not considered by the run until they are paid for.
    """

    round = models.ForeignKey(AdmissionRound, on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey("exams.Candidate", on_delete=models.CASCADE, related_name="+")
    paid_wishes = models.PositiveIntegerField(default=0)
    paid_amount = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "candidate"], name="one_wish_list"),
        ]


class Wish(models.Model):
    """One ranked wish (nguyện vọng) of a candidate; rank 1 is the first wish."""

    round = models.ForeignKey(
        AdmissionRound, on_delete=models.CASCADE, related_name="wishes", db_index=False
    )
    candidate = models.ForeignKey(
        "exams.Candidate", on_delete=models.CASCADE, related_name="wishes", db_index=False
    )
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="wishes")
    rank = models.PositiveIntegerField()  # 1..n without gaps: renumbered on every change
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["candidate", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["round", "candidate", "programme"], name="one_wish_per_programme"
            ),
            models.UniqueConstraint(fields=["round", "candidate", "rank"], name="uniq_wish_rank"),
            models.CheckConstraint(condition=Q(rank__gte=1), name="wish_rank_positive"),
        ]
        indexes = [
            # The matching job and the scoring walk a round in candidate order.
            models.Index(fields=["round", "candidate", "rank"], name="wish_round_walk"),
        ]


class WishScore(models.Model):
    """The admission score of one wish: the best accepted combination, priority included."""

    class Reason(models.TextChoices):
        ELIGIBLE = "", _("Đủ điều kiện xét tuyển")
        NO_COMBINATION = "no_combination", _("Không có đủ điểm các môn của tổ hợp nào ngành nhận")
        BELOW_THRESHOLD = "below_threshold", _("Điểm xét tuyển thấp hơn ngưỡng đầu vào")
        NOT_GRADUATED = "not_graduated", _("Chưa đỗ tốt nghiệp THPT")

    wish = models.OneToOneField(
        Wish, on_delete=models.CASCADE, primary_key=True, related_name="score"
    )
    combination = models.ForeignKey(
        Combination, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    raw = models.PositiveSmallIntegerField(null=True, blank=True)  # weighted, on 30
    priority = models.PositiveSmallIntegerField(default=0)
    bonus = models.PositiveSmallIntegerField(default=0)
    score = models.PositiveSmallIntegerField(null=True, blank=True)  # final, at most 3000
    reason = models.CharField(max_length=16, choices=Reason.choices, blank=True, default="")
    computed_at = models.DateTimeField()


class MatchRun(models.Model):
    """One virtual-filtering run of a round over the database."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Đang chờ")
        RUNNING = "running", _("Đang chạy")
        DONE = "done", _("Hoàn thành")
        FAILED = "failed", _("Lỗi")

    round = models.ForeignKey(AdmissionRound, on_delete=models.CASCADE, related_name="runs")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=255, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    candidates = models.PositiveIntegerField(default=0)
    wishes = models.PositiveIntegerField(default=0)
    placed = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)
    # SHA-256 of the engine's input (wishes, scores, quotas, tie rules): equal digests mean
    # equal results, so a run can be reproduced and compared.
    inputs_digest = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["round", "number"], name="uniq_run_number")]

    def __str__(self) -> str:
        return f"{self.round.year} #{self.number}"


class Placement(models.Model):
    """Where one run placed a candidate (no programme when none of their wishes succeeded)."""

    run = models.ForeignKey(MatchRun, on_delete=models.CASCADE, related_name="+", db_index=False)
    candidate = models.ForeignKey(
        "exams.Candidate", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    programme = models.ForeignKey(
        Programme, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    rank = models.PositiveIntegerField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "candidate"], name="uniq_run_placement"),
        ]
        indexes = [
            # An institution's admitted list, best first.
            models.Index(fields=["run", "programme", "score"], name="placement_programme"),
        ]


class Cutoff(models.Model):
    """A programme's cut-off score (điểm chuẩn) in one run."""

    run = models.ForeignKey(MatchRun, on_delete=models.CASCADE, related_name="cutoffs")
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="+")
    quota = models.PositiveIntegerField()
    admitted = models.PositiveIntegerField()
    score = models.PositiveSmallIntegerField(null=True, blank=True)  # None: nobody admitted
    rank = models.PositiveIntegerField(null=True, blank=True)  # the wish-order criterion

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "programme"], name="uniq_run_cutoff"),
        ]


class MissedWish(models.Model):
    """A wish ranked above the candidate's placement that the run refused, and why."""

    run = models.ForeignKey(MatchRun, on_delete=models.CASCADE, related_name="+", db_index=False)
    candidate = models.ForeignKey(
        "exams.Candidate", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    programme = models.ForeignKey(
        Programme, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    rank = models.PositiveIntegerField()
    score = models.PositiveSmallIntegerField()
    reason = models.PositiveSmallIntegerField()  # matching.Reason

    class Meta:
        indexes = [models.Index(fields=["run", "candidate", "rank"], name="missed_candidate")]


class Confirmation(models.Model):
    """A candidate's confirmation of enrolment (xác nhận nhập học) at their placement."""

    round = models.ForeignKey(AdmissionRound, on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey("exams.Candidate", on_delete=models.CASCADE, related_name="+")
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(MatchRun, on_delete=models.PROTECT, related_name="+")
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "candidate"], name="one_confirmation"),
        ]
