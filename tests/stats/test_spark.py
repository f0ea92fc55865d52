"""Spark gives DuckDB's answers: one definition per indicator, two engines.

The small snapshot of ``test_indicators_units`` is read by both engines: the cube tables must
have the same columns, types and rows, and every request of ``requests()`` the same rows
(counts exactly, values to 1e-12). The aggregate files go through Spark too. One SparkSession
(``local[2]``, no network) serves the module; the cube tables are cached once.
Without Java 17 the Spark tests skip, saying so; the settings and input checks still run.
"""

import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest

from vnemis.stats import spark as sp
from vnemis.stats.cube import CUBE_SQL, CUBE_TABLES, ROLLUP, snapshot_engine
from vnemis.stats.indicators.aggregates import AggregateError, aggregates_engine
from vnemis.stats.indicators.catalogue import INDICATORS, OPERATIONS, UIS_INDICATORS
from vnemis.stats.indicators.compute import IndicatorError, Request, indicator_rows
from vnemis.stats.indicators.engines import DuckDBEngine, SparkEngine, to_spark

from .test_indicators_units import (
    LEVEL_OF,
    as_table,
    requests,
    unit_records,
    write_aggregates,
    write_snapshot,
)

SPARK_TO_DUCKDB = {
    "bigint": "BIGINT",
    "int": "INTEGER",
    "smallint": "SMALLINT",
    "string": "VARCHAR",
    "date": "DATE",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
}
SOURCE_VIEWS = ("enrolments", "staff", "enrolled", "school_classes", "persons", "schools")
SOURCE_VIEWS += ("submissions_src", "population_src")


@pytest.fixture(scope="module")
def spark():
    if not sp.java_available():
        pytest.skip(sp.JAVA_MISSING)
    # Hundreds of tiny queries: one shuffle partition and no adaptive re-planning halve the
    # time of each (answers do not depend on either). Set the way an operator would.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(
            sp.CONF_ENV,
            "spark.sql.shuffle.partitions=1 spark.sql.adaptive.enabled=false",
        )
        session = sp.spark_session()
    assert session.conf.get("spark.sql.shuffle.partitions") == "1"
    yield session
    session.stop()


@pytest.fixture(scope="module")
def records():
    return unit_records()


SCHOOLS = (
    (1, "01", "public", "urban"),
    (2, "01", "private", "rural"),
    (3, "02", "public", "rural"),
)


def write_operations(root):
    """Classes, schools, persons and report submissions (the operations indicators' sources),
    for the schools of ``unit_records``."""
    pl.DataFrame(
        [
            {"school_id": sid, "code": f"S{sid}", "name": f"Trường {sid}", "province": prov,
             "commune_code": f"{sid:05d}", "level": "primary", "ownership": own,
             "urban_rural": area, "status": "active"}
            for sid, prov, own, area in SCHOOLS
        ]
    ).write_parquet(root / "schools.parquet")  # fmt: skip
    for year in (2020, 2021):
        for sid, province, _, _ in SCHOOLS:
            classes = [
                {"class_id": year * 1000 + sid * 100 + grade * 2 + n, "school_id": sid,
                 "grade": grade, "level": LEVEL_OF[grade], "two_sessions": (grade + n) % 2 == 0,
                 "combined_grades": False}
                for grade in range(1, 13)
                for n in range(1 + (grade + sid) % 2)
            ]  # fmt: skip
            path = root / "classes" / f"school_year={year}" / f"province={province}"
            path.mkdir(parents=True, exist_ok=True)
            pl.DataFrame(classes).write_parquet(path / f"part-{sid}.parquet")
    for province in ("01", "02"):
        path = root / "persons" / f"province={province}"
        path.mkdir(parents=True)
        pl.DataFrame(
            {"person_id": range(10), "birth_year": [2010] * 10, "sex": ["F", "M"] * 5,
             "ethnicity": ["01"] * 10, "disability": [""] * 10,
             "verification_status": ["verified"] * (7 if province == "01" else 4)
             + ["pending"] * (3 if province == "01" else 6)}
        ).write_parquet(path / "part-0.parquet")  # fmt: skip
    due = dt.date(2020, 10, 30)
    pl.DataFrame(
        [
            {"school_id": sid, "province": prov, "school_year": 2020, "period": period,
             "status": status, "submitted_on": due + dt.timedelta(days=late), "due_on": due}
            for (sid, prov, _, _), (status, late) in zip(
                SCHOOLS, [("approved", 0), ("submitted", 3), ("returned", -1)], strict=True
            )
            for period in ("term1", "year")
        ]
    ).write_parquet(root / "submissions.parquet")  # fmt: skip


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory, records):
    root = tmp_path_factory.mktemp("spark") / "snapshot"
    write_snapshot(root, *records)
    write_operations(root)
    return root


