"""The engines that run indicator SQL: DuckDB (embedded) and Spark (a cluster, or local mode).

Both expose the same two calls, so ``compute`` never knows which one it drives. The SQL is
written in DuckDB's dialect; Spark receives it transpiled by SQLGlot.
"""

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
    """Runs the same SQL on a SparkSession over tables registered as temporary views."""

    name = "spark"

    def __init__(self, spark):
        self.spark = spark
        self._columns: dict[str, set[str] | None] = {}

    def columns(self, table: str) -> set[str] | None:
        if table not in self._columns:
            if self.spark.catalog.tableExists(table):
                self._columns[table] = set(self.spark.table(table).columns)
            else:
                self._columns[table] = None
        return self._columns[table]

    def rows(self, sql: str) -> list[dict]:
        return [row.asDict() for row in self.spark.sql(to_spark(sql)).collect()]


def to_spark(sql: str) -> str:
    import sqlglot

    return sqlglot.transpile(sql, read="duckdb", write="spark")[0]
