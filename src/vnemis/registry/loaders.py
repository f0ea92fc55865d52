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
from contextlib import nullcontext
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
    with_citizen_id_index,
    with_name_columns,
)
from .loaders_pupils import enrolments_merge, pupils_merge
from .loaders_sql import Col, Sql
from .loaders_teaching import _chunk_teaching_assignments
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
    "unknown_staff": ("mã cán bộ không tồn tại trong trường", "unknown staff code at the school"),
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
    "out_of_scope": (
        "trường không thuộc phạm vi được phép ghi dữ liệu",
        "the school is outside the scope you may write to",
    ),
    "period_locked": (
        "dữ liệu năm học này của trường đang bị khoá vì báo cáo kỳ đã nộp hoặc đã được duyệt "
        "(đề nghị Sở trả lại báo cáo nếu cần sửa)",
        "the school's data for this school year is locked: its period report is submitted or "
        "approved (ask the Department to return it to make changes)",
    ),
    "person_mismatch": (
        "mã định danh giáo dục thuộc một người khác: họ tên hoặc ngày sinh không khớp với hồ sơ "
        "(chỉ trường đang quản lý người này mới sửa được thông tin cá nhân)",
        "the education ID belongs to someone else: name or date of birth differ from the record "
        "(only the school the person belongs to now may change their details)",
    ),
    "pupil_needs_enrolment": (
        "học sinh chưa có trong CSDL: học sinh mới phải kèm thông tin nhập học (dùng mẫu danh "
        "sách lớp, hoặc nộp kèm tệp nhập học)",
        "pupil not in the registry: a new pupil must come with an enrolment (use the class "
        "roster template, or send an enrolments file with it)",
    ),
    "chunk_failed": (
        "lỗi cơ sở dữ liệu; cả khối dòng đã được hoàn tác",
        "database error; the whole chunk was rolled back",
    ),
}

# Problems that are reported but do not stop the row from loading.
WARNINGS = {"unknown_homeroom"}

