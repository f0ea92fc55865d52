"""``GET /api/v1/changes``: the change feed for downstream systems (``exchange.changes``)."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Query, Router

from vnemis.core.api_errors import ERROR_RESPONSES, invalid_cursor, unknown_value
from vnemis.core.pagination import CursorError, decode_cursor, encode_cursor
from vnemis.registry.models import Tombstone

from . import changes
from .schemas_sync import ChangesOut

router = Router()
NAMESPACE = "changes"


def cursor_encode(seq: int) -> str:
    return encode_cursor([seq], namespace=NAMESPACE)


def cursor_decode(cursor: str | None) -> int:
    """The change number inside a cursor (absent or "0": the beginning; "now": the latest
    change number, so a new client can start from today without paging through history);
    else ``invalid_cursor`` naming ``since``."""
    if not cursor or cursor == "0":
        return 0
    if cursor == "now":
        return changes.change_seq_latest()
    try:
        return decode_cursor(cursor, namespace=NAMESPACE, model=Tombstone, order=["change_seq"])[0]
    except CursorError:
        raise invalid_cursor("since") from None


@router.get("", response={200: ChangesOut, **ERROR_RESPONSES})
def changes_list(
    request: HttpRequest,
    since: str | None = Query(
        None,
        max_length=512,
        description='next_cursor of the last page; "now" to start after the latest change',
    ),
    limit: int = Query(changes.DEFAULT_LIMIT, ge=1, le=changes.MAX_LIMIT),
    entities: str | None = Query(
        None, max_length=300, description="comma-separated, e.g. enrolments,persons"
    ),
):
    """Every change in your scope after ``since``, in commit order.

    Each item is an ``upsert`` (the record's current state, exchange-standard field names,
    ``version`` = its change number, usable as ``version`` in the sync API) or a ``delete``
    (a removed record, or the old natural key of a record whose key changed). Store
    ``next_cursor`` and pass it as ``since`` next time: every later change arrives exactly once.
    A new client that already holds a full copy (an export) starts with ``since=now``.
    Sensitive person fields and health measurements are null unless you may read them for that
    person: their current school, its own software, a teacher of their class, the person.
    """
    wanted = changes.ENTITIES
    if entities:
        wanted = tuple(dict.fromkeys(e.strip() for e in entities.split(",") if e.strip()))
        for name in wanted:
            if name not in changes.ENTITIES:
                raise unknown_value("entities", name)
        if not wanted:
            raise unknown_value("entities", entities)
    after = cursor_decode(since)
    try:
        page = changes.changes_page(viewer=request.auth, since=after, limit=limit, entities=wanted)
    except changes.FeedRefused:
        raise PermissionDenied from None
    return {
        "items": page.items,
        "next_cursor": cursor_encode(page.last_seq),
        "has_more": page.has_more,
    }
