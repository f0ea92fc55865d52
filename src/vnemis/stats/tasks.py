"""Background tasks of statistics (thin: the work is in ``snapshot``)."""

from django_tasks import task


@task()
def snapshot_refresh_execute(refresh_id: int) -> dict:
    """Run a queued snapshot refresh; one already started or finished is left alone."""
    from .actions_snapshot import snapshot_refresh_run

    refresh = snapshot_refresh_run(refresh_id=refresh_id)
    return {"status": refresh.status, "partitions": len(refresh.partitions), "rows": refresh.rows}
