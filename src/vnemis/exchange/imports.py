"""Import jobs: a file from a person (web page, API, ``vnemis import``) into the registry.

``import_create`` checks who may write for which school, streams the file into the job's
working directory (never whole in memory) and queues the job on commit; ``import_run`` (the
task body) validates the file with intake into canonical files, then hands them to the engine
(``registry.loaders.dataset_load``) chunk by chunk. The same functions serve the web, the API,
the CLI and the benchmark.

Safety under crashes: a job is claimed by compare-and-set of a random token; every progress
write checks the token, so a second worker never runs the same job and a worker that lost its
claim stops. The engine's ``on_chunk`` writes ``chunks_done`` and the counts in the chunk's own
transaction, so after a killed worker the registry holds whole chunks only and a new claim
(after ``STALE_AFTER`` without heartbeat) resumes after them. Intake writes to a fresh folder
that is renamed into place when complete, so it is simply re-run if it was cut off.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import polars as pl
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from vnemis.core.audit import audit_record
from vnemis.orgs.models import Organisation, User
from vnemis.orgs.scope import can_write, is_unrestricted, org_ids_in_scope
from vnemis.registry import exchange_format as xf

from .imports_zip import ZipRefused, zip_extract_safe
from .models_imports import ImportJob

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
DEFAULT_CHUNK_ROWS = 50_000
DEFAULT_STALE_SECONDS = 120
BLOCK = 1 << 20
HEARTBEAT_SECONDS = 2.0  # intake progress is written at most this often
FORMATS = ("csv", "tsv", "txt", "xlsx", "xlsm", "xls", "parquet", "jsonl", "ndjson", "zip")
ENTITIES = tuple(xf.LAYOUTS_BY_NAME)  # the entities, plus "roster" (pupils + enrolments)
ERROR_SCHEMA = {
    "row": pl.Int64,
    "entity": pl.String,
    "column": pl.String,
    "value": pl.String,
    "code": pl.String,
    "severity": pl.String,
}
COUNTS = ("rows", "inserted", "updated", "unchanged", "rejected")

Status = ImportJob.Status


class ImportRefused(Exception):
    """An import that cannot start or cannot go on, with the reason in both languages.

    ``status`` is the HTTP status the API answers with (403 scope, 413 size, 422 the rest).
    """

    def __init__(self, status: int, code: str, message_vi: str, message_en: str) -> None:
        super().__init__(message_en)
        self.status = status
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en

    @property
    def message(self) -> str:
        return f"{self.message_vi} / {self.message_en}"


class _Lost(Exception):
    """This worker no longer holds the job (cancelled, or taken over after a stall)."""


class _Cancelled(Exception):
    """A cancel was asked while rows were being applied; stop after the committed chunks."""


# -- settings --------------------------------------------------------------------------------


def _setting_int(name: str, default: int) -> int:
    value = getattr(settings, name, None) or os.environ.get(name)
    return int(value) if value else default


def import_max_bytes() -> int:
    """Largest accepted file (``VNEMIS_IMPORT_MAX_BYTES``, default 200 MB)."""
    return _setting_int("VNEMIS_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)


def import_chunk_rows() -> int:
    """Rows per chunk (``VNEMIS_IMPORT_CHUNK_ROWS``): one transaction, one resume step."""
    return _setting_int("VNEMIS_IMPORT_CHUNK_ROWS", DEFAULT_CHUNK_ROWS)


def import_stale_after() -> timedelta:
    """A running job without heartbeat for this long has lost its worker."""
    return timedelta(seconds=_setting_int("VNEMIS_IMPORT_STALE_SECONDS", DEFAULT_STALE_SECONDS))


def _too_large(max_bytes: int) -> ImportRefused:
    mb = max_bytes // (1 << 20)
    return ImportRefused(
        413,
        "file_too_large",
        f"Tệp quá lớn: giới hạn là {mb} MB. Hãy chia tệp thành nhiều phần (ví dụ theo khối lớp).",
        f"The file is too large: the limit is {mb} MB. Split it into parts (e.g. by grade).",
    )


# -- create ----------------------------------------------------------------------------------


def _blocks(source):
    """The bytes of an upload, an open binary file or a path, block by block."""
    if isinstance(source, str | Path):
        with open(source, "rb") as fh:
            yield from iter(lambda: fh.read(BLOCK), b"")
    elif hasattr(source, "chunks"):
        yield from source.chunks(BLOCK)
    else:
        yield from iter(lambda: source.read(BLOCK), b"")


def _declared_size(source) -> int | None:
    if isinstance(source, str | Path):
        return Path(source).stat().st_size
    return getattr(source, "size", None)


def _store(source, dest: Path, *, max_bytes: int) -> tuple[int, str]:
    """Stream ``source`` to ``dest``; (size, sha256). Stops at the limit, whatever was declared."""
    import hashlib

    digest = hashlib.sha256()
    size = 0
    with open(dest, "wb") as out:
        for block in _blocks(source):
            size += len(block)
            if size > max_bytes:
                raise _too_large(max_bytes)
            digest.update(block)
            out.write(block)
    return size, digest.hexdigest()


def _school_of(*, actor, school) -> Organisation | None:
    """The school the data is for, after the actor's write scope has been checked.

    A school account defaults to its own school; a Department (or Ministry) account may name a
    school in its scope, or none: then every row names its school and must be in its scope.
    """
    if isinstance(school, str):
        code = school.strip()
        school = Organisation.objects.filter(code=code).first() if code else None
        if code and school is None:
            raise ImportRefused(
                422,
                "unknown_school",
                f"Mã trường '{code[:20]}' không tồn tại.",
                f"School code '{code[:20]}' does not exist.",
            )
    if school is None:
        scope = getattr(actor, "scope", None)
        if scope is not None and scope.kind == Organisation.Kind.SCHOOL:
            return scope
        if actor is not None and actor.role == User.Role.SCHOOL:
            raise ImportRefused(
                403,
                "no_school",
                "Tài khoản của bạn chưa gắn với trường nào.",
                "Your account is not attached to a school.",
            )
        return None
    if school.kind != Organisation.Kind.SCHOOL:
        raise ImportRefused(
            422,
            "not_a_school",
            f"Đơn vị {school.code} không phải là trường học.",
            f"Organisation {school.code} is not a school.",
        )
    if actor is not None and not is_unrestricted(actor):
        allowed = Organisation.objects.filter(pk=school.pk, id__in=org_ids_in_scope(actor))
        if not allowed.exists():
            raise ImportRefused(
                403,
                "out_of_scope",
                f"Trường {school.code} nằm ngoài phạm vi dữ liệu của bạn; bạn không thể nhập "
                "dữ liệu cho trường này.",
                f"School {school.code} is outside your data scope; you cannot import for it.",
            )
    return school


def _check_choices(*, entity: str, mode: str, origin: str, source_format: str) -> None:
    if entity and entity not in ENTITIES:
        raise ImportRefused(
            422,
            "unknown_entity",
            f"Loại dữ liệu '{entity[:30]}' không có trong chuẩn dữ liệu.",
            f"Entity '{entity[:30]}' is not part of the data standard.",
        )
    if mode not in ImportJob.Mode.values:
        raise ImportRefused(
            422,
            "unknown_mode",
            "Chế độ nhập phải là apply_valid hoặc all_or_nothing.",
            "The import mode must be apply_valid or all_or_nothing.",
        )
    if origin not in ImportJob.Origin.values:
        raise ValueError(f"unknown origin {origin!r}")
    if source_format not in FORMATS:
        raise ImportRefused(
            422,
            "unsupported_format",
            "Định dạng tệp không được hỗ trợ; hãy gửi CSV, XLSX, Parquet, JSON Lines hoặc ZIP.",
            "Unsupported file format; send CSV, XLSX, Parquet, JSON Lines or ZIP.",
        )


def import_create(
    *,
    actor,
    source,
    source_name: str,
    school: Organisation | str | None = None,
    entity: str = "",
    mode: str = ImportJob.Mode.APPLY_VALID,
    dry_run: bool = False,
    origin: str,
    enqueue: bool = True,
) -> ImportJob:
    """Check the actor's right, store the file (streamed) and queue the job on commit.

    ``source`` is an uploaded file, an open binary file or a path. ``actor`` None is the
    operator at the console (``vnemis import`` without ``--user``): the whole registry.
    """
    if actor is not None and not can_write(actor):
        raise ImportRefused(
            403,
            "forbidden",
            "Tài khoản của bạn không có quyền nhập dữ liệu.",
            "Your account may not import data.",
        )
    name = Path(str(source_name).replace("\\", "/")).name[:255] or "upload"
    source_format = Path(name).suffix.lower().lstrip(".")
    _check_choices(entity=entity, mode=mode, origin=origin, source_format=source_format)
    school = _school_of(actor=actor, school=school)
    max_bytes = import_max_bytes()
    declared = _declared_size(source)
    if declared is not None and declared > max_bytes:
        raise _too_large(max_bytes)
    job = ImportJob(
        id=uuid.uuid4(),
        created_by=actor,
        school=school,
        origin=origin,
        entity=entity,
        source_name=name,
        source_format=source_format,
        mode=mode,
        dry_run=dry_run,
    )
    workdir = job.workdir
    workdir.mkdir(parents=True, exist_ok=False)
    try:
        job.source_size, job.source_sha256 = _store(source, _source_path(job), max_bytes=max_bytes)
        if job.source_size == 0:
            raise ImportRefused(
                422,
                "empty_file",
                "Tệp rỗng: không có dữ liệu nào để nhập.",
                "The file is empty: there is nothing to import.",
            )
        with transaction.atomic():
            job.save(force_insert=True)
            audit_record(
                actor=actor,
                action="create",
                object_type="import_job",
                object_id=job.pk,
                detail={
                    "school": school.code if school else None,
                    "entity": entity,
                    "format": source_format,
                    "size": job.source_size,
                    "sha256": job.source_sha256,
                    "mode": mode,
                    "dry_run": dry_run,
                    "origin": origin,
                },
            )
            if enqueue:
                job_id = str(job.pk)
                transaction.on_commit(lambda: import_enqueue(job_id))
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return job


def import_enqueue(job_id: str) -> None:
    """Hand the job to the worker (the run is idempotent, so a duplicate is harmless)."""
    from .tasks import import_job_run

    import_job_run.enqueue(str(job_id))


def _source_path(job: ImportJob) -> Path:
    return job.workdir / f"source.{job.source_format}"


# -- cancel ----------------------------------------------------------------------------------


def import_cancel(*, actor, job: ImportJob) -> ImportJob:
    """Cancel a job: at once while queued or validating; mid-apply, after the current chunk."""
    if actor is not None and not can_write(actor):
        raise ImportRefused(
            403,
            "forbidden",
            "Tài khoản của bạn không có quyền huỷ việc nhập dữ liệu.",
            "Your account may not cancel imports.",
        )
    now = timezone.now()
    with transaction.atomic():
        stopped = ImportJob.objects.filter(
            pk=job.pk, status__in=[Status.QUEUED, Status.VALIDATING]
        ).update(status=Status.CANCELLED, finished_at=now, cancel_requested=True)
        if not stopped:
            asked = ImportJob.objects.filter(pk=job.pk, status=Status.APPLYING).update(
                cancel_requested=True
            )
            if not asked:
                raise ImportRefused(
                    409,
                    "already_finished",
                    "Việc nhập dữ liệu này đã kết thúc, không thể huỷ.",
                    "This import has already finished; it cannot be cancelled.",
                )
        audit_record(
            actor=actor,
            action="update",
            object_type="import_job",
            object_id=job.pk,
            detail={"cancel": True, "while": "applying" if not stopped else "waiting"},
        )
    job.refresh_from_db()
    return job


# -- run -------------------------------------------------------------------------------------


def _claim(job_id) -> str | None:
    """Compare-and-set: win a queued job, or one whose worker stopped writing heartbeats."""
    token = uuid.uuid4().hex
    now = timezone.now()
    common = {
        "executor": token,
        "heartbeat_at": now,
        "attempts": F("attempts") + 1,
        "started_at": Coalesce(F("started_at"), Value(now)),
    }
    won = ImportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.VALIDATING, **common
    )
    if not won:
        stale = Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - import_stale_after())
        won = (
            ImportJob.objects.filter(pk=job_id, status__in=[Status.VALIDATING, Status.APPLYING])
            .filter(stale)
            .update(**common)
        )
    return token if won else None


def import_run(
    job_id,
    *,
    requeue: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportJob:
    """Run or resume one import job to its end (the task body; safe to call twice).

    A job another worker holds is left alone. A crash inside is retried (queued again when
    ``requeue``) up to ``MAX_ATTEMPTS`` attempts, then the job fails with a message.
    ``progress(phase, done, total)`` follows the work (the CLI draws a bar with it).
    """
    token = _claim(job_id)
    job = ImportJob.objects.select_related("school", "created_by").get(pk=job_id)
    if token is None:
        return job
    runner = _Runner(job, token, progress)
    if job.attempts > MAX_ATTEMPTS:
        runner.finish_failed(
            f"Việc nhập dữ liệu bị dừng sau {MAX_ATTEMPTS} lần thử không thành công. / "
            f"The import was stopped after {MAX_ATTEMPTS} failed attempts."
        )
    else:
        try:
            runner.run()
        except _Lost:
            pass  # cancelled, or another worker took the job over: it owns the status now
        except _refusals() as exc:
            runner.finish_refused(exc)
        except _Cancelled:
            runner.finish_cancelled()
        except Exception as exc:
            runner.crashed(exc, requeue=requeue)
        else:
            pass
    job.refresh_from_db()
    return job


def _refusals() -> tuple[type[Exception], ...]:
    """Exceptions that mean "this file cannot be taken" (rejected with a reason), not a crash."""
    try:
        from .intake import IntakeRefused
    except ImportError:
        from .intake.refused import IntakeRefused
    return (ImportRefused, ZipRefused, IntakeRefused)


def import_file(
    path: str | Path,
    *,
    actor,
    school: Organisation | str | None = None,
    entity: str = "",
    mode: str = ImportJob.Mode.APPLY_VALID,
    dry_run: bool = False,
    origin: str = ImportJob.Origin.CLI,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportJob:
    """Create and run a job in this process (CLI, synchronous API, benchmark)."""
    path = Path(path)
    job = import_create(
        actor=actor,
        source=path,
        source_name=path.name,
        school=school,
        entity=entity,
        mode=mode,
        dry_run=dry_run,
        origin=origin,
        enqueue=False,
    )
    for _attempt in range(MAX_ATTEMPTS + 1):
        job = import_run(job.pk, requeue=False, progress=progress)
        if job.finished or job.status != Status.QUEUED:
            break
    return job


def import_resume_stale() -> list[str]:
    """Queue again every job whose worker died (no heartbeat) or whose task was lost.

    The claim in ``import_run`` makes a duplicate harmless; call this when a worker starts
    (``vnemis import --resume-stale``) or periodically.
    """
    stale_before = timezone.now() - import_stale_after()
    stale = Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale_before)
    ids = [
        str(pk)
        for pk in ImportJob.objects.filter(
            Q(status__in=[Status.VALIDATING, Status.APPLYING]) & stale
            | Q(status=Status.QUEUED, created_at__lt=stale_before)
        ).values_list("pk", flat=True)[:1000]
    ]
    for job_id in ids:
        import_enqueue(job_id)
    return ids


class _Runner:
    """One attempt at one job, holding the claim ``token``."""

    def __init__(self, job: ImportJob, token: str, progress) -> None:
        self.job = job
        self.token = token
        self.progress = progress
        self.workdir = job.workdir
        self.last_beat = 0.0
        self.cancel_seen_in = None  # the commit unit during which a cancel was seen
        self.extra_errors: list[Path] = []

    # -- writes guarded by the claim --

    def touch(self, **fields) -> None:
        """Write progress fields and the heartbeat, if this worker still holds the job."""
        held = (
            ImportJob.objects.filter(pk=self.job.pk, executor=self.token)
            .exclude(status__in=ImportJob.FINISHED)
            .update(heartbeat_at=timezone.now(), **fields)
        )
        if not held:
            raise _Lost

    def _end(self, status: str, **fields) -> None:
        now = timezone.now()
        with transaction.atomic():
            ended = (
                ImportJob.objects.filter(pk=self.job.pk, executor=self.token)
                .exclude(status__in=ImportJob.FINISHED)
                .update(status=status, finished_at=now, heartbeat_at=now, **fields)
            )
            if ended:
                self.job.refresh_from_db()
                audit_record(
                    actor=self.job.created_by,
                    action="update",
                    object_type="import_job",
                    object_id=self.job.pk,
                    detail={
                        "status": status,
                        "dry_run": self.job.dry_run,
                        "inserted": self.job.inserted,
                        "updated": self.job.updated,
                        "unchanged": self.job.unchanged,
                        "rejected": self.job.rows_rejected,
                        "errors": self.job.error_count,
                    },
                )

    def finish_failed(self, message: str) -> None:
        self._end(Status.FAILED, error=message[:2000])

    def finish_refused(self, exc) -> None:
        # Messages name the stored copy (source.csv): the user knows the file by its own name.
        stored = f"'source.{self.job.source_format}'"
        given = f"'{self.job.source_name}'"
        vi, en = (m.replace(stored, given) for m in (exc.message_vi, exc.message_en))
        self._end(
            Status.REJECTED,
            error=f"{vi} / {en}"[:2000],
            result={**self.job.result, "refused": exc.code},
        )

    def finish_cancelled(self) -> None:
        self._end(Status.CANCELLED)

    def crashed(self, exc: Exception, *, requeue: bool) -> None:
        # Exception texts may quote data (a database error citing a value): keep the type only.
        kind = type(exc).__name__
        logger.error(
            "import %s attempt %s failed: %s", self.job.pk, self.job.attempts, kind,
            exc_info=settings.DEBUG,
        )  # fmt: skip
        if self.job.attempts >= MAX_ATTEMPTS:
            self.finish_failed(
                f"Lỗi hệ thống khi nhập dữ liệu ({kind}); đã thử {self.job.attempts} lần. "
                "Các khối dữ liệu đã ghi vẫn nguyên vẹn; hãy báo quản trị viên. / "
                f"System error while importing ({kind}) after {self.job.attempts} attempts. "
                "Chunks already written are whole; tell the administrator."
            )
            return
        with transaction.atomic():
            back = (
                ImportJob.objects.filter(pk=self.job.pk, executor=self.token)
                .exclude(status__in=ImportJob.FINISHED)
                .update(status=Status.QUEUED, executor="", error=f"{kind}")
            )
            if back and requeue:
                job_id = str(self.job.pk)
                transaction.on_commit(lambda: import_enqueue(job_id))

    # -- the work --

    def run(self) -> None:
        manifest = self.intake()
        self.apply(manifest)

    def _intake_progress(self, *args) -> None:
        import time

        done = int(args[0]) if args else 0
        total = int(args[1]) if len(args) > 1 and args[1] else 0
        if self.progress:
            self.progress("validating", done, total)
        now = time.monotonic()
        if now - self.last_beat >= HEARTBEAT_SECONDS:
            self.last_beat = now
            self.touch(done=done, **({"total": total} if total else {}))

    def _sources(self, tmp: Path) -> list[tuple[Path, str | None]]:
        """The files to validate: the upload itself, or the data files of a ZIP."""
        source = _source_path(self.job)
        if self.job.source_format != "zip":
            return [(source, self.job.entity or None)]
        unzipped = tmp / "unzipped"
        files = zip_extract_safe(source, unzipped, max_bytes=import_max_bytes())
        if any(p.name.lower() == "manifest.csv" for p in files):
            try:
                from .oneroster import is_oneroster, oneroster_to_standard
            except ImportError:
                from .oneroster.to_standard import is_oneroster, oneroster_to_standard
            if is_oneroster(unzipped):
                out = tmp / "oneroster"
                school_code = self.job.school.code if self.job.school_id else None
                converted = oneroster_to_standard(unzipped, out, school_code=school_code)
                # The conversion's own row problems (pipeline schema) join the report.
                self.extra_errors = sorted(out.glob("*.parquet"))
                return [(Path(p), entity) for entity, p in converted.items()]
        return [(p, _entity_from_name(p)) for p in sorted(files)]

    def intake(self) -> dict:
        """Validate the file into canonical files (re-run from scratch if it was cut off)."""
        final = self.workdir / "intake"
        manifest_path = final / "manifest.json"
        if manifest_path.exists():
            return json.loads(manifest_path.read_text())
        from .intake import intake_file

        for old in self.workdir.glob(".intake-*"):
            shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        tmp = self.workdir / f".intake-{self.token}"
        tmp.mkdir()
        try:
            school_code = self.job.school.code if self.job.school_id else None
            results = []
            for i, (path, entity) in enumerate(self._sources(tmp)):
                result = intake_file(
                    path,
                    out_dir=tmp / f"part{i}",
                    entity=entity,
                    school_code=school_code,
                    chunk_rows=import_chunk_rows(),
                    max_bytes=import_max_bytes(),
                    on_progress=self._intake_progress,
                )
                results.append(result)
            manifest = _manifest(tmp, results, self.extra_errors)
            (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))
        except BaseException:
            # Refused or stopped: a half-written folder is never taken for a finished one.
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        os.replace(tmp, final)
        return manifest

    def apply(self, manifest: dict) -> None:
        """Hand the canonical files to the engine; count, gather errors, finish."""
        from vnemis.registry.loaders import dataset_load

        job = self.job
        final = self.workdir / "intake"
        files = {entity: final / rel for entity, rel in manifest["files"].items()}
        rejected_by_intake = manifest["rejected_rows"] > 0
        all_or_nothing = job.mode == ImportJob.Mode.ALL_OR_NOTHING
        # A file already refused (all-or-nothing with intake errors) still goes through a dry
        # run, so the report names every problem at once, not the first half of them.
        dry_run = job.dry_run or (all_or_nothing and rejected_by_intake)
        resumable = not dry_run and not all_or_nothing
        job.refresh_from_db()
        if job.cancel_requested:
            raise _Cancelled
        base = job.result.get("progress", {}) if resumable else {}
        resume = dict(job.chunks_done) if resumable else None
        rows_to_apply = manifest["rows_canonical"]
        self.touch(
            status=Status.APPLYING,
            total=rows_to_apply,
            done=sum(v.get("rows", 0) for v in base.values()),
            entity=job.entity or (manifest["entity"] or "")[:30],
        )
        engine_errors = self.workdir / "engine_errors"
        engine_errors.mkdir(exist_ok=True)
        sink_count = [0]

        def error_sink(frame: pl.DataFrame) -> None:
            # One file per call, named by this attempt: replays after a crash write the same
            # rows again, and the union below drops the duplicates.
            sink_count[0] += 1
            frame.write_parquet(engine_errors / f"{self.token}-{sink_count[0]:06d}.parquet")

        progress_now: dict[str, dict] = {k: dict(v) for k, v in base.items()}
        chunks_now: dict[str, int] = dict(resume or {})

        # The engine's outermost transaction in this call is the unit that commits (one chunk,
        # or a roster's pupils and enrolments chunk together); a cancel lets the unit it was
        # seen in commit, and stops at the next one.
        depth = len(connection.atomic_blocks)

        def commit_unit():
            blocks = connection.atomic_blocks
            return blocks[depth] if len(blocks) > depth else None

        def on_chunk(entity: str, chunk: int, stats) -> None:
            # Inside the chunk's transaction: the counts commit (or roll back) with its rows.
            if self.cancel_seen_in is not None and commit_unit() is not self.cancel_seen_in:
                raise _Cancelled
            before = base.get(entity, {})
            progress_now[entity] = {k: before.get(k, 0) + _stat(stats, k) for k in COUNTS}
            chunks_now[entity] = chunk
            totals = _sum_counts(progress_now)
            self.touch(
                chunks_done=chunks_now,
                result={**job.result, "progress": progress_now},
                done=totals["rows"],
                inserted=totals["inserted"],
                updated=totals["updated"],
                unchanged=totals["unchanged"],
            )
            if self.progress:
                self.progress("applying", totals["rows"], rows_to_apply)
            if self.cancel_seen_in is None and (
                ImportJob.objects.filter(pk=job.pk, cancel_requested=True).exists()
            ):
                if not resumable:
                    raise _Cancelled  # one transaction: cancelling it writes nothing at all
                self.cancel_seen_in = commit_unit()

        school_ids = _write_scope(job)
        locked = _locked_pairs()
        result = dataset_load(
            files=files,
            chunk_rows=import_chunk_rows(),
            actor=job.created_by,
            school_ids=school_ids,
            locked=locked,
            dry_run=dry_run,
            all_or_nothing=all_or_nothing,
            resume=resume,
            on_chunk=on_chunk,
            error_sink=error_sink,
            source=f"import:{job.pk}",
        )
        per_entity = {}
        for name, stats in result.entities.items():
            if not getattr(stats, "present", True):
                continue
            before = base.get(name, {})
            per_entity[name] = {k: before.get(k, 0) + _stat(stats, k) for k in COUNTS}
        totals = _sum_counts(per_entity)
        errors_path, problem_rows, rejected_rows, error_rows = self.errors_union(manifest)
        causes = _causes(errors_path, manifest.get("headers", {})) if problem_rows else []
        refused = all_or_nothing and error_rows > 0
        fields = {
            "done": totals["rows"],
            "inserted": 0 if refused else totals["inserted"],
            "updated": 0 if refused else totals["updated"],
            "unchanged": 0 if refused else totals["unchanged"],
            "rows_valid": 0
            if refused
            else totals["inserted"] + totals["updated"] + totals["unchanged"],
            "rows_rejected": rejected_rows,
            "error_count": error_rows,  # errors only: warnings do not stop a row
            "causes": causes,
            "result": {
                **job.result,
                "warnings": problem_rows - error_rows,
                "progress": per_entity,
                "entities": per_entity,
                "rows_total": manifest["rows_total"],
                "would_apply": totals["inserted"] + totals["updated"] if refused else None,
            },
        }
        # A cancel that came during the last chunk came too late: every row was applied.
        self._end(Status.REJECTED if refused else Status.SUCCEEDED, **fields)

    def errors_union(self, manifest: dict) -> tuple[Path, int, int, int]:
        """Intake's and the engine's error rows as one sorted file without duplicates.

        Returns (path, error rows, rejected source rows, rows with an error severity).
        """
        final = self.workdir / "intake"
        parts = [final / rel for rel in manifest["errors"]]
        frames = [_error_frame(p) for p in parts if p.exists()]
        engine = [
            _error_frame(p) for p in sorted((self.workdir / "engine_errors").glob("*.parquet"))
        ]
        if engine and (final / "oneroster").is_dir():
            # The engine saw the converted files: say where the problem is in the bundle.
            from .oneroster.to_standard import oneroster_locate

            engine = [oneroster_locate(final / "oneroster", pl.concat(engine))]
        frames += engine
        if frames:
            df = pl.concat(frames, how="vertical").unique(maintain_order=True)
            df = df.sort(["row", "entity", "column", "code"], nulls_last=True)
        else:
            df = pl.DataFrame(schema=ERROR_SCHEMA)
        out = self.workdir / "errors.parquet"
        tmp = self.workdir / f".errors-{self.token}.parquet"
        df.write_parquet(tmp)
        os.replace(tmp, out)
        for cached in ("errors.csv", "errors.xlsx"):
            (self.workdir / cached).unlink(missing_ok=True)
        bad = df.filter(pl.col("severity") == "error")
        key = ["row"] if manifest.get("single_source", True) else ["entity", "row"]
        rejected = bad.select(key).unique().height
        return out, df.height, rejected, bad.height


def _stat(stats, name: str) -> int:
    return int(getattr(stats, name, 0) or 0)


def _sum_counts(per_entity: dict[str, dict]) -> dict[str, int]:
    return {k: sum(v.get(k, 0) for v in per_entity.values()) for k in COUNTS}


def _error_frame(path: Path) -> pl.DataFrame:
    df = pl.read_parquet(path)
    return df.select(
        [
            (pl.col(c) if c in df.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in ERROR_SCHEMA.items()
        ]
    )


def _entity_from_name(path: Path) -> str | None:
    """An entity named by the file (``pupils.csv``, ``2025_enrolments.xlsx``); None: detect."""
    stem = path.stem.lower().replace("-", "_").replace(" ", "_")
    for name in sorted(ENTITIES, key=len, reverse=True):
        if stem == name or stem.endswith("_" + name) or stem.startswith(name + "_"):
            return name
    return None


def _manifest(tmp: Path, results: list, extra_errors: list[Path]) -> dict:
    """What intake produced, with paths relative to the intake folder (it is renamed)."""
    files: dict[str, str] = {}
    rejected: list[str] = []
    errors: list[str] = [str(p.relative_to(tmp)) for p in extra_errors]
    headers: dict = {}
    entities: list[str] = []
    rows_total = rows_valid = 0
    for result in results:
        for entity, path in result.files.items():
            if entity in files:
                raise ImportRefused(
                    422,
                    "duplicate_entity",
                    f"Tệp nén chứa hai tệp cùng loại dữ liệu ({entity}); hãy gộp chúng lại.",
                    f"The archive holds two files of the same entity ({entity}); merge them.",
                )
            files[entity] = str(Path(path).relative_to(tmp))
        if result.errors_path and Path(result.errors_path).exists():
            errors.append(str(Path(result.errors_path).relative_to(tmp)))
        if getattr(result, "rejected_path", None) and Path(result.rejected_path).exists():
            rejected.append(str(Path(result.rejected_path).relative_to(tmp)))
        if isinstance(result.headers, dict):
            headers.update(result.headers)
        entities.append(result.entity)
        rows_total += int(result.rows_total)
        rows_valid += int(result.rows_valid)
    rows_canonical = sum(
        pl.scan_parquet(tmp / rel).select(pl.len()).collect().item()
        if rel.endswith(".parquet")
        else 0
        for rel in files.values()
    )
    rejected_rows = 0
    for rel in errors:
        bad = pl.scan_parquet(tmp / rel).filter(pl.col("severity") == "error")
        rejected_rows += bad.select(pl.len()).collect().item()
    return {
        "entity": entities[0] if len(entities) == 1 else "",
        "entities": entities,
        "files": files,
        "errors": errors,
        "rejected": rejected,
        "headers": headers,
        "rows_total": rows_total,
        "rows_valid": rows_valid,
        "rows_canonical": rows_canonical,
        "rejected_rows": rejected_rows,
        "single_source": len(results) == 1,
    }


def _write_scope(job: ImportJob) -> frozenset[int] | None:
    """Schools the job may write: its school, else every school in its creator's scope."""
    if job.school_id:
        return frozenset({job.school_id})
    actor = job.created_by
    if actor is None or is_unrestricted(actor):
        return None
    if actor.scope_id and actor.scope.kind == Organisation.Kind.MINISTRY:
        return None  # the root of the tree: every school (a set of 54,000 checks nothing)
    ids = Organisation.objects.filter(
        id__in=org_ids_in_scope(actor), kind=Organisation.Kind.SCHOOL
    ).values_list("id", flat=True)
    return frozenset(ids)


