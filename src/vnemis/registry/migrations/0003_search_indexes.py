"""Indexes for name search at national size.

PostgreSQL: a trigram GIN index on the normalised name, so "contains" look-ups stay fast on
millions of rows, and a text_pattern_ops B-tree for prefix look-ups. SQLite keeps the B-tree
index on (name_search, id) from 0001, which serves prefix look-ups.
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS person_name_trgm ON registry_person USING gin (name_search gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS person_name_prefix ON registry_person (name_search text_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS org_name_trgm ON orgs_organisation USING gin (name_search gin_trgm_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS person_name_trgm",
    "DROP INDEX IF EXISTS person_name_prefix",
    "DROP INDEX IF EXISTS org_name_trgm",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in FORWARD:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in BACKWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_reference_data"), ("orgs", "0002_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
