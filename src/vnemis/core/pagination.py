"""Keyset (cursor) pagination for querysets: never OFFSET, whatever the size of the table.

A page is read as ``WHERE (k1, k2, ...) > (last k1, last k2, ...) ORDER BY k1, k2, ... LIMIT n+1``
(written as OR-ed comparisons, which every database plans well), so page 10,000 costs what
page 1 costs and rows inserted while a client walks the list cause neither duplicates nor gaps.

The cursor handed to clients is the last row's sort key, JSON in URL-safe base64, signed with
the site's secret and a per-list salt: clients treat it as opaque, and an edited or foreign
cursor is refused with a clear error instead of silently starting somewhere else.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_SALT = "vnemis.cursor."


class CursorError(ValueError):
    """The cursor was not issued by this list: edited, truncated or from another endpoint."""


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None


def _json_value(value: Any) -> Any:
    # Dates and datetimes travel as ISO text; the model field parses them back on decode.
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _model_field(model: type[Model], lookup: str):
    """The model field at the end of ``a__b__c``, following relations."""
    field = None
    for part in lookup.split("__"):
        field = model._meta.get_field(part)
        if field.is_relation:
            model = field.related_model
    # A bare foreign key sorts by the target's primary key.
    return field.target_field if field.is_relation else field


def _attr_path(obj: Any, lookup: str) -> Any:
    for part in lookup.split("__"):
        obj = getattr(obj, part)
    return obj.pk if isinstance(obj, Model) else obj


def encode_cursor(key: Sequence[Any], *, namespace: str) -> str:
    """An opaque, signed cursor for the sort key ``key`` of the list ``namespace``."""
    signer = signing.Signer(salt=_SALT + namespace, sep=".")
    return signer.sign_object([_json_value(v) for v in key])


def decode_cursor(cursor: str, *, namespace: str, model: type[Model], order: Sequence[str]):
    """The sort key inside ``cursor``, each value parsed by its model field; else CursorError."""
    signer = signing.Signer(salt=_SALT + namespace, sep=".")
    try:
        values = signer.unsign_object(cursor)
    except (signing.BadSignature, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise CursorError(cursor) from exc
    if not isinstance(values, list) or len(values) != len(order):
        raise CursorError(cursor)
    parsed = []
    for lookup, value in zip(order, values, strict=True):
        if value is None or not isinstance(value, str | int | float | bool):
            raise CursorError(cursor)
        try:
            parsed.append(_model_field(model, lookup.lstrip("-")).to_python(value))
        except ValidationError as exc:
            raise CursorError(cursor) from exc
    return parsed


def keyset_filter(order: Sequence[str], key: Sequence[Any]) -> Q:
    """Rows strictly after ``key`` in ``order`` ("-field" sorts descending)."""
    condition = Q()
    equal_so_far: dict[str, Any] = {}
    for lookup, value in zip(order, key, strict=True):
        name = lookup.lstrip("-")
        op = "lt" if lookup.startswith("-") else "gt"
        condition |= Q(**equal_so_far, **{f"{name}__{op}": value})
        equal_so_far[name] = value
    return condition


def keyset_page(
    qs: QuerySet,
    *,
    order: Sequence[str],
    cursor: str | None,
    limit: int = DEFAULT_LIMIT,
    namespace: str,
) -> Page:
    """One page of ``qs`` after ``cursor``, sorted by ``order`` (whose last field must be unique).

    Related sort fields must be in ``select_related`` so reading the last key costs no query.
    Raises CursorError for a cursor this list did not issue.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    if cursor:
        key = decode_cursor(cursor, namespace=namespace, model=qs.model, order=order)
        qs = qs.filter(keyset_filter(order, key))
    qs = qs.order_by(*order)
    rows = list(qs[: limit + 1])
    if len(rows) <= limit:
        return Page(items=rows, next_cursor=None)
    rows = rows[:limit]
    last = rows[-1]
    key = [_attr_path(last, lookup.lstrip("-")) for lookup in order]
    return Page(items=rows, next_cursor=encode_cursor(key, namespace=namespace))
