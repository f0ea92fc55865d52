# ruff: noqa: S608 -- table names come from the fixed TABLES list.
"""Aggregate figures from CSV files, checked and loaded as cube tables into DuckDB.

Years before unit records existed, and units that report only totals, come as the files the
issue names (``enrolment.csv``, ``population.csv``, ...; UTF-8, a header row). Every file is
checked whole before anything is computed: a missing file or column, a value that is not a
whole number, an unknown sex or level, a negative count each give one message naming the file,
the column and the first rows concerned.
"""

from pathlib import Path

import duckdb
import polars as pl

from .engines import DuckDBEngine

LEVEL_CODES = ("primary", "lower_secondary", "upper_secondary")

# Required columns per file; other dimension columns (province, ethnicity, ...) pass through.
TABLES = {
    "enrolment": ("year", "level", "grade", "age", "sex", "count"),
    "repeaters": ("year", "level", "grade", "sex", "count"),
    "new_entrants": ("year", "level", "grade", "age", "sex", "count"),
    "graduates": ("year", "level", "sex", "count"),
    "population": ("year", "age", "sex", "count"),
    "teachers": ("year", "level", "sex", "count"),
    "levels": ("level", "entry_age", "grades"),
}
INTEGER_COLUMNS = {"year": (1900, 2200), "grade": (0, 12), "age": (0, 120), "count": (0, None)}
INTEGER_COLUMNS |= {"entry_age": (0, 30), "grades": (1, 12), "school_id": (0, None)}
PASS_THROUGH = (
    "province",
    "legacy_province",
    "school_id",
    "ethnicity",
    "ethnic_group",
    "urban_rural",
    "ownership",
)


class AggregateError(ValueError):
    def __init__(self, vi: str, en: str):
        super().__init__(f"{vi} / {en}")
        self.vi, self.en = vi, en


def _rows_text(rows: pl.Series) -> str:
    # Row numbers as a spreadsheet shows them: the header is row 1.
    shown = ", ".join(str(n + 2) for n in rows.head(5).to_list())
    return shown + (" …" if len(rows) > 5 else "")


def _read(path: Path, table: str) -> pl.DataFrame:
    name = path.name
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, UnicodeDecodeError) as exc:
        raise AggregateError(
            f"{name}: không đọc được tệp CSV UTF-8 ({exc.__class__.__name__})",
            f"{name}: not a readable UTF-8 CSV file ({exc.__class__.__name__})",
        ) from None
    frame = frame.rename({c: c.strip().lstrip("\ufeff").lower() for c in frame.columns})
    for column in TABLES[table]:
        if column not in frame.columns:
            raise AggregateError(
                f"{name}: thiếu cột '{column}'", f"{name}: missing column '{column}'"
            )
    keep = [c for c in (*TABLES[table], *PASS_THROUGH) if c in frame.columns]
    frame = frame.select(pl.col(c).str.strip_chars() for c in keep).with_row_index("_row")
    return _typed(frame, name)


def _typed(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    for column in frame.columns:
        if column == "_row":
            continue
        values = frame[column]
        empty = frame.filter(values.is_null() | (values == ""))["_row"]
        if len(empty) and column not in PASS_THROUGH:
            raise AggregateError(
                f"{name}: cột '{column}' trống ở dòng {_rows_text(empty)}",
                f"{name}: column '{column}' is empty in rows {_rows_text(empty)}",
            )
        if column in INTEGER_COLUMNS:
            low, high = INTEGER_COLUMNS[column]
            cast = values.cast(pl.Int64, strict=False)
            bad = frame.filter(cast.is_null() & values.is_not_null() & (values != ""))["_row"]
            if len(bad):
                raise AggregateError(
                    f"{name}: cột '{column}' phải là số nguyên (dòng {_rows_text(bad)})",
                    f"{name}: column '{column}' must be a whole number (rows {_rows_text(bad)})",
                )
            out = frame.filter((cast < low) | (cast > high if high is not None else False))
            if len(out):
                span = f"{low}–{high}" if high is not None else f">= {low}"
                raise AggregateError(
                    f"{name}: cột '{column}' ngoài khoảng {span} (dòng {_rows_text(out['_row'])})",
                    f"{name}: column '{column}' is outside {span} (rows {_rows_text(out['_row'])})",
                )
            frame = frame.with_columns(cast.alias(column))
    if "sex" in frame.columns:
        bad = frame.filter(~pl.col("sex").is_in(["F", "M"]))["_row"]
        if len(bad):
            raise AggregateError(
                f"{name}: cột 'sex' chỉ nhận F hoặc M (dòng {_rows_text(bad)})",
                f"{name}: column 'sex' must be F or M (rows {_rows_text(bad)})",
            )
    if "level" in frame.columns:
        bad = frame.filter(~pl.col("level").is_in(LEVEL_CODES))["_row"]
        if len(bad):
            raise AggregateError(
                f"{name}: cột 'level' phải là {', '.join(LEVEL_CODES)} (dòng {_rows_text(bad)})",
                f"{name}: column 'level' must be one of {', '.join(LEVEL_CODES)} "
                f"(rows {_rows_text(bad)})",
            )
    return frame.drop("_row")


def _with_first_grades(levels: pl.DataFrame, graded: list[pl.DataFrame]) -> pl.DataFrame:
    """Find each level's first grade: national numbering (primary 1–5, lower secondary 6–9, ...)
    or numbering from 1 within each level; the grades found in the files tell which."""
    duplicated = levels.filter(pl.col("level").is_duplicated())["level"].unique().to_list()
    if duplicated:
        raise AggregateError(
            f"levels.csv: cấp học '{duplicated[0]}' lặp lại",
            f"levels.csv: level '{duplicated[0]}' appears twice",
        )
    levels = levels.sort("entry_age")
    offsets = levels["grades"].cum_sum().shift(1, fill_value=0)
    grades = (
        pl.concat([f.select("level", "grade") for f in graded]).unique()
        if graded
        else pl.DataFrame(schema={"level": pl.String, "grade": pl.Int64})
    )
    first = []
    for level, count, offset in zip(levels["level"], levels["grades"], offsets, strict=True):
        seen = grades.filter(pl.col("level") == level)["grade"]
        national = seen.is_empty() or bool(seen.is_between(offset + 1, offset + count).all())
        local = not seen.is_empty() and bool(seen.is_between(1, count).all())
        if not (national or local):
            raise AggregateError(
                f"cột 'grade' của cấp {level} không khớp levels.csv ({count} lớp)",
                f"column 'grade' of level {level} does not match levels.csv ({count} grades)",
            )
        first.append(offset + 1 if national else 1)
    return levels.with_columns(pl.Series("first_grade", first, dtype=pl.Int64))


def aggregates_engine(directory: Path, tables: set[str]) -> DuckDBEngine:
    """A DuckDB engine holding ``tables`` (and ``levels``) read from ``directory``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise AggregateError(
            f"Không có thư mục {directory}", f"The directory {directory} does not exist"
        )
    con = duckdb.connect()
    frames = {}
    for table in sorted({*tables, "levels"}):
        path = directory / f"{table}.csv"
        if not path.is_file():
            raise AggregateError(
                f"Thiếu tệp {table}.csv trong {directory}",
                f"The file {table}.csv is missing from {directory}",
            )
        frames[table] = _read(path, table)
    graded = [f for t, f in frames.items() if "grade" in f.columns]
    frames["levels"] = _with_first_grades(frames["levels"], graded)
    for table, frame in frames.items():
        con.register(f"_{table}", frame.to_arrow())
        con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM "_{table}"')
        con.unregister(f"_{table}")
    return DuckDBEngine(con)
