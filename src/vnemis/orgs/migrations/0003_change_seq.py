"""Change numbers on organisations (issue 3, change feed): the shared number source and the column.

The sequence (PostgreSQL) or one-row counter table (SQLite) is created here because the
organisation table is the first tracked table to migrate; ``registry.0009_change_tracking``
adds the column to the registry tables and installs the triggers of all tracked tables
(``vnemis.registry.change_tracking`` explains the design; the number source is ``vnemis.core.change_numbers``). Existing rows get numbers as the
column is added (PostgreSQL: the column default; SQLite: numbered by the installer).
"""

from django.db import migrations, models

import vnemis.core.change_numbers


def create_number_source(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("CREATE SEQUENCE IF NOT EXISTS vnemis_change_seq")
        else:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS vnemis_change_counter "
                "(id integer PRIMARY KEY CHECK (id = 1), value integer NOT NULL)"
            )
            cursor.execute("INSERT OR IGNORE INTO vnemis_change_counter (id, value) VALUES (1, 0)")


def drop_number_source(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP SEQUENCE IF EXISTS vnemis_change_seq")
        else:
            cursor.execute("DROP TABLE IF EXISTS vnemis_change_counter")


def add_column(apps, schema_editor):
    vnemis.core.change_numbers.change_seq_add_column(
        schema_editor=schema_editor, table="orgs_organisation"
    )


def drop_column(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        index = schema_editor._create_index_name("orgs_organisation", ["change_seq"], suffix="")
        cursor.execute(f"DROP INDEX IF EXISTS {index}")
        cursor.execute("ALTER TABLE orgs_organisation DROP COLUMN change_seq")


class Migration(migrations.Migration):
    dependencies = [("orgs", "0002_initial")]

    operations = [
        migrations.RunPython(create_number_source, drop_number_source),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="organisation",
                    name="change_seq",
                    field=models.BigIntegerField(
                        db_default=vnemis.core.change_numbers.NextChangeSeq(),
                        db_index=True,
                        editable=False,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(add_column, drop_column)],
        ),
    ]
