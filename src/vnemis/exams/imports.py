"""Exam import jobs: scores from the marking system, yearly averages, subject choices.

``exam_import_create`` checks who may send which file, stores it and queues the job on commit;
``exam_import_run`` (the task body, also called by the CLI) reads it (``files``), checks every
row (the layout's ``check``), writes the error rows beside the file and groups them by cause
with the exchange's ``causes_group``, then applies the good rows in one transaction — or none
of them: for a dry run, and for an all-or-nothing import of a file with errors. The same file
twice changes nothing the second time ("no change").
"""

from __future__ import annotations

import csv
import hashlib
import logging
import shutil
import uuid
from pathlib import Path

import polars as pl
from django.db import transaction
from django.utils import timezone

from vnemis.core.audit import audit_record
from vnemis.exchange.causes import causes_group
from vnemis.exchange.imports import ImportRefused, import_max_bytes
from vnemis.exchange.intake import IntakeRefused
from vnemis.exchange.messages import message as exchange_message
from vnemis.exchange.reports import neutralise
from vnemis.orgs.models import Organisation
from vnemis.orgs.scope import can_write, is_unrestricted, org_ids_in_scope

from . import import_averages, import_choices, import_scores
from .access import is_ministry, province_of, results_published
from .files import table_read
from .import_checks import MESSAGES
from .import_context import ImportContext
from .models import ExamImport, ExamSession, ExamSubject

logger = logging.getLogger(__name__)

LAYOUTS = {
    ExamImport.Kind.SCORES: import_scores,
    ExamImport.Kind.AVERAGES: import_averages,
    ExamImport.Kind.CHOICES: import_choices,
}
FORMATS = ("csv", "txt", "tsv", "xlsx", "xlsm")
BLOCK = 1 << 20
Status = ExamImport.Status


# -- messages --------------------------------------------------------------------------------


def problem_message(code: str, label: str | None = None) -> tuple[str, str]:
    """(Vietnamese, English) text of a problem code: the exam's own, else the exchange's."""
    if code not in MESSAGES:
        return exchange_message(code, label)
    vi, en = MESSAGES[code]
    if label:
        vi = f"{vi} '{label}'" if vi.endswith("ở cột") else f"{vi} (cột '{label}')"
        en = f"{en} '{label}'" if en.endswith("in column") else f"{en} (column '{label}')"
    else:
        vi, en = vi.removesuffix(" ở cột"), en.removesuffix(" in column")
    return vi[:1].upper() + vi[1:], en[:1].upper() + en[1:]


def _causes(errors_path: Path, headers: dict) -> list[dict]:
    """The exchange's grouping, with the exam's codes worded by the exam; no sample values
    (they quote the file, and causes are stored on the job)."""
    out = []
    for cause in causes_group(errors_path, headers)[:100]:
        if cause["code"] in MESSAGES:
            cause["message_vi"], cause["message_en"] = problem_message(
                cause["code"], cause["header"]
            )
        out.append({k: v for k, v in cause.items() if k != "sample_value"})
    return out


# -- create ----------------------------------------------------------------------------------


def _refused(status: int, code: str, vi: str, en: str) -> ImportRefused:
    return ImportRefused(status, code, vi, en)


def _authorise(*, actor, session: ExamSession, kind: str) -> None:
    if kind not in LAYOUTS:
        raise _refused(
            422,
            "unknown_kind",
            "Loại tệp phải là scores (điểm thi), averages (điểm trung bình) hoặc choices "
            "(đăng ký môn).",
            "The kind of file must be scores, averages or choices.",
        )
    if kind == ExamImport.Kind.SCORES:
        if not (is_ministry(actor) or province_of(actor)):
            raise _refused(
                403,
                "forbidden",
                "Chỉ Sở GD&ĐT (hội đồng thi) hoặc Bộ GD&ĐT được nhập điểm thi.",
                "Only a Department (exam council) or the Ministry may import scores.",
            )
        if results_published(session):
            raise _refused(
                409,
                "published",
                "Kết quả đã công bố: điểm chỉ còn thay đổi qua phúc khảo.",
                "Results are published: scores now change only through re-marking appeals.",
            )
    elif actor is not None and not (
        (can_write(actor) and actor.scope_id) or is_unrestricted(actor)
    ):
        raise _refused(
            403, "forbidden", "Tài khoản của bạn không được nhập tệp này.",
            "Your account may not import this file.",
        )  # fmt: skip
    if kind == ExamImport.Kind.CHOICES:
        now = timezone.now()
        if not session.registration_opens_at <= now <= session.registration_closes_at:
            raise _refused(
                409,
                "registration_closed",
                "Ngoài thời gian đăng ký dự thi: không thể nhập đăng ký môn thi.",
                "Registration is closed: subject choices cannot be imported.",
            )


