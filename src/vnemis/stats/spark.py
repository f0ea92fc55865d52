# ruff: noqa: S608 -- SQL from cube.py's constants and fixed table names.
"""Apache Spark for the statistics: the same cube and indicator SQL as DuckDB, on a cluster.

``spark_engine(root)`` registers the snapshot's datasets as temporary views with the names and
column types of ``cube.source_views`` (``enrolments``, ``staff``, ``school_classes``, ``persons``,
``schools``, ``submissions_src``, ``population_src``, ``enrolled``), builds the cube tables
from ``cube.CUBE_SQL`` (and the small tables, stored aggregates and province-level copies that
``cube.snapshot_engine`` adds) transpiled by SQLGlot, caches them, and returns a
``SparkEngine``: ``compute.indicator_rows`` then runs unchanged. The root may be a
local directory or an object-store URL (``s3a://bucket/snapshot``).

The session comes from ``spark_session()``: master ``VNEMIS_SPARK_MASTER`` (a Django setting or
the environment; ``local[2]`` when unset, or whatever ``spark-submit`` was given), extra
``spark.*`` settings in ``VNEMIS_SPARK_CONF`` (``key=value`` separated by commas or spaces).
A local master binds to 127.0.0.1 and needs no network. docs/spark.md explains clusters;
``spark-submit …/vnemis/stats/spark.py --root s3a://… --indicator GER --year 2024`` (``main``)
prints one indicator as ``vnemis stats compute`` does.
"""

import functools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from vnemis.stats.aggregates_store import STORED
from vnemis.stats.cube import (
    CUBE_SQL,
    ENROLLED_SQL,
    IDENTITIES_SQL,
    LEVELS_SQL,
    ROLLUP,
    ROLLUP_DROPS,
    SOURCE_SCHEMAS,
    SUBMISSIONS_SQL,
)
from vnemis.stats.curriculum import curriculum_tables
from vnemis.stats.indicators.compute import IndicatorError
from vnemis.stats.indicators.engines import Engine, SparkEngine, to_spark

MASTER_ENV = "VNEMIS_SPARK_MASTER"
CONF_ENV = "VNEMIS_SPARK_CONF"
DEFAULT_MASTER = "local[2]"
MIN_JAVA = 17
JAVA_MISSING = "Java 17 not found: Spark engine tests skipped (install openjdk-17-jre-headless)"
ENGINES = ("duckdb", "spark")

# Only errors reach the console: Spark's own INFO/WARN lines would drown a command's output.
LOG4J2 = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
"""


# --- Java --------------------------------------------------------------------------------------


def _java_executable() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def java_major(version_text: str) -> int | None:
    """The major version in ``java -version`` output (``1.8.0_392`` is 8, ``17.0.15`` is 17)."""
    found = re.search(r'version "(\d+)(?:\.(\d+))?', version_text)
    if found is None:
        return None
    major = int(found.group(1))
    if major == 1 and found.group(2):
        major = int(found.group(2))
    return major


@functools.cache
def java_version() -> int | None:
    """The major version of the Java that Spark would start, or None when there is none."""
    java = _java_executable()
    if java is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 -- a fixed argument list, no shell
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return java_major(done.stderr + done.stdout)


def java_available() -> bool:
    """Whether a Java runtime Spark 4 accepts (17 or later) is installed."""
    version = java_version()
    return version is not None and version >= MIN_JAVA


# --- the session -------------------------------------------------------------------------------


def _setting(name: str) -> str | None:
    from django.conf import settings

    value = getattr(settings, name, None) if settings.configured else None
    return value if value else os.environ.get(name) or None


def parse_conf(text: str | None) -> dict[str, str]:
    """``spark.a=1, spark.b=2`` as a dict; anything else is refused with a message."""
    conf = {}
    for item in re.split(r"[,\s]+", text or ""):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("spark.") or not value:
            raise ValueError(
                f"{CONF_ENV}: '{item}' không phải dạng spark.<khoá>=<giá trị> / "
                f"'{item}' is not of the form spark.<key>=<value>"
            )
        conf[key] = value
    return conf


def _log4j_file() -> Path:
    path = Path(tempfile.gettempdir()) / "vnemis-spark-log4j2.properties"
    if not path.is_file() or path.read_text() != LOG4J2:
        temp = path.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(LOG4J2)
        temp.replace(path)
    return path


def local_cores(master: str) -> int:
    """The cores of a ``local``, ``local[N]`` or ``local[*]`` master."""
    found = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\s*\d+)?\])?", master.strip())
    if found is None:
        raise ValueError(
            f"{MASTER_ENV}: '{master}' không phải master local hợp lệ / is not a valid local master"
        )
    count = found.group(1)
    if count is None:
        return 1
    return (os.cpu_count() or 1) if count == "*" else max(1, int(count))


def spark_conf() -> dict[str, str]:
    """The session's settings: ours, then ``VNEMIS_SPARK_CONF`` on top."""
    master = _setting(MASTER_ENV)
    # Under spark-submit the master comes from its --master; only default it when we start Spark.
    if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:
        master = DEFAULT_MASTER
    conf = {
        "spark.app.name": "vnemis-stats",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # Partition values stay strings ("01" is a province, not the number 1); see _dataset.
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{_log4j_file()}",
    }
    if master:
        conf["spark.master"] = master
    if master and (master == "local" or master.startswith("local[")):
        # One machine: a shuffle partition per core (Spark's 200 suit a cluster, not a laptop).
        cores = str(local_cores(master))
        conf |= {
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.host": "127.0.0.1",
            "spark.sql.shuffle.partitions": cores,
            "spark.default.parallelism": cores,
        }
    return conf | parse_conf(_setting(CONF_ENV))


