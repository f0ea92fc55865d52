"""Benchmark: the full indicator set for every province and the nation, at national size.

Builds (or reuses, under ``var/bench/stats-N``) a synthetic national snapshot laid out as the
snapshot writer writes it (docs/stats.md): N pupils enrolled in each of two school years (the
flow rates of year t read t + 1), 54,000 schools with a level, ownership and area, teachers
(N / 15) and a population by province, age and sex. Then, in one run:

(a) **cube**: the per-partition cube files written as a snapshot refresh writes them (68
    partitions), timed as a whole;
(b) **duckdb_s**: a fresh DuckDB engine over the cube files, then every indicator of the
    catalogue for every level: the national value, by sex, by grade where it has them, and the
    value of every province (about 150 queries);
(c) **duckdb_units_s**: the same, building the cube from the unit records in memory (what the
    PostgreSQL run must do too);
(d) **postgres_s**: the same cube SQL and indicator SQL, transpiled by SQLGlot, on PostgreSQL
    over the same unit rows (an UNLOGGED table loaded by COPY, not timed; 2 parallel workers);
    ratio_duckdb_vs_postgres = duckdb_units_s / postgres_s;
(e) **incremental_s**: one province's enrolment partition changes (statuses of 1% of its
    pupils); its cube partition is rewritten and the indicator set recomputed.

    .venv/bin/python bench/stats.py [--students 24000000] [--database-url postgres://...]

The last line is one JSON object: students, duckdb_s, duckdb_units_s, postgres_s,
ratio_duckdb_vs_postgres, incremental_s, rows_per_s (unit rows reduced per second by (c)),
cube_s, queries, peak_rss_mb, and the goals.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

YEARS = (2024, 2025)
SCHOOLS = 54_000
PROVINCES = [f"{n:02d}" for n in range(1, 35)]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vnemis.config.settings.dev")
    os.environ.setdefault("VNEMIS_VAR_DIR", str(ROOT / "var"))
    import django

    django.setup()


def build_snapshot(root: Path, students: int) -> None:
    """Synthetic unit records with DuckDB, hash-based so that a given N is always the same data."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    province_list = ", ".join(f"'{p}'" for p in PROVINCES)
    # Schools: 58% primary, 27% lower secondary, 15% upper secondary; 8% private; 35% urban.
    con.execute(f"""
        CREATE TABLE schools AS
        SELECT i::BIGINT AS school_id, list_extract([{province_list}], 1 + (hash(i, 'p') % 34)::INT) AS province,
               CASE WHEN hash(i, 'l') % 100 < 58 THEN 1 WHEN hash(i, 'l') % 100 < 85 THEN 6 ELSE 10 END
                   AS first_grade,
               CASE WHEN hash(i, 'o') % 100 < 8 THEN 'private' ELSE 'public' END AS ownership,
               CASE WHEN hash(i, 'u') % 100 < 35 THEN 'urban' ELSE 'rural' END AS urban_rural,
               CASE WHEN hash(i, 'e') % 100 < 80 THEN '01'
                    ELSE lpad(CAST(2 + hash(i, 'g') % 40 AS VARCHAR), 2, '0') END AS main_ethnicity
        FROM range({SCHOOLS}) t(i)
    """)
    con.execute("""CREATE TABLE schools_by_level AS SELECT *, row_number() OVER
        (PARTITION BY first_grade ORDER BY school_id) - 1 AS k,
        COUNT(*) OVER (PARTITION BY first_grade) AS n FROM schools""")
    n = dict(con.execute("SELECT first_grade, COUNT(*) FROM schools GROUP BY 1").fetchall())
    pick = f"CASE fg WHEN 1 THEN {n[1]} WHEN 6 THEN {n[6]} ELSE {n[10]} END"
    for year in YEARS:
        # Grades: weights of the national pyramid (primary 1.0, lower secondary 0.9, upper 0.6).
        con.execute(f"""
            COPY (
            WITH p AS (
              SELECT i, {year} AS school_year,
                CASE WHEN hash(i, {year}, 'g') % 1000 < 465 THEN 1 + hash(i, 'gp') % 5
                     WHEN hash(i, {year}, 'g') % 1000 < 800 THEN 6 + hash(i, 'gl') % 4
                     ELSE 10 + hash(i, 'gu') % 3 END AS grade,
                hash(i, {year}, 'r') % 1000 AS r
              FROM range({students}) t(i)),
            q AS (
              SELECT *, hash(i, 'school') % ({pick}) AS k FROM (
                SELECT p.*, CASE WHEN grade <= 5 THEN 1 WHEN grade <= 9 THEN 6 ELSE 10 END AS fg
                FROM p))
            SELECT i + {year}::BIGINT * 100000000 AS enrolment_id, i AS person_id, s.school_id,
                   s.school_id * 20 + grade AS class_id, grade::INTEGER AS grade,
                   CASE WHEN grade <= 5 THEN 'primary' WHEN grade <= 9 THEN 'lower_secondary'
                        ELSE 'upper_secondary' END AS level,
                   CASE WHEN r < 15 THEN 'repeating' WHEN r < 25 THEN 'dropped_out'
                        WHEN r < 40 THEN 'transferred_out'
                        WHEN grade IN (5, 9, 12) AND r > 80 THEN 'graduated'
                        ELSE 'studying' END AS status,
                   make_date(school_year, 9, 5) AS started_on,
                   CASE WHEN r BETWEEN 25 AND 39 THEN make_date(school_year + 1, 1, 10) END AS ended_on,
                   '' AS outcome,
                   CASE WHEN hash(i, 's') % 2 = 0 THEN 'F' ELSE 'M' END AS sex,
                   (school_year - grade - 5 - CASE WHEN r % 10 = 0 THEN 1 ELSE 0 END)::INTEGER
                       AS birth_year,
                   CASE WHEN hash(i, 'x') % 10 < 8 THEN s.main_ethnicity ELSE '01' END AS ethnicity,
                   '' AS disability, s.ownership, s.urban_rural, school_year, s.province
            FROM q JOIN schools_by_level s
              ON s.first_grade = q.fg AND s.k = q.k
            ) TO '{root / "enrolments"}' (FORMAT parquet, PARTITION_BY (school_year, province),
                 OVERWRITE_OR_IGNORE true)
        """)
        con.execute(f"""
            COPY (
            SELECT i AS assignment_id, 900000000 + i AS person_id, s.school_id, 'teacher' AS role,
                   CASE s.first_grade WHEN 1 THEN 'primary' WHEN 6 THEN 'lower_secondary'
                        ELSE 'upper_secondary' END AS level,
                   [list_element(CASE s.first_grade
                        WHEN 1 THEN ['TV', 'TOAN', 'NN', 'TIN', 'GDTC', 'NT', 'CN']
                        WHEN 6 THEN ['TOAN', 'VAN', 'NN', 'KHTN', 'LSDL', 'GDCD', 'CN', 'TIN',
                                     'GDTC', 'NT', 'HDTN']
                        ELSE ['TOAN', 'VAN', 'NN', 'LY', 'HOA', 'SINH', 'SU', 'DIA', 'KTPL',
                              'CN', 'TIN', 'GDQP', 'GDTC'] END,
                        1 + CAST(hash(i, 'subject') % CASE s.first_grade WHEN 1 THEN 7
                                 WHEN 6 THEN 11 ELSE 13 END AS INTEGER))] AS subjects,
                   CASE WHEN hash(i, 'q') % 20 = 0 THEN 'college' ELSE 'bachelor' END AS qualification, 'permanent' AS contract_type,
                   CASE WHEN hash(i, 'ts') % 10 < 7 THEN 'F' ELSE 'M' END AS sex,
                   1985 AS birth_year, '01' AS ethnicity, s.ownership, s.urban_rural,
                   {year} AS school_year, s.province
            FROM range({students // 15}) t(i) JOIN schools s ON s.school_id = hash(i, 't') % {SCHOOLS}
            ) TO '{root / "staff"}' (FORMAT parquet, PARTITION_BY (school_year, province),
                 OVERWRITE_OR_IGNORE true)
        """)
    # Population: pupils of each age divided by an enrolment ratio, by province and sex.
    con.execute(f"""
        COPY (
        SELECT year::INTEGER AS year, province, age::INTEGER AS age, sex,
               CAST(ceil(COUNT(*) / CASE WHEN age <= 10 THEN 0.98 WHEN age <= 14 THEN 0.93
                    ELSE 0.75 END) AS BIGINT) AS count
        FROM (SELECT school_year AS year, province, school_year - birth_year AS age, sex
              FROM read_parquet('{root / "enrolments" / "**" / "*.parquet"}', hive_partitioning = true,
                                hive_types = {{'school_year': INTEGER, 'province': VARCHAR}}))
        GROUP BY year, province, age, sex) TO '{root / "population.parquet"}' (FORMAT parquet)
    """)
    (root / "BENCH_STUDENTS").write_text(str(students))


