"""Appending to and verifying the hash-chained audit log.

Appends are serialised (a PostgreSQL advisory lock; SQLite serialises writers itself) so the
chain has one order. Call ``audit_record`` inside the transaction of the write it describes,
so an entry exists exactly when the change does.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from .middleware import current_request
from .models import AuditEntry

GENESIS = "0" * 64
_LOCK_KEY = 7_310_001  # arbitrary, fixed: the advisory lock that orders audit appends


def _content(entry: AuditEntry) -> str:
    return json.dumps(
        [
            entry.at.isoformat(),
            entry.actor_id,
            entry.actor_label,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.detail,
            entry.ip,
            entry.channel,
        ],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256((prev_hash + _content(entry)).encode()).hexdigest()


def _actor_fields(actor) -> tuple[int | None, str]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None, "system"
    return actor.pk, actor.get_username()


@transaction.atomic
def audit_record(
    *, actor, action: str, object_type: str, object_id: str | int = "", detail: dict | None = None
) -> AuditEntry:
    """Append one entry to the chain."""
    return audit_record_many(
        actor=actor, action=action, object_type=object_type, object_ids=[object_id], detail=detail
    )[0]


@transaction.atomic
def audit_record_many(
    *, actor, action: str, object_type: str, object_ids: list, detail: dict | None = None
) -> list[AuditEntry]:
    """Append one entry per object, chained, in one statement."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
    last = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
    prev = last or GENESIS
    ctx = current_request.get()
    actor_id, label = _actor_fields(actor)
    now = timezone.now()
    entries = []
    for object_id in object_ids:
        entry = AuditEntry(
            at=now,
            actor_id=actor_id,
            actor_label=label,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            detail=detail or {},
            ip=ctx.ip,
            channel=ctx.channel,
            prev_hash=prev,
        )
        entry.hash = prev = entry_hash(entry.prev_hash, entry)
        entries.append(entry)
    return AuditEntry.objects.bulk_create(entries)


@dataclass(frozen=True)
class ChainProblem:
    entry_id: int
    reason: str


def audit_verify(*, chunk_size: int = 10_000) -> Iterator[ChainProblem]:
    """Walk the whole chain in id order and yield every entry that breaks it."""
    prev = GENESIS
    last_id = 0
    while True:
        chunk = list(AuditEntry.objects.filter(id__gt=last_id).order_by("id")[:chunk_size])
        if not chunk:
            return
        for entry in chunk:
            if entry.prev_hash != prev:
                yield ChainProblem(entry.id, "prev_hash does not match the previous entry")
            if entry_hash(entry.prev_hash, entry) != entry.hash:
                yield ChainProblem(entry.id, "content does not match its hash")
            prev = entry.hash
            last_id = entry.id


# --- anchors: the chain's head recorded outside the database ---------------------------------
#
# A chain alone cannot show that its newest entries were cut off, or that someone with the
# database rewrote and re-hashed all of it. An anchor is the head (id, hash) signed with a key
# the database does not hold (VNEMIS_AUDIT_ANCHOR_KEY), written to a file kept elsewhere (a
# write-once store, another agency's e-office, paper). Verifying against an anchor proves the
# chain still holds that entry with that hash.


def _anchor_key() -> bytes:
    import base64

    from django.conf import settings

    raw = getattr(settings, "VNEMIS_AUDIT_ANCHOR_KEY", "")
    if raw:
        return base64.b64decode(raw)
    return hashlib.sha256(b"audit-anchor" + settings.SECRET_KEY.encode()).digest()


def _anchor_mac(entry_id: int, entry_hash: str, at: str) -> str:
    import hmac

    message = f"{entry_id}|{entry_hash}|{at}".encode()
    return hmac.new(_anchor_key(), message, hashlib.sha256).hexdigest()


def audit_anchor() -> dict:
    """The signed head of the chain, to be stored outside the database."""
    head = AuditEntry.objects.order_by("-id").values("id", "hash").first()
    if head is None:
        head = {"id": 0, "hash": GENESIS}
    at = timezone.now().isoformat()
    return {
        "entry_id": head["id"],
        "hash": head["hash"],
        "at": at,
        "mac": _anchor_mac(head["id"], head["hash"], at),
    }


def audit_check_anchor(anchor: dict) -> list[str]:
    """Problems found checking the chain against an anchor (empty when it holds)."""
    import hmac

    expected = _anchor_mac(anchor["entry_id"], anchor["hash"], anchor["at"])
    if not hmac.compare_digest(expected, anchor.get("mac", "")):
        return ["anchor signature is not valid (wrong key or edited anchor)"]
    if anchor["entry_id"] == 0:
        return []
    stored = AuditEntry.objects.filter(id=anchor["entry_id"]).values_list("hash", flat=True).first()
    if stored is None:
        return [f"entry {anchor['entry_id']} named by the anchor is missing (log cut off)"]
    if stored != anchor["hash"]:
        return [f"entry {anchor['entry_id']} no longer has the anchored hash (chain rewritten)"]
    return []
