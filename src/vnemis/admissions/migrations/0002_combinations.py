"""Loads the subject combinations of the catalogue (``admissions.catalogue.COMBINATIONS``)."""

from django.db import migrations


def combinations_load(apps, schema_editor):
    from vnemis.admissions.catalogue import COMBINATIONS

    Combination = apps.get_model("admissions", "Combination")
    for code, subjects, name in COMBINATIONS:
        Combination.objects.update_or_create(
            code=code, defaults={"name": name, "subjects": list(subjects)}
        )


class Migration(migrations.Migration):
    dependencies = [("admissions", "0001_initial")]
    operations = [migrations.RunPython(combinations_load, migrations.RunPython.noop)]