def ensure_classes(root: Path) -> None:
    """Classes (35 pupils a class) and schools.parquet, added to a snapshot built without them."""
    import duckdb

    if (root / "classes").is_dir() and (root / "schools.parquet").is_file():
        return
    con = duckdb.connect()
    hive = "hive_partitioning = true, hive_types = {'school_year': INTEGER, 'province': VARCHAR}"
    con.execute(f"""
        COPY (
        SELECT school_id * 1000 + grade * 50 + k AS class_id, school_id, grade, level,
               hash(school_id, grade, k) % 3 <> 0 AS two_sessions, false AS combined_grades,
               school_year, province
        FROM (SELECT school_year, province, school_id, grade, any_value(level) AS level,
                     CAST(ceil(COUNT(*) / 35.0) AS INTEGER) AS n
              FROM read_parquet('{root / "enrolments" / "**" / "*.parquet"}', {hive})
              GROUP BY school_year, province, school_id, grade) AS g,
             LATERAL (SELECT unnest(range(g.n)) AS k)
        ) TO '{root / "classes"}' (FORMAT parquet, PARTITION_BY (school_year, province),
             OVERWRITE_OR_IGNORE true)
    """)
    con.execute(f"""
        COPY (SELECT DISTINCT school_id, province, ownership, urban_rural
              FROM read_parquet('{root / "enrolments" / "**" / "*.parquet"}', {hive}))
        TO '{root / "schools.parquet"}' (FORMAT parquet)
    """)


