"""Idempotency keys of the sync API: a retried request is applied once.

The client sends ``Idempotency-Key`` with every write. The first request that succeeds stores
its response (``IdempotencyRecord``) in the same transaction as the data it wrote, so the
record exists exactly when the write does. A retry with the same key and the same request
replays the stored response; the same key with a different request is refused
(``idempotency_key_reused``). A request that was refused (409, 422, 423) wrote nothing and
stores nothing: retrying it is safe and runs it again.

Concurrent duplicates: the sync actions take the change-number lock first thing in their
transaction (``core.change_numbers.change_lock``), so two requests with one key run one
after the other and the second finds the first's record.
"""

import hashlib
import re

from vnemis.core.api_errors import ApiError

from .models_imports import IdempotencyRecord

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{8,128}$")
KEEP_DAYS = 7  # records older than this may be purged; a client retries within minutes


def idempotency_key_check(key: str | None) -> str:
    """The header's value, or a 422 saying what a valid key looks like."""
    if key is None or not key.strip():
        raise ApiError(
            422,
            "idempotency_key_missing",
            "Thiếu tiêu đề Idempotency-Key: mỗi yêu cầu ghi dữ liệu phải có một khoá duy nhất "
            "(ví dụ một UUID) để gửi lại an toàn khi mất kết nối.",
            "The Idempotency-Key header is missing: every write needs a unique key (e.g. a "
            "UUID) so it can be retried safely.",
            errors=[{"field": "Idempotency-Key", "type": "missing", "message": "required"}],
        )
    key = key.strip()
    if not KEY_PATTERN.match(key):
        raise ApiError(
            422,
            "idempotency_key_invalid",
            "Idempotency-Key phải dài 8–128 ký tự, gồm chữ, số và . _ : -",
            "Idempotency-Key must be 8–128 characters of letters, digits and . _ : -",
            errors=[{"field": "Idempotency-Key", "type": "invalid", "message": "format"}],
        )
    return key


def request_fingerprint(*, method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests "the same": method, path, query string and exact body."""
    digest = hashlib.sha256()
    for part in (method.upper(), path, query):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


def idempotency_replay(*, owner, key: str, fingerprint: str) -> tuple[int, dict] | None:
    """The stored (status, body) of an earlier identical request, None if there is none;
    422 if the key was used for a different request."""
    record = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
    if record is None:
        return None
    if record.request_sha256 != fingerprint:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "Idempotency-Key này đã được dùng cho một yêu cầu khác; mỗi yêu cầu mới cần một "
            "khoá mới.",
            "This Idempotency-Key was already used for a different request; use a new key for "
            "every new request.",
            errors=[{"field": "Idempotency-Key", "type": "reused", "message": key}],
        )
    return record.status_code, record.response


def idempotency_store(
    *, owner, key: str, method: str, path: str, fingerprint: str, status: int, body: dict
) -> None:
    """Keep the response (call inside the transaction of the write)."""
    IdempotencyRecord.objects.create(
        owner=owner,
        key=key,
        method=method.upper()[:8],
        path=path[:255],
        request_sha256=fingerprint,
        status_code=status,
        response=body,
    )
