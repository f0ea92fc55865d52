"""Year-end rollover as actions: preview, run, resume, undo — scoped, checked and audited.

The CLI (``vnemis rollover``), the pages and tasks call these; the set-wise work is in
``vnemis.registry.rollover``. A run needs write permission over the scope node (a school, a
Department, the Ministry): a school rolls over itself, a Department all its schools.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record
from vnemis.core.models import Job
from vnemis.orgs.models import Organisation
from vnemis.orgs.scope import can_write, org_ids_in_scope

from . import rollover as engine
from .models import SchoolYear
from .models_rollover import RolloverRun, RolloverSchool


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
    *, actor, job: Job, enqueue: bool = True, progress: engine.Progress | None = None
) -> Job:
    """Continue a failed or interrupted run from where it stopped."""
    run = _run_of(job)
    _authorise(actor, run.scope)
    if run.status in (RolloverRun.Status.SUCCEEDED, RolloverRun.Status.UNDONE):
        raise ValidationError(
            _("Lần kết chuyển này đã kết thúc.") + " / This rollover has already finished.",
            code="finished",
        )
    if enqueue:
        from .tasks import rollover_execute

        transaction.on_commit(lambda: rollover_execute.enqueue(run.pk))
    else:
        engine.execute(run, progress=progress)
    job.refresh_from_db()
    return job


def rollover_undo(
    *,
    actor,
    job: Job,
    chunk_size: int = engine.DEFAULT_CHUNK,
    progress: engine.Progress | None = None,
) -> dict:
    """Reverse exactly what the run did; refused if its new-year data has changed since."""
    run = _run_of(job)
    _authorise(actor, run.scope)
    if run.status == RolloverRun.Status.UNDONE:
        raise ValidationError(
            _("Lần kết chuyển này đã được hoàn tác.") + " / This rollover was already undone.",
            code="already_undone",
        )
    if run.status in (RolloverRun.Status.PENDING, RolloverRun.Status.RUNNING):
        raise ValidationError(
            _("Lần kết chuyển đang chạy; hãy chờ nó kết thúc rồi hoàn tác.")
            + " / The rollover is still running; undo it when it has finished.",
            code="running",
        )
    problems = engine.undo_problems(run)
    if problems:
        raise RolloverBlocked(problems)
    return engine.undo(run, actor=_actor(actor), chunk_size=chunk_size, progress=progress)