def write_cube(root: Path) -> float:
    from vnemis.stats.cube import cube_write

    shutil.rmtree(root / "cube", ignore_errors=True)
    start = time.perf_counter()
    for year in YEARS:
        for province in PROVINCES:
            cube_write(school_year=year, province=province, root=root)
    return time.perf_counter() - start


def indicator_set(engine) -> int:
    """Every indicator, every level: national summary, by sex and grade, and every province."""
    from vnemis.stats.indicators.catalogue import BY_CODE, UIS_INDICATORS
    from vnemis.stats.indicators.compute import Request, indicator_rows, indicator_summary

    # The UIS set and the Ministry's figures on classes and teachers (the synthetic snapshot has
    # no identity checks or period submissions).
    operations = ("PUPILS_PER_CLASS", "TEACHERS_PER_CLASS", "TEACHER_GAP", "QUALIFIED_TEACHERS_PCT")
    INDICATORS = (*UIS_INDICATORS, *(BY_CODE[c] for c in operations))

    queries = 0
    year = YEARS[0]
    for indicator in INDICATORS:
        for level in ("primary", "lower_secondary", "upper_secondary"):
            if indicator.code == "TRANSITION_RATE" and level == "upper_secondary":
                continue
            indicator_summary(engine, Request(indicator.code, year, level))
            rows = indicator_rows(engine, Request(indicator.code, year, level, by=("province",)))
            assert len(rows) == len(PROVINCES), (indicator.code, level, len(rows))
            queries += 2 + indicator.by_sex + indicator.by_grade
            if indicator.by_sex:
                indicator_rows(engine, Request("GPI_" + indicator.code, year, level))
                queries += 1
    return queries


