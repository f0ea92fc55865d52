"""Year-end rollover as actions: preview, run, resume, undo — scoped, checked and audited.

The CLI (``vnemis rollover``), the pages and tasks call these; the set-wise work is in
``vnemis.registry.rollover``. A run needs write permission over the scope node (a school, a
Department, the Ministry): a school rolls over itself, a Department all its schools. It is work
for people of a school, a Department or the Ministry (or a superuser): API clients (the SYSTEM
role, though a writer of records) may neither preview, run nor undo it.

Status changes are compare-and-set (see "who holds a run" in ``vnemis.registry.rollover``): a
run is resumed only from PENDING or FAILED, undone only from SUCCEEDED or FAILED under a row
lock, so two workers or a double POST cannot both act on one run.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record
from vnemis.core.models import Job
from vnemis.orgs.models import Organisation, User
from vnemis.orgs.scope import can_write, org_ids_in_scope

from . import rollover as engine
from .models import SchoolYear
from .models_rollover import RolloverRun, RolloverSchool

RolloverBusy = engine.RolloverBusy

# People who may roll a year over. ``orgs.scope.WRITERS`` also holds SYSTEM (API clients that
# write records); the rollover is deliberately narrower.
ROLLOVER_ROLES = {User.Role.SCHOOL, User.Role.DEPARTMENT, User.Role.MINISTRY}


class RolloverBlocked(ValidationError):
    """The checks refuse the run (or the undo); ``checks`` holds them for pages and the CLI."""

    def __init__(self, checks: list[engine.Check]):
        self.checks = checks
        super().__init__([c.message for c in checks], code="rollover_blocked")

    def bilingual(self) -> list[str]:
        return [f"{c.message} / {c.message_en}" for c in self.checks]


def _authorise(actor, scope: Organisation) -> None:
    """Writers whose scope includes the node; ``actor=None`` is the operator's shell."""
    if actor is None:
        return
    if (
        not actor.is_authenticated
        or not (actor.is_superuser or actor.role in ROLLOVER_ROLES)
        or not can_write(actor)
        or not Organisation.objects.filter(id=scope.pk, id__in=org_ids_in_scope(actor)).exists()
    ):
        raise PermissionDenied(
            _("Bạn không có quyền kết chuyển năm học cho đơn vị này.")
            + " / You may not roll over this organisation."
        )


def _actor(actor):
    return actor if getattr(actor, "pk", None) else None


def rollover_preview(*, actor, scope: Organisation, from_year: SchoolYear) -> dict:
    """What a rollover of ``scope`` from ``from_year`` would do, and the checks that block it."""
    _authorise(actor, scope)
    return engine.analyse(scope=scope, from_year=from_year).as_dict()


def rollover_run(
    *,
    actor,
    scope: Organisation,
    from_year: SchoolYear,
    enqueue: bool = True,
    chunk_size: int = engine.DEFAULT_CHUNK,
    progress: engine.Progress | None = None,
) -> Job:
    """Start a rollover as one job: refused if a check fails; queued, or run here if asked."""
    _authorise(actor, scope)
    with transaction.atomic():
        analysis = engine.analyse(scope=scope, from_year=from_year)
        if analysis.blocking:
            raise RolloverBlocked(analysis.blocking)
        values = engine.next_year_values(from_year)
        to_year = analysis.to_year
        created_year = to_year is None
        if created_year:
            to_year = SchoolYear.objects.create(**values)
        counts = {
            k: analysis.counts[k] for k in ("promoted", "repeating", "graduated", "left", "active")
        }
        job = Job.objects.create(
            kind=engine.JOB_KIND,
            params={
                "scope": scope.code,
                "from_year": from_year.code,
                "to_year": to_year.code,
                "preview": counts,
            },
            total=analysis.to_move,
            created_by=_actor(actor),
        )
        run = RolloverRun.objects.create(
            job=job,
            scope=scope,
            from_year=from_year,
            to_year=to_year,
            created_to_year=created_year,
            counts={"to_year": to_year.code, "left": counts["left"]},
            created_by=_actor(actor),
        )
        try:
            # The claim is the lock: a second run over any of these schools fails here.
            with transaction.atomic():
                RolloverSchool.objects.bulk_create(
                    [
                        RolloverSchool(run=run, school_id=s, from_year=from_year)
                        for s in analysis.school_ids
                    ],
                    batch_size=5_000,
                )
        except IntegrityError:
            raise RolloverBlocked(
                [
                    engine.Check(
                        "already_rolled_over",
                        0,
                        _("Một lần kết chuyển khác đang chạy hoặc đã chạy cho các trường này."),
                        "Another rollover is running or has run for these schools.",
                    )
                ]
            ) from None
        audit_record(
            actor=actor,
            action="create",
            object_type="rollover",
            object_id=run.pk,
            detail={
                "scope": scope.code,
                "from_year": from_year.code,
                "schools": len(analysis.school_ids),
                "counts": counts,
            },
        )
        if enqueue:
            from .tasks import rollover_execute

            transaction.on_commit(lambda: rollover_execute.enqueue(run.pk))
    if not enqueue:
        engine.execute(run, chunk_size=chunk_size, progress=progress)
    job.refresh_from_db()
    return job


