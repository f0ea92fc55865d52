"""Load the ethnic groups and subjects the registry refers to."""

from django.db import migrations


def forwards(apps, schema_editor):
    from vnemis.registry.reference import SUBJECTS, ethnic_groups

    Ethnicity = apps.get_model("registry", "Ethnicity")
    Subject = apps.get_model("registry", "Subject")
    extra = [("55", "Người nước ngoài"), ("56", "Không xác định")]
    for code, name in [*ethnic_groups(), *extra]:
        Ethnicity.objects.update_or_create(code=code, defaults={"name": name})
    for code, vi, en, assessment, levels in SUBJECTS:
        Subject.objects.update_or_create(
            code=code, defaults={"name_vi": vi, "name_en": en, "assessment": assessment, "levels": levels}
        )


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
