"""The one bulk-loading path: an exchange-format dataset directory into the registry.

``dataset_load`` reads each entity file of a dataset (format v1, ``exchange_format``) in load
order, in chunks of ``chunk_rows`` rows (bounded memory whatever the file size), and for each
chunk: parses and checks it with Polars (``loaders_frames``), looks up small reference tables
(organisations, communes, ethnic groups, subjects, school years) in memory, stages the rows in a
temporary table and merges them set-wise by natural key (``loaders_sql``). Every chunk is one
transaction with one audit entry, so a failure never leaves half a chunk behind, and loading
the same dataset again changes nothing.

Rows that cannot be placed (unknown school, class, commune, malformed code or date...) are
counted per cause with a few row numbers, never identifiers, and reported in Vietnamese and
English; the rest of the chunk loads. The full validation pipeline (error files, dry runs)
lives in the exchange app; this module is the engine it will call.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from vnemis.core.audit import audit_record
from vnemis.geo.models import Commune, Province
from vnemis.orgs.actions import closure_rebuild
from vnemis.orgs.models import Organisation

from . import exchange_format as xf
from .education_id import education_id_reserve
from .loaders_frames import (
    PROBLEM,
    ROW,
    clean_text_expr,
    education_ids_format,
    education_ids_valid,
    flag,
    flag_duplicates,
    flag_too_long,
    json_list_expr,
    list_items_expr,
    lookup,
    prepare,
    scan_strings,
    search_key_expr,
    with_citizen_id_columns,
    with_name_columns,
)
from .loaders_sql import Col, Sql
from .models import (
    ACTIVE_STATUSES,
    EnrolmentStatus,
    Ethnicity,
    Person,
    ResultSummary,
    SchoolYear,
    StaffAssignment,
    Subject,
)
from .search import name_keys_frame

CHUNK_ROWS = 50_000
SAMPLE_ROWS = 5
PUPIL_KEYS = "ld_pupil_keys"

# Problem codes → (Vietnamese, English). Codes with a ":column" suffix name the column.
MESSAGES: dict[str, tuple[str, str]] = {
    "missing_file_columns": (
        "Tệp thiếu cột bắt buộc; cả tệp không được nạp",
        "the file lacks required columns; the whole file was not loaded",
    ),
    "missing": ("thiếu giá trị bắt buộc ở cột", "required value missing in column"),
    "bad_value": ("giá trị sai định dạng ở cột", "malformed value in column"),
    "too_long": ("giá trị quá dài ở cột", "value too long in column"),
    "duplicate_key": (
        "dòng trùng khoá với một dòng sau trong tệp (dòng sau được dùng)",
        "duplicate key; a later row of the file wins",
    ),
    "unknown_school": ("mã trường không tồn tại", "unknown school code"),
    "unknown_parent": ("đơn vị cấp trên không tồn tại", "unknown parent organisation"),
    "unknown_province": ("mã tỉnh không tồn tại", "unknown province code"),
    "unknown_commune": ("mã xã/phường không tồn tại", "unknown commune code"),
    "bad_kind": ("loại đơn vị không hợp lệ", "invalid organisation kind"),
    "bad_level": ("cấp học không hợp lệ", "invalid school level"),
    "bad_ownership": ("loại hình không hợp lệ", "invalid ownership"),
    "unsupported_status": (
        "trạng thái đơn vị cần ngày đóng cửa/sáp nhập; hãy cập nhật trên trang đơn vị",
        "this status needs a closing or merge date; update it on the organisation page",
    ),
    "bad_sex": ("mã giới tính phải là M hoặc F", "sex code must be M or F"),
    "implausible_birth_date": ("ngày sinh không hợp lý", "implausible birth date"),
    "unknown_ethnicity": ("mã dân tộc không tồn tại", "unknown ethnic group code"),
    "bad_nationality": ("mã quốc tịch phải gồm 2 chữ cái", "nationality must be 2 letters"),
    "bad_policy_category": ("mã đối tượng chính sách không hợp lệ", "invalid policy category"),
    "bad_disability": ("mã khuyết tật không hợp lệ", "invalid disability code"),
    "bad_citizen_id": ("số CCCD phải gồm đúng 12 chữ số", "citizen ID must be exactly 12 digits"),
    "bad_education_id": (
        "mã định danh giáo dục sai (12 chữ số, số kiểm tra)",
        "invalid education ID (12 digits with check digit)",
    ),
    "duplicate_person": (
        "cùng một mã định danh giáo dục xuất hiện ở nhiều dòng",
        "the same education ID appears on several rows",
    ),
    "bad_role": ("chức vụ không hợp lệ", "invalid staff role"),
    "bad_qualification": ("trình độ không hợp lệ", "invalid qualification"),
    "bad_contract": ("loại hợp đồng không hợp lệ", "invalid contract type"),
    "unknown_subject": ("mã môn học không tồn tại", "unknown subject code"),
    "bad_school_year": (
        "năm học phải có dạng 2025-2026",
        "school year must look like 2025-2026",
    ),
    "unknown_school_year": ("năm học chưa có", "unknown school year"),
    "grade_level": ("khối lớp không thuộc cấp học của trường", "grade outside the school's level"),
    "unknown_homeroom": (
        "mã giáo viên chủ nhiệm không tồn tại (lớp vẫn được nạp, chưa có GVCN)",
        "unknown homeroom teacher code (class loaded without one)",
    ),
    "unknown_class": ("lớp không tồn tại trong trường và năm học", "unknown class"),
    "unknown_pupil": ("mã học sinh không tồn tại trong trường", "unknown pupil code at the school"),
    "bad_status": ("trạng thái học tập không hợp lệ", "invalid enrolment status"),
    "dates_out_of_order": ("ngày kết thúc trước ngày bắt đầu", "end date before start date"),
    "active_elsewhere": (
        "học sinh đã đang học ở lớp/trường khác trong năm học này",
        "the pupil is already actively enrolled elsewhere that school year",
    ),
    "unknown_enrolment": (
        "không có bản ghi học tập của học sinh ở trường trong năm học",
        "no enrolment of that pupil at that school in that year",
    ),
    "bad_period": ("kỳ đánh giá phải là term1, term2 hoặc year", "period must be term1/term2/year"),
    "score_out_of_range": ("điểm phải từ 0 đến 10", "score must be between 0 and 10"),
    "bad_rating": ("mức đánh giá không hợp lệ", "invalid rating"),
    "no_result_value": ("thiếu cả điểm lẫn mức đánh giá", "neither score nor rating given"),
    "outcome_not_year": (
        "kết quả lên lớp chỉ ghi cho cả năm",
        "an outcome is recorded for the whole year only",
    ),
    "bad_outcome": ("kết quả cuối năm không hợp lệ", "invalid year outcome"),
    "implausible_measurement": (
        "chiều cao/cân nặng/thị lực không hợp lý",
        "implausible height, weight or eyesight",
    ),
    "chunk_failed": (
        "lỗi cơ sở dữ liệu; cả khối dòng đã được hoàn tác",
        "database error; the whole chunk was rolled back",
    ),
}

# Problems that are reported but do not stop the row from loading.
WARNINGS = {"unknown_homeroom"}


def problem_message(code: str) -> str:
    """'vi / en' text of a problem code (with the column name where the code carries one)."""
    base, _, column = code.partition(":")
    vi, en = MESSAGES.get(base, (base, base))
    suffix = f" '{column}'" if column else ""
    return f"{vi}{suffix} / {en}{suffix}"


@dataclass
class EntityStats:
    name: str
    present: bool = False
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0  # other provinces when loading one province
    seconds: float = 0.0
    problems: Counter = field(default_factory=Counter)
    samples: dict = field(default_factory=lambda: defaultdict(list))

    def note(self, code: str, rows: list[int], *, warning: bool = False) -> None:
        if not rows:
            return
        self.problems[code] += len(rows)
        room = SAMPLE_ROWS - len(self.samples[code])
        if room > 0:
            self.samples[code].extend(sorted(rows)[:room])
        if not warning:
            self.rejected += len(rows)


@dataclass
class LoadResult:
    entities: dict[str, EntityStats]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(e.rows for e in self.entities.values())

    @property
    def changed(self) -> int:
        return sum(e.inserted + e.updated for e in self.entities.values())

    @property
    def rejected(self) -> int:
        return sum(e.rejected for e in self.entities.values())

    def summary_lines(self) -> list[str]:
        head = f"{'entity':<18}{'rows':>10}{'inserted':>10}{'updated':>10}{'unchanged':>11}"
        head += f"{'rejected':>10}{'skipped':>9}{'seconds':>9}{'rows/s':>10}"
        lines = [head]
        for e in self.entities.values():
            if not e.present:
                lines.append(f"{e.name:<18}{'(no file / không có tệp)':>40}")
                continue
            rate = e.rows / e.seconds if e.seconds else 0
            lines.append(
                f"{e.name:<18}{e.rows:>10,}{e.inserted:>10,}{e.updated:>10,}{e.unchanged:>11,}"
                f"{e.rejected:>10,}{e.skipped:>9,}{e.seconds:>9.1f}{rate:>10,.0f}"
            )
        rate = self.rows / self.seconds if self.seconds else 0
        lines.append(f"{'total':<18}{self.rows:>10,}{'':>50}{self.seconds:>9.1f}{rate:>10,.0f}")
        for e in self.entities.values():
            for code, count in e.problems.most_common():
                kind = "warning" if code.split(":")[0] in WARNINGS else "rejected"
                rows = ", ".join(str(r) for r in e.samples[code])
                lines.append(
                    f"  {e.name}: {count:,} rows {kind} — {problem_message(code)}"
                    f" (rows/dòng {rows}{', …' if count > len(e.samples[code]) else ''})"
                )
        return lines


@dataclass
class _Ctx:
    sql: Sql
    directory: Path
    province: str | None
    chunk_rows: int
    actor: object
    issue_year: int
    now: object
    orgs: pl.DataFrame = None  # code → id, province, level, kind
    dataset_school_province: pl.DataFrame = None  # school_code → province_code in the file
    provinces: pl.DataFrame = None
    communes: pl.DataFrame = None
    ethnicities: pl.DataFrame = None
    subjects: pl.DataFrame = None
    years: pl.DataFrame = None

    @property
    def now_param(self):
        # Django keeps SQLite datetimes as naive UTC text.
        return self.now if self.sql.pg else str(self.now.replace(tzinfo=None))


# -- reference frames --------------------------------------------------------------------------


def _frame(rows: list[tuple], names: list[str], types: list) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict(zip(names, types, strict=True)), orient="row")


def _load_orgs(ctx: _Ctx) -> None:
    rows = Organisation.objects.values_list("code", "id", "province__code", "level", "kind")
    ctx.orgs = _frame(
        list(rows),
        ["_o_code", "org_id", "org_province", "org_level", "org_kind"],
        [pl.String, pl.Int64, pl.String, pl.String, pl.String],
    )


def _load_reference(ctx: _Ctx) -> None:
    _load_orgs(ctx)
    ctx.provinces = _frame(
        list(Province.objects.values_list("code", "id")),
        ["_p_code", "_p_id"],
        [pl.String, pl.Int64],
    )
    ctx.communes = _frame(
        list(Commune.objects.values_list("code", "id", "province__code")),
        ["_c_code", "_c_id", "_c_province"],
        [pl.String, pl.Int64, pl.String],
    )
    ctx.ethnicities = _frame(
        list(Ethnicity.objects.values_list("code", "id")),
        ["_e_code", "_e_id"],
        [pl.String, pl.Int64],
    )
    ctx.subjects = _frame(
        list(Subject.objects.values_list("code", "id")), ["_s_code", "_s_id"], [pl.String, pl.Int64]
    )
    _load_years(ctx)


def _load_years(ctx: _Ctx) -> None:
    ctx.years = _frame(
        list(SchoolYear.objects.values_list("code", "id")),
        ["_y_code", "_y_id"],
        [pl.String, pl.Int64],
    )


def _entity_path(directory: Path, name: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        path = directory / f"{name}{suffix}"
        if path.exists():
            return path
    return None


def _read_dataset_school_provinces(ctx: _Ctx) -> None:
    """school_code → province_code as the dataset's schools file states it (for --province)."""
    path = _entity_path(ctx.directory, "schools")
    if path is None:
        ctx.dataset_school_province = pl.DataFrame(
            schema={"_d_code": pl.String, "_d_province": pl.String}
        )
        return
    lf = scan_strings(path)
    if not {"school_code", "province_code"} <= set(lf.collect_schema().names()):
        ctx.dataset_school_province = pl.DataFrame(
            schema={"_d_code": pl.String, "_d_province": pl.String}
        )
        return
    ctx.dataset_school_province = (
        lf.select(
            pl.col("school_code").str.strip_chars().alias("_d_code"),
            pl.col("province_code").str.strip_chars().alias("_d_province"),
        )
        .unique("_d_code", keep="last")
        .collect()
    )


