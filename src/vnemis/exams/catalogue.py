"""The graduation exam's rules as data (Circular 24/2024, DOMAIN.md §6).

Subjects, priority categories, prizes and language certificates change from one regulation to the
next, so they live here as tables, not in code paths: the data migration loads ``SUBJECTS`` into
``ExamSubject``, and the claim rules read the other tables. Points are ``Decimal`` strings so
nothing is ever a binary float.
"""

from decimal import Decimal

COMPULSORY, ELECTIVE, LANGUAGE = "compulsory", "elective", "language"

# (code, Vietnamese name, English name, group). Language codes N1–N7 are the Ministry's own.
SUBJECTS: list[tuple[str, str, str, str]] = [
    ("VAN", "Ngữ văn", "Literature", COMPULSORY),
    ("TOAN", "Toán", "Mathematics", COMPULSORY),
    ("LY", "Vật lí", "Physics", ELECTIVE),
    ("HOA", "Hoá học", "Chemistry", ELECTIVE),
    ("SINH", "Sinh học", "Biology", ELECTIVE),
    ("SU", "Lịch sử", "History", ELECTIVE),
    ("DIA", "Địa lí", "Geography", ELECTIVE),
    ("KTPL", "Giáo dục kinh tế và pháp luật", "Economics and Law", ELECTIVE),
    ("TIN", "Tin học", "Informatics", ELECTIVE),
    ("CNCN", "Công nghệ - Công nghiệp", "Industrial Technology", ELECTIVE),
    ("CNNN", "Công nghệ - Nông nghiệp", "Agricultural Technology", ELECTIVE),
    ("N1", "Tiếng Anh", "English", LANGUAGE),
    ("N2", "Tiếng Nga", "Russian", LANGUAGE),
    ("N3", "Tiếng Pháp", "French", LANGUAGE),
    ("N4", "Tiếng Trung Quốc", "Chinese", LANGUAGE),
    ("N5", "Tiếng Đức", "German", LANGUAGE),
    ("N6", "Tiếng Nhật", "Japanese", LANGUAGE),
    ("N7", "Tiếng Hàn", "Korean", LANGUAGE),
]
SUBJECT_GROUPS = {code: group for code, _vi, _en, group in SUBJECTS}
COMPULSORY_CODES = tuple(code for code, group in SUBJECT_GROUPS.items() if group == COMPULSORY)
# Every elective, a foreign language included (a language counts as one of the two electives).
ELECTIVE_CODES = tuple(code for code, group in SUBJECT_GROUPS.items() if group != COMPULSORY)
LANGUAGE_CODES = tuple(code for code, group in SUBJECT_GROUPS.items() if group == LANGUAGE)

# Priority categories (đối tượng ưu tiên) and their points: only the highest applies. The list
# follows Circular 24/2024 as read from public sources; its exact membership differs between
# sources (DOMAIN.md §6), so edit here rather than in code.
PRIORITY_CATEGORIES: dict[str, tuple[Decimal, str, str]] = {
    "martyr_child": (Decimal("0.50"), "Con liệt sĩ", "Child of a martyr"),
    "war_invalid_child_81": (
        Decimal("0.50"),
        "Con thương binh, bệnh binh suy giảm khả năng lao động từ 81% trở lên",
        "Child of a war invalid with 81% or more loss of working capacity",
    ),
    "ethnic_minority_disadvantaged": (
        Decimal("0.50"),
        "Người dân tộc thiểu số ở xã đặc biệt khó khăn",
        "Ethnic minority living in an especially disadvantaged commune",
    ),
    "war_invalid_child": (
        Decimal("0.25"),
        "Con thương binh, bệnh binh suy giảm khả năng lao động dưới 81%",
        "Child of a war invalid with less than 81% loss of working capacity",
    ),
    "ethnic_minority": (Decimal("0.25"), "Người dân tộc thiểu số", "Ethnic minority"),
    "disadvantaged_commune": (
        Decimal("0.25"),
        "Người Kinh ở xã đặc biệt khó khăn",
        "Kinh person living in an especially disadvantaged commune",
    ),
    "disabled": (Decimal("0.25"), "Người khuyết tật", "Person with a disability"),
}

# Incentive points for prizes (điểm khuyến khích): only the highest prize counts.
PRIZES: dict[str, tuple[Decimal, str, str]] = {
    "national_1": (Decimal("2.00"), "Giải Nhất cấp quốc gia", "National first prize"),
    "national_2": (Decimal("2.00"), "Giải Nhì cấp quốc gia", "National second prize"),
    "national_3": (Decimal("2.00"), "Giải Ba cấp quốc gia", "National third prize"),
    "provincial_1": (Decimal("2.00"), "Giải Nhất cấp tỉnh", "Provincial first prize"),
    "national_consolation": (
        Decimal("1.50"),
        "Giải Khuyến khích cấp quốc gia",
        "National consolation prize",
    ),
    "provincial_2": (Decimal("1.50"), "Giải Nhì cấp tỉnh", "Provincial second prize"),
    "provincial_3": (Decimal("1.00"), "Giải Ba cấp tỉnh", "Provincial third prize"),
}

# Foreign-language certificates that exempt from the language paper, by language. The minimum
# levels are set by the Ministry each year and checked by the officer who records the evidence.
CERTIFICATES: dict[str, tuple[str, ...]] = {
    "N1": ("IELTS", "TOEFL_IBT", "TOEFL_ITP", "CAMBRIDGE", "TOEIC", "APTIS", "PEARSON"),
    "N2": ("TORFL",),
    "N3": ("DELF", "TCF"),
    "N4": ("HSK", "TOCFL"),
    "N5": ("GOETHE", "TESTDAF", "OSD", "DSD"),
    "N6": ("JLPT", "NAT_TEST", "JFT"),
    "N7": ("TOPIK",),
}

# Documents a free candidate (thí sinh tự do) registers with.
FREE_CANDIDATE_DOCUMENTS: dict[str, tuple[str, str]] = {
    "transcript": ("Học bạ THPT (bản sao)", "Upper-secondary transcript (copy)"),
    "completion_certificate": (
        "Giấy chứng nhận hoàn thành chương trình THPT",
        "Certificate of completing the upper-secondary programme",
    ),
    "identity_card": ("Căn cước công dân (bản sao)", "Citizen identity card (copy)"),
    "other": ("Giấy tờ khác", "Other document"),
}
