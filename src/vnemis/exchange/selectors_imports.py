"""Reads of import jobs, scoped to the viewer: who sees which job and its error rows.

A job is seen by its creator, by the users of its school, and by users whose scope covers the
school (a Department sees its schools' imports); a job without a school (a Department's
multi-school file) by users whose scope covers its creator's scope. Anything else is 404, so
the existence of another school's job is never confirmed.
"""

from pathlib import Path

import polars as pl
from django.db.models import Q, QuerySet
from django.http import Http404

from vnemis.core.audit import audit_record
from vnemis.core.pagination import Page, keyset_page
from vnemis.orgs.scope import is_unrestricted, org_ids_in_scope

from .messages import message
from .models_imports import ImportJob

ERROR_PAGE_MAX = 1000


def import_jobs_visible(*, user) -> QuerySet[ImportJob]:
    """Every job the user may see (unordered)."""
    jobs = ImportJob.objects.select_related("school", "created_by")
    if not user.is_authenticated:
        return jobs.none()
    if is_unrestricted(user):
        return jobs
    orgs = org_ids_in_scope(user)
    return jobs.filter(
        Q(created_by=user)
        | Q(school_id__in=orgs)
        | Q(school__isnull=True, created_by__scope_id__in=orgs)
    )


def import_job_get(*, user, job_id) -> ImportJob:
    """One job the user may see, else Http404."""
    job = import_jobs_visible(user=user).filter(pk=job_id).first()
    if job is None:
        raise Http404("import job")
    return job


def import_jobs_page(*, user, cursor: str | None = None, limit: int = 50) -> Page:
    """The newest jobs first, keyset-paginated."""
    return keyset_page(
        import_jobs_visible(user=user),
        order=["-created_at", "-id"],
        cursor=cursor,
        limit=limit,
        namespace="import_jobs",
    )


def import_errors_path(job: ImportJob) -> Path | None:
    path = job.workdir / "errors.parquet"
    return path if path.exists() else None


def import_errors_rows(*, user, job: ImportJob, after: int = 0, limit: int = 100) -> list[dict]:
    """Error rows of the job after position ``after`` of the sorted error file, audited.

    Error rows quote values from the file (names, dates), so reading them is a read of personal
    data: one audit entry per page.
    """
    path = import_errors_path(job)
    if path is None or limit < 1:
        return []
    limit = min(limit, ERROR_PAGE_MAX)
    df = (
        pl.scan_parquet(path)
        .with_row_index("position", offset=1)
        .filter(pl.col("position") > after)
        .head(limit)
        .collect()
    )
    if df.height:
        audit_record(
            actor=user,
            action="read",
            object_type="import_errors",
            object_id=job.pk,
            detail={"first": int(df["position"][0]), "rows": df.height},
        )
    return df.to_dicts()


def import_error_message(code: str, column_label: str | None = None) -> tuple[str, str]:
    """(Vietnamese, English) text of a problem code, naming the column as the user wrote it."""
    return message(code, column_label)