def _school_years_ensure(ctx: _Ctx) -> None:
    """Create every well-formed school year the dataset names that does not exist yet."""
    found: set[str] = set()
    for name in ("classes", "enrolments", "subject_results", "result_summaries"):
        path = _entity_path(ctx.directory, name)
        if path is None:
            continue
        lf = scan_strings(path)
        if "school_year" not in lf.collect_schema().names():
            continue
        values = lf.select(pl.col("school_year").str.strip_chars().unique()).collect()
        found.update(v for v in values["school_year"].to_list() if v)
    created = []
    for code in sorted(found):
        m = re.fullmatch(r"(\d{4})-(\d{4})", code)
        if not m or int(m[2]) != int(m[1]) + 1:
            continue
        start = int(m[1])
        _year, was_created = SchoolYear.objects.get_or_create(
            code=code,
            defaults={
                "start_year": start,
                "starts_on": date(start, 9, 5),
                "ends_on": date(start + 1, 5, 31),
            },
        )
        if was_created:
            created.append(code)
    if created and not SchoolYear.objects.filter(is_current=True).exists():
        # A fresh registry: the newest year loaded is the one schools are working in.
        SchoolYear.objects.filter(code=max(found & set(created))).update(is_current=True)
    _load_years(ctx)


# -- shared chunk steps ------------------------------------------------------------------------


def _split_rejected(df: pl.DataFrame, stats: EntityStats) -> pl.DataFrame:
    """Record rejected rows by problem and return the rest."""
    bad = df.filter(pl.col(PROBLEM).is_not_null()).select(PROBLEM, ROW)
    if bad.height:
        for (code,), group in bad.group_by(PROBLEM):
            stats.note(code, group[ROW].to_list())
    return df.filter(pl.col(PROBLEM).is_null())


def _with_school(ctx: _Ctx, df: pl.DataFrame, stats: EntityStats) -> pl.DataFrame:
    """Drop rows of other provinces (counted as skipped), resolve the school code."""
    if ctx.province:
        df = lookup(df, ctx.dataset_school_province, left="school_code", right="_d_code")
        df = lookup(
            df, ctx.orgs.select("_o_code", "org_province"), left="school_code", right="_o_code"
        )
        province = pl.coalesce("org_province", "_d_province")
        keep = province.is_null() | (province == ctx.province)
        stats.skipped += df.height - df.filter(keep).height
        df = df.filter(keep).drop("_d_province", "org_province")
    df = lookup(df, ctx.orgs, left="school_code", right="_o_code")
    return flag(
        df,
        pl.col("org_id").is_null() | ~pl.col("org_kind").is_in(["school", "university", "college"]),
        "unknown_school",
    )


