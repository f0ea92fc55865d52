"""Drop indexes that no query needs but every bulk insert pays for (issue 3, import speed).

Measured on PostgreSQL (50,000 new persons): each B-tree index on registry_person adds about
2.5 µs a row, the trigram GIN index about 10 µs; the loader wrote 25 index entries per new
pupil and enrolment. What goes:

- registry_person: every index on ``name_search`` — trigram and text_pattern_ops (PostgreSQL,
  migration 0003) and (name_search, id): name search runs on ``PersonNameKey`` since 0006, and
  a small scope's search orders the few thousand persons in scope, not the registry —,
  ``birth_date``,
  ``province_code`` (a distribution key, never filtered alone) and the foreign keys to
  reference data (ethnicity, birth province, permanent commune), which nothing looks up by;
- registry_enrolment: the single-column indexes of its four foreign keys, each of which leads
  a composite index already (school_year is always filtered with the school or the pupil);
- registry_enrolmentstatuschange: ``recorded_by``.

State changes are Django's; the database side drops the indexes by name instead, because
altering a foreign key on SQLite rebuilds the whole table (losing the indexes created in plain
SQL by earlier migrations).
"""

from django.conf import settings
import django.db.models.deletion
from django.db import migrations, models

# (table, column) of the single-column indexes Django created; their names are Django's own.
COLUMNS = [
    ("registry_person", "ethnicity_id"),
    ("registry_person", "birth_province_id"),
    ("registry_person", "permanent_commune_id"),
    ("registry_person", "province_code"),
    ("registry_enrolment", "pupil_id"),
    ("registry_enrolment", "school_class_id"),
    ("registry_enrolment", "school_id"),
    ("registry_enrolment", "school_year_id"),
    ("registry_enrolmentstatuschange", "recorded_by_id"),
]
NAMED = [
    ("person_birth_date", "registry_person", "birth_date"),
    ("person_name_search", "registry_person", "name_search, id"),
]
POSTGRES_ONLY = {
    "person_name_trgm": "CREATE INDEX IF NOT EXISTS person_name_trgm ON registry_person "
    "USING gin (name_search gin_trgm_ops)",
    "person_name_prefix": "CREATE INDEX IF NOT EXISTS person_name_prefix ON registry_person "
    "(name_search text_pattern_ops)",
}


def _indexes(schema_editor):
    for table, column in COLUMNS:
        yield schema_editor._create_index_name(table, [column], suffix=""), table, column
    yield from NAMED


def forwards(apps, schema_editor):
    for name, _table, _column in _indexes(schema_editor):
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
    if schema_editor.connection.vendor == "postgresql":
        for name in POSTGRES_ONLY:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def backwards(apps, schema_editor):
    for name, table, column in _indexes(schema_editor):
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON {table} ({column})')
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRES_ONLY.values():
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("geo", "0001_initial"),
        ("orgs", "0003_change_seq"),
        ("registry", "0010_loader_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(
                    model_name="person",
                    name="person_birth_date",
                ),
                migrations.RemoveIndex(
                    model_name="person",
                    name="person_name_search",
                ),
                migrations.AlterField(
                    model_name="enrolment",
                    name="pupil",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="enrolments",
                        to="registry.person",
                    ),
                ),
                migrations.AlterField(
                    model_name="enrolment",
                    name="school",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="enrolments",
                        to="orgs.organisation",
                    ),
                ),
                migrations.AlterField(
                    model_name="enrolment",
                    name="school_class",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="enrolments",
                        to="registry.schoolclass",
                    ),
                ),
                migrations.AlterField(
                    model_name="enrolment",
                    name="school_year",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="enrolments",
                        to="registry.schoolyear",
                    ),
                ),
                migrations.AlterField(
                    model_name="enrolmentstatuschange",
                    name="recorded_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="person",
                    name="birth_province",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="geo.province",
                    ),
                ),
                migrations.AlterField(
                    model_name="person",
                    name="ethnicity",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.ethnicity",
                    ),
                ),
                migrations.AlterField(
                    model_name="person",
                    name="permanent_commune",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="geo.commune",
                    ),
                ),
                migrations.AlterField(
                    model_name="person",
                    name="province_code",
                    field=models.CharField(max_length=2),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
