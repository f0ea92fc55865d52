# ruff: noqa: S608 -- SQL is built from the forms' constant predicates and validated values only.
"""The report engine: a form's figures from the analytics snapshot, one DuckDB query a dataset.

Reads the Parquet snapshot (docs/stats.md), never the registry. For a school year, a level, a
reference date and a scope (the schools of a node), four views are set up:

- ``pupils``: the year's enrolments of the level, plus ``enrolled`` (open on the reference date:
  started on or before it, not ended by it) and ``ref_date``;
- ``classes``: the year's classes of the level, with their school's ownership and area;
- ``schools``: schools teaching the level that year (a class of the level, or the level itself
  and still open), with ``school_level`` and per-school class counts (``n_classes``,
  ``n_two_session_classes``, ``n_combined_classes``);
- ``staff``: the year's posts whose level is the form's.

Every counting row of a dataset becomes one ``COUNT(*) FILTER (WHERE row AND column)`` of one
query over its view; a breakdown (drill-down) is the same count grouped by a unit column.
"""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
from django.conf import settings

from .spec import COLUMNS, Column, Form, Row

HIVE_TYPES = "{'school_year': INTEGER, 'province': VARCHAR}"
# Empty stand-ins with the documented columns, for a dataset with no file (yet).
EMPTY = {
    "enrolments": "enrolment_id BIGINT, person_id BIGINT, school_id BIGINT, class_id BIGINT, "
    "grade INTEGER, level VARCHAR, status VARCHAR, started_on DATE, ended_on DATE, "
    "outcome VARCHAR, sex VARCHAR, birth_year INTEGER, ethnicity VARCHAR, disability VARCHAR, "
    "ownership VARCHAR, urban_rural VARCHAR, school_year INTEGER, province VARCHAR",
    "classes": "class_id BIGINT, school_id BIGINT, grade INTEGER, level VARCHAR, "
    "two_sessions BOOLEAN, combined_grades BOOLEAN, school_year INTEGER, province VARCHAR",
    "staff": "assignment_id BIGINT, person_id BIGINT, school_id BIGINT, role VARCHAR, "
    "level VARCHAR, qualification VARCHAR, contract_type VARCHAR, sex VARCHAR, "
    "birth_year INTEGER, ethnicity VARCHAR, ownership VARCHAR, urban_rural VARCHAR, "
    "school_year INTEGER, province VARCHAR",
    "schools": "school_id BIGINT, code VARCHAR, name VARCHAR, province VARCHAR, "
    "commune_code VARCHAR, level VARCHAR, ownership VARCHAR, urban_rural VARCHAR, status VARCHAR",
}
# The column each breakdown groups by; classes exist only for the datasets that carry them.
BREAKDOWNS = ("province", "school_id", "class_id")
CLASS_DATASETS = ("pupils", "classes")


def snapshot_root() -> Path:
    return Path(getattr(settings, "STATS_SNAPSHOT_DIR", settings.VAR_DIR / "snapshot"))


@dataclass(frozen=True)
class Scope:
    """The schools a report counts: every school (``school_ids`` None) or these; ``province``
    (when the node lies in one) only narrows the partitions read."""

    province: str | None = None
    school_ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.province is not None and not (len(self.province) == 2 and self.province.isdigit()):
            raise ValueError("province must be a two-digit code")


def available_years(root: Path | None = None) -> list[int]:
    """School years (start years) the snapshot holds enrolments, classes or staff for, newest first."""
    root = root or snapshot_root()
    years = set()
    for dataset in ("enrolments", "classes", "staff"):
        directory = root / dataset
        if directory.is_dir():
            for child in directory.glob("school_year=*"):
                value = child.name.partition("=")[2]
                if value.isdigit() and any(child.rglob("*.parquet")):
                    years.add(int(value))
    return sorted(years, reverse=True)


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _empty(schema: str) -> str:
    columns = (c.split(" ") for c in schema.split(", "))
    return "SELECT " + ", ".join(f"NULL::{t} AS {n}" for n, t in columns) + " WHERE false"


def _partitioned(root: Path, dataset: str, year: int, scope: Scope) -> str:
    """A SELECT over one year's partitions of a dataset (one province's when the scope has one)."""
    base = root / dataset / f"school_year={int(year)}"
    base = base / f"province={scope.province}" if scope.province else base
    if not base.is_dir() or not any(base.rglob("*.parquet")):
        return _empty(EMPTY[dataset])
    glob = base / ("*.parquet" if scope.province else "*/*.parquet")
    # The year and province directories are read as columns (hive_types keep "01" a string).
    return (
        f"SELECT * FROM read_parquet('{_quote(glob)}', hive_partitioning = true, "
        f"hive_types = {HIVE_TYPES}, union_by_name = true)"
    )


