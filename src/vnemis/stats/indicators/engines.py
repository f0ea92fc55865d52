"""The engines that run indicator SQL: DuckDB (embedded) and Spark (a cluster, or local mode).

Both expose the same two calls, so ``compute`` never knows which one it drives. The SQL is
written in DuckDB's dialect; Spark receives it transpiled by SQLGlot.
"""

import functools
from typing import Protocol

import duckdb

from .definitions import Level


class Engine(Protocol):
    name: str

    def columns(self, table: str) -> set[str] | None:
        """The table's columns, or None when the engine has no such table."""

    def rows(self, sql: str) -> list[dict]: ...


def levels_of(engine: Engine) -> tuple[Level, ...]:
    rows = engine.rows("SELECT level, entry_age, grades, first_grade FROM levels")
    found = [
        Level(r["level"], int(r["entry_age"]), int(r["grades"]), int(r["first_grade"]))
        for r in rows
    ]
    return tuple(sorted(found, key=lambda lv: lv.entry_age))


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self._columns: dict[str, set[str] | None] = {}

    def columns(self, table: str) -> set[str] | None:
        if table not in self._columns:
            found = self.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
            ).fetchall()
            self._columns[table] = {c for (c,) in found} or None
        return self._columns[table]

    def rows(self, sql: str) -> list[dict]:
        cursor = self.con.cursor().execute(sql)  # a cursor per call: safe across threads
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class SparkEngine:
    """Runs the same SQL on a SparkSession over tables registered as temporary views
    (``vnemis.stats.spark`` builds them: ``spark_engine``, ``spark_aggregates_engine``)."""

    name = "spark"

    def __init__(self, spark, cached: tuple[str, ...] = ()):
        self.spark = spark
        self.cached = cached
        self._columns: dict[str, set[str] | None] = {}
        self._answers: dict[str, list[dict]] = {}

    def columns(self, table: str) -> set[str] | None:
        if table not in self._columns:
            if self.spark.catalog.tableExists(table):
                self._columns[table] = set(self.spark.table(table).columns)
            else:
                self._columns[table] = None
        return self._columns[table]

    def rows(self, sql: str) -> list[dict]:
        # The cached tables never change under an engine, so a repeated query (the levels, a
        # GPI's by-sex rows) is answered from memory instead of by another Spark job.
        found = self._answers.get(sql)
        if found is None:
            found = [row.asDict() for row in self.spark.sql(to_spark(sql)).collect()]
            if len(self._answers) < 1024:
                self._answers[sql] = found
        return [dict(row) for row in found]

    def close(self) -> None:
        """Free the memory of the cached cube tables (the shared SparkContext stays up)."""
        for table in self.cached:
            if self.spark.catalog.tableExists(table):
                self.spark.catalog.uncacheTable(table)
                self.spark.catalog.dropTempView(table)
        self._columns.clear()
        self._answers.clear()


@functools.lru_cache(maxsize=4096)
def to_spark(sql: str) -> str:
    """DuckDB-dialect SQL in Spark's dialect. A construct SQLGlot cannot express in Spark
    raises instead of being passed through untranslated (a wrong answer would be worse)."""
    import sqlglot
    from sqlglot.errors import ErrorLevel

    return sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE)[
        0
    ]
