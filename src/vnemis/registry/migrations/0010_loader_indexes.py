"""Drop indexes that no query uses but every bulk insert pays for (issue 3, import speed).

Django adds a ``varchar_pattern_ops`` twin to every indexed ``CharField`` on PostgreSQL, for
``LIKE 'x%'`` look-ups. Three of them serve nothing: the citizen-ID blind index and the
province code are only ever compared whole, and education IDs are looked up exactly (the
unique index serves that). Measured on an import: each index on registry_person costs every new
person one more B-tree insertion. SQLite has no such twins: nothing to do there.
"""

from django.db import migrations

INDEXES = [
    ("registry_person_citizen_id_index_1f5568c5_like", "citizen_id_index"),
    ("registry_person_province_code_72744086_like", "province_code"),
    ("registry_person_education_id_0d459f05_like", "education_id"),
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _column in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON registry_person ({column} varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [("registry", "0009_change_tracking")]
    operations = [migrations.RunPython(forwards, backwards)]
