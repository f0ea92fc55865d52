"""Name-search keys: one row per word of a person's normalised name (``vnemis.registry.search``).

The key of a row is the suffix of ``Person.name_search`` that starts at that word ("nguyen van
an" → "nguyen van an", "van an", "an"), so every search — a name's start or a whole-word prefix
inside it — is a prefix of some key, answered by one ordered range scan of a B-tree:
``key >= 'van an' AND key < 'van ao' ORDER BY key, person_id``. The key column sorts by code
point (PostgreSQL: COLLATE "C", set in migration 0006; SQLite's default BINARY), which makes
range bounds, ``ORDER BY`` and the keyset cursor agree. ``province_code`` (the person's) leads
a second index so a Department searches only its province's keys.

Rows are written only by ``search.person_keys_replace`` (registry actions), the bulk loader and
migration 0006; they are derived data, rebuilt from ``Person.name_search`` at will.
"""

from django.db import models

__all__ = ["PersonNameKey"]


class PersonNameKey(models.Model):
    person = models.ForeignKey(
        "registry.Person",
        on_delete=models.CASCADE,
        related_name="name_keys",
        db_index=False,  # (person, position) is unique: that index serves look-ups by person
    )
    position = models.SmallIntegerField()  # index of the word the key starts at (0 = whole name)
    key = models.CharField(max_length=150)
    province_code = models.CharField(max_length=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "position"], name="uniq_person_name_key")
        ]
        indexes = [
            # ``position`` is included so the scan reads the index only (PostgreSQL).
            models.Index(fields=["key", "person"], include=["position"], name="person_name_key"),
            models.Index(
                fields=["province_code", "key", "person"],
                include=["position"],
                name="person_name_key_province",
            ),
        ]

    def __str__(self) -> str:
        return self.key
