"""``vnemis import FILE [--school CODE]``: import one file in this process, with a progress bar.

The same job as a web or API upload (``exchange.imports``), run here instead of on the worker:
validation, the chosen mode, a dry run, the error report. Prints a summary and the error
causes in Vietnamese and English. Exit status: 0 every row applied (or validated, dry run);
3 applied except the rejected rows (see the report); 2 the file was rejected or the job failed.
``--resume-stale`` queues again the jobs whose worker died (run it when a worker starts).
"""

import contextlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from vnemis.exchange.imports import (
    ImportRefused,
    import_file,
    import_report,
    import_resume_stale,
)
from vnemis.exchange.models_imports import ImportJob
from vnemis.orgs.models import User


class Command(BaseCommand):
    help = (
        "Import a data file into the registry. Exit status 0: all applied; 3: applied but for "
        "the rejected rows; 2: rejected or failed. / Nhập một tệp dữ liệu vào CSDL."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="CSV, XLSX, Parquet, JSON Lines or ZIP")
        parser.add_argument("--school", default="", help="school code / mã trường")
        parser.add_argument("--entity", default="", help="standard entity (default: detect)")
        parser.add_argument("--dry-run", action="store_true", help="validate only / kiểm tra thử")
        parser.add_argument(
            "--all-or-nothing",
            action="store_true",
            help="write nothing unless every row is valid / chỉ ghi khi toàn bộ tệp hợp lệ",
        )
        parser.add_argument("--user", default="", help="import as this user (scope and audit)")
        parser.add_argument(
            "--resume-stale",
            action="store_true",
            help="queue again the jobs whose worker died / chạy tiếp các việc bị dừng",
        )

    def handle(self, *args, **opts):
        if opts["resume_stale"]:
            ids = import_resume_stale()
            self.stdout.write(f"re-queued / đã xếp lại: {len(ids)}")
            return
        if not opts["file"]:
            raise CommandError("Thiếu tên tệp / FILE is required.")
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"Không tìm thấy tệp / file not found: {path}")
        actor = None
        if opts["user"]:
            actor = User.objects.filter(username=opts["user"], is_active=True).first()
            if actor is None:
                raise CommandError(f"Không có tài khoản / no such active user: {opts['user']}")
        mode = ImportJob.Mode.ALL_OR_NOTHING if opts["all_or_nothing"] else "apply_valid"
        bar = _Bar(self.stdout, dry_run=opts["dry_run"])
        try:
            job = import_file(
                path,
                actor=actor,
                school=opts["school"] or None,
                entity=opts["entity"],
                mode=mode,
                dry_run=opts["dry_run"],
                origin=ImportJob.Origin.CLI,
                progress=bar.update,
            )
        except ImportRefused as exc:
            raise CommandError(f"{exc.message_vi} / {exc.message_en}") from exc
        finally:
            bar.close()
        self._summary(job, actor)
        if job.status not in (ImportJob.Status.SUCCEEDED,):
            raise CommandError(f"{job.get_status_display()} ({job.status})", returncode=2)
        if job.rows_rejected:
            # Applied, but not every row: scripts must be able to tell this from a clean run.
            raise CommandError(
                f"{job.rows_rejected:,} dòng bị từ chối / rows rejected (see the error report)",
                returncode=3,
            )

    def _summary(self, job: ImportJob, actor) -> None:
        w = self.stdout.write
        w(f"job / việc: {job.pk}")
        w(f"status / trạng thái: {job.status}{' (dry run / kiểm tra thử)' if job.dry_run else ''}")
        w(
            f"rows / dòng: {job.result.get('rows_total', job.total):,}  "
            f"inserted / thêm: {job.inserted:,}  updated / sửa: {job.updated:,}  "
            f"unchanged / không đổi: {job.unchanged:,}  rejected / từ chối: {job.rows_rejected:,}"
        )
        if job.no_changes:
            w("Không có thay đổi / no changes: the registry already holds this file's data.")
        if job.error:
            w(self.style.ERROR(job.error))
        for cause in job.causes[:10]:
            w(
                f"  {cause.get('count', 0):>8,} × {cause.get('message_vi', '')}"
                f" / {cause.get('message_en', '')}"
            )
        if job.error_count and job.finished:
            for fmt in ("csv", "xlsx"):
                with contextlib.suppress(ImportRefused, ImportError):
                    w(f"error report / báo cáo lỗi: {import_report(actor=actor, job=job, fmt=fmt)}")
            with contextlib.suppress(ImportRefused, ImportError):
                path = import_report(actor=actor, job=job, fmt="fix")
                w(f"rows to fix / các dòng cần sửa: {path}")


class _Bar:
    """A tqdm bar per phase (checking, then writing), fed by ``import_run``'s progress."""

    LABELS = {"validating": "kiểm tra / checking", "applying": "ghi / writing"}
    DRY_RUN_LABELS = {
        "validating": "kiểm tra / checking",
        "applying": "đối chiếu CSDL, không ghi / checking against the registry, no writes",
    }

    def __init__(self, stream, *, dry_run: bool = False) -> None:
        self.stream = stream
        self.labels = self.DRY_RUN_LABELS if dry_run else self.LABELS
        self.phase = None
        self.bar = None

    def update(self, phase: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=total or None, desc=self.labels.get(phase, phase), unit=" rows")
        if total and self.bar.total != total:
            self.bar.total = total
        self.bar.update(max(0, done - self.bar.n))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
