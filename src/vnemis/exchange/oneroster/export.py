"""Export one organisation's school year as a OneRoster 1.2 CSV bundle (a ZIP with manifest.csv).

The caller's scope decides what leaves: the organisation must be in ``org_ids_in_scope`` and
only schools of that subtree inside the scope are read. Reads are set-wise SQL (Django querysets
over scope sub-queries) streamed with a server-side cursor in chunks of ``chunk_rows``; each
chunk becomes a Polars frame, is shaped with column expressions, neutralised against formula
injection and appended to its CSV file on disk, so a province's export never sits in memory.
Empty files are left out and marked ``absent`` in the manifest (the binding forbids data files
without rows). One audit entry records the export with counts only, never identifiers.

Personal data: names, the education ID (as sourcedId) and the school's pupil/staff code always;
birth date and sex in demographics.csv; the ``metadata.vn.*`` extension columns a re-import
needs (``mapping.EXTENSIONS``: full name, nationality, the code at each school, post details,
two sessions, enrolment status) always; the personal ones (``mapping.PERSONAL_EXTENSIONS``:
ethnicity, disability, policy categories, birth province, residence commune) only when asked for
and only for roles allowed to read sensitive data. Citizen ID numbers are never exported.
OneRoster requires givenName and familyName: ``names.export_name_parts`` never leaves either
empty.
"""

from __future__ import annotations

import csv
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from datetime import date
from itertools import islice
from pathlib import Path

import polars as pl
from django.db.models import Case, Count, F, Max, Min, OuterRef, Q, Subquery, When
from django.utils import timezone

from vnemis.core.audit import audit_record
from vnemis.exchange.reports import neutralise_frame
from vnemis.orgs.models import Organisation, OrgClosure
from vnemis.orgs.scope import can_read_sensitive, org_ids_in_scope
from vnemis.registry.models import (
    ACTIVE_STATUSES,
    Enrolment,
    SchoolClass,
    SchoolYear,
    StaffAssignment,
    Term,
)

from . import mapping as m
from .errors import OneRosterError
from .names import export_name_parts

CHUNK_ROWS = 20_000
SCHOOL_KINDS = ("school", "university", "college")