def _with_year(ctx: _Ctx, df: pl.DataFrame) -> pl.DataFrame:
    df = flag(df, ~pl.col("school_year").str.contains(r"^\d{4}-\d{4}$"), "bad_school_year")
    df = lookup(df, ctx.years, left="school_year", right="_y_code")
    return flag(df, pl.col("_y_id").is_null(), "unknown_school_year")


def _choice(df: pl.DataFrame, column: str, allowed, code: str, *, optional=False) -> pl.DataFrame:
    cond = ~pl.col(column).is_in(list(allowed))
    if optional:
        cond = pl.col(column).is_not_null() & cond
    return flag(df, cond, code)


def _stage(ctx: _Ctx, table: str, columns: list[Col], df: pl.DataFrame, indexes=()) -> None:
    sql = ctx.sql
    sql.stage_create(table, columns)
    sql.stage_fill(table, columns, df)
    # Indexes after the fill: one sort instead of one insertion per row.
    for i, cols in enumerate(indexes):
        sql.execute(f"CREATE INDEX IF NOT EXISTS {table}_i{i} ON {table} ({cols})")
    if sql.pg:
        # Temporary tables get no autovacuum statistics; the merge plans need row counts.
        sql.execute(f"ANALYZE {table}")


def _sql_problems(ctx: _Ctx, table: str, stats: EntityStats) -> None:
    by_code: dict[str, list[int]] = defaultdict(list)
    for code, row in ctx.sql.problems(table):
        by_code[code].append(row)
    for code, rows in by_code.items():
        stats.note(code, rows)


def _person_frame(ctx: _Ctx, df: pl.DataFrame, *, pupils: bool) -> pl.DataFrame:
    """Checks and derived columns shared by pupils and staff."""
    df = _choice(df, "sex", ("M", "F"), "bad_sex")
    df = flag(
        df,
        (pl.col("birth_date") < date(1900, 1, 1)) | (pl.col("birth_date") > timezone.localdate()),
        "implausible_birth_date",
    )
    df = lookup(df, ctx.ethnicities, left="ethnicity_code", right="_e_code")
    df = flag(df, pl.col("_e_id").is_null(), "unknown_ethnicity")
    df = df.with_columns(
        pl.Series("_eid_ok", education_ids_valid(df["education_id"])),
    )
    df = flag(df, pl.col("education_id").is_not_null() & ~pl.col("_eid_ok"), "bad_education_id")
    df = with_name_columns(df)
    df = flag(df, pl.col("full_name") == "", "missing:full_name")
    df = flag_too_long(
        df, {"full_name": 150, "family_name": 50, "middle_name": 100, "given_name": 50}
    )
    if pupils:
        df = df.with_columns(pl.col("nationality").str.to_uppercase())
        df = flag(df, ~pl.col("nationality").str.contains(r"^[A-Z]{2}$"), "bad_nationality")
        df = lookup(df, ctx.provinces, left="birth_province_code", right="_p_code")
        df = flag(
            df,
            pl.col("birth_province_code").is_not_null() & pl.col("_p_id").is_null(),
            "unknown_province",
        )
        df = lookup(df, ctx.communes, left="permanent_commune_code", right="_c_code")
        df = flag(
            df,
            pl.col("permanent_commune_code").is_not_null() & pl.col("_c_id").is_null(),
            "unknown_commune",
        )
        policies = list_items_expr(pl.col("policy_categories"))
        allowed = list(Person.POLICY_CATEGORIES)
        df = flag(
            df,
            policies.list.eval(~pl.element().is_in(allowed)).list.any(),
            "bad_policy_category",
        )
        df = df.with_columns(json_list_expr(pl.col("policy_categories")).alias("policy_json"))
        df = _choice(
            df,
            "disability",
            [c for c in Person.Disability.values if c],
            "bad_disability",
            optional=True,
        )
    return df


PERSON_COLUMNS = [
    Col("education_id", "text"),
    Col("full_name", "text"),
    Col("family_name", "text"),
    Col("middle_name", "text"),
    Col("given_name", "text"),
    Col("name_search", "text"),
    Col("birth_date", "date"),
    Col("sex", "text"),
    Col("ethnicity_id", "bigint"),
    Col("nationality", "text"),
    Col("birth_province_id", "bigint"),
    Col("permanent_commune_id", "bigint"),
    Col("policy_categories", "jsonb"),
    Col("disability", "text"),
    Col("citizen_id_ciphertext", "bytea"),
    Col("citizen_id_index", "text"),
    Col("citizen_id_last3", "text"),
    Col("province_code", "text"),
]
# Compared to decide whether a person changed; the ciphertext is not (a fresh nonce each time),
# the blind index stands for it.
PERSON_COMPARED = [
    c.name for c in PERSON_COLUMNS if c.name not in ("education_id", "citizen_id_ciphertext")
]


def _persons_merge(ctx: _Ctx, table: str, state_col: str = "p_state") -> None:
    """Issue education IDs where missing, then insert/update the persons of a staging table."""
    sql = ctx.sql
    # The same person twice in one chunk: keep the last row, like duplicate keys.
    sql.execute(
        f"""
        UPDATE {table} SET problem = 'duplicate_person'
        WHERE problem IS NULL AND education_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM {table} s2 WHERE s2.education_id = {table}.education_id
            AND s2.problem IS NULL AND s2.row_no > {table}.row_no)
        """  # noqa: S608
    )
    missing = sql.fetchall(
        f"SELECT row_no, province_code FROM {table} "  # noqa: S608
        "WHERE problem IS NULL AND education_id IS NULL ORDER BY row_no"
    )
    if missing:
        by_province: dict[str, list[int]] = defaultdict(list)
        for row_no, province in missing:
            by_province[province].append(row_no)
        ids: list[tuple[int, str]] = []
        for province, rows in by_province.items():
            # One reservation per province per chunk: one counter update, not one per person.
            seqs = education_id_reserve(
                province_code=province, year=ctx.issue_year, count=len(rows)
            )
            ids.extend(zip(rows, education_ids_format(province, ctx.issue_year, seqs), strict=True))
        id_cols = [Col("row_no", "bigint"), Col("education_id", "text")]
        _stage(
            ctx,
            "ld_new_ids",
            id_cols,
            pl.DataFrame(ids, schema=["row_no", "education_id"], orient="row"),
            ["row_no"],
        )
        sql.execute(
            f"""
            UPDATE {table} SET education_id = (
                SELECT i.education_id FROM ld_new_ids i WHERE i.row_no = {table}.row_no)
            WHERE problem IS NULL AND education_id IS NULL
            """  # noqa: S608
        )
    values = {c.name: c.name for c in PERSON_COLUMNS}
    # A file without a citizen ID never erases one already on record (another school, the
    # identity service or a correction may have supplied it).
    sql.execute(
        f"""
        UPDATE {table} SET citizen_id_ciphertext = p.citizen_id_ciphertext,
            citizen_id_index = p.citizen_id_index, citizen_id_last3 = p.citizen_id_last3
        FROM registry_person p
        WHERE p.education_id = {table}.education_id AND {table}.problem IS NULL
          AND COALESCE({table}.citizen_id_index, '') = '' AND p.citizen_id_index <> ''
        """  # noqa: S608 - identifiers come from code, never from input
    )
    compare = {c: f"{table}.{c}" for c in PERSON_COMPARED}
    sql.mark_state(
        stage=table,
        state_col=state_col,
        target="registry_person",
        key={"education_id": f"{table}.education_id"},
        compare=compare,
    )
    _person_keys_drop_stale(ctx, table, state_col)
    sql.upsert(
        stage=table,
        state_col=state_col,
        target="registry_person",
        conflict="(education_id)",
        values=values,
        update=PERSON_COMPARED,
        insert_extra={
            "birth_place": "''",
            "permanent_address": "''",
            "version": "1",
            "created_at": "%s",
            "updated_at": "%s",
        },
        update_extra={
            "citizen_id_ciphertext": "excluded.citizen_id_ciphertext",
            "version": "registry_person.version + 1",
            "updated_at": "excluded.updated_at",
        },
        params=(ctx.now_param, ctx.now_param),
    )
    _person_keys_add_missing(ctx, table, state_col)


