"""The population table: population by province, single year of age and sex, per year.

Enrolment ratios divide pupils by the population of the official age, so the table comes from
the statistics office's estimates (or, for synthetic data, from ``vnemis generate``'s
``population.csv``). ``population_load`` reads a CSV or Parquet file with the columns
``year, province, age, sex, count``, validates every row first and then, in one transaction,
replaces the years the file holds: a file with one bad row changes nothing.
"""

from dataclasses import dataclass
from pathlib import Path

import polars as pl
from django.db import transaction

from .models import PopulationEstimate, SnapshotPartition

COLUMNS = ("year", "province", "age", "sex", "count")
MAX_AGE = 120
MAX_ERRORS = 20  # problems listed in one error (the first ones, in row order)


class PopulationFileError(Exception):
    """A population file that cannot be loaded; ``errors`` name the row (1-based, after the
    header) and the column of each problem."""

    def __init__(
        self, code: str, message_vi: str, message_en: str, errors: list[dict] | None = None
    ) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en
        self.errors = errors or []

    def __str__(self) -> str:
        lines = [f"{self.message_vi} / {self.message_en}"]
        lines += [f"  {e['message_vi']} / {e['message_en']}" for e in self.errors]
        return "\n".join(lines)


@dataclass(frozen=True)
class PopulationLoaded:
    rows: int
    years: list[int]
    provinces: int


def _read(path: Path) -> pl.DataFrame:
    name = path.name
    if not path.is_file():
        raise PopulationFileError(
            "file_not_found",
            f"Không tìm thấy tệp {name}.",
            f"File {name} was not found.",
        )
    try:
        if path.suffix.lower() == ".parquet":
            frame = pl.read_parquet(path)
            return frame.select(pl.all().cast(pl.String))
        if path.suffix.lower() == ".csv":
            return pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except Exception as exc:
        raise PopulationFileError(
            "unreadable",
            f"Không đọc được tệp {name}: {exc}",
            f"File {name} could not be read: {exc}",
        ) from exc
    raise PopulationFileError(
        "unsupported_format",
        f"Tệp {name} phải là CSV hoặc Parquet.",
        f"File {name} must be CSV or Parquet.",
    )


def _problem(name: str, row: int, column: str, value, vi: str, en: str) -> dict:
    return {
        "file": name,
        "row": row,
        "field": column,
        "value": value,
        "message_vi": f"{name}, dòng {row}, cột {column}: {vi} (giá trị: {value!r}).",
        "message_en": f"{name}, row {row}, column {column}: {en} (value: {value!r}).",
    }


def population_validate(frame: pl.DataFrame, *, name: str) -> pl.DataFrame:
    """The file's rows as typed columns, or a ``PopulationFileError`` listing the bad cells."""
    header = [c.strip().lower() for c in frame.columns]
    frame = frame.rename(dict(zip(frame.columns, header, strict=True)))
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        cols = ", ".join(missing)
        raise PopulationFileError(
            "missing_columns",
            f"Tệp {name} thiếu cột: {cols}. Cần đủ các cột {', '.join(COLUMNS)}.",
            f"File {name} lacks the column(s): {cols}. It needs {', '.join(COLUMNS)}.",
            [
                {
                    "file": name,
                    "row": 0,
                    "field": c,
                    "value": None,
                    "message_vi": f"{name}: thiếu cột {c}.",
                    "message_en": f"{name}: column {c} is missing.",
                }
                for c in missing
            ],
        )
    if frame.height == 0:
        raise PopulationFileError(
            "empty", f"Tệp {name} không có dòng dữ liệu nào.", f"File {name} has no data rows."
        )
    text = frame.select([pl.col(c).cast(pl.String).str.strip_chars() for c in COLUMNS])
    typed = text.with_columns(
        pl.col("year").cast(pl.Int64, strict=False),
        pl.col("age").cast(pl.Int64, strict=False),
        pl.col("count").cast(pl.Int64, strict=False),
        pl.col("province").str.zfill(2),
        pl.col("sex").str.to_uppercase(),
    )
    checks = [
        ("year", pl.col("year").is_null() | ~pl.col("year").is_between(1900, 2200),
         "năm phải là số nguyên bốn chữ số", "the year must be a four-digit whole number"),
        ("province", ~pl.col("province").fill_null("").str.contains(r"^\d{2}$"),
         "mã tỉnh phải gồm hai chữ số", "the province code must be two digits"),
        ("age", pl.col("age").is_null() | ~pl.col("age").is_between(0, MAX_AGE),
         f"tuổi phải là số nguyên từ 0 đến {MAX_AGE}",
         f"the age must be a whole number from 0 to {MAX_AGE}"),
        ("sex", ~pl.col("sex").fill_null("").is_in(["M", "F"]),
         "giới tính phải là M (nam) hoặc F (nữ)", "the sex must be M (male) or F (female)"),
        ("count", pl.col("count").is_null() | (pl.col("count") < 0),
         "số người phải là số nguyên không âm", "the count must be a whole number, not negative"),
    ]  # fmt: skip
    flagged = typed.with_row_index("_row", offset=1).with_columns(
        [expr.alias(f"_bad_{column}") for column, expr, _, _ in checks]
    )
    errors = []
    for column, _, vi, en in checks:
        bad = flagged.filter(pl.col(f"_bad_{column}")).select("_row").to_series().to_list()
        raw = text[column]
        errors += [_problem(name, r, column, raw[r - 1], vi, en) for r in bad[:MAX_ERRORS]]
    key = ["year", "province", "age", "sex"]
    dup = flagged.filter(~pl.struct(key).is_first_distinct())  # repeats of an earlier row
    if not errors and dup.height:
        first = dup.row(0, named=True)
        errors.append(
            _problem(
                name,
                first["_row"],
                "year, province, age, sex",
                f"{first['year']}, {first['province']}, {first['age']}, {first['sex']}",
                "dòng bị lặp (cùng năm, tỉnh, tuổi, giới tính)",
                "a duplicated row (same year, province, age, sex)",
            )
        )
    if errors:
        errors.sort(key=lambda e: e["row"])
        raise PopulationFileError(
            "invalid_rows",
            f"Tệp {name} có {len(errors)} lỗi; chưa nạp dòng nào.",
            f"File {name} has {len(errors)} error(s); nothing was loaded.",
            errors[:MAX_ERRORS],
        )
    return typed


def population_load(path: str | Path) -> PopulationLoaded:
    """Load a population file, replacing the years it holds (all or nothing)."""
    path = Path(path)
    typed = population_validate(_read(path), name=path.name)
    years = sorted(typed["year"].unique().to_list())
    objects = [
        PopulationEstimate(year=y, province_code=p, age=a, sex=s, count=c)
        for y, p, a, s, c in typed.select(COLUMNS).iter_rows()
    ]
    with transaction.atomic():
        PopulationEstimate.objects.filter(year__in=years).delete()
        PopulationEstimate.objects.bulk_create(objects, batch_size=5_000)
        # The snapshot's population.parquet is rewritten at the next refresh.
        SnapshotPartition.objects.filter(dataset="population").delete()
    return PopulationLoaded(rows=len(objects), years=years, provinces=typed["province"].n_unique())
