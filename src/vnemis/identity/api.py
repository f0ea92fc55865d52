"""Identity API: the enrichment deltas the population registry reads, and verification runs.

Enrichment is for the Ministry (its users and its system accounts at the national scope): the
registry's connector creates a delta export, then downloads its Parquet file or reads its rows.
"""

import pyarrow.parquet as pq
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest
from ninja import Router, Schema, Status

from vnemis.core.api_errors import ERROR_RESPONSES, ApiError
from vnemis.orgs.models import Organisation, User

from .actions import verification_start
from .enrichment import COLUMNS, export_create, export_path
from .models import EnrichmentExport, VerificationRun

router = Router(tags=["identity"])


class ExportOut(Schema):
    id: int
    since_seq: int
    until_seq: int
    rows: int
    created_at: str
    file_url: str


class RowsOut(Schema):
    items: list[dict]
    next_offset: int | None


class RunIn(Schema):
    scope: str


class RunOut(Schema):
    id: int
    scope: str
    status: str
    done: int
    total: int
    counts: dict


def _national(user: User) -> None:
    national = user.scope_id is not None and user.scope.parent_id is None
    if (user.is_superuser and not user.scope_id) or (
        national and user.role in (User.Role.MINISTRY, User.Role.SYSTEM)
    ):
        return
    raise ApiError(
        403,
        "forbidden",
        "Chỉ Bộ GD&ĐT (người dùng hoặc tài khoản hệ thống cấp quốc gia) được lấy dữ liệu này.",
        "Only the Ministry (its users or national system accounts) may read this.",
    )


def _out(export: EnrichmentExport) -> dict:
    return {
        "id": export.pk,
        "since_seq": export.since_seq,
        "until_seq": export.until_seq,
        "rows": export.rows,
        "created_at": export.created_at.isoformat(),
        "file_url": f"/api/v1/identity/enrichment/exports/{export.pk}/file",
    }


@router.post("/enrichment/exports", response={201: ExportOut, **ERROR_RESPONSES})
def enrichment_export_create(request: HttpRequest):
    """A new delta: verified citizens whose education attributes changed since the last one."""
    _national(request.auth)
    return Status(201, _out(export_create(actor=request.auth)))


@router.get("/enrichment/exports", response={200: list[ExportOut], **ERROR_RESPONSES})
def enrichment_export_list(request: HttpRequest):
    _national(request.auth)
    return [_out(e) for e in EnrichmentExport.objects.all()[:100]]


def _export(export_id: int) -> EnrichmentExport:
    export = EnrichmentExport.objects.filter(pk=export_id).first()
    if export is None or not export_path(export).exists():
        raise ApiError(404, "not_found", "Không có bản xuất này.", "No such export.")
    return export


@router.get("/enrichment/exports/{export_id}/file", response={200: None, **ERROR_RESPONSES})
def enrichment_export_file(request: HttpRequest, export_id: int):
    _national(request.auth)
    export = _export(export_id)
    return FileResponse(
        export_path(export).open("rb"),
        as_attachment=True,
        filename=export.file_name,
        content_type="application/vnd.apache.parquet",
    )


@router.get("/enrichment/exports/{export_id}/rows", response={200: RowsOut, **ERROR_RESPONSES})
def enrichment_export_rows(
    request: HttpRequest, export_id: int, offset: int = 0, limit: int = 1000
):
    """The export's rows as JSON, ``limit`` (≤ 5,000) at a time from ``offset``."""
    _national(request.auth)
    if offset < 0 or not 1 <= limit <= 5_000:
        raise ApiError(
            422,
            "validation_error",
            "offset phải ≥ 0 và limit từ 1 đến 5.000.",
            "offset must be ≥ 0 and limit between 1 and 5,000.",
        )
    export = _export(export_id)
    table = pq.read_table(export_path(export), columns=list(COLUMNS))
    page = table.slice(offset, limit).to_pylist()
    following = offset + len(page)
    return {"items": page, "next_offset": following if following < table.num_rows else None}


def _run_out(run: VerificationRun) -> dict:
    return {
        "id": run.pk,
        "scope": run.scope.code,
        "status": run.status,
        "done": run.job.done,
        "total": run.job.total,
        "counts": run.counts,
    }


@router.post("/verification-runs", response={202: RunOut, **ERROR_RESPONSES})
def verification_run_create(request: HttpRequest, body: RunIn):
    """Start (or return the live) verification run over an organisation in the caller's scope."""
    scope = Organisation.objects.filter(code=body.scope).first()
    if scope is None:
        raise ApiError(
            422,
            "unknown_value",
            f"Không có đơn vị mã {body.scope}.",
            f"No organisation with code {body.scope}.",
        )
    try:
        run = verification_start(actor=request.auth, scope=scope)
    except PermissionDenied as exc:
        raise ApiError(
            403, "forbidden", str(exc), "You may not verify this organisation's data."
        ) from None
    run = VerificationRun.objects.select_related("scope", "job").get(pk=run.pk)
    return Status(202, _run_out(run))


@router.get("/verification-runs/{run_id}", response={200: RunOut, **ERROR_RESPONSES})
def verification_run_get(request: HttpRequest, run_id: int):
    from .actions import may_reach

    run = VerificationRun.objects.select_related("scope", "job").filter(pk=run_id).first()
    if run is None or not may_reach(request.auth, run.scope):
        raise ApiError(404, "not_found", "Không có lượt xác thực này.", "No such run.")
    return _run_out(run)
