"""Full-text search over ``office_documentsearch.body`` (folded text, see ``office.search``).

PostgreSQL: a GIN index on ``to_tsvector('simple', body)``; the body is folded already, so
neither unaccent nor a language configuration is needed. SQLite: an FTS5 table with the body as
external content (no second copy of the text), kept in step by triggers on every insert, update
and delete of a search row. Each backend gets only its own part.
"""

from django.db import migrations

POSTGRES = [
    "CREATE INDEX office_docsearch_tsv ON office_documentsearch "
    "USING gin (to_tsvector('simple', body))",
]
POSTGRES_REVERSE = ["DROP INDEX IF EXISTS office_docsearch_tsv"]

SQLITE = [
    "CREATE VIRTUAL TABLE office_document_fts USING fts5("
    "body, content='office_documentsearch', content_rowid='document_id', "
    "tokenize='unicode61 remove_diacritics 2')",
    """CREATE TRIGGER office_docsearch_ai AFTER INSERT ON office_documentsearch BEGIN
         INSERT INTO office_document_fts(rowid, body) VALUES (new.document_id, new.body);
       END""",
    """CREATE TRIGGER office_docsearch_ad AFTER DELETE ON office_documentsearch BEGIN
         INSERT INTO office_document_fts(office_document_fts, rowid, body)
         VALUES ('delete', old.document_id, old.body);
       END""",
    """CREATE TRIGGER office_docsearch_au AFTER UPDATE ON office_documentsearch BEGIN
         INSERT INTO office_document_fts(office_document_fts, rowid, body)
         VALUES ('delete', old.document_id, old.body);
         INSERT INTO office_document_fts(rowid, body) VALUES (new.document_id, new.body);
       END""",
    # Rows written before this migration (none in a fresh database) enter the index too.
    "INSERT INTO office_document_fts(office_document_fts) VALUES ('rebuild')",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS office_docsearch_ai",
    "DROP TRIGGER IF EXISTS office_docsearch_ad",
    "DROP TRIGGER IF EXISTS office_docsearch_au",
    "DROP TABLE IF EXISTS office_document_fts",
]


def _run(schema_editor, postgres, sqlite):
    vendor = schema_editor.connection.vendor
    statements = postgres if vendor == "postgresql" else sqlite if vendor == "sqlite" else []
    for sql in statements:
        schema_editor.execute(sql)


def forwards(apps, schema_editor):
    _run(schema_editor, POSTGRES, SQLITE)


def backwards(apps, schema_editor):
    _run(schema_editor, POSTGRES_REVERSE, SQLITE_REVERSE)


class Migration(migrations.Migration):
    dependencies = [("office", "0002_document_types")]
    operations = [migrations.RunPython(forwards, backwards)]
