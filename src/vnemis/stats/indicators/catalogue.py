"""The indicator catalogue: what each indicator means (for its definition page) and its formula.

Texts are Vietnamese first (gettext msgids); the formula itself is ``definitions.py``.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from . import definitions as d

POPULATION_DIMS = ("sex", "province")
PUPIL_DIMS = (
    "sex",
    "province",
    "school_id",
    "ethnicity",
    "ethnic_group",
    "urban_rural",
    "ownership",
)


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    formula: str
    numerator: str
    denominator: str
    unit: str
    dimensions: tuple[str, ...]  # besides year and level
    sources: tuple[str, ...]  # cube tables read
    caveats: str
    build: Callable | None = None  # (year, level, levels) -> Ratio; None for composites
    by_grade: bool = False
    by_sex: bool = True
    uis: bool = True

    @property
    def needs_next_year(self) -> bool:
        """Flow indicators (reconstructed cohort) read year t + 1 as well."""
        return self.code in FLOW_CODES

    @property
    def url_code(self) -> str:
        return self.code.lower()


PERCENT = _("phần trăm (%)")
FLOW_CODES = {
    "PROMOTION_RATE", "REPETITION_RATE", "DROPOUT_RATE", "SURVIVAL_RATE", "TRANSITION_RATE",
}  # fmt: skip
FLOW = _(
    "Phương pháp dòng học sinh tái tạo (UIS): dùng số liệu hai năm học liền nhau, giả định học "
    "sinh chuyển đến, chuyển đi giữa các đơn vị cân bằng nhau; một đơn vị thiếu số liệu năm sau "
    "thì không tính được."
)

INDICATORS = (
    Indicator(
        "GER",
        _("Tỷ lệ nhập học thô"),
        "100 × E(t, L) / P(t, a..b)",
        _("Số học sinh học cấp học, mọi độ tuổi"),
        _("Dân số trong độ tuổi chính thức của cấp học"),
        PERCENT,
        POPULATION_DIMS,
        ("enrolment", "population"),
        _("Có thể vượt 100% do học sinh học sớm, muộn hoặc lưu ban."),
        d.ger,
    ),
    Indicator(
        "NER",
        _("Tỷ lệ nhập học đúng tuổi"),
        "100 × E(t, L, a..b) / P(t, a..b)",
        _("Số học sinh trong độ tuổi chính thức học đúng cấp học"),
        _("Dân số trong độ tuổi chính thức của cấp học"),
        PERCENT,
        POPULATION_DIMS,
        ("enrolment", "population"),
        _("Tuổi tính theo năm sinh (năm học bắt đầu trừ năm sinh), như quy định tuổi vào lớp 1."),
        d.ner,
    ),
    Indicator(
        "ANER",
        _("Tỷ lệ nhập học đúng tuổi điều chỉnh"),
        _("100 × E(t, L và cao hơn, a..b) / P(t, a..b)"),
        _("Số học sinh trong độ tuổi chính thức học cấp học đó hoặc cấp cao hơn"),
        _("Dân số trong độ tuổi chính thức của cấp học"),
        PERCENT,
        POPULATION_DIMS,
        ("enrolment", "population"),
        _("Học sinh trong độ tuổi đang học cấp thấp hơn (ví dụ mầm non) không được tính."),
        d.aner,
    ),
    Indicator(
        "GIR",
        _("Tỷ lệ nhập học lớp đầu cấp thô"),
        _("100 × N(t, lớp đầu cấp) / P(t, a)"),
        _("Số học sinh mới vào lớp đầu cấp, mọi độ tuổi"),
        _("Dân số ở độ tuổi vào lớp đầu cấp"),
        PERCENT,
        POPULATION_DIMS,
        ("new_entrants", "population"),
        _("Học sinh mới vào là học sinh lớp đầu cấp không lưu ban."),
        d.gir,
    ),
    Indicator(
        "PTR",
        _("Tỷ lệ học sinh trên giáo viên"),
        "E(t, L) / T(t, L)",
        _("Số học sinh của cấp học"),
        _("Số giáo viên giảng dạy cấp học"),
        _("học sinh / giáo viên"),
        ("province", "school_id", "urban_rural", "ownership"),
        ("enrolment", "teachers"),
        _("Giáo viên đếm theo người (không quy đổi toàn thời gian); cán bộ quản lý không tính."),
        d.ptr,
        by_sex=False,
    ),
    Indicator(
        "REPEATERS_PCT",
        _("Tỷ lệ học sinh lưu ban"),
        "100 × R(t, L) / E(t, L)",
        _("Số học sinh học lại lớp trong năm học"),
        _("Số học sinh của cấp học"),
        PERCENT,
        ("grade", *PUPIL_DIMS),
        ("repeaters", "enrolment"),
        _("Lưu ban: học sinh học lại lớp đã học năm trước."),
        d.repeaters_pct,
        by_grade=True,
    ),
    Indicator(
        "PROMOTION_RATE",
        _("Tỷ lệ lên lớp"),
        _("100 × (E(g+1, t+1) − R(g+1, t+1)) / E(g, t); lớp cuối: G(t) / E(t)"),
        _("Số học sinh lên lớp (lớp cuối cấp: số hoàn thành cấp học)"),
        _("Số học sinh năm học t"),
        PERCENT,
        ("grade", *PUPIL_DIMS),
        ("enrolment", "repeaters", "graduates"),
        FLOW,
        d.promotion,
        by_grade=True,
    ),
    Indicator(
        "REPETITION_RATE",
        _("Tỷ lệ lưu ban"),
        "100 × R(g, t+1) / E(g, t)",
        _("Số học sinh học lại lớp g trong năm t+1"),
        _("Số học sinh lớp g năm học t"),
        PERCENT,
        ("grade", *PUPIL_DIMS),
        ("enrolment", "repeaters"),
        FLOW,
        d.repetition,
        by_grade=True,
    ),
    Indicator(
        "DROPOUT_RATE",
        _("Tỷ lệ bỏ học"),
        _("100 − tỷ lệ lên lớp − tỷ lệ lưu ban"),
        _("Số học sinh năm t không lên lớp, không lưu ban năm t+1"),
        _("Số học sinh năm học t"),
        PERCENT,
        ("grade", *PUPIL_DIMS),
        ("enrolment", "repeaters", "graduates"),
        FLOW,
        d.dropout,
        by_grade=True,
    ),
    Indicator(
        "SURVIVAL_RATE",
        _("Tỷ lệ học đến lớp cuối cấp"),
        _("100 × Π p(g) / (1 − r(g)), g từ lớp đầu đến lớp áp cuối"),
        _("Số học sinh của một nhóm 1.000 em vào lớp đầu cấp được dự báo học đến lớp cuối cấp"),
        _("Nhóm học sinh vào lớp đầu cấp"),
        PERCENT,
        PUPIL_DIMS,
        ("enrolment", "repeaters", "graduates"),
        _(
            "Nhóm tái tạo với tỷ lệ lên lớp, lưu ban của năm t không đổi và số lần lưu ban không "
            "giới hạn. Theo lớp: tỷ lệ học đến từng lớp."
        ),
        None,
        by_grade=True,
    ),
    Indicator(
        "TRANSITION_RATE",
        _("Tỷ lệ chuyển cấp hiệu quả"),
        _(
            "100 × (E(đầu cấp sau, t+1) − R(đầu cấp sau, t+1)) / (E(cuối cấp, t) − R(cuối cấp, t+1))"
        ),
        _("Số học sinh mới vào lớp đầu cấp học sau năm t+1"),
        _("Số học sinh lớp cuối cấp năm t không lưu ban năm t+1"),
        PERCENT,
        ("sex", "province", "ethnicity", "ethnic_group"),
        ("enrolment", "repeaters"),
        _("Học sinh chuyển cấp sang tỉnh khác được tính ở tỉnh mới."),
        d.transition,
    ),
    Indicator(
        "COMPLETION_RATE",
        _("Tỷ lệ hoàn thành cấp học"),
        _("100 × G(t, L) / P(t, tuổi lớp cuối cấp)"),
        _("Số học sinh hoàn thành cấp học"),
        _("Dân số ở độ tuổi chính thức của lớp cuối cấp"),
        PERCENT,
        POPULATION_DIMS,
        ("graduates", "population"),
        _(
            "Tính từ số liệu hành chính (tỷ lệ tốt nghiệp thô của UIS); chỉ tiêu SDG 4.1.2 dùng "
            "điều tra hộ gia đình."
        ),
        d.completion,
    ),
    Indicator(
        "OUT_OF_SCHOOL_RATE",
        _("Tỷ lệ trẻ ngoài nhà trường"),
        _("100 × (P(t, a..b) − E(t, L và cao hơn, a..b)) / P(t, a..b)"),
        _("Số trẻ trong độ tuổi chính thức không học cấp học đó hay cấp cao hơn"),
        _("Dân số trong độ tuổi chính thức của cấp học"),
        PERCENT,
        POPULATION_DIMS,
        ("enrolment", "population"),
        _("Bằng 100 trừ tỷ lệ nhập học đúng tuổi điều chỉnh."),
        d.out_of_school,
    ),
)


# Teachers per class (định mức giáo viên, Circular 20/2023/TT-BGDĐT); a setting, since norms change.
DEFAULT_TEACHER_NORMS = {
    "primary": {"one_session": 1.2, "two_sessions": 1.5},
    "lower_secondary": 1.9,
    "upper_secondary": 2.25,
}


def teacher_norms() -> dict:
    from django.conf import settings

    return getattr(settings, "STATS_TEACHER_NORMS", DEFAULT_TEACHER_NORMS)


SCHOOL_DIMS = ("province", "school_id", "urban_rural", "ownership")

SUBJECT_DIMS = ("subject", *SCHOOL_DIMS)
SUBJECT_CAVEATS = _(
    "Nhu cầu theo số tiết/tuần của Chương trình GDPT 2018 (Thông tư 32/2018, sửa đổi bởi "
    "13/2022) và định mức tiết dạy (Thông tư 05/2025: tiểu học 23, THCS 19, THPT 17 tiết/tuần); "
    "giáo viên dạy nhiều môn được chia theo tỷ lệ số tiết của các môn. Thiếu và thừa tính theo "
    "từng trường rồi cộng lại, nên thừa ở trường này không bù cho thiếu ở trường khác. Môn tự "
    "chọn THPT tính theo tỷ lệ chọn dự kiến vì CSDL chưa có tổ hợp môn của từng lớp."
)

OPERATIONS = (
    Indicator(
        "PUPILS_PER_CLASS",
        _("Số học sinh bình quân một lớp"),
        "E(t, L) / C(t, L)",
        _("Số học sinh của cấp học"),
        _("Số lớp của cấp học"),
        _("học sinh / lớp"),
        ("grade", *SCHOOL_DIMS),
        ("enrolment", "classes"),
        _("Lớp ghép được đếm một lần, ở khối của lớp."),
        d.pupils_per_class,
        by_grade=True,
        by_sex=False,
        uis=False,
    ),
    Indicator(
        "TEACHERS_PER_CLASS",
        _("Số giáo viên bình quân một lớp"),
        "T(t, L) / C(t, L)",
        _("Số giáo viên giảng dạy cấp học"),
        _("Số lớp của cấp học"),
        _("giáo viên / lớp"),
        SCHOOL_DIMS,
        ("teachers", "classes"),
        _(
            "So với định mức (Thông tư 20/2023/TT-BGDĐT): tiểu học 1,2 (một buổi/ngày) hoặc 1,5 "
            "(hai buổi/ngày), THCS 1,9, THPT 2,25 giáo viên/lớp."
        ),
        d.teachers_per_class,
        by_sex=False,
        uis=False,
    ),
    Indicator(
        "TEACHER_GAP",
        _("Số giáo viên thừa (+) hoặc thiếu (−) so với định mức"),
        _("T(t, L) − Σ định mức × C(t, L)"),
        _("Số giáo viên giảng dạy cấp học"),
        _("Số giáo viên theo định mức: số lớp nhân định mức giáo viên/lớp"),
        _("giáo viên"),
        SCHOOL_DIMS,
        ("teachers", "classes"),
        _("Âm là thiếu giáo viên; định mức là cấu hình STATS_TEACHER_NORMS."),
        lambda year, level, levels: d.teacher_gap(year, level, levels, teacher_norms()),
        by_sex=False,
        uis=False,
    ),
    Indicator(
        "TEACHER_SHORTAGE_SUBJECT",
        _("Số giáo viên thiếu theo môn học"),
        _(
            "Σ theo trường max(0, nhu cầu − hiện có), nhu cầu = Σ lớp số tiết/tuần ÷ định mức tiết dạy"
        ),
        _("Số giáo viên còn thiếu của từng trường, theo môn dạy"),
        _("Không có (tổng số giáo viên quy đổi)"),
        _("giáo viên (quy đổi)"),
        SUBJECT_DIMS,
        ("subject_staffing",),
        SUBJECT_CAVEATS,
        d.subject_shortage,
        by_sex=False,
        uis=False,
    ),
    Indicator(
        "TEACHER_SURPLUS_SUBJECT",
        _("Số giáo viên thừa theo môn học"),
        _("Σ theo trường max(0, hiện có − nhu cầu)"),
        _("Số giáo viên vượt nhu cầu của từng trường, theo môn dạy"),
        _("Không có (tổng số giáo viên quy đổi)"),
        _("giáo viên (quy đổi)"),
        SUBJECT_DIMS,
        ("subject_staffing",),
        SUBJECT_CAVEATS,
        d.subject_surplus,
        by_sex=False,
        uis=False,
    ),
    Indicator(
        "TEACHER_BALANCE_SUBJECT",
        _("Cân đối giáo viên theo môn học (hiện có − nhu cầu)"),
        _("Σ hiện có − Σ nhu cầu"),
        _("Số giáo viên hiện có, quy đổi theo môn dạy"),
        _("Số giáo viên cần theo chương trình và định mức tiết dạy"),
        _("giáo viên (quy đổi)"),
        SUBJECT_DIMS,
        ("subject_staffing",),
        SUBJECT_CAVEATS,
        d.subject_balance,
        by_sex=False,
        uis=False,
    ),
    Indicator(
        "QUALIFIED_TEACHERS_PCT",
        _("Tỷ lệ giáo viên đạt chuẩn trình độ đào tạo"),
        _("100 × T(t, L, đại học trở lên) / T(t, L)"),
        _("Số giáo viên có bằng đại học trở lên"),
        _("Số giáo viên giảng dạy cấp học"),
        PERCENT,
        ("sex", *SCHOOL_DIMS),
        ("teachers",),
        _(
            "Chuẩn trình độ theo Luật Giáo dục 2019, Điều 72: cử nhân trở lên cho giáo viên phổ thông."
        ),
        d.qualified_teachers,
        by_sex=False,
        uis=False,
    ),
    Indicator(
        "IDENTITIES_VERIFIED_PCT",
        _("Tỷ lệ hồ sơ đã xác thực với CSDL quốc gia về dân cư"),
        _("100 × số hồ sơ đã xác thực / số hồ sơ"),
        _("Số hồ sơ học sinh, giáo viên đã xác thực"),
        _("Số hồ sơ học sinh, giáo viên"),
        PERCENT,
        ("province",),
        ("identities",),
        _("Tình trạng tại lần làm mới ảnh chụp gần nhất, không theo năm học."),
        d.identities_verified,
        by_sex=False,
        uis=False,
    ),
)

SUBMISSION_DIMS = ("period", "province", "school_id")
OPERATIONS += (
    Indicator(
        "SUBMISSIONS_COMPLETE_PCT",
        _("Tỷ lệ trường đã nộp báo cáo kỳ"),
        _("100 × số báo cáo đã nộp hoặc đã duyệt / số báo cáo phải nộp"),
        _("Số báo cáo kỳ đã nộp hoặc đã được Sở duyệt"),
        _("Số báo cáo kỳ các trường phải nộp"),
        PERCENT,
        SUBMISSION_DIMS,
        ("submissions",),
        _("Báo cáo bị trả lại tính là chưa nộp cho đến khi trường nộp lại."),
        d.submissions_complete,
        by_sex=False,
        uis=False,
    ),
    Indicator(
        "SUBMISSIONS_ON_TIME_PCT",
        _("Tỷ lệ báo cáo kỳ nộp đúng hạn"),
        _("100 × số báo cáo nộp đến hết ngày hạn / số báo cáo phải nộp"),
        _("Số báo cáo kỳ nộp (lần cuối) không muộn hơn ngày hạn"),
        _("Số báo cáo kỳ các trường phải nộp"),
        PERCENT,
        SUBMISSION_DIMS,
        ("submissions",),
        _("Ngày nộp theo giờ Việt Nam; hạn theo Thông tư 25/2024 (30/10, 30/6) hoặc do Sở đặt."),
        d.submissions_on_time,
        by_sex=False,
        uis=False,
    ),
)

INDICATORS = (*INDICATORS, *OPERATIONS)
UIS_INDICATORS = tuple(i for i in INDICATORS if i.uis)
BY_CODE = {i.code: i for i in INDICATORS}
GPI_PREFIX = "GPI_"


def indicator_get(code: str) -> Indicator | None:
    """The indicator for ``code``; ``GPI_<code>`` is the gender parity index of a ratio."""
    return BY_CODE.get(code.upper().removeprefix(GPI_PREFIX))
