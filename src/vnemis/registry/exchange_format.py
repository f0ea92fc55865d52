"""The registry's exchange format and published data standard, version 1: one definition.

One file per entity, one row per record. A dataset is a directory holding ``<entity>.parquet``
or ``<entity>.csv`` (UTF-8, header row, dates ISO ``yyyy-mm-dd``; lists ``;``-separated), plus
``manifest.json`` (format version, seed, sizes). Natural keys identify records across files;
internal ids never appear.

Everything published about the standard is generated from the definitions below: the JSON
Schema, the CSV and XLSX templates, the data-standard page (``docs/data-standard-v1.md`` and
/exchange/standard/), the API's /standard endpoints and the header aliases intake uses to
recognise Vietnamese and English column headers. The generator (``registry/generate``) writes
this format and the loader (``registry/loaders.py``) reads it. Coded columns name a list of
``registry.code_lists``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from vnemis.core.text import search_key

FORMAT_VERSION = "v1"


@dataclass(frozen=True)
class Column:
    """One column: canonical name and type, the headers schools see, and its constraints."""

    name: str
    dtype: str  # "str", "int", "float", "date", "bool"
    required: bool = True
    header_vi: str = ""
    header_en: str = ""
    description_vi: str = ""
    description_en: str = ""
    codes: str | None = None  # name of a list in code_lists.CODE_LISTS / REFERENCE_LISTS
    multiple: bool = False  # several codes separated by ';'
    min: float | str | None = None  # numbers; ISO text for dates
    max: float | str | None = None
    max_length: int | None = None
    pattern: str | None = None  # regular expression the text must match (JSON Schema flavour)
    example: str = ""  # as written in the canonical file
    aliases: tuple[str, ...] = ()  # other headers schools use for this column


@dataclass(frozen=True)
class Entity:
    """An entity file (or, for ``ROSTER``, an import layout that splits into entity files)."""

    name: str
    natural_key: tuple[str, ...]
    columns: tuple[Column, ...]
    title_vi: str = ""
    title_en: str = ""
    description_vi: str = ""
    description_en: str = ""
    # For a composite layout: (entity name, its columns in this layout) per target entity.
    parts: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _c(name: str, dtype: str = "str", required: bool = True, **kw) -> Column:
    return Column(name, dtype, required, **kw)


# -- columns shared by several entities ----------------------------------------------------------

SCHOOL_CODE = _c(
    "school_code",
    header_vi="Mã trường",
    header_en="School code",
    description_vi="Mã đơn vị chính thức của trường (do Sở GD&ĐT cấp)",
    description_en="Official organisation code of the school (issued by the Department)",
    max_length=20,
    example="01000101",
    aliases=("Mã đơn vị", "Ma truong", "School ID"),
)
SCHOOL_YEAR = _c(
    "school_year",
    header_vi="Năm học",
    header_en="School year",
    description_vi="Năm học, dạng 2025-2026",
    description_en="School year, written 2025-2026",
    pattern=r"^\d{4}-\d{4}$",
    max_length=9,
    example="2025-2026",
)
CLASS_NAME = _c(
    "class_name",
    header_vi="Tên lớp",
    header_en="Class name",
    description_vi="Tên lớp như trường đặt, duy nhất trong trường và năm học (ví dụ 6A1)",
    description_en="Class name as the school writes it, unique in the school and year (e.g. 6A1)",
    max_length=30,
    example="6A1",
    aliases=("Lớp", "Class"),
)
PUPIL_CODE = _c(
    "pupil_code",
    header_vi="Mã học sinh",
    header_en="Pupil code",
    description_vi="Mã học sinh do trường đặt, duy nhất trong trường",
    description_en="The school's own pupil code, unique in the school",
    max_length=30,
    example="HS000123",
    aliases=("Mã HS", "Student code", "Student ID", "Pupil ID"),
)
STAFF_CODE = _c(
    "staff_code",
    header_vi="Mã cán bộ",
    header_en="Staff code",
    description_vi="Mã cán bộ, giáo viên, nhân viên do trường đặt, duy nhất trong trường",
    description_en="The school's own staff code, unique in the school",
    max_length=30,
    example="GV0042",
    aliases=("Mã CB", "Mã GV", "Mã giáo viên", "Teacher code"),
)
EDUCATION_ID = _c(
    "education_id",
    required=False,
    header_vi="Mã định danh giáo dục",
    header_en="Education ID",
    description_vi="Mã định danh giáo dục 12 chữ số (có số kiểm tra); để trống với người mới, "
    "hệ thống sẽ cấp",
    description_en="12-digit education ID with a check digit; leave blank for a new person "
    "and the registry issues one",
    pattern=r"^\d{12}$",
    max_length=12,
    example="",
    aliases=("Mã định danh", "Mã ĐDGD"),
)
FULL_NAME = _c(
    "full_name",
    header_vi="Họ và tên",
    header_en="Full name",
    description_vi="Họ, tên đệm và tên, viết có dấu",
    description_en="Family name, middle name(s) and given name, with diacritics",
    max_length=150,
    example="Nguyễn Văn An",
    aliases=("Họ tên", "Name"),
)
BIRTH_DATE = _c(
    "birth_date",
    "date",
    header_vi="Ngày sinh",
    header_en="Date of birth",
    description_vi="Ngày sinh (dd/mm/yyyy trong Excel, yyyy-mm-dd trong tệp chuẩn)",
    description_en="Date of birth (dd/mm/yyyy in Excel, yyyy-mm-dd in canonical files)",
    min="1900-01-01",
    example="2014-03-15",
    aliases=("Ngày sinh (dd/mm/yyyy)", "Ngày tháng năm sinh", "Birth date", "DOB"),
)
SEX = _c(
    "sex",
    header_vi="Giới tính",
    header_en="Sex",
    description_vi="Giới tính: M (nam) hoặc F (nữ)",
    description_en="Sex: M (male) or F (female)",
    codes="sex",
    example="F",
    aliases=("Gender",),
)
ETHNICITY = _c(
    "ethnicity_code",
    header_vi="Dân tộc",
    header_en="Ethnic group",
    description_vi="Mã dân tộc 2 chữ số theo danh mục 54 dân tộc (01 Kinh); 55 người nước "
    "ngoài, 56 không xác định",
    description_en="Two-digit code of the 54 ethnic groups (01 Kinh); 55 foreigner, 56 unknown",
    codes="ethnicity",
    example="01",
    aliases=("Mã dân tộc", "Ethnicity"),
)
CITIZEN_ID = _c(
    "citizen_id",
    required=False,
    header_vi="Số CCCD",
    header_en="Citizen ID",
    description_vi="Số căn cước công dân 12 chữ số; được mã hoá khi lưu",
    description_en="12-digit citizen ID number; stored encrypted",
    pattern=r"^\d{12}$",
    max_length=12,
    example="",
    aliases=("CCCD", "Số căn cước", "Căn cước công dân", "Số định danh cá nhân"),
)


SCHOOLS = Entity(
    "schools",
    ("school_code",),
    (
        SCHOOL_CODE,
        _c(
            "name",
            header_vi="Tên trường",
            header_en="School name",
            description_vi="Tên đầy đủ của trường",
            description_en="Full name of the school",
            max_length=255,
            example="Trường Tiểu học Ba Đình",
            aliases=("Tên đơn vị",),
        ),
        _c(
            "kind",
            header_vi="Loại đơn vị",
            header_en="Organisation kind",
            description_vi="Trường, đại học hoặc cao đẳng",
            description_en="School, university or college",
            codes="school_kind",
            example="school",
        ),
        _c(
            "level",
            required=False,
            header_vi="Cấp học",
            header_en="School level",
            description_vi="Cấp học; bắt buộc với trường (kind = school)",
            description_en="School level; required for schools (kind = school)",
            codes="school_level",
            example="primary",
        ),
        _c(
            "ownership",
            required=False,
            header_vi="Loại hình",
            header_en="Ownership",
            description_vi="Công lập, tư thục hoặc dân lập",
            description_en="Public, private or people-founded",
            codes="ownership",
            example="public",
        ),
        _c(
            "parent_code",
            header_vi="Mã đơn vị chủ quản",
            header_en="Parent organisation code",
            description_vi="Mã Sở GD&ĐT (hoặc Bộ) quản lý trường, ví dụ SGD01",
            description_en="Code of the Department (or Ministry) the school reports to, e.g. SGD01",
            max_length=20,
            example="SGD01",
            aliases=("Đơn vị chủ quản", "Parent code"),
        ),
        _c(
            "province_code",
            header_vi="Mã tỉnh/thành phố",
            header_en="Province code",
            description_vi="Mã tỉnh/thành phố 2 chữ số",
            description_en="Two-digit province code",
            codes="province",
            pattern=r"^\d{2}$",
            example="01",
            aliases=("Mã tỉnh", "Tỉnh/thành phố", "Province"),
        ),
        _c(
            "commune_code",
            required=False,
            header_vi="Mã xã/phường",
            header_en="Commune code",
            description_vi="Mã xã/phường 5 chữ số nơi trường đặt trụ sở",
            description_en="Five-digit code of the commune or ward where the school is",
            codes="commune",
            pattern=r"^\d{5}$",
            example="00004",
            aliases=("Xã/phường", "Commune"),
        ),
        _c(
            "address",
            required=False,
            header_vi="Địa chỉ",
            header_en="Address",
            description_vi="Địa chỉ trụ sở",
            description_en="Street address",
            max_length=255,
            example="Số 1 Phố Đội Cấn",
        ),
        _c(
            "status",
            header_vi="Trạng thái hoạt động",
            header_en="Status",
            description_vi="Đang hoạt động (open); giải thể, sáp nhập cập nhật trên trang đơn vị",
            description_en="Open; closures and mergers are recorded on the organisation page",
            codes="org_status",
            example="open",
            aliases=("Trạng thái",),
        ),
        _c(
            "opened_on",
            "date",
            required=False,
            header_vi="Ngày thành lập",
            header_en="Opening date",
            description_vi="Ngày thành lập trường",
            description_en="Date the school was founded",
            min="1800-01-01",
            example="1990-09-01",
        ),
    ),
    title_vi="Trường học",
    title_en="Schools",
    description_vi="Danh mục trường, đại học và cao đẳng; mỗi dòng một đơn vị.",
    description_en="Schools, universities and colleges; one row per organisation.",
)

STAFF = Entity(
    "staff",
    ("school_code", "staff_code"),
    (
        SCHOOL_CODE,
        STAFF_CODE,
        EDUCATION_ID,
        FULL_NAME,
        BIRTH_DATE,
        SEX,
        ETHNICITY,
        CITIZEN_ID,
        _c(
            "role",
            header_vi="Chức vụ",
            header_en="Role",
            description_vi="Hiệu trưởng, phó hiệu trưởng, giáo viên hoặc nhân viên",
            description_en="Principal, vice-principal, teacher or staff",
            codes="staff_role",
            example="teacher",
            aliases=("Vị trí việc làm",),
        ),
        _c(
            "subjects",
            required=False,
            header_vi="Môn giảng dạy",
            header_en="Subjects taught",
            description_vi="Mã các môn giáo viên dạy, cách nhau bởi dấu ;",
            description_en="Codes of the subjects taught, separated by ;",
            codes="subject",
            multiple=True,
            example="TOAN;TIN",
            aliases=("Môn dạy", "Subjects"),
        ),
        _c(
            "qualification",
            header_vi="Trình độ chuyên môn",
            header_en="Qualification",
            description_vi="Trình độ đào tạo cao nhất",
            description_en="Highest qualification",
            codes="qualification",
            example="bachelor",
            aliases=("Trình độ",),
        ),
        _c(
            "contract_type",
            header_vi="Hình thức hợp đồng",
            header_en="Contract type",
            description_vi="Biên chế, hợp đồng có thời hạn, hợp đồng lao động hoặc thỉnh giảng",
            description_en="Permanent, fixed-term, labour contract or visiting",
            codes="contract_type",
            example="permanent",
            aliases=("Loại hợp đồng", "Contract"),
        ),
        _c(
            "starts_on",
            "date",
            header_vi="Ngày bắt đầu công tác",
            header_en="Start date",
            description_vi="Ngày bắt đầu công tác tại trường",
            description_en="Date the post at the school started",
            min="1950-01-01",
            example="2015-09-01",
            aliases=("Ngày bắt đầu", "Ngày vào trường"),
        ),
    ),
    title_vi="Cán bộ, giáo viên, nhân viên",
    title_en="Staff",
    description_vi="Cán bộ, giáo viên, nhân viên của trường; mỗi dòng một người ở một trường.",
    description_en="Staff of a school; one row per person and school.",
)

CLASSES = Entity(
    "classes",
    ("school_code", "school_year", "class_name"),
    (
        SCHOOL_CODE,
        SCHOOL_YEAR,
        CLASS_NAME,
        _c(
            "grade",
            "int",
            header_vi="Khối",
            header_en="Grade",
            description_vi="Khối lớp 0 (mầm non) đến 12, thuộc cấp học của trường",
            description_en="Grade 0 (preschool) to 12, within the school's level",
            min=0,
            max=12,
            example="6",
            aliases=("Khối lớp",),
        ),
        _c(
            "homeroom_staff_code",
            required=False,
            header_vi="Mã GV chủ nhiệm",
            header_en="Homeroom teacher code",
            description_vi="Mã cán bộ của giáo viên chủ nhiệm (tệp cán bộ)",
            description_en="Staff code of the homeroom teacher (staff file)",
            max_length=30,
            example="GV0042",
            aliases=("Giáo viên chủ nhiệm", "GVCN", "Mã giáo viên chủ nhiệm"),
        ),
        _c(
            "two_sessions",
            "bool",
            header_vi="Học 2 buổi/ngày",
            header_en="Two sessions a day",
            description_vi="Lớp học 2 buổi/ngày: true hoặc false",
            description_en="Class taught two sessions a day: true or false",
            codes="boolean",
            example="true",
            aliases=("Hai buổi", "2 buổi/ngày"),
        ),
        _c(
            "combined_grades",
            "bool",
            header_vi="Lớp ghép",
            header_en="Combined grades",
            description_vi="Lớp ghép nhiều khối: true hoặc false",
            description_en="Class combining several grades: true or false",
            codes="boolean",
            example="false",
        ),
    ),
    title_vi="Lớp học",
    title_en="Classes",
    description_vi="Lớp học của trường trong một năm học; mỗi dòng một lớp.",
    description_en="Classes of a school in a school year; one row per class.",
)

SUBJECT_CODE = _c(
    "subject_code",
    header_vi="Mã môn học",
    header_en="Subject code",
    description_vi="Mã môn học hoặc hoạt động giáo dục theo danh mục",
    description_en="Code of the subject or educational activity",
    codes="subject",
    max_length=20,
    example="TOAN",
    aliases=("Môn học", "Môn", "Subject"),
)

TEACHING_ASSIGNMENTS = Entity(
    "teaching_assignments",
    ("school_code", "school_year", "class_name", "subject_code"),
    (
        SCHOOL_CODE,
        SCHOOL_YEAR,
        CLASS_NAME,
        SUBJECT_CODE,
        replace(
            STAFF_CODE,
            header_vi="Mã giáo viên",
            header_en="Teacher code",
            description_vi="Mã cán bộ của giáo viên dạy môn này ở lớp này (tệp cán bộ)",
            description_en="Staff code of the teacher of this subject in this class (staff file)",
            aliases=("Mã cán bộ", "Mã GV", "Giáo viên", "Staff code"),
        ),
    ),
    title_vi="Phân công giảng dạy",
    title_en="Teaching assignments",
    description_vi="Ai dạy môn nào ở lớp nào trong năm học; mỗi dòng một môn của một lớp.",
    description_en="Who teaches which subject to which class; one row per class and subject.",
)

PUPILS = Entity(
    "pupils",
    ("school_code", "pupil_code"),
    (
        SCHOOL_CODE,
        PUPIL_CODE,
        EDUCATION_ID,
        FULL_NAME,
        BIRTH_DATE,
        SEX,
        ETHNICITY,
        _c(
            "nationality",
            header_vi="Quốc tịch",
            header_en="Nationality",
            description_vi="Mã quốc gia 2 chữ cái (ISO 3166-1), VN là Việt Nam",
            description_en="Two-letter country code (ISO 3166-1), VN for Viet Nam",
            pattern=r"^[A-Za-z]{2}$",
            max_length=2,
            example="VN",
        ),
        _c(
            "birth_province_code",
            required=False,
            header_vi="Mã tỉnh nơi sinh",
            header_en="Birth province code",
            description_vi="Mã tỉnh/thành phố nơi sinh (2 chữ số)",
            description_en="Two-digit code of the province of birth",
            codes="province",
            pattern=r"^\d{2}$",
            example="01",
            aliases=("Nơi sinh", "Tỉnh nơi sinh"),
        ),
        _c(
            "permanent_commune_code",
            required=False,
            header_vi="Mã xã/phường thường trú",
            header_en="Permanent residence commune code",
            description_vi="Mã xã/phường nơi thường trú (5 chữ số)",
            description_en="Five-digit code of the commune of permanent residence",
            codes="commune",
            pattern=r"^\d{5}$",
            example="00004",
            aliases=("Xã/phường thường trú", "Thường trú"),
        ),
        _c(
            "policy_categories",
            required=False,
            header_vi="Đối tượng chính sách",
            header_en="Policy categories",
            description_vi="Các đối tượng chính sách, cách nhau bởi dấu ;",
            description_en="Policy categories that apply, separated by ;",
            codes="policy_category",
            multiple=True,
            example="poor_household",
            aliases=("Diện chính sách",),
        ),
        _c(
            "disability",
            required=False,
            header_vi="Khuyết tật",
            header_en="Disability",
            description_vi="Loại khuyết tật; để trống nếu không có",
            description_en="Kind of disability; blank if none",
            codes="disability",
            example="",
            aliases=("Loại khuyết tật",),
        ),
        CITIZEN_ID,
    ),
    title_vi="Học sinh",
    title_en="Pupils",
    description_vi="Hồ sơ học sinh của trường; mỗi dòng một học sinh.",
    description_en="Pupils of a school; one row per pupil.",
)

ENROLMENTS = Entity(
    "enrolments",
    ("school_code", "school_year", "pupil_code"),
    (
        SCHOOL_CODE,
        SCHOOL_YEAR,
        PUPIL_CODE,
        replace(
            CLASS_NAME,
            header_vi="Lớp",
            header_en="Class",
            aliases=("Tên lớp", "Class name"),
        ),
        _c(
            "status",
            header_vi="Trạng thái học tập",
            header_en="Enrolment status",
            description_vi="Đang học, chuyển đến, lưu ban, chuyển đi, bỏ học, ...",
            description_en="Studying, transferred in, repeating, transferred out, dropped out, ...",
            codes="enrolment_status",
            example="studying",
            aliases=("Trạng thái", "Tình trạng", "Status"),
        ),
        _c(
            "started_on",
            "date",
            header_vi="Ngày vào lớp",
            header_en="Start date",
            description_vi="Ngày bắt đầu học ở lớp trong năm học",
            description_en="Date the pupil started in the class that year",
            min="1950-01-01",
            example="2025-09-05",
            aliases=("Ngày bắt đầu", "Ngày nhập học"),
        ),
        _c(
            "ended_on",
            "date",
            required=False,
            header_vi="Ngày kết thúc",
            header_en="End date",
            description_vi="Ngày rời lớp (chuyển đi, bỏ học, hoàn thành); không trước ngày vào lớp",
            description_en="Date the pupil left the class; not before the start date",
            min="1950-01-01",
            example="",
            aliases=("Ngày rời lớp",),
        ),
    ),
    title_vi="Học sinh theo lớp (năm học)",
    title_en="Enrolments",
    description_vi="Học sinh học ở lớp nào trong năm học và trạng thái học tập; mỗi dòng một "
    "học sinh trong một năm học.",
    description_en="Which class a pupil is in for a school year, and the status; one row per "
    "pupil and year.",
)

SUBJECT_RESULTS = Entity(
    "subject_results",
    ("school_code", "school_year", "pupil_code", "subject_code", "period"),
    (
        SCHOOL_CODE,
        SCHOOL_YEAR,
        PUPIL_CODE,
        SUBJECT_CODE,
        _c(
            "period",
            header_vi="Kỳ đánh giá",
            header_en="Period",
            description_vi="Học kỳ I (term1), học kỳ II (term2) hoặc cả năm (year)",
            description_en="Term 1 (term1), term 2 (term2) or the whole year (year)",
            codes="period",
            example="year",
            aliases=("Học kỳ", "Kỳ"),
        ),
        _c(
            "score",
            "float",
            required=False,
            header_vi="Điểm",
            header_en="Score",
            description_vi="Điểm trung bình môn 0–10 (môn đánh giá bằng điểm số)",
            description_en="Subject average 0–10 (subjects assessed by score)",
            min=0,
            max=10,
            example="8.5",
            aliases=("Điểm trung bình", "ĐTB", "Điểm TB"),
        ),
        _c(
            "rating",
            required=False,
            header_vi="Mức đánh giá",
            header_en="Rating",
            description_vi="Đ/CĐ (môn đánh giá bằng nhận xét) hoặc T/H/C (tiểu học); cần điểm "
            "hoặc mức đánh giá",
            description_en="D/CD (comment-assessed subjects) or T/H/C (primary); a score or a "
            "rating is needed",
            codes="subject_rating",
            example="",
            aliases=("Nhận xét", "Xếp loại"),
        ),
    ),
    title_vi="Kết quả môn học",
    title_en="Subject results",
    description_vi="Kết quả từng môn của học sinh theo học kỳ hoặc cả năm.",
    description_en="Each pupil's result per subject for a term or the year.",
)

RESULT_SUMMARIES = Entity(
    "result_summaries",
    ("school_code", "school_year", "pupil_code", "period"),
    (
        SCHOOL_CODE,
        SCHOOL_YEAR,
        PUPIL_CODE,
        replace(SUBJECT_RESULTS.column("period")),
        _c(
            "learning_rating",
            required=False,
            header_vi="Kết quả học tập",
            header_en="Learning rating",
            description_vi="Tốt, Khá, Đạt hoặc Chưa đạt",
            description_en="Good, fair, pass or not yet passed",
            codes="summary_rating",
            example="T",
            aliases=("Học tập", "Học lực"),
        ),
        _c(
            "conduct_rating",
            required=False,
            header_vi="Kết quả rèn luyện",
            header_en="Conduct rating",
            description_vi="Tốt, Khá, Đạt hoặc Chưa đạt",
            description_en="Good, fair, pass or not yet passed",
            codes="summary_rating",
            example="T",
            aliases=("Rèn luyện", "Hạnh kiểm"),
        ),
        _c(
            "outcome",
            required=False,
            header_vi="Kết quả cuối năm",
            header_en="Year outcome",
            description_vi="Lên lớp, rèn luyện/kiểm tra lại, ở lại lớp...; chỉ ghi với cả năm",
            description_en="Promoted, reassessed, repeats...; for the whole year only",
            codes="outcome",
            example="promoted",
            aliases=("Lên lớp", "Kết quả"),
        ),
    ),
    title_vi="Kết quả học tập, rèn luyện",
    title_en="Result summaries",
    description_vi="Đánh giá chung của học sinh theo học kỳ, cả năm và kết quả cuối năm.",
    description_en="A pupil's overall ratings per term and year, and the year outcome.",
)

HEALTH_RECORDS = Entity(
    "health_records",
    ("school_code", "pupil_code", "measured_on"),
    (
        SCHOOL_CODE,
        PUPIL_CODE,
        _c(
            "measured_on",
            "date",
            header_vi="Ngày đo",
            header_en="Measured on",
            description_vi="Ngày khám, đo",
            description_en="Date of the measurement",
            min="1950-01-01",
            example="2025-10-01",
            aliases=("Ngày khám",),
        ),
        _c(
            "height_cm",
            "float",
            header_vi="Chiều cao (cm)",
            header_en="Height (cm)",
            description_vi="Chiều cao tính bằng cm, 40–230",
            description_en="Height in cm, 40–230",
            min=40,
            max=230,
            example="135.5",
        ),
        _c(
            "weight_kg",
            "float",
            header_vi="Cân nặng (kg)",
            header_en="Weight (kg)",
            description_vi="Cân nặng tính bằng kg, 2–250",
            description_en="Weight in kg, 2–250",
            min=2,
            max=250,
            example="30.2",
        ),
        _c(
            "eyesight_left",
            "int",
            required=False,
            header_vi="Thị lực mắt trái (/10)",
            header_en="Eyesight left (/10)",
            description_vi="Thị lực mắt trái theo phần mười, 0–10 (10 là 10/10)",
            description_en="Left-eye visual acuity in tenths, 0–10 (10 = 10/10)",
            min=0,
            max=10,
            example="10",
            aliases=("Mắt trái",),
        ),
        _c(
            "eyesight_right",
            "int",
            required=False,
            header_vi="Thị lực mắt phải (/10)",
            header_en="Eyesight right (/10)",
            description_vi="Thị lực mắt phải theo phần mười, 0–10 (10 là 10/10)",
            description_en="Right-eye visual acuity in tenths, 0–10 (10 = 10/10)",
            min=0,
            max=10,
            example="9",
            aliases=("Mắt phải",),
        ),
    ),
    title_vi="Sức khoẻ học sinh",
    title_en="Health records",
    description_vi="Kết quả đo chiều cao, cân nặng, thị lực (dữ liệu nhạy cảm).",
    description_en="Height, weight and eyesight measurements (sensitive data).",
)

# In load order: a file may refer only to entities before it.
ENTITIES = (
    SCHOOLS,
    STAFF,
    CLASSES,
    TEACHING_ASSIGNMENTS,
    PUPILS,
    ENROLMENTS,
    SUBJECT_RESULTS,
    RESULT_SUMMARIES,
    HEALTH_RECORDS,
)
BY_NAME = {e.name: e for e in ENTITIES}


def _roster() -> Entity:
    """The class list schools keep in Excel: a pupil's details and their class on one row."""
    enrolment_cols = [c for c in ENROLMENTS.columns if c.name not in ("school_code", "pupil_code")]
    pupil_cols = [c for c in PUPILS.columns if c.name != "school_code"]
    columns = (SCHOOL_CODE, *enrolment_cols[:2], *pupil_cols, *enrolment_cols[2:])
    return Entity(
        "roster",
        ("school_code", "school_year", "pupil_code"),
        columns,
        title_vi="Danh sách học sinh theo lớp",
        title_en="Class roster",
        description_vi="Hồ sơ học sinh và lớp trên cùng một dòng, như danh sách lớp trường "
        "lưu trong Excel; khi nhập được tách thành học sinh (pupils) và học sinh theo lớp "
        "(enrolments).",
        description_en="A pupil's details and class on one row, like the class lists schools "
        "keep in Excel; on import it splits into pupils and enrolments.",
        parts=(
            ("pupils", tuple(PUPILS.column_names)),
            ("enrolments", tuple(ENROLMENTS.column_names)),
        ),
    )


