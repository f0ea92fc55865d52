"""A person whose identifying fields change goes back to unverified, however the change is made.

Imports, the sync API and the web forms all update ``registry_person``; a trigger is the one
place every path passes. It sets the current outcome to unverified and appends that to the
history; the fingerprint is left as it was, so the next run sees the change and checks again.
"""

from django.db import migrations

WATCHED = ("full_name", "birth_date", "sex", "citizen_id_index")

_CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in WATCHED)
_CHANGED_SQLITE = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)

PG_UP = f"""
CREATE FUNCTION identity_person_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH reset AS (
    UPDATE identity_verification SET status = 'unverified', method = 'changed',
           mismatched = '[]'::jsonb, checked_at = now(), run_id = NULL
     WHERE person_id = NEW.id AND status <> 'unverified'
    RETURNING person_id)
  INSERT INTO identity_verificationevent (person_id, status, method, mismatched, at)
  SELECT person_id, 'unverified', 'changed', '[]'::jsonb, now() FROM reset;
  RETURN NULL;
END $$;
CREATE TRIGGER identity_person_changed AFTER UPDATE OF {", ".join(WATCHED)} ON registry_person
  FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION identity_person_changed();
ALTER TABLE registry_person ENABLE ALWAYS TRIGGER identity_person_changed;
"""
PG_DOWN = """
DROP TRIGGER IF EXISTS identity_person_changed ON registry_person;
DROP FUNCTION IF EXISTS identity_person_changed();
"""
SQLITE_UP = [
    f"""CREATE TRIGGER identity_person_changed AFTER UPDATE OF {", ".join(WATCHED)}
ON registry_person WHEN {_CHANGED_SQLITE} BEGIN
  INSERT INTO identity_verificationevent (person_id, status, method, mismatched, at)
  SELECT person_id, 'unverified', 'changed', '[]', strftime('%Y-%m-%d %H:%M:%f', 'now')
    FROM identity_verification WHERE person_id = NEW.id AND status <> 'unverified';
  UPDATE identity_verification SET status = 'unverified', method = 'changed', mismatched = '[]',
         checked_at = strftime('%Y-%m-%d %H:%M:%f', 'now'), run_id = NULL
   WHERE person_id = NEW.id AND status <> 'unverified';
END"""
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS identity_person_changed"]


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_UP)
    else:
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def uninstall(apps, schema_editor):
    statements = [PG_DOWN] if schema_editor.connection.vendor == "postgresql" else SQLITE_DOWN
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("identity", "0001_initial"), ("registry", "0011_bulk_index_diet")]
    operations = [migrations.RunPython(install, uninstall)]