def _locked_pairs():
    """(school, year) pairs whose approved period data is locked (submissions), if built."""
    try:
        from .submissions import locked_pairs
    except ImportError:
        return None
    return locked_pairs


def _causes(errors_path: Path, headers: dict) -> list[dict]:
    from .causes import causes_group

    # Stored on the job and shown with it: counts, rows and messages only. Sample values quote
    # the file (names, birth dates) and stay in the error rows, whose reads are audited.
    causes = causes_group(errors_path, headers)[:100]
    return [{k: v for k, v in c.items() if k != "sample_value"} for c in causes]


# -- reports ---------------------------------------------------------------------------------


def import_headers(job: ImportJob) -> dict:
    """The file's own column headers by canonical column (for messages in the user's words)."""
    path = job.workdir / "intake" / "manifest.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text()).get("headers") or {}


def import_rows_fixable(job: ImportJob) -> bool:
    """Whether the job has a rows-to-fix file to offer (one source file, rows refused)."""
    path = job.workdir / "intake" / "manifest.json"
    if not job.rows_rejected or not path.exists():
        return False
    return len(json.loads(path.read_text()).get("rejected") or []) == 1


def _rows_to_fix(*, actor, job: ImportJob) -> Path:
    """The refused rows with their data and errors, as one XLSX to fix and send again (a file
    of one source; a ZIP's files each have their own rows)."""
    manifest_path = job.workdir / "intake" / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    rejected = manifest.get("rejected") or []
    if not job.finished or not import_rows_fixable(job):
        raise ImportRefused(
            409,
            "no_rows_to_fix",
            "Chỉ có tệp các dòng cần sửa khi việc nhập một tệp đã xong và có dòng bị từ chối.",
            "The rows-to-fix file exists once a single file's import has finished with rows "
            "refused.",
        )
    out = job.workdir / "rows-to-fix.xlsx"
    if not out.exists():
        from .reports import rows_to_fix_xlsx

        final = job.workdir / "intake"
        tmp = job.workdir / f".fix-{uuid.uuid4().hex}.xlsx"
        rows_to_fix_xlsx(
            rejected_path=final / rejected[0],
            canonical={e: final / rel for e, rel in manifest["files"].items()},
            errors_path=job.workdir / "errors.parquet",
            headers=manifest.get("headers") or {},
            columns=xf.LAYOUTS_BY_NAME[manifest["entities"][0]].column_names,
            out_path=tmp,
        )
        os.replace(tmp, out)
    audit_record(
        actor=actor,
        action="export",
        object_type="import_rows_to_fix",
        object_id=job.pk,
        detail={"rows": job.rows_rejected},
    )
    return out