def operations_requests():
    """Every operations indicator (not in ``requests()``), by each of its dimensions."""
    for indicator in OPERATIONS:
        for level in ("primary", "lower_secondary", "upper_secondary"):
            yield Request(indicator.code, 2020, level)
            for dimension in indicator.dimensions:
                yield Request(indicator.code, 2020, level, by=(dimension,))
            if indicator.by_grade:
                yield Request(indicator.code, 2020, level, by=("grade",))


@pytest.fixture(scope="module")
def engines(spark, snapshot):
    """(DuckDB, Spark) over the same snapshot."""
    engine = sp.spark_engine(snapshot, spark=spark)
    yield snapshot_engine(snapshot), engine
    engine.close()


def assert_same(got_rows, want_rows, request):
    got, want = as_table(got_rows), as_table(want_rows)
    assert len(got) == len(want), request
    for (gk, gv, gn, gd), (wk, wv, wn, wd) in zip(got, want, strict=True):
        assert gk == wk, (request, gk, wk)
        # Counts agree exactly; full-time equivalents (staffing by subject) are sums of
        # fractions, which the two engines add in different orders.
        for g, w in ((gn, wn), (gd, wd)):
            assert g == w or g == pytest.approx(w, rel=1e-12), (request, gk, gn, wn, gd, wd)
        if wv is None:
            assert gv is None, request
        else:
            assert gv == pytest.approx(wv, rel=1e-12), request


# --- both engines, every indicator -------------------------------------------------------------


def test_every_indicator_agrees_between_spark_and_duckdb(engines):
    duck, spark_engine = engines
    all_requests = [*requests(), *operations_requests()]
    # Spark runs several small jobs at once; DuckDB answers in the main thread.
    with ThreadPoolExecutor(max_workers=4) as pool:
        from_spark = list(pool.map(lambda r: indicator_rows(spark_engine, r), all_requests))
    valued = set()
    for request, got in zip(all_requests, from_spark, strict=True):
        assert_same(got, indicator_rows(duck, request), request)
        if any(row["value"] is not None for row in got):
            valued.add(request.code.removeprefix("GPI_"))
    assert len(all_requests) > 200
    # Every indicator of the catalogue was compared, and had values to compare.
    assert valued == {i.code for i in INDICATORS}, {i.code for i in INDICATORS} - valued


def rounded(row) -> tuple:
    """Floats (full-time equivalents) to 9 places: the engines add fractions in other orders."""
    return tuple(round(v, 9) if isinstance(v, float) else v for v in row)


def test_cube_tables_have_duckdb_columns_types_and_rows(engines):
    duck, spark_engine = engines
    for table in (*CUBE_TABLES, *SOURCE_VIEWS):
        want = {
            name: kind
            for name, kind, *_ in duck.con.execute(f"DESCRIBE {table}").fetchall()
            if name != "subjects"  # a list column; no indicator reads it
        }
        fields = spark_engine.spark.table(table).schema.fields
        got = {
            f.name: SPARK_TO_DUCKDB.get(f.dataType.simpleString(), f.dataType.simpleString())
            for f in fields
            if f.name != "subjects"
        }
        assert got == want, table
        assert spark_engine.columns(table) == {f.name for f in fields}
    # The province-level copies too (their types differ: DuckDB sums into HUGEINT).
    for table in (*CUBE_TABLES, *(t + ROLLUP for t in CUBE_SQL)):
        columns = ", ".join(sorted(duck.columns(table)))
        want = sorted(
            rounded(row) for row in duck.con.execute(f"SELECT {columns} FROM {table}").fetchall()
        )
        got = sorted(
            rounded(row)
            for row in spark_engine.spark.sql(f"SELECT {columns} FROM {table}").collect()
        )
        assert got == want, table
    assert spark_engine.rows("SELECT COUNT(*) AS n FROM enrolment")[0]["n"] > 100
    # "01" stays a province code: partition values are strings, never numbers.
    provinces = spark_engine.rows("SELECT DISTINCT province FROM enrolment ORDER BY province")
    assert [r["province"] for r in provinces] == ["01", "02"]


def test_filters_and_summary_agree(engines):
    duck, spark_engine = engines
    for request in (
        Request("PTR", 2020, "primary", filters=(("school_id", 1),)),
        Request("GER", 2020, "lower_secondary", filters=(("province", "02"),), by=("sex",)),
        Request("REPETITION_RATE", 2020, "primary", filters=(("ethnic_group", "minority"),)),
    ):
        assert_same(indicator_rows(spark_engine, request), indicator_rows(duck, request), request)
    with pytest.raises(IndicatorError, match="cannot be disaggregated by 'ownership'"):
        indicator_rows(spark_engine, Request("GER", 2020, "primary", by=("ownership",)))


