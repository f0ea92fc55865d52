"""The code lists of the data standard v1: every code a coded column accepts, with its labels.

``CODE_LISTS[name]`` is a list of ``(code, label_vi, label_en)`` in the order a form shows them.
The codes are exactly the ones the loader (``registry.loaders``) accepts; ``tests/test_standard``
checks each list against the model choices and reference data the loader validates with. The
labels are written out here (not taken from the models' translated choices) so the published
standard stays the same whatever language is active and whatever the translation files say.

Province and commune codes are reference data of the ``geo`` app (34 provinces and 3,321
communes since 1 July 2025): they live in the database, not here, so the static artefacts give
their format only; ``province_codes()`` reads them when the database has them.
"""

from __future__ import annotations

from vnemis.core.text import search_key

from .reference import SUBJECTS, ethnic_groups

CodeList = list[tuple[str, str, str]]

SEX: CodeList = [("M", "Nam", "Male"), ("F", "Nữ", "Female")]

# Kinds a school file may carry (the ministry and Departments are not loaded from files).
SCHOOL_KIND: CodeList = [
    ("school", "Trường", "School"),
    ("university", "Đại học", "University"),
    ("college", "Cao đẳng", "College"),
]

SCHOOL_LEVEL: CodeList = [
    ("preschool", "Mầm non", "Preschool"),
    ("primary", "Tiểu học", "Primary"),
    ("lower_secondary", "Trung học cơ sở", "Lower secondary"),
    ("upper_secondary", "Trung học phổ thông", "Upper secondary"),
    ("multi_level", "Nhiều cấp học", "Multi-level"),
    ("continuing", "Giáo dục thường xuyên", "Continuing education"),
]

OWNERSHIP: CodeList = [
    ("public", "Công lập", "Public"),
    ("private", "Tư thục", "Private"),
    ("people_founded", "Dân lập", "People-founded"),
]

# Only open organisations load from files: closing and merging need dates and successors and are
# done on the organisation page.
ORG_STATUS: CodeList = [("open", "Đang hoạt động", "Open")]

ENROLMENT_STATUS: CodeList = [
    ("studying", "Đang học", "Studying"),
    ("transferred_in", "Chuyển đến", "Transferred in"),
    ("repeating", "Lưu ban", "Repeating the year"),
    ("transferred_out", "Chuyển đi", "Transferred out"),
    ("dropped_out", "Bỏ học", "Dropped out"),
    ("graduated", "Tốt nghiệp / hoàn thành cấp học", "Graduated / completed the level"),
    ("completed", "Hoàn thành năm học", "Completed the school year"),
]

PERIOD: CodeList = [
    ("term1", "Học kỳ I", "Term 1"),
    ("term2", "Học kỳ II", "Term 2"),
    ("year", "Cả năm", "Whole year"),
]

# Subject ratings: Đ/CĐ for comment-assessed secondary subjects (Circular 22/2021), T/H/C for
# primary (Circular 27/2020).
SUBJECT_RATING: CodeList = [
    ("D", "Đạt", "Pass"),
    ("CD", "Chưa đạt", "Not yet passed"),
    ("T", "Hoàn thành tốt", "Completed well"),
    ("H", "Hoàn thành", "Completed"),
    ("C", "Chưa hoàn thành", "Not yet completed"),
]

# Learning and conduct ratings of a term or year (kết quả học tập, rèn luyện).
SUMMARY_RATING: CodeList = [
    ("T", "Tốt", "Good"),
    ("K", "Khá", "Fair"),
    ("D", "Đạt", "Pass"),
    ("CD", "Chưa đạt", "Not yet passed"),
]

OUTCOME: CodeList = [
    ("promoted", "Được lên lớp", "Promoted"),
    ("reassess", "Kiểm tra, đánh giá lại trong hè", "Reassessed in the summer"),
    ("repeat", "Ở lại lớp", "Repeats the grade"),
    ("completed_level", "Hoàn thành chương trình cấp học", "Completed the level"),
]