ROSTER = _roster()

# Everything a file may be laid out as: the entities, then composite layouts.
LAYOUTS = (*ENTITIES, ROSTER)
LAYOUTS_BY_NAME = {e.name: e for e in LAYOUTS}


def layout(name: str) -> Entity:
    """An import layout (an entity or a composite such as ``roster``) by name; KeyError if none."""
    return LAYOUTS_BY_NAME[name]


def layout_split(entity: Entity) -> dict[str, tuple[str, ...]]:
    """Entity name → the columns of ``entity`` it takes, in that entity's order.

    For an ordinary entity that is itself; for ``roster`` it is pupils and enrolments (both keep
    ``school_code`` and ``pupil_code``). Intake splits a roster file with it.
    """
    if not entity.parts:
        return {entity.name: tuple(entity.column_names)}
    return dict(entity.parts)


_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_SEPARATORS = re.compile(r"[\s_\-.:*/]+")


def header_key(text: str | None) -> str:
    """A header as compared: lower case, no diacritics, no '(…)' notes, separators as one space.

    'Ngày sinh (dd/mm/yyyy)', 'NGAY_SINH' and 'ngày  sinh' all give 'ngay sinh'.
    """
    key = _PARENS.sub(" ", search_key(text))
    return _SEPARATORS.sub(" ", key).strip()


def header_aliases(entity: Entity) -> dict[str, str]:
    """``header_key`` of every header a column may carry → the canonical column name.

    Covers the canonical name, the Vietnamese and English headers and common variants
    ('Mã HS'). A spelling two columns of the entity could claim goes to the earlier column
    (the tests check the definitions leave none).
    """
    aliases: dict[str, str] = {}
    for column in entity.columns:
        for text in (column.name, column.header_vi, column.header_en, *column.aliases):
            key = header_key(text)
            if key:
                aliases.setdefault(key, column.name)
    return aliases
