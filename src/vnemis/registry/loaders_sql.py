"""The SQL side of the bulk loader: staging tables and set-wise merges, for PostgreSQL and SQLite.

Rows reach the database in one shape on both engines (DESIGN.md §8): a temporary staging table
filled in bulk (PostgreSQL ``COPY``; SQLite ``executemany``), foreign keys resolved and problems
marked by ``UPDATE`` statements on that table, then one ``INSERT … SELECT … ON CONFLICT … DO
UPDATE … WHERE <changed>`` per target table. Temporary tables are private to the connection, so
two loaders can run side by side. No ORM here: this is the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from django.db import connection


@dataclass(frozen=True)
class Col:
    """A staging column: its name and PostgreSQL type (SQLite ignores the type)."""

    name: str
    pg_type: str


class Sql:
    """Thin access to the DB-API connection Django holds, in Django's current transaction."""

    def __init__(self) -> None:
        connection.ensure_connection()
        self.vendor = connection.vendor
        self.pg = self.vendor == "postgresql"
        self.raw = connection.connection

    def q(self, sql: str) -> str:
        return sql if self.pg else sql.replace("%s", "?")

    def execute(self, sql: str, params: tuple | list = ()) -> int:
        cur = self.raw.cursor()
        try:
            cur.execute(self.q(sql), params)
            return cur.rowcount
        finally:
            cur.close()

    def fetchall(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        cur = self.raw.cursor()
        try:
            cur.execute(self.q(sql), params)
            return cur.fetchall()
        finally:
            cur.close()

    def distinct(self, a: str, b: str) -> str:
        """NULL-safe inequality (SQLite before 3.39 lacks IS DISTINCT FROM)."""
        return f"{a} IS DISTINCT FROM {b}" if self.pg else f"{a} IS NOT {b}"

    # -- staging -----------------------------------------------------------------------------

    def stage_create(self, table: str, columns: list[Col]) -> None:
        """Create (once per connection) and empty a temporary staging table."""
        cols = ", ".join(
            f"{c.name} {c.pg_type if self.pg else _sqlite_type(c.pg_type)}" for c in columns
        )
        # Dropped and made again per chunk, so its indexes are built after the fill.
        self.execute(f"DROP TABLE IF EXISTS {table}")
        self.execute(f"CREATE TEMP TABLE {table} ({cols})")

    def stage_fill(self, table: str, columns: list[Col], df: pl.DataFrame) -> None:
        """Bulk-insert ``df`` (columns named as the staging columns) into the staging table."""
        if df.height == 0:
            return
        names = [c.name for c in columns]
        df = df.select(names)
        if self.pg:
            # Bytes go as bytea hex text so the whole frame is one vectorised CSV write.
            binary = [n for n, t in df.schema.items() if t == pl.Binary]
            if binary:
                df = df.with_columns(
                    pl.when(pl.col(n).is_null())
                    .then(None)
                    .otherwise(pl.lit("\\x") + pl.col(n).bin.encode("hex"))
                    .alias(n)
                    for n in binary
                )
            payload = df.write_csv(include_header=False, null_value="\\N").encode()
            cur = self.raw.cursor()
            try:
                copy_sql = f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT csv, NULL '\\N')"
                with cur.copy(copy_sql) as copy:
                    copy.write(payload)
            finally:
                cur.close()
            return
        # SQLite stores dates as ISO text (as Django does), booleans as 0/1.
        df = df.with_columns(
            pl.col(n).dt.strftime("%Y-%m-%d") for n, t in df.schema.items() if t == pl.Date
        )
        marks = ", ".join("?" * len(names))
        cur = self.raw.cursor()
        try:
            cur.executemany(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})",  # noqa: S608
                df.iter_rows(),
            )
        finally:
            cur.close()

    def stage_drop(self, table: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {table}")

    # -- merge -------------------------------------------------------------------------------

    def mark_state(
        self,
        *,
        stage: str,
        state_col: str,
        target: str,
        key: dict[str, str],
        compare: dict[str, str],
    ) -> None:
        """Set ``state_col`` to 'i' (new), 'u' (differs) or '=' (same) for every valid row.

        ``key`` and ``compare`` map target columns to staging expressions.
        """
        match = " AND ".join(f"t.{t} = {s}" for t, s in key.items())
        diff = " OR ".join(self.distinct(f"t.{t}", s) for t, s in compare.items())
        self.execute(
            f"""
            UPDATE {stage} SET {state_col} = CASE
                WHEN NOT EXISTS (SELECT 1 FROM {target} t WHERE {match}) THEN 'i'
                WHEN EXISTS (SELECT 1 FROM {target} t WHERE {match} AND ({diff})) THEN 'u'
                ELSE '=' END
            WHERE problem IS NULL
            """  # noqa: S608 - identifiers come from code, never from input
        )

    def upsert(
        self,
        *,
        stage: str,
        state_col: str,
        target: str,
        conflict: str,
        values: dict[str, str],
        update: list[str],
        insert_extra: dict[str, str] | None = None,
        update_extra: dict[str, str] | None = None,
        params: tuple = (),
    ) -> int:
        """Insert new rows and update changed ones of ``target`` from the staging table.

        Only rows marked 'i' or 'u' by ``mark_state`` are sent, and the ``WHERE`` on the update
        repeats the comparison so a concurrent writer cannot make us rewrite an equal row.
        """
        insert_extra = insert_extra or {}
        update_extra = update_extra or {}
        cols = [*values, *insert_extra]
        exprs = [*values.values(), *insert_extra.values()]
        sets = [f"{c} = excluded.{c}" for c in update] + [
            f"{c} = {e}" for c, e in update_extra.items()
        ]
        diff = " OR ".join(self.distinct(f"{target}.{c}", f"excluded.{c}") for c in update)
        return self.execute(
            f"""
            INSERT INTO {target} ({", ".join(cols)})
            SELECT {", ".join(exprs)} FROM {stage}
            WHERE problem IS NULL AND {state_col} IN ('i', 'u')
            ON CONFLICT {conflict} DO UPDATE SET {", ".join(sets)}
            WHERE {diff}
            """,  # noqa: S608 - identifiers come from code, never from input
            params,
        )

    def problems(self, stage: str) -> list[tuple[str, int]]:
        """(problem code, row number) of every staging row a SQL step rejected."""
        return self.fetchall(
            f"SELECT problem, row_no FROM {stage} WHERE problem IS NOT NULL"  # noqa: S608
        )

    def states(self, stage: str, *state_cols: str) -> tuple[int, int, int]:
        """(inserted, updated, unchanged) over valid staging rows: a row is new if its first
        target row is new, changed if any of its target rows changed."""
        first = state_cols[0]
        any_u = " OR ".join(f"{c} IN ('i', 'u')" for c in state_cols)
        row = self.fetchall(
            f"""
            SELECT
                SUM(CASE WHEN {first} = 'i' THEN 1 ELSE 0 END),
                SUM(CASE WHEN {first} <> 'i' AND ({any_u}) THEN 1 ELSE 0 END),
                SUM(CASE WHEN NOT ({any_u}) THEN 1 ELSE 0 END)
            FROM {stage} WHERE problem IS NULL
            """  # noqa: S608
        )[0]
        return tuple(int(v or 0) for v in row)  # type: ignore[return-value]


def _sqlite_type(pg_type: str) -> str:
    # Affinities that keep values as given: codes stay text ('0012' must not become 12).
    pg_type = pg_type.lower()
    if pg_type in ("bigint", "integer", "smallint", "boolean"):
        return "INTEGER"
    if pg_type.startswith("numeric") or pg_type in ("real", "double precision"):
        return "REAL"
    if pg_type == "bytea":
        return "BLOB"
    return "TEXT"