# Name-search keys (``registry.search``) follow the persons set-wise: before the merge, the keys
# of persons whose name or province changes are deleted; after it, persons of the chunk without
# keys (new, renamed, moved) get theirs, built by Polars and bulk-inserted like staging rows.
NAME_KEY_COLUMNS = [
    Col("person_id", "bigint"),
    Col("position", "smallint"),
    Col("key", "text"),
    Col("province_code", "text"),
]


def _person_keys_drop_stale(ctx: _Ctx, table: str, state_col: str) -> None:
    sql = ctx.sql
    changed = " OR ".join(
        sql.distinct(f"p.{c}", f"s.{c}") for c in ("name_search", "province_code")
    )
    sql.execute(
        f"""
        DELETE FROM registry_personnamekey WHERE person_id IN (
            SELECT p.id FROM {table} s JOIN registry_person p ON p.education_id = s.education_id
            WHERE s.problem IS NULL AND s.{state_col} = 'u' AND ({changed}))
        """  # noqa: S608 - identifiers come from code, never from input
    )


def _person_keys_add_missing(ctx: _Ctx, table: str, state_col: str) -> None:
    sql = ctx.sql
    rows = sql.fetchall(
        f"""
        SELECT p.id, p.name_search, p.province_code
        FROM {table} s JOIN registry_person p ON p.education_id = s.education_id
        WHERE s.problem IS NULL AND s.{state_col} IN ('i', 'u') AND NOT EXISTS (
            SELECT 1 FROM registry_personnamekey k WHERE k.person_id = p.id)
        """  # noqa: S608
    )
    if not rows:
        return
    persons = pl.DataFrame(
        rows,
        schema={"person_id": pl.Int64, "name_search": pl.String, "province_code": pl.String},
        orient="row",
    )
    sql.stage_fill("registry_personnamekey", NAME_KEY_COLUMNS, name_keys_frame(persons))


def _person_stage_frame(df: pl.DataFrame, *, pupils: bool) -> pl.DataFrame:
    """Rename the prepared frame's columns to the staging (= registry_person) names."""
    extra = (
        [
            pl.col("_p_id").alias("birth_province_id"),
            pl.col("_c_id").alias("permanent_commune_id"),
            pl.col("policy_json").alias("policy_categories"),
            pl.col("disability").fill_null(""),
        ]
        if pupils
        else [
            pl.lit(None, pl.Int64).alias("birth_province_id"),
            pl.lit(None, pl.Int64).alias("permanent_commune_id"),
            pl.lit("[]").alias("policy_categories"),
            pl.lit("").alias("disability"),
            pl.lit("VN").alias("nationality"),
        ]
    )
    return df.with_columns(
        pl.col(ROW).alias("row_no"),
        pl.col("org_id").alias("school_id"),
        pl.col("_e_id").alias("ethnicity_id"),
        pl.col("org_province").alias("province_code"),
        pl.lit(None, pl.String).alias("problem"),
        pl.lit(None, pl.String).alias("p_state"),
        *extra,
    )


# -- entities ----------------------------------------------------------------------------------


def _chunk_schools(ctx: _Ctx, df: pl.DataFrame, stats: EntityStats) -> None:
    if ctx.province:
        keep = pl.col("province_code").is_null() | (pl.col("province_code") == ctx.province)
        stats.skipped += df.height - df.filter(keep).height
        df = df.filter(keep)
    df = _choice(df, "kind", ("school", "university", "college"), "bad_kind")
    df = _choice(df, "level", Organisation.Level.values, "bad_level", optional=True)
    df = flag(df, (pl.col("kind") == "school") & pl.col("level").is_null(), "missing:level")
    df = _choice(df, "ownership", Organisation.Ownership.values, "bad_ownership", optional=True)
    df = _choice(df, "status", Organisation.Status.values, "bad_value:status")
    df = _choice(df, "status", ("open",), "unsupported_status")
    df = flag_too_long(df, {"school_code": 20, "address": 255})
    df = lookup(df, ctx.provinces, left="province_code", right="_p_code")
    df = flag(df, pl.col("_p_id").is_null(), "unknown_province")
    df = lookup(df, ctx.communes, left="commune_code", right="_c_code")
    df = flag(
        df, pl.col("commune_code").is_not_null() & pl.col("_c_id").is_null(), "unknown_commune"
    )
    df = df.with_columns(
        pl.coalesce("parent_code", pl.lit("SGD") + pl.col("province_code")).alias("_parent")
    )
    parents = ctx.orgs.filter(pl.col("org_kind").is_in(["ministry", "department"])).select(
        pl.col("_o_code").alias("_par_code"), pl.col("org_id").alias("_par_id")
    )
    df = lookup(df, parents, left="_parent", right="_par_code")
    df = flag(df, pl.col("_par_id").is_null(), "unknown_parent")
    df = df.with_columns(clean_text_expr(pl.col("name")).alias("name"))
    df = df.with_columns(search_key_expr(pl.col("name")).alias("name_search"))
    df = flag_too_long(df, {"name": 255})
    df = flag_duplicates(df, ["school_code"])
    df = _split_rejected(df, stats)
    cols = [
        Col("row_no", "bigint"), Col("code", "text"), Col("name", "text"),
        Col("name_search", "text"), Col("kind", "text"), Col("level", "text"),
        Col("ownership", "text"), Col("parent_id", "bigint"), Col("province_id", "bigint"),
        Col("commune_id", "bigint"), Col("address", "text"), Col("status", "text"),
        Col("opened_on", "date"), Col("problem", "text"), Col("o_state", "text"),
    ]  # fmt: skip
    df = df.with_columns(
        pl.col(ROW).alias("row_no"),
        pl.col("school_code").alias("code"),
        pl.col("level").fill_null(""),
        pl.col("ownership").fill_null(""),
        pl.col("_par_id").alias("parent_id"),
        pl.col("_p_id").alias("province_id"),
        pl.col("_c_id").alias("commune_id"),
        pl.col("address").fill_null(""),
        pl.lit(None, pl.String).alias("problem"),
        pl.lit(None, pl.String).alias("o_state"),
    )
    t = "ld_schools"
    _stage(ctx, t, cols, df)
    data = [c.name for c in cols if c.name not in ("row_no", "code", "problem", "o_state")]
    ctx.sql.mark_state(
        stage=t, state_col="o_state", target="orgs_organisation",
        key={"code": f"{t}.code"}, compare={c: f"{t}.{c}" for c in data},
    )  # fmt: skip
    ctx.sql.upsert(
        stage=t, state_col="o_state", target="orgs_organisation", conflict="(code)",
        values={c: c for c in ["code", *data]}, update=data,
        insert_extra={"updated_at": "%s"},
        update_extra={"updated_at": "excluded.updated_at"},
        params=(ctx.now_param,),
    )  # fmt: skip
    stats.inserted, stats.updated, stats.unchanged = _add(stats, ctx.sql.states(t, "o_state"))


def _add(stats: EntityStats, counts: tuple[int, int, int]) -> tuple[int, int, int]:
    return (
        stats.inserted + counts[0],
        stats.updated + counts[1],
        stats.unchanged + counts[2],
    )


