"""The fast path of the two biggest entities: pupils (persons) and their enrolments.

Shape (DESIGN.md §8, measured in ``bench/import.py``): the chunk's keys go to a small staging
table, the existing target rows they match come back in one ``COPY … TO STDOUT`` read by
Polars, and Polars decides per row: new, changed (with the names of the changed fields) or
unchanged. Unchanged rows are never written again. New rows get their primary keys reserved up
front, so they and their dependants (name-search keys, status history) are written straight
into the target tables with ``COPY``; changed rows go through a staging table and one
``UPDATE … FROM`` guarded by a changed-columns test, followed by one ``INSERT`` of their
``RecordChange`` rows. Citizen IDs are encrypted only for rows that are new or whose ID changed.

Correctness kept from the generic path (``loaders.py``): natural keys, idempotency, the same
problem codes, the education-ID issue per province, the at-most-one-active-enrolment rule,
one audit entry per chunk (the driver), a unique violation from a concurrent writer fails the
chunk whole.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from vnemis.core.crypto import encrypt_identifier

from .loaders_frames import PROBLEM, ROW, education_ids_format, flag
from .loaders_sql import Col
from .models import ACTIVE_STATUSES
from .search import name_keys_frame

if TYPE_CHECKING:
    from .loaders import EntityStats, _Ctx

PERSON_TABLE = "registry_person"
ENROLMENT_TABLE = "registry_enrolment"
KEYS = "ld_keys"
CHANGED = "ld_changed"
# Compared person columns → the standard field name recorded in RecordChange.
PERSON_FIELDS = {
    "full_name": "full_name",
    "family_name": "full_name",
    "middle_name": "full_name",
    "given_name": "full_name",
    "name_search": "full_name",
    "birth_date": "birth_date",
    "sex": "sex",
    "ethnicity_id": "ethnicity_code",
    "nationality": "nationality",
    "birth_province_id": "birth_province_code",
    "permanent_commune_id": "permanent_commune_code",
    "policy_categories": "policy_categories",
    "disability": "disability",
    "citizen_id_index": "citizen_id",
    "citizen_id_last3": "citizen_id",
    "province_code": "school_code",
}
ENROLMENT_FIELDS = {
    "pupil_id": "education_id",
    "school_class_id": "class_name",
    "status": "status",
    "started_on": "started_on",
    "ended_on": "ended_on",
    "province_code": "school_code",
}
PERSON_TYPES = {
    "full_name": pl.String,
    "family_name": pl.String,
    "middle_name": pl.String,
    "given_name": pl.String,
    "name_search": pl.String,
    "birth_date": pl.Date,
    "sex": pl.String,
    "ethnicity_id": pl.Int64,
    "nationality": pl.String,
    "birth_province_id": pl.Int64,
    "permanent_commune_id": pl.Int64,
    "policy_categories": pl.String,
    "disability": pl.String,
    "citizen_id_index": pl.String,
    "citizen_id_last3": pl.String,
    "province_code": pl.String,
}
ENROLMENT_TYPES = {
    "pupil_id": pl.Int64,
    "school_class_id": pl.Int64,
    "status": pl.String,
    "started_on": pl.Date,
    "ended_on": pl.Date,
    "province_code": pl.String,
}


def _pg_type(dtype) -> str:
    if dtype == pl.Int64:
        return "bigint"
    if dtype == pl.Date:
        return "date"
    return "text"


def _differs(a: str, b: str) -> pl.Expr:
    """Null-safe inequality of two columns."""
    return pl.col(a).ne_missing(pl.col(b))


def _diff(df: pl.DataFrame, fields: dict[str, str]) -> pl.DataFrame:
    """Add ``_state`` ('i' new, 'u' changed, '=' same) and ``_fields`` (JSON list of the
    changed standard field names) from ``<col>`` (file) vs ``_old_<col>`` (registry)."""
    names = list(dict.fromkeys(fields.values()))
    per_field = {
        name: pl.any_horizontal([_differs(c, f"_old_{c}") for c, f in fields.items() if f == name])
        for name in names
    }
    changed = pl.concat_list(
        [
            pl.when(cond).then(pl.lit(f'"{name}"')).otherwise(None)
            for name, cond in per_field.items()
        ]
    ).list.drop_nulls()
    df = df.with_columns(changed.alias("_changed"))
    return df.with_columns(
        pl.when(pl.col("_old_id").is_null())
        .then(pl.lit("i"))
        .when(pl.col("_changed").list.len() > 0)
        .then(pl.lit("u"))
        .otherwise(pl.lit("="))
        .alias("_state"),
        (pl.lit("[") + pl.col("_changed").list.join(", ") + pl.lit("]")).alias("_fields"),
    ).drop("_changed")


def _stage_keys(ctx: _Ctx, df: pl.DataFrame, cols: dict[str, pl.DataType]) -> None:
    columns = [Col(n, _pg_type(t)) for n, t in cols.items()]
    ctx.sql.stage_create(KEYS, columns)
    ctx.sql.stage_fill(KEYS, columns, df.select(list(cols)))
    if ctx.sql.pg:
        # Without statistics the planner takes the chunk for a few rows and probes the
        # registry once per key (measured: 7.8 s instead of 0.6 s for 50,000 keys).
        ctx.sql.execute(f"ANALYZE {KEYS}")


def _record_changes(ctx: _Ctx, entity: str, table: str, changed: pl.DataFrame) -> None:
    """One RecordChange row per updated row: its new change number and the changed fields."""
    if not changed.height:
        return
    ctx.sql.execute(
        f"""
        INSERT INTO registry_recordchange (entity, object_id, change_seq, fields, source, at)
        SELECT %s, t.id, t.change_seq, s.fields{"::jsonb" if ctx.sql.pg else ""}, %s, %s
        FROM {CHANGED} s JOIN {table} t ON t.id = s.id
        """,  # noqa: S608 - identifiers come from code, never from input
        (entity, ctx.source, ctx.now_param),
    )


def _update_changed(
    ctx: _Ctx,
    table: str,
    changed: pl.DataFrame,
    columns: dict[str, pl.DataType],
    extra: dict[str, str],
    params: tuple = (),
) -> int:
    """``UPDATE … FROM`` the changed rows (staged with their id and ``fields``), guarded so a
    row already equal (a concurrent writer) is not written again."""
    if not changed.height:
        return 0
    sql = ctx.sql
    cols = [Col("id", "bigint"), *(Col(n, _pg_type(t)) for n, t in columns.items())]
    cols.append(Col("fields", "text"))
    sql.stage_create(CHANGED, cols)
    sql.stage_fill(CHANGED, cols, changed.rename({"_old_id": "id", "_fields": "fields"}))
    if sql.pg:
        # A few changed rows: with statistics the planner probes by id instead of scanning.
        sql.execute(f"ANALYZE {CHANGED}")
    sets = [f"{c} = s.{c}" for c in columns] + [f"{c} = {e}" for c, e in extra.items()]
    guard = " OR ".join(sql.distinct(f"{table}.{c}", f"s.{c}") for c in columns)
    cast = "::jsonb" if sql.pg else ""
    sets = [
        f"{c} = s.{c}{cast}" if c == "policy_categories" else x
        for c, x in zip([*columns, *extra], sets, strict=True)
    ]
    guard = guard.replace("s.policy_categories", f"s.policy_categories{cast}")
    count = sql.execute(
        f"UPDATE {table} SET {', '.join(sets)} FROM {CHANGED} s "  # noqa: S608
        f"WHERE {table}.id = s.id AND ({guard})",
        params,
    )
    return count


# -- pupils -------------------------------------------------------------------------------------


def pupils_merge(ctx: _Ctx, df: pl.DataFrame, stats: EntityStats) -> pl.DataFrame:
    """Merge a checked pupils frame (staging names, see ``loaders._person_stage_frame``) into
    registry_person and its name keys; returns (school_id, pupil_code, person_id) of every
    valid row (the enrolments of this run find their pupils by it)."""
    from .loaders import _split_rejected

    sql = ctx.sql
    df = df.with_columns(pl.col("education_id").alias("_file_eid"))
    # Existing persons: by the education ID in the file, else the person the school enrolled
    # under that pupil code (its latest year).
    _stage_keys(
        ctx,
        df,
        {
            "row_no": pl.Int64,
            "school_id": pl.Int64,
            "pupil_code": pl.String,
            "education_id": pl.String,
        },
    )
    old_cols = ", ".join(
        f"p.{c}::text" if (c == "policy_categories" and sql.pg) else f"p.{c}" for c in PERSON_TYPES
    )
    schema = {"row_no": pl.Int64, "_year": pl.Int64, "_old_id": pl.Int64, "_old_eid": pl.String}
    schema |= {f"_old_{c}": t for c, t in PERSON_TYPES.items()}
    existing = sql.read_frame(
        f"""
        SELECT k.row_no, 0, p.id, p.education_id, {old_cols}
        FROM {KEYS} k JOIN {PERSON_TABLE} p ON p.education_id = k.education_id
        WHERE k.education_id IS NOT NULL
        UNION ALL
        SELECT k.row_no, e.school_year_id, p.id, p.education_id, {old_cols}
        FROM {KEYS} k JOIN {ENROLMENT_TABLE} e
            ON e.school_id = k.school_id AND e.pupil_code = k.pupil_code
        JOIN {PERSON_TABLE} p ON p.id = e.pupil_id
        WHERE k.education_id IS NULL
        """,  # noqa: S608 - identifiers come from code, never from input
        schema,
    )
    existing = existing.sort(["row_no", "_year"], descending=[False, True]).unique(
        "row_no", keep="first"
    )
    df = df.join(existing.drop("_year"), left_on=ROW, right_on="row_no", how="left")
    df = df.with_columns(pl.coalesce("education_id", "_old_eid").alias("education_id"))
    if not ctx.enrolments_in_load:
        # Not found and nothing to enrol them with: on every re-import it would be created
        # again, a duplicate the school cannot even see (the sync API refuses it the same way).
        df = flag(
            df,
            pl.col("_old_id").is_null() & pl.col("education_id").is_null(),
            "pupil_needs_enrolment",
        )
    df = _flag_persons_in_locked_years(ctx, df)
    df = _others_people_linked_only(ctx, df, PERSON_TYPES)
    # The same person twice in one chunk: the last row wins, like duplicate keys.
    last = (
        df.filter(pl.col("education_id").is_not_null())
        .group_by("education_id")
        .agg(pl.col(ROW).max().alias("_last"))
    )
    df = df.join(last, on="education_id", how="left")
    df = flag(
        df, pl.col("_last").is_not_null() & (pl.col(ROW) != pl.col("_last")), "duplicate_person"
    )
    df = _split_rejected(df.drop("_last"), stats)
    # A file without a citizen ID never erases one on record.
    keep_cid = pl.col("citizen_id_index").is_null() | (pl.col("citizen_id_index") == "")
    df = df.with_columns(
        pl.when(keep_cid & pl.col("_old_id").is_not_null())
        .then(pl.col(f"_old_{c}"))
        .otherwise(pl.col(c))
        .alias(c)
        for c in ("citizen_id_index", "citizen_id_last3")
    )
    df = _diff(df, PERSON_FIELDS)
    # Encrypt only the citizen IDs that will be written: new persons, changed IDs.
    write_cid = (pl.col("_state") == "i") | _differs("citizen_id_index", "_old_citizen_id_index")
    need = df.select((write_cid & pl.col("_cid_clear").is_not_null()).alias("w"))["w"].to_numpy()
    idx = np.flatnonzero(need)
    cipher: list[bytes | None] = [None] * df.height
    if idx.size:
        for i, v in zip(idx.tolist(), df["_cid_clear"].gather(idx).to_list(), strict=True):
            cipher[i] = encrypt_identifier(v)
    df = df.with_columns(pl.Series("citizen_id_ciphertext", cipher, dtype=pl.Binary)).drop(
        "_cid_clear"
    )
    new = df.filter(pl.col("_state") == "i")
    if new.height:
        new = _issue_education_ids(ctx, new)
        ids = sql.next_ids(PERSON_TABLE, new.height)
        new = new.with_columns(pl.Series("id", ids, dtype=pl.Int64))
        stamp = str(ctx.now_param)
        new = new.with_columns(
            pl.lit("").alias("birth_place"),
            pl.lit("").alias("permanent_address"),
            pl.lit(1, pl.Int64).alias("version"),
            pl.lit(stamp).alias("created_at"),
            pl.lit(stamp).alias("updated_at"),
        )
        cols = [
            Col("id", "bigint"), Col("education_id", "text"),
            *(Col(c, _pg_type(t)) for c, t in PERSON_TYPES.items()),
            Col("citizen_id_ciphertext", "bytea"), Col("birth_place", "text"),
            Col("permanent_address", "text"), Col("version", "integer"),
            Col("created_at", "timestamptz"), Col("updated_at", "timestamptz"),
        ]  # fmt: skip
        # Written in name order: the name indexes (most of registry_person's index work) then
        # take neighbouring keys, the new ids and education IDs append at their ends anyway.
        sql.target_fill(PERSON_TABLE, cols, new.sort("name_search", "id"))
        # In the order of the keys' indexes: neighbouring index pages, not random ones.
        keys = name_keys_frame(
            new.select(pl.col("id").alias("person_id"), "name_search", "province_code")
        ).sort("province_code", "key", "person_id")
        from .loaders import NAME_KEY_COLUMNS

        sql.target_fill("registry_personnamekey", NAME_KEY_COLUMNS, keys, written=("person_id",))
        df = df.join(
            new.select(
                ROW, pl.col("id").alias("_new_id"), pl.col("education_id").alias("_new_eid")
            ),
            on=ROW,
            how="left",
        )
        df = df.with_columns(
            pl.coalesce("_old_id", "_new_id").alias("person_id"),
            pl.coalesce("education_id", "_new_eid").alias("education_id"),
        )
    else:
        df = df.with_columns(pl.col("_old_id").alias("person_id"))
    changed = df.filter(pl.col("_state") == "u")
    if changed.height:
        from .loaders import NAME_KEY_COLUMNS

        # The ciphertext is written only where the citizen ID itself changed.
        cid_changed = changed.filter(_differs("citizen_id_index", "_old_citizen_id_index"))
        plain = changed.filter(~_differs("citizen_id_index", "_old_citizen_id_index"))
        for part, extra_cols in ((plain, {}), (cid_changed, {"citizen_id_ciphertext": pl.Binary})):
            if not part.height:
                continue
            _update_changed(
                ctx,
                PERSON_TABLE,
                part.select("_old_id", *PERSON_TYPES, *extra_cols, "_fields"),
                {**PERSON_TYPES, **extra_cols},
                {"version": f"{PERSON_TABLE}.version + 1", "updated_at": "%s"},
                (ctx.now_param,),
            )
            _record_changes(ctx, "persons", PERSON_TABLE, part)
        # Name keys follow a changed name or province.
        rekey = changed.filter(
            _differs("name_search", "_old_name_search")
            | _differs("province_code", "_old_province_code")
        )
        if rekey.height:
            sql.stage_create("ld_rekey", [Col("id", "bigint")])
            sql.stage_fill("ld_rekey", [Col("id", "bigint")], rekey.rename({"_old_id": "id"}))
            if sql.pg:
                sql.execute("ANALYZE ld_rekey")
            sql.execute(
                # An array, not IN (subquery): the planner then always probes the index.
                "DELETE FROM registry_personnamekey WHERE person_id = ANY (ARRAY(SELECT id FROM ld_rekey))"
                if sql.pg
                else "DELETE FROM registry_personnamekey WHERE person_id IN (SELECT id FROM ld_rekey)"
            )
            keys = name_keys_frame(
                rekey.select(pl.col("_old_id").alias("person_id"), "name_search", "province_code")
            )
            # Their persons were just updated by this transaction: present and locked.
            sql.target_fill(
                "registry_personnamekey", NAME_KEY_COLUMNS, keys, written=("person_id",)
            )
    counts = df["_state"].value_counts()
    by = dict(zip(counts["_state"].to_list(), counts["count"].to_list(), strict=True))
    stats.inserted += by.get("i", 0)
    stats.updated += by.get("u", 0)
    stats.unchanged += by.get("=", 0)
    return df.select("school_id", "pupil_code", "person_id")


def persons_of_writer(ctx: _Ctx, person_ids: list[int]) -> set[int]:
    """Of ``person_ids``, those the restricted writer holds today: an active enrolment (any
    year) or a live staff post at one of its schools."""
    if not person_ids or ctx.school_ids is None:
        return set(person_ids)
    sql = ctx.sql
    schools = sorted(ctx.school_ids)
    active = ", ".join(f"'{s}'" for s in ACTIVE_STATUSES)
    if sql.pg:
        among, params = "= ANY(%s)", [person_ids, schools, person_ids, schools]
        at = "= ANY(%s)"
    else:
        among = at = "IN (SELECT value FROM json_each(%s))"
        params = [json.dumps(person_ids), json.dumps(schools)] * 2
    rows = sql.fetchall(
        f"""
        SELECT pupil_id FROM {ENROLMENT_TABLE}
        WHERE pupil_id {among} AND school_id {at} AND status IN ({active})
        UNION
        SELECT person_id FROM registry_staffassignment
        WHERE person_id {among} AND school_id {at}
          AND (ends_on IS NULL OR ends_on >= %s)
        """,  # noqa: S608 - identifiers come from code, never from input
        [*params, ctx.today_param],
    )
    return {r[0] for r in rows}


def _others_people_linked_only(
    ctx: _Ctx, df: pl.DataFrame, fields: dict[str, pl.DataType]
) -> pl.DataFrame:
    """A school sends only its own people (the caller's scope). A person on record who is not
    the writer's pupil or staff today — another school's pupil it is about to enrol, a pupil
    who left it — may be linked by education ID but not changed: their fields stay as recorded,
    and the file must agree on who it is (name and date of birth), else ``person_mismatch``."""
    if ctx.school_ids is None:
        return df
    ids = df["_old_id"].drop_nulls().unique().to_list()
    if not ids:
        return df
    own = persons_of_writer(ctx, ids)
    foreign = pl.col("_old_id").is_not_null() & ~pl.col("_old_id").is_in(list(own))
    mismatch = foreign & (
        _differs("name_search", "_old_name_search") | _differs("birth_date", "_old_birth_date")
    )
    df = flag(df, mismatch, "person_mismatch")
    return df.with_columns(
        pl.when(foreign).then(pl.col(f"_old_{c}")).otherwise(pl.col(c)).alias(c) for c in fields
    )


def _flag_persons_in_locked_years(ctx: _Ctx, df: pl.DataFrame) -> pl.DataFrame:
    """A pupil on record who is actively enrolled in a locked (school, year) is not changed:
    the Department reviews that data (``registry.actions.person_update`` refuses it alike)."""
    if ctx.locked_pairs is None or not ctx.locked_pairs.height:
        return df
    ids = df["_old_id"].drop_nulls().unique().to_list()
    if not ids:
        return df
    sql = ctx.sql
    active = ", ".join(f"'{s}'" for s in ACTIVE_STATUSES)
    where = "pupil_id = ANY(%s)" if sql.pg else "pupil_id IN (SELECT value FROM json_each(%s))"
    rows = sql.fetchall(
        f"SELECT DISTINCT pupil_id, school_id, school_year_id FROM {ENROLMENT_TABLE} "  # noqa: S608
        f"WHERE status IN ({active}) AND {where}",
        [ids if sql.pg else json.dumps(ids)],
    )
    enrolled = pl.DataFrame(
        rows, schema={"pid": pl.Int64, "sid": pl.Int64, "yid": pl.Int64}, orient="row"
    )
    locked = enrolled.join(
        ctx.locked_pairs, left_on=["sid", "yid"], right_on=["_l_school", "_l_year"]
    )
    return flag(df, pl.col("_old_id").is_in(locked["pid"].implode()), "period_locked")


def _issue_education_ids(ctx: _Ctx, new: pl.DataFrame) -> pl.DataFrame:
    """New education IDs for new persons without one: one reservation per province."""
    from .education_id import education_id_reserve

    missing = new.filter(pl.col("education_id").is_null())
    if not missing.height:
        return new
    parts = []
    for (province,), group in missing.group_by("province_code", maintain_order=True):
        seqs = education_id_reserve(province_code=province, year=ctx.issue_year, count=group.height)
        ids = education_ids_format(province, ctx.issue_year, seqs)
        parts.append(group.select(ROW).with_columns(pl.Series("_issued", ids, dtype=pl.String)))
    issued = pl.concat(parts)
    new = new.join(issued, on=ROW, how="left")
    return new.with_columns(pl.coalesce("education_id", "_issued").alias("education_id")).drop(
        "_issued"
    )


# -- enrolments ---------------------------------------------------------------------------------


def enrolments_merge(ctx: _Ctx, df: pl.DataFrame, stats: EntityStats) -> None:
    """Merge a checked enrolments frame (school_id, school_year_id, pupil_code, class_name,
    status, started_on, ended_on, province_code) into registry_enrolment and its history."""
    from .loaders import _split_rejected

    sql = ctx.sql
    # Pupils: this run's pupils file first, then earlier enrolments at the school.
    if ctx.pupil_keys is not None and ctx.pupil_keys.height:
        df = df.join(ctx.pupil_keys, on=["school_id", "pupil_code"], how="left")
    else:
        df = df.with_columns(pl.lit(None, pl.Int64).alias("person_id"))
    _stage_keys(
        ctx,
        df,
        {
            "row_no": pl.Int64, "school_id": pl.Int64, "school_year_id": pl.Int64,
            "pupil_code": pl.String, "class_name": pl.String, "person_id": pl.Int64,
            "status": pl.String,
        },
    )  # fmt: skip
    classes = sql.read_frame(
        f"""
        SELECT k.row_no, c.id FROM {KEYS} k JOIN registry_schoolclass c
        ON c.school_id = k.school_id AND c.school_year_id = k.school_year_id
        AND c.name = k.class_name
        """,  # noqa: S608
        {"row_no": pl.Int64, "school_class_id": pl.Int64},
    )
    earlier = sql.read_frame(
        f"""
        SELECT k.row_no, e.school_year_id, e.pupil_id FROM {KEYS} k JOIN {ENROLMENT_TABLE} e
        ON e.school_id = k.school_id AND e.pupil_code = k.pupil_code
        WHERE k.person_id IS NULL
        """,  # noqa: S608
        {"row_no": pl.Int64, "_y": pl.Int64, "_earlier": pl.Int64},
    )
    earlier = earlier.sort(["row_no", "_y"], descending=[False, True]).unique(
        "row_no", keep="first"
    )
    schema = {"row_no": pl.Int64, "_old_id": pl.Int64}
    schema |= {f"_old_{c}": t for c, t in ENROLMENT_TYPES.items()}
    existing = sql.read_frame(
        f"""
        SELECT k.row_no, e.id, {", ".join(f"e.{c}" for c in ENROLMENT_TYPES)}
        FROM {KEYS} k JOIN {ENROLMENT_TABLE} e ON e.school_id = k.school_id
        AND e.school_year_id = k.school_year_id AND e.pupil_code = k.pupil_code
        AND e.pupil_code <> ''
        """,  # noqa: S608 - the last condition lets PostgreSQL use the partial unique index
        schema,
    )
    df = (
        df.join(classes, left_on=ROW, right_on="row_no", how="left")
        .join(earlier.drop("_y"), left_on=ROW, right_on="row_no", how="left")
        .join(existing, left_on=ROW, right_on="row_no", how="left")
        .with_columns(pl.coalesce("person_id", "_earlier").alias("pupil_id"))
    )
    df = flag(df, pl.col("school_class_id").is_null(), "unknown_class")
    df = flag(df, pl.col("pupil_id").is_null(), "unknown_pupil")
    # At most one active enrolment per pupil and year: refuse a second one, stored under
    # another key, or earlier in this chunk than another active row of the pupil (last wins).
    active = list(ACTIVE_STATUSES)
    listed = ", ".join(f"'{s}'" for s in active)
    cols = [
        Col("row_no", "bigint"), Col("pupil_id", "bigint"), Col("school_year_id", "bigint"),
        Col("school_id", "bigint"), Col("pupil_code", "text"),
    ]  # fmt: skip
    sql.stage_create("ld_active", cols)
    sql.stage_fill(
        "ld_active",
        cols,
        df.filter(pl.col(PROBLEM).is_null() & pl.col("status").is_in(active)).with_columns(
            pl.col(ROW).alias("row_no")
        ),
    )
    elsewhere = sql.read_frame(
        f"""
        SELECT DISTINCT k.row_no FROM ld_active k JOIN {ENROLMENT_TABLE} e
        ON e.pupil_id = k.pupil_id AND e.school_year_id = k.school_year_id
        WHERE e.status IN ({listed})
        AND NOT (e.school_id = k.school_id AND e.pupil_code = k.pupil_code)
        """,  # noqa: S608
        {"_elsewhere_row": pl.Int64},
    )
    is_active = pl.col("status").is_in(active)
    later = (
        df.filter(pl.col(PROBLEM).is_null() & is_active)
        .group_by("pupil_id", "school_year_id")
        .agg(pl.col(ROW).max().alias("_last_active"))
    )
    df = df.join(later, on=["pupil_id", "school_year_id"], how="left")
    df = flag(
        df,
        is_active
        & (
            pl.col(ROW).is_in(elsewhere["_elsewhere_row"].implode())
            | (pl.col("_last_active").is_not_null() & (pl.col(ROW) != pl.col("_last_active")))
        ),
        "active_elsewhere",
    )
    df = _split_rejected(df.drop("_last_active"), stats)
    df = _diff(df, ENROLMENT_FIELDS)
    new = df.filter(pl.col("_state") == "i")
    stamp = str(ctx.now_param)
    if new.height:
        ids = sql.next_ids(ENROLMENT_TABLE, new.height)
        new = new.with_columns(
            pl.Series("id", ids, dtype=pl.Int64),
            pl.lit(stamp).alias("created_at"),
            pl.lit(stamp).alias("updated_at"),
        )
        cols = [
            Col("id", "bigint"), Col("school_id", "bigint"), Col("school_year_id", "bigint"),
            Col("pupil_code", "text"),
            *(Col(c, _pg_type(t)) for c, t in ENROLMENT_TYPES.items()),
            Col("created_at", "timestamptz"), Col("updated_at", "timestamptz"),
        ]  # fmt: skip
        # In the order of the natural-key index (and the school indexes that lead with it).
        sql.target_fill(
            ENROLMENT_TABLE, cols, new.sort("school_id", "school_year_id", "pupil_code")
        )
        _history(ctx, new.select("id", "status", "started_on", "ended_on"))
    changed = df.filter(pl.col("_state") == "u")
    if changed.height:
        _update_changed(
            ctx,
            ENROLMENT_TABLE,
            changed.select("_old_id", *ENROLMENT_TYPES, "_fields"),
            ENROLMENT_TYPES,
            {"updated_at": "%s"},
            (ctx.now_param,),
        )
        _record_changes(ctx, "enrolments", ENROLMENT_TABLE, changed)
        moved = changed.filter(_differs("status", "_old_status"))
        _history(
            ctx, moved.select(pl.col("_old_id").alias("id"), "status", "started_on", "ended_on")
        )
    counts = df["_state"].value_counts()
    by = dict(zip(counts["_state"].to_list(), counts["count"].to_list(), strict=True))
    stats.inserted += by.get("i", 0)
    stats.updated += by.get("u", 0)
    stats.unchanged += by.get("=", 0)


def _history(ctx: _Ctx, rows: pl.DataFrame) -> None:
    """Status history rows (the initial status of new enrolments, each status change)."""
    if not rows.height:
        return
    history = rows.select(
        pl.col("id").alias("enrolment_id"),
        "status",
        pl.coalesce("ended_on", "started_on").alias("effective_on"),
        pl.lit("").alias("note"),
        pl.lit(str(ctx.now_param)).alias("recorded_at"),
    )
    cols = [
        Col("enrolment_id", "bigint"), Col("status", "text"), Col("effective_on", "date"),
        Col("note", "text"), Col("recorded_at", "timestamptz"),
    ]  # fmt: skip
    # The enrolments were inserted or updated by this transaction: present and locked.
    ctx.sql.target_fill("registry_enrolmentstatuschange", cols, history, written=("enrolment_id",))