def _batches(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


class _CsvFile:
    """One data file: header written once, then chunks appended; counts its rows."""

    def __init__(self, directory: Path, name: str, extensions: bool) -> None:
        self.name = name
        self.columns = [
            *m.HEADERS[name],
            *m.EXTENSIONS.get(name, ()),
            *(m.PERSONAL_EXTENSIONS.get(name, ()) if extensions else ()),
        ]
        self.path = directory / f"{name}.csv"
        self.rows = 0
        self._f = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        csv.writer(self._f, lineterminator="\r\n").writerow(self.columns)

    def write(self, df: pl.DataFrame) -> None:
        if not df.height:
            return
        missing = [c for c in self.columns if c not in df.columns]
        df = df.with_columns(pl.lit(None, pl.String).alias(c) for c in missing)
        df = df.select(pl.col(c).cast(pl.String) for c in self.columns)
        df = neutralise_frame(df)  # cells starting = + - @ tab CR get a leading '
        self._f.write(df.write_csv(include_header=False, line_terminator="\r\n"))
        self.rows += df.height

    def close(self) -> None:
        self._f.close()


def _frame(batch: list[tuple], names: list[str]) -> pl.DataFrame:
    return pl.DataFrame(batch, schema=names, orient="row", infer_schema_length=None)


def _date(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Date).dt.strftime("%Y-%m-%d")


def _bool(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr).then(pl.lit("true")).otherwise(pl.lit("false"))


def _grade(col: str) -> pl.Expr:
    return pl.col(col).replace_strict(m.CEDS_OF_GRADE, default=None, return_dtype=pl.String)


def _reachable(actor):
    """Organisations the actor may reach; ``None`` is the operator at the console (all)."""
    return Organisation.objects.values("id") if actor is None else org_ids_in_scope(actor)


def _schools_in(*, actor, org: Organisation):
    """Schools of the organisation's subtree that the actor may reach (a sub-query)."""
    subtree = OrgClosure.objects.filter(ancestor=org).values("descendant_id")
    return (
        Organisation.objects.filter(id__in=subtree, kind__in=SCHOOL_KINDS)
        .filter(id__in=_reachable(actor))
        .values("id")
    )


def oneroster_export(
    *,
    actor,
    org_code: str,
    year_code: str,
    out: str | Path,
    extensions: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> dict[str, int]:
    """Write the bundle of ``org_code``'s schools for ``year_code`` to the ZIP file ``out``.

    ``actor`` None is the operator at the console (the whole registry). Returns the number of
    rows per file. Raises ``OneRosterError`` (status 404/403/422) when the
    organisation is outside the caller's scope, the year is unknown or extensions are refused.
    """
    if actor is not None and not getattr(actor, "is_authenticated", False):
        raise OneRosterError(
            "forbidden", "Bạn cần đăng nhập để xuất dữ liệu.", "You must log in to export.", 403
        )
    org = Organisation.objects.filter(code=org_code, id__in=_reachable(actor)).first()
    if org is None:
        raise OneRosterError(
            "org_not_found",
            f"Không tìm thấy đơn vị '{org_code}' trong phạm vi của bạn.",
            f"No organisation '{org_code}' within your scope.",
            404,
        )
    year = SchoolYear.objects.filter(code=year_code).first()
    if year is None:
        raise OneRosterError(
            "unknown_school_year",
            f"Không có năm học '{year_code}' (dạng 2025-2026).",
            f"No school year '{year_code}' (format 2025-2026).",
            404,
        )
    if extensions and actor is not None and not can_read_sensitive(actor):
        raise OneRosterError(
            "extensions_forbidden",
            "Vai trò của bạn không được xuất các cột mở rộng (dân tộc, khuyết tật, đối tượng "
            "chính sách). Hãy xuất không kèm cột mở rộng.",
            "Your role may not export the extension columns (ethnicity, disability, policy "
            "categories). Export without extensions.",
            403,
        )
    schools = _schools_in(actor=actor, org=org)
    with tempfile.TemporaryDirectory(prefix="oneroster-") as tmp:
        directory = Path(tmp)
        files = {name: _CsvFile(directory, name, extensions) for name in m.HEADERS}
        try:
            _orgs_write(files["orgs"], actor=actor, org=org, chunk_rows=chunk_rows)
            terms = _sessions_write(files["academicSessions"], year=year)
            _courses_classes_write(files, schools=schools, year=year, terms=terms, chunk=chunk_rows)
            _pupils_write(files, schools=schools, year=year, chunk_rows=chunk_rows)
            staff_ids = _staff_write(files, schools=schools, year=year, chunk_rows=chunk_rows)
            _roles_write(files["roles"], schools=schools, year=year, chunk_rows=chunk_rows)
            _enrollments_write(
                files["enrollments"], schools=schools, year=year, staff_ids=staff_ids,
                chunk_rows=chunk_rows,
            )  # fmt: skip
        finally:
            for f in files.values():
                f.close()
        counts = {name: f.rows for name, f in files.items()}
        _manifest_write(directory / "manifest.csv", counts=counts, org=org)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.write(directory / "manifest.csv", "manifest.csv")
            for name, f in files.items():
                if f.rows:
                    zf.write(f.path, f"{name}.csv")
    audit_record(
        actor=actor,
        action="export",
        object_type="oneroster",
        object_id=org.code,
        detail={"year": year.code, "extensions": extensions, "rows": counts},
    )
    return counts


def _manifest_write(path: Path, *, counts: dict[str, int], org: Organisation) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(["propertyName", "value"])
        w.writerow(["manifest.version", m.MANIFEST_VERSION])
        w.writerow(["oneroster.version", m.ONEROSTER_VERSION])
        for name in m.MANIFEST_FILES:
            w.writerow([f"file.{name}", "bulk" if counts.get(name) else "absent"])
        w.writerow(["source.systemName", m.SYSTEM_NAME])
        w.writerow(["source.systemCode", org.code])


def _orgs_write(f: _CsvFile, *, actor, org: Organisation, chunk_rows: int) -> None:
    # The ancestors too (public: names and codes), so every parentSourcedId resolves.
    ancestors = OrgClosure.objects.filter(descendant=org).values("ancestor_id")
    subtree = OrgClosure.objects.filter(ancestor=org).values("descendant_id")
    qs = (
        Organisation.objects.filter(
            Q(id__in=ancestors) | (Q(id__in=subtree) & Q(id__in=_reachable(actor)))
        )
        .order_by("code")
        .values_list("code", "name", "kind", "parent__code")
    )
    for batch in _batches(qs.iterator(chunk_size=chunk_rows), chunk_rows):
        df = _frame(batch, ["code", "name", "kind", "parent"])
        f.write(
            df.select(
                pl.col("code").alias("sourcedId"),
                pl.col("name"),
                pl.col("kind")
                .replace_strict(m.ORG_TYPE_OF_KIND, default="school", return_dtype=pl.String)
                .alias("type"),
                pl.col("code").alias("identifier"),
                pl.col("parent").alias("parentSourcedId"),
            )
        )


def _sessions_write(f: _CsvFile, *, year: SchoolYear) -> list[str]:
    end_year = str(year.start_year + 1)
    rows = [
        {
            "sourcedId": year.code,
            "title": f"Năm học {year.code}",
            "type": "schoolYear",
            "startDate": year.starts_on.isoformat(),
            "endDate": year.ends_on.isoformat(),
            "schoolYear": end_year,
        }
    ]
    terms = []
    for term in Term.objects.filter(school_year=year).order_by("number"):
        sid = m.term_sourced_id(year.code, term.number)
        terms.append(sid)
        rows.append(
            {
                "sourcedId": sid,
                "title": f"Học kỳ {'I' * term.number} {year.code}",
                "type": "term",
                "startDate": term.starts_on.isoformat(),
                "endDate": term.ends_on.isoformat(),
                "parentSourcedId": year.code,
                "schoolYear": end_year,
            }
        )
    f.write(pl.DataFrame(rows))
    return terms or [year.code]


def _courses_classes_write(files, *, schools, year: SchoolYear, terms: list[str], chunk: int):
    courses = (
        SchoolClass.objects.filter(school_id__in=schools, school_year=year)
        .values_list("school__code", "grade")
        .distinct()
        .order_by("school__code", "grade")
    )
    for batch in _batches(courses.iterator(chunk_size=chunk), chunk):
        df = _frame(batch, ["school", "grade"])
        files["courses"].write(
            df.select(
                (
                    pl.col("school")
                    + f"-{year.code}-K"
                    + pl.col("grade").cast(pl.String).str.zfill(2)
                ).alias("sourcedId"),
                pl.lit(year.code).alias("schoolYearSourcedId"),
                (pl.lit("Khối ") + pl.col("grade").cast(pl.String)).alias("title"),
                (pl.lit("K") + pl.col("grade").cast(pl.String)).alias("courseCode"),
                _grade("grade").alias("grades"),
                pl.col("school").alias("orgSourcedId"),
            )
        )
    classes = (
        SchoolClass.objects.filter(school_id__in=schools, school_year=year)
        .order_by("school__code", "grade", "name")
        .values_list("school__code", "name", "grade", "two_sessions", "combined_grades")
    )
    for batch in _batches(classes.iterator(chunk_size=chunk), chunk):
        df = _frame(batch, ["school", "name", "grade", "two_sessions", "combined"])
        files["classes"].write(
            df.select(
                (pl.col("school") + f"-{year.code}-" + pl.col("name")).alias("sourcedId"),
                pl.col("name").alias("title"),
                _grade("grade").alias("grades"),
                (
                    pl.col("school")
                    + f"-{year.code}-K"
                    + pl.col("grade").cast(pl.String).str.zfill(2)
                ).alias("courseSourcedId"),
                pl.col("name").alias("classCode"),
                pl.lit("homeroom").alias("classType"),
                pl.col("school").alias("schoolSourcedId"),
                pl.lit(",".join(terms)).alias("termSourcedIds"),
                _bool(pl.col("two_sessions")).alias("metadata.vn.twoSessions"),
                # A combined class (lớp ghép) records one grade, so grades cannot say it.
                _bool(pl.col("combined")).alias("metadata.vn.combinedGrades"),
            )
        )


PERSON_FIELDS = [
    ("eid", "education_id"),
    ("full", "full_name"),
    ("family", "family_name"),
    ("middle", "middle_name"),
    ("given", "given_name"),
    ("birth", "birth_date"),
    ("sex", "sex"),
    ("ethnicity", "ethnicity__code"),
    ("nationality", "nationality"),
    ("birth_province", "birth_province__code"),
    ("commune", "permanent_commune__code"),
    ("policy", "policy_categories"),
    ("disability", "disability"),
]


def _person_frames(df: pl.DataFrame, *, enabled: pl.Expr, grades: pl.Expr | None):
    """users.csv and demographics.csv rows of a chunk of distinct persons."""
    family, middle, given = export_name_parts(
        pl.col("full"), pl.col("family"), pl.col("middle"), pl.col("given")
    )
    users = df.select(
        pl.col("eid").alias("sourcedId"),
        _bool(enabled).alias("enabledUser"),
        pl.col("eid").alias("username"),
        given.alias("givenName"),
        family.alias("familyName"),
        middle.alias("middleName"),
        pl.col("code").replace("", None).alias("identifier"),
        (grades if grades is not None else pl.lit(None, pl.String)).alias("grades"),
        pl.col("eid").alias("userMasterIdentifier"),
        pl.col("school").alias("primaryOrgSourcedId"),
        pl.col("full").alias("metadata.vn.fullName"),
    )
    policy = pl.col("policy").cast(pl.List(pl.String)).list.join(";")
    demographics = df.select(
        pl.col("eid").alias("sourcedId"),
        _date("birth").alias("birthDate"),
        pl.col("sex").replace_strict(m.SEX_OF_CODE, default=None).alias("sex"),
        pl.col("ethnicity").alias("metadata.vn.ethnicityCode"),
        pl.col("nationality").alias("metadata.vn.nationality"),
        pl.col("birth_province").alias("metadata.vn.birthProvinceCode"),
        pl.col("commune").alias("metadata.vn.permanentCommuneCode"),
        policy.replace("", None).alias("metadata.vn.policyCategories"),
        pl.col("disability").replace("", None).alias("metadata.vn.disability"),
    )
    return users, demographics


def _distinct_persons(qs, names: list[str], chunk_rows: int) -> Iterator[pl.DataFrame]:
    """Chunks of a queryset ordered by person id, one row per person (the first one)."""
    last = None
    for batch in _batches(qs.iterator(chunk_size=chunk_rows), chunk_rows):
        df = _frame(batch, names).unique("pid", keep="first", maintain_order=True)
        if last is not None:
            df = df.filter(pl.col("pid") != last)
        last = batch[-1][0]
        yield df


def _pupils_write(files, *, schools, year: SchoolYear, chunk_rows: int) -> None:
    fields = [f"pupil__{f}" for _, f in PERSON_FIELDS]
    qs = (
        Enrolment.objects.filter(school_id__in=schools, school_year=year)
        # The person's row describes their active enrolment if any, else the latest one.
        .order_by("pupil_id", Case(When(status__in=ACTIVE_STATUSES, then=0), default=1), "-id")
        .values_list("pupil_id", *fields, "pupil_code", "school__code", "school_class__grade",
                     "status")
    )  # fmt: skip
    names = ["pid", *(n for n, _ in PERSON_FIELDS), "code", "school", "grade", "status"]
    for df in _distinct_persons(qs, names, chunk_rows):
        users, demographics = _person_frames(
            df, enabled=pl.col("status").is_in(ACTIVE_STATUSES), grades=_grade("grade")
        )
        files["users"].write(users)
        files["demographics"].write(demographics)


def _staff_query(*, schools, year: SchoolYear):
    return StaffAssignment.objects.filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=year.starts_on),
        school_id__in=schools,
        starts_on__lte=year.ends_on,
    )


