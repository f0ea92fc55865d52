# ruff: noqa: S608 -- SQL from this module's constants; the year is an int, paths are escaped.
"""Open data: the catalogue of public datasets and their computation (docs/open-data.md).

Every dataset is a count table: one ``GROUP BY`` over the analytics snapshot (Parquet, read by
DuckDB, never the registry tables), for one school year, then suppressed
(``stats.suppression``: small cells and their complements hidden), then cached. Nothing here
knows about users: what is published is the same for everyone, and holds no unit record.

Cache: the published table (a plain dict) is kept in Django's cache under a key holding the
dataset, the year, the threshold and the *version* of the snapshot files it reads (their
paths, sizes and modification times, hashed; or the ``VERSION`` stamp if the writer leaves
one). A snapshot refresh rewrites files (write then rename), which changes the version, so the
next request computes the table again; the old entries expire on their own.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import get_language

from .suppression import DEFAULT_THRESHOLD, TOTAL, Dimension, rate, table_publish

LICENCE = "CC BY 4.0"
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"
CACHE_SECONDS = 6 * 3600
HIVE_TYPES = "{'school_year': INTEGER, 'province': VARCHAR}"
YEAR_DIR = re.compile(r"^school_year=(\d{4})$")
MIN_YEAR, MAX_YEAR = 1990, 2100

SOURCE_VI = "Bộ GD&ĐT, CSDL ngành Giáo dục (bản sao thống kê)"
SOURCE_EN = "Ministry of Education and Training, national education database (analytics snapshot)"

# A pupil counts in a school year when the enrolment is open on 30 September (Circular
# 25/2024's reference date, as the indicator cube counts): one pupil, one count.
ENROLLED = """
  grade BETWEEN 1 AND 12
  AND started_on <= make_date(school_year, 9, 30)
  AND (ended_on IS NULL OR ended_on > make_date(school_year, 9, 30))"""


def threshold() -> int:
    """Counts below this are hidden (``OPENDATA_SUPPRESSION_THRESHOLD``, default 5)."""
    value = int(getattr(settings, "OPENDATA_SUPPRESSION_THRESHOLD", DEFAULT_THRESHOLD))
    if value < 1:
        raise ValueError("OPENDATA_SUPPRESSION_THRESHOLD must be at least 1")
    return value


def snapshot_root() -> Path:
    return Path(getattr(settings, "STATS_SNAPSHOT_DIR", settings.VAR_DIR / "snapshot"))


# --- the catalogue -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DimensionSpec:
    code: str
    label_vi: str
    label_en: str
    # (code, Vietnamese label, English label); ``None``: the provinces, from the geo app.
    values: tuple[tuple[str, str, str], ...] | None


PROVINCE = DimensionSpec("province", "Tỉnh, thành phố", "Province", None)
GRADE = DimensionSpec(
    "grade",
    "Khối lớp",
    "Grade",
    tuple((str(g), f"Lớp {g}", f"Grade {g}") for g in range(1, 13)),
)
SEX = DimensionSpec("sex", "Giới tính", "Sex", (("M", "Nam", "Male"), ("F", "Nữ", "Female")))
GENERAL_LEVELS = (
    ("primary", "Tiểu học", "Primary"),
    ("lower_secondary", "Trung học cơ sở", "Lower secondary"),
    ("upper_secondary", "Trung học phổ thông", "Upper secondary"),
)
LEVEL = DimensionSpec("level", "Cấp học", "Level", GENERAL_LEVELS)
STAFF_LEVEL = DimensionSpec(
    "level", "Cấp học", "Level", (("preschool", "Mầm non", "Preschool"), *GENERAL_LEVELS)
)
SCHOOL_LEVEL = DimensionSpec(
    "level",
    "Cấp học",
    "Level",
    (
        ("preschool", "Mầm non", "Preschool"),
        *GENERAL_LEVELS,
        ("multi_level", "Nhiều cấp học", "Multi-level"),
        ("continuing", "Giáo dục thường xuyên", "Continuing education"),
    ),
)
ETHNIC_GROUP = DimensionSpec(
    "ethnic_group",
    "Dân tộc",
    "Ethnic group",
    (
        ("kinh", "Kinh", "Kinh"),
        ("minority", "Dân tộc thiểu số", "Ethnic minority"),
        ("other", "Người nước ngoài, chưa xác định", "Foreign or unknown"),
    ),
)
OWNERSHIP = DimensionSpec(
    "ownership",
    "Loại hình",
    "Ownership",
    (
        ("public", "Công lập", "Public"),
        ("private", "Tư thục", "Private"),
        ("people_founded", "Dân lập", "People-founded"),
    ),
)
QUALIFICATION = DimensionSpec(
    "qualification",
    "Trình độ đào tạo",
    "Qualification",
    (
        ("doctorate", "Tiến sĩ", "Doctorate"),
        ("master", "Thạc sĩ", "Master"),
        ("bachelor", "Đại học", "Bachelor"),
        ("college", "Cao đẳng", "College"),
        ("intermediate", "Trung cấp", "Intermediate"),
        ("other", "Khác", "Other"),
    ),
)


@dataclass(frozen=True)
class Dataset:
    code: str
    title_vi: str
    title_en: str
    description_vi: str
    description_en: str
    dimensions: tuple[DimensionSpec, ...]
    unit_vi: str
    unit_en: str
    source: str  # the snapshot dataset whose year partitions define the years available
    sql: str  # {root}: the snapshot root; {year}: the school year (an int)
    frequency_vi: str = "Hằng năm (sau mỗi lần làm mới bản sao thống kê)"
    frequency_en: str = "Yearly (refreshed with the analytics snapshot)"
    licence: str = LICENCE

    def title(self) -> str:
        return self.title_en if _english() else self.title_vi

    def description(self) -> str:
        return self.description_en if _english() else self.description_vi

    def unit(self) -> str:
        return self.unit_en if _english() else self.unit_vi

    def frequency(self) -> str:
        return self.frequency_en if _english() else self.frequency_vi


def _english() -> bool:
    return (get_language() or "vi").startswith("en")


def _glob(root: Path, dataset: str, year: int) -> str:
    path = root / dataset / f"school_year={int(year)}" / "**" / "*.parquet"
    return str(path).replace("'", "''")


def _read(dataset: str) -> str:
    return (
        # Doubled braces: the SQL is a format string ({enrolments}: the files' glob).
        f"read_parquet('{{{dataset}}}', hive_partitioning = true, "
        f"hive_types = {HIVE_TYPES.replace('{', '{{').replace('}', '}}')}, union_by_name = true)"
    )


def _code(column: str) -> str:
    return f"COALESCE(CAST({column} AS VARCHAR), 'unknown')"


DATASETS: tuple[Dataset, ...] = (
    Dataset(
        code="pupils-grade-sex",
        title_vi="Học sinh phổ thông theo tỉnh, khối lớp và giới tính",
        title_en="Pupils by province, grade and sex",
        description_vi=(
            "Số học sinh từ lớp 1 đến lớp 12 đang theo học ngày 30/9 của năm học, theo tỉnh, "
            "thành phố, khối lớp và giới tính; mỗi học sinh được đếm một lần."
        ),
        description_en=(
            "Pupils of grades 1 to 12 enrolled on 30 September of the school year, by province, "
            "grade and sex; each pupil counted once."
        ),
        dimensions=(PROVINCE, GRADE, SEX),
        unit_vi="học sinh",
        unit_en="pupils",
        source="enrolments",
        sql=f"""SELECT province, {_code("grade")}, {_code("sex")}, COUNT(*)
            FROM {_read("enrolments")} WHERE {ENROLLED} GROUP BY ALL""",
    ),
    Dataset(
        code="pupils-level-ethnicity",
        title_vi="Học sinh phổ thông theo tỉnh, cấp học và dân tộc",
        title_en="Pupils by province, level and ethnic group",
        description_vi=(
            "Số học sinh đang theo học ngày 30/9 theo tỉnh, thành phố, cấp học và nhóm dân tộc "
            "(Kinh; 53 dân tộc thiểu số; người nước ngoài hoặc chưa xác định)."
        ),
        description_en=(
            "Pupils enrolled on 30 September by province, level and ethnic group (Kinh; the 53 "
            "ethnic minorities; foreign or unknown)."
        ),
        dimensions=(PROVINCE, LEVEL, ETHNIC_GROUP),
        unit_vi="học sinh",
        unit_en="pupils",
        source="enrolments",
        sql=f"""SELECT province, {_code("level")},
                CASE WHEN ethnicity = '01' THEN 'kinh'
                     WHEN ethnicity BETWEEN '02' AND '54' AND length(ethnicity) = 2 THEN 'minority'
                     ELSE 'other' END,
                COUNT(*)
            FROM {_read("enrolments")} WHERE {ENROLLED} GROUP BY ALL""",
    ),
    Dataset(
        code="schools-level-ownership",
        title_vi="Trường học theo tỉnh, cấp học và loại hình",
        title_en="Schools by province, level and ownership",
        description_vi=(
            "Số trường có lớp học trong năm học, theo tỉnh, thành phố, cấp học của trường và "
            "loại hình (công lập, tư thục, dân lập)."
        ),
        description_en=(
            "Schools with at least one class in the school year, by province, the school's level "
            "and ownership (public, private, people-founded)."
        ),
        dimensions=(PROVINCE, SCHOOL_LEVEL, OWNERSHIP),
        unit_vi="trường",
        unit_en="schools",
        source="classes",
        sql=f"""SELECT c.province, {_code("s.level")}, {_code("s.ownership")}, COUNT(*)
            FROM (SELECT DISTINCT school_id, province FROM {_read("classes")}) AS c
            JOIN read_parquet('{{schools}}') AS s ON s.school_id = c.school_id
            GROUP BY ALL""",
    ),
    Dataset(
        code="teachers-level-qualification",
        title_vi="Giáo viên theo tỉnh, cấp học và trình độ đào tạo",
        title_en="Teachers by province, level and qualification",
        description_vi=(
            "Số vị trí giáo viên (phân công với vai trò giáo viên còn hiệu lực ở ngày tham chiếu "
            "của năm học) theo tỉnh, thành phố, cấp học giảng dạy và trình độ đào tạo."
        ),
        description_en=(
            "Teaching posts (assignments with the role teacher in force on the school year's "
            "reference date) by province, level taught and qualification."
        ),
        dimensions=(PROVINCE, STAFF_LEVEL, QUALIFICATION),
        unit_vi="giáo viên",
        unit_en="teachers",
        source="staff",
        sql=f"""SELECT province, {_code("level")}, {_code("qualification")}, COUNT(*)
            FROM {_read("staff")} WHERE role = 'teacher' GROUP BY ALL""",
    ),
    Dataset(
        code="classes-grade",
        title_vi="Lớp học theo tỉnh và khối lớp",
        title_en="Classes by province and grade",
        description_vi="Số lớp học từ lớp 1 đến lớp 12 trong năm học, theo tỉnh, thành phố và khối lớp.",
        description_en="Classes of grades 1 to 12 in the school year, by province and grade.",
        dimensions=(PROVINCE, GRADE),
        unit_vi="lớp",
        unit_en="classes",
        source="classes",
        sql=f"""SELECT province, {_code("grade")}, COUNT(*)
            FROM {_read("classes")} WHERE grade BETWEEN 1 AND 12 GROUP BY ALL""",
    ),
)
DATASETS_BY_CODE = {d.code: d for d in DATASETS}


class UnknownDataset(LookupError):
    """No dataset with this code."""


class YearUnavailable(LookupError):
    """The dataset has no data for this school year in the snapshot."""


def dataset_get(code: str) -> Dataset:
    try:
        return DATASETS_BY_CODE[code]
    except KeyError:
        raise UnknownDataset(code) from None


# --- years and versions --------------------------------------------------------------------------


def dataset_years(dataset: Dataset, root: Path | None = None) -> list[int]:
    """School years with data in the snapshot, newest first."""
    root = root or snapshot_root()
    if "{schools}" in dataset.sql and not (root / "schools.parquet").is_file():
        return []
    base = root / dataset.source
    years = []
    try:
        entries = list(os.scandir(base))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for entry in entries:
        match = YEAR_DIR.match(entry.name)
        if match and entry.is_dir() and any(Path(entry.path).rglob("*.parquet")):
            years.append(int(match.group(1)))
    return sorted(years, reverse=True)


def snapshot_version(dataset: Dataset, year: int, root: Path | None = None) -> str:
    """A digest of the files one dataset-year reads: changes when any is rewritten or removed."""
    root = root or snapshot_root()
    digest = hashlib.sha256()
    stamp = root / "VERSION"
    if stamp.is_file():
        digest.update(stamp.read_bytes())
    sources = [root / dataset.source / f"school_year={int(year)}"]
    if "{schools}" in dataset.sql:
        sources.append(root / "schools.parquet")
    for source in sources:
        files = [source] if source.is_file() else sorted(source.rglob("*.parquet"))
        for file in files:
            try:
                st = file.stat()
            except FileNotFoundError:
                continue
            digest.update(f"{file.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


# --- computing and publishing --------------------------------------------------------------------


def _counts(dataset: Dataset, year: int, root: Path) -> list[tuple[tuple[str, ...], int]]:
    paths = {"schools": str(root / "schools.parquet").replace("'", "''")}
    paths[dataset.source] = _glob(root, dataset.source, year)
    sql = dataset.sql.format(**paths)
    con = duckdb.connect()
    try:
        rows = con.execute(sql).fetchall()
    finally:
        con.close()
    return [(tuple(str(v) for v in row[:-1]), int(row[-1])) for row in rows]


def _province_values() -> list[tuple[str, str, str]]:
    from vnemis.geo.models import Province

    return [(p.code, p.name, p.name) for p in Province.objects.order_by("code")]


def _dimension_values(spec: DimensionSpec, seen: set[str]) -> list[dict]:
    declared = _province_values() if spec.values is None else list(spec.values)
    known = {code for code, _, _ in declared}
    # Values the catalogue does not list still count, so that the totals stay true.
    extra = [
        (code, "Chưa xác định", "Unknown") if code == "unknown" else (code, code, code)
        for code in sorted(seen - known)
    ]
    return [{"code": code, "label_vi": vi, "label_en": en} for code, vi, en in declared + extra]


def dataset_compute(dataset: Dataset, year: int, root: Path | None = None) -> dict:
    """The published table of one dataset and year (not cached): a JSON-ready dict."""
    root = root or snapshot_root()
    if year not in dataset_years(dataset, root):
        raise YearUnavailable(year)
    counts = _counts(dataset, year, root)
    dims = []
    for d, spec in enumerate(dataset.dimensions):
        seen = {key[d] for key, _ in counts}
        dims.append(
            {
                "code": spec.code,
                "label_vi": spec.label_vi,
                "label_en": spec.label_en,
                "values": _dimension_values(spec, seen),
            }
        )
    table_dims = [Dimension(d["code"], tuple(v["code"] for v in d["values"])) for d in dims]
    limit = threshold()
    table = table_publish(table_dims, counts, threshold=limit)
    rows = []
    for key, cell in table.cells.items():
        # The share of the cell in its total along the last dimension (e.g. girls among pupils).
        whole = table.cells[(*key[:-1], TOTAL)].value
        rows.append(
            {
                "dims": dict(zip((d["code"] for d in dims), key, strict=True)),
                "value": cell.value,
                "percent": rate(cell.value, whole),
                "suppressed": cell.suppressed,
                "margin": cell.is_margin,
            }
        )
    return {
        "code": dataset.code,
        "year": year,
        "threshold": limit,
        "version": snapshot_version(dataset, year, root),
        "licence": dataset.licence,
        "dimensions": dims,
        "rows": rows,
    }


def dataset_published(code: str, year: int) -> dict:
    """The published table from the cache, computed on a miss (key: dataset, year, version)."""
    dataset = dataset_get(code)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise YearUnavailable(year)
    root = snapshot_root()
    version = snapshot_version(dataset, year, root)
    key = f"opendata:v1:{code}:{year}:{threshold()}:{version}"
    published = cache.get(key)
    if published is None:
        published = dataset_compute(dataset, year, root)
        cache.set(key, published, CACHE_SECONDS)
    return published


def catalogue() -> list[dict]:
    """Every dataset's description and the years it has (newest first)."""
    root = snapshot_root()
    return [
        {
            "code": d.code,
            "title_vi": d.title_vi,
            "title_en": d.title_en,
            "description_vi": d.description_vi,
            "description_en": d.description_en,
            "dimensions": [
                {"code": s.code, "label_vi": s.label_vi, "label_en": s.label_en}
                for s in d.dimensions
            ],
            "unit_vi": d.unit_vi,
            "unit_en": d.unit_en,
            "source_vi": SOURCE_VI,
            "source_en": SOURCE_EN,
            "frequency_vi": d.frequency_vi,
            "frequency_en": d.frequency_en,
            "licence": d.licence,
            "licence_url": LICENCE_URL,
            "years": dataset_years(d, root),
        }
        for d in DATASETS
    ]
