"""Text extraction after the commit, for files registered without it (received by exchange).

The inbox answers a partner as soon as a message is verified and registered; the extraction
(PDFium, ``actions_files.pdf_text``) runs afterwards, in ``office_texts_extract``, enqueued
on commit (one sweep a burst of messages). Each pending file is extracted once, then its text
is added to the search rows of the documents whose current version holds it. The sweep takes
every file still pending, so a lost enqueue or a worker that died leaves none unsearchable
once it runs again (enqueue it every few minutes too).
"""

from __future__ import annotations

import logging

from django.db import connection, transaction

from .actions_files import pdf_text
from .models import Blob
from .search import search_text_add

logger = logging.getLogger(__name__)

PENDING = "pending"
CHUNK = 20  # files read and written together (a few MB at most)


def texts_enqueue(sha256s) -> None:
    """After the current transaction commits, have the worker extract these files' text: one
    sweep for all of them, enqueued unless a sweep is already waiting in the queue (it reads
    the pending files when it starts, so it takes these too: one task a burst, not a file)."""
    if not any(True for _ in sha256s):
        return

    def enqueue():
        from .tasks import office_texts_extract

        try:
            if not _sweep_waiting(office_texts_extract):
                office_texts_extract.enqueue()
        except Exception:  # the periodic sweep extracts them
            logger.exception("office: text extraction not enqueued")

    transaction.on_commit(enqueue)


def _sweep_waiting(task) -> bool:
    """A sweep not yet started in the database queue (other backends: never assume one)."""
    from django_tasks import TaskResultStatus
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    if not isinstance(task.get_backend(), DatabaseBackend):
        return False
    with connection.cursor() as cursor:  # asked after every received message: no ORM
        cursor.execute(
            f"SELECT 1 FROM {DBTaskResult._meta.db_table} WHERE status = %s AND task_path = %s"  # noqa: S608
            " LIMIT 1",
            [TaskResultStatus.READY, task.module_path],
        )
        return cursor.fetchone() is not None


def pending_texts_sweep(*, limit: int = 500) -> dict:
    """Every pending file, ``limit`` at a time, until none is left."""
    total: dict[str, int] = {}
    while True:
        counts = pending_texts_extract(limit=limit)
        for status, n in counts.items():
            total[status] = total.get(status, 0) + n
        if sum(counts.values()) < limit:
            return total


def pending_texts_extract(*, sha256s=None, limit: int = 500) -> dict:
    """Extract the text of pending files (these, or the oldest ``limit``) and add it to the
    search rows of the documents holding them. Returns counts by resulting status."""
    pending = Blob.objects.filter(text_status=PENDING)
    if sha256s is not None:
        pending = pending.filter(sha256__in=list(sha256s))
    ids = list(pending.order_by("id").values_list("id", flat=True)[:limit])
    counts: dict[str, int] = {}
    for start in range(0, len(ids), CHUNK):
        for status in _chunk_extract(ids[start : start + CHUNK]):
            counts[status] = counts.get(status, 0) + 1
    return counts


def _chunk_extract(ids: list[int]) -> list[str]:
    """A few files at a time: their bytes in one query, the text extracted outside any
    transaction (a long file takes a while), then one transaction writing the texts."""
    rows = Blob.objects.filter(pk__in=ids, text_status=PENDING).values_list("pk", "data")
    extracted = [(pk, *pdf_text(bytes(data))) for pk, data in rows]
    statuses = []
    with transaction.atomic():
        for pk, text, status in extracted:
            updated = Blob.objects.filter(pk=pk, text_status=PENDING).update(
                text=text, text_status=status
            )
            if updated:  # else another worker did it
                search_text_add(blob_id=pk, text=text)
            statuses.append(status if updated else "done")
    return statuses