class PostgresEngine:
    """The same SQL on PostgreSQL (transpiled by SQLGlot), for the comparison only."""

    name = "postgres"

    def __init__(self, conn):
        self.conn = conn

    def columns(self, table):
        found = self.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table]
        ).fetchall()
        return {c for (c,) in found} or None

    def rows(self, sql):
        import sqlglot

        cursor = self.conn.execute(sqlglot.transpile(sql, read="duckdb", write="postgres")[0])
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


PG_COLUMNS = (
    "school_year INT, province TEXT, school_id BIGINT, grade INT, level TEXT, status TEXT, "
    "started_on DATE, ended_on DATE, outcome TEXT, sex TEXT, birth_year INT, ethnicity TEXT, "
    "ownership TEXT, urban_rural TEXT"
)
PG_STAFF = (
    "school_year INT, province TEXT, assignment_id BIGINT, school_id BIGINT, role TEXT, "
    "level TEXT, subject TEXT, sex TEXT, qualification TEXT, ethnicity TEXT, ownership TEXT, "
    "urban_rural TEXT"
)
# Columns read from the snapshot under another expression (PostgreSQL gets a plain text column
# for the one subject each bench teacher has; the staff view turns it back into an array).
PG_EXPRESSIONS = {"subject": "subjects[1] AS subject"}
PG_CLASSES = "school_year INT, province TEXT, class_id BIGINT, school_id BIGINT, grade INT, level TEXT, two_sessions BOOLEAN"
PG_SCHOOLS = "school_id BIGINT, province TEXT, ownership TEXT, urban_rural TEXT"


def load_postgres(conn, root: Path, students: int) -> float:
    """The unit rows into UNLOGGED tables by COPY (kept between runs of the same N)."""
    import duckdb
    import pyarrow.csv as pacsv

    marker = f"bench students {students} v3"
    existing = conn.execute(
        "SELECT obj_description(oid) FROM pg_class WHERE relname = 'bench_enrolments'"
    ).fetchone()
    if existing and existing[0] == marker:
        return 0.0
    start = time.perf_counter()
    con = duckdb.connect()
    hive = "hive_partitioning = true, hive_types = {'school_year': INTEGER, 'province': VARCHAR}"
    for table, columns, dataset in (
        ("bench_enrolments", PG_COLUMNS, "enrolments"),
        ("bench_staff", PG_STAFF, "staff"),
        ("bench_classes", PG_CLASSES, "classes"),
        ("bench_schools", PG_SCHOOLS, "schools.parquet"),
    ):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE UNLOGGED TABLE {table} ({columns})")
        names = ", ".join(c.split(" ")[0] for c in columns.split(", "))
        expressions = ", ".join(
            PG_EXPRESSIONS.get(c.split(" ")[0], c.split(" ")[0]) for c in columns.split(", ")
        )
        source = (
            f"read_parquet('{root / dataset}')"
            if dataset.endswith(".parquet")
            else f"read_parquet('{root / dataset / '**' / '*.parquet'}', {hive})"
        )
        reader = con.sql(f"SELECT {expressions} FROM {source}").to_arrow_reader(1_000_000)
        with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN (FORMAT csv)") as copy:
            for batch in reader:
                buffer = io.BytesIO()
                pacsv.write_csv(
                    batch, buffer, write_options=pacsv.WriteOptions(include_header=False)
                )
                copy.write(buffer.getvalue())
        conn.execute(f"ANALYZE {table}")
    conn.execute(f"COMMENT ON TABLE bench_enrolments IS '{marker}'")
    population = con.execute(
        f"SELECT * FROM read_parquet('{root / 'population.parquet'}')"
    ).fetchall()
    conn.execute("DROP TABLE IF EXISTS population")
    conn.execute(
        "CREATE UNLOGGED TABLE population (year INT, province TEXT, age INT, sex TEXT, count BIGINT)"
    )
    with conn.cursor().copy("COPY population FROM STDIN") as copy:
        for row in population:
            copy.write_row(row)
    conn.commit()
    return time.perf_counter() - start


