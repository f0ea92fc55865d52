"""Chunk loader of the teaching assignments file (phân công giảng dạy), for ``dataset_load``.

The natural key is (school, school year, class, subject): the file names the one teacher of a
subject in a class. The table itself allows co-teaching (unique on class, subject and teacher),
so the merge is: a row whose teacher already teaches that subject there is unchanged; a class
and subject that has another teacher on record gets that record's teacher replaced (the oldest
record, so a re-import is stable); otherwise a new record. Nothing is deleted: a class and
subject absent from the file keeps its teachers.

Same shape as the other chunk loaders (``registry.loaders``): Polars checks, a staging table,
set-wise ``UPDATE`` look-ups and merges, no per-row Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from .loaders_frames import ROW, flag, flag_duplicates, flag_too_long, lookup
from .loaders_sql import Col

if TYPE_CHECKING:
    from .loaders import EntityStats, _Ctx

STAGE = "ld_teaching"
TARGET = "registry_teachingassignment"

COLUMNS = [
    Col("row_no", "bigint"), Col("school_id", "bigint"), Col("school_year_id", "bigint"),
    Col("class_name", "text"), Col("subject_id", "bigint"), Col("staff_code", "text"),
    Col("school_class_id", "bigint"), Col("teacher_id", "bigint"), Col("current_id", "bigint"),
    Col("problem", "text"), Col("t_state", "text"),
]  # fmt: skip


def _chunk_teaching_assignments(ctx: _Ctx, df: pl.DataFrame, stats: EntityStats) -> None:
    # Imported here: registry.loaders imports this module to register the loader.
    from . import loaders as base

    df = base._with_school(ctx, df, stats)
    df = base._with_year(ctx, df)
    df = lookup(df, ctx.subjects, left="subject_code", right="_s_code")
    df = flag(df, pl.col("_s_id").is_null(), "unknown_subject")
    df = flag_too_long(df, {"class_name": 30, "staff_code": 30})
    df = flag_duplicates(df, ["school_code", "school_year", "class_name", "subject_code"])
    df = base._split_rejected(df, stats)
    df = df.with_columns(
        pl.col(ROW).alias("row_no"),
        pl.col("org_id").alias("school_id"),
        pl.col("_y_id").alias("school_year_id"),
        pl.col("_s_id").alias("subject_id"),
        pl.lit(None, pl.Int64).alias("school_class_id"),
        pl.lit(None, pl.Int64).alias("teacher_id"),
        pl.lit(None, pl.Int64).alias("current_id"),
        pl.lit(None, pl.String).alias("problem"),
        pl.lit(None, pl.String).alias("t_state"),
    )
    t = STAGE
    # current_id is filled later; its index serves the merge's look-up from the target side.
    base._stage(ctx, t, COLUMNS, df, ["current_id"])
    sql = ctx.sql
    sql.execute(
        f"""
        UPDATE {t} SET school_class_id = (
            SELECT c.id FROM registry_schoolclass c WHERE c.school_id = {t}.school_id
            AND c.school_year_id = {t}.school_year_id AND c.name = {t}.class_name)
        """  # noqa: S608 - identifiers come from code, never from input
    )
    sql.execute(f"UPDATE {t} SET problem = 'unknown_class' WHERE school_class_id IS NULL")  # noqa: S608
    sql.execute(
        f"""
        UPDATE {t} SET teacher_id = (
            SELECT a.person_id FROM registry_staffassignment a
            WHERE a.school_id = {t}.school_id AND a.staff_code = {t}.staff_code)
        WHERE problem IS NULL
        """  # noqa: S608
    )
    sql.execute(
        f"UPDATE {t} SET problem = 'unknown_staff' "  # noqa: S608
        "WHERE problem IS NULL AND teacher_id IS NULL"
    )
    # The record this row replaces: the class and subject's own teacher if already on record,
    # else its oldest record.
    sql.execute(
        f"""
        UPDATE {t} SET current_id = COALESCE(
            (SELECT ta.id FROM {TARGET} ta WHERE ta.school_class_id = {t}.school_class_id
             AND ta.subject_id = {t}.subject_id AND ta.teacher_id = {t}.teacher_id),
            (SELECT MIN(ta.id) FROM {TARGET} ta WHERE ta.school_class_id = {t}.school_class_id
             AND ta.subject_id = {t}.subject_id))
        WHERE problem IS NULL
        """  # noqa: S608
    )
    sql.execute(
        f"""
        UPDATE {t} SET t_state = CASE
            WHEN current_id IS NULL THEN 'i'
            WHEN EXISTS (SELECT 1 FROM {TARGET} ta WHERE ta.id = {t}.current_id
                         AND ta.teacher_id = {t}.teacher_id) THEN '='
            ELSE 'u' END
        WHERE problem IS NULL
        """  # noqa: S608
    )
    sql.execute(
        f"""
        UPDATE {TARGET} SET teacher_id = (
            SELECT s.teacher_id FROM {t} s WHERE s.current_id = {TARGET}.id
            AND s.problem IS NULL AND s.t_state = 'u')
        WHERE id IN (SELECT current_id FROM {t} WHERE problem IS NULL AND t_state = 'u')
        """  # noqa: S608
    )
    sql.execute(
        f"""
        INSERT INTO {TARGET} (school_class_id, subject_id, teacher_id)
        SELECT school_class_id, subject_id, teacher_id FROM {t}
        WHERE problem IS NULL AND t_state = 'i'
        """  # noqa: S608
    )
    base._sql_problems(ctx, t, stats)
    stats.inserted, stats.updated, stats.unchanged = base._add(stats, sql.states(t, "t_state"))
