"""University admission rules as data (DOMAIN.md §7): combinations, priority points, methods.

Combinations (tổ hợp xét tuyển) and priority categories change with each year's regulation and
differ between sources, so they live here as tables the data migration and the scoring read.
Points are integer hundredths, so the scoring never touches binary floating point.
"""

# (code, the three exam subjects by exam subject code, Vietnamese name). Many more exist:
# add rows here (and a data migration) rather than code paths.
COMBINATIONS: list[tuple[str, tuple[str, str, str], str]] = [
    ("A00", ("TOAN", "LY", "HOA"), "Toán, Vật lí, Hoá học"),
    ("A01", ("TOAN", "LY", "N1"), "Toán, Vật lí, Tiếng Anh"),
    ("A02", ("TOAN", "LY", "SINH"), "Toán, Vật lí, Sinh học"),
    ("B00", ("TOAN", "HOA", "SINH"), "Toán, Hoá học, Sinh học"),
    ("B08", ("TOAN", "SINH", "N1"), "Toán, Sinh học, Tiếng Anh"),
    ("C00", ("VAN", "SU", "DIA"), "Ngữ văn, Lịch sử, Địa lí"),
    ("C01", ("VAN", "TOAN", "LY"), "Ngữ văn, Toán, Vật lí"),
    ("C03", ("VAN", "TOAN", "SU"), "Ngữ văn, Toán, Lịch sử"),
    ("C04", ("VAN", "TOAN", "DIA"), "Ngữ văn, Toán, Địa lí"),
    ("D01", ("TOAN", "VAN", "N1"), "Toán, Ngữ văn, Tiếng Anh"),
    ("D07", ("TOAN", "HOA", "N1"), "Toán, Hoá học, Tiếng Anh"),
    ("D14", ("VAN", "SU", "N1"), "Ngữ văn, Lịch sử, Tiếng Anh"),
    ("D15", ("VAN", "DIA", "N1"), "Ngữ văn, Địa lí, Tiếng Anh"),
    ("X06", ("TOAN", "LY", "TIN"), "Toán, Vật lí, Tin học"),
    ("X26", ("TOAN", "TIN", "N1"), "Toán, Tin học, Tiếng Anh"),
]

SCALE = 3000  # the 30-point scale, in hundredths
HIGH_SCORE_FROM = 2250  # from 22.5 on, priority shrinks linearly to 0 at 30 (since 2025)
HIGH_SCORE_SPAN = SCALE - HIGH_SCORE_FROM  # 7.5 points
BONUS_CAP = 300  # bonus, reward and incentive points together: at most 10% of the scale

# Priority by region (khu vực ưu tiên), valid in the graduation year and the next.
REGIONS: dict[str, tuple[int, str]] = {
    "KV1": (75, "Khu vực 1"),
    "KV2NT": (50, "Khu vực 2 - nông thôn"),
    "KV2": (25, "Khu vực 2"),
    "KV3": (0, "Khu vực 3"),
}
# Priority groups (nhóm đối tượng ưu tiên): only the highest applies; region and group add.
GROUPS: dict[str, tuple[int, str]] = {
    "": (0, "Không thuộc nhóm ưu tiên"),
    "UT1": (200, "Nhóm ưu tiên 1"),
    "UT2": (100, "Nhóm ưu tiên 2"),
}

# Admission methods (phương thức xét tuyển) a programme divides its places between. Virtual
# filtering runs the exam-score method; the others are decided by the institutions beforehand.
METHOD_EXAM = "exam"
METHODS: dict[str, str] = {
    METHOD_EXAM: "Xét điểm thi tốt nghiệp THPT",
    "transcript": "Xét học bạ",
    "direct": "Xét tuyển thẳng",
    "aptitude": "Xét điểm thi đánh giá năng lực",
}
