"""The report forms: one per level and period, modelled on Circular 25/2024's forms.

Each row is one line below: a number, a Vietnamese label, the dataset counted and a SQL predicate
over that dataset's columns (docs/stats.md; ``enrolled``, ``n_classes`` ... are added by the
engine, see docs/report-forms.md). Totals are all rows; the public and non-public columns add
the ownership predicate of ``spec.COLUMNS``. Form numbers follow our own numbering modelled on
the Circular's (its exact numbers are not confirmed: ``FORM_NUMBERS`` is configuration).
"""

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .spec import LEVEL_GRADES, LEVELS, PERIODS, Form, Row, count, heading, keyed, ratio

ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")
LEVEL_ABBR = {"primary": "TH", "lower_secondary": "THCS", "upper_secondary": "THPT"}
PERIOD_ABBR = {"start_of_year": "DN", "end_of_year": "CN"}
# Shown as "Biểu số …" in the header; keyed by (level, period).
FORM_NUMBERS = {
    ("primary", "start_of_year"): "01/TH-ĐN",
    ("primary", "end_of_year"): "02/TH-CN",
    ("lower_secondary", "start_of_year"): "03/THCS-ĐN",
    ("lower_secondary", "end_of_year"): "04/THCS-CN",
    ("upper_secondary", "start_of_year"): "05/THPT-ĐN",
    ("upper_secondary", "end_of_year"): "06/THPT-CN",
}

ENROLLED = "enrolled"
MINORITY = "ethnicity <> '01'"
DISABLED = "COALESCE(disability, '') <> ''"
NON_TEACHING = "role IN ('principal', 'vice_principal')"
QUALIFICATIONS = (
    ("doctorate", _("Tiến sĩ")),
    ("master", _("Thạc sĩ")),
    ("bachelor", _("Đại học")),
    ("college", _("Cao đẳng")),
    ("intermediate", _("Trung cấp")),
    ("other", pgettext_lazy("qualification", "Khác")),
)
OUTCOMES = (
    ("promoted", _("Được lên lớp")),
    ("completed_level", _("Hoàn thành chương trình cấp học")),
    ("reassess", _("Kiểm tra, đánh giá lại trong hè")),
    ("repeat", _("Ở lại lớp")),
)


def _grades(level: str) -> range:
    first, last = LEVEL_GRADES[level]
    return range(first, last + 1)


def _by_grade(prefix: str, level: str, dataset: str, where: str) -> list[Row]:
    """Sub-rows ``prefix.1``, ``prefix.2`` …, one per grade of the level."""
    return [
        count(
            f"{prefix}.{i}",
            format_lazy(_("Lớp {grade}"), grade=g),
            dataset,
            f"{where} AND grade = {g}",
        )
        for i, g in enumerate(_grades(level), start=1)
    ]


def _schools(n: str, level: str) -> list[Row]:
    return [
        heading(n, _("Trường học")),
        count("1", _("Tổng số trường"), "schools"),
        count("1.1", _("Thành thị (phường)"), "schools", "urban_rural = 'urban'"),
        count("1.2", _("Nông thôn (xã, đặc khu)"), "schools", "urban_rural = 'rural'"),
        count("2", _("Trong đó: trường phổ thông có nhiều cấp học"), "schools",
              "school_level = 'multi_level'"),
        count("3", _("Trường có tất cả các lớp học 2 buổi/ngày"), "schools",
              "n_classes > 0 AND n_two_session_classes = n_classes"),
        count("4", _("Trường có lớp ghép"), "schools", "n_combined_classes > 0"),
    ]  # fmt: skip


def _classes(n: str, level: str) -> list[Row]:
    return [
        heading(n, _("Lớp học")),
        count("1", _("Tổng số lớp"), "classes"),
        *_by_grade("1", level, "classes", "TRUE"),
        count("2", _("Lớp học 2 buổi/ngày"), "classes", "two_sessions"),
        count("3", _("Lớp ghép"), "classes", "combined_grades"),
    ]


def _pupils(n: str, level: str) -> list[Row]:
    return [
        heading(n, _("Học sinh")),
        count("1", _("Tổng số học sinh"), "pupils", ENROLLED),
        *_by_grade("1", level, "pupils", ENROLLED),
        count("2", _("Học sinh nữ"), "pupils", f"{ENROLLED} AND sex = 'F'"),
        *_by_grade("2", level, "pupils", f"{ENROLLED} AND sex = 'F'"),
        count("3", _("Học sinh dân tộc thiểu số"), "pupils", f"{ENROLLED} AND {MINORITY}"),
        count("3.1", _("Trong đó: nữ dân tộc thiểu số"), "pupils",
              f"{ENROLLED} AND {MINORITY} AND sex = 'F'"),
        count("4", _("Học sinh khuyết tật học hòa nhập"), "pupils", f"{ENROLLED} AND {DISABLED}"),
        count("5", _("Học sinh lưu ban"), "pupils", f"{ENROLLED} AND status = 'repeating'"),
        *_by_grade("5", level, "pupils", f"{ENROLLED} AND status = 'repeating'"),
    ]  # fmt: skip