def postgres_run(conn) -> float:
    import sqlglot

    from vnemis.stats.cube import CUBE_SQL, ENROLLED_SQL, LEVELS_SQL
    from vnemis.stats.curriculum import curriculum_tables

    def pg(sql):
        # SQLGlot writes DuckDB's make_date as DATE_FROM_PARTS, which PostgreSQL does not have.
        out = sqlglot.transpile(sql, read="duckdb", write="postgres")[0]
        return out.replace("DATE_FROM_PARTS(", "MAKE_DATE(")

    conn.execute("SET max_parallel_workers_per_gather = 2")
    conn.execute("SET work_mem = '256MB'")
    start = time.perf_counter()
    conn.execute("CREATE OR REPLACE TEMP VIEW enrolments AS SELECT * FROM bench_enrolments")
    conn.execute(
        "CREATE OR REPLACE TEMP VIEW staff AS SELECT *, ARRAY[subject] AS subjects FROM bench_staff"
    )
    tables = curriculum_tables()
    conn.execute(
        "CREATE TEMP TABLE curriculum (level TEXT, grade INT, subject TEXT, teaching_subject TEXT, "
        "periods DOUBLE PRECISION, share DOUBLE PRECISION)"
    )
    conn.cursor().executemany(
        "INSERT INTO curriculum VALUES (%s, %s, %s, %s, %s, %s)", tables["curriculum"][1]
    )
    conn.execute("CREATE TEMP TABLE teaching_load (level TEXT, periods DOUBLE PRECISION)")
    conn.cursor().executemany(
        "INSERT INTO teaching_load VALUES (%s, %s)", tables["teaching_load"][1]
    )
    conn.execute("CREATE OR REPLACE TEMP VIEW school_classes AS SELECT * FROM bench_classes")
    conn.execute("CREATE OR REPLACE TEMP VIEW schools AS SELECT * FROM bench_schools")
    conn.execute(f"CREATE OR REPLACE TEMP VIEW enrolled AS {pg(ENROLLED_SQL)}")
    for table, sql in CUBE_SQL.items():
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TEMP TABLE {table} AS {pg(sql)}")
    conn.execute("DROP TABLE IF EXISTS levels")
    conn.execute(f"CREATE TEMP TABLE levels AS {pg(LEVELS_SQL)}")
    indicator_set(PostgresEngine(conn))
    seconds = time.perf_counter() - start
    conn.rollback()
    return seconds