# The column a problem code is about, where the code does not name it (``code:column``).
CODE_COLUMNS = {
    "unknown_school": "school_code",
    "out_of_scope": "school_code",
    "period_locked": "school_year",
    "pupil_needs_enrolment": "pupil_code",
    "person_mismatch": "education_id",
    "unknown_parent": "parent_code",
    "unknown_province": "province_code",
    "unknown_commune": "commune_code",
    "bad_kind": "kind",
    "bad_level": "level",
    "bad_ownership": "ownership",
    "unsupported_status": "status",
    "bad_sex": "sex",
    "implausible_birth_date": "birth_date",
    "unknown_ethnicity": "ethnicity_code",
    "bad_nationality": "nationality",
    "bad_policy_category": "policy_categories",
    "bad_disability": "disability",
    "bad_citizen_id": "citizen_id",
    "bad_education_id": "education_id",
    "duplicate_person": "education_id",
    "bad_role": "role",
    "bad_qualification": "qualification",
    "bad_contract": "contract_type",
    "unknown_subject": "subject_code",
    "bad_school_year": "school_year",
    "unknown_school_year": "school_year",
    "grade_level": "grade",
    "unknown_homeroom": "homeroom_staff_code",
    "unknown_class": "class_name",
    "unknown_staff": "staff_code",
    "unknown_pupil": "pupil_code",
    "bad_status": "status",
    "dates_out_of_order": "ended_on",
    "active_elsewhere": "pupil_code",
    "unknown_enrolment": "pupil_code",
    "bad_period": "period",
    "score_out_of_range": "score",
    "bad_rating": "rating",
    "outcome_not_year": "outcome",
    "bad_outcome": "outcome",
}
# Columns of the error frames handed to ``error_sink`` (docs/exchange-pipeline.md).
ERROR_SCHEMA = {
    "row": pl.Int64,
    "entity": pl.String,
    "column": pl.String,
    "value": pl.String,
    "code": pl.String,
    "severity": pl.String,
}
VALUE_CHARS = 200


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
    chunks: int = 0  # chunks handled by this run (resumed ones not counted)
    failed_chunks: int = 0
    resumed_rows: int = 0  # rows of chunks skipped because an earlier run committed them
    problems: Counter = field(default_factory=Counter)
    samples: dict = field(default_factory=lambda: defaultdict(list))
    # (code, rows, warning) of the current chunk, kept only when an error sink wants them.
    pending: list | None = field(default=None, repr=False)

    def note(self, code: str, rows: list[int], *, warning: bool = False) -> None:
        if not rows:
            return
        if self.pending is not None:
            self.pending.append((code, rows, warning))
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
    rolled_back: bool = False  # a dry run, or an all-or-nothing load with rejected rows

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
    files: dict[str, Path] | None = None
    school_ids: frozenset[int] | None = None
    locked: Callable[[], set[tuple[int, int]]] | None = None
    locked_pairs: pl.DataFrame | None = None  # this chunk's locked (school, year) pairs
    # Whether the load has enrolments at all: without, a pupil not on record cannot be placed.
    enrolments_in_load: bool = True
    pair_enrolments: pl.DataFrame | None = None  # a roster's enrolment rows of this pupils chunk
    dry_run: bool = False
    resume: dict[str, int] | None = None
    on_chunk: Callable | None = None
    error_sink: Callable[[pl.DataFrame], None] | None = None
    source: str = ""
    keep_keys: bool = False  # keep pupil keys across runs (a resumable job)
    chunk_no: int = 0
    chunk_offset: int = 0
    pupil_keys: pl.DataFrame | None = None  # this run's school + pupil code → person
    pending_keys: pl.DataFrame | None = None  # the current chunk's, until it commits
    merge_input: tuple | None = None
    analyzed: dict = field(
        default_factory=dict
    )  # entity → inserts at its last ANALYZE  # (frame, stats) handed from a chunk loader to its merge

    @property
    def now_param(self):
        # Django keeps SQLite datetimes as naive UTC text.
        return self.now if self.sql.pg else str(self.now.replace(tzinfo=None))

    @property
    def today_param(self):
        today = timezone.localdate()
        return today if self.sql.pg else today.isoformat()


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
    path = _entity_source(ctx, "schools")
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
        path = _entity_source(ctx, name)
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
    df = flag(
        df,
        pl.col("org_id").is_null() | ~pl.col("org_kind").is_in(["school", "university", "college"]),
        "unknown_school",
    )
    if ctx.school_ids is not None:
        df = flag(df, ~pl.col("org_id").is_in(list(ctx.school_ids)), "out_of_scope")
    return df


def _with_year(ctx: _Ctx, df: pl.DataFrame) -> pl.DataFrame:
    df = flag(df, ~pl.col("school_year").str.contains(r"^\d{4}-\d{4}$"), "bad_school_year")
    df = lookup(df, ctx.years, left="school_year", right="_y_code")
    df = flag(df, pl.col("_y_id").is_null(), "unknown_school_year")
    if ctx.locked_pairs is not None and ctx.locked_pairs.height:
        df = df.join(
            ctx.locked_pairs,
            left_on=["org_id", "_y_id"],
            right_on=["_l_school", "_l_year"],
            how="left",
        )
        df = flag(df, pl.col("_locked").is_not_null(), "period_locked").drop("_locked")
    return df


def _locked_frame(ctx: _Ctx) -> pl.DataFrame | None:
    """The locked (school, school year) pairs, asked once per chunk inside its transaction."""
    if ctx.locked is None:
        return None
    pairs = list(ctx.locked() or ())
    return pl.DataFrame(
        {
            "_l_school": [int(p[0]) for p in pairs],
            "_l_year": [int(p[1]) for p in pairs],
            "_locked": [True] * len(pairs),
        },
        schema={"_l_school": pl.Int64, "_l_year": pl.Int64, "_locked": pl.Boolean},
    )


