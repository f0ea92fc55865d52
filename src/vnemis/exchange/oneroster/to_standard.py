"""Import side: turn a OneRoster 1.2 CSV bundle into exchange-standard files (format v1).

The normal import pipeline then validates and loads those files like any school's upload, so a
OneRoster import obeys the same rules (scope, code lists, natural keys, dry run, all or
nothing). This module only checks what belongs to OneRoster itself and maps it:

* bundle level (``OneRosterError``): manifest.csv missing or unreadable, manifest.version not
  1.0, oneroster.version not 1.2, a file the manifest declares but the bundle lacks, one of
  orgs/academicSessions/classes/users/enrollments absent, a header without a required column,
  with an unknown column (extensions must be named ``metadata.*``) or a column twice, a file
  without data rows;
* row level (error rows, pipeline schema, written to ``ERRORS_FILE`` in ``out_dir``; ``row`` is
  the row of the OneRoster file, header = 1, ``entity`` the OneRoster file name): required value
  missing, malformed date or school year, value outside an enumeration, duplicate sourcedId,
  reference to a sourcedId the bundle does not define. A row with an error is not converted.

Header order is not enforced on import (the binding fixes it for producers; we name columns).
Which registry fields OneRoster cannot carry, and therefore need our ``metadata.vn.*``
extension columns or are reported missing by validation, is documented in docs/oneroster.md.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from vnemis.registry import exchange_format as xf
from vnemis.registry.loaders_frames import education_ids_valid

from . import mapping as m
from .errors import OneRosterError

ERRORS_FILE = "oneroster_errors.parquet"
ROW = "_row"
ERROR_SCHEMA = {
    "row": pl.Int64,
    "entity": pl.String,
    "column": pl.String,
    "value": pl.String,
    "code": pl.String,
    "severity": pl.String,
}

# Row-level problem codes of this module → (Vietnamese, English).
MESSAGES: dict[str, tuple[str, str]] = {
    "oneroster_missing": (
        "thiếu giá trị bắt buộc theo chuẩn OneRoster",
        "a value OneRoster requires is missing",
    ),
    "oneroster_bad_date": (
        "ngày phải có dạng YYYY-MM-DD (ví dụ 2025-09-05)",
        "dates must be YYYY-MM-DD (e.g. 2025-09-05)",
    ),
    "oneroster_bad_year": (
        "schoolYear phải là năm kết thúc năm học, 4 chữ số (ví dụ 2026)",
        "schoolYear must be the school year's end year, 4 digits (e.g. 2026)",
    ),
    "oneroster_bad_enum": (
        "giá trị không thuộc danh mục của chuẩn OneRoster",
        "value is not in the OneRoster enumeration",
    ),
    "oneroster_duplicate_id": (
        "sourcedId trùng với một dòng trước trong tệp",
        "sourcedId repeats an earlier row of the file",
    ),
    "oneroster_unknown_reference": (
        "tham chiếu tới sourcedId không có trong gói dữ liệu",
        "refers to a sourcedId the bundle does not define",
    ),
    "oneroster_unsupported_grade": (
        "khối lớp không dùng được trong hệ thống (chỉ PK, KG, 01–12)",
        "grade not usable in the registry (only preschool codes and 01–12)",
    ),
    "oneroster_scheduled_class_skipped": (
        "lớp học phần (scheduled) không được nạp; chỉ nạp lớp chủ nhiệm (homeroom)",
        "scheduled classes are not loaded; only homeroom classes are",
    ),
    "oneroster_role_ignored": (
        "vai trò này không phải học sinh hay cán bộ của trường nên không được nạp",
        "this role is neither a pupil nor school staff, so it is not loaded",
    ),
    "oneroster_tobedeleted_ignored": (
        "dòng 'tobedeleted' không được áp dụng; hãy đổi trạng thái qua API đồng bộ",
        "'tobedeleted' rows are not applied; change statuses through the sync API",
    ),
}

DATE_COLUMNS = ("startDate", "endDate", "beginDate", "birthDate")
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("orgs", "type"): m.ORG_TYPES,
    ("academicSessions", "type"): m.SESSION_TYPES,
    ("classes", "classType"): m.CLASS_TYPES,
    ("enrollments", "role"): m.ENROLLMENT_ROLES,
    ("enrollments", "primary"): m.BOOLEAN,
    ("roles", "roleType"): m.ROLE_TYPES,
    ("roles", "role"): m.ROLES,
    ("users", "enabledUser"): m.BOOLEAN,
    ("demographics", "sex"): m.SEXES,
}
# (file, column) → file whose sourcedIds it must name; list columns are comma-separated.
REFERENCES: dict[tuple[str, str], str] = {
    ("orgs", "parentSourcedId"): "orgs",
    ("academicSessions", "parentSourcedId"): "academicSessions",
    ("courses", "orgSourcedId"): "orgs",
    ("courses", "schoolYearSourcedId"): "academicSessions",
    ("classes", "schoolSourcedId"): "orgs",
    ("classes", "courseSourcedId"): "courses",
    ("classes", "termSourcedIds"): "academicSessions",
    ("users", "primaryOrgSourcedId"): "orgs",
    ("demographics", "sourcedId"): "users",
    ("roles", "userSourcedId"): "users",
    ("roles", "orgSourcedId"): "orgs",
    ("enrollments", "classSourcedId"): "classes",
    ("enrollments", "userSourcedId"): "users",
    ("enrollments", "schoolSourcedId"): "orgs",
}
LIST_COLUMNS = {"termSourcedIds", "grades"}
# Dependency order: a file is checked after the files it refers to.
ORDER = (
    "orgs",
    "academicSessions",
    "courses",
    "classes",
    "users",
    "demographics",
    "roles",
    "enrollments",
)


def _bundle_root(directory: Path) -> Path | None:
    """The folder holding manifest.csv: the directory itself or its only sub-folder."""
    directory = Path(directory)
    if (directory / "manifest.csv").is_file():
        return directory
    subdirs = [p for p in directory.iterdir() if p.is_dir()] if directory.is_dir() else []
    if len(subdirs) == 1 and (subdirs[0] / "manifest.csv").is_file():
        return subdirs[0]
    return None


def _manifest(root: Path) -> dict[str, str]:
    try:
        with open(root / "manifest.csv", encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise OneRosterError(
            "oneroster_bad_manifest",
            "Không đọc được manifest.csv (cần CSV mã hoá UTF-8).",
            "manifest.csv cannot be read (it must be UTF-8 CSV).",
        ) from exc
    if not rows or [c.strip() for c in rows[0][:2]] != ["propertyName", "value"]:
        raise OneRosterError(
            "oneroster_bad_manifest",
            "Dòng tiêu đề của manifest.csv phải là 'propertyName,value'.",
            "The header of manifest.csv must be 'propertyName,value'.",
        )
    return {r[0].strip(): (r[1].strip() if len(r) > 1 else "") for r in rows[1:] if r}


def is_oneroster(directory: str | Path) -> bool:
    """Whether the directory (an unpacked upload) is a OneRoster CSV bundle."""
    root = _bundle_root(Path(directory))
    if root is None:
        return False
    try:
        return "oneroster.version" in _manifest(root)
    except OneRosterError:
        # A manifest.csv we cannot read still marks the upload as meant to be OneRoster.
        return True


@dataclass
class _Bundle:
    root: Path
    modes: dict[str, str]
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    errors: list[pl.DataFrame] = field(default_factory=list)

    def error(self, df, cond, *, file, column, code, severity="error") -> pl.DataFrame:
        """Record rows matching ``cond`` as error rows; return the rows still usable."""
        cond = cond.fill_null(False)
        bad = df.filter(cond)
        if bad.height:
            value = (
                pl.col(column).cast(pl.String).str.slice(0, 200)
                if column and column in df.columns
                else pl.lit(None, pl.String)
            )
            self.errors.append(
                bad.select(
                    pl.col(ROW).cast(pl.Int64).alias("row"),
                    pl.lit(file).alias("entity"),
                    pl.lit(column, pl.String).alias("column"),
                    value.alias("value"),
                    pl.lit(code).alias("code"),
                    pl.lit(severity).alias("severity"),
                )
            )
        return df.filter(~cond) if severity == "error" or code.endswith("_ignored") else df


def _modes(manifest: dict[str, str]) -> dict[str, str]:
    version = manifest.get("oneroster.version")
    if version != m.ONEROSTER_VERSION:
        raise OneRosterError(
            "oneroster_unsupported_version",
            f"Chỉ hỗ trợ OneRoster 1.2; manifest.csv ghi oneroster.version = '{version or ''}'.",
            f"Only OneRoster 1.2 is supported; manifest.csv says oneroster.version = "
            f"'{version or ''}'.",
        )
    if manifest.get("manifest.version") != m.MANIFEST_VERSION:
        raise OneRosterError(
            "oneroster_bad_manifest",
            "manifest.csv phải có manifest.version = 1.0.",
            "manifest.csv must have manifest.version = 1.0.",
        )
    modes = {}
    for name in m.MANIFEST_FILES:
        mode = manifest.get(f"file.{name}", "absent") or "absent"
        if mode not in m.FILE_MODES:
            raise OneRosterError(
                "oneroster_bad_manifest",
                f"file.{name} = '{mode}' không hợp lệ (chỉ absent, bulk, delta).",
                f"file.{name} = '{mode}' is invalid (absent, bulk or delta only).",
            )
        modes[name] = mode
    missing = [n for n in m.IMPORT_NEEDS if modes[n] == "absent"]
    if missing:
        names = ", ".join(f"{n}.csv" for n in missing)
        raise OneRosterError(
            "oneroster_file_required",
            f"Gói dữ liệu cần có {names} để nạp được lớp và học sinh.",
            f"The bundle needs {names} to load classes and pupils.",
        )
    return modes


def _read(bundle: _Bundle, name: str) -> pl.DataFrame:
    path = bundle.root / f"{name}.csv"
    if not path.is_file():
        raise OneRosterError(
            "oneroster_file_missing",
            f"manifest.csv khai báo {name}.csv nhưng gói dữ liệu không có tệp này.",
            f"manifest.csv declares {name}.csv but the bundle does not contain it.",
        )
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f), [])
        df = pl.read_csv(path, infer_schema=False, encoding="utf8", truncate_ragged_lines=False)
    except (UnicodeDecodeError, pl.exceptions.ComputeError) as exc:
        raise OneRosterError(
            "oneroster_bad_file",
            f"Không đọc được {name}.csv: cần CSV mã hoá UTF-8, mỗi dòng đủ số cột.",
            f"{name}.csv cannot be read: it must be UTF-8 CSV with every row complete.",
        ) from exc
    header = [h.strip() for h in header]
    defined = m.HEADERS[name]
    problems = []
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        problems.append(("cột lặp lại", "repeated columns", twice))
    missing = [c for c in m.REQUIRED[name] if c not in header]
    if missing:
        problems.append(("thiếu cột bắt buộc", "missing required columns", missing))
    unknown = [h for h in header if h not in defined and not h.startswith("metadata.")]
    if unknown:
        problems.append(("cột không có trong chuẩn", "columns not in the standard", unknown))
    if problems:
        vi = "; ".join(f"{v}: {', '.join(cols)}" for v, _, cols in problems)
        en = "; ".join(f"{e}: {', '.join(cols)}" for _, e, cols in problems)
        raise OneRosterError(
            "oneroster_bad_header",
            f"Dòng tiêu đề của {name}.csv sai ({vi}).",
            f"The header of {name}.csv is wrong ({en}).",
        )
    if df.height == 0:
        raise OneRosterError(
            "oneroster_empty_file",
            f"{name}.csv không có dòng dữ liệu nào (chuẩn không cho phép tệp rỗng; hãy ghi "
            f"file.{name} = absent trong manifest.csv).",
            f"{name}.csv has no data rows (the standard forbids empty files; declare "
            f"file.{name} = absent in manifest.csv).",
        )
    df = df.rename({c: c.strip() for c in df.columns})
    # Trim, blanks to nulls, and undo the ' our exports put before = + - @ (formula guard).
    df = df.with_columns(
        pl.col(c).str.strip_chars().str.replace(r"^'([=+\-@])", "$1").replace("", None)
        for c in df.columns
    )
    df = df.with_columns(pl.lit(None, pl.String).alias(c) for c in defined if c not in df.columns)
    return df.with_row_index(ROW, offset=2)


def _check(bundle: _Bundle, name: str, df: pl.DataFrame) -> pl.DataFrame:
    """Vectorised row checks of one file; returns its usable rows."""
    for col in m.REQUIRED[name]:
        df = bundle.error(
            df, pl.col(col).is_null(), file=name, column=col, code="oneroster_missing"
        )
    df = bundle.error(
        df, pl.col("status").is_not_null() & ~pl.col("status").is_in(m.STATUS),
        file=name, column="status", code="oneroster_bad_enum",
    )  # fmt: skip
    df = bundle.error(
        df, pl.col("status") == "tobedeleted",
        file=name, column="status", code="oneroster_tobedeleted_ignored", severity="warning",
    )  # fmt: skip
    df = bundle.error(
        df, pl.col("sourcedId").is_duplicated() & (pl.col(ROW) != pl.col(ROW).min().over("sourcedId")),
        file=name, column="sourcedId", code="oneroster_duplicate_id",
    )  # fmt: skip
    for col in DATE_COLUMNS:
        if col in df.columns:
            parsed = pl.col(col).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
            bad = pl.col(col).is_not_null() & (
                ~pl.col(col).str.contains(r"^\d{4}-\d{2}-\d{2}$") | parsed.is_null()
            )
            df = bundle.error(df, bad, file=name, column=col, code="oneroster_bad_date")
    if name == "academicSessions":
        df = bundle.error(
            df, ~pl.col("schoolYear").str.contains(r"^\d{4}$"),
            file=name, column="schoolYear", code="oneroster_bad_year",
        )  # fmt: skip
    for (file, col), allowed in ENUMS.items():
        if file != name:
            continue
        value = pl.col(col).str.to_lowercase() if allowed is m.BOOLEAN else pl.col(col)
        df = df.with_columns(value.alias(col))
        bad = pl.col(col).is_not_null() & ~pl.col(col).is_in(allowed)
        if file in ("orgs", "academicSessions", "roles"):
            bad = bad & ~pl.col(col).str.starts_with("ext:")  # the binding's extension prefix
        df = bundle.error(df, bad, file=name, column=col, code="oneroster_bad_enum")
    if "grades" in df.columns:
        items = pl.col("grades").str.split(",").list.eval(pl.element().str.strip_chars())
        bad = items.list.eval(~pl.element().is_in(m.CEDS_GRADES)).list.any()
        df = bundle.error(df, bad, file=name, column="grades", code="oneroster_bad_enum")
    for (file, col), target in REFERENCES.items():
        if file != name or target not in bundle.frames:
            continue
        known = bundle.frames[target]["sourcedId"]
        if col in LIST_COLUMNS:
            items = pl.col(col).str.split(",").list.eval(pl.element().str.strip_chars())
            bad = items.list.eval(~pl.element().is_in(known.implode())).list.any()
        else:
            bad = pl.col(col).is_not_null() & ~pl.col(col).is_in(known.implode())
        df = bundle.error(df, bad, file=name, column=col, code="oneroster_unknown_reference")
    return df


def oneroster_read(src_dir: str | Path) -> _Bundle:
    """Open and check a bundle: manifest, files, headers, then every row (vectorised)."""
    root = _bundle_root(Path(src_dir))
    if root is None:
        raise OneRosterError(
            "oneroster_manifest_missing",
            "Gói OneRoster phải có tệp manifest.csv ở thư mục gốc.",
            "A OneRoster bundle must contain manifest.csv at its top level.",
        )
    bundle = _Bundle(root=root, modes=_modes(_manifest(root)))
    for name in ORDER:
        if bundle.modes.get(name, "absent") == "absent":
            continue
        bundle.frames[name] = _check(bundle, name, _read(bundle, name))
    return bundle


def _first_grade(col: pl.Expr) -> pl.Expr:
    return col.str.split(",").list.first().str.strip_chars()


def _school_codes(bundle: _Bundle, school_code: str | None) -> pl.DataFrame:
    """sourcedId → our organisation code: identifier, else sourcedId (or the --school given)."""
    orgs = bundle.frames["orgs"].select(
        "sourcedId", pl.coalesce("identifier", "sourcedId").alias("code"), "type"
    )
    if school_code:
        schools = orgs.filter(pl.col("type") == "school")
        if schools.height != 1:
            raise OneRosterError(
                "oneroster_several_schools",
                f"Gói dữ liệu có {schools.height} trường; chỉ dùng --school khi gói có đúng "
                "một trường.",
                f"The bundle has {schools.height} schools; --school needs exactly one.",
            )
        orgs = orgs.with_columns(
            pl.when(pl.col("type") == "school")
            .then(pl.lit(school_code))
            .otherwise(pl.col("code"))
            .alias("code")
        )
    return orgs.select("sourcedId", "code")


def _ext(df: pl.DataFrame, column: str) -> pl.Expr:
    return pl.col(column) if column in df.columns else pl.lit(None, pl.String)


def _classes(bundle: _Bundle, orgs: pl.DataFrame) -> pl.DataFrame:
    classes = bundle.frames["classes"]
    classes = bundle.error(
        classes, pl.col("classType") == "scheduled", file="classes", column="classType",
        code="oneroster_scheduled_class_skipped", severity="warning",
    )  # fmt: skip
    classes = classes.filter(pl.col("classType") == "homeroom")
    sessions = bundle.frames["academicSessions"].select(
        pl.col("sourcedId").alias("_term"),
        (
            (pl.col("schoolYear").cast(pl.Int64) - 1).cast(pl.String) + "-" + pl.col("schoolYear")
        ).alias("school_year"),
        pl.col("startDate").alias("_year_start"),
    )
    courses = (
        bundle.frames["courses"].select(
            pl.col("sourcedId").alias("courseSourcedId"), pl.col("grades").alias("_course_grades")
        )
        if "courses" in bundle.frames
        else pl.DataFrame(schema={"courseSourcedId": pl.String, "_course_grades": pl.String})
    )
    df = (
        classes.with_columns(_first_grade(pl.col("termSourcedIds")).alias("_term"))
        .join(sessions, on="_term", how="left")
        .join(orgs.rename({"sourcedId": "schoolSourcedId", "code": "school_code"}),
              on="schoolSourcedId", how="left")
        .join(courses, on="courseSourcedId", how="left")
    )  # fmt: skip
    grades = pl.coalesce("grades", "_course_grades")
    df = df.with_columns(
        _first_grade(grades).alias("_ceds"),
        (grades.str.split(",").list.len() > 1).alias("_combined"),
    )
    df = bundle.error(
        df, pl.col("_ceds").is_not_null() & ~pl.col("_ceds").is_in(list(m.GRADE_OF_CEDS)),
        file="classes", column="grades", code="oneroster_unsupported_grade",
    )  # fmt: skip
    return df.with_columns(
        pl.coalesce("classCode", "title").alias("class_name"),
        pl.col("_ceds")
        .replace_strict(m.GRADE_OF_CEDS, default=None, return_dtype=pl.Int64)
        .cast(pl.String)
        .alias("grade"),
        pl.when(pl.col("_combined")).then(pl.lit("true")).otherwise(pl.lit("false"))
        .alias("combined_grades"),
        _ext(df, "metadata.vn.twoSessions").str.to_lowercase().alias("two_sessions"),
    )  # fmt: skip


def _people(bundle: _Bundle, orgs: pl.DataFrame) -> pl.DataFrame:
    """One row per (user, school, kind): kind 'pupil' or a staff role of ours."""
    if "roles" in bundle.frames:
        roles = bundle.frames["roles"]
        usable = pl.col("role").is_in(["student", *m.STAFF_OF_ROLE])
        roles = bundle.error(
            roles, ~usable, file="roles", column="role", code="oneroster_role_ignored",
            severity="warning",
        )  # fmt: skip
        people = roles.filter(usable).select(
            pl.col("userSourcedId").alias("_user"),
            pl.col("orgSourcedId").alias("_org"),
            pl.col("role")
            .replace_strict({"student": "pupil", **m.STAFF_OF_ROLE}, return_dtype=pl.String)
            .alias("_kind"),
            pl.col("beginDate").alias("starts_on"),
            _ext(roles, "metadata.vn.subjects").alias("subjects"),
            _ext(roles, "metadata.vn.qualification").alias("qualification"),
            _ext(roles, "metadata.vn.contractType").alias("contract_type"),
        )
    else:
        enr = bundle.frames["enrollments"]
        usable = pl.col("role").is_in(["student", *m.STAFF_OF_ENROLLMENT_ROLE])
        enr = bundle.error(
            enr, ~usable, file="enrollments", column="role", code="oneroster_role_ignored",
            severity="warning",
        )  # fmt: skip
        people = enr.filter(usable).select(
            pl.col("userSourcedId").alias("_user"),
            pl.col("schoolSourcedId").alias("_org"),
            pl.col("role")
            .replace_strict(
                {"student": "pupil", **m.STAFF_OF_ENROLLMENT_ROLE}, return_dtype=pl.String
            )
            .alias("_kind"),
            pl.lit(None, pl.String).alias("starts_on"),
            pl.lit(None, pl.String).alias("subjects"),
            pl.lit(None, pl.String).alias("qualification"),
            pl.lit(None, pl.String).alias("contract_type"),
        )
    people = people.unique(["_user", "_org", "_kind"], keep="first", maintain_order=True)
    users = bundle.frames["users"].select(
        pl.col("sourcedId").alias("_user"),
        pl.coalesce("identifier", "sourcedId").alias("_code"),
        pl.concat_str(
            ["familyName", "middleName", "givenName"], separator=" ", ignore_nulls=True
        ).alias("full_name"),
        "sourcedId",
        "userMasterIdentifier",
    )
    users = users.with_columns(
        pl.Series("_sid_ok", education_ids_valid(users["sourcedId"])),
        pl.Series("_umi_ok", education_ids_valid(users["userMasterIdentifier"])),
    ).with_columns(
        pl.when(pl.col("_sid_ok"))
        .then(pl.col("sourcedId"))
        .when(pl.col("_umi_ok"))
        .then(pl.col("userMasterIdentifier"))
        .alias("education_id")
    )
    demo = bundle.frames.get("demographics")
    if demo is None:
        demo = pl.DataFrame(
            schema={"sourcedId": pl.String, "birthDate": pl.String, "sex": pl.String}
        )
    demographics = demo.select(
        pl.col("sourcedId").alias("_user"),
        pl.col("birthDate").alias("birth_date"),
        pl.col("sex").replace_strict(m.CODE_OF_SEX, default=None, return_dtype=pl.String).alias("sex"),
        _ext(demo, "metadata.vn.ethnicityCode").alias("ethnicity_code"),
        _ext(demo, "metadata.vn.nationality").alias("nationality"),
        _ext(demo, "metadata.vn.birthProvinceCode").alias("birth_province_code"),
        _ext(demo, "metadata.vn.permanentCommuneCode").alias("permanent_commune_code"),
        _ext(demo, "metadata.vn.policyCategories").alias("policy_categories"),
        _ext(demo, "metadata.vn.disability").alias("disability"),
    )  # fmt: skip
    return (
        people.join(users, on="_user", how="inner")
        .join(demographics, on="_user", how="left")
        .join(orgs.rename({"sourcedId": "_org", "code": "school_code"}), on="_org", how="left")
    )


def _standard(entity: str, df: pl.DataFrame) -> pl.DataFrame:
    """The frame with exactly the standard entity's columns (missing ones empty)."""
    columns = xf.BY_NAME[entity].column_names
    return df.with_columns(
        pl.lit(None, pl.String).alias(c) for c in columns if c not in df.columns
    ).select(pl.col(c).cast(pl.String) for c in columns)


