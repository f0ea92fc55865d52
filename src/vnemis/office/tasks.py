"""Background tasks of the e-office (thin: the work is in ``workflow``).

``office_overdue_flag_run`` is the daily task: it flags every open assignment past its deadline
once, with a step in its document's log. Idempotent: a second run the same day flags nothing.
There is no scheduler here: enqueue it once a day (cron: ``vnemis`` shell or the worker).
"""

from django_tasks import task


@task()
def office_overdue_flag_run(today: str = "") -> dict:
    """Flag overdue assignments (``today`` as YYYY-MM-DD; default: today in Vietnam)."""
    from datetime import date

    from .workflow import overdue_flag

    day = date.fromisoformat(today) if today else None
    return {"flagged": overdue_flag(today=day)}


@task()
def exchange_outbox_deliver(message_id: int = 0) -> dict:
    """Deliver one edXML outbox message (``message_id``), or every due one (0). Idempotent: a
    delivered message is not sent again, and the receiver deduplicates by DocumentId."""
    from .exchange import outbox_deliver, outbox_due_deliver

    if message_id:
        return {"state": outbox_deliver(message_id=message_id)}
    return outbox_due_deliver()


@task()
def exchange_outbox_retry_run() -> dict:
    """Deliver the queued messages whose next attempt is due (enqueue it every minute)."""
    from .exchange import outbox_due_deliver

    return outbox_due_deliver()


@task()
def office_texts_extract(sha256s: list[str] | None = None) -> dict:
    """Extract the search text of files registered without it: these (``sha256s``), or every
    file still pending (none given: the sweep, enqueued after received messages; enqueue it
    every few minutes too)."""
    from .texts import pending_texts_extract, pending_texts_sweep

    if sha256s:
        return pending_texts_extract(sha256s=sha256s)
    return pending_texts_sweep()
