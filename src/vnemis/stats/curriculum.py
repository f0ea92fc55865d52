"""The curriculum's weekly periods and the teaching-load norms, as data (for staffing by subject).

``data/curriculum.csv``: one row per level, grade and subject of the 2018 general education
programme (Circular 32/2018/TT-BGDĐT, amended by 13/2022): ``periods`` per week (the yearly
periods over 35 weeks) and ``share``, the part of classes that study it: 1 for compulsory
subjects; for the upper-secondary electives (4 chosen of 8, 2 periods each) the expected uptake,
since the registry does not hold each class's elective combination (tổ hợp môn lựa chọn).
``teaching_subject`` groups the subjects one teacher covers: in primary, the class teacher
(giáo viên văn hoá, ``GVTH``) teaches Vietnamese, Mathematics, Ethics, Nature and Society,
History and Geography, Science and the experiential activities.

``data/teaching_load.csv``: the weekly periods a teacher teaches (định mức tiết dạy, Circular
05/2025/TT-BGDĐT): primary 23, lower secondary 19, upper secondary 17.

``settings.STATS_CURRICULUM_DIR`` points at another directory with the same two files; the
aggregate cube bakes them in, so a change takes effect at the next ``vnemis stats snapshot --full``.
"""

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from vnemis.registry.reference import SUBJECTS

from .indicators.definitions import NATIONAL_LEVELS

DATA_DIR = Path(__file__).parent / "data"
GENERALIST = "GVTH"  # primary class teacher (giáo viên văn hoá)
UNSPECIFIED = "KHAC"  # a teacher whose subjects match none of the level's curriculum
CURRICULUM_COLUMNS = ("level", "grade", "subject", "teaching_subject", "periods", "share")
LOAD_COLUMNS = ("level", "periods")


class CurriculumError(ValueError):
    def __init__(self, message_vi: str, message_en: str):
        super().__init__(f"{message_vi} / {message_en}")
        self.message_vi, self.message_en = message_vi, message_en


@dataclass(frozen=True)
class CurriculumRow:
    level: str
    grade: int
    subject: str
    teaching_subject: str
    periods: float
    share: float


def curriculum_dir() -> Path:
    return Path(getattr(settings, "STATS_CURRICULUM_DIR", DATA_DIR))


def _read(path: Path, columns: tuple[str, ...]) -> list[dict]:
    if not path.is_file():
        raise CurriculumError(f"Không tìm thấy tệp {path}", f"File {path} not found")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or ())]
        if missing:
            raise CurriculumError(
                f"{path.name}: thiếu cột {', '.join(missing)}",
                f"{path.name}: missing column(s) {', '.join(missing)}",
            )
        return list(reader)


def _number(path: Path, line: int, column: str, text: str, *, low: float, high: float) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = None
    if value is None or not low <= value <= high:
        raise CurriculumError(
            f"{path.name}, dòng {line}, cột '{column}': '{text}' không phải số từ {low} đến {high}",
            f"{path.name}, line {line}, column '{column}': '{text}' is not a number from {low} "
            f"to {high}",
        )
    return value


def load_curriculum(directory: Path) -> tuple[list[CurriculumRow], dict[str, float]]:
    """Both files, checked: levels and grades of the national system, numbers in range."""
    levels = {lv.code: lv for lv in NATIONAL_LEVELS}
    path = directory / "curriculum.csv"
    rows, seen = [], set()
    for line, raw in enumerate(_read(path, CURRICULUM_COLUMNS), start=2):
        level = levels.get(raw["level"])
        if level is None:
            raise CurriculumError(
                f"{path.name}, dòng {line}: cấp học '{raw['level']}' không hợp lệ",
                f"{path.name}, line {line}: unknown level '{raw['level']}'",
            )
        grade = int(
            _number(
                path,
                line,
                "grade",
                raw["grade"],
                low=level.first_grade,
                high=level.last_grade,
            )
        )
        key = (level.code, grade, raw["subject"])
        if key in seen or not raw["subject"] or not raw["teaching_subject"]:
            raise CurriculumError(
                f"{path.name}, dòng {line}: môn học trống hoặc lặp lại trong cùng khối",
                f"{path.name}, line {line}: subject empty or repeated within the grade",
            )
        seen.add(key)
        rows.append(
            CurriculumRow(
                level.code,
                grade,
                raw["subject"],
                raw["teaching_subject"],
                _number(path, line, "periods", raw["periods"], low=0, high=50),
                _number(path, line, "share", raw["share"], low=0, high=1),
            )
        )
    load_path = directory / "teaching_load.csv"
    load = {}
    for line, raw in enumerate(_read(load_path, LOAD_COLUMNS), start=2):
        load[raw["level"]] = _number(load_path, line, "periods", raw["periods"], low=1, high=50)
    missing = [code for code in levels if code not in load]
    if missing:
        raise CurriculumError(
            f"{load_path.name}: thiếu định mức tiết dạy của {', '.join(missing)}",
            f"{load_path.name}: no teaching load for {', '.join(missing)}",
        )
    return rows, load


@lru_cache(maxsize=4)
def _cached(directory: str) -> tuple[tuple[CurriculumRow, ...], tuple[tuple[str, float], ...]]:
    rows, load = load_curriculum(Path(directory))
    return tuple(rows), tuple(sorted(load.items()))


def curriculum() -> tuple[tuple[CurriculumRow, ...], dict[str, float]]:
    rows, load = _cached(str(curriculum_dir()))
    return rows, dict(load)


def curriculum_tables() -> dict[str, tuple[tuple[str, ...], list[tuple]]]:
    """The two tables the cube SQL joins: name → (columns, rows)."""
    rows, load = curriculum()
    return {
        "curriculum": (
            CURRICULUM_COLUMNS,
            [(r.level, r.grade, r.subject, r.teaching_subject, r.periods, r.share) for r in rows],
        ),
        "teaching_load": (LOAD_COLUMNS, sorted(load.items())),
    }


def register_duckdb(con) -> None:
    """Create the tables ``curriculum`` and ``teaching_load`` in a DuckDB connection."""
    for name, table in _arrow_tables().items():
        con.register(f"{name}_arrow", table)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")  # noqa: S608 -- constant names
        con.unregister(f"{name}_arrow")


def _arrow_tables() -> dict:
    import pyarrow as pa

    types = {
        "curriculum": [
            pa.string(),
            pa.int32(),
            pa.string(),
            pa.string(),
            pa.float64(),
            pa.float64(),
        ],
        "teaching_load": [pa.string(), pa.float64()],
    }
    out = {}
    for name, (columns, rows) in curriculum_tables().items():
        values = list(zip(*rows, strict=True))
        out[name] = pa.table(
            {c: pa.array(v, t) for c, v, t in zip(columns, values, types[name], strict=True)}
        )
    return out


def teaching_subject_labels() -> dict[str, str]:
    """Display names of the teaching subjects (subject codes, the generalist, unspecified)."""
    english = (get_language() or "vi").startswith("en")
    labels = {code: name_en if english else name_vi for code, name_vi, name_en, *_ in SUBJECTS}
    labels[GENERALIST] = _("Giáo viên dạy các môn văn hoá (tiểu học)")
    labels[UNSPECIFIED] = _("Chưa khai báo môn dạy")
    return labels
