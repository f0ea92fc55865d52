"""Load the exam's subject catalogue (``vnemis.exams.catalogue.SUBJECTS``)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from vnemis.exams.catalogue import SUBJECTS

    ExamSubject = apps.get_model("exams", "ExamSubject")
    for position, (code, vi, en, category) in enumerate(SUBJECTS, start=1):
        ExamSubject.objects.update_or_create(
            code=code,
            defaults={"name_vi": vi, "name_en": en, "category": category, "position": position},
        )


class Migration(migrations.Migration):
    dependencies = [("exams", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
