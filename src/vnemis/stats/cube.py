# ruff: noqa: S608 -- SQL from this module's constants and validated partition values.
"""The aggregate cube: unit records of the snapshot reduced to the aggregate files' shape.

Each cube table has the columns of its aggregate CSV file (``enrolment``: year, level, grade,
age, sex, count; ...) plus the dimensions province, school_id, ethnicity, ethnic_group,
urban_rural and ownership, so the same indicator definitions read unit records and aggregates.
The reduction is SQL too (``CUBE_SQL``), run by DuckDB here and by Spark in ``spark.py``.

The cube is written beside the snapshot, one partition per school year and province, whenever
that snapshot partition is rewritten (``cube_write``), so serving an indicator reads a few
thousand rows per province instead of the unit records.

Counting rules (Circular 25/2024's reference dates): a pupil is enrolled in a school year when
the enrolment is open on 30 September of its start year (started on or before, not ended by
then), so a pupil who transfers later counts once; a repeater is an enrolment with status
``repeating``; a new entrant is an enrolled pupil of a level's first grade who is not a
repeater; a graduate has status ``graduated`` or the year outcome ``completed_level`` in the
level's last grade; age is the school year's start year minus the birth year; teachers are
staff with the role ``teacher`` on the reference date (the snapshot's staff rows).
"""

from pathlib import Path

import duckdb
from django.conf import settings

from .curriculum import UNSPECIFIED, register_duckdb
from .indicators.definitions import NATIONAL_LEVELS
from .indicators.engines import DuckDBEngine

DIMENSIONS = "province, school_id, ethnicity, ethnic_group, urban_rural, ownership"
LEVELS = "level IN ('primary', 'lower_secondary', 'upper_secondary')"
LEVELS_SQL = "SELECT * FROM (VALUES {}) AS t(level, entry_age, grades, first_grade)".format(
    ", ".join(
        f"('{lv.code}', {lv.entry_age}, {lv.grades}, {lv.first_grade})" for lv in NATIONAL_LEVELS
    )
)

# The unit records with the derived columns every cube table groups by.
ENROLLED_SQL = f"""
SELECT school_year AS year, level, grade, school_year - birth_year AS age, sex, province,
       school_id, ethnicity,
       CASE WHEN ethnicity = '01' THEN 'kinh' ELSE 'minority' END AS ethnic_group,
       urban_rural, ownership, status, outcome
FROM enrolments
WHERE {LEVELS}
  AND started_on <= make_date(school_year, 9, 30)
  AND (ended_on IS NULL OR ended_on > make_date(school_year, 9, 30))
"""

FIRST_GRADES = ", ".join(str(lv.first_grade) for lv in NATIONAL_LEVELS)
LAST_GRADES = ", ".join(str(lv.last_grade) for lv in NATIONAL_LEVELS)