def _errors_flush(ctx: _Ctx, entity: xf.Entity, batch: pl.DataFrame, stats: EntityStats) -> None:
    """Hand the chunk's problem rows to the error sink: row, entity, column, value as given,
    code, severity (docs/exchange-pipeline.md)."""
    pending, stats.pending = stats.pending, None
    if ctx.error_sink is None or not pending:
        return
    rows: list[int] = []
    codes: list[str] = []
    columns: list[str | None] = []
    severities: list[str] = []
    for code, found, warning in pending:
        base, _, column = code.partition(":")
        if base == "missing_file_columns":
            column = ""
        column = column or CODE_COLUMNS.get(base) or None
        rows.extend(found)
        codes.extend([base] * len(found))
        columns.extend([column] * len(found))
        severities.extend(["warning" if warning else "error"] * len(found))
    errors = pl.DataFrame(
        {"row": rows, "column": columns, "code": codes, "severity": severities},
        schema={"row": pl.Int64, "column": pl.String, "code": pl.String, "severity": pl.String},
    )
    wanted = [c for c in errors["column"].unique().drop_nulls().to_list() if c in batch.columns]
    if wanted:
        values = (
            batch.filter(pl.col(ROW).is_in(errors["row"].implode()))
            .select(pl.col(ROW).alias("row"), *(pl.col(c).cast(pl.String) for c in wanted))
            .unpivot(index="row", on=wanted, variable_name="column", value_name="value")
        )
        errors = errors.join(values, on=["row", "column"], how="left")
    else:
        errors = errors.with_columns(pl.lit(None, pl.String).alias("value"))
    errors = errors.with_columns(
        pl.lit(entity.name).alias("entity"), pl.col("value").str.slice(0, VALUE_CHARS)
    )
    ctx.error_sink(errors.select(list(ERROR_SCHEMA)).sort("row"))


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
    """Issue education IDs where missing, then insert/update the persons of a staging table.

    Pupils (``ld_pupils``) take the fast path of ``loaders_pupils`` on the frame the chunk
    loader left in ``ctx.merge_input``; staff go through the staging table below."""
    if table == "ld_pupils":
        df, stats = ctx.merge_input
        ctx.merge_input = None
        _pupil_keys_add(ctx, pupils_merge(ctx, df, stats))
        return
    sql = ctx.sql
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
    if ctx.school_ids is not None:
        # Linked, not changed: a person the writer does not hold today keeps their record.
        holds, params = _writer_holds(ctx, "p.id")
        sql.execute(
            f"""
            UPDATE {table} SET {state_col} = '~'
            WHERE problem IS NULL AND {state_col} = 'u' AND EXISTS (
                SELECT 1 FROM registry_person p WHERE p.education_id = {table}.education_id
                AND NOT {holds})
            """,  # noqa: S608 - identifiers come from code
            params,
        )
    # One person on several rows (a teacher posted at two schools): the person is written once,
    # from the last row; every row keeps its own post ('~': nothing to write for the person).
    sql.execute(
        f"""
        UPDATE {table} SET {state_col} = '~'
        WHERE problem IS NULL AND education_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM {table} s2 WHERE s2.education_id = {table}.education_id
            AND s2.problem IS NULL AND s2.row_no > {table}.row_no)
        """  # noqa: S608
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


def _writer_holds(ctx: _Ctx, person: str) -> tuple[str, list]:
    """SQL and its parameters: the restricted writer holds ``person`` today (an active
    enrolment or a live post at one of its schools; ``loaders_pupils.persons_of_writer`` is the
    same rule for frames). The schools go as one array parameter: a Department's thousands."""
    schools = sorted(int(i) for i in ctx.school_ids)
    among = "= ANY(%s)" if ctx.sql.pg else "IN (SELECT value FROM json_each(%s))"
    value = schools if ctx.sql.pg else json.dumps(schools)
    active = ", ".join(f"'{s}'" for s in ACTIVE_STATUSES)
    sql = (
        f"(EXISTS (SELECT 1 FROM registry_enrolment e WHERE e.pupil_id = {person} "  # noqa: S608
        f"AND e.school_id {among} AND e.status IN ({active})) "
        f"OR EXISTS (SELECT 1 FROM registry_staffassignment a WHERE a.person_id = {person} "
        f"AND a.school_id {among} AND (a.ends_on IS NULL OR a.ends_on >= %s)))"
    )
    return sql, [value, value, ctx.today_param]


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
    if ctx.school_ids is not None:
        # A scoped writer updates its own schools only and creates none.
        own = ctx.orgs.select("_o_code", pl.col("org_id").alias("_own_id"))
        df = lookup(df, own, left="school_code", right="_o_code")
        df = flag(
            df,
            pl.col("_own_id").is_null() | ~pl.col("_own_id").is_in(list(ctx.school_ids)),
            "out_of_scope",
        )
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
    if ctx.school_ids is not None:
        # Another school's person (or one who left): the file must agree on who it is.
        holds, params = _writer_holds(ctx, "p.id")
        sql.execute(
            f"""
            UPDATE {t} SET problem = 'person_mismatch'
            WHERE problem IS NULL AND EXISTS (
                SELECT 1 FROM registry_person p WHERE p.education_id = {t}.education_id
                AND ({sql.distinct("p.name_search", f"{t}.name_search")}
                     OR {sql.distinct("p.birth_date", f"{t}.birth_date")})
                AND NOT {holds})
            """,  # noqa: S608 - identifiers come from code
            params,
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
    df = _flag_locked_roster_rows(ctx, df)
    df = flag_too_long(df, {"pupil_code": 30})
    df = _person_frame(ctx, df, pupils=True)
    df = flag_duplicates(df, ["school_code", "pupil_code"])
    df = with_citizen_id_index(df)
    df = _split_rejected(df, stats)
    ctx.merge_input = (_person_stage_frame(df, pupils=True), stats)
    _persons_merge(ctx, "ld_pupils")


def _flag_locked_roster_rows(ctx: _Ctx, df: pl.DataFrame) -> pl.DataFrame:
    """A roster row whose enrolment falls in a locked (school, year) is refused whole: its
    pupil part must not change either (the Department reviews both)."""
    part = ctx.pair_enrolments
    if part is None or ctx.locked_pairs is None or not ctx.locked_pairs.height:
        return df
    part = lookup(
        part.select(ROW, "school_code", "school_year"),
        ctx.orgs.select("_o_code", "org_id"),
        left="school_code",
        right="_o_code",
    )
    part = lookup(part, ctx.years, left="school_year", right="_y_code")
    locked = part.join(
        ctx.locked_pairs, left_on=["org_id", "_y_id"], right_on=["_l_school", "_l_year"]
    )[ROW]
    return flag(df, pl.col(ROW).is_in(locked.implode()), "period_locked")


def _pupil_keys_add(ctx: _Ctx, keys: pl.DataFrame) -> None:
    """Remember school + pupil code → person for this run's enrolments (kept in memory: a few
    tens of bytes per pupil), once the chunk has committed (``_pupil_keys_commit``)."""
    ctx.pending_keys = keys


def _pupil_keys_commit(ctx: _Ctx) -> None:
    keys, ctx.pending_keys = ctx.pending_keys, None
    if keys is None:
        return
    keys = keys.select(
        pl.col("school_id").cast(pl.Int64),
        pl.col("pupil_code").cast(pl.String),
        pl.col("person_id").cast(pl.Int64),
    )
    if ctx.pupil_keys is None or not ctx.pupil_keys.height:
        ctx.pupil_keys = keys
        return
    ctx.pupil_keys = pl.concat([ctx.pupil_keys, keys]).unique(
        ["school_id", "pupil_code"], keep="last", maintain_order=False
    )


def _pupil_keys_recall(ctx: _Ctx, batch: pl.DataFrame, entity: xf.Entity) -> None:
    """Pupil keys of a pupils chunk an earlier run committed (resume), so this run's
    enrolments still find those pupils: by the education ID the file gives. (A pupil without
    one is found through its enrolment; a roster's parts load as pairs, ``_load_pair``.)"""
    df = prepare(batch, entity)
    df = lookup(df, ctx.orgs.select("_o_code", "org_id"), left="school_code", right="_o_code")
    df = df.filter(pl.col("education_id").is_not_null() & pl.col("org_id").is_not_null())
    if not df.height:
        return
    cols = [Col("school_id", "bigint"), Col("pupil_code", "text"), Col("education_id", "text")]
    ctx.sql.stage_create("ld_recall", cols)
    ctx.sql.stage_fill("ld_recall", cols, df.rename({"org_id": "school_id"}))
    found = ctx.sql.read_frame(
        "SELECT r.school_id, r.pupil_code, p.id FROM ld_recall r "
        "JOIN registry_person p ON p.education_id = r.education_id",
        {"school_id": pl.Int64, "pupil_code": pl.String, "person_id": pl.Int64},
    )
    ctx.pending_keys = found
    _pupil_keys_commit(ctx)


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
        pl.col("org_id").alias("school_id"),
        pl.col("_y_id").alias("school_year_id"),
        pl.col("org_province").alias("province_code"),
        pl.col(ROW).alias("row_no"),
    ).select(
        ROW, "row_no", PROBLEM, "school_id", "school_year_id", "pupil_code", "class_name", "status",
        "started_on", "ended_on", "province_code",
    )  # fmt: skip
    enrolments_merge(ctx, df, stats)


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
    "teaching_assignments": _chunk_teaching_assignments,
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
    "teaching_assignments": ("registry_teachingassignment",),
    "pupils": ("registry_person", "registry_personnamekey"),
    "enrolments": ("registry_enrolment", "registry_enrolmentstatuschange"),
    "subject_results": ("registry_subjectresult",),
    "result_summaries": ("registry_resultsummary",),
    "health_records": ("registry_healthrecord",),
}
ANALYZE_AFTER_ROWS = 5_000