def _chunk_staff(ctx: _Ctx, df: pl.DataFrame, stats: EntityStats) -> None:
    A = StaffAssignment
    df = _with_school(ctx, df, stats)
    df = _choice(df, "role", A.Role.values, "bad_role")
    df = _choice(df, "qualification", A.Qualification.values, "bad_qualification")
    df = _choice(df, "contract_type", A.Contract.values, "bad_contract")
    subjects = list_items_expr(pl.col("subjects"))
    known = ctx.subjects["_s_code"].to_list()
    df = flag(df, subjects.list.eval(~pl.element().is_in(known)).list.any(), "unknown_subject")
    df = flag_too_long(df, {"staff_code": 30})
    df = _person_frame(ctx, df, pupils=False)
    df = flag_duplicates(df, ["school_code", "staff_code"])
    df = with_citizen_id_columns(df)
    df = _split_rejected(df, stats)
    df = _person_stage_frame(df, pupils=False).with_columns(
        json_list_expr(pl.col("subjects")).alias("subjects"),
        pl.lit(None, pl.Int64).alias("person_id"),
        pl.lit(None, pl.String).alias("a_state"),
    )
    cols = [
        Col("row_no", "bigint"), Col("school_id", "bigint"), Col("staff_code", "text"),
        *PERSON_COLUMNS, Col("role", "text"), Col("subjects", "jsonb"),
        Col("qualification", "text"), Col("contract_type", "text"), Col("starts_on", "date"),
        Col("person_id", "bigint"), Col("problem", "text"), Col("p_state", "text"),
        Col("a_state", "text"),
    ]  # fmt: skip
    t = "ld_staff"
    _stage(ctx, t, cols, df, ["education_id", "row_no"])
    sql = ctx.sql
    # Staff without an education ID in the file are the person already posted under that code.
    sql.execute(
        f"""
        UPDATE {t} SET education_id = (
            SELECT p.education_id FROM registry_staffassignment a
            JOIN registry_person p ON p.id = a.person_id
            WHERE a.school_id = {t}.school_id AND a.staff_code = {t}.staff_code)
        WHERE education_id IS NULL
        """  # noqa: S608
    )
    _persons_merge(ctx, t)
    sql.execute(
        f"UPDATE {t} SET person_id = (SELECT p.id FROM registry_person p "  # noqa: S608
        f"WHERE p.education_id = {t}.education_id) WHERE problem IS NULL"
    )
    data = [
        "person_id",
        "role",
        "subjects",
        "qualification",
        "contract_type",
        "starts_on",
        "province_code",
    ]
    sql.mark_state(
        stage=t, state_col="a_state", target="registry_staffassignment",
        key={"school_id": f"{t}.school_id", "staff_code": f"{t}.staff_code"},
        compare={c: f"{t}.{c}" for c in data},
    )  # fmt: skip
    sql.upsert(
        stage=t, state_col="a_state", target="registry_staffassignment",
        conflict="(school_id, staff_code) WHERE staff_code <> ''",
        values={c: c for c in ["school_id", "staff_code", *data]}, update=data,
    )  # fmt: skip
    _sql_problems(ctx, t, stats)
    stats.inserted, stats.updated, stats.unchanged = _add(
        stats, sql.states(t, "a_state", "p_state")
    )


def _chunk_classes(ctx: _Ctx, df: pl.DataFrame, stats: EntityStats) -> None:
    df = _with_school(ctx, df, stats)
    df = _with_year(ctx, df)
    df = flag_too_long(df, {"class_name": 30})
    grades = Organisation.LEVEL_GRADES
    low = pl.col("org_level").replace_strict(
        {k: v[0] for k, v in grades.items()}, default=0, return_dtype=pl.Int64
    )
    high = pl.col("org_level").replace_strict(
        {k: v[1] for k, v in grades.items()}, default=12, return_dtype=pl.Int64
    )
    df = flag(df, (pl.col("grade") < low) | (pl.col("grade") > high), "grade_level")
    df = flag_duplicates(df, ["school_code", "school_year", "class_name"])
    df = _split_rejected(df, stats)
    df = df.with_columns(
        pl.col(ROW).alias("row_no"),
        pl.col("org_id").alias("school_id"),
        pl.col("_y_id").alias("school_year_id"),
        pl.col("class_name").alias("name"),
        pl.col("org_province").alias("province_code"),
        pl.lit(None, pl.Int64).alias("homeroom_teacher_id"),
        pl.lit(None, pl.String).alias("problem"),
        pl.lit(None, pl.String).alias("c_state"),
    )
    cols = [
        Col("row_no", "bigint"), Col("school_id", "bigint"), Col("school_year_id", "bigint"),
        Col("name", "text"), Col("grade", "integer"), Col("homeroom_staff_code", "text"),
        Col("homeroom_teacher_id", "bigint"), Col("two_sessions", "boolean"),
        Col("combined_grades", "boolean"), Col("province_code", "text"), Col("problem", "text"),
        Col("c_state", "text"),
    ]  # fmt: skip
    t = "ld_classes"
    _stage(ctx, t, cols, df)
    sql = ctx.sql
    sql.execute(
        f"""
        UPDATE {t} SET homeroom_teacher_id = (
            SELECT a.person_id FROM registry_staffassignment a
            WHERE a.school_id = {t}.school_id AND a.staff_code = {t}.homeroom_staff_code)
        WHERE homeroom_staff_code IS NOT NULL
        """  # noqa: S608
    )
    unknown = sql.fetchall(
        f"SELECT row_no FROM {t} WHERE homeroom_staff_code IS NOT NULL "  # noqa: S608
        "AND homeroom_teacher_id IS NULL"
    )
    stats.note("unknown_homeroom", [r for (r,) in unknown], warning=True)
    data = ["grade", "homeroom_teacher_id", "two_sessions", "combined_grades", "province_code"]
    key = ["school_id", "school_year_id", "name"]
    sql.mark_state(
        stage=t, state_col="c_state", target="registry_schoolclass",
        key={k: f"{t}.{k}" for k in key}, compare={c: f"{t}.{c}" for c in data},
    )  # fmt: skip
    sql.upsert(
        stage=t, state_col="c_state", target="registry_schoolclass",
        conflict="(school_id, school_year_id, name)",
        values={c: c for c in [*key, *data]}, update=data,
    )  # fmt: skip
    stats.inserted, stats.updated, stats.unchanged = _add(stats, sql.states(t, "c_state"))


def _chunk_pupils(ctx: _Ctx, df: pl.DataFrame, stats: EntityStats) -> None:
    df = _with_school(ctx, df, stats)
    df = flag_too_long(df, {"pupil_code": 30})
    df = _person_frame(ctx, df, pupils=True)
    df = flag_duplicates(df, ["school_code", "pupil_code"])
    df = with_citizen_id_columns(df)
    df = _split_rejected(df, stats)
    df = _person_stage_frame(df, pupils=True)
    cols = [
        Col("row_no", "bigint"), Col("school_id", "bigint"), Col("pupil_code", "text"),
        *PERSON_COLUMNS, Col("problem", "text"), Col("p_state", "text"),
    ]  # fmt: skip
    t = "ld_pupils"
    _stage(ctx, t, cols, df, ["education_id", "row_no"])
    sql = ctx.sql
    # A pupil without an education ID in the file is the person the school already enrolled
    # under that pupil code (in the latest year).
    sql.execute(
        f"""
        UPDATE {t} SET education_id = (
            SELECT p.education_id FROM registry_enrolment e
            JOIN registry_person p ON p.id = e.pupil_id
            WHERE e.school_id = {t}.school_id AND e.pupil_code = {t}.pupil_code
            ORDER BY e.school_year_id DESC LIMIT 1)
        WHERE education_id IS NULL
        """  # noqa: S608
    )
    _persons_merge(ctx, t)
    sql.execute(
        f"""
        INSERT INTO {PUPIL_KEYS} (school_id, pupil_code, person_id)
        SELECT s.school_id, s.pupil_code, p.id FROM {t} s
        JOIN registry_person p ON p.education_id = s.education_id
        WHERE s.problem IS NULL
        ON CONFLICT (school_id, pupil_code) DO UPDATE SET person_id = excluded.person_id
        """  # noqa: S608
    )
    _sql_problems(ctx, t, stats)
    stats.inserted, stats.updated, stats.unchanged = _add(stats, sql.states(t, "p_state"))


