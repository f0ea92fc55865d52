"""HTTP API of import jobs (mounted at /api/v1/imports): upload, follow, read errors, cancel.

Endpoints only translate HTTP to ``imports`` (actions) and ``selectors_imports`` (reads); the
scope rules live there. A job outside the caller's scope is a 404, like one that does not exist.
"""

from datetime import datetime
from uuid import UUID

from django.core import signing
from django.http import FileResponse
from django.urls import reverse
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from vnemis.core.api_errors import ERROR_RESPONSES, ApiError, ErrorOut, not_found
from vnemis.core.pagination import CursorError

from .imports import ImportRefused, import_cancel, import_create, import_report
from .models_imports import ImportJob
from .selectors_imports import import_error_message, import_errors_rows, import_jobs_visible

router = Router()

_CURSOR_SALT = "vnemis.cursor.import_errors"


class ImportJobOut(Schema):
    id: UUID
    status: str
    status_label: str
    school: str | None
    entity: str
    source_name: str
    source_format: str
    source_size: int
    source_sha256: str
    mode: str
    dry_run: bool
    total: int
    done: int
    percent: int
    rows_valid: int
    rows_rejected: int
    inserted: int
    updated: int
    unchanged: int
    no_changes: bool
    error_count: int
    causes: list[dict]
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    links: dict[str, str]


class ErrorRowOut(Schema):
    position: int
    row: int | None
    entity: str | None
    column: str | None
    value: str | None
    code: str | None
    severity: str | None
    message_vi: str
    message_en: str


class ErrorPageOut(Schema):
    items: list[ErrorRowOut]
    next_cursor: str | None


def job_out(job: ImportJob) -> dict:
    base = f"/api/v1/imports/{job.pk}"
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "school": job.school.code if job.school_id else None,
        "entity": job.entity,
        "source_name": job.source_name,
        "source_format": job.source_format,
        "source_size": job.source_size,
        "source_sha256": job.source_sha256,
        "mode": job.mode,
        "dry_run": job.dry_run,
        "total": job.total,
        "done": job.done,
        "percent": job.percent,
        "rows_valid": job.rows_valid,
        "rows_rejected": job.rows_rejected,
        "inserted": job.inserted,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "no_changes": job.no_changes,
        "error_count": job.error_count,
        "causes": job.causes,
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "links": {
            "self": base,
            "page": reverse("import_detail", args=[job.pk]),
            "errors_json": f"{base}/errors?format=json",
            "errors_csv": f"{base}/errors?format=csv",
            "errors_xlsx": f"{base}/errors?format=xlsx",
            "rows_to_fix_xlsx": f"{base}/errors?format=fix",
        },
    }


def _api_error(exc: ImportRefused) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message_vi, exc.message_en)


def _job(request, job_id: UUID) -> ImportJob:
    job = import_jobs_visible(user=request.user).filter(pk=job_id).first()
    if job is None:
        raise not_found("Việc nhập dữ liệu", "The import job")
    return job


RESPONSES = {**ERROR_RESPONSES, 409: ErrorOut, 413: ErrorOut}


@router.post("", response={202: ImportJobOut, **RESPONSES})
def import_upload(
    request,
    file: File[UploadedFile],
    school: Form[str] = "",
    entity: Form[str] = "",
    mode: Form[str] = ImportJob.Mode.APPLY_VALID,
    dry_run: Form[bool] = False,
):
    """Upload a file (CSV, XLSX, Parquet, JSON Lines or ZIP) to import; 202 with the queued job.

    `school`: the school code (a school account's own school by default; a Department account
    may leave it empty when every row names its school). `entity`: the standard entity, empty
    to detect it. `mode`: `apply_valid` (apply the valid rows, report the rest) or
    `all_or_nothing`. `dry_run`: validate and count without writing anything.
    """
    try:
        job = import_create(
            actor=request.user,
            source=file,
            source_name=file.name or "upload",
            school=school or None,
            entity=entity.strip(),
            mode=mode,
            dry_run=dry_run,
            origin=ImportJob.Origin.API,
        )
    except ImportRefused as exc:
        raise _api_error(exc) from exc
    job = ImportJob.objects.select_related("school").get(pk=job.pk)
    return Status(202, job_out(job))


@router.get("", response={200: list[ImportJobOut], **RESPONSES})
def import_list(request, limit: int = 50):
    """The caller's (and their scope's) newest import jobs."""
    limit = max(1, min(limit, 200))
    jobs = import_jobs_visible(user=request.user).order_by("-created_at")[:limit]
    return [job_out(job) for job in jobs]


@router.get("/{job_id}", response={200: ImportJobOut, **RESPONSES})
def import_get(request, job_id: UUID):
    """Status, progress, counts and error causes of one import job."""
    return job_out(_job(request, job_id))


def _decode(cursor: str | None) -> int:
    if not cursor:
        return 0
    signer = signing.Signer(salt=_CURSOR_SALT, sep=".")
    try:
        value = signer.unsign_object(cursor)
    except (signing.BadSignature, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise CursorError(cursor) from exc
    if not isinstance(value, int) or value < 0:
        raise CursorError(cursor)
    return value


@router.get("/{job_id}/errors", response={200: ErrorPageOut, **RESPONSES})
def import_errors(
    request, job_id: UUID, format: str = "json", cursor: str | None = None, limit: int = 500
):
    """The job's error rows: `format=json` (keyset pages in row order), `csv` or `xlsx` (a file),
    or `fix`: an XLSX of the refused rows themselves with their errors, to fix and send again.

    Each row: the row number as the user sees it, the column, the value given, a stable code
    and the message in Vietnamese and English.
    """
    job = _job(request, job_id)
    if format in ("csv", "xlsx", "fix"):
        try:
            path = import_report(actor=request.user, job=job, fmt=format)
        except ImportRefused as exc:
            raise _api_error(exc) from exc
        stem = "dong-can-sua" if format == "fix" else "loi-nhap-du-lieu"
        suffix = "xlsx" if format == "fix" else format
        return FileResponse(
            open(path, "rb"), as_attachment=True, filename=f"{stem}-{str(job.pk)[:8]}.{suffix}"
        )
    if format != "json":
        raise ApiError(
            422,
            "unknown_format",
            "Tham số format phải là json, csv, xlsx hoặc fix.",
            "The format parameter must be json, csv, xlsx or fix.",
        )
    if not 1 <= limit <= 1000:
        raise ApiError(
            422, "bad_limit", "limit phải từ 1 đến 1000.", "limit must be between 1 and 1000."
        )
    after = _decode(cursor)
    rows = import_errors_rows(user=request.user, job=job, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = []
    for r in rows:
        vi, en = import_error_message(r.get("code") or "")
        items.append({**r, "message_vi": vi, "message_en": en})
    next_cursor = None
    if more:
        next_cursor = signing.Signer(salt=_CURSOR_SALT, sep=".").sign_object(rows[-1]["position"])
    return {"items": items, "next_cursor": next_cursor}


@router.post("/{job_id}/cancel", response={200: ImportJobOut, **RESPONSES})
def import_cancel_endpoint(request, job_id: UUID):
    """Cancel a job: at once while queued or checking; while applying, after the current chunk."""
    job = _job(request, job_id)
    try:
        job = import_cancel(actor=request.user, job=job)
    except ImportRefused as exc:
        raise _api_error(exc) from exc
    return job_out(job)