def _analyze_if_grown(ctx: _Ctx, entity: str, stats: EntityStats) -> None:
    """Re-analyse an entity's tables once its inserts reach the size the statistics last saw
    (doubling steps: a 1 M-row load analyses ~8 times, not once per chunk)."""
    if not ctx.sql.pg or stats.inserted < ANALYZE_AFTER_ROWS:
        return
    seen = ctx.analyzed.get(entity)
    if seen is None:
        rows = ctx.sql.fetchall(
            "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE relname = %s",
            (TARGET_TABLES[entity][0],),
        )
        seen = ctx.analyzed[entity] = -int(rows[0][0]) if rows else 0
    if seen < 0:  # table size before this run, as a negative number
        due = stats.inserted >= max(-seen, ANALYZE_AFTER_ROWS)
    else:
        due = stats.inserted >= 2 * max(seen, ANALYZE_AFTER_ROWS // 2)
    if due:
        for table in TARGET_TABLES[entity]:
            ctx.sql.execute(f"ANALYZE {table}")
        ctx.analyzed[entity] = stats.inserted


BATCH_TYPES = {
    "schools": "organisation_batch",
    "staff": "staff_batch",
    "classes": "class_batch",
    "teaching_assignments": "teaching_assignment_batch",
    "pupils": "person_batch",
    "enrolments": "enrolment_batch",
    "subject_results": "subject_result_batch",
    "result_summaries": "result_summary_batch",
    "health_records": "health_record_batch",
}


# -- driver ------------------------------------------------------------------------------------


def _entity_source(ctx: _Ctx, name: str) -> Path | None:
    if ctx.files is not None:
        path = ctx.files.get(name)
        return Path(path) if path is not None and Path(path).exists() else None
    return _entity_path(ctx.directory, name)


def _chunks(lf: pl.LazyFrame, header: list[str], chunk_rows: int):
    """The file in chunks, each with ``_row``: the file's own row numbers when it carries them
    (intake writes the row the user sees), else 1, 2, 3…"""
    if ROW in header:
        lf = lf.with_columns(pl.col(ROW).cast(pl.Int64))
    else:
        lf = lf.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    return lf.collect_batches(chunk_size=chunk_rows)


def _chunk_apply(
    ctx: _Ctx, entity: xf.Entity, batch: pl.DataFrame, stats: EntityStats, index: int
) -> None:
    """One chunk in its own transaction (a savepoint inside a dry run or all-or-nothing load):
    checks, merge, audit entry, the caller's ``on_chunk``."""
    loader = CHUNK_LOADERS[entity.name]
    before = (stats.inserted, stats.updated, stats.unchanged, stats.rejected, stats.skipped)
    done_before = (stats.rows, stats.chunks)
    snapshot = (Counter(stats.problems), {k: list(v) for k, v in stats.samples.items()})
    stats.pending = [] if ctx.error_sink is not None else None
    ctx.chunk_no = stats.chunks + 1
    try:
        with transaction.atomic():
            ctx.locked_pairs = _locked_frame(ctx)
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
                        "source": ctx.source,
                        "dry_run": ctx.dry_run,
                    },
                )
            stats.rows += batch.height
            stats.chunks += 1
            # The caller's checkpoint last: an exception in it rolls the chunk back.
            if ctx.on_chunk is not None:
                # Inside the chunk's transaction: the caller's checkpoint commits with the rows.
                ctx.on_chunk(entity.name, index, stats)
        _pupil_keys_commit(ctx)
    except DatabaseError:
        # The chunk is rolled back whole; report it and go on with the next one.
        ctx.pending_keys = None
        stats.inserted, stats.updated, stats.unchanged, stats.rejected, stats.skipped = before
        stats.rows, stats.chunks = done_before
        stats.problems = snapshot[0]
        stats.samples = defaultdict(list, snapshot[1])
        if stats.pending is not None:
            stats.pending = []
        stats.note("chunk_failed", batch[ROW].to_list())
        stats.rows += batch.height
        stats.chunks += 1
        stats.failed_chunks += 1
    _errors_flush(ctx, entity, batch, stats)