def _resolve_pupil(ctx: _Ctx, t: str, target_col: str) -> None:
    """Pupil code at a school → person: this run's pupils first, then earlier enrolments."""
    ctx.sql.execute(
        f"""
        UPDATE {t} SET {target_col} = COALESCE(
            (SELECT k.person_id FROM {PUPIL_KEYS} k
             WHERE k.school_id = {t}.school_id AND k.pupil_code = {t}.pupil_code),
            (SELECT e.pupil_id FROM registry_enrolment e
             WHERE e.school_id = {t}.school_id AND e.pupil_code = {t}.pupil_code
             ORDER BY e.school_year_id DESC LIMIT 1))
        """  # noqa: S608
    )
    ctx.sql.execute(
        f"UPDATE {t} SET problem = 'unknown_pupil' "  # noqa: S608
        f"WHERE problem IS NULL AND {target_col} IS NULL"
    )


def _chunk_enrolments(ctx: _Ctx, df: pl.DataFrame, stats: EntityStats) -> None:
    df = _with_school(ctx, df, stats)
    df = _with_year(ctx, df)
    df = _choice(df, "status", EnrolmentStatus.values, "bad_status")
    df = flag(df, pl.col("ended_on") < pl.col("started_on"), "dates_out_of_order")
    df = flag_too_long(df, {"pupil_code": 30})
    df = flag_duplicates(df, ["school_code", "school_year", "pupil_code"])
    df = _split_rejected(df, stats)
    df = df.with_columns(
        pl.col(ROW).alias("row_no"),
        pl.col("org_id").alias("school_id"),
        pl.col("_y_id").alias("school_year_id"),
        pl.col("org_province").alias("province_code"),
        pl.lit(None, pl.Int64).alias("pupil_id"),
        pl.lit(None, pl.Int64).alias("school_class_id"),
        pl.lit(None, pl.String).alias("problem"),
        pl.lit(None, pl.String).alias("e_state"),
    )
    cols = [
        Col("row_no", "bigint"), Col("school_id", "bigint"), Col("school_year_id", "bigint"),
        Col("pupil_code", "text"), Col("class_name", "text"), Col("pupil_id", "bigint"),
        Col("school_class_id", "bigint"), Col("status", "text"), Col("started_on", "date"),
        Col("ended_on", "date"), Col("province_code", "text"), Col("problem", "text"),
        Col("e_state", "text"),
    ]  # fmt: skip
    t = "ld_enrolments"
    _stage(ctx, t, cols, df, ["pupil_id, school_year_id"])
    sql = ctx.sql
    sql.execute(
        f"""
        UPDATE {t} SET school_class_id = (
            SELECT c.id FROM registry_schoolclass c WHERE c.school_id = {t}.school_id
            AND c.school_year_id = {t}.school_year_id AND c.name = {t}.class_name)
        """  # noqa: S608
    )
    sql.execute(
        f"UPDATE {t} SET problem = 'unknown_class' WHERE school_class_id IS NULL"  # noqa: S608
    )
    _resolve_pupil(ctx, t, "pupil_id")
    active = "('" + "', '".join(ACTIVE_STATUSES) + "')"
    # At most one active enrolment per pupil and year (a database constraint): refuse a second
    # one, already stored under another key or earlier in this chunk.
    sql.execute(
        f"""
        UPDATE {t} SET problem = 'active_elsewhere'
        WHERE problem IS NULL AND status IN {active} AND (
            EXISTS (SELECT 1 FROM registry_enrolment e
                    WHERE e.pupil_id = {t}.pupil_id AND e.school_year_id = {t}.school_year_id
                    AND e.status IN {active}
                    AND NOT (e.school_id = {t}.school_id AND e.pupil_code = {t}.pupil_code))
            OR EXISTS (SELECT 1 FROM {t} s2
                    WHERE s2.pupil_id = {t}.pupil_id AND s2.school_year_id = {t}.school_year_id
                    AND s2.status IN {active} AND s2.problem IS NULL AND s2.row_no > {t}.row_no))
        """  # noqa: S608
    )
    key = ["school_id", "school_year_id", "pupil_code"]
    data = ["pupil_id", "school_class_id", "status", "started_on", "ended_on", "province_code"]
    sql.mark_state(
        stage=t, state_col="e_state", target="registry_enrolment",
        key={k: f"{t}.{k}" for k in key}, compare={c: f"{t}.{c}" for c in data},
    )  # fmt: skip
    sql.upsert(
        stage=t, state_col="e_state", target="registry_enrolment",
        conflict="(school_id, school_year_id, pupil_code) WHERE NOT (pupil_code = '')",
        values={c: c for c in [*key, *data]}, update=data,
        insert_extra={"created_at": "%s", "updated_at": "%s"},
        update_extra={"updated_at": "excluded.updated_at"},
        params=(ctx.now_param, ctx.now_param),
    )  # fmt: skip
    # History: the initial status of a new enrolment, and each status change a reload brings.
    latest = (
        "(SELECT h.status FROM registry_enrolmentstatuschange h "
        "WHERE h.enrolment_id = e.id ORDER BY h.id DESC LIMIT 1)"
    )
    sql.execute(
        f"""
        INSERT INTO registry_enrolmentstatuschange
            (enrolment_id, status, effective_on, note, recorded_at, recorded_by_id)
        SELECT e.id, e.status,
            CASE WHEN e.ended_on IS NOT NULL THEN e.ended_on ELSE e.started_on END,
            '', %s, NULL
        FROM {t} s JOIN registry_enrolment e ON e.school_id = s.school_id
            AND e.school_year_id = s.school_year_id AND e.pupil_code = s.pupil_code
        WHERE s.problem IS NULL AND s.e_state IN ('i', 'u')
            AND {sql.distinct(latest, "e.status")}
        """,  # noqa: S608
        (ctx.now_param,),
    )
    _sql_problems(ctx, t, stats)
    stats.inserted, stats.updated, stats.unchanged = _add(stats, sql.states(t, "e_state"))


def _enrolment_id_sql(t: str) -> str:
    return f"""
        UPDATE {t} SET enrolment_id = (
            SELECT e.id FROM registry_enrolment e WHERE e.school_id = {t}.school_id
            AND e.school_year_id = {t}.school_year_id AND e.pupil_code = {t}.pupil_code)
    """  # noqa: S608


