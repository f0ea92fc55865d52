"""``vnemis rollover preview|run|undo|resume``: the year-end rollover from the terminal.

``preview`` prints the counts and the checks; ``run`` runs the job here with a progress bar
(``--enqueue`` hands it to the worker and follows its progress instead); ``undo --job ID``
reverses a run; ``resume --job ID`` continues a failed one. Errors are "Vietnamese / English".
A run whose worker died stays RUNNING (or UNDOING) and is refused; ``--takeover`` (operator
only, after ``STALE_AFTER`` without a heartbeat) continues it here.
"""

import json
import time

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from vnemis.core.models import Job
from vnemis.orgs.models import Organisation, User
from vnemis.registry.models import SchoolYear
from vnemis.registry.rollover import DEFAULT_CHUNK, JOB_KIND
from vnemis.registry.rollover_actions import (
    RolloverBlocked,
    rollover_preview,
    rollover_resume,
    rollover_run,
    rollover_undo,
)

COUNT_LABELS = [
    ("active", "Đang học / Studying"),
    ("promoted", "Lên lớp / Promoted"),
    ("repeating", "Ở lại lớp / Repeating"),
    ("graduated", "Hoàn thành cấp học / Graduated"),
    ("left", "Đã chuyển đi, bỏ học / Left"),
    ("missing_outcome", "Chưa có kết quả / No outcome"),
    ("pending_reassessment", "Chờ đánh giá lại / Awaiting re-assessment"),
]


class Command(BaseCommand):
    help = "Year-end rollover (promote, repeat, graduate). / Kết chuyển năm học."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["preview", "run", "undo", "resume"])
        parser.add_argument("--scope", help="Organisation code (school, Department, Ministry)")
        parser.add_argument("--from", dest="from_year", help="School year code, e.g. 2025-2026")
        parser.add_argument("--job", help="Job id (undo, resume)")
        parser.add_argument("--user", help="Act as this user (default: the operator, no scope)")
        parser.add_argument("--enqueue", action="store_true", help="Run on the worker")
        parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK)
        parser.add_argument("--json", action="store_true", help="Print the preview as JSON")
        parser.add_argument(
            "--takeover",
            action="store_true",
            help="resume/undo: take over a run whose worker stopped (no heartbeat for 30 min)",
        )

    def handle(self, *args, action, **opts):
        actor = None
        if opts["user"]:
            actor = User.objects.filter(username=opts["user"]).first()
            if actor is None:
                raise CommandError(f"Không có người dùng / No such user: {opts['user']}")
        try:
            if action in ("undo", "resume"):
                return self._with_job(action, actor, opts)
            scope, year = self._scope_year(opts)
            if action == "preview":
                return self._preview(actor, scope, year, as_json=opts["json"])
            return self._run(actor, scope, year, opts)
        except RolloverBlocked as exc:
            for line in exc.bilingual():
                self.stderr.write(f"  ✗ {line}")
            raise CommandError(
                "Kết chuyển bị từ chối / Rollover refused: " + " | ".join(exc.bilingual())
            ) from None
        except (PermissionDenied, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None

    def _scope_year(self, opts):
        if not opts["scope"] or not opts["from_year"]:
            raise CommandError("Cần --scope và --from / --scope and --from are required")
        scope = Organisation.objects.filter(code=opts["scope"]).first()
        if scope is None:
            raise CommandError(f"Không có đơn vị / No such organisation: {opts['scope']}")
        year = SchoolYear.objects.filter(code=opts["from_year"]).first()
        if year is None:
            raise CommandError(f"Không có năm học / No such school year: {opts['from_year']}")
        return scope, year

    def _preview(self, actor, scope, year, *, as_json=False):
        p = rollover_preview(actor=actor, scope=scope, from_year=year)
        if as_json:
            self.stdout.write(json.dumps(p, ensure_ascii=False, default=str))
            return
        w = self.stdout.write
        w(f"{p['scope']['code']} {p['scope']['name']}: {p['from_year']} → {p['to_year']}")
        w(f"  Trường / Schools: {p['schools']}")
        for key, label in COUNT_LABELS:
            w(f"  {label:<42} {p['counts'].get(key, 0):>10,}")
        w("  Lớp năm mới / New-year classes:   khối/grade  tạo/create  dùng lại/reuse")
        for row in p["classes"]:
            w(f"  {'':<33}{row['grade']:>10} {row['create']:>11} {row['reuse']:>15}")
        for c in p["checks"]:
            mark = "✗" if c["blocking"] else "i"
            w(f"  {mark} {c['message']} / {c['message_en']}")
        w("Sẵn sàng / Ready." if p["ok"] else "Bị chặn / Blocked.")

    def _bar(self, total):
        return tqdm(total=total, unit="hs", file=self.stdout, dynamic_ncols=True, leave=True)

    def _run(self, actor, scope, year, opts):
        bar = None

        def progress(done, total):
            nonlocal bar
            if bar is None:
                bar = self._bar(total)
            bar.update(done - bar.n)

        job = rollover_run(
            actor=actor,
            scope=scope,
            from_year=year,
            enqueue=opts["enqueue"],
            chunk_size=opts["chunk_size"],
            progress=progress,
        )
        if bar is not None:
            bar.close()
        if opts["enqueue"]:
            self.stdout.write(f"Đã xếp hàng / Queued: job {job.pk}")
            job = self._follow(job)
        self._report(job)

    def _follow(self, job):
        """Follow a queued job's progress until the worker finishes it."""
        bar = self._bar(job.total)
        while job.status in (Job.Status.PENDING, Job.Status.RUNNING):
            time.sleep(1)
            job.refresh_from_db()
            bar.total = job.total
            bar.update(job.done - bar.n)
        bar.close()
        return job

    def _report(self, job):
        self.stdout.write(f"Job {job.pk}: {job.status} {job.done:,}/{job.total:,}")
        if job.result:
            self.stdout.write(json.dumps(job.result, ensure_ascii=False))
        if job.status == Job.Status.FAILED:
            raise CommandError(f"Kết chuyển thất bại / Rollover failed: {job.error}")

    def _with_job(self, action, actor, opts):
        if not opts["job"]:
            raise CommandError("Cần --job / --job is required")
        job = Job.objects.filter(pk=opts["job"], kind=JOB_KIND).first()
        if job is None:
            raise CommandError(f"Không có lần kết chuyển / No such rollover job: {opts['job']}")
        if action == "resume":
            job = rollover_resume(
                actor=actor,
                job=job,
                enqueue=opts["enqueue"] and not opts["takeover"],
                takeover=opts["takeover"],
            )
            if opts["enqueue"]:
                job = self._follow(job)
            return self._report(job)
        bar = self._bar(job.done)
        counts = rollover_undo(
            actor=actor,
            job=job,
            chunk_size=opts["chunk_size"],
            progress=lambda done, total: bar.update(done - bar.n),
            takeover=opts["takeover"],
        )
        bar.close()
        self.stdout.write(
            f"Đã hoàn tác / Undone: job {job.pk} " + json.dumps(counts, ensure_ascii=False)
        )