def _staff_write(files, *, schools, year: SchoolYear, chunk_rows: int):
    """Staff posted at the schools during the year; returns the sub-query of their person ids."""
    fields = [f"person__{f}" for _, f in PERSON_FIELDS]
    staff = _staff_query(schools=schools, year=year)
    # The person's row describes their live post if any, else the latest one.
    live_first = F("ends_on").desc(nulls_first=True)
    qs = staff.order_by("person_id", live_first, "-starts_on").values_list(
        "person_id", *fields, "staff_code", "school__code", "ends_on"
    )
    names = ["pid", *(n for n, _ in PERSON_FIELDS), "code", "school", "ends_on"]
    today = timezone.localdate()
    for df in _distinct_persons(qs, names, chunk_rows):
        ends = pl.col("ends_on").cast(pl.Date)
        users, demographics = _person_frames(
            df, enabled=ends.is_null() | (ends >= today), grades=None
        )
        files["users"].write(users)
        files["demographics"].write(demographics)
    return staff.values("person_id")


def _role_types(batches: Iterator[list[tuple]], names: list[str]) -> Iterator[pl.DataFrame]:
    """Frames with ``roleType``: a person's first role (rows ordered by person) is primary."""
    last = ""
    for batch in batches:
        df = _frame(batch, names)
        first = pl.col("eid").is_first_distinct() & (pl.col("eid") != last)
        yield df.with_columns(
            pl.when(first).then(pl.lit("primary")).otherwise(pl.lit("secondary")).alias("type")
        )
        last = batch[-1][0]