def _chunk_subject_results(ctx: _Ctx, df: pl.DataFrame, stats: EntityStats) -> None:
    df = _with_school(ctx, df, stats)
    df = _with_year(ctx, df)
    df = lookup(df, ctx.subjects, left="subject_code", right="_s_code")
    df = flag(df, pl.col("_s_id").is_null(), "unknown_subject")
    df = _choice(df, "period", ("term1", "term2", "year"), "bad_period")
    df = df.with_columns(pl.col("score").round(2))
    df = flag(df, (pl.col("score") < 0) | (pl.col("score") > 10), "score_out_of_range")
    df = _choice(df, "rating", ("D", "CD", "T", "H", "C"), "bad_rating", optional=True)
    df = flag(df, pl.col("score").is_null() & pl.col("rating").is_null(), "no_result_value")
    df = flag_duplicates(df, ["school_code", "school_year", "pupil_code", "subject_code", "period"])
    df = _split_rejected(df, stats)
    df = df.with_columns(
        pl.col(ROW).alias("row_no"),
        pl.col("org_id").alias("school_id"),
        pl.col("_y_id").alias("school_year_id"),
        pl.col("_s_id").alias("subject_id"),
        pl.col("rating").fill_null(""),
        pl.col("org_province").alias("province_code"),
        pl.lit(None, pl.Int64).alias("enrolment_id"),
        pl.lit(None, pl.String).alias("problem"),
        pl.lit(None, pl.String).alias("r_state"),
    )
    cols = [
        Col("row_no", "bigint"), Col("school_id", "bigint"), Col("school_year_id", "bigint"),
        Col("pupil_code", "text"), Col("enrolment_id", "bigint"), Col("subject_id", "bigint"),
        Col("period", "text"), Col("score", "numeric(4,2)"), Col("rating", "text"),
        Col("province_code", "text"), Col("problem", "text"), Col("r_state", "text"),
    ]  # fmt: skip
    t = "ld_results"
    _stage(ctx, t, cols, df)
    sql = ctx.sql
    sql.execute(_enrolment_id_sql(t))
    sql.execute(f"UPDATE {t} SET problem = 'unknown_enrolment' WHERE enrolment_id IS NULL")  # noqa: S608
    key = ["enrolment_id", "subject_id", "period"]
    data = ["score", "rating", "province_code"]
    sql.mark_state(
        stage=t, state_col="r_state", target="registry_subjectresult",
        key={k: f"{t}.{k}" for k in key}, compare={c: f"{t}.{c}" for c in data},
    )  # fmt: skip
    sql.upsert(
        stage=t, state_col="r_state", target="registry_subjectresult",
        conflict="(enrolment_id, subject_id, period)",
        values={c: c for c in [*key, *data]}, update=data,
    )  # fmt: skip
    _sql_problems(ctx, t, stats)
    stats.inserted, stats.updated, stats.unchanged = _add(stats, sql.states(t, "r_state"))


def _chunk_result_summaries(ctx: _Ctx, df: pl.DataFrame, stats: EntityStats) -> None:
    df = _with_school(ctx, df, stats)
    df = _with_year(ctx, df)
    df = _choice(df, "period", ("term1", "term2", "year"), "bad_period")
    ratings = ResultSummary.Rating.values
    df = _choice(df, "learning_rating", ratings, "bad_rating", optional=True)
    df = _choice(df, "conduct_rating", ratings, "bad_rating", optional=True)
    df = _choice(df, "outcome", ResultSummary.Outcome.values, "bad_outcome", optional=True)
    df = flag(
        df, pl.col("outcome").is_not_null() & (pl.col("period") != "year"), "outcome_not_year"
    )
    df = flag_duplicates(df, ["school_code", "school_year", "pupil_code", "period"])
    df = _split_rejected(df, stats)
    df = df.with_columns(
        pl.col(ROW).alias("row_no"),
        pl.col("org_id").alias("school_id"),
        pl.col("_y_id").alias("school_year_id"),
        pl.col("learning_rating").fill_null(""),
        pl.col("conduct_rating").fill_null(""),
        pl.col("outcome").fill_null(""),
        pl.col("org_province").alias("province_code"),
        pl.lit(None, pl.Int64).alias("enrolment_id"),
        pl.lit(None, pl.String).alias("problem"),
        pl.lit(None, pl.String).alias("s_state"),
    )
    cols = [
        Col("row_no", "bigint"), Col("school_id", "bigint"), Col("school_year_id", "bigint"),
        Col("pupil_code", "text"), Col("enrolment_id", "bigint"), Col("period", "text"),
        Col("learning_rating", "text"), Col("conduct_rating", "text"), Col("outcome", "text"),
        Col("province_code", "text"), Col("problem", "text"), Col("s_state", "text"),
    ]  # fmt: skip
    t = "ld_summaries"
    _stage(ctx, t, cols, df)
    sql = ctx.sql
    sql.execute(_enrolment_id_sql(t))
    sql.execute(f"UPDATE {t} SET problem = 'unknown_enrolment' WHERE enrolment_id IS NULL")  # noqa: S608
    key = ["enrolment_id", "period"]
    data = ["learning_rating", "conduct_rating", "outcome", "province_code"]
    sql.mark_state(
        stage=t, state_col="s_state", target="registry_resultsummary",
        key={k: f"{t}.{k}" for k in key}, compare={c: f"{t}.{c}" for c in data},
    )  # fmt: skip
    sql.upsert(
        stage=t, state_col="s_state", target="registry_resultsummary",
        conflict="(enrolment_id, period)",
        values={c: c for c in [*key, *data]}, update=data,
    )  # fmt: skip
    _sql_problems(ctx, t, stats)
    stats.inserted, stats.updated, stats.unchanged = _add(stats, sql.states(t, "s_state"))


def _chunk_health_records(ctx: _Ctx, df: pl.DataFrame, stats: EntityStats) -> None:
    df = _with_school(ctx, df, stats)
    df = df.with_columns(pl.col("height_cm").round(1), pl.col("weight_kg").round(1))
    eyes_bad = ((pl.col("eyesight_left") < 0) | (pl.col("eyesight_left") > 10)) | (
        (pl.col("eyesight_right") < 0) | (pl.col("eyesight_right") > 10)
    )
    df = flag(
        df,
        (pl.col("height_cm") < 40)
        | (pl.col("height_cm") > 230)
        | (pl.col("weight_kg") < 2)
        | (pl.col("weight_kg") > 250)
        | eyes_bad,
        "implausible_measurement",
    )
    df = flag_duplicates(df, ["school_code", "pupil_code", "measured_on"])
    df = _split_rejected(df, stats)
    df = df.with_columns(
        pl.col(ROW).alias("row_no"),
        pl.col("org_id").alias("school_id"),
        (pl.col("weight_kg") / (pl.col("height_cm") / 100) ** 2).round(1).alias("bmi"),
        pl.col("org_province").alias("province_code"),
        pl.lit(None, pl.Int64).alias("person_id"),
        pl.lit(None, pl.String).alias("problem"),
        pl.lit(None, pl.String).alias("h_state"),
    )
    cols = [
        Col("row_no", "bigint"), Col("school_id", "bigint"), Col("pupil_code", "text"),
        Col("person_id", "bigint"), Col("measured_on", "date"), Col("height_cm", "numeric(4,1)"),
        Col("weight_kg", "numeric(4,1)"), Col("bmi", "numeric(4,1)"),
        Col("eyesight_left", "integer"), Col("eyesight_right", "integer"),
        Col("province_code", "text"), Col("problem", "text"), Col("h_state", "text"),
    ]  # fmt: skip
    t = "ld_health"
    _stage(ctx, t, cols, df, ["person_id, measured_on"])
    sql = ctx.sql
    _resolve_pupil(ctx, t, "person_id")
    # Several measurements of one person on one day from different schools: keep the last row.
    sql.execute(
        f"""
        UPDATE {t} SET problem = 'duplicate_key' WHERE problem IS NULL AND EXISTS (
            SELECT 1 FROM {t} s2 WHERE s2.person_id = {t}.person_id
            AND s2.measured_on = {t}.measured_on AND s2.problem IS NULL AND s2.row_no > {t}.row_no)
        """  # noqa: S608
    )
    key = ["person_id", "measured_on"]
    data = [
        "school_id",
        "height_cm",
        "weight_kg",
        "bmi",
        "eyesight_left",
        "eyesight_right",
        "province_code",
    ]
    sql.mark_state(
        stage=t, state_col="h_state", target="registry_healthrecord",
        key={k: f"{t}.{k}" for k in key}, compare={c: f"{t}.{c}" for c in data},
    )  # fmt: skip
    sql.upsert(
        stage=t, state_col="h_state", target="registry_healthrecord",
        conflict="(person_id, measured_on)",
        values={c: c for c in [*key, *data]}, update=data,
    )  # fmt: skip
    _sql_problems(ctx, t, stats)
    stats.inserted, stats.updated, stats.unchanged = _add(stats, sql.states(t, "h_state"))


