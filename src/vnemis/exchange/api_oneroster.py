"""HTTP API of OneRoster 1.2 CSV (mounted at /api/v1/oneroster): export a bundle, upload one.

Export streams a ZIP built on disk by ``oneroster.export`` (scoped to the caller, audited).
Import is an ordinary import job (``exchange.imports``): the pipeline recognises the bundle by
its manifest.csv, converts it and validates it like any file; this endpoint only sets the
origin, so a client may also POST the same ZIP to /api/v1/imports.
"""

from __future__ import annotations

import os
import tempfile

from django.http import FileResponse
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from vnemis.core.api_errors import ERROR_RESPONSES, ApiError

from .oneroster import OneRosterError, export_filename, oneroster_export

router = Router()


class ExportQuery(Schema):
    # Required, but checked by the endpoint: a missing one gets our own sentence and code
    # (oneroster_parameters_missing), not the generic validation error.
    org: str | None = Field(None, description="Required. Organisation code, e.g. 01000101.")
    year: str | None = Field(None, description="Required. School year, e.g. 2025-2026.")
    extensions: bool = Field(
        False, description="Add the personal metadata.vn.* columns (ethnicity, disability, ...)."
    )


def _parameters_missing(missing: list[str]) -> ApiError:
    names = " và ".join(missing)
    return ApiError(
        422,
        "oneroster_parameters_missing",
        f"Thiếu tham số bắt buộc {names}. Hãy cho biết đơn vị (org, mã đơn vị, ví dụ 01000101) "
        "và năm học (year, ví dụ 2025-2026): /api/v1/oneroster/export?org=01000101"
        "&year=2025-2026.",
        f"Required parameter {' and '.join(missing)} missing. Name the organisation (org, its "
        "code, e.g. 01000101) and the school year (year, e.g. 2025-2026): "
        "/api/v1/oneroster/export?org=01000101&year=2025-2026.",
        errors=[{"field": f, "type": "missing", "message": "required"} for f in missing],
    )


def _api_error(exc: OneRosterError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message_vi, exc.message_en, exc.errors)


@router.get(
    "/export",
    response={200: None, **ERROR_RESPONSES},
    summary="Export a OneRoster 1.2 CSV bundle",
)
def oneroster_export_get(request, params: Query[ExportQuery]):
    """The organisation's schools for a school year as a OneRoster 1.2 CSV ZIP (manifest.csv,
    orgs, academicSessions, courses, classes, users, roles, demographics, enrollments).
    The metadata.vn.* columns a re-import needs are always written; `extensions=true` adds the
    personal ones (ethnicity, disability, policy categories, birth province, commune; roles that
    may read sensitive data only). `org` and `year` are required."""
    org, year = (params.org or "").strip(), (params.year or "").strip()
    missing = [n for n, v in (("org", org), ("year", year)) if not v]
    if missing:
        raise _parameters_missing(missing)
    fd, name = tempfile.mkstemp(prefix="oneroster-", suffix=".zip")
    os.close(fd)
    try:
        oneroster_export(
            actor=request.user,
            org_code=org,
            year_code=year,
            out=name,
            extensions=params.extensions,
        )
        handle = open(name, "rb")  # noqa: SIM115 - FileResponse closes it after streaming
    except OneRosterError as exc:
        raise _api_error(exc) from exc
    finally:
        # The open handle keeps the data readable; the name goes at once (POSIX).
        os.unlink(name)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=export_filename(org_code=org, year_code=year),
        content_type="application/zip",
    )


class ImportAccepted(Schema):
    id: str
    status: str


@router.post(
    "/import",
    response={202: ImportAccepted, **ERROR_RESPONSES},
    summary="Upload a OneRoster 1.2 CSV bundle (an import job)",
)
def oneroster_import_post(
    request,
    file: File[UploadedFile],
    school: Form[str | None] = None,
    dry_run: Form[bool] = False,
    all_or_nothing: Form[bool] = False,
):
    """Queue an import job for the ZIP; follow it at /api/v1/imports/{id}."""
    try:
        from .imports import ImportRefused, import_create
        from .models_imports import ImportJob
    except ImportError as exc:  # pragma: no cover - the import pipeline is not installed
        raise ApiError(
            503,
            "imports_unavailable",
            "Chức năng nhập dữ liệu chưa sẵn sàng.",
            "Imports are not available.",
        ) from exc
    if not (file.name or "").lower().endswith(".zip"):
        raise ApiError(
            422,
            "oneroster_not_zip",
            "Gói OneRoster phải là tệp .zip chứa manifest.csv.",
            "A OneRoster bundle must be a .zip file containing manifest.csv.",
        )
    try:
        job = import_create(
            actor=request.user,
            source=file,
            source_name=file.name,
            school=school or None,
            mode=(ImportJob.Mode.ALL_OR_NOTHING if all_or_nothing else ImportJob.Mode.APPLY_VALID),
            dry_run=dry_run,
            origin=ImportJob.Origin.ONEROSTER,
        )
    except ImportRefused as exc:
        raise ApiError(exc.status, exc.code, exc.message_vi, exc.message_en) from exc
    return Status(202, {"id": str(job.pk), "status": job.status})