def oneroster_to_standard(
    src_dir: str | Path, out_dir: str | Path, *, school_code: str | None = None
) -> dict[str, Path]:
    """Convert the bundle in ``src_dir`` into standard CSV files in ``out_dir``.

    Returns entity name → file for the entities the bundle yields (staff, classes, pupils,
    enrolments). Row-level problems go to ``out_dir/ERRORS_FILE`` (see ``oneroster_errors``).
    ``school_code`` maps the bundle's only school to that registry code (``--school``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle = oneroster_read(src_dir)
    orgs = _school_codes(bundle, school_code)
    classes = _classes(bundle, orgs)
    people = _people(bundle, orgs)
    users = people.select("_user", pl.col("_code"), "school_code")

    enr = bundle.frames["enrollments"]
    teachers = (
        enr.filter((pl.col("role") == "teacher") & (pl.col("primary") == "true"))
        .select(pl.col("classSourcedId").alias("sourcedId"), pl.col("userSourcedId").alias("_user"))
        .join(users.unique("_user", keep="first"), on="_user", how="inner")
        .unique("sourcedId", keep="first", maintain_order=True)
        .select("sourcedId", pl.col("_code").alias("homeroom_staff_code"))
    )
    classes = classes.join(teachers, on="sourcedId", how="left")

    pupils = people.filter(pl.col("_kind") == "pupil").rename({"_code": "pupil_code"})
    pupils = pupils.unique(["school_code", "pupil_code"], keep="first", maintain_order=True)
    staff = (
        people.filter(pl.col("_kind") != "pupil")
        .rename({"_code": "staff_code"})
        .with_columns(pl.col("_kind").alias("role"))
        .unique(["school_code", "staff_code"], keep="first", maintain_order=True)
    )
    pupil_codes = (
        people.filter(pl.col("_kind") == "pupil")
        .select("_user", pl.col("_code").alias("pupil_code"))
        .unique("_user", keep="first")
    )
    enrolments = (
        enr.filter(pl.col("role") == "student")
        .join(
            classes.select(pl.col("sourcedId").alias("classSourcedId"), "school_code",
                           "school_year", "class_name", "_year_start"),
            on="classSourcedId", how="inner",
        )
        .join(pupil_codes.rename({"_user": "userSourcedId"}), on="userSourcedId", how="inner")
        .with_columns(
            pl.coalesce(_ext(enr, "metadata.vn.enrolmentStatus"), pl.lit("studying")).alias("status"),
            pl.coalesce("beginDate", "_year_start").alias("started_on"),
            pl.col("endDate").alias("ended_on"),
        )
    )  # fmt: skip

    frames = {
        "staff": _standard("staff", staff),
        "classes": _standard("classes", classes),
        "pupils": _standard("pupils", pupils),
        "enrolments": _standard("enrolments", enrolments),
    }
    files: dict[str, Path] = {}
    for name, df in frames.items():
        if df.height:
            path = out_dir / f"{name}.csv"
            df.write_csv(path)
            files[name] = path
    errors = (
        pl.concat(bundle.errors, how="vertical_relaxed").cast(ERROR_SCHEMA)
        if bundle.errors
        else pl.DataFrame(schema=ERROR_SCHEMA)
    )
    errors.write_parquet(out_dir / ERRORS_FILE)
    return files


def oneroster_errors(out_dir: str | Path) -> pl.DataFrame:
    """The row-level problems the last conversion into ``out_dir`` found (pipeline schema)."""
    path = Path(out_dir) / ERRORS_FILE
    return pl.read_parquet(path) if path.exists() else pl.DataFrame(schema=ERROR_SCHEMA)


def message(code: str) -> tuple[str, str]:
    """(Vietnamese, English) text of one of this module's row problem codes."""
    return MESSAGES.get(code, (code, code))