def _roles_write(f: _CsvFile, *, schools, year: SchoolYear, chunk_rows: int) -> None:
    # Pupils: one role per pupil and school in the year (first start, last end; open if any is).
    # The pupil code at the school (users.csv holds one code per person): that of the pupil's
    # active enrolment there if any, else of the latest one, as for users.csv.
    code = (
        Enrolment.objects.filter(
            pupil_id=OuterRef("pupil_id"), school_id=OuterRef("school_id"), school_year=year
        )
        .order_by(Case(When(status__in=ACTIVE_STATUSES, then=0), default=1), "-id")
        .values("pupil_code")[:1]
    )
    pupils = (
        Enrolment.objects.filter(school_id__in=schools, school_year=year)
        .values("pupil_id", "school_id", "pupil__education_id", "school__code")
        .annotate(
            begin=Min("started_on"),
            end=Max("ended_on"),
            open=Count("id", filter=Q(ended_on__isnull=True)),
            code=Subquery(code),
        )
        .order_by("pupil__education_id", "school__code")
        .values_list("pupil__education_id", "school__code", "begin", "end", "open", "code")
    )
    names = ["eid", "school", "begin", "end", "open", "code"]
    for df in _role_types(_batches(pupils.iterator(chunk_size=chunk_rows), chunk_rows), names):
        f.write(
            df.select(
                (pl.col("school") + "-" + pl.col("eid") + "-student").alias("sourcedId"),
                pl.col("eid").alias("userSourcedId"),
                pl.col("type").alias("roleType"),
                pl.lit("student").alias("role"),
                _date("begin").alias("beginDate"),
                pl.when(pl.col("open") > 0)
                .then(pl.lit(None, pl.String))
                .otherwise(_date("end"))
                .alias("endDate"),
                pl.col("school").alias("orgSourcedId"),
                pl.col("code").replace("", None).alias("metadata.vn.identifier"),
            )
        )
    staff = (
        _staff_query(schools=schools, year=year)
        .order_by("person__education_id", "school__code", "starts_on")
        .values_list(
            "person__education_id", "school__code", "role", "starts_on", "ends_on", "subjects",
            "qualification", "contract_type", "staff_code",
        )
    )  # fmt: skip
    names = [
        "eid", "school", "role", "begin", "end", "subjects", "qualification", "contract", "code",
    ]  # fmt: skip
    for df in _role_types(_batches(staff.iterator(chunk_size=chunk_rows), chunk_rows), names):
        subjects = pl.col("subjects").cast(pl.List(pl.String)).list.join(";").replace("", None)
        f.write(
            df.select(
                (
                    pl.col("school") + "-" + pl.col("eid") + "-" + pl.col("role") + "-"
                    + _date("begin")
                ).alias("sourcedId"),
                pl.col("eid").alias("userSourcedId"),
                pl.col("type").alias("roleType"),
                pl.col("role").replace_strict(m.ROLE_OF_STAFF, return_dtype=pl.String).alias("role"),
                _date("begin").alias("beginDate"),
                _date("end").alias("endDate"),
                pl.col("school").alias("orgSourcedId"),
                pl.col("code").replace("", None).alias("metadata.vn.identifier"),
                subjects.alias("metadata.vn.subjects"),
                pl.col("qualification").alias("metadata.vn.qualification"),
                pl.col("contract").alias("metadata.vn.contractType"),
            )
        )  # fmt: skip