def _load_entity(ctx: _Ctx, entity: xf.Entity, stats: EntityStats, progress) -> None:
    path = _entity_source(ctx, entity.name)
    if path is None:
        return
    stats.present = True
    started = time.perf_counter()
    lf = scan_strings(path)
    header = lf.collect_schema().names()
    skip = int((ctx.resume or {}).get(entity.name, 0) or 0)
    missing = [c.name for c in entity.columns if c.required and c.name not in header]
    if missing:
        # Without its key or required columns no row of the file can be placed.
        rows = (
            lf.select(pl.col(ROW).cast(pl.Int64)).collect()[ROW].to_list()
            if ROW in header
            else list(range(1, lf.select(pl.len()).collect().item() + 1))
        )
        stats.rows = len(rows)
        stats.pending = [] if ctx.error_sink is not None else None
        stats.note(f"missing_file_columns:{','.join(missing)}", rows)
        _errors_flush(ctx, entity, pl.DataFrame({ROW: rows}, schema={ROW: pl.Int64}), stats)
        stats.seconds = time.perf_counter() - started
        return
    total = lf.select(pl.len()).collect().item()
    bar = progress(total=total, desc=entity.name, unit=" rows")
    for index, batch in enumerate(_chunks(lf, header, ctx.chunk_rows), start=1):
        if index <= skip:
            # Committed by an earlier run of the same job: not applied twice.
            stats.resumed_rows += batch.height
            if entity.name == "pupils":
                _pupil_keys_recall(ctx, batch, entity)
            bar.update(batch.height)
            continue
        _chunk_apply(ctx, entity, batch, stats, index)
        _analyze_if_grown(ctx, entity.name, stats)
        bar.update(batch.height)
    bar.close()
    stats.seconds = time.perf_counter() - started