CHUNK_LOADERS: dict[str, Callable[[_Ctx, pl.DataFrame, EntityStats], None]] = {
    "schools": _chunk_schools,
    "staff": _chunk_staff,
    "classes": _chunk_classes,
    "pupils": _chunk_pupils,
    "enrolments": _chunk_enrolments,
    "subject_results": _chunk_subject_results,
    "result_summaries": _chunk_result_summaries,
    "health_records": _chunk_health_records,
}
# Tables each entity writes: on PostgreSQL they are re-analysed as a bulk load grows them, so
# the merge plans of the next chunks see real sizes (autovacuum lags far behind a bulk load).
TARGET_TABLES = {
    "schools": ("orgs_organisation",),
    "staff": ("registry_person", "registry_personnamekey", "registry_staffassignment"),
    "classes": ("registry_schoolclass",),
    "pupils": ("registry_person", "registry_personnamekey"),
    "enrolments": ("registry_enrolment", "registry_enrolmentstatuschange"),
    "subject_results": ("registry_subjectresult",),
    "result_summaries": ("registry_resultsummary",),
    "health_records": ("registry_healthrecord",),
}
ANALYZE_AFTER_ROWS = 5_000
BATCH_TYPES = {
    "schools": "organisation_batch",
    "staff": "staff_batch",
    "classes": "class_batch",
    "pupils": "person_batch",
    "enrolments": "enrolment_batch",
    "subject_results": "subject_result_batch",
    "result_summaries": "result_summary_batch",
    "health_records": "health_record_batch",
}


# -- driver ------------------------------------------------------------------------------------


def _load_entity(ctx: _Ctx, entity: xf.Entity, stats: EntityStats, progress) -> None:
    path = _entity_path(ctx.directory, entity.name)
    if path is None:
        return
    stats.present = True
    started = time.perf_counter()
    lf = scan_strings(path)
    header = lf.collect_schema().names()
    total = lf.select(pl.len()).collect().item()
    missing = [c.name for c in entity.columns if c.required and c.name not in header]
    if missing:
        # Without its key or required columns no row of the file can be placed.
        stats.rows = total
        stats.note(f"missing_file_columns:{','.join(missing)}", list(range(1, total + 1)))
        stats.seconds = time.perf_counter() - started
        return
    loader = CHUNK_LOADERS[entity.name]
    bar = progress(total=total, desc=entity.name, unit=" rows")
    batches = lf.with_row_index(ROW, offset=1).collect_batches(chunk_size=ctx.chunk_rows)
    for batch in batches:
        batch = batch.with_columns(pl.col(ROW).cast(pl.Int64))
        before = (stats.inserted, stats.updated, stats.unchanged, stats.rejected, stats.skipped)
        snapshot = (Counter(stats.problems), {k: list(v) for k, v in stats.samples.items()})
        try:
            with transaction.atomic():
                loader(ctx, prepare(batch, entity), stats)
                inserted = stats.inserted - before[0]
                updated = stats.updated - before[1]
                if inserted or updated:
                    audit_record(
                        actor=ctx.actor,
                        action="create" if inserted else "update",
                        object_type=BATCH_TYPES[entity.name],
                        detail={
                            "entity": entity.name,
                            "rows": batch.height,
                            "inserted": inserted,
                            "updated": updated,
                            "rejected": stats.rejected - before[3],
                            "first_row": int(batch[ROW][0]),
                        },
                    )
        except DatabaseError:
            # The chunk is rolled back whole; report it and go on with the next one.
            stats.inserted, stats.updated, stats.unchanged, stats.rejected, stats.skipped = before
            stats.problems = snapshot[0]
            stats.samples = defaultdict(list, snapshot[1])
            stats.note("chunk_failed", batch[ROW].to_list())
        if ctx.sql.pg and stats.inserted - before[0] >= ANALYZE_AFTER_ROWS:
            for table in TARGET_TABLES[entity.name]:
                ctx.sql.execute(f"ANALYZE {table}")
        stats.rows += batch.height
        bar.update(batch.height)
    bar.close()
    stats.seconds = time.perf_counter() - started


def dataset_load(
    *,
    directory: str | Path,
    province: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    actor=None,
    progress: bool = False,
    entities: list[str] | None = None,
) -> LoadResult:
    """Load an exchange-format dataset directory (all entities, in load order); idempotent."""
    from tqdm import tqdm

    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"Dataset directory not found: {directory}")
    started = time.perf_counter()
    ctx = _Ctx(
        sql=Sql(),
        directory=directory,
        province=province,
        chunk_rows=chunk_rows,
        actor=actor,
        issue_year=timezone.localdate().year,
        now=timezone.now(),
    )

    def make_bar(**kwargs):
        return tqdm(disable=not progress, leave=True, **kwargs)

    _load_reference(ctx)
    _read_dataset_school_provinces(ctx)
    sql = ctx.sql
    if not sql.pg and not connection.in_atomic_block:
        # Staging tables are scratch space: keep them in memory, away from the database file
        # (SQLite allows the switch only outside a transaction).
        sql.execute("PRAGMA temp_store = MEMORY")
    if sql.pg:
        # Each chunk is idempotent to replay, so waiting for the WAL flush at every commit buys
        # nothing: a crash loses at most the last chunks, which the next run loads again.
        sql.execute("SET synchronous_commit TO off")
    with transaction.atomic():
        sql.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {PUPIL_KEYS} (school_id bigint, "
            "pupil_code text, person_id bigint, PRIMARY KEY (school_id, pupil_code))"
        )
        sql.execute(f"DELETE FROM {PUPIL_KEYS}")  # noqa: S608
    result = LoadResult(entities={}, seconds=0.0)
    wanted = set(entities or xf.BY_NAME)
    for entity in xf.ENTITIES:
        stats = result.entities[entity.name] = EntityStats(entity.name)
        if entity.name not in wanted:
            continue
        if entity.name == "classes":
            with transaction.atomic():
                _school_years_ensure(ctx)
        _load_entity(ctx, entity, stats, make_bar)
        if entity.name == "schools" and stats.present:
            if stats.inserted or stats.updated:
                closure_rebuild()
            _load_orgs(ctx)
    with transaction.atomic():
        for table in (PUPIL_KEYS, "ld_new_ids", *(f"ld_{n}" for n in (
            "schools", "staff", "classes", "pupils", "enrolments", "results", "summaries", "health"
        ))):  # fmt: skip
            sql.stage_drop(table)
    if sql.pg:
        sql.execute("RESET synchronous_commit")
    result.seconds = time.perf_counter() - started
    return result


def result_json(result: LoadResult) -> str:
    """The summary as one JSON object (for scripts and benchmarks)."""
    return json.dumps(
        {
            "seconds": round(result.seconds, 2),
            "rows": result.rows,
            "rows_per_s": round(result.rows / result.seconds) if result.seconds else 0,
            "entities": {
                e.name: {
                    "rows": e.rows,
                    "inserted": e.inserted,
                    "updated": e.updated,
                    "unchanged": e.unchanged,
                    "rejected": e.rejected,
                    "skipped": e.skipped,
                    "problems": dict(e.problems),
                }
                for e in result.entities.values()
                if e.present
            },
        },
        ensure_ascii=False,
    )