def change_one_province(root: Path, province: str) -> None:
    """What a snapshot refresh of one province writes: its partition, 1% of statuses changed."""
    import duckdb

    directory = root / "enrolments" / f"school_year={YEARS[0]}" / f"province={province}"
    files = sorted(directory.glob("*.parquet"))
    temp = directory / ".rewrite.tmp"
    duckdb.connect().execute(f"""
        COPY (SELECT * REPLACE (CASE WHEN hash(enrolment_id, 'chg') % 100 = 0 THEN 'dropped_out'
                                     ELSE status END AS status)
              FROM read_parquet({[str(f) for f in files]}))
        TO '{temp}' (FORMAT parquet)
    """)
    for file in files:
        file.unlink()
    temp.replace(directory / "data_0.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=24_000_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--registry-pupils",
        type=int,
        help="pupils of the one province whose registry → snapshot refresh is timed "
        "(default: students / 34, an average province; 0 skips it)",
    )
    args = parser.parse_args()
    django_setup()
    import duckdb

    from vnemis.stats.cube import cube_from_sources, snapshot_engine, source_views

    root = ROOT / "var" / "bench" / f"stats-{args.students}"
    built = 0.0
    if (
        (root / "BENCH_STUDENTS").read_text().strip() != str(args.students)
        if (root / "BENCH_STUDENTS").exists()
        else True
    ):
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        start = time.perf_counter()
        build_snapshot(root, args.students)
        built = time.perf_counter() - start
        print(f"built the synthetic snapshot in {built:.1f} s")
    ensure_classes(root)
    cube_s = write_cube(root)
    print(f"cube partitions written in {cube_s:.1f} s")

    start = time.perf_counter()
    engine = snapshot_engine(root)
    queries = indicator_set(engine)
    duckdb_s = time.perf_counter() - start
    print(f"DuckDB over the cube: {queries} queries in {duckdb_s:.2f} s")

    start = time.perf_counter()
    con = duckdb.connect()
    source_views(con, root)
    units = cube_from_sources(con)
    cube_built = time.perf_counter() - start
    indicator_set(units)
    duckdb_units_s = time.perf_counter() - start
    unit_rows = con.execute("SELECT COUNT(*) FROM enrolments").fetchone()[0]
    print(f"DuckDB from the unit records ({unit_rows:,} rows): {duckdb_units_s:.2f} s")
    del units, con

    postgres_s = None
    if not args.no_postgres:
        import psycopg

        url = args.database_url or "postgres://postgres@127.0.0.1:5432/vnemis_bench_stats"
        server, _, name = url.rpartition("/")
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                admin.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(url) as conn:
            loaded = load_postgres(conn, root, args.students)
            if loaded:
                print(f"loaded PostgreSQL in {loaded:.1f} s (not timed)")
            postgres_s = postgres_run(conn)
        print(f"PostgreSQL, the same SQL: {postgres_s:.2f} s")

    province = "01"
    start = time.perf_counter()
    change_one_province(root, province)
    from vnemis.stats.cube import cube_write

    cube_write(school_year=YEARS[0], province=province, root=root)
    (root / "VERSION").write_text(str(time.time_ns()))
    indicator_set(snapshot_engine(root))
    incremental_s = time.perf_counter() - start
    (root / "VERSION").unlink()
    print(
        f"one province changed: cube partition rewritten and the set recomputed in {incremental_s:.2f} s"
    )

    registry = None
    pupils = args.students // 34 if args.registry_pupils is None else args.registry_pupils
    if pupils:
        import subprocess

        command = [
            sys.executable,
            str(ROOT / "bench" / "snapshot_refresh.py"),
            "--pupils",
            str(pupils),
        ]
        if args.database_url:
            command += ["--database-url", args.database_url.rpartition("/")[0]]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        registry = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"registry → snapshot, one province of {pupils:,} pupils, one pupil changed: "
            f"{registry['incremental_s']:.2f} s (full snapshot of it {registry['full_s']:.1f} s)"
        )
    # One province changed, end to end: its registry rows re-read into the snapshot and its cube
    # (measured on a province of ``pupils``), then the national indicator set recomputed.
    incremental_total = incremental_s + (registry["incremental_s"] if registry else 0.0)
    ratio = round(duckdb_units_s / postgres_s, 4) if postgres_s else None
    result = {
        "students": args.students,
        "duckdb_s": round(duckdb_s, 3),
        "duckdb_units_s": round(duckdb_units_s, 3),
        "duckdb_cube_build_s": round(cube_built, 3),
        "postgres_s": round(postgres_s, 3) if postgres_s else None,
        "ratio_duckdb_vs_postgres": ratio,
        "incremental_s": round(incremental_total, 3),
        "incremental_cube_and_indicators_s": round(incremental_s, 3),
        "incremental_registry_refresh_s": registry["incremental_s"] if registry else None,
        "registry_province_pupils": pupils,
        "registry_full_snapshot_s": registry["full_s"] if registry else None,
        "rows_per_s": round(unit_rows / duckdb_units_s),
        "unit_rows": unit_rows,
        "cube_s": round(cube_s, 2),
        "queries": queries,
        "snapshot_build_s": round(built, 1),
        "peak_rss_mb": round(peak_rss_mb()),
        "goals": {
            "duckdb_s<5": duckdb_s < 5,
            "ratio<=0.1": ratio is not None and ratio <= 0.1,
            "incremental_s<10": incremental_total < 10,
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
