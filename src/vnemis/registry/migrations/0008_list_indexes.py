"""Indexes for the API's list endpoints: enrolments of a school in id order, classes of a school
and year in the list's (grade, name, id) order (``registry.selectors`` enrolments_page,
classes_page). On a large registry create them outside peak hours (plain CREATE INDEX locks
writes to the table while it builds).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("registry", "0007_rollover_status")]

    operations = [
        migrations.AddIndex(
            model_name="enrolment",
            index=models.Index(fields=["school", "id"], name="enrolment_school_list"),
        ),
        migrations.AddIndex(
            model_name="schoolclass",
            index=models.Index(
                fields=["school", "school_year", "grade", "name", "id"], name="class_school_list"
            ),
        ),
    ]
