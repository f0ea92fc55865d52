"""Change tracking (issue 3): ``change_seq`` on every tracked registry table, tombstones, and the
record of changed fields.

Design (full text in ``vnemis.registry.change_tracking``):

- Tracked: orgs_organisation (column added by ``orgs.0003_change_seq``), registry_schoolclass,
  registry_person, registry_enrolment, registry_staffassignment, registry_teachingassignment,
  registry_subjectresult, registry_resultsummary, registry_healthrecord. Each gets
  ``change_seq bigint NOT NULL`` with an index.
- PostgreSQL: one sequence ``vnemis_change_seq``; the column DEFAULT is ``nextval`` (no per-row
  INSERT trigger, bulk ``INSERT … SELECT`` need not name the column); a BEFORE UPDATE row
  trigger draws a new number only when a column other than updated_at/change_seq changed (and
  otherwise keeps the old number); a BEFORE INSERT/UPDATE/DELETE statement trigger takes
  ``pg_advisory_xact_lock(7310002)`` so writers drawing numbers are serialised until commit and
  numbers appear in commit order (a reader never skips a number that commits later).
  Lock order: the audit chain's lock (7310001, ``core.audit``) is taken by writers when they
  append their audit entry, after their registry writes; so every transaction that holds both
  takes the change lock first, and no cycle can form. Code that audits first and then writes a
  tracked row in the same transaction must call ``core.change_numbers.change_lock()`` before
  ``audit_record``. (A cycle would still not hang: PostgreSQL aborts one side as a deadlock.)
- SQLite: a one-row counter table ``vnemis_change_counter``; AFTER INSERT/UPDATE triggers write
  the number (one writer, so commit order holds); recursion cannot happen (recursive_triggers is
  off and the WHEN clauses exclude the triggers' own UPDATEs).
- Both: AFTER DELETE and natural-key-change triggers write ``registry_tombstone`` rows with the
  old natural key (exchange-standard names, resolved in the trigger).
- Existing rows receive numbers while the column is added (PostgreSQL default) or from the
  installer (SQLite). Adding the column rewrites each table on PostgreSQL (volatile default):
  on a large registry run it in a maintenance window.

The triggers read the live column lists, so they are re-installed after every ``migrate``
(post_migrate, idempotent) — a later migration that adds a column or rebuilds a SQLite table
keeps tracking without further work.
"""

import django.db.models.functions.datetime
from django.db import migrations, models

import vnemis.core.change_numbers
import vnemis.registry.change_tracking

TABLES = [
    "registry_enrolment",
    "registry_healthrecord",
    "registry_person",
    "registry_resultsummary",
    "registry_schoolclass",
    "registry_staffassignment",
    "registry_subjectresult",
    "registry_teachingassignment",
]


def add_columns(apps, schema_editor):
    for table in TABLES:
        vnemis.core.change_numbers.change_seq_add_column(
            schema_editor=schema_editor, table=table
        )


def drop_columns(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            index = schema_editor._create_index_name(table, ["change_seq"], suffix="")
            cursor.execute(f"DROP INDEX IF EXISTS {index}")
            cursor.execute(f"ALTER TABLE {table} DROP COLUMN change_seq")


def install(apps, schema_editor):
    vnemis.registry.change_tracking.change_tracking_install(connection=schema_editor.connection)


def uninstall(apps, schema_editor):
    vnemis.registry.change_tracking.change_tracking_uninstall(connection=schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0008_list_indexes"),
        ("orgs", "0003_change_seq"),
    ]

    operations = [
        migrations.CreateModel(
            name="RecordChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("entity", models.CharField(max_length=30)),
                ("object_id", models.BigIntegerField()),
                ("change_seq", models.BigIntegerField()),
                ("fields", models.JSONField(default=list)),
                ("source", models.CharField(blank=True, max_length=64)),
                ("at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
            ],
            options={
                "indexes": [
                    models.Index(fields=["entity", "object_id"], name="recordchange_entity_object"),
                    models.Index(fields=["change_seq"], name="recordchange_seq"),
                ],
            },
        ),
        migrations.CreateModel(
            name="Tombstone",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "change_seq",
                    models.BigIntegerField(
                        db_default=vnemis.core.change_numbers.NextChangeSeq(),
                        db_index=True,
                        editable=False,
                    ),
                ),
                ("entity", models.CharField(max_length=30)),
                ("object_id", models.BigIntegerField()),
                ("school_id", models.BigIntegerField(blank=True, db_index=True, null=True)),
                ("natural_key", models.JSONField()),
                (
                    "reason",
                    models.CharField(
                        choices=[("deleted", "deleted"), ("key_changed", "key_changed")],
                        max_length=12,
                    ),
                ),
                ("at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
            ],
            options={
                "ordering": ["change_seq"],
                "indexes": [
                    models.Index(fields=["entity", "object_id"], name="tombstone_entity_object")
                ],
            },
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="enrolment",
                    name="change_seq",
                    field=models.BigIntegerField(
                        db_default=vnemis.core.change_numbers.NextChangeSeq(),
                        db_index=True,
                        editable=False,
                    ),
                ),
                migrations.AddField(
                    model_name="healthrecord",
                    name="change_seq",
                    field=models.BigIntegerField(
                        db_default=vnemis.core.change_numbers.NextChangeSeq(),
                        db_index=True,
                        editable=False,
                    ),
                ),
                migrations.AddField(
                    model_name="person",
                    name="change_seq",
                    field=models.BigIntegerField(
                        db_default=vnemis.core.change_numbers.NextChangeSeq(),
                        db_index=True,
                        editable=False,
                    ),
                ),
                migrations.AddField(
                    model_name="resultsummary",
                    name="change_seq",
                    field=models.BigIntegerField(
                        db_default=vnemis.core.change_numbers.NextChangeSeq(),
                        db_index=True,
                        editable=False,
                    ),
                ),
                migrations.AddField(
                    model_name="schoolclass",
                    name="change_seq",
                    field=models.BigIntegerField(
                        db_default=vnemis.core.change_numbers.NextChangeSeq(),
                        db_index=True,
                        editable=False,
                    ),
                ),
                migrations.AddField(
                    model_name="staffassignment",
                    name="change_seq",
                    field=models.BigIntegerField(
                        db_default=vnemis.core.change_numbers.NextChangeSeq(),
                        db_index=True,
                        editable=False,
                    ),
                ),
                migrations.AddField(
                    model_name="subjectresult",
                    name="change_seq",
                    field=models.BigIntegerField(
                        db_default=vnemis.core.change_numbers.NextChangeSeq(),
                        db_index=True,
                        editable=False,
                    ),
                ),
                migrations.AddField(
                    model_name="teachingassignment",
                    name="change_seq",
                    field=models.BigIntegerField(
                        db_default=vnemis.core.change_numbers.NextChangeSeq(),
                        db_index=True,
                        editable=False,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(add_columns, drop_columns)],
        ),
        migrations.RunPython(install, uninstall),
    ]