def _paired_sources(ctx: _Ctx) -> tuple[Path, Path] | None:
    """The pupils and enrolments files of one roster (intake writes both parts of a source
    file into one folder, numbered by the same ``_row``), or None."""
    pupils, enrolments = _entity_source(ctx, "pupils"), _entity_source(ctx, "enrolments")
    if pupils is None or enrolments is None or pupils.parent != enrolments.parent:
        return None
    if pupils.suffix != ".parquet" or enrolments.suffix != ".parquet":
        return None
    for path, entity in ((pupils, xf.BY_NAME["pupils"]), (enrolments, xf.BY_NAME["enrolments"])):
        header = scan_strings(path).collect_schema().names()
        if ROW not in header or any(c.required and c.name not in header for c in entity.columns):
            return None
    return pupils, enrolments


def _load_pair(ctx: _Ctx, paths: tuple[Path, Path], stats_p: EntityStats, stats_e: EntityStats,
               progress) -> None:  # fmt: skip
    """A roster's pupils and enrolments chunk by chunk together: pupils chunk i and the
    enrolments of the same file rows commit in one transaction. So at every commit each
    committed pupil has its enrolment, a resumed job finds them through their enrolments, and
    no pupil keys need keeping across chunks."""
    pupils, enrolments = xf.BY_NAME["pupils"], xf.BY_NAME["enrolments"]
    stats_p.present = stats_e.present = True
    started = time.perf_counter()
    lf_p = scan_strings(paths[0])
    lf_e = scan_strings(paths[1]).with_columns(pl.col(ROW).cast(pl.Int64))
    skip_p = int((ctx.resume or {}).get("pupils", 0) or 0)
    skip_e = int((ctx.resume or {}).get("enrolments", 0) or 0)
    total = lf_p.select(pl.len()).collect().item()
    bar = progress(total=total, desc="pupils+enrolments", unit=" rows")
    low = None
    index = 0
    for index, batch in enumerate(_chunks(lf_p, [ROW], ctx.chunk_rows), start=1):
        high = int(batch[ROW].max())
        window = pl.col(ROW) <= high
        if low is not None:
            window = window & (pl.col(ROW) > low)
        part = lf_e.filter(window).collect()
        with transaction.atomic():
            if index > skip_p:
                ctx.pair_enrolments = part
                try:
                    _chunk_apply(ctx, pupils, batch, stats_p, index)
                finally:
                    ctx.pair_enrolments = None
            else:
                stats_p.resumed_rows += batch.height
            if index > skip_e and part.height:
                _chunk_apply(ctx, enrolments, part, stats_e, index)
            elif part.height:
                stats_e.resumed_rows += part.height
        low = high
        _analyze_if_grown(ctx, "pupils", stats_p)
        _analyze_if_grown(ctx, "enrolments", stats_e)
        bar.update(batch.height)
    # Enrolments after the last pupil row (a file whose pupils part is shorter).
    rest = lf_e.filter(pl.col(ROW) > low) if low is not None else lf_e
    for offset, part in enumerate(rest.collect_batches(chunk_size=ctx.chunk_rows), start=1):
        if index + offset > skip_e:
            _chunk_apply(ctx, enrolments, part, stats_e, index + offset)
    bar.close()
    stats_p.seconds = time.perf_counter() - started
    stats_e.seconds = 0.0