CUBE_SQL = {
    "enrolment": f"""SELECT year, level, grade, age, sex, {DIMENSIONS}, COUNT(*) AS count
        FROM enrolled GROUP BY year, level, grade, age, sex, {DIMENSIONS}""",
    "repeaters": f"""SELECT year, level, grade, sex, {DIMENSIONS}, COUNT(*) AS count
        FROM enrolled WHERE status = 'repeating'
        GROUP BY year, level, grade, sex, {DIMENSIONS}""",
    "new_entrants": f"""SELECT year, level, grade, age, sex, {DIMENSIONS}, COUNT(*) AS count
        FROM enrolled WHERE status <> 'repeating' AND grade IN ({FIRST_GRADES})
        GROUP BY year, level, grade, age, sex, {DIMENSIONS}""",
    "graduates": f"""SELECT year, level, sex, {DIMENSIONS}, COUNT(*) AS count
        FROM enrolled
        WHERE grade IN ({LAST_GRADES}) AND (status = 'graduated' OR outcome = 'completed_level')
        GROUP BY year, level, sex, {DIMENSIONS}""",
    "teachers": f"""SELECT school_year AS year, level, sex, qualification, {DIMENSIONS},
               COUNT(*) AS count
        FROM (SELECT *, CASE WHEN ethnicity = '01' THEN 'kinh' ELSE 'minority' END AS ethnic_group
              FROM staff WHERE role = 'teacher' AND {LEVELS}) AS s
        GROUP BY school_year, level, sex, qualification, {DIMENSIONS}""",
    # Classes carry no pupil dimensions; a two-session class (học 2 buổi/ngày) has its own norm.
    "classes": """SELECT c.school_year AS year, c.level, c.grade, c.province, c.school_id,
               s.urban_rural, s.ownership,
               CASE WHEN c.two_sessions THEN 'yes' ELSE 'no' END AS two_sessions, COUNT(*) AS count
        FROM school_classes AS c LEFT JOIN schools AS s ON s.school_id = c.school_id
        WHERE c.level IN ('primary', 'lower_secondary', 'upper_secondary')
        GROUP BY c.school_year, c.level, c.grade, c.province, c.school_id, s.urban_rural,
                 s.ownership, c.two_sessions""",
    # Teachers by teaching subject against the curriculum's need, per school (docs/stats.md):
    # supply splits each teacher over the teaching subjects of their level in proportion to the
    # curriculum's periods; demand is each class's weekly periods over the teaching load.
    # Shortage and surplus are per school, so one school's surplus never hides another's gap;
    # only their non-zero rows are kept (the indicators add a zero-weighted supply for the rest).
    "subject_staffing": f"""WITH weights AS (
            SELECT level, teaching_subject, SUM(periods * share) AS w FROM curriculum
            GROUP BY level, teaching_subject),
        subject_map AS (SELECT DISTINCT level, subject, teaching_subject FROM curriculum),
        teaching AS (
            SELECT school_year, level, assignment_id, subjects, province, school_id, urban_rural,
                   ownership
            FROM staff WHERE role = 'teacher' AND {LEVELS}),
        matched AS (
            SELECT DISTINCT t.school_year, t.level, t.assignment_id, t.province, t.school_id,
                   m.teaching_subject
            FROM teaching AS t
            JOIN subject_map AS m ON m.level = t.level AND list_contains(t.subjects, m.subject)),
        shares AS (
            SELECT m.school_year, m.level, m.province, m.school_id, m.teaching_subject,
                   w.w / SUM(w.w) OVER (PARTITION BY m.school_year, m.assignment_id) AS fte
            FROM matched AS m
            JOIN weights AS w ON w.level = m.level AND w.teaching_subject = m.teaching_subject
            UNION ALL
            SELECT t.school_year, t.level, t.province, t.school_id, '{UNSPECIFIED}', 1.0
            FROM teaching AS t
            WHERE NOT EXISTS (SELECT 1 FROM matched AS m WHERE m.school_year = t.school_year
                              AND m.assignment_id = t.assignment_id)),
        supply AS (
            SELECT school_year AS year, level, teaching_subject AS subject, province, school_id,
                   SUM(fte) AS teachers
            FROM shares GROUP BY school_year, level, teaching_subject, province, school_id),
        demand AS (
            SELECT c.school_year AS year, c.level, k.teaching_subject AS subject, c.province,
                   c.school_id, SUM(k.periods * k.share / l.periods) AS teachers
            FROM school_classes AS c
            JOIN curriculum AS k ON k.level = c.level AND k.grade = c.grade
            JOIN teaching_load AS l ON l.level = c.level
            WHERE c.level IN ('primary', 'lower_secondary', 'upper_secondary')
            GROUP BY c.school_year, c.level, k.teaching_subject, c.province, c.school_id),
        need AS (
            SELECT COALESCE(s.year, d.year) AS year, COALESCE(s.level, d.level) AS level,
                   COALESCE(s.subject, d.subject) AS subject,
                   COALESCE(s.province, d.province) AS province,
                   COALESCE(s.school_id, d.school_id) AS school_id,
                   COALESCE(s.teachers, 0) AS supply, COALESCE(d.teachers, 0) AS demand
            FROM supply AS s FULL OUTER JOIN demand AS d
              ON d.year = s.year AND d.level = s.level AND d.subject = s.subject
             AND d.province = s.province AND d.school_id = s.school_id),
        measured AS (
            SELECT year, level, subject, province, school_id, 'supply' AS measure, supply AS count
            FROM need
            UNION ALL SELECT year, level, subject, province, school_id, 'demand', demand FROM need
            UNION ALL SELECT year, level, subject, province, school_id, 'shortage',
                             GREATEST(demand - supply, 0) FROM need
            UNION ALL SELECT year, level, subject, province, school_id, 'surplus',
                             GREATEST(supply - demand, 0) FROM need)
        SELECT m.year, m.level, m.subject, m.measure, m.province, m.school_id, sc.urban_rural,
               sc.ownership, m.count
        FROM measured AS m LEFT JOIN schools AS sc ON sc.school_id = m.school_id
        WHERE m.count > 0 OR m.measure IN ('supply', 'demand')""",
}
# Each school's submission per reporting period: complete once submitted or approved, on time
# when that happened by the due date (local dates).
SUBMISSIONS_SQL = """SELECT school_year AS year, period, province, school_id,
       CASE WHEN status IN ('submitted', 'approved') THEN 'yes' ELSE 'no' END AS complete,
       CASE WHEN status IN ('submitted', 'approved') AND submitted_on <= due_on THEN 'yes'
            ELSE 'no' END AS on_time,
       COUNT(*) AS count
    FROM submissions_src GROUP BY school_year, period, province, school_id, 5, 6"""
