"""Keys the bulk loader merges on (``vnemis.registry.loaders``).

- A member of staff's code is unique within a school (the staff file's natural key), so the
  loader can upsert ``StaffAssignment`` on (school, staff_code) with ``ON CONFLICT``.
- A pupil's code at a school is looked up across years (the pupils file has no year), so
  (school, pupil_code) gets its own index beside the per-year unique one.

Plain SQL indexes (as in 0003) so the models' state is unchanged; both engines support partial
unique indexes as ``ON CONFLICT`` targets.
"""

from django.db import migrations

FORWARD = [
    "CREATE UNIQUE INDEX IF NOT EXISTS staff_code_per_school "
    "ON registry_staffassignment (school_id, staff_code) WHERE staff_code <> ''",
    "CREATE INDEX IF NOT EXISTS enrolment_school_pupil_code "
    "ON registry_enrolment (school_id, pupil_code)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS staff_code_per_school",
    "DROP INDEX IF EXISTS enrolment_school_pupil_code",
]


class Migration(migrations.Migration):
    # Chained after 0004 to keep one line of migrations; the indexes themselves need only 0003.
    dependencies = [("registry", "0004_rollover")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