def _store(source, dest: Path, *, max_bytes: int) -> tuple[int, str]:
    """Stream ``source`` (an upload, an open binary file or a path) to ``dest``."""
    digest, size = hashlib.sha256(), 0
    if isinstance(source, str | Path):
        handle = open(source, "rb")  # noqa: SIM115 - closed below
        blocks = iter(lambda: handle.read(BLOCK), b"")
    elif hasattr(source, "chunks"):
        handle, blocks = None, source.chunks(BLOCK)
    else:
        handle, blocks = None, iter(lambda: source.read(BLOCK), b"")
    try:
        with open(dest, "wb") as out:
            for block in blocks:
                size += len(block)
                if size > max_bytes:
                    mb = max_bytes // (1 << 20)
                    raise _refused(
                        413, "file_too_large", f"Tệp quá lớn: giới hạn là {mb} MB.",
                        f"The file is too large: the limit is {mb} MB.",
                    )  # fmt: skip
                digest.update(block)
                out.write(block)
    finally:
        if handle is not None:
            handle.close()
    return size, digest.hexdigest()


def exam_import_create(
    *,
    actor,
    session: ExamSession,
    kind: str,
    source,
    source_name: str,
    subject_code: str = "",
    mode: str = ExamImport.Mode.APPLY_VALID,
    dry_run: bool = False,
    enqueue: bool = True,
) -> ExamImport:
    """Check the actor's right, store the file and queue the job (on commit)."""
    _authorise(actor=actor, session=session, kind=kind)
    if mode not in ExamImport.Mode.values:
        raise _refused(
            422, "unknown_mode", "Chế độ nhập phải là apply_valid hoặc all_or_nothing.",
            "The import mode must be apply_valid or all_or_nothing.",
        )  # fmt: skip
    subject = None
    if subject_code:
        subject = ExamSubject.objects.filter(code=subject_code.strip().upper()).first()
        if subject is None:
            raise _refused(
                422, "unknown_subject", f"Mã môn '{subject_code[:10]}' không có trong danh mục.",
                f"'{subject_code[:10]}' is not a subject code of the exam.",
            )  # fmt: skip
    name = Path(str(source_name).replace("\\", "/")).name[:255] or "upload"
    fmt = Path(name).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise _refused(
            422, "unsupported_format", "Tệp của kỳ thi phải là CSV hoặc XLSX.",
            "An exam file must be CSV or XLSX.",
        )  # fmt: skip
    job = ExamImport(
        id=uuid.uuid4(),
        session=session,
        kind=kind,
        subject=subject,
        source_name=name,
        source_format=fmt,
        mode=mode,
        dry_run=dry_run,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    job.workdir.mkdir(parents=True, exist_ok=False)
    try:
        job.source_size, job.source_sha256 = _store(
            source, _source_path(job), max_bytes=import_max_bytes()
        )
        if job.source_size == 0:
            raise _refused(
                422, "empty_file", "Tệp rỗng: không có dữ liệu nào để nhập.",
                "The file is empty: there is nothing to import.",
            )  # fmt: skip
        with transaction.atomic():
            job.save(force_insert=True)
            audit_record(
                actor=actor,
                action="create",
                object_type="exam_import",
                object_id=job.pk,
                detail={"kind": kind, "size": job.source_size, "sha256": job.source_sha256,
                        "mode": mode, "dry_run": dry_run, "year": session.year},
            )  # fmt: skip
            if enqueue:
                job_id = str(job.pk)
                transaction.on_commit(lambda: _enqueue(job_id))
    except BaseException:
        shutil.rmtree(job.workdir, ignore_errors=True)
        raise
    return job


def _enqueue(job_id: str) -> None:
    from .tasks import exam_import_task

    exam_import_task.enqueue(job_id)


def _source_path(job: ExamImport) -> Path:
    return job.workdir / f"source.{job.source_format}"


# -- run -------------------------------------------------------------------------------------


def _context(job: ExamImport) -> ImportContext:
    actor = job.created_by
    units = None
    if actor is not None and not is_unrestricted(actor) and not is_ministry(actor):
        units = set(
            Organisation.objects.filter(id__in=org_ids_in_scope(actor)).values_list("id", flat=True)
        )
    return ImportContext(
        job=job,
        session=job.session,
        actor=actor,
        now=timezone.now(),
        province=None if is_ministry(actor) else province_of(actor),
        units=units,
    )


def _finish(job: ExamImport, status: str, **fields) -> ExamImport:
    fields.update(status=status, finished_at=timezone.now())
    with transaction.atomic():
        ExamImport.objects.filter(pk=job.pk).update(**fields)
        audit_record(
            actor=job.created_by,
            action="update",
            object_type="exam_import",
            object_id=job.pk,
            detail={"status": status, **{k: fields.get(k) for k in
                    ("inserted", "updated", "unchanged", "rows_rejected") if k in fields}},
        )  # fmt: skip
    job.refresh_from_db()
    return job


def exam_import_run(job_id, *, progress=None) -> ExamImport:
    """Run one queued job to its end (safe to call twice: a job already taken is left alone)."""
    won = ExamImport.objects.filter(pk=job_id, status=Status.QUEUED).update(status=Status.RUNNING)
    job = ExamImport.objects.select_related("session", "subject", "created_by").get(pk=job_id)
    if not won:
        return job
    layout = LAYOUTS[job.kind]
    try:
        if progress:
            progress("reading", 0, 0)
        table = table_read(_source_path(job), layout.LAYOUT, max_bytes=import_max_bytes())
        ctx = _context(job)
        if progress:
            progress("checking", 0, table.frame.height)
        checked = layout.check(table, ctx)
        errors = checked.error_frame()
        errors_path = job.workdir / "errors.parquet"
        errors.write_parquet(errors_path)
        rejected = int(errors["row"].n_unique()) if errors.height else 0
        causes = _causes(errors_path, table.headers) if errors.height else []
        refused = job.mode == ExamImport.Mode.ALL_OR_NOTHING and errors.height > 0
        if progress:
            progress("applying", 0, checked.good.height)
        with transaction.atomic():
            if (
                job.kind == ExamImport.Kind.SCORES
                and not job.dry_run
                and results_published(
                    ExamSession.objects.select_for_update().get(pk=job.session_id)
                )
            ):
                raise IntakeRefused(
                    "published", "Kết quả đã công bố: điểm chỉ còn thay đổi qua phúc khảo.",
                    "Results are published: scores now change only through re-marking appeals.",
                )  # fmt: skip
            counts = layout.apply(checked, ctx, dry_run=job.dry_run or refused)
        if progress:
            progress("applying", checked.good.height, checked.good.height)
        return _finish(
            job,
            Status.REJECTED if refused else Status.SUCCEEDED,
            rows_total=table.frame.height,
            rows_rejected=rejected,
            error_count=errors.height,
            inserted=counts.inserted,
            updated=counts.updated,
            unchanged=counts.unchanged,
            causes=causes,
            headers=table.headers,
        )
    except (IntakeRefused, ImportRefused) as exc:
        return _finish(job, Status.FAILED, error=f"{exc.message_vi} / {exc.message_en}")
    except Exception:
        logger.exception("exam import %s failed", job.pk)
        return _finish(
            job,
            Status.FAILED,
            error="Lỗi hệ thống khi xử lý tệp; hãy thử lại hoặc báo quản trị viên. / A system "
            "error stopped the import; try again or tell the administrator.",
        )


def exam_import_file(path, **kwargs) -> ExamImport:
    """Create and run a job in this process (the CLI)."""
    progress = kwargs.pop("progress", None)
    job = exam_import_create(source=path, source_name=Path(path).name, enqueue=False, **kwargs)
    return exam_import_run(job.pk, progress=progress)


# -- reports ---------------------------------------------------------------------------------


def exam_import_errors(job: ExamImport) -> pl.DataFrame:
    """The error rows with their messages (Vietnamese and English), in row order."""
    path = job.workdir / "errors.parquet"
    if not path.exists():
        return pl.DataFrame()
    df = pl.read_parquet(path)
    pairs = df.select("code", "column").unique()
    said = [
        problem_message(code, job.headers.get(col, col) if col else None)
        for code, col in pairs.iter_rows()
    ]
    texts = pairs.with_columns(
        pl.Series("message_vi", [vi for vi, _en in said], dtype=pl.String),
        pl.Series("message_en", [en for _vi, en in said], dtype=pl.String),
    )
    return df.join(texts, on=["code", "column"], how="left", nulls_equal=True).sort(
        ["row", "column", "code"], nulls_last=True
    )


def exam_import_errors_csv(*, actor, job: ExamImport) -> Path:
    """Every error row as CSV (UTF-8 with BOM, cells neutralised for spreadsheets), audited."""
    out = job.workdir / "errors.csv"
    df = exam_import_errors(job)
    header = ["Dòng / Row", "Cột / Column", "Giá trị / Value", "Lỗi", "Error"]
    with open(out, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in df.iter_rows(named=True) if df.height else []:
            label = job.headers.get(row["column"], row["column"]) if row["column"] else ""
            writer.writerow(
                [row["row"], neutralise(label), neutralise(row["value"] or ""),
                 neutralise(row["message_vi"]), neutralise(row["message_en"])]
            )  # fmt: skip
    audit_record(
        actor=actor,
        action="export",
        object_type="exam_import_errors",
        object_id=job.pk,
        detail={"errors": job.error_count},
    )
    return out