def _enrollments_write(f: _CsvFile, *, schools, year: SchoolYear, staff_ids, chunk_rows: int):
    pupils = (
        Enrolment.objects.filter(school_id__in=schools, school_year=year)
        .order_by("school__code", "school_class__name", "pupil__education_id")
        .values_list("school__code", "school_class__name", "pupil__education_id", "started_on",
                     "ended_on", "status", "pupil_code")
    )  # fmt: skip
    for batch in _batches(pupils.iterator(chunk_size=chunk_rows), chunk_rows):
        df = _frame(batch, ["school", "cls", "eid", "begin", "end", "status", "code"])
        cls = pl.col("school") + f"-{year.code}-" + pl.col("cls")
        f.write(
            df.select(
                (cls + "-" + pl.col("eid")).alias("sourcedId"),
                cls.alias("classSourcedId"),
                pl.col("school").alias("schoolSourcedId"),
                pl.col("eid").alias("userSourcedId"),
                pl.lit("student").alias("role"),
                pl.lit("false").alias("primary"),
                _date("begin").alias("beginDate"),
                _date("end").alias("endDate"),
                pl.col("status").alias("metadata.vn.enrolmentStatus"),
                # The enrolment's own pupil code (it may differ from the role's after a change).
                pl.col("code").replace("", None).alias("metadata.vn.identifier"),
            )
        )
    # Homeroom teachers (giáo viên chủ nhiệm), who are in users.csv through their post.
    homerooms = (
        SchoolClass.objects.filter(
            school_id__in=schools, school_year=year, homeroom_teacher_id__in=staff_ids
        )
        .order_by("school__code", "name")
        .values_list("school__code", "name", "homeroom_teacher__education_id")
    )
    for batch in _batches(homerooms.iterator(chunk_size=chunk_rows), chunk_rows):
        df = _frame(batch, ["school", "cls", "eid"])
        cls = pl.col("school") + f"-{year.code}-" + pl.col("cls")
        f.write(
            df.select(
                (cls + "-" + pl.col("eid")).alias("sourcedId"),
                cls.alias("classSourcedId"),
                pl.col("school").alias("schoolSourcedId"),
                pl.col("eid").alias("userSourcedId"),
                pl.lit("teacher").alias("role"),
                pl.lit("true").alias("primary"),
            )
        )


def export_filename(*, org_code: str, year_code: str, on: date | None = None) -> str:
    """A stable, descriptive name for the ZIP: oneroster_<org>_<year>_<yyyymmdd>.zip."""
    on = on or timezone.localdate()
    return f"oneroster_{org_code}_{year_code}_{on:%Y%m%d}.zip"
