# ruff: noqa: S608 -- SQL is built only from this module's constant names.
"""Change numbers: the one global, increasing number every tracked row carries (``change_seq``).

This module owns the number source (a PostgreSQL sequence, an SQLite one-row counter), the
column definition and its default, and the lock that keeps numbers in commit order; it knows no
table. Which tables are tracked, their triggers and tombstones are the registry's
(``vnemis.registry.change_tracking``, which explains the whole design). Kept in core so that
lower apps (``orgs``) can carry the column without importing the registry.
"""

from django.db import connection as default_connection
from django.db import models

SEQUENCE = "vnemis_change_seq"
COUNTER = "vnemis_change_counter"
# Fixed key of the advisory lock that orders writers drawing change numbers (audit: 7_310_001).
CHANGE_LOCK_KEY = 7_310_002


class NextChangeSeq(models.Expression):
    """The column default of ``change_seq``: ``nextval`` on PostgreSQL, 0 on SQLite (where the
    AFTER INSERT trigger writes the number)."""

    allowed_default = True

    def __init__(self):
        super().__init__(output_field=models.BigIntegerField())

    def as_sql(self, compiler, connection):
        return "0", []

    def as_postgresql(self, compiler, connection):
        return f"nextval('{SEQUENCE}')", []


def change_seq_field() -> models.BigIntegerField:
    """The ``change_seq`` column of a tracked model (never written by the application)."""
    return models.BigIntegerField(db_default=NextChangeSeq(), db_index=True, editable=False)


def change_lock(*, connection=default_connection) -> None:
    """Take the change-number lock now (PostgreSQL; SQLite has one writer): for code that must
    take it before the audit lock or before drawing numbers outside a tracked statement."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHANGE_LOCK_KEY])


def change_seq_reserve(*, count: int, connection=default_connection) -> int | None:
    """SQLite: reserve ``count`` numbers for a bulk INSERT that writes ``change_seq`` itself
    (``base + row_number``); returns ``base`` (the first number is base + 1). Call it inside the
    inserting transaction. Such rows skip the per-row insert trigger (about half the cost of a
    bulk insert into a tracked table). PostgreSQL: None (the column default is already cheap).
    """
    if connection.vendor == "postgresql" or count <= 0:
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {COUNTER} SET value = value + %s WHERE id = 1", [count])
        cursor.execute(f"SELECT value FROM {COUNTER} WHERE id = 1")
        return cursor.fetchone()[0] - count


def change_seq_add_column(*, schema_editor, table: str) -> None:
    """Add ``change_seq`` and its index in place (the migrations' database side).

    Django's own AddField rebuilds the table on SQLite (a non-constant db_default), which would
    drop the indexes earlier migrations created in plain SQL (``registry.0005`` …); an in-place
    ``ALTER TABLE … ADD COLUMN`` keeps them. The index name is the one Django would give.
    """
    connection = schema_editor.connection
    default = f"nextval('{SEQUENCE}')" if connection.vendor == "postgresql" else "0"
    index = schema_editor._create_index_name(table, ["change_seq"], suffix="")
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {table} ADD COLUMN change_seq bigint DEFAULT {default} NOT NULL"
        )
        cursor.execute(f"CREATE INDEX {index} ON {table} (change_seq)")
