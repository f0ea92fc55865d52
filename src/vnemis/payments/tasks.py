"""Background tasks of payments (thin: the work is in ``reconcile``).

Idempotent: a reconciliation run twice settles nothing twice (settlement is conditional).
There is no scheduler here: run it every few minutes from cron (``vnemis payments
reconcile``) or enqueue this task.
"""

from django_tasks import task


@task()
def payments_reconcile_run(older_than_minutes: int = 5) -> dict:
    """Settle pending orders and re-check recently settled ones against the gateway."""
    from datetime import timedelta

    from .reconcile import payments_reconcile

    return payments_reconcile(older_than=timedelta(minutes=older_than_minutes)).as_dict()
