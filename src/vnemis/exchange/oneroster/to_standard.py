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
  the row of the OneRoster file, header = 1, ``entity`` the OneRoster file (``users.csv``) and
  ``column`` the place to fix as the user reads it, ``users.csv › givenName``): required value
  missing, malformed date or school year, value outside an enumeration, duplicate sourcedId,
  reference to a sourcedId the bundle does not define. A row with an error is not converted.

The converted rows are then completed and checked here, before they leave, so that what the
user reads names the OneRoster file, row and column (``SOURCES`` says where each standard
column comes from): a field OneRoster cannot carry and the bundle lacks keeps the value on
record (``on_record``), and is an error naming the file and column to add for a new record;
then the intake's own validation (``intake.validate.chunk_validate``) and its duplicate-key
rule run, and the rows they reject are reported at their OneRoster place and left out. The
files written are thus ones intake accepts whole. What only the engine can find (scope,
locked periods, unknown schools) is reported against the converted files; ``oneroster_locate``
restates such error rows at their OneRoster place from the ``provenance/`` files kept beside
them.

Header order is not enforced on import (the binding fixes it for producers; we name columns).
The rules per field are in docs/oneroster.md.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
from django.utils import timezone

from vnemis.exchange.intake.normalise import clean_expr
from vnemis.exchange.intake.validate import chunk_validate, duplicates_flag
from vnemis.registry import exchange_format as xf
from vnemis.registry.loaders_frames import education_ids_valid

from . import mapping as m
from . import on_record as rec
from .errors import OneRosterError
from .names import full_name