class ReportData:
    """The four views of one (year, level, reference date, scope) over a DuckDB connection."""

    def __init__(self, *, level: str, year: int, ref_date: date, scope: Scope, root=None):
        self.root = Path(root or snapshot_root())
        self.con = duckdb.connect()
        self.con.execute("SET threads TO 2")
        if scope.school_ids is not None:
            ids = pa.table({"school_id": pa.array(scope.school_ids, pa.int64())})
            self.con.register("scope_schools", ids)

        def within(alias: str = "") -> str:
            conditions = ["TRUE"]
            if scope.school_ids is not None:
                conditions.append(f"{alias}school_id IN (SELECT school_id FROM scope_schools)")
            if scope.province:
                conditions.append(f"{alias}province = '{scope.province}'")
            return " AND ".join(conditions)

        in_scope = within()
        lv = f"'{level}'"  # a key of spec.LEVELS, checked by the caller
        ref = f"DATE '{ref_date.isoformat()}'"
        schools_file = self.root / "schools.parquet"
        schools_src = (
            f"SELECT * FROM read_parquet('{_quote(schools_file)}')"
            if schools_file.is_file()
            else _empty(EMPTY["schools"])
        )
        ex = self.con.execute
        ex(f"CREATE VIEW schools_src AS {schools_src}")
        ex(
            f"CREATE VIEW pupils AS SELECT *, {ref} AS ref_date, "
            f"(started_on <= {ref} AND (ended_on IS NULL OR ended_on > {ref})) AS enrolled "
            f"FROM ({_partitioned(self.root, 'enrolments', year, scope)}) "
            f"WHERE level = {lv} AND {in_scope}"
        )
        ex(
            f"CREATE VIEW classes_raw AS SELECT * FROM "
            f"({_partitioned(self.root, 'classes', year, scope)}) WHERE level = {lv} AND {in_scope}"
        )
        ex(
            "CREATE VIEW classes AS SELECT c.*, s.ownership, s.urban_rural "
            "FROM classes_raw c LEFT JOIN schools_src s ON s.school_id = c.school_id"
        )
        ex(
            "CREATE VIEW schools AS WITH c AS ("
            "  SELECT school_id, COUNT(*) AS n_classes,"
            "         COUNT(*) FILTER (WHERE two_sessions) AS n_two_session_classes,"
            "         COUNT(*) FILTER (WHERE combined_grades) AS n_combined_classes"
            "  FROM classes_raw GROUP BY school_id) "
            "SELECT s.school_id, s.code, s.name, s.province, s.level AS school_level, s.ownership,"
            "       s.urban_rural, s.status, COALESCE(c.n_classes, 0) AS n_classes,"
            "       COALESCE(c.n_two_session_classes, 0) AS n_two_session_classes,"
            "       COALESCE(c.n_combined_classes, 0) AS n_combined_classes "
            "FROM schools_src s LEFT JOIN c ON c.school_id = s.school_id "
            f"WHERE (c.school_id IS NOT NULL OR (s.level = {lv} AND s.status = 'open')) "
            f"AND {within('s.')}"
        )
        ex(
            f"CREATE VIEW staff AS SELECT * FROM "
            f"({_partitioned(self.root, 'staff', year, scope)}) WHERE level = {lv} AND {in_scope}"
        )

    def close(self) -> None:
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def counts(self, dataset: str, rows: list[Row], columns=COLUMNS) -> dict[str, dict[str, int]]:
        """Every row × column count of one dataset, in one query."""
        if not rows:
            return {}
        parts = [
            f'COUNT(*) FILTER (WHERE ({row.where}) AND ({col.where})) AS "v{i}_{j}"'
            for i, row in enumerate(rows)
            for j, col in enumerate(columns)
        ]
        values = self.con.execute(f"SELECT {', '.join(parts)} FROM {dataset}").fetchone()
        out: dict[str, dict[str, int]] = {}
        for i, row in enumerate(rows):
            out[row.key] = {
                col.code: int(values[i * len(columns) + j]) for j, col in enumerate(columns)
            }
        return out

    def breakdown(self, row: Row, column: Column, by: str) -> dict:
        """One counting row's figure in one column, per ``by`` unit: {unit: (count, grade)}."""
        if by not in BREAKDOWNS or (by == "class_id" and row.dataset not in CLASS_DATASETS):
            raise ValueError(f"cannot break {row.dataset} down by {by}")
        grade = "MIN(grade)" if by == "class_id" else "NULL"
        rows = self.con.execute(
            f"SELECT {by} AS unit, COUNT(*) AS n, {grade} AS grade FROM {row.dataset} "
            f"WHERE ({row.where}) AND ({column.where}) GROUP BY {by} ORDER BY {by}"
        ).fetchall()
        return {unit: (int(n), g) for unit, n, g in rows}

    def school_names(self, ids) -> dict[int, tuple[str, str]]:
        """Code and name of schools from the snapshot's school list."""
        ids = [i for i in ids if i is not None]
        if not ids:
            return {}
        self.con.register("wanted", pa.table({"school_id": pa.array(ids, pa.int64())}))
        rows = self.con.execute(
            "SELECT s.school_id, s.code, s.name FROM schools_src s "
            "JOIN wanted w ON w.school_id = s.school_id"
        ).fetchall()
        return {i: (code, name) for i, code, name in rows}


def ratio_value(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 2) if denominator else None


def form_figures(data: ReportData, form: Form) -> dict[str, dict[str, float | int | None]]:
    """Every figure of a form: {row key: {column code: value}}; headings have none."""
    figures: dict[str, dict] = {}
    for dataset in ("schools", "classes", "pupils", "staff"):
        figures.update(data.counts(dataset, form.counting_rows(dataset)))
    for row in form.rows:
        if row.ratio is not None:
            num, den = (figures[k] for k in row.ratio)
            figures[row.key] = {c.code: ratio_value(num[c.code], den[c.code]) for c in COLUMNS}
    return figures