def _run_of(job: Job) -> RolloverRun:
    run = (
        RolloverRun.objects.select_related("scope", "from_year", "to_year", "job")
        .filter(job_id=job.pk)
        .first()
    )
    if run is None:
        raise ValidationError(
            _("Công việc này không phải là một lần kết chuyển năm học.")
            + " / This job is not a rollover.",
            code="not_rollover",
        )
    return run


def rollover_get(*, actor, job_id) -> RolloverRun:
    """The rollover of a job, if the actor may act on its scope."""
    try:
        job = Job.objects.get(pk=job_id, kind=engine.JOB_KIND)
    except (Job.DoesNotExist, ValidationError, ValueError):
        raise PermissionDenied(
            _("Không tìm thấy lần kết chuyển này.") + " / No such rollover."
        ) from None
    run = _run_of(job)
    _authorise(actor, run.scope)
    return run


def rollover_resume(
    *,
    actor,
    job: Job,
    enqueue: bool = True,
    progress: engine.Progress | None = None,
    takeover: bool = False,
) -> Job:
    """Continue a failed or interrupted run from where it stopped.

    Refused while another executor runs it (or an undo is under way). ``takeover`` (operator's
    shell only) wins a RUNNING run whose worker has written no heartbeat for
    ``engine.STALE_AFTER``.
    """
    run = _run_of(job)
    _authorise(actor, run.scope)
    if takeover and actor is not None:
        raise PermissionDenied(
            _("Chỉ người vận hành mới được tiếp quản một lần kết chuyển.")
            + " / Only the operator may take a rollover over."
        )
    if run.status not in engine.CLAIMABLE and not (
        takeover and run.status == RolloverRun.Status.RUNNING
    ):
        raise engine.refusal(run.status)
    if enqueue and not takeover:
        from .tasks import rollover_execute

        # A second resume of the same run only enqueues a task that the claim in ``execute``
        # turns away; the status is not touched here.
        transaction.on_commit(lambda: rollover_execute.enqueue(run.pk))
    else:
        engine.execute(run, progress=progress, takeover=takeover)
    job.refresh_from_db()
    return job


def rollover_undo(
    *,
    actor,
    job: Job,
    chunk_size: int = engine.DEFAULT_CHUNK,
    progress: engine.Progress | None = None,
    takeover: bool = False,
) -> dict:
    """Reverse exactly what the run did; refused if its new-year data has changed since.

    The run row is locked (``select_for_update``) while it is checked and moved to UNDOING in
    one transaction, so of two undos (a double POST) or an undo and a resume only one proceeds.
    If the undo fails part-way the run goes back to its status before, and can be undone again
    (each chunk is whole). ``takeover`` (operator only) continues a stale UNDOING run.
    """
    run = _run_of(job)
    _authorise(actor, run.scope)
    if takeover and actor is not None:
        raise PermissionDenied(
            _("Chỉ người vận hành mới được tiếp quản một lần kết chuyển.")
            + " / Only the operator may take a rollover over."
        )
    UNDOING = RolloverRun.Status.UNDOING
    with transaction.atomic():
        locked = (
            RolloverRun.objects.select_for_update(of=("self",))
            .select_related("scope", "from_year", "to_year", "job")
            .get(pk=run.pk)
        )
        stale = locked.heartbeat_at is None or (
            locked.heartbeat_at < timezone.now() - engine.STALE_AFTER
        )
        if locked.status not in engine.UNDOABLE and not (
            takeover and locked.status == UNDOING and stale
        ):
            raise engine.refusal(locked.status)
        problems = engine.undo_problems(locked)
        if problems:
            raise RolloverBlocked(problems)
        token, before = engine.claim(
            locked.pk, allowed=engine.UNDOABLE, to=UNDOING, takeover=takeover
        )
        if token is None:  # cannot happen under the lock; refuse rather than guess
            raise engine.refusal(before)
        job_before = Job.objects.values_list("status", flat=True).get(pk=locked.job_id)
        job_from = [Job.Status.SUCCEEDED, Job.Status.FAILED]
        if takeover:
            job_from.append(Job.Status.RUNNING)
        # Job has no "undoing" status: it shows RUNNING (the page polls) until UNDONE.
        Job.objects.filter(pk=locked.job_id, status__in=job_from).update(status=Job.Status.RUNNING)
    try:
        return engine.undo(
            locked, actor=_actor(actor), token=token, chunk_size=chunk_size, progress=progress
        )
    except engine.RolloverLost:
        raise
    except Exception:
        with transaction.atomic():
            back = before if before in engine.UNDOABLE else RolloverRun.Status.FAILED
            if RolloverRun.objects.filter(pk=locked.pk, status=UNDOING, executor=token).update(
                status=back
            ):
                Job.objects.filter(pk=locked.job_id, status=Job.Status.RUNNING).update(
                    status=job_before if job_before != Job.Status.RUNNING else Job.Status.FAILED
                )
        raise


