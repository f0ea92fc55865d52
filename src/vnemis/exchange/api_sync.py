"""``POST /api/v1/sync/{entity}``: batch upserts and removals for school-management software.

Endpoints only translate: the body is parsed and checked here (bad JSON, too many records,
unknown entity, malformed records → clear errors before anything runs), the writes happen in
``exchange.sync``. Every request needs an ``Idempotency-Key`` header; a replayed answer carries
``Idempotent-Replayed: true``.
"""

import json

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from ninja import Query, Router

from vnemis.core.api_errors import ERROR_RESPONSES, ApiError, ErrorOut

from . import idempotency, sync
from .schemas_sync import SyncOut

router = Router()
RESPONSES = {200: SyncOut, 409: ErrorOut, 413: ErrorOut, 423: SyncOut, **ERROR_RESPONSES}
MODE = Query("all_or_nothing", pattern="^(all_or_nothing|apply_valid)$")
SCALARS = (str, int, float, bool, type(None))


def _unknown_entity(entity: str, allowed) -> ApiError:
    return ApiError(
        404,
        "unknown_entity",
        f"Không có loại dữ liệu '{entity[:40]}' để đồng bộ; các loại được hỗ trợ: "
        f"{', '.join(allowed)}.",
        f"There is no entity '{entity[:40]}' to sync; supported: {', '.join(allowed)}.",
    )


def _bad_body(message_vi: str, message_en: str, problems: list[dict] | None = None) -> ApiError:
    return ApiError(422, "invalid_body", message_vi, message_en, errors=problems)


def _records(request: HttpRequest) -> tuple[bytes, list[dict]]:
    """The raw body and its ``records``: a JSON object {"records": [ {...}, ... ]}."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(
            413,
            "body_too_large",
            "Nội dung yêu cầu quá lớn; hãy chia thành các lô nhỏ hơn.",
            "The request body is too large; split it into smaller batches.",
        ) from None
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _bad_body(
            "Nội dung không phải JSON hợp lệ (UTF-8).",
            "The body is not valid JSON (UTF-8).",
            [{"field": "body", "type": "bad_json", "message": "not JSON"}],
        ) from None
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise _bad_body(
            'Nội dung phải là một đối tượng JSON có trường "records" là một danh sách.',
            'The body must be a JSON object whose "records" field is a list.',
            [{"field": "records", "type": "missing", "message": "a list is required"}],
        )
    if not records:
        raise _bad_body(
            "Danh sách records rỗng: không có gì để ghi.",
            "The records list is empty: there is nothing to write.",
            [{"field": "records", "type": "empty", "message": "at least one record"}],
        )
    if len(records) > sync.MAX_RECORDS:
        raise ApiError(
            413,
            "too_many_records",
            f"Mỗi lô tối đa {sync.MAX_RECORDS:,} bản ghi; lô này có {len(records):,}. Hãy chia "
            "nhỏ lô.".replace(",", "."),
            f"A batch holds at most {sync.MAX_RECORDS:,} records; this one has "
            f"{len(records):,}. Split it.",
        )
    problems = []
    for index, record in enumerate(records, start=1):
        field = f"records[{index}]"
        if not isinstance(record, dict):
            problems.append({"field": field, "type": "not_object", "message": "an object"})
            continue
        for name, value in record.items():
            ok = isinstance(value, SCALARS) or (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            )
            if not ok:
                problems.append(
                    {"field": f"{field}.{name}"[:100], "type": "bad_value", "message": "scalar"}
                )
        version = record.get("version")
        if version is not None and (
            isinstance(version, bool) or not isinstance(version, int) or version < 0
        ):
            problems.append(
                {"field": f"{field}.version", "type": "bad_version", "message": "integer >= 0"}
            )
    if problems:
        raise _bad_body(
            "Một số bản ghi có dạng không hợp lệ (xem errors); không có gì được ghi.",
            "Some records are malformed (see errors); nothing was written.",
            problems[:100],
        )
    return raw, records


def _request(request: HttpRequest, raw: bytes) -> sync.Request:
    key = idempotency.idempotency_key_check(request.headers.get("Idempotency-Key"))
    return sync.Request(
        key=key,
        method=request.method,
        path=request.path,
        fingerprint=idempotency.request_fingerprint(
            method=request.method, path=request.path, query=request.GET.urlencode(), body=raw
        ),
    )


def _answer(status: int, body: dict, *, replayed: bool) -> JsonResponse:
    response = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _run(request, entity: str, mode: str, action) -> JsonResponse:
    raw, records = _records(request)
    req = _request(request, raw)
    status, body, replayed = action(
        actor=request.auth, entity=entity, records=records, mode=mode, request=req
    )
    return _answer(status, body, replayed=replayed)


@router.post("/{entity}/remove", response=RESPONSES)
def sync_remove(request: HttpRequest, entity: str, mode: str = MODE):
    """Removals as status changes, keyed by natural keys (at most 1,000 per request).

    ``enrolments``: records {school_code, school_year, pupil_code, status (transferred_out |
    dropped_out | graduated | completed), date, version?} → the enrolment gets that status and
    end date, with a history entry; never deleted. ``staff``: {school_code, staff_code, date,
    version?} → the post ends on that date. ``teaching_assignments``: {school_code,
    school_year, class_name, subject_code, version?} → deleted (the change feed shows a
    tombstone). Needs ``Idempotency-Key``.
    """
    if entity not in sync.REMOVE_ENTITIES:
        raise _unknown_entity(entity, sync.REMOVE_ENTITIES)
    return _run(request, entity, mode, sync.sync_remove)


@router.post("/{entity}", response=RESPONSES)
def sync_upsert(request: HttpRequest, entity: str, mode: str = MODE):
    """Insert or update up to 1,000 records of one entity, matched by natural key.

    Body: ``{"records": [{<exchange-standard fields>, "version": <change number, optional>}]}``.
    Header ``Idempotency-Key`` (required): a retry with the same key and body returns the first
    answer without writing again. ``version`` is the record's version (``change_number`` in the
    change feed); if the record changed since, the whole batch is refused with 409
    ``stale_version``. ``mode=all_or_nothing`` (default) writes nothing if any record is
    invalid; ``apply_valid`` writes the valid ones. Same validation as file imports.
    """
    if entity not in sync.UPSERT_ENTITIES:
        raise _unknown_entity(entity, sync.UPSERT_ENTITIES)
    return _run(request, entity, mode, sync.sync_upsert)