ERRORS_FILE = "oneroster_errors.parquet"
# Beside the converted files: where each of their rows comes from (one Parquet file per entity,
# in a folder of its own: the import job takes every *.parquet of out_dir for an error file).
PROVENANCE_DIR = "provenance"
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
    "oneroster_needed_for_new": (
        "học sinh, cán bộ hoặc lớp chưa có trong hệ thống cần giá trị này; hãy thêm giá trị ở cột",
        "a pupil, staff member or class not yet in the registry needs this value; add it in column",
    ),
    "oneroster_demographics_needed": (
        "người chưa có trong hệ thống cần một dòng trong demographics.csv (birthDate, sex, "
        "metadata.vn.ethnicityCode, metadata.vn.nationality)",
        "a person not yet in the registry needs a row in demographics.csv (birthDate, sex, "
        "metadata.vn.ethnicityCode, metadata.vn.nationality)",
    ),
    "oneroster_roles_needed": (
        "cán bộ chưa có trong hệ thống cần một dòng trong roles.csv (beginDate, "
        "metadata.vn.qualification, metadata.vn.contractType)",
        "a staff member not yet in the registry needs a row in roles.csv (beginDate, "
        "metadata.vn.qualification, metadata.vn.contractType)",
    ),
    "oneroster_user_not_loaded": (
        "học sinh của dòng ghi danh này không được nạp (xem lỗi của người này ở users.csv, "
        "demographics.csv hoặc roles.csv) nên dòng này cũng không được nạp",
        "the pupil of this enrollment was not loaded (see that user's errors in users.csv, "
        "demographics.csv or roles.csv), so neither is the enrollment",
    ),
    "oneroster_class_not_loaded": (
        "lớp của dòng ghi danh này không được nạp (xem lỗi của lớp ở classes.csv) nên dòng "
        "này cũng không được nạp",
        "the class of this enrollment was not loaded (see its errors in classes.csv), so "
        "neither is the enrollment",
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
                    pl.lit(f"{file}.csv").alias("entity"),
                    pl.lit(m.where(file, column), pl.String).alias("column"),
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


# -- conversion ----------------------------------------------------------------------------------

VALIDATE_ROWS = 50_000  # rows per call of the intake's validation (bounded memory)


@dataclass(frozen=True)
class Loc:
    """Where a standard column's value comes from: the provenance column holding the row number,
    the OneRoster file and its column. ``missing`` is the code of a missing value when this is
    the fallback place because the file has no row at all for the record (e.g. no demographics
    row); such a problem is then reported once, at the user's row."""

    row: str
    file: str
    column: str | None
    missing: str | None = None


_ROLE_ORG = (
    Loc("_r_roles", "roles", "orgSourcedId"),
    Loc("_r_role_enr", "enrollments", "schoolSourcedId"),
)
_CODE = (
    Loc("_r_role_code", "roles", "metadata.vn.identifier"),
    Loc("_r_users_identifier", "users", "identifier"),
    Loc("_r_users", "users", "sourcedId"),
)
_USER = (Loc("_r_users", "users", "sourcedId"),)
_NAME = (Loc("_r_users", "users", "familyName, middleName, givenName"),)


def _demo(column: str) -> tuple[Loc, ...]:
    return (
        Loc("_r_demographics", "demographics", column),
        Loc("_r_users", "users", "sourcedId", "oneroster_demographics_needed"),
    )


def _post(column: str) -> tuple[Loc, ...]:
    return (
        Loc("_r_roles", "roles", column),
        Loc("_r_users", "users", "sourcedId", "oneroster_roles_needed"),
    )


_GRADES = (
    Loc("_r_class_grades", "classes", "grades"),
    Loc("_r_course_grades", "courses", "grades"),
    Loc("_r_classes", "classes", "grades"),
)
_ENR = "_r_enrollments"

# Standard entity → column → where its value comes from in the bundle (first place with a row).
SOURCES: dict[str, dict[str, tuple[Loc, ...]]] = {
    "staff": {
        "school_code": _ROLE_ORG,
        "staff_code": _CODE,
        "education_id": _USER,
        "full_name": _NAME,
        "birth_date": _demo("birthDate"),
        "sex": _demo("sex"),
        "ethnicity_code": _demo("metadata.vn.ethnicityCode"),
        "role": (Loc("_r_roles", "roles", "role"), Loc("_r_role_enr", "enrollments", "role")),
        "subjects": _post("metadata.vn.subjects"),
        "qualification": _post("metadata.vn.qualification"),
        "contract_type": _post("metadata.vn.contractType"),
        "starts_on": _post("beginDate"),
    },
    "classes": {
        "school_code": (Loc("_r_classes", "classes", "schoolSourcedId"),),
        "school_year": (Loc("_r_classes", "classes", "termSourcedIds"),),
        "class_name": (
            Loc("_r_class_code", "classes", "classCode"),
            Loc("_r_classes", "classes", "title"),
        ),
        "grade": _GRADES,
        "combined_grades": (
            Loc("_r_class_combined", "classes", "metadata.vn.combinedGrades"),
            *_GRADES,
        ),
        "homeroom_staff_code": (
            Loc("_r_teacher", "enrollments", "userSourcedId"),
            Loc("_r_classes", "classes", "sourcedId"),
        ),
        "two_sessions": (Loc("_r_classes", "classes", "metadata.vn.twoSessions"),),
    },
    "pupils": {
        "school_code": _ROLE_ORG,
        "pupil_code": _CODE,
        "education_id": _USER,
        "full_name": _NAME,
        "birth_date": _demo("birthDate"),
        "sex": _demo("sex"),
        "ethnicity_code": _demo("metadata.vn.ethnicityCode"),
        "nationality": _demo("metadata.vn.nationality"),
        "birth_province_code": _demo("metadata.vn.birthProvinceCode"),
        "permanent_commune_code": _demo("metadata.vn.permanentCommuneCode"),
        "policy_categories": _demo("metadata.vn.policyCategories"),
        "disability": _demo("metadata.vn.disability"),
    },
    "enrolments": {
        "school_code": (Loc(_ENR, "enrollments", "schoolSourcedId"),),
        "school_year": (Loc(_ENR, "enrollments", "classSourcedId"),),
        "pupil_code": (
            Loc("_r_enr_code", "enrollments", "metadata.vn.identifier"),
            Loc(_ENR, "enrollments", "userSourcedId"),
        ),
        "class_name": (Loc(_ENR, "enrollments", "classSourcedId"),),
        "status": (Loc(_ENR, "enrollments", "metadata.vn.enrolmentStatus"),),
        "started_on": (Loc(_ENR, "enrollments", "beginDate"),),
        "ended_on": (Loc(_ENR, "enrollments", "endDate"),),
    },
}
# A problem of the whole row is reported at the record's own row.
MAIN = {
    "staff": Loc("_r_users", "users", None),
    "classes": Loc("_r_classes", "classes", None),
    "pupils": Loc("_r_users", "users", None),
    "enrolments": Loc(_ENR, "enrollments", None),
}
# Required by our standard, possibly absent from a bundle: a record on file keeps its value.
KEEP = {
    "staff": ("birth_date", "sex", "ethnicity_code", "qualification", "contract_type", "starts_on"),
    "classes": ("grade", "two_sessions", "combined_grades", "homeroom_staff_code"),
    "pupils": ("birth_date", "sex", "ethnicity_code", "nationality"),
    "enrolments": ("status", "started_on", "ended_on"),
}
# Optional: kept from the record only when the bundle has no such column for the row (a column
# it has, left empty, means "none").
KEEP_IF_ABSENT = {
    "staff": ("subjects",),
    "pupils": ("birth_province_code", "permanent_commune_code", "policy_categories", "disability"),
}
# Whether a missing value belongs to a new record: the post and the person of a staff row are
# on record separately.
PERSON_FLAG = "_person_on_record"
NEW_FLAG = {
    "staff": dict.fromkeys(
        ("education_id", "full_name", "birth_date", "sex", "ethnicity_code"), PERSON_FLAG
    )
}
ON_RECORD = {
    "staff": rec.staff_on_record,
    "classes": rec.classes_on_record,
    "pupils": rec.pupils_on_record,
    "enrolments": rec.enrolments_on_record,
}
KEY_COLUMNS = {
    "staff": ("school_code", "staff_code", "education_id"),
    "classes": ("school_code", "school_year", "class_name"),
    "pupils": ("school_code", "pupil_code", "education_id"),
    "enrolments": ("school_code", "school_year", "pupil_code"),
}


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
        # The school's own software may name it by its own ids: mapped to the importing
        # school. A bundle that names another registry school is that school's data: refused
        # whole (a school sends only its own pupils).
        named = schools.select(clean_expr(pl.col("code"))).item()
        if named != school_code and rec.school_code_exists(named):
            raise OneRosterError(
                "oneroster_other_school",
                f"Gói dữ liệu là của trường {named}, không phải của trường {school_code}; trường "
                "chỉ được nhập dữ liệu của chính mình.",
                f"The bundle belongs to school {named}, not to school {school_code}; a school may "
                "only import its own data.",
                status=403,
            )
        orgs = orgs.with_columns(
            pl.when(pl.col("type") == "school")
            .then(pl.lit(school_code))
            .otherwise(pl.col("code"))
            .alias("code")
        )
    return orgs.select("sourcedId", clean_expr(pl.col("code")).alias("code"))


def _ext(df: pl.DataFrame, column: str) -> pl.Expr:
    return pl.col(column) if column in df.columns else pl.lit(None, pl.String)


def _when_row(cond: pl.Expr, row: str = ROW) -> pl.Expr:
    return pl.when(cond).then(pl.col(row)).otherwise(None)


def _classes(bundle: _Bundle, orgs: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """(homeroom classes as standard rows with their provenance, every homeroom sourcedId)."""
    classes = bundle.frames["classes"]
    classes = bundle.error(
        classes, pl.col("classType") == "scheduled", file="classes", column="classType",
        code="oneroster_scheduled_class_skipped", severity="warning",
    )  # fmt: skip
    classes = classes.filter(pl.col("classType") == "homeroom")
    homeroom = classes["sourcedId"]
    sessions = bundle.frames["academicSessions"].select(
        pl.col("sourcedId").alias("_term"),
        (
            (pl.col("schoolYear").cast(pl.Int64) - 1).cast(pl.String) + "-" + pl.col("schoolYear")
        ).alias("school_year"),
        pl.col("startDate").alias("_year_start"),
    )
    courses = (
        bundle.frames["courses"].select(
            pl.col("sourcedId").alias("courseSourcedId"),
            pl.col("grades").alias("_course_grades"),
            pl.col(ROW).alias("_r_courses"),
        )
        if "courses" in bundle.frames
        else pl.DataFrame(
            schema={
                "courseSourcedId": pl.String,
                "_course_grades": pl.String,
                "_r_courses": pl.UInt32,
            }
        )
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
    df = df.select(
        pl.col("sourcedId").alias("_class"),
        "schoolSourcedId",
        "_year_start",
        "school_code",
        "school_year",
        clean_expr(pl.coalesce("classCode", "title")).alias("class_name"),
        pl.col("_ceds")
        .replace_strict(m.GRADE_OF_CEDS, default=None, return_dtype=pl.Int64)
        .cast(pl.String)
        .alias("grade"),
        # Several grades say "combined"; one grade alone says nothing (a combined class of ours
        # records one grade, hence metadata.vn.combinedGrades).
        pl.coalesce(
            _ext(df, "metadata.vn.combinedGrades"),
            pl.when(pl.col("_combined")).then(pl.lit("true")),
        ).alias("combined_grades"),
        _ext(df, "metadata.vn.twoSessions").alias("two_sessions"),
        pl.col(ROW).alias("_r_classes"),
        _when_row(pl.col("classCode").is_not_null()).alias("_r_class_code"),
        _when_row(_ext(df, "metadata.vn.combinedGrades").is_not_null()).alias("_r_class_combined"),
        _when_row(pl.col("grades").is_not_null()).alias("_r_class_grades"),
        pl.when(pl.col("grades").is_null()).then(pl.col("_r_courses")).alias("_r_course_grades"),
    )  # fmt: skip
    return df, homeroom


def _people(bundle: _Bundle, orgs: pl.DataFrame) -> pl.DataFrame:
    """One row per (user, school, kind): kind 'pupil' or a staff role of ours, with the person's
    standard fields and where each comes from."""
    none = pl.lit(None, pl.String)
    if "roles" in bundle.frames:
        roles = bundle.frames["roles"]
        usable = pl.col("role").is_in(["student", *m.STAFF_OF_ROLE])
        roles = bundle.error(
            roles, ~usable, file="roles", column="role", code="oneroster_role_ignored",
            severity="warning",
        )  # fmt: skip
        code = clean_expr(_ext(roles, "metadata.vn.identifier"))
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
            code.alias("_role_code"),
            pl.col(ROW).alias("_r_roles"),
            pl.lit(None, pl.UInt32).alias("_r_role_enr"),
            _when_row(code.is_not_null()).alias("_r_role_code"),
            pl.lit("metadata.vn.subjects" in roles.columns).alias("_has_subjects"),
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
            none.alias("starts_on"),
            none.alias("subjects"),
            none.alias("qualification"),
            none.alias("contract_type"),
            none.alias("_role_code"),
            pl.lit(None, pl.UInt32).alias("_r_roles"),
            pl.col(ROW).alias("_r_role_enr"),
            pl.lit(None, pl.UInt32).alias("_r_role_code"),
            pl.lit(False).alias("_has_subjects"),
        )
    people = people.unique(["_user", "_org", "_kind"], keep="first", maintain_order=True)
    people = people.with_columns(pl.col("_has_subjects") & pl.col("_r_roles").is_not_null())
    users = bundle.frames["users"]
    users = users.select(
        pl.col("sourcedId").alias("_user"),
        clean_expr(pl.coalesce("identifier", "sourcedId")).alias("_user_code"),
        full_name(
            pl.col("familyName"), pl.col("middleName"), pl.col("givenName"),
            _ext(users, "metadata.vn.fullName"),
        ).alias("full_name"),
        "sourcedId",
        "userMasterIdentifier",
        pl.col("primaryOrgSourcedId").alias("_primary_org"),
        pl.col(ROW).alias("_r_users"),
        _when_row(pl.col("identifier").is_not_null()).alias("_r_users_identifier"),
    )  # fmt: skip
    users = (
        users.with_columns(
            pl.Series("_sid_ok", education_ids_valid(users["sourcedId"])),
            pl.Series("_umi_ok", education_ids_valid(users["userMasterIdentifier"])),
        )
        .with_columns(
            pl.when(pl.col("_sid_ok"))
            .then(pl.col("sourcedId"))
            .when(pl.col("_umi_ok"))
            .then(pl.col("userMasterIdentifier"))
            .alias("education_id")
        )
        .drop("sourcedId", "userMasterIdentifier", "_sid_ok", "_umi_ok")
    )
    demo = bundle.frames.get("demographics")
    if demo is None:
        demo = pl.DataFrame(
            schema={"sourcedId": pl.String, "birthDate": pl.String, "sex": pl.String,
                    ROW: pl.UInt32}
        )  # fmt: skip
    ext_of = {
        "ethnicity_code": "metadata.vn.ethnicityCode",
        "nationality": "metadata.vn.nationality",
        "birth_province_code": "metadata.vn.birthProvinceCode",
        "permanent_commune_code": "metadata.vn.permanentCommuneCode",
        "policy_categories": "metadata.vn.policyCategories",
        "disability": "metadata.vn.disability",
    }
    demographics = demo.select(
        pl.col("sourcedId").alias("_user"),
        pl.col("birthDate").alias("birth_date"),
        pl.col("sex").replace_strict(m.CODE_OF_SEX, default=None, return_dtype=pl.String).alias("sex"),
        *(_ext(demo, ext).alias(col) for col, ext in ext_of.items()),
        pl.col(ROW).alias("_r_demographics"),
    )  # fmt: skip
    has_demo = pl.col("_r_demographics").is_not_null()
    return (
        people.join(users, on="_user", how="inner")
        .join(demographics, on="_user", how="left")
        .join(orgs.rename({"sourcedId": "_org", "code": "school_code"}), on="_org", how="left")
        .with_columns(
            pl.coalesce("_role_code", "_user_code").alias("_code"),
            *(
                (pl.lit(ext in demo.columns) & has_demo).alias(f"_has_{col}")
                for col, ext in ext_of.items()
            ),
        )
    )


def _standard(entity: str, df: pl.DataFrame) -> pl.DataFrame:
    """The frame with exactly the standard entity's columns (missing ones empty)."""
    columns = xf.BY_NAME[entity].column_names
    return df.with_columns(
        pl.lit(None, pl.String).alias(c) for c in columns if c not in df.columns
    ).select(pl.col(c).cast(pl.String) for c in columns)


def _indexed(df: pl.DataFrame, entity: str) -> pl.DataFrame:
    """Standard columns (text) beside the provenance, and ``_i``, the row's number here."""
    columns = xf.BY_NAME[entity].column_names
    df = df.with_columns(
        pl.lit(None, pl.String).alias(c) for c in columns if c not in df.columns
    ).with_columns(pl.col(c).cast(pl.String) for c in columns)
    return df.with_row_index("_i").with_columns(pl.col("_i").cast(pl.Int64))


def _locate(entity: str, errors: pl.DataFrame, prov: pl.DataFrame, *, key: str) -> pl.DataFrame:
    """Error rows of standard ``entity`` rows (``row`` = the ``key`` of ``prov``) restated at
    their OneRoster place: file, row, ``file › column``; a missing value of a new record gets
    the code that says which OneRoster file and column to add."""
    if not errors.height:
        return pl.DataFrame(schema=ERROR_SCHEMA)
    flags = [c for c in (rec.FOUND, PERSON_FLAG) if c in prov.columns]
    rows = [c for c in prov.columns if c.startswith("_r_")]
    joined = errors.join(
        prov.select(pl.col(key).cast(pl.Int64), *rows, *flags),
        left_on="row", right_on=key, how="left",
    )  # fmt: skip
    out = []
    for (column,), part in joined.group_by("column", maintain_order=True):
        main = MAIN[entity]
        locs = SOURCES[entity].get(column) if column else None
        locs = locs or (Loc(main.row, main.file, None),)
        chain_file = chain_col = chain_missing = None
        for loc in locs:
            has = pl.col(loc.row).is_not_null() if loc.row in part.columns else pl.lit(False)
            f, c = pl.lit(f"{loc.file}.csv"), pl.lit(m.where(loc.file, loc.column))
            x = pl.lit(loc.missing, pl.String)
            if chain_file is None:
                chain_file, chain_col, chain_missing = (pl.when(has).then(v) for v in (f, c, x))
            else:
                chain_file = chain_file.when(has).then(f)
                chain_col = chain_col.when(has).then(c)
                chain_missing = chain_missing.when(has).then(x)
        last = locs[-1]
        file = chain_file.otherwise(pl.lit(f"{last.file}.csv"))
        where = chain_col.otherwise(pl.lit(m.where(last.file, last.column)))
        missing = chain_missing.otherwise(pl.lit(last.missing, pl.String))
        row = pl.coalesce([pl.col(loc.row) for loc in locs if loc.row in part.columns] or
                          [pl.lit(None, pl.Int64)])  # fmt: skip
        flag = NEW_FLAG.get(entity, {}).get(column, rec.FOUND)
        new = ~pl.col(flag).fill_null(False) if flag in part.columns else pl.lit(False)
        is_missing = pl.col("code") == "missing"
        code = (
            pl.when(is_missing & new & missing.is_not_null())
            .then(missing)
            .when(is_missing & new)
            .then(pl.lit("oneroster_needed_for_new"))
            .otherwise(pl.col("code"))
        )
        out.append(
            part.select(
                row.cast(pl.Int64).alias("row"),
                file.alias("entity"),
                where.alias("column"),
                pl.col("value"),
                code.alias("code"),
                pl.col("severity"),
            )
        )
    located = pl.concat(out, how="vertical_relaxed").cast(ERROR_SCHEMA)
    return located.unique(["row", "entity", "column", "code"], keep="first", maintain_order=True)


def _one_row_per_person(entity: str, df: pl.DataFrame) -> pl.DataFrame:
    """Fewer rows for a person with several (a pupil at two schools in the year, a teacher with
    posts at two): the engine takes a person once per chunk and rejects the others
    (``duplicate_person``), so rows that would change nothing are not sent.

    A pupil's person fields come from the user's one users.csv and demographics.csv rows, so
    every row of the person says the same: the one at the user's primaryOrgSourcedId is kept
    (the enrolments elsewhere find the pupil through its record). A staff row is a post: a post
    on record that the bundle does not change is left out while the person has another row.
    """
    eid = pl.col("education_id")
    if entity == "pupils":
        drop = pl.col("_org") != pl.col("_primary_org").fill_null("")
    else:
        drop = pl.col(rec.FOUND).fill_null(False)
        for c in rec.POST:
            drop = drop & pl.col(c).eq_missing(pl.col(rec.REC + c))
    df = df.with_columns(drop.fill_null(False).alias("_drop"))
    # Never all of a person's rows: the first one stays when every row could go.
    first = pl.col("_i") == pl.col("_i").min().over(eid)
    all_drop = pl.col("_drop").all().over(eid)
    several = eid.is_not_null() & (pl.len().over(eid) > 1)
    gone = several & pl.col("_drop") & ~(all_drop & first)
    return df.filter(~gone).drop("_drop")


@dataclass
class _Settled:
    rows: pl.DataFrame  # the rows to load, completed, provenance kept
    all: pl.DataFrame  # every row (also those not sent), with the on-record flags


def _settle(
    bundle: _Bundle, entity: str, df: pl.DataFrame, *, school_code: str | None, today: date,
    defaults: tuple[pl.Expr, ...] = (),
) -> _Settled:  # fmt: skip
    """Complete one entity's rows from the record, validate them by the intake's rules and report
    every problem at its OneRoster place; rows with an error are left out."""
    layout = xf.BY_NAME[entity]
    keys = df.select("_i", *KEY_COLUMNS[entity])
    found = ON_RECORD[entity](keys) if keys.height else None
    if found is not None:
        df = df.join(found, on="_i", how="left")
    else:
        df = df.with_columns(pl.lit(False).alias(rec.FOUND))
    fills = [
        pl.coalesce(c, rec.REC + c).alias(c) for c in KEEP[entity] if rec.REC + c in df.columns
    ]
    fills += [
        pl.when(pl.col(f"_has_{c}")).then(pl.col(c)).otherwise(pl.col(rec.REC + c)).alias(c)
        for c in KEEP_IF_ABSENT.get(entity, ())
        if rec.REC + c in df.columns
    ]
    df = df.with_columns(fills).with_columns(*defaults)
    sent = _one_row_per_person(entity, df) if entity in ("pupils", "staff") else df
    df, sent = (f.drop([c for c in f.columns if c.startswith(rec.REC)]) for f in (df, sent))
    frame = sent.select(pl.col("_i").alias(ROW), *layout.column_names)
    valid, errors = [], []
    for part in frame.iter_slices(VALIDATE_ROWS):
        ok, bad, _orders = chunk_validate(part, layout=layout, school_code=school_code, today=today)
        valid.append(ok)
        errors.append(bad)
    valid_rows = pl.concat(valid) if valid else frame.clear()
    key = valid_rows.select(
        pl.concat_str([pl.col(k).fill_null("") for k in layout.natural_key], separator=" | ").alias(
            "_key"
        ),
        pl.col(ROW),
    )
    errors.append(duplicates_flag(key, entity=entity, key_label=layout.natural_key[-1]))
    errors = pl.concat(errors, how="vertical_relaxed").cast(ERROR_SCHEMA)
    bundle.errors.append(_locate(entity, errors, sent, key="_i"))
    bad_rows = errors.filter(pl.col("severity") == "error")["row"].unique()
    return _Settled(rows=sent.filter(~pl.col("_i").is_in(bad_rows.implode())), all=df)


def _loaded(settled: _Settled, key: list[str]) -> pl.DataFrame:
    """Keys of the records that will exist after the load: loaded now, or already on record."""
    return (
        pl.concat([settled.rows.select(key), settled.all.filter(pl.col(rec.FOUND)).select(key)])
        .unique()
        .with_columns(pl.lit(True).alias("_loaded"))
    )


def _homeroom_codes(bundle: _Bundle, classes: pl.DataFrame, staff: pl.DataFrame) -> pl.DataFrame:
    """Class sourcedId → the homeroom teacher's staff code at the class's school, and its row."""
    enr = bundle.frames["enrollments"]
    teachers = enr.filter((pl.col("role") == "teacher") & (pl.col("primary") == "true")).select(
        pl.col("classSourcedId").alias("_class"),
        pl.col("userSourcedId").alias("_user"),
        pl.col(ROW).alias("_r_teacher"),
    )
    codes = staff.select("_user", "_org", "_code")
    by_user = codes.unique("_user", keep="first", maintain_order=True).drop("_org")
    return (
        teachers.join(classes.select("_class", pl.col("schoolSourcedId").alias("_org")),
                      on="_class", how="inner")
        .join(codes, on=["_user", "_org"], how="left")
        .join(by_user.rename({"_code": "_any_code"}), on="_user", how="left")
        .select("_class", pl.coalesce("_code", "_any_code").alias("homeroom_staff_code"),
                "_r_teacher")
        .filter(pl.col("homeroom_staff_code").is_not_null())
        .unique("_class", keep="first", maintain_order=True)
    )  # fmt: skip


def _enrolments(
    bundle: _Bundle, classes: pl.DataFrame, homeroom: pl.Series, pupils: _Settled,
    classes_done: _Settled,
) -> pl.DataFrame:  # fmt: skip
    """Pupils in homeroom classes; an enrollment whose pupil or class does not load is
    reported here (its pupil or class has the reason)."""
    enr = bundle.frames["enrollments"]
    df = enr.filter(pl.col("role") == "student").filter(
        pl.col("classSourcedId").is_in(homeroom.implode())
    )
    codes = pupils.all.select("_user", "_org", "_code", "school_code")
    loaded = _loaded(pupils, ["_user", "_org"])
    codes = codes.join(loaded, on=["_user", "_org"], how="left")
    by_user = codes.sort("_loaded", descending=True, nulls_last=True).unique(
        "_user", keep="first", maintain_order=True
    )
    class_loaded = _loaded(classes_done, ["_class"])
    df = (
        df.select(
            pl.col("userSourcedId").alias("_user"),
            pl.col("classSourcedId").alias("_class"),
            pl.col(ROW),
            "beginDate",
            "endDate",
            _ext(enr, "metadata.vn.enrolmentStatus").alias("status"),
            clean_expr(_ext(enr, "metadata.vn.identifier")).alias("_enr_code"),
        )
        .join(classes.select("_class", pl.col("schoolSourcedId").alias("_org"), "school_code",
                             "school_year", "class_name", "_year_start"),
              on="_class", how="left")
        .join(codes.drop("school_code"), on=["_user", "_org"], how="left")
        .join(by_user.select("_user", pl.col("_code").alias("_any_code"),
                             pl.col("_loaded").alias("_any_loaded")),
              on="_user", how="left")
        .join(class_loaded.rename({"_loaded": "_class_loaded"}), on="_class", how="left")
    )  # fmt: skip
    df = bundle.error(
        df, ~pl.col("_class_loaded").fill_null(False), file="enrollments",
        column="classSourcedId", code="oneroster_class_not_loaded",
    )  # fmt: skip
    df = bundle.error(
        df, ~pl.coalesce("_loaded", "_any_loaded").fill_null(False), file="enrollments",
        column="userSourcedId", code="oneroster_user_not_loaded",
    )  # fmt: skip
    return df.select(
        "school_code",
        "school_year",
        pl.coalesce("_enr_code", "_code", "_any_code").alias("pupil_code"),
        "class_name",
        "status",
        pl.col("beginDate").alias("started_on"),
        pl.col("endDate").alias("ended_on"),
        "_year_start",
        pl.col(ROW).alias(_ENR),
        _when_row(pl.col("_enr_code").is_not_null()).alias("_r_enr_code"),
    )


def _write(entity: str, df: pl.DataFrame, out_dir: Path) -> Path | None:
    """The standard file (columns with a value; intake accepts it whole) and its provenance."""
    if not df.height:
        return None
    layout = xf.BY_NAME[entity]
    data = _standard(entity, df)
    empty = {c for c, n in zip(data.columns, data.null_count().row(0), strict=True)
             if n == data.height}  # fmt: skip
    keep = [c.name for c in layout.columns if c.required or c.name not in empty]
    path = out_dir / f"{entity}.csv"
    data.select(keep).write_csv(path)
    prov = df.select(
        pl.int_range(2, df.height + 2, dtype=pl.Int64).alias("_key"),
        *(c for c in df.columns if c.startswith("_r_")),
        *(c for c in (rec.FOUND, PERSON_FLAG) if c in df.columns),
    )
    (out_dir / PROVENANCE_DIR).mkdir(exist_ok=True)
    prov.write_parquet(out_dir / PROVENANCE_DIR / f"{entity}.parquet")
    return path


def oneroster_to_standard(
    src_dir: str | Path,
    out_dir: str | Path,
    *,
    school_code: str | None = None,
    today: date | None = None,
) -> dict[str, Path]:
    """Convert the bundle in ``src_dir`` into standard CSV files in ``out_dir``.

    Returns entity name → file for the entities the bundle yields (staff, classes, pupils,
    enrolments). Row-level problems go to ``out_dir/ERRORS_FILE`` (see ``oneroster_errors``),
    at their OneRoster file, row and column. ``school_code`` maps the bundle's only school to
    that registry code (``--school``). Reads the registry for the records the bundle names.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    today = today or timezone.localdate()
    bundle = oneroster_read(src_dir)
    orgs = _school_codes(bundle, school_code)
    classes, homeroom = _classes(bundle, orgs)
    people = _people(bundle, orgs)
    staff_people = people.filter(pl.col("_kind") != "pupil")
    classes = classes.join(_homeroom_codes(bundle, classes, staff_people), on="_class", how="left")
    settle = {"school_code": school_code, "today": today}
    done: dict[str, _Settled] = {}
    staff = staff_people.with_columns(
        pl.col("_code").alias("staff_code"), pl.col("_kind").alias("role")
    )
    done["staff"] = _settle(bundle, "staff", _indexed(staff, "staff"), **settle)
    done["classes"] = _settle(
        bundle, "classes", _indexed(classes, "classes"), **settle,
        # A new class with one grade is not a combined one.
        defaults=(
            pl.when(pl.col("combined_grades").is_null() & pl.col("grade").is_not_null())
            .then(pl.lit("false"))
            .otherwise(pl.col("combined_grades"))
            .alias("combined_grades"),
        ),
    )  # fmt: skip
    pupil_people = people.filter(pl.col("_kind") == "pupil").with_columns(
        pl.col("_code").alias("pupil_code")
    )
    done["pupils"] = _settle(bundle, "pupils", _indexed(pupil_people, "pupils"), **settle)
    enrolments = _enrolments(bundle, classes, homeroom, done["pupils"], done["classes"])
    done["enrolments"] = _settle(
        bundle, "enrolments", _indexed(enrolments, "enrolments"), **settle,
        defaults=(
            pl.coalesce("status", pl.lit("studying")).alias("status"),
            pl.coalesce("started_on", "_year_start").alias("started_on"),
        ),
    )  # fmt: skip

    files: dict[str, Path] = {}
    for name, settled in done.items():
        path = _write(name, settled.rows, out_dir)
        if path is not None:
            files[name] = path
    errors = (
        pl.concat(bundle.errors, how="vertical_relaxed").cast(ERROR_SCHEMA)
        if bundle.errors
        else pl.DataFrame(schema=ERROR_SCHEMA)
    )
    errors.sort("entity", "row", nulls_last=True, maintain_order=True).write_parquet(
        out_dir / ERRORS_FILE
    )
    return files


def oneroster_errors(out_dir: str | Path) -> pl.DataFrame:
    """The row-level problems the last conversion into ``out_dir`` found (pipeline schema)."""
    path = Path(out_dir) / ERRORS_FILE
    return pl.read_parquet(path) if path.exists() else pl.DataFrame(schema=ERROR_SCHEMA)


def oneroster_locate(out_dir: str | Path, errors: pl.DataFrame) -> pl.DataFrame:
    """Error rows reported against the converted files in ``out_dir`` (intake's or the
    engine's: ``entity`` a standard entity, ``row`` a row of its file) restated at the OneRoster
    file, row and column they come from; rows of other entities are returned unchanged."""
    folder = Path(out_dir) / PROVENANCE_DIR
    parts, done = [], []
    for entity in SOURCES:
        path = folder / f"{entity}.parquet"
        if not path.exists():
            continue
        done.append(entity)
        rows = errors.filter(pl.col("entity") == entity)
        parts.append(_locate(entity, rows, pl.read_parquet(path), key="_key"))
    parts.append(errors.filter(~pl.col("entity").is_in(done)).cast(ERROR_SCHEMA))
    return pl.concat(parts, how="vertical_relaxed")


def message(code: str) -> tuple[str, str]:
    """(Vietnamese, English) text of one of this module's row problem codes."""
    return MESSAGES.get(code, (code, code))