def dataset_load(
    *,
    directory: str | Path | None = None,
    files: dict[str, Path] | None = None,
    province: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    actor=None,
    progress: bool = False,
    entities: list[str] | None = None,
    school_ids: frozenset[int] | None = None,
    locked: Callable[[], set[tuple[int, int]]] | None = None,
    dry_run: bool = False,
    all_or_nothing: bool = False,
    resume: dict[str, int] | None = None,
    on_chunk: Callable[[str, int, EntityStats], None] | None = None,
    error_sink: Callable[[pl.DataFrame], None] | None = None,
    source: str = "",
) -> LoadResult:
    """Load an exchange-format dataset (all entities, in load order); idempotent.

    ``directory`` holds ``<entity>.parquet|csv`` files, or ``files`` maps entity names to
    canonical files (intake's output). ``school_ids`` limits writes to those schools (other
    rows: ``out_of_scope``); ``locked()`` gives the (school id, school year id) pairs whose
    period data is locked (rows: ``period_locked``). ``dry_run`` does everything, then rolls
    back: the counts are exactly what a real run would do. ``all_or_nothing`` runs in one
    transaction that is rolled back if any row is rejected. ``resume`` skips, per entity, the
    chunks an earlier run of the same job committed; ``on_chunk(entity, chunks_done, stats)``
    runs inside each chunk's transaction (stats: this run's cumulative counts). ``error_sink``
    receives every problem row (``ERROR_SCHEMA``); ``source`` labels RecordChange rows.
    """
    from tqdm import tqdm

    if files is None:
        if directory is None:
            raise ValueError("dataset_load needs directory= or files=")
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(f"Dataset directory not found: {directory}")
    else:
        files = {name: Path(p) for name, p in files.items()}
        directory = Path(directory) if directory is not None else None
    started = time.perf_counter()
    now = timezone.now()
    ctx = _Ctx(
        sql=Sql(source=source[:64], now=now),
        directory=directory,
        province=province,
        chunk_rows=chunk_rows,
        actor=actor,
        issue_year=timezone.localdate().year,
        now=now,
        files=files,
        school_ids=frozenset(school_ids) if school_ids is not None else None,
        locked=locked,
        dry_run=dry_run,
        resume=resume,
        on_chunk=on_chunk,
        error_sink=error_sink,
        source=source[:64],
        keep_keys=bool(source) and not dry_run and not all_or_nothing,
    )

    def make_bar(**kwargs):
        return tqdm(disable=not progress, leave=True, **kwargs)

    sql = ctx.sql
    if not sql.pg and not connection.in_atomic_block:
        # Staging tables are scratch space: keep them in memory, away from the database file
        # (SQLite allows the switch only outside a transaction).
        sql.execute("PRAGMA temp_store = MEMORY")
    if sql.pg:
        # Each chunk is idempotent to replay, so waiting for the WAL flush at every commit buys
        # nothing: a crash loses at most the last chunks, which the next run loads again.
        sql.execute("SET synchronous_commit TO off")
    result = LoadResult(entities={}, seconds=0.0)
    try:
        # A dry run and an all-or-nothing load are one transaction; chunks are savepoints in it.
        with transaction.atomic() if (dry_run or all_or_nothing) else nullcontext():
            _load_all(ctx, result, entities, make_bar)
            if dry_run or (all_or_nothing and result.rejected):
                transaction.set_rollback(True)
                result.rolled_back = True
    finally:
        if sql.pg:
            sql.execute("RESET synchronous_commit")
    result.seconds = time.perf_counter() - started
    return result