# --- preview of a large scope, as a job -----------------------------------------------------
#
# Choice: a preview of more than PREVIEW_INLINE_MAX_SCHOOLS schools (a large Department, the
# Ministry: up to ~50 000 schools and 24 M enrolments) is never computed in the web request.
# It runs as a Job on the worker and the page polls it (htmx), like a run. A cache alone would
# still do the national analysis inside whichever request misses it, and a cheap "data
# version" to key it on does not exist at that size (max(updated_at) over the scope is itself
# the heavy query). The finished job doubles as the cache: a job for the same scope, year and
# language younger than PREVIEW_REUSE is shown again (also to other users allowed on that
# scope: the preview holds counts, no pupil data) unless the user presses "refresh". The run
# itself always re-analyses under its claim, so a slightly old preview cannot cause a wrong
# run. Small scopes (a school, a small Department) stay inline: quick, and always fresh.

PREVIEW_INLINE_MAX_SCHOOLS = 200
PREVIEW_REUSE = timedelta(seconds=120)


def preview_in_background(scope: Organisation) -> bool:
    """Whether a preview of ``scope`` runs as a job (one count over the closure table)."""
    return engine.school_ids_in(scope).count() > PREVIEW_INLINE_MAX_SCHOOLS


def rollover_preview_start(
    *, actor, scope: Organisation, from_year: SchoolYear, refresh: bool = False
) -> Job:
    """A preview job for ``scope``: a recent (or still running) one, or a new queued one."""
    _authorise(actor, scope)
    lang = translation.get_language() or settings.LANGUAGE_CODE
    if not refresh:
        recent = (
            Job.objects.filter(
                kind=engine.PREVIEW_KIND,
                params__scope_id=scope.pk,
                params__from_year_id=from_year.pk,
                params__lang=lang,
                status__in=[Job.Status.PENDING, Job.Status.RUNNING, Job.Status.SUCCEEDED],
                created_at__gte=timezone.now() - PREVIEW_REUSE,
            )
            .order_by("-created_at")
            .first()
        )
        if recent is not None:
            return recent
    job = Job.objects.create(
        kind=engine.PREVIEW_KIND,
        params={
            "scope": scope.code,
            "scope_id": scope.pk,
            "from_year": from_year.code,
            "from_year_id": from_year.pk,
            "lang": lang,
        },
        total=1,
        created_by=_actor(actor),
    )
    from .tasks import rollover_preview as preview_task

    transaction.on_commit(lambda: preview_task.enqueue(str(job.pk)))
    return job


def rollover_preview_get(*, actor, job_id) -> tuple[Job, Organisation, SchoolYear]:
    """A preview job, its scope and year, if the actor may preview that scope."""
    job = Job.objects.filter(pk=job_id, kind=engine.PREVIEW_KIND).first()  # a UUID (the URL)
    scope = job and Organisation.objects.filter(pk=job.params.get("scope_id")).first()
    year = job and SchoolYear.objects.filter(pk=job.params.get("from_year_id")).first()
    if not job or scope is None or year is None:
        raise PermissionDenied(_("Không tìm thấy bản xem trước này.") + " / No such preview.")
    _authorise(actor, scope)
    return job, scope, year