STAFF_ROLE: CodeList = [
    ("principal", "Hiệu trưởng", "Principal"),
    ("vice_principal", "Phó hiệu trưởng", "Vice-principal"),
    ("teacher", "Giáo viên", "Teacher"),
    ("staff", "Nhân viên", "Staff"),
]

QUALIFICATION: CodeList = [
    ("doctorate", "Tiến sĩ", "Doctorate"),
    ("master", "Thạc sĩ", "Master's degree"),
    ("bachelor", "Đại học", "Bachelor's degree"),
    ("college", "Cao đẳng", "College diploma"),
    ("intermediate", "Trung cấp", "Intermediate vocational"),
    ("other", "Khác", "Other"),
]

CONTRACT_TYPE: CodeList = [
    ("permanent", "Viên chức (biên chế)", "Permanent civil servant"),
    ("fixed_term", "Hợp đồng có thời hạn", "Fixed-term contract"),
    ("labour", "Hợp đồng lao động", "Labour contract"),
    ("visiting", "Thỉnh giảng", "Visiting teacher"),
]

# Blank means no disability (không khuyết tật).
DISABILITY: CodeList = [
    ("vision", "Khuyết tật nhìn", "Visual impairment"),
    ("hearing", "Khuyết tật nghe, nói", "Hearing or speech impairment"),
    ("physical", "Khuyết tật vận động", "Physical disability"),
    ("intellectual", "Khuyết tật trí tuệ", "Intellectual disability"),
    ("mental", "Khuyết tật thần kinh, tâm thần", "Neurological or mental disability"),
    ("autism", "Tự kỷ", "Autism"),
    ("multiple", "Đa tật", "Multiple disabilities"),
    ("other", "Khuyết tật khác", "Other disability"),
]

# Đối tượng chính sách: several may apply, separated by ';'.
POLICY_CATEGORY: CodeList = [
    ("ethnic_minority", "Dân tộc thiểu số", "Ethnic minority"),
    ("poor_household", "Hộ nghèo", "Poor household"),
    ("near_poor_household", "Hộ cận nghèo", "Near-poor household"),
    ("disadvantaged_area", "Vùng đặc biệt khó khăn", "Especially disadvantaged area"),
    ("martyr_child", "Con liệt sĩ", "Child of a war martyr"),
    ("war_invalid_child", "Con thương binh, bệnh binh", "Child of a war invalid"),
    ("orphan", "Mồ côi", "Orphan"),
    ("disabled", "Khuyết tật", "Disabled"),
]

BOOLEAN: CodeList = [("true", "Có", "Yes"), ("false", "Không", "No")]

# The 54 groups (names are proper nouns: the English label is the Vietnamese name), plus the
# two codes the registry also accepts (migration 0002): 55 foreigner, 56 unknown.
ETHNICITY: CodeList = [
    *((code, name, name) for code, name in ethnic_groups()),
    ("55", "Người nước ngoài", "Foreigner"),
    ("56", "Không xác định", "Unknown"),
]

SUBJECT: CodeList = [(code, name_vi, name_en) for code, name_vi, name_en, *_ in SUBJECTS]

CODE_LISTS: dict[str, CodeList] = {
    "sex": SEX,
    "ethnicity": ETHNICITY,
    "school_kind": SCHOOL_KIND,
    "school_level": SCHOOL_LEVEL,
    "ownership": OWNERSHIP,
    "org_status": ORG_STATUS,
    "enrolment_status": ENROLMENT_STATUS,
    "period": PERIOD,
    "subject_rating": SUBJECT_RATING,
    "summary_rating": SUMMARY_RATING,
    "outcome": OUTCOME,
    "staff_role": STAFF_ROLE,
    "qualification": QUALIFICATION,
    "contract_type": CONTRACT_TYPE,
    "disability": DISABILITY,
    "policy_category": POLICY_CATEGORY,
    "subject": SUBJECT,
    "boolean": BOOLEAN,
}

