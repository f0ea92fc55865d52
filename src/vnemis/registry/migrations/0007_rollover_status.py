"""Rollover runs: the ``undoing`` status and the holder token and heartbeat of a run.

Status changes of a run are compare-and-set on ``status`` and ``executor`` (see
``vnemis.registry.rollover``); both new columns have defaults, so the ALTERs are cheap.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("registry", "0006_person_name_keys")]

    operations = [
        migrations.AddField(
            model_name="rolloverrun",
            name="executor",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.AddField(
            model_name="rolloverrun",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="rolloverrun",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Đang chờ"),
                    ("running", "Đang chạy"),
                    ("succeeded", "Hoàn thành"),
                    ("failed", "Thất bại"),
                    ("undoing", "Đang hoàn tác"),
                    ("undone", "Đã hoàn tác"),
                ],
                default="pending",
                max_length=10,
            ),
        ),
    ]
