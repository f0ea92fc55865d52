"""Name-search keys (``models_search.PersonNameKey``), filled for the persons already stored.

Order matters at national size: the table is created bare, its key column switched to the "C"
collation on PostgreSQL (code-point order, so range bounds, ORDER BY and the keyset cursor
agree and a plain B-tree serves ``key >= 'an' AND key < 'ao'``), filled set-wise, and only then
indexed (one sort per index instead of one insertion per row). SQLite's default BINARY
collation already compares by code point; it is filled in batches from Python.

An ``AlterField`` of ``key`` in a later migration would reset the collation: repeat the
``ALTER … COLLATE "C"`` there.
"""

import django.db.models.deletion
from django.db import migrations, models

PG_COLLATE = 'ALTER TABLE registry_personnamekey ALTER COLUMN "key" TYPE varchar(150) COLLATE "C"'
# Every word position of every name: the suffix of the word array from that position.
PG_BACKFILL = """
INSERT INTO registry_personnamekey (person_id, "position", "key", province_code)
SELECT p.id, s.i - 1, array_to_string(p.w[s.i:], ' '), p.province_code
FROM (
    SELECT id, province_code, string_to_array(name_search, ' ') AS w
    FROM registry_person WHERE name_search <> '' AND id >= %s AND id < %s
) p
CROSS JOIN LATERAL generate_subscripts(p.w, 1) AS s(i)
"""
BATCH = 5_000
PG_BATCH = 250_000  # persons per INSERT: bounds the queue of foreign-key checks


def collate(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_COLLATE)


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cur:
            # Check the foreign key per statement, not all at commit (a queue of 100 M events).
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute("SELECT min(id), max(id) FROM registry_person")
            low, high = cur.fetchone()
            if low is not None:
                for start in range(low, high + 1, PG_BATCH):
                    cur.execute(PG_BACKFILL, [start, start + PG_BATCH])
            cur.execute("SET CONSTRAINTS ALL DEFERRED")
            cur.execute("ANALYZE registry_personnamekey")
        return
    Person = apps.get_model("registry", "Person")
    PersonNameKey = apps.get_model("registry", "PersonNameKey")
    last = 0
    while True:
        rows = list(
            Person.objects.filter(id__gt=last)
            .order_by("id")
            .values_list("id", "name_search", "province_code")[:BATCH]
        )
        if not rows:
            return
        keys = []
        for person_id, name_search, province_code in rows:
            words = name_search.split(" ") if name_search else []
            keys += [
                PersonNameKey(
                    person_id=person_id,
                    position=i,
                    key=" ".join(words[i:]),
                    province_code=province_code,
                )
                for i in range(len(words))
            ]
        PersonNameKey.objects.bulk_create(keys, batch_size=1_000)
        last = rows[-1][0]


class Migration(migrations.Migration):
    dependencies = [("registry", "0005_loader_keys")]

    operations = [
        migrations.CreateModel(
            name="PersonNameKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.SmallIntegerField()),
                ("key", models.CharField(max_length=150)),
                ("province_code", models.CharField(max_length=2)),
                (
                    "person",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="name_keys",
                        to="registry.person",
                    ),
                ),
            ],
        ),
        migrations.RunPython(collate, migrations.RunPython.noop),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="personnamekey",
            constraint=models.UniqueConstraint(
                fields=("person", "position"), name="uniq_person_name_key"
            ),
        ),
        migrations.AddIndex(
            model_name="personnamekey",
            index=models.Index(
                fields=["key", "person"], include=["position"], name="person_name_key"
            ),
        ),
        migrations.AddIndex(
            model_name="personnamekey",
            index=models.Index(
                fields=["province_code", "key", "person"],
                include=["position"],
                name="person_name_key_province",
            ),
        ),
    ]
