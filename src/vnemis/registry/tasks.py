"""Background tasks of the registry (thin: the work is in the engine modules).

Tasks take ids, not objects, and are idempotent: running one twice resumes or does nothing.
"""

from django_tasks import task


@task()
def rollover_execute(run_id: int) -> dict:
    """Run or resume a year-end rollover (``vnemis.registry.rollover.execute``)."""
    from .models_rollover import RolloverRun
    from .rollover import execute

    run = execute(RolloverRun.objects.get(pk=run_id))
    return {"status": run.status, "counts": run.counts}