def spark_session():
    """The process's SparkSession (started on first use, then shared)."""
    if not java_available():
        raise IndicatorError(
            "spark_unavailable",
            "Không tìm thấy Java 17 trở lên: cài openjdk-17-jre-headless để dùng Spark",
            "Java 17 or later was not found: install openjdk-17-jre-headless to use Spark",
        )
    from pyspark.sql import SparkSession

    conf = spark_conf()
    if conf.get("spark.master", "").startswith("local"):
        # Spark's block manager and Netty read this, not spark.driver.bindAddress.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# --- the snapshot as views ---------------------------------------------------------------------

# (view, location under the root, partitioning, schema of its empty stand-in): the views of
# ``cube.source_views``. "year" datasets are partitioned by school_year and province and take
# the partition filter; "province" ones by province only; "file" ones are single files.
SOURCES = (
    ("enrolments", "enrolments", "year", "enrolments"),
    ("staff", "staff", "year", "staff"),
    ("school_classes", "classes", "year", "classes"),
    ("persons", "persons", "province", "persons"),
    ("submissions_src", "submissions.parquet", "file", "submissions"),
    ("schools", "schools.parquet", "file", "schools"),
    ("population_src", "population.parquet", "file", "population"),
)
POPULATION_COLUMNS = ("year", "province", "age", "sex", "count")
SMALL_TABLES = {"levels": LEVELS_SQL, "identities": IDENTITIES_SQL, "submissions": SUBMISSIONS_SQL}


def _spark_ddl(duckdb_schema: str) -> str:
    schema = re.sub(r"\bVARCHAR\[\]", "ARRAY<STRING>", duckdb_schema)
    return re.sub(r"\bVARCHAR\b", "STRING", schema)


def _empty(session, schema: str):
    return session.createDataFrame([], _spark_ddl(SOURCE_SCHEMAS[schema]))


def _location(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name}"


def _read(session, path: str, *, merge: bool, base: str | None = None):
    """The Parquet at ``path``, or None when there is none yet (no such path, or no file in it)."""
    from pyspark.errors import AnalysisException

    reader = session.read.option("mergeSchema", "true") if merge else session.read
    if base is not None:
        reader = reader.option("basePath", base)  # keeps the partition columns of a glob
    try:
        return reader.parquet(path)
    except AnalysisException as exc:
        if exc.getCondition() in {"PATH_NOT_FOUND", "UNABLE_TO_INFER_SCHEMA"}:
            return None
        raise


def _glob(values) -> str:
    values = list(values)
    return values[0] if len(values) == 1 else "{" + ",".join(values) + "}"


