"""Validating a normalised chunk, set-wise: every check is a boolean column, every true cell
one error row (row, column, value as given, code). A row with any error is left out of the
canonical files; the rest go on to the engine, which checks what needs the database (schools,
classes, the caller's scope).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from vnemis.registry import exchange_format as xf
from vnemis.registry.loaders_frames import education_ids_valid
from vnemis.registry.reference import cccd_province_codes

from .normalise import (
    PERSON_NAMES,
    RAW,
    Check,
    clean_expr,
    clean_series,
    column_normalise,
    date_order_exprs,
    name_series,
)
from .readers import EXTRA, ROW

BAD = "_bad"  # set by the JSON Lines reader on lines that are not JSON objects
VALUE_CHARS = 200
CLEAN, NAMED = "__clean_", "__named_"
DATE, YEAR1, CLASS_GRADE = "__date_", "__year1", "__class_grade"
DAY_FIRST, AMBIGUOUS = "__dayfirst_", "__ambiguous_"
# Columns whose values are mostly distinct: normalised row by row rather than per distinct value.
DISTINCT_VALUES = {
    "full_name",
    "name",
    "pupil_code",
    "staff_code",
    "citizen_id",
    "education_id",
    "address",
    "homeroom_staff_code",
}
ERROR_SCHEMA = {
    "row": pl.Int64,
    "entity": pl.String,
    "column": pl.String,
    "value": pl.String,
    "code": pl.String,
    "severity": pl.String,
}


def errors_empty() -> pl.DataFrame:
    return pl.DataFrame(schema=ERROR_SCHEMA)


@dataclass
class DateOrder:
    """Evidence of one date column in a chunk: rows only mm/dd can explain, rows only dd/mm can
    explain, and the valid rows that read either way (03/04/2014)."""

    month_first: int
    day_first: int
    ambiguous_rows: pl.Series


def chunk_validate(
    df: pl.DataFrame, *, layout: xf.Entity, school_code: str | None, today: date
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, DateOrder]]:
    """(valid rows: canonical columns + ``_row``, error rows, date-order evidence per date
    column) of one chunk of raw text columns named by canonical column."""
    present = set(df.columns)
    raw = []
    for c in layout.columns:
        if c.name == "school_code" and school_code and c.name in present:
            # A blank school code on a school's own file is that school.
            given = pl.col(c.name).cast(pl.String)
            blank = given.is_null() | (given.str.strip_chars() == "")
            raw.append(
                pl.when(blank).then(pl.lit(school_code)).otherwise(given).alias(RAW + c.name)
            )
        elif c.name in present:
            raw.append(pl.col(c.name).cast(pl.String).alias(RAW + c.name))
        elif c.name == "school_code" and school_code:
            # A school sending its own file may leave its code out: fill it in.
            raw.append(pl.lit(school_code, pl.String).alias(RAW + c.name))
        else:
            raw.append(pl.lit(None, pl.String).alias(RAW + c.name))
    extras = [pl.col(x) for x in (EXTRA, BAD) if x in present]
    frame = df.select(pl.col(ROW), *extras, *raw)

    checks: list[Check] = []
    flag_names: list[str] = []

    def flagged(new: list[Check]) -> list[pl.Expr]:
        exprs = []
        for check in new:
            flag_names.append(f"_k{len(checks)}")
            exprs.append(check.condition.fill_null(False).alias(flag_names[-1]))
            checks.append(check)
        return exprs

    absent = {c.name for c in layout.columns if c.name not in present}
    if school_code:
        absent.discard("school_code")
    pending: list[pl.Expr] = []  # applied to the frame in one go (one pass, in parallel)
    looked_up: list[pl.DataFrame] = []
    for c in layout.columns:
        raw_col = RAW + c.name
        if c.name in absent:
            # Not in the file: null, and missing if required (the header check refused files
            # lacking required columns, so this is only reached for optional ones).
            new = [Check(c.name, "missing", pl.lit(True))] if c.required else []
            pending.append(pl.lit(None, pl.String).alias(c.name))
            pending.extend(flagged(new))
            if c.dtype == "date":
                pending.append(pl.lit(None, pl.Date).alias(DATE + c.name))
        elif c.name in DISTINCT_VALUES:
            # Mostly distinct values (names, codes of people): computed row by row, with the
            # Series fast paths for cleaning and title case.
            cleaned = clean_series(frame[raw_col]).alias(CLEAN + c.name)
            helpers = [cleaned]
            named = None
            if c.name in PERSON_NAMES:
                helpers.append(name_series(cleaned).alias(NAMED + c.name))
                named = pl.col(NAMED + c.name)
            frame = frame.with_columns(helpers)
            out, col_checks = column_normalise(
                c, pl.col(raw_col), cleaned=pl.col(CLEAN + c.name), named=named
            )
            pending.append(out.alias(c.name))
            pending.extend(flagged(col_checks))
        else:
            # Few distinct values (dates, codes, years, classes): normalise each distinct value
            # once, then look the results up row by row (a join on the one column, so the wide
            # frame is not copied once per column).
            out, col_checks = column_normalise(c, pl.col(raw_col))
            distinct = frame.select(pl.col(raw_col)).unique()
            distinct = distinct.with_columns(out.alias(c.name), *flagged(col_checks))
            distinct = distinct.with_columns(_derived(c, raw_col))
            rows = frame.select(pl.col(raw_col)).join(
                distinct, on=raw_col, how="left", nulls_equal=True, maintain_order="left"
            )
            looked_up.append(rows.drop(raw_col))
    if looked_up:
        frame = frame.hstack([s for part in looked_up for s in part.get_columns()])
    frame = frame.with_columns(pending)
    later = _column_limits(layout)
    later.extend(_cross_field(frame, layout, school_code=school_code, today=today))
    if EXTRA in present:
        later.append(Check(None, "ragged_row", pl.col(EXTRA).str.strip_chars().str.len_chars() > 0))
    if BAD in present:
        later.append(Check(None, "bad_json", pl.col(BAD)))
    frame = frame.with_columns(flagged(later))
    flags = frame.select(ROW, *flag_names)

    errors = []
    counts = flags.select(pl.col(f"_k{i}").sum() for i in range(len(checks))).row(0)
    for i, (check, count) in enumerate(zip(checks, counts, strict=True)):
        if not count:
            continue
        if check.column is None:
            value = pl.col(EXTRA) if check.code == "ragged_row" else pl.lit(None, pl.String)
        else:
            value = pl.col(RAW + check.column)
        errors.append(
            frame.select(ROW, value.alias("_value"), f"_k{i}")
            .filter(pl.col(f"_k{i}"))
            .select(
                pl.col(ROW).alias("row"),
                pl.lit(layout.name).alias("entity"),
                pl.lit(check.column, pl.String).alias("column"),
                pl.col("_value").str.slice(0, VALUE_CHARS).alias("value"),
                pl.lit(check.code).alias("code"),
                pl.lit(check.severity).alias("severity"),
            )
        )
    date_columns = [
        c.name for c in layout.columns if c.dtype == "date" and DAY_FIRST + c.name in frame.columns
    ]
    day_first = (
        frame.select(pl.col(DAY_FIRST + n).sum() for n in date_columns).row(0)
        if date_columns
        else ()
    )
    hard = [f"_k{i}" for i, c in enumerate(checks) if c.severity == "error" and counts[i]]
    if hard:
        ok = ~flags.select(pl.any_horizontal(hard)).to_series()
    keep = [ROW, *[c.name for c in layout.columns], *[AMBIGUOUS + n for n in date_columns]]
    frame = frame.select(keep)
    if hard:
        frame = frame.filter(ok)
    orders = {}
    for name, day_count in zip(date_columns, day_first, strict=True):
        month_first = sum(
            counts[i] for i, k in enumerate(checks) if k.code == "date_mmdd" and k.column == name
        )
        orders[name] = DateOrder(
            month_first=int(month_first),
            day_first=int(day_count),
            ambiguous_rows=frame.filter(pl.col(AMBIGUOUS + name))[ROW],
        )
    valid = frame.select(pl.col(ROW), *[pl.col(c.name) for c in layout.columns])
    out_errors = pl.concat(errors) if errors else errors_empty()
    return valid, out_errors, orders


def _derived(column: xf.Column, raw_col: str) -> list[pl.Expr]:
    """Typed helper columns the cross-field checks need, computed per distinct value."""
    col = pl.col(column.name)
    if column.dtype == "date":
        day_first, ambiguous = date_order_exprs(clean_expr(pl.col(raw_col)))
        return [
            col.str.strptime(pl.Date, "%Y-%m-%d", strict=False).alias(DATE + column.name),
            day_first.alias(DAY_FIRST + column.name),
            ambiguous.alias(AMBIGUOUS + column.name),
        ]
    if column.name == "school_year":
        return [col.str.slice(0, 4).cast(pl.Int32, strict=False).alias(YEAR1)]
    if column.name == "class_name":
        # Grade = the leading number of the class name ('6A1' → 6, '10 Toán' → 10).
        grade = col.str.extract(r"^(\d{1,2})(?:\D|$)", 1).cast(pl.Int32, strict=False)
        return [grade.alias(CLASS_GRADE)]
    return []


def _column_limits(layout: xf.Entity) -> list[Check]:
    """Lengths and ranges the standard sets per column."""
    checks = []
    for c in layout.columns:
        col = pl.col(c.name)
        limit = getattr(c, "max_length", None)
        if limit:
            checks.append(Check(c.name, "too_long", col.str.len_chars() > limit))
        low, high = getattr(c, "min", None), getattr(c, "max", None)
        if low is None and high is None:
            continue
        if c.dtype in ("int", "float"):
            value = col.cast(pl.Float64, strict=False)
        elif c.dtype == "date":
            value = col  # ISO text compares as dates
        else:
            continue
        bad = pl.lit(False)
        if low is not None:
            bad = bad | (value < pl.lit(low))
        if high is not None:
            bad = bad | (value > pl.lit(high))
        checks.append(Check(c.name, _range_code(c), bad))
    return checks


def _range_code(column: xf.Column) -> str:
    if column.name == "score":
        return "score_out_of_range"
    if column.name == "birth_date":
        return "implausible_birth_date"
    if column.name in ("height_cm", "weight_kg", "eyesight_left", "eyesight_right"):
        return "implausible_measurement"
    return "out_of_range"


def _cross_field(
    frame: pl.DataFrame, layout: xf.Entity, *, school_code: str | None, today: date
) -> list[Check]:
    names = set(layout.column_names)
    checks: list[Check] = []
    birth = pl.col(DATE + "birth_date")
    if "birth_date" in names:
        checks.append(Check("birth_date", "implausible_birth_date", birth > pl.lit(today)))
    if {"started_on", "ended_on"} <= names:
        checks.append(
            Check("ended_on", "dates_out_of_order", pl.col("ended_on") < pl.col("started_on"))
        )
    if school_code and "school_code" in names:
        given = pl.col("school_code")
        lost = given.str.contains(r"^\d+$") & (given.str.zfill(len(school_code)) == school_code)
        checks.append(Check("school_code", "leading_zeros_lost", (given != school_code) & lost))
        checks.append(Check("school_code", "wrong_school", (given != school_code) & ~lost))
    if {"birth_date", "school_year"} <= names and ({"grade", "class_name"} & names):
        checks.append(Check("birth_date", "age_grade", _age_grade_bad(names, birth)))
    if {"citizen_id", "birth_date", "sex"} <= names:
        checks.extend(_citizen_id_checks(birth))
    if "education_id" in names:
        eid = pl.col("education_id")
        shaped = eid.str.contains(r"^\d{12}$").fill_null(False)
        ok = eid.map_batches(education_ids_valid, return_dtype=pl.Boolean)
        checks.append(Check("education_id", "bad_education_id", shaped & ~ok))
    return checks


def _age_grade_bad(names: set[str], birth: pl.Expr) -> pl.Expr:
    """Age counted by calendar years as schools do (the year the school year ends − the birth
    year): grade g is about age g+6 (a grade-1 pupil of 2025-2026 was born in 2019); allow one
    year younger and three older (early starters, late starters, repeaters). Preschool (grade 0)
    takes ages 0–6. Without a grade column the grade is the leading number of the class name
    ('6A1' → 6); a class name without one ('Lá', 'Chồi') is not checked."""
    if "grade" in names:
        grade = pl.col("grade").cast(pl.Int32, strict=False)
    else:
        grade = pl.col(CLASS_GRADE)
    age = pl.col(YEAR1) + 1 - birth.dt.year().cast(pl.Int32)
    school = (grade >= 1) & (grade <= 12) & ((age < grade + 5) | (age > grade + 9))
    preschool = (grade == 0) & ((age < 0) | (age > 6))
    return school | preschool


def _citizen_id_checks(birth: pl.Expr) -> list[Check]:
    """DOMAIN.md §3: 3-digit province of birth registration, a century+sex digit (1900s 0/1,
    2000s 2/3, ...), two digits of the birth year. Only on well-formed IDs with a valid date of
    birth and sex (other problems are reported by their own checks)."""
    cid = pl.col("citizen_id")
    shaped = cid.str.contains(r"^\d{12}$").fill_null(False)
    provinces = list(cccd_province_codes())
    known = birth.is_not_null() & pl.col("sex").is_in(["M", "F"])
    century = ((birth.dt.year() // 100 - 19) % 5 + 5) % 5
    expected = (century * 2 + (pl.col("sex") == "F").cast(pl.Int32)).cast(pl.String)
    year2 = (birth.dt.year() % 100).cast(pl.String).str.zfill(2)
    return [
        Check("citizen_id", "cccd_province", shaped & ~cid.str.slice(0, 3).is_in(provinces)),
        Check("citizen_id", "cccd_century_sex", shaped & known & (cid.str.slice(3, 1) != expected)),
        Check("citizen_id", "cccd_birth_year", shaped & known & (cid.str.slice(4, 2) != year2)),
    ]


def duplicates_flag(keys: pl.DataFrame, *, entity: str, key_label: str) -> pl.DataFrame:
    """Error rows for every row of a natural key but the last in the file (the engine keeps the
    last one too). ``keys``: ``_key`` and ``_row`` of the rows that passed every other check."""
    last = keys.group_by("_key").agg(pl.col(ROW).max().alias("_last"))
    dup = keys.join(last, on="_key").filter(pl.col(ROW) != pl.col("_last"))
    return dup.select(
        pl.col(ROW).alias("row"),
        pl.lit(entity).alias("entity"),
        pl.lit(key_label, pl.String).alias("column"),
        pl.col("_key").str.slice(0, VALUE_CHARS).alias("value"),
        pl.lit("duplicate_key").alias("code"),
        pl.lit("error").alias("severity"),
    )
