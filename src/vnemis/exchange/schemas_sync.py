"""API shapes of the change feed and the sync API (exchange-standard field names inside)."""

from typing import Any

from ninja import Schema


class ChangeItem(Schema):
    change_number: int
    entity: str
    op: str  # "upsert" | "delete"
    key: dict[str, Any]
    version: int
    reason: str | None = None  # tombstones: "deleted" | "key_changed"
    data: dict[str, Any] | None = None  # current record (null: delete, or withheld health data)


class ChangesOut(Schema):
    items: list[ChangeItem]
    next_cursor: str
    has_more: bool


class RecordError(Schema):
    column: str | None = None
    code: str
    message_vi: str
    message_en: str


class RecordResult(Schema):
    index: int  # 1-based position in ``records``
    key: dict[str, Any]
    status: str  # inserted | updated | unchanged | rejected
    version: int | None = None
    errors: list[RecordError] = []


class SyncOut(Schema):
    entity: str
    mode: str
    applied: bool
    totals: dict[str, int]
    results: list[RecordResult]