def partition_glob(years=None, provinces=None) -> str:
    """The partition directories to list (``school_year=2020/province={01,02}``), so files of
    other partitions are neither listed nor opened (their footers neither)."""
    partition_filter(years, provinces)  # the same checks
    year = _glob(str(int(y)) for y in years) if years else "*"
    province = _glob(str(p) for p in provinces) if provinces else "*"
    return f"school_year={year}/province={province}"


def _source(session, root: str, location: str, partitioning: str, schema: str, pruned: dict):
    """One source view's frame, typed as DuckDB's: ``school_year`` INTEGER and ``province``
    VARCHAR (partition values are read as strings, then the year cast), old and new files of a
    dataset merged by column name (DuckDB's ``union_by_name``)."""
    from pyspark.sql import functions as F

    path = base = _location(root, location)
    if partitioning == "year" and any(v is not None for v in pruned.values()):
        path = f"{base}/{partition_glob(**pruned)}"
    frame = _read(session, path, merge=partitioning != "file", base=base if path != base else None)
    if frame is None:
        return _empty(session, schema)
    if schema == "population":
        return frame.select(*POPULATION_COLUMNS)
    if partitioning == "year":
        frame = frame.withColumn("school_year", F.col("school_year").cast("int"))
        where = partition_filter(**pruned)
        return frame.where(where) if where else frame
    return frame


def partition_filter(years=None, provinces=None) -> str:
    """A predicate on the partition columns (for pruning); values are checked, not trusted."""
    parts = []
    if years is not None:
        years = [int(y) for y in years]
        parts.append(f"school_year IN ({', '.join(map(str, years)) or 'NULL'})")
    if provinces is not None:
        provinces = [str(p) for p in provinces]
        for province in provinces:
            if not (province.isdigit() and len(province) == 2):
                raise ValueError(f"province must be a two-digit code, not {province!r}")
        parts.append("province IN (" + ", ".join(f"'{p}'" for p in provinces) + ")")
    return " AND ".join(parts)


def _curriculum_views(session) -> None:
    """``curriculum.register_duckdb`` for Spark: the curriculum and teaching-load tables."""
    types = {
        "curriculum": "level STRING, grade INT, subject STRING, teaching_subject STRING, "
        "periods DOUBLE, share DOUBLE",
        "teaching_load": "level STRING, periods DOUBLE",
    }
    for name, (_columns, rows) in curriculum_tables().items():
        session.createDataFrame(rows, types[name]).createOrReplaceTempView(name)


def _cache(name: str, frame) -> None:
    # Lazy: the first query that reads a table fills the cache, the next ones read memory.
    frame.persist().createOrReplaceTempView(name)


def _with_stored_aggregates(session, root: str, table: str, cube):
    """``aggregates_store.aggregates_union`` for Spark: the stored aggregate rows of a (year,
    province) that has no unit records, with the cube table's columns and types."""
    from pyspark.sql import functions as F

    stored = _read(session, _location(root, f"aggregates/{table}.parquet"), merge=False)
    if stored is None:
        return cube
    stored = stored.join(cube.select("year", "province").distinct(), ["year", "province"], "anti")
    present = set(stored.columns)
    columns = [
        (F.col(f.name) if f.name in present else F.lit(None)).cast(f.dataType).alias(f.name)
        for f in cube.schema.fields
    ]
    return cube.unionByName(stored.select(*columns))


def _rollup(frame):
    """``cube.cube_rollups`` for Spark: the province-level copy of a cube table."""
    from pyspark.sql import functions as F

    keys = [c for c in frame.columns if c not in ROLLUP_DROPS and c != "count"]
    return frame.groupBy(*keys).agg(F.sum("count").alias("count"))


