"""Background tasks of identity (thin: the work is in the engine modules)."""

from django_tasks import task


@task()
def verification_execute(run_id: int) -> dict:
    """Run or resume a verification run; a run another worker holds is left alone."""
    from .verification import RunBusy, run_execute

    try:
        run = run_execute(run_id)
    except RunBusy:
        return {"skipped": "busy"}
    return {"status": run.status, "counts": run.counts}
