"""The SQL side of the bulk loader: staging tables and set-wise merges, for PostgreSQL and SQLite.

Rows reach the database in one shape on both engines (DESIGN.md §8): a temporary staging table
filled in bulk (PostgreSQL ``COPY``; SQLite ``executemany``), foreign keys resolved and problems
marked by ``UPDATE`` statements on that table, then one ``INSERT … SELECT … ON CONFLICT … DO
UPDATE … WHERE <changed>`` per target table. Temporary tables are private to the connection, so
two loaders can run side by side. No ORM here: this is the hot path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import polars as pl
from django.apps import apps
from django.db import IntegrityError, connection

from vnemis.core.change_numbers import change_lock, change_seq_reserve


@dataclass(frozen=True)
class Col:
    """A staging column: its name and PostgreSQL type (SQLite ignores the type)."""

    name: str
    pg_type: str


class Sql:
    """Thin access to the DB-API connection Django holds, in Django's current transaction."""

    def __init__(self, *, source: str = "", now=None) -> None:
        connection.ensure_connection()
        self.vendor = connection.vendor
        self.pg = self.vendor == "postgresql"
        self.raw = connection.connection
        # RecordChange rows of updates: their label and time (``upsert`` writes them).
        self.source = source
        self.now = now
        self._marked: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
        self._may_skip_checks: bool | None = None  # may this role skip foreign-key triggers

    def q(self, sql: str) -> str:
        return sql if self.pg else sql.replace("%s", "?")

    def execute(self, sql: str, params: tuple | list = ()) -> int:
        with self.cursor() as cur:
            cur.execute(self.q(sql), params)
            return cur.rowcount

    def fetchall(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self.cursor() as cur:
            cur.execute(self.q(sql), params)
            return cur.fetchall()

    @contextmanager
    def cursor(self) -> Iterator:
        """A DB-API cursor whose errors are Django's (``IntegrityError``, ``DatabaseError``), so
        callers handle a failed chunk the same way on both engines."""
        cur = self.raw.cursor()
        try:
            with connection.wrap_database_errors:
                yield cur
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
            copy_sql = f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT csv, NULL '\\N')"
            with self.cursor() as cur, cur.copy(copy_sql) as copy:
                copy.write(payload)
            return
        # SQLite stores dates as ISO text (as Django does), booleans as 0/1.
        df = df.with_columns(
            pl.col(n).dt.strftime("%Y-%m-%d") for n, t in df.schema.items() if t == pl.Date
        )
        marks = ", ".join("?" * len(names))
        with self.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})",  # noqa: S608
                df.iter_rows(),
            )

    def target_fill(
        self, table: str, columns: list[Col], df: pl.DataFrame, *, written: tuple[str, ...] = ()
    ) -> None:
        """Bulk-insert ``df`` into a registry table. PostgreSQL: ``COPY`` straight into it, its
        references checked set-wise (``_references_check``). SQLite: into a scratch table, then
        one ``INSERT … SELECT`` (row by row, each insert into a table with triggers inside a
        savepoint keeps its own statement journal of every index page it touches: measured
        30–50x slower). ``written``: reference columns whose parent rows this transaction wrote
        itself (so they exist and are locked)."""
        if df.height == 0:
            return
        if self.pg:
            if not self._references_check(table, df, written):
                self.stage_fill(table, columns, df)
                return
            # Replica mode skips every ordinary trigger; of ours an INSERT fires only the
            # statement-level change-number lock, taken here instead.
            change_lock(connection=connection)
            self.execute("SET LOCAL session_replication_role = replica")
            self.stage_fill(table, columns, df)
            # Not reset on an error: rolling back the savepoint undoes the SET LOCAL too.
            self.execute("SET LOCAL session_replication_role = DEFAULT")
            return
        self.stage_create("ld_fill", columns)
        self.stage_fill("ld_fill", columns, df)
        names = ", ".join(c.name for c in columns)
        from .change_tracking import BY_TABLE

        if table in BY_TABLE:
            # Change numbers reserved as one block and written with the rows, so the per-row
            # insert trigger (two UPDATEs a row, half the insert's cost) stays out of it. The
            # fresh scratch table's rowids are 1..n in insert order.
            base = change_seq_reserve(count=df.height)
            self.execute(
                f"INSERT INTO {table} ({names}, change_seq) "  # noqa: S608
                f"SELECT {names}, {int(base)} + rowid FROM ld_fill ORDER BY rowid"
            )
        else:
            self.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM ld_fill")  # noqa: S608
        self.stage_drop("ld_fill")

    def _references_check(self, table: str, df: pl.DataFrame, written: tuple[str, ...]) -> bool:
        """PostgreSQL: check and lock the parents of ``df``'s foreign keys set-wise, so its
        ``COPY`` may skip the per-row checks; False when this role may not skip them.

        A foreign key is checked by a trigger per row and column (about 11 µs each, measured;
        a new pupil and enrolment carried ten such checks, more than all other insert work).
        Here each reference column costs one query over its distinct values, taking the same
        ``FOR KEY SHARE`` lock the per-row check takes, so no parent can be deleted before we
        commit; a missing parent raises ``IntegrityError`` like the constraint would. The COPY
        then runs with ``session_replication_role = replica``, which skips the foreign-key
        triggers, and also the one change-tracking trigger an INSERT fires (the statement-level
        change-number lock, so it is taken explicitly first). That setting needs
        superuser or ``GRANT SET ON PARAMETER session_replication_role`` (docs/operations.md);
        without it the constraints check every row, correct but slower.
        """
        if self._may_skip_checks is None:
            self._may_skip_checks = bool(
                self.fetchall(
                    "SELECT rolsuper OR has_parameter_privilege('session_replication_role', "
                    "'SET') FROM pg_roles WHERE rolname = current_user"
                )[0][0]
            )
        if not self._may_skip_checks:
            return False
        for column, (parent, key) in _references(table).items():
            if column in written or column not in df.columns:
                continue
            values = df[column].drop_nulls().unique()
            if not values.len():
                continue
            found = self.fetchall(
                f"SELECT count(*) FROM (SELECT 1 FROM {parent} WHERE {key} = ANY(%s) "  # noqa: S608
                "FOR KEY SHARE) locked",
                [values.to_list()],
            )[0][0]
            if found != values.len():
                raise IntegrityError(
                    f"{table}.{column}: {values.len() - found} referenced row(s) missing in "
                    f"{parent}"
                )
        return True

    def read_frame(self, sql: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
        """The rows of a query as a typed Polars frame (PostgreSQL: ``COPY … TO STDOUT``
        parsed by Polars, no per-row Python; SQLite: a plain fetch)."""
        names = list(schema)
        if self.pg:
            buf = bytearray()
            with (
                self.cursor() as cur,
                cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv, NULL '\\N')") as copy,
            ):
                for block in copy:
                    buf += block
            if not buf:
                return pl.DataFrame(schema=schema)
            df = pl.read_csv(
                bytes(buf),
                has_header=False,
                new_columns=names,
                schema_overrides=dict.fromkeys(names, pl.String),
                infer_schema=False,
                null_values="\\N",
                empty_string_is_null=False,
            )
        else:
            rows = self.fetchall(sql)
            if not rows:
                return pl.DataFrame(schema=schema)
            df = pl.DataFrame(
                rows, schema=dict.fromkeys(names, pl.Object), orient="row", strict=False
            ).with_columns(pl.col(n).map_elements(_text, return_dtype=pl.String) for n in names)
        return df.with_columns(_cast(n, t) for n, t in schema.items())

    def next_ids(self, table: str, count: int) -> list[int]:
        """Reserve ``count`` primary keys of ``table`` (rows are then written with explicit ids,
        so their dependants can be built before the insert)."""
        if count <= 0:
            return []
        if self.pg:
            # The sequence's name is looked up once: as an argument of nextval it would be
            # looked up again for every row (a third of the time, measured).
            sequence = self.fetchall("SELECT pg_get_serial_sequence(%s, 'id')", [table])[0][0]
            ids = self.read_frame(
                f"SELECT nextval('{sequence}') FROM generate_series(1, {int(count)})",  # noqa: S608
                {"id": pl.Int64},
            )
            return ids["id"].to_list()
        # SQLite: one writer holds the database (Django opens transactions IMMEDIATE), so the
        # next ids are above both the table's largest id and its AUTOINCREMENT counter.
        top = self.fetchall(
            f"SELECT MAX(COALESCE((SELECT MAX(id) FROM {table}), 0), COALESCE("  # noqa: S608
            f"(SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0))"
        )[0][0]
        return list(range(top + 1, top + 1 + count))

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
        self._marked[f"{stage}:{state_col}:{target}"] = (key, compare)
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
        marked = self._marked.get(f"{stage}:{state_col}:{target}")
        changes = marked is not None and self._changes_stage(stage, state_col, target, *marked)
        count = self.execute(
            f"""
            INSERT INTO {target} ({", ".join(cols)})
            SELECT {", ".join(exprs)} FROM {stage}
            WHERE problem IS NULL AND {state_col} IN ('i', 'u')
            ON CONFLICT {conflict} DO UPDATE SET {", ".join(sets)}
            WHERE {diff}
            """,  # noqa: S608 - identifiers come from code, never from input
            params,
        )
        if changes:
            self._changes_write(target)
        return count

    def _changes_stage(
        self, stage: str, state_col: str, target: str, key: dict[str, str], compare: dict[str, str]
    ) -> bool:
        """Before an upsert: the id and changed field names of each row it will update."""
        from .change_tracking import BY_TABLE

        if target not in BY_TABLE:
            return False
        match = " AND ".join(f"t.{t} = {s}" for t, s in key.items())
        names: dict[str, list[str]] = {}
        for column, expr in compare.items():
            name = FIELD_NAMES.get(column, column)
            if name:
                names.setdefault(name, []).append(self.distinct(f"t.{column}", expr))
        parts = " || ".join(
            f"CASE WHEN {' OR '.join(conds)} THEN '\"{name}\", ' ELSE '' END"
            for name, conds in names.items()
        )
        self.execute("DROP TABLE IF EXISTS ld_record_changes")
        self.execute(
            f"""
            CREATE TEMP TABLE ld_record_changes AS
            SELECT t.id AS id, '[' || rtrim({parts}, ', ') || ']' AS fields
            FROM {stage} JOIN {target} t ON {match}
            WHERE {stage}.problem IS NULL AND {stage}.{state_col} = 'u'
            """  # noqa: S608 - identifiers come from code, never from input
        )
        return True

    def _changes_write(self, target: str) -> None:
        from .change_tracking import BY_TABLE

        cast = "::jsonb" if self.pg else ""
        now = self.now if self.pg else str(self.now.replace(tzinfo=None))
        self.execute(
            f"""
            INSERT INTO registry_recordchange (entity, object_id, change_seq, fields, source, at)
            SELECT %s, t.id, t.change_seq, r.fields{cast}, %s, %s
            FROM ld_record_changes r JOIN {target} t ON t.id = r.id
            WHERE r.fields <> '[]'
            """,  # noqa: S608
            (BY_TABLE[target].entity, self.source, now),
        )
        self.execute("DROP TABLE IF EXISTS ld_record_changes")

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