def spark_engine(root=None, *, spark=None, years=None, provinces=None) -> SparkEngine:
    """A Spark engine over the snapshot at ``root`` (a directory or URL; the settings' snapshot
    directory by default): the cube tables of ``cube.CUBE_SQL`` built from the unit records,
    the stored aggregates added where unit records are missing, the province-level copies.

    ``years`` and ``provinces`` restrict the unit records read (partition pruning); flow rates
    of year t also need year t + 1.
    """
    if root is None:
        from vnemis.stats.cube import snapshot_root

        root = snapshot_root()
    root = str(root)
    pruned = {"years": years, "provinces": provinces}
    partition_filter(**pruned)  # refuse bad values before starting anything
    # A session of its own: temporary views are per session, so two engines never mix tables.
    session = (spark or spark_session()).newSession()
    session.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    session.conf.set("spark.sql.session.timeZone", "UTC")
    for view, location, partitioning, schema in SOURCES:
        frame = _source(session, root, location, partitioning, schema, pruned)
        frame.createOrReplaceTempView(view)
    session.sql(to_spark(ENROLLED_SQL)).createOrReplaceTempView("enrolled")
    _curriculum_views(session)
    cached = []
    for table, sql in CUBE_SQL.items():
        cube = session.sql(to_spark(sql))
        if table in STORED:
            cube = _with_stored_aggregates(session, root, table, cube)
        _cache(table, cube)
        cached.append(table)
    population = session.table("population_src")
    _cache("population", _with_stored_aggregates(session, root, "population", population))
    cached.append("population")
    for table, sql in SMALL_TABLES.items():
        _cache(table, session.sql(to_spark(sql)))
        cached.append(table)
    for table in CUBE_SQL:
        _cache(table + ROLLUP, _rollup(session.table(table)))
        cached.append(table + ROLLUP)
    return SparkEngine(session, cached=tuple(cached))


def spark_aggregates_engine(directory, tables: set[str], *, spark=None) -> SparkEngine:
    """Aggregate CSV files on Spark: checked and typed by ``aggregates_engine`` (the same
    messages), then handed to Spark as Arrow tables."""
    from vnemis.stats.indicators.aggregates import aggregates_engine

    checked = aggregates_engine(directory, tables)
    session = (spark or spark_session()).newSession()
    names = [r["table_name"] for r in checked.rows("SELECT table_name FROM duckdb_tables()")]
    for name in names:
        arrow = checked.con.sql(f'SELECT * FROM "{name}"').to_arrow_table()
        _cache(name, session.createDataFrame(arrow))
    checked.con.close()
    return SparkEngine(session, cached=tuple(names))


def engine_for(name: str, root=None, *, aggregates=None, tables=()) -> Engine:
    """The engine ``--engine NAME`` asks for, over the snapshot at ``root`` (or over the
    aggregate files in ``aggregates``, reading ``tables``)."""
    if name == "duckdb":
        if aggregates is not None:
            from vnemis.stats.indicators.aggregates import aggregates_engine

            return aggregates_engine(aggregates, set(tables))
        from vnemis.stats.cube import snapshot_engine

        return snapshot_engine(Path(root) if root is not None else None)
    if name == "spark":
        if aggregates is not None:
            return spark_aggregates_engine(aggregates, set(tables))
        return spark_engine(root)
    raise IndicatorError(
        "unknown_engine",
        f"Không có bộ máy tính '{name}' (có: {', '.join(ENGINES)})",
        f"There is no engine '{name}' (known: {', '.join(ENGINES)})",
    )


def main(argv=None) -> int:
    """One indicator over a snapshot, as JSON on stdout: the entry point for ``spark-submit``."""
    import argparse
    import json
    import sys

    from vnemis.stats.indicators.catalogue import indicator_get
    from vnemis.stats.indicators.compute import Request, indicator_summary

    parser = argparse.ArgumentParser(prog="vnemis.stats.spark", description=main.__doc__)
    parser.add_argument("--root", required=True, help="the snapshot: a directory or s3a:// URL")
    parser.add_argument("--indicator", required=True, help="GER, NER, ..., GPI_GER")
    parser.add_argument("--year", required=True, type=int, help="school year's start year")
    parser.add_argument("--level", choices=["primary", "lower_secondary", "upper_secondary"])
    parser.add_argument("--province", help="a province code")
    parser.add_argument("--years", help="read only these school years (e.g. 2023,2024)")
    args = parser.parse_args(argv)
    filters = (("province", args.province.zfill(2)),) if args.province else ()
    years = [int(y) for y in args.years.split(",")] if args.years else None
    if indicator_get(args.indicator) is None:  # before minutes of Spark, not after
        print(f"Không có chỉ số '{args.indicator}' / unknown indicator", file=sys.stderr)
        return 2
    try:
        engine = spark_engine(args.root, years=years)
        result = indicator_summary(
            engine, Request(args.indicator.upper(), args.year, args.level, filters)
        )
    except IndicatorError as exc:
        print(f"{exc.vi} / {exc.en}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
