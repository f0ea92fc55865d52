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


@task()
def linkage_execute(province_code: str, kind: str) -> dict:
    """Link the province's unlinked persons (``link``) or find its duplicates (``dedupe``)."""
    from .linkage_runs import duplicates_run, link_run

    if kind == "dedupe":
        return duplicates_run(province_code=province_code)
    return link_run(province_code=province_code)
