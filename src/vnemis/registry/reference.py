"""Reference code lists shipped with the project: ethnic groups, subjects, CCCD province codes."""

import csv
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"

# (code, Vietnamese name, English name, assessment, levels). Circular 22/2021 (secondary) and
# 27/2020 (primary) subjects; comment-assessed ones are rated rather than scored.
SUBJECTS = [
    ("TOAN", "Toán", "Mathematics", "score", ["primary", "lower_secondary", "upper_secondary"]),
    ("VAN", "Ngữ văn", "Literature", "score", ["lower_secondary", "upper_secondary"]),
    ("TV", "Tiếng Việt", "Vietnamese", "score", ["primary"]),
    (
        "NN",
        "Ngoại ngữ 1",
        "Foreign language",
        "score",
        ["primary", "lower_secondary", "upper_secondary"],
    ),
    ("LSDL", "Lịch sử và Địa lí", "History and Geography", "score", ["primary", "lower_secondary"]),
    ("KHTN", "Khoa học tự nhiên", "Natural sciences", "score", ["lower_secondary"]),
    ("KH", "Khoa học", "Science", "score", ["primary"]),
    ("GDCD", "Giáo dục công dân", "Civic education", "score", ["lower_secondary"]),
    ("CN", "Công nghệ", "Technology", "score", ["primary", "lower_secondary", "upper_secondary"]),
    ("TIN", "Tin học", "Informatics", "score", ["primary", "lower_secondary", "upper_secondary"]),
    ("LY", "Vật lí", "Physics", "score", ["upper_secondary"]),
    ("HOA", "Hoá học", "Chemistry", "score", ["upper_secondary"]),
    ("SINH", "Sinh học", "Biology", "score", ["upper_secondary"]),
    ("SU", "Lịch sử", "History", "score", ["upper_secondary"]),
    ("DIA", "Địa lí", "Geography", "score", ["upper_secondary"]),
    ("KTPL", "Giáo dục kinh tế và pháp luật", "Economics and Law", "score", ["upper_secondary"]),
    (
        "GDQP",
        "Giáo dục quốc phòng và an ninh",
        "National defence education",
        "score",
        ["upper_secondary"],
    ),
    ("DDUC", "Đạo đức", "Ethics", "comment", ["primary"]),
    ("TNXH", "Tự nhiên và Xã hội", "Nature and Society", "comment", ["primary"]),
    (
        "GDTC",
        "Giáo dục thể chất",
        "Physical education",
        "comment",
        ["primary", "lower_secondary", "upper_secondary"],
    ),
    ("NT", "Nghệ thuật", "Arts", "comment", ["primary", "lower_secondary", "upper_secondary"]),
    (
        "HDTN",
        "Hoạt động trải nghiệm, hướng nghiệp",
        "Experiential and career activities",
        "comment",
        ["primary", "lower_secondary", "upper_secondary"],
    ),
    (
        "GDDP",
        "Nội dung giáo dục địa phương",
        "Local content",
        "comment",
        ["lower_secondary", "upper_secondary"],
    ),
]


@lru_cache(maxsize=1)
def ethnic_groups() -> list[tuple[str, str]]:
    with open(DATA_DIR / "ethnic_groups.csv", encoding="utf-8") as f:
        return [(row["code"], row["name"]) for row in csv.DictReader(f)]


@lru_cache(maxsize=1)
def cccd_province_codes() -> dict[str, str]:
    """Three-digit code that opens a citizen ID → pre-2025 province of birth registration."""
    with open(DATA_DIR / "cccd_province_codes.csv", encoding="utf-8") as f:
        return {row["code"]: row["province_pre2025"] for row in csv.DictReader(f)}