# Not per school year: identity verification as it stands (persons are partitioned by province).
IDENTITIES_SQL = """SELECT province, verification_status, COUNT(*) AS count FROM persons
    GROUP BY province, verification_status"""
CUBE_TABLES = (*CUBE_SQL, "population", "levels", "identities", "submissions")

# Empty stand-ins with the snapshot's schema, for datasets that have no file yet.
SOURCE_SCHEMAS = {
    "enrolments": "enrolment_id BIGINT, person_id BIGINT, school_id BIGINT, class_id BIGINT, "
    "grade INTEGER, level VARCHAR, status VARCHAR, started_on DATE, ended_on DATE, outcome VARCHAR, "
    "sex VARCHAR, birth_year INTEGER, ethnicity VARCHAR, disability VARCHAR, ownership VARCHAR, "
    "urban_rural VARCHAR, school_year INTEGER, province VARCHAR",
    "staff": "assignment_id BIGINT, person_id BIGINT, school_id BIGINT, role VARCHAR, "
    "level VARCHAR, subjects VARCHAR[], qualification VARCHAR, contract_type VARCHAR, sex VARCHAR, birth_year INTEGER, "
    "ethnicity VARCHAR, ownership VARCHAR, urban_rural VARCHAR, school_year INTEGER, "
    "province VARCHAR",
    "population": "year INTEGER, province VARCHAR, age INTEGER, sex VARCHAR, count BIGINT",
    "classes": "class_id BIGINT, school_id BIGINT, grade INTEGER, level VARCHAR, "
    "two_sessions BOOLEAN, combined_grades BOOLEAN, school_year INTEGER, province VARCHAR",
    "persons": "person_id BIGINT, birth_year INTEGER, sex VARCHAR, ethnicity VARCHAR, "
    "disability VARCHAR, verification_status VARCHAR, province VARCHAR",
    "submissions": "school_id BIGINT, province VARCHAR, school_year INTEGER, period VARCHAR, "
    "status VARCHAR, submitted_on DATE, due_on DATE",
    "schools": "school_id BIGINT, code VARCHAR, name VARCHAR, province VARCHAR, "
    "commune_code VARCHAR, level VARCHAR, ownership VARCHAR, urban_rural VARCHAR, status VARCHAR",
}
HIVE_TYPES = "{'school_year': INTEGER, 'province': VARCHAR}"


def snapshot_root() -> Path:
    return Path(getattr(settings, "STATS_SNAPSHOT_DIR", settings.VAR_DIR / "snapshot"))