# Registry columns → the exchange-standard field named in RecordChange (None: derived, not
# reported on its own).
FIELD_NAMES = {
    "name_search": None,
    "family_name": "full_name",
    "middle_name": "full_name",
    "given_name": "full_name",
    "province_code": None,
    "ethnicity_id": "ethnicity_code",
    "birth_province_id": "birth_province_code",
    "permanent_commune_id": "permanent_commune_code",
    "citizen_id_index": "citizen_id",
    "citizen_id_last3": "citizen_id",
    "homeroom_teacher_id": "homeroom_staff_code",
    "person_id": "education_id",
    "pupil_id": "education_id",
    "school_class_id": "class_name",
    "subject_id": "subject_code",
    "parent_id": "parent_code",
    "province_id": "province_code",
    "commune_id": "commune_code",
    "name": "name",
}


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _cast(name: str, dtype) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.String:
        return col
    if dtype == pl.Date:
        return col.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    if dtype == pl.Boolean:
        return col.str.to_lowercase().is_in(["t", "true", "1"])
    return col.cast(dtype, strict=False)


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


@cache
def _references(table: str) -> dict[str, tuple[str, str]]:
    """Foreign-key columns of a registry table → (parent table, parent column), from the models."""
    model = next(m for m in apps.get_models() if m._meta.db_table == table)
    return {
        f.column: (f.related_model._meta.db_table, f.target_field.column)
        for f in model._meta.concrete_fields
        if f.is_relation and f.db_constraint
    }
