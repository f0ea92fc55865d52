"""Text extraction after the commit, for files registered without it (received by exchange).

The inbox answers a partner as soon as a message is verified and registered; pdftotext (a
subprocess, several milliseconds a file) runs afterwards, in ``office_texts_extract``, enqueued
on commit with the new files. Each pending file is extracted once, then the search rows of
the documents whose current version holds it are rewritten. The same task with no argument
sweeps every file still pending (a lost enqueue, a worker that died), so none stays
unsearchable.
"""

from __future__ import annotations

import logging

from django.db import transaction

from .actions_files import pdf_text
from .models import Attachment, Blob, Document
from .search import search_index_refresh

logger = logging.getLogger(__name__)

PENDING = "pending"


def texts_enqueue(sha256s) -> None:
    """After the current transaction commits, extract these files' text (in the worker)."""
    pending = sorted(set(sha256s))
    if not pending:
        return

    def enqueue():
        from .tasks import office_texts_extract

        try:
            office_texts_extract.enqueue(sha256s=pending)
        except Exception:  # the periodic sweep extracts them
            logger.exception("office: text extraction of %d files not enqueued", len(pending))

    transaction.on_commit(enqueue)


def pending_texts_extract(*, sha256s=None, limit: int = 500) -> dict:
    """Extract the text of pending files (these, or the oldest ``limit``) and refresh the
    search rows of the documents holding them. Returns counts by resulting status."""
    pending = Blob.objects.filter(text_status=PENDING)
    if sha256s is not None:
        pending = pending.filter(sha256__in=list(sha256s))
    ids = list(pending.order_by("id").values_list("id", flat=True)[:limit])
    counts: dict[str, int] = {}
    for blob_id in ids:
        status = _blob_extract(blob_id)
        counts[status] = counts.get(status, 0) + 1
    return counts


def _blob_extract(blob_id: int) -> str:
    data = bytes(Blob.objects.only("data").get(pk=blob_id).data)
    text, status = pdf_text(data)  # outside the transaction: it may take seconds
    with transaction.atomic():
        updated = Blob.objects.filter(pk=blob_id, text_status=PENDING).update(
            text=text, text_status=status
        )
        if not updated:  # another worker did it
            return "done"
        documents = Document.objects.filter(
            pk__in=Attachment.objects.filter(blob_id=blob_id).values("version__document_id")
        ).select_related("doc_type")
        for document in documents:
            search_index_refresh(document)
    return status
