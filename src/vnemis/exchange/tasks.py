"""Background tasks of the exchange (thin: the work is in ``imports``).

Tasks take ids, not objects, and are idempotent: running one twice resumes or does nothing.
"""

from django_tasks import task


@task()
def import_job_run(job_id: str) -> dict:
    """Run or resume one import job (``vnemis.exchange.imports.import_run``)."""
    from .imports import import_run

    job = import_run(job_id)
    return {"status": job.status, "done": job.done, "total": job.total}
