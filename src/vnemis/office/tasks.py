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
