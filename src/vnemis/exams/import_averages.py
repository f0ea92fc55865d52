"""Yearly averages the registry lacks (a free candidate's older years), from a council's file.

One row per candidate and grade: education ID, grade (10, 11 or 12), the year's average of
scored subjects (0–10, two decimals). The registry's own value always wins: a row for a year the
registry already holds is refused (``registry_has_average``), so an import can fill gaps but
never contradict the record book.
"""

from __future__ import annotations

import polars as pl

from . import import_checks as ic
from .files import Column, FileLayout, Table
from .graduation import from_hundredths
from .import_context import Counts, ImportContext, candidates_join, in_chunks
from .models import YearAverage

ENTITY = "averages"
LAYOUT = FileLayout(
    ENTITY,
    (
        Column(
            "education_id",
            "Mã định danh",
            "Education ID",
            ("Mã định danh giáo dục", "ma_dinh_danh"),
        ),
        Column("grade", "Lớp", "Grade", ("Khối", "Khối lớp", "lop")),
        Column("average", "Điểm trung bình", "Average", ("ĐTB", "Điểm TB năm", "diem_tb")),
    ),
)


def _existing(ids: list[int]) -> pl.DataFrame:
    rows = []
    for chunk in in_chunks(ids):
        rows += YearAverage.objects.filter(candidate_id__in=chunk).values_list(
            "id", "candidate_id", "grade", "average", "source"
        )
    return pl.DataFrame(
        [(i, c, g, int(a * 100), s) for i, c, g, a, s in rows],
        schema={"average_id": pl.Int64, "candidate_id": pl.Int64, "_grade": pl.Int64,
                "old_x100": pl.Int64, "_source": pl.String},
        orient="row",
    )  # fmt: skip


def check(table: Table, ctx: ImportContext) -> ic.Checked:
    df = table.frame
    errors = ic.missing_checks(df, ["education_id", "grade", "average"], entity=ENTITY)
    df, value_errors = ic.score_checks(df, "average", entity=ENTITY)
    errors += value_errors
    df = df.with_columns(pl.col("grade").cast(pl.Int64, strict=False).alias("_grade"))
    errors.append(
        ic.errors_where(df, ~ic.blank("grade") & ~pl.col("_grade").is_in([10, 11, 12]),
                        entity=ENTITY, column="grade", code="bad_grade")
    )  # fmt: skip
    df, known, candidate_errors = candidates_join(df, ctx, entity=ENTITY)
    errors += candidate_errors
    existing = _existing(df.filter(known)["candidate_id"].unique().to_list())
    df = df.join(existing, on=["candidate_id", "_grade"], how="left")
    errors.append(
        ic.errors_where(df, pl.col("_source") == YearAverage.Source.REGISTRY, entity=ENTITY,
                        column="grade", code="registry_has_average")
    )  # fmt: skip
    errors += ic.duplicate_checks(df, ["education_id", "grade"], entity=ENTITY)
    bad = ic.rows_with_errors(errors)
    good = df.filter(~pl.col(ic.ROW).is_in(bad.implode()))
    return ic.Checked(
        good.select(ic.ROW, "candidate_id", "_grade", "average_x100", "average_id", "old_x100"),
        errors,
    )


def apply(checked: ic.Checked, ctx: ImportContext, *, dry_run: bool) -> Counts:
    good = checked.good
    new = good.filter(pl.col("average_id").is_null())
    changed = good.filter(
        pl.col("average_id").is_not_null() & (pl.col("old_x100") != pl.col("average_x100"))
    )
    counts = Counts(new.height, changed.height, good.height - new.height - changed.height)
    if dry_run or not (new.height or changed.height):
        return counts
    YearAverage.objects.bulk_create(
        (
            YearAverage(candidate_id=c, grade=g, average=from_hundredths(v),
                        source=YearAverage.Source.IMPORTED)
            for c, g, v in new.select("candidate_id", "_grade", "average_x100").iter_rows()
        ),
        batch_size=5000,
    )  # fmt: skip
    rows = [
        YearAverage(id=i, average=from_hundredths(v), source=YearAverage.Source.IMPORTED)
        for i, v in changed.select("average_id", "average_x100").iter_rows()
    ]
    YearAverage.objects.bulk_update(rows, ["average", "source"], batch_size=1000)
    ctx.inputs_changed()
    return counts