def _year_end(n: str, level: str) -> list[Row]:
    dropped = "status = 'dropped_out' AND NOT enrolled AND started_on <= ref_date"
    rows = [
        heading(n, _("Học sinh bỏ học và kết quả cuối năm")),
        count("1", _("Học sinh bỏ học trong năm học"), "pupils", dropped),
        *_by_grade("1", level, "pupils", dropped),
        count("2", _("Học sinh nữ bỏ học"), "pupils", f"{dropped} AND sex = 'F'"),
        count("3", _("Kết quả cuối năm của học sinh"), "pupils", f"{ENROLLED} AND COALESCE(outcome, '') <> ''"),
    ]  # fmt: skip
    rows += [
        count(f"3.{i}", label, "pupils", f"{ENROLLED} AND outcome = '{code}'")
        for i, (code, label) in enumerate(OUTCOMES, start=1)
    ]
    rows.append(
        count(
            "4",
            _("Học sinh chưa có kết quả cuối năm"),
            "pupils",
            f"{ENROLLED} AND COALESCE(outcome, '') = ''",
        )
    )
    return rows


def _staff(n: str, level: str) -> list[Row]:
    rows = [
        heading(n, _("Cán bộ quản lý, giáo viên, nhân viên")),
        count("1", _("Tổng số"), "staff"),
        count("1.1", _("Cán bộ quản lý"), "staff", NON_TEACHING),
        count("1.1.1", _("Hiệu trưởng"), "staff", "role = 'principal'"),
        count("1.1.2", _("Phó hiệu trưởng"), "staff", "role = 'vice_principal'"),
        count("1.2", _("Giáo viên"), "staff", "role = 'teacher'"),
        count("1.3", _("Nhân viên"), "staff", "role = 'staff'"),
        count("2", _("Giáo viên chia theo trình độ đào tạo"), "staff", "role = 'teacher'"),
    ]
    rows += [
        count(f"2.{i}", label, "staff", f"role = 'teacher' AND qualification = '{code}'")
        for i, (code, label) in enumerate(QUALIFICATIONS, start=1)
    ]
    rows += [
        count("3", _("Giáo viên nữ"), "staff", "role = 'teacher' AND sex = 'F'"),
        count("4", _("Giáo viên dân tộc thiểu số"), "staff", f"role = 'teacher' AND {MINORITY}"),
        count("5", _("Giáo viên hợp đồng (không biên chế)"), "staff",
              "role = 'teacher' AND contract_type <> 'permanent'"),
    ]  # fmt: skip
    return rows


def _ratios(n: str, classes: str, pupils: str, staff: str) -> list[Row]:
    return [
        heading(n, _("Một số tỷ lệ")),
        ratio("1", _("Giáo viên/lớp"), f"{staff}.1.2", f"{classes}.1"),
        ratio("2", _("Học sinh/lớp"), f"{pupils}.1", f"{classes}.1"),
        ratio("3", _("Học sinh/giáo viên"), f"{pupils}.1", f"{staff}.1.2"),
    ]


def build_form(level: str, period: str) -> Form:
    sections = [_schools, _classes, _pupils]
    if period == "end_of_year":
        sections.append(_year_end)
    sections.append(_staff)
    rows: list[Row] = []
    numerals = iter(ROMAN)
    names = {}
    for section in sections:
        numeral = next(numerals)
        names[section] = numeral
        rows += section(numeral, level)
    rows += _ratios(next(numerals), names[_classes], names[_pupils], names[_staff])
    return Form(
        code=f"{LEVEL_ABBR[level]}-{PERIOD_ABBR[period]}",
        number=FORM_NUMBERS[(level, period)],
        level=level,
        period=period,
        rows=keyed(rows),
    )


FORMS: dict[str, Form] = {}
for _level in LEVELS:
    for _period in PERIODS:
        _form = build_form(_level, _period)
        FORMS[_form.code] = _form


def form_for(level: str, period: str) -> Form | None:
    return next((f for f in FORMS.values() if f.level == level and f.period == period), None)