# --- the snapshot's edges ----------------------------------------------------------------------


def test_partition_pruning_reads_only_the_asked_partitions(spark, tmp_path, records, engines):
    duck, _ = engines
    root = tmp_path / "snapshot"
    write_snapshot(root, *records)
    # A partition that is not asked for is never opened: not even its (broken) footer is read.
    broken = root / "enrolments" / "school_year=2020" / "province=99"
    broken.mkdir(parents=True)
    (broken / "part-0.parquet").write_bytes(b"not parquet at all")
    pruned = sp.spark_engine(root, spark=spark, years=[2020, 2021], provinces=["01"])
    try:
        files = pruned.spark.table("enrolments").inputFiles()
        assert len(files) == 2 and all("province=01" in f for f in files)
        request = Request("GER", 2020, "primary", by=("province",))
        got = indicator_rows(pruned, request)
        # Population is not pruned: province 02 keeps its denominator, without pupils.
        assert [(r["province"], r["numerator"] > 0) for r in got] == [("01", True), ("02", False)]
        want = [r for r in indicator_rows(duck, request) if r["province"] == "01"]
        assert_same(got[:1], want, request)
    finally:
        pruned.close()
    assert pruned.columns("enrolment") is None  # closed: the views are gone


def test_a_snapshot_with_no_unit_records_gives_empty_tables_like_duckdb(spark, tmp_path, records):
    _, _, population = records
    root = tmp_path / "snapshot"
    root.mkdir()
    population.write_parquet(root / "population.parquet")
    (root / "enrolments").mkdir()  # a dataset directory with no file yet
    duck, engine = snapshot_engine(root), sp.spark_engine(root, spark=spark)
    try:
        assert engine.rows("SELECT COUNT(*) AS n FROM enrolment") == [{"n": 0}]
        assert engine.columns("teachers") == duck.columns("teachers")
        for request in (
            Request("GER", 2020, "primary"),
            Request("GER", 2020, "primary", by=("province", "sex")),
            Request("PTR", 2020, "primary"),
        ):
            assert_same(indicator_rows(engine, request), indicator_rows(duck, request), request)
        assert indicator_rows(engine, Request("GER", 2020, "primary"))[0]["value"] == 0.0
    finally:
        engine.close()


def test_a_partition_with_a_changed_schema_is_merged(spark, tmp_path, records):
    """A later writer adds a column: both engines read old and new files by column name."""
    enrolments, staff, population = records
    root = tmp_path / "snapshot"
    write_snapshot(root, enrolments, staff, population)
    newer = root / "enrolments" / "school_year=2022" / "province=01"
    newer.mkdir(parents=True)
    row = enrolments.filter(pl.col("school_year") == 2021).head(3)
    row = row.with_columns(
        school_year=pl.lit(2022),
        started_on=pl.lit(dt.date(2022, 9, 5)),
        ended_on=pl.lit(None, pl.Date),
        level=pl.lit("primary"),
    )
    row.drop("school_year", "province").with_columns(note=pl.lit("x")).write_parquet(
        newer / "part-0.parquet"
    )
    engine = sp.spark_engine(root, spark=spark, years=[2022])
    try:
        sql = "SELECT SUM(count) AS n FROM enrolment WHERE year = 2022"
        assert engine.rows(sql) == [{"n": 3}] == snapshot_engine(root).rows(sql)
        assert "note" in engine.columns("enrolments")
    finally:
        engine.close()


# --- aggregates on Spark -----------------------------------------------------------------------


def test_aggregate_files_agree_on_spark(spark, tmp_path, records):
    directory = tmp_path / "aggregates"
    directory.mkdir()
    write_aggregates(directory, *records)
    tables = {t for i in UIS_INDICATORS for t in i.sources}
    duck = aggregates_engine(directory, tables)
    engine = sp.engine_for("spark", aggregates=directory, tables=tables)
    assert isinstance(engine, SparkEngine)
    try:
        for request in (
            Request("GER", 2020, "primary", by=("province",)),
            Request("NER", 2020, "upper_secondary", by=("province", "sex")),
            Request("GPI_GIR", 2020, "primary", by=("province",)),
            Request("PTR", 2020, "lower_secondary"),
            Request("SURVIVAL_RATE", 2020, "primary", by=("grade",)),
            Request("TRANSITION_RATE", 2020, "primary"),
        ):
            got = indicator_rows(engine, request)
            assert got, request
            assert_same(got, indicator_rows(duck, request), request)
    finally:
        engine.close()


