"""Background tasks of admissions (thin: the work is in ``runs``)."""

from django_tasks import task


@task()
def match_run_task(run_id: int) -> dict:
    """Run one queued virtual-filtering run."""
    from .runs import run_execute

    run = run_execute(run_id)
    return {"run": run.pk, "status": run.status, "placed": run.placed}