def _load_all(ctx: _Ctx, result: LoadResult, entities, make_bar) -> None:
    sql = ctx.sql
    _load_reference(ctx)
    _read_dataset_school_provinces(ctx)
    with transaction.atomic():
        sql.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {PUPIL_KEYS} (school_id bigint, "
            "pupil_code text, person_id bigint, PRIMARY KEY (school_id, pupil_code))"
        )
        sql.execute(f"DELETE FROM {PUPIL_KEYS}")  # noqa: S608
    wanted = set(entities or xf.BY_NAME)
    for entity in xf.ENTITIES:
        result.entities[entity.name] = EntityStats(entity.name)
    paired = _paired_sources(ctx) if {"pupils", "enrolments"} <= wanted else None
    ctx.enrolments_in_load = (
        "enrolments" in wanted and _entity_source(ctx, "enrolments") is not None
    )
    for entity in xf.ENTITIES:
        stats = result.entities[entity.name]
        if entity.name not in wanted or (paired and entity.name == "enrolments"):
            continue
        if paired and entity.name == "pupils":
            _load_pair(ctx, paired, stats, result.entities["enrolments"], make_bar)
            continue
        if entity.name == "classes":
            with transaction.atomic():
                _school_years_ensure(ctx)
        has_health = _entity_source(ctx, "health_records") is not None
        if entity.name == "health_records" and ctx.pupil_keys is not None and has_health:
            # Health records resolve pupils in SQL: hand them this run's pupil keys.
            with transaction.atomic():
                sql.stage_fill(
                    PUPIL_KEYS,
                    [Col("school_id", "bigint"), Col("pupil_code", "text"),
                     Col("person_id", "bigint")],
                    ctx.pupil_keys,
                )  # fmt: skip
        _load_entity(ctx, entity, stats, make_bar)
        if entity.name == "schools" and stats.present:
            if stats.inserted or stats.updated:
                closure_rebuild()
            _load_orgs(ctx)
    with transaction.atomic():
        for table in (PUPIL_KEYS, "ld_new_ids", *(f"ld_{n}" for n in (
            "keys", "changed", "active", "rekey", "recall",
            "schools", "staff", "classes", "teaching", "pupils", "enrolments", "results", "summaries",
            "health",
        ))):  # fmt: skip
            sql.stage_drop(table)


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
