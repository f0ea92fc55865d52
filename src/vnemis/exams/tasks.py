"""Background tasks of the exam (thin: the work is in ``imports``). Idempotent: a job already
taken by another run is left alone."""

from django_tasks import task


@task()
def exam_import_task(job_id: str) -> dict:
    """Run one exam import job (``vnemis.exams.imports.exam_import_run``)."""
    from .imports import exam_import_run

    job = exam_import_run(job_id)
    return {"status": job.status, "rejected": job.rows_rejected}
