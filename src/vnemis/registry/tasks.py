"""Background tasks of the registry (thin: the work is in the engine modules).

Tasks take ids, not objects, and are idempotent: running one twice resumes or does nothing.
"""

from django_tasks import task


@task()
def rollover_execute(run_id: int) -> dict:
    """Run or resume a year-end rollover (``vnemis.registry.rollover.execute``).

    A run another executor holds (or that is being undone) is left alone: the compare-and-set
    in ``execute`` refuses it, and this task reports that instead of failing the run.
    """
    from .models_rollover import RolloverRun
    from .rollover import RolloverBusy, execute

    try:
        run = execute(RolloverRun.objects.get(pk=run_id))
    except RolloverBusy as exc:
        status = RolloverRun.objects.values_list("status", flat=True).get(pk=run_id)
        return {"status": status, "skipped": exc.code}
    return {"status": run.status, "counts": run.counts}


@task()
def rollover_preview(job_id: str) -> dict:
    """Compute a large scope's rollover preview (``vnemis.registry.rollover.preview_execute``)."""
    from .rollover import preview_execute

    return preview_execute(job_id)
