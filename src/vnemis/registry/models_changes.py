"""What the change feed reads besides the rows themselves: removals and what an update changed.

``Tombstone`` rows are written by database triggers (``registry.change_tracking``), never by
Python: a deleted tracked row, or a row whose natural key changed, leaves its old key here with
its own change number. ``RecordChange`` rows are written by the import engine for updates: the
names of the fields that changed (values stay in the registry, under its access rules).
"""

from django.db import models
from django.db.models.functions import Now

from vnemis.core.change_numbers import change_seq_field

__all__ = ["RecordChange", "Tombstone"]


class Tombstone(models.Model):
    """A removed record, or the old natural key of a record whose key changed."""

    class Reason(models.TextChoices):
        DELETED = "deleted", "deleted"
        KEY_CHANGED = "key_changed", "key_changed"

    change_seq = change_seq_field()
    entity = models.CharField(max_length=30)  # the feed's entity name, e.g. "enrolments"
    object_id = models.BigIntegerField()  # the removed row's internal id
    # The organisation the row belonged to (scope filtering; no FK: the row is history).
    school_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    natural_key = models.JSONField()  # exchange-standard names → values, as before the change
    reason = models.CharField(max_length=12, choices=Reason.choices)
    at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["change_seq"]
        indexes = [models.Index(fields=["entity", "object_id"], name="tombstone_entity_object")]


class RecordChange(models.Model):
    """Which fields an update changed (written by the engine), for audit and the feed's readers."""

    entity = models.CharField(max_length=30)
    object_id = models.BigIntegerField()
    change_seq = models.BigIntegerField()  # the row's number after this update
    fields = models.JSONField(default=list)  # changed column names, no values
    source = models.CharField(max_length=64, blank=True)  # "import:<uuid>", "sync:<uuid>"
    at = models.DateTimeField(db_default=Now())

    class Meta:
        indexes = [
            models.Index(fields=["entity", "object_id"], name="recordchange_entity_object"),
            models.Index(fields=["change_seq"], name="recordchange_seq"),
        ]