def test_bad_aggregate_files_are_refused_before_spark_starts(tmp_path):
    (tmp_path / "levels.csv").write_text("level,entry_age,grades\nprimary,6,5\n")
    (tmp_path / "enrolment.csv").write_text(
        "year,level,grade,age,sex,count\n2020,primary,1,6,X,3\n"
    )
    (tmp_path / "population.csv").write_text("year,age,sex,count\n2020,6,F,4\n")
    with pytest.raises(AggregateError, match="column 'sex' must be F or M"):
        sp.spark_aggregates_engine(tmp_path, {"enrolment", "population"})


# --- choosing an engine, and the settings --------------------------------------------------------


def test_engine_for_names_the_engines(snapshot):
    assert isinstance(sp.engine_for("duckdb", snapshot), DuckDBEngine)
    with pytest.raises(IndicatorError) as refused:
        sp.engine_for("oracle", snapshot)
    assert refused.value.code == "unknown_engine" and "duckdb, spark" in refused.value.en


def test_without_java_spark_is_refused_with_a_message(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))  # no bin/java there
    monkeypatch.setenv("PATH", str(tmp_path))
    sp.java_version.cache_clear()
    try:
        assert not sp.java_available()
        with pytest.raises(IndicatorError) as refused:
            sp.engine_for("spark", tmp_path)
        assert refused.value.code == "spark_unavailable"
        assert "openjdk-17-jre-headless" in refused.value.en
    finally:
        monkeypatch.undo()
        sp.java_version.cache_clear()


def test_java_versions_are_read():
    assert sp.java_major('openjdk version "17.0.15" 2025-04-15') == 17
    assert sp.java_major('java version "1.8.0_392"') == 8
    assert sp.java_major('openjdk version "21" 2023-09-19') == 21
    assert sp.java_major("command not found") is None


def test_settings_default_to_a_quiet_local_session(monkeypatch):
    monkeypatch.delenv(sp.MASTER_ENV, raising=False)
    monkeypatch.delenv(sp.CONF_ENV, raising=False)
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    conf = sp.spark_conf()
    assert conf["spark.master"] == "local[2]"
    assert conf["spark.driver.bindAddress"] == conf["spark.driver.host"] == "127.0.0.1"
    assert conf["spark.sql.session.timeZone"] == "UTC" and conf["spark.ui.enabled"] == "false"
    assert conf["spark.sql.sources.partitionColumnTypeInference.enabled"] == "false"
    assert conf["spark.sql.shuffle.partitions"] == "2"


def test_settings_for_a_cluster(monkeypatch, settings):
    settings.VNEMIS_SPARK_MASTER = "spark://10.0.0.5:7077"
    monkeypatch.setenv(sp.CONF_ENV, "spark.executor.memory=8g, spark.sql.shuffle.partitions=400")
    conf = sp.spark_conf()
    assert conf["spark.master"] == "spark://10.0.0.5:7077"
    assert "spark.driver.bindAddress" not in conf  # executors must reach the driver
    assert conf["spark.executor.memory"] == "8g"
    assert conf["spark.sql.shuffle.partitions"] == "400"
    # Under spark-submit with no master of ours, spark-submit's --master is left alone.
    settings.VNEMIS_SPARK_MASTER = ""
    monkeypatch.delenv(sp.MASTER_ENV, raising=False)
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "40000")
    assert "spark.master" not in sp.spark_conf()


@pytest.mark.parametrize(
    "text", ["spark.executor.memory", "executor.memory=8g", "spark.a=1 nonsense", "spark.b="]
)
def test_malformed_spark_settings_are_refused(text):
    with pytest.raises(ValueError, match=re.escape("spark.<key>=<value>")):
        sp.parse_conf(text)


def test_local_masters_and_partition_filters_are_checked():
    assert sp.local_cores("local") == 1 and sp.local_cores("local[3]") == 3
    assert sp.local_cores("local[*]") >= 1 and sp.local_cores("local[2, 4]") == 2
    with pytest.raises(ValueError, match="not a valid local master"):
        sp.local_cores("local[two]")
    assert sp.partition_filter([2020], ["01"]) == "school_year IN (2020) AND province IN ('01')"
    assert sp.partition_filter() == ""
    with pytest.raises(ValueError, match="two-digit"):
        sp.partition_filter(provinces=["01' OR '1'='1"])
    with pytest.raises(ValueError):
        sp.partition_filter(years=["2020; DROP TABLE x"])


def test_sql_that_cannot_be_parsed_is_refused():
    from sqlglot.errors import ParseError

    with pytest.raises(ParseError):
        to_spark("SELECT FROM WHERE (")
    assert to_spark("SELECT x::VARCHAR FROM t") == "SELECT CAST(x AS STRING) FROM t"
