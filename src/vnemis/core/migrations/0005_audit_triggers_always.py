"""The audit log's append-only triggers fire in every ``session_replication_role``.

The bulk loader switches to ``replica`` around a ``COPY`` to skip per-row foreign-key checks it
has done set-wise (``registry.loaders_sql``); no session setting may ever switch off these.
"""

from django.db import migrations

TRIGGERS = ("audit_no_change", "audit_no_truncate")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in TRIGGERS:
            schema_editor.execute(f"ALTER TABLE core_auditentry ENABLE ALWAYS TRIGGER {name}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in TRIGGERS:
            schema_editor.execute(f"ALTER TABLE core_auditentry ENABLE TRIGGER {name}")


class Migration(migrations.Migration):
    dependencies = [("core", "0004_audit_login_failed")]
    operations = [migrations.RunPython(forwards, backwards)]