def import_report(*, actor, job: ImportJob, fmt: str) -> Path:
    """The job's error report as CSV or XLSX (made once, then cached beside the job), audited."""
    if fmt not in ("csv", "xlsx", "fix"):
        raise ImportRefused(
            422,
            "unknown_format",
            "Định dạng báo cáo phải là csv, xlsx hoặc fix (các dòng cần sửa).",
            "The report format must be csv, xlsx or fix (the rows to fix).",
        )
    if fmt == "fix":
        return _rows_to_fix(actor=actor, job=job)
    errors = job.workdir / "errors.parquet"
    if not job.finished or not errors.exists():
        raise ImportRefused(
            409,
            "no_report",
            "Báo cáo lỗi chỉ có khi việc kiểm tra tệp đã xong.",
            "The error report exists once the file has been checked.",
        )
    out = job.workdir / f"errors.{fmt}"
    if not out.exists():
        from .reports import error_report_csv, error_report_xlsx

        make = error_report_csv if fmt == "csv" else error_report_xlsx
        tmp = job.workdir / f".report-{uuid.uuid4().hex}.{fmt}"
        make(errors, tmp, import_headers(job))
        os.replace(tmp, out)
    audit_record(
        actor=actor,
        action="export",
        object_type="import_errors",
        object_id=job.pk,
        detail={"format": fmt, "errors": job.error_count},
    )
    return out