def _parquet(path: Path) -> str:
    return str(path).replace("'", "''")


def _partitioned_view(con, name: str, directory: Path, where: str = "", schema: str = "") -> None:
    if directory.is_dir() and any(directory.rglob("*.parquet")):
        glob = _parquet(directory / "**" / "*.parquet")
        con.execute(
            f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{glob}', "
            f"hive_partitioning = true, hive_types = {HIVE_TYPES}, union_by_name = true)"
            + (f" WHERE {where}" if where else "")
        )
    else:
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {_empty(SOURCE_SCHEMAS[schema or name])}")


def _empty(schema: str) -> str:
    columns = (c.split(" ") for c in schema.split(", "))
    return (
        "SELECT " + ", ".join(f"NULL::{kind} AS {name}" for name, kind in columns) + " WHERE false"
    )


def source_views(con: duckdb.DuckDBPyConnection, root: Path, where: str = "") -> None:
    """Views ``enrolments``, ``staff``, ``population`` (raw) and ``enrolled`` over the snapshot."""
    _partitioned_view(con, "enrolments", root / "enrolments", where)
    _partitioned_view(con, "staff", root / "staff", where)
    # The snapshot's classes as "school_classes": "classes" is the cube table of class counts.
    _partitioned_view(con, "school_classes", root / "classes", where, schema="classes")
    persons = root / "persons"
    if persons.is_dir() and any(persons.rglob("*.parquet")):
        glob = _parquet(persons / "**" / "*.parquet")
        con.execute(
            f"CREATE OR REPLACE VIEW persons AS SELECT * FROM read_parquet('{glob}', "
            "hive_partitioning = true, hive_types = {'province': VARCHAR})"
        )
    else:
        con.execute(f"CREATE OR REPLACE VIEW persons AS {_empty(SOURCE_SCHEMAS['persons'])}")
    submissions = root / "submissions.parquet"
    if submissions.is_file():
        con.execute(
            "CREATE OR REPLACE VIEW submissions_src AS SELECT * FROM "
            f"read_parquet('{_parquet(submissions)}')"
        )
    else:
        con.execute(
            f"CREATE OR REPLACE VIEW submissions_src AS {_empty(SOURCE_SCHEMAS['submissions'])}"
        )
    schools = root / "schools.parquet"
    if schools.is_file():
        con.execute(
            f"CREATE OR REPLACE VIEW schools AS SELECT * FROM read_parquet('{_parquet(schools)}')"
        )
    else:
        con.execute(f"CREATE OR REPLACE VIEW schools AS {_empty(SOURCE_SCHEMAS['schools'])}")
    population = root / "population.parquet"
    if population.is_file():
        con.execute(
            f"CREATE OR REPLACE VIEW population_src AS SELECT year, province, age, sex, count "
            f"FROM read_parquet('{_parquet(population)}')"
        )
    else:
        con.execute(
            f"CREATE OR REPLACE VIEW population_src AS {_empty(SOURCE_SCHEMAS['population'])}"
        )
    con.execute(f"CREATE OR REPLACE VIEW enrolled AS {ENROLLED_SQL}")
    register_duckdb(con)


def cube_from_sources(con: duckdb.DuckDBPyConnection) -> DuckDBEngine:
    """Materialise the cube tables from the source views (all partitions at once)."""
    for table, sql in CUBE_SQL.items():
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {sql}")
    _small_tables(con)
    return DuckDBEngine(con)


def _small_tables(con) -> None:
    con.execute("CREATE OR REPLACE TABLE population AS SELECT * FROM population_src")
    con.execute(f"CREATE OR REPLACE TABLE levels AS {LEVELS_SQL}")
    con.execute(f"CREATE OR REPLACE TABLE identities AS {IDENTITIES_SQL}")
    con.execute(f"CREATE OR REPLACE TABLE submissions AS {SUBMISSIONS_SQL}")