# Titles of the lists, for the standard page and the templates' code sheet.
CODE_LIST_TITLES: dict[str, tuple[str, str]] = {
    "sex": ("Giới tính", "Sex"),
    "ethnicity": ("Dân tộc", "Ethnic group"),
    "school_kind": ("Loại đơn vị", "Organisation kind"),
    "school_level": ("Cấp học", "School level"),
    "ownership": ("Loại hình", "Ownership"),
    "org_status": ("Trạng thái hoạt động", "Organisation status"),
    "enrolment_status": ("Trạng thái học tập", "Enrolment status"),
    "period": ("Kỳ đánh giá", "Assessment period"),
    "subject_rating": ("Mức đánh giá môn học", "Subject rating"),
    "summary_rating": ("Mức đánh giá học tập, rèn luyện", "Learning and conduct rating"),
    "outcome": ("Kết quả cuối năm", "Year outcome"),
    "staff_role": ("Chức vụ", "Staff role"),
    "qualification": ("Trình độ chuyên môn", "Qualification"),
    "contract_type": ("Hình thức hợp đồng", "Contract type"),
    "disability": ("Loại khuyết tật", "Disability"),
    "policy_category": ("Đối tượng chính sách", "Policy category"),
    "subject": ("Môn học", "Subject"),
    "boolean": ("Có/Không", "Yes/No"),
    "province": ("Tỉnh/thành phố", "Province"),
    "commune": ("Xã/phường", "Commune"),
}

# Lists held by the geo app in the database (not in static artefacts): their code format.
REFERENCE_LISTS: dict[str, tuple[str, str, str]] = {
    "province": (
        r"^\d{2}$",
        "Mã tỉnh/thành phố 2 chữ số theo danh mục hành chính hiện hành (34 tỉnh, thành phố "
        "từ 01/7/2025)",
        "Two-digit province code of the current administrative list (34 provinces since "
        "1 July 2025)",
    ),
    "commune": (
        r"^\d{5}$",
        "Mã xã/phường 5 chữ số theo danh mục hành chính hiện hành",
        "Five-digit commune/ward code of the current administrative list",
    ),
}


def codes(name: str) -> list[str]:
    """The codes of one list, in order."""
    return [code for code, _vi, _en in CODE_LISTS[name]]


def choice_text(name: str, code: str) -> str:
    """The text a template's drop-down shows for one code: 'M - Nam'."""
    labels = {c: vi for c, vi, _en in CODE_LISTS[name]}
    return f"{code} - {labels[code]}"


def code_aliases(name: str) -> dict[str, str]:
    """Normalised spellings a school may use for a code → the code.

    Accepts the code itself, the Vietnamese and English labels, and the drop-down text of the
    templates ('M - Nam'), all compared after ``search_key`` (lower case, no diacritics), so
    'nu', 'Nữ', 'female' and 'F - Nữ' all give 'F'. A spelling that would mean two codes of the
    list is left out rather than guessed.
    """
    aliases: dict[str, str] = {}
    ambiguous: set[str] = set()
    for code, vi, en in CODE_LISTS[name]:
        for text in (code, vi, en, f"{code} - {vi}"):
            key = search_key(text)
            if key in aliases and aliases[key] != code:
                ambiguous.add(key)
            aliases.setdefault(key, code)
    # The code itself always wins over another code's label.
    for code, _vi, _en in CODE_LISTS[name]:
        aliases[search_key(code)] = code
        ambiguous.discard(search_key(code))
    return {k: v for k, v in aliases.items() if k not in ambiguous}


def province_codes() -> CodeList:
    """The current provinces from the geo reference data (empty if none is loaded)."""
    from vnemis.geo.models import Province

    return [(code, name, name) for code, name in Province.objects.values_list("code", "name")]