def cube_write(*, school_year: int, province: str, root: Path | None = None) -> dict[str, int]:
    """Rewrite the cube partitions of one snapshot partition (after it was rewritten)."""
    root = root or snapshot_root()
    if not (str(province).isdigit() and len(province) == 2):
        raise ValueError("province must be a two-digit code")
    con = duckdb.connect()
    source_views(con, root, where=f"school_year = {int(school_year)} AND province = '{province}'")
    written = {}
    for table, sql in CUBE_SQL.items():
        directory = (
            root / "cube" / table / f"school_year={int(school_year)}" / f"province={province}"
        )
        directory.mkdir(parents=True, exist_ok=True)
        final, temp = directory / "part-0.parquet", directory / ".part-0.parquet.tmp"
        # Partition columns live in the path; the file keeps the rest.
        columns = "* EXCLUDE (year, province)"
        con.execute(f"COPY (SELECT {columns} FROM ({sql})) TO '{_parquet(temp)}' (FORMAT parquet)")
        temp.replace(final)
        written[table] = con.execute(f"SELECT COUNT(*) FROM ({sql})").fetchone()[0]
    return written


def cube_remove(*, school_year: int, province: str, root: Path | None = None) -> None:
    """Drop the cube partitions of a snapshot partition that no longer exists."""
    root = root or snapshot_root()
    for table in CUBE_SQL:
        path = root / "cube" / table / f"school_year={int(school_year)}" / f"province={province}"
        for file in path.glob("*.parquet"):
            file.unlink()


def _cube_views(con, root: Path) -> None:
    for table in CUBE_SQL:
        directory = root / "cube" / table
        if directory.is_dir() and any(directory.rglob("*.parquet")):
            glob = _parquet(directory / "**" / "*.parquet")
            con.execute(
                f"CREATE OR REPLACE TABLE {table} AS SELECT * EXCLUDE (school_year), "
                f"school_year AS year FROM read_parquet('{glob}', hive_partitioning = true, "
                f"hive_types = {HIVE_TYPES})"
            )
        else:
            con.execute(f"CREATE OR REPLACE TABLE {table} AS {CUBE_SQL[table]} LIMIT 0")
    _small_tables(con)


# Province-level copies of the cube tables (no school, no single ethnic group): national and
# provincial figures read these, a few thousand rows, instead of the school-level cube.
ROLLUP = "__p"
ROLLUP_DROPS = {"school_id", "ethnicity"}


def cube_rollups(con) -> None:
    for table in CUBE_SQL:
        columns = [
            c
            for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position",
                [table],
            ).fetchall()
            if c not in ROLLUP_DROPS and c != "count"
        ]
        keys = ", ".join(columns)
        con.execute(
            f"CREATE OR REPLACE TABLE {table}{ROLLUP} AS SELECT {keys}, SUM(count) AS count "
            f"FROM {table} GROUP BY {keys}"
        )


def snapshot_version(root: Path | None = None) -> str:
    """Changes whenever a snapshot or cube file is rewritten (for caches)."""
    root = root or snapshot_root()
    stamp = root / "VERSION"
    if stamp.is_file():
        return stamp.read_text().strip()
    latest = max((p.stat().st_mtime_ns for p in root.rglob("*.parquet")), default=0)
    return str(latest)


_ENGINES: dict[tuple[str, str], DuckDBEngine] = {}


def snapshot_engine(root: Path | None = None) -> DuckDBEngine:
    """A DuckDB engine over the written cube (or, with no cube yet, one built from the snapshot),
    kept in memory per process until the snapshot changes."""
    root = root or snapshot_root()
    key = (str(root), snapshot_version(root))
    engine = _ENGINES.get(key)
    if engine is None:
        con = duckdb.connect()
        source_views(con, root)
        if (root / "cube").is_dir():
            _cube_views(con, root)
            engine = DuckDBEngine(con)
        else:
            engine = cube_from_sources(con)
        from .aggregates_store import aggregates_union

        aggregates_union(con, root)
        cube_rollups(con)
        _ENGINES.clear()
        _ENGINES[key] = engine
    return engine
