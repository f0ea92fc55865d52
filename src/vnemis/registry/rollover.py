"""Year-end rollover engine: promote, repeat and graduate every pupil of a scope, set-wise.

The work is shaped for national size (24 M enrolments): no query per pupil. It runs in three
phases, each restartable:

1. ``analyse`` — one grouped query counts active enrolments per class and year outcome; the
   class plan (old class → new-year class for promoted and for repeating pupils) is derived in
   Python per class (classes are ~35× fewer than pupils) and checked against the classes that
   already exist in the new year.
2. ``plan`` — writes the new classes (``bulk_create``) and the class map, in one transaction.
3. ``execute`` — walks the active enrolments in id order, ``chunk_size`` at a time. Each chunk
   is one transaction of a few ``INSERT … SELECT`` / ``UPDATE … WHERE id IN (SELECT …)``
   statements that stage what will change (with the previous values), create the new
   enrolments and their status history, and close the old ones. The run's cursor and the job's
   progress move in the same transaction, so a crash leaves whole chunks only and the job
   resumes where it stopped.

``undo`` reverses a run chunk by chunk from its staging rows, after checking that nothing the
run wrote has been changed since. SQL is portable between SQLite (≥ 3.35) and PostgreSQL:
correlated sub-queries instead of ``UPDATE … FROM``.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Exists, F, FilteredRelation, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record
from vnemis.core.models import Job
from vnemis.orgs.models import Organisation, OrgClosure

from .models import (
    ACTIVE_STATUSES,
    Enrolment,
    EnrolmentStatusChange,
    ResultSummary,
    SchoolClass,
    SchoolYear,
    SubjectResult,
    TeachingAssignment,
)
from .models_rollover import (
    RolloverClass,
    RolloverClassMap,
    RolloverEnrolment,
    RolloverRun,
    RolloverSchool,
)

Progress = Callable[[int, int], None]

DEFAULT_CHUNK = 5_000
LEFT_STATUSES = ("transferred_out", "dropped_out")
FINAL_OUTCOMES = ("promoted", "repeat", "completed_level")
JOB_KIND = "registry.rollover"

T_ENROLMENT = Enrolment._meta.db_table
T_CHANGE = EnrolmentStatusChange._meta.db_table
T_CLASS = SchoolClass._meta.db_table
T_SUMMARY = ResultSummary._meta.db_table
T_RESULT = SubjectResult._meta.db_table
T_STAGE = RolloverEnrolment._meta.db_table
T_MAP = RolloverClassMap._meta.db_table
ACTIVE_SQL = ", ".join(f"'{s}'" for s in ACTIVE_STATUSES)


def marker(run: RolloverRun) -> str:
    """The note on status-history rows a run writes, so its undo finds exactly those rows."""
    return f"rollover#{run.pk}"


# --- class names and years ------------------------------------------------------------------

_NUMBER = re.compile(r"\d+")


def derive_class_name(name: str, grade: int, new_grade: int) -> tuple[str, bool]:
    """Next year's name of a class: the grade number in the name moves on ("3A" → "4A",
    "10A2" → "11A2", "Lớp 6/1" → "Lớp 7/1"). Returns (name, derived); when the name holds no
    grade number the new grade is prefixed and ``derived`` is False, so the preview can say so.
    """
    for match in _NUMBER.finditer(name):
        if int(match.group()) == grade:
            return name[: match.start()] + str(new_grade) + name[match.end() :], True
    return f"{new_grade}{name}", False


def _shift_year(d: date) -> date:
    try:
        return d.replace(year=d.year + 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year + 1, day=28)


def next_year_values(from_year: SchoolYear) -> dict:
    """Code, start year and dates of the school year after ``from_year`` (same calendar)."""
    start = from_year.start_year + 1
    return {
        "code": f"{start}-{start + 1}",
        "start_year": start,
        "starts_on": _shift_year(from_year.starts_on),
        "ends_on": _shift_year(from_year.ends_on),
    }


def school_ids_in(scope: Organisation):
    """Sub-query: the schools at or under ``scope`` (the closure table, one join)."""
    return OrgClosure.objects.filter(
        ancestor_id=scope.pk, descendant__kind=Organisation.Kind.SCHOOL
    ).values("descendant_id")


# --- analysis (preview) ---------------------------------------------------------------------


@dataclass
class Check:
    code: str
    count: int
    message: str  # Vietnamese, for pages
    message_en: str  # English, beside it in CLI and API errors
    blocking: bool = True

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "count": self.count,
            "message": self.message,
            "message_en": self.message_en,
            "blocking": self.blocking,
        }


@dataclass
class SourceClass:
    id: int
    school_id: int
    grade: int
    name: str
    province_code: str
    two_sessions: bool
    last_grade: int
    promote: int = 0
    repeat: int = 0
    graduate: int = 0
    promote_key: tuple | None = None
    repeat_key: tuple | None = None


@dataclass
class Analysis:
    scope: Organisation
    from_year: SchoolYear
    to_year: SchoolYear | None
    to_year_code: str
    counts: dict = field(default_factory=dict)
    classes: dict[int, SourceClass] = field(default_factory=dict)
    # (school_id, name) → grade for every new-year class the pupils go to, and which exist.
    targets: dict[tuple, int] = field(default_factory=dict)
    existing: dict[tuple, tuple[int, int]] = field(default_factory=dict)  # key → (id, grade)
    school_ids: list[int] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def blocking(self) -> list[Check]:
        return [c for c in self.checks if c.blocking]

    @property
    def to_move(self) -> int:
        return self.counts["promoted"] + self.counts["repeating"] + self.counts["graduated"]

    def classes_by_grade(self) -> list[dict]:
        create: dict[int, int] = defaultdict(int)
        reuse: dict[int, int] = defaultdict(int)
        for key, grade in self.targets.items():
            if key in self.existing:
                reuse[grade] += 1
            else:
                create[grade] += 1
        return [
            {"grade": g, "create": create[g], "reuse": reuse[g]}
            for g in sorted(set(create) | set(reuse))
        ]

    def as_dict(self) -> dict:
        return {
            "scope": {"id": self.scope.pk, "code": self.scope.code, "name": self.scope.name},
            "from_year": self.from_year.code,
            "to_year": self.to_year_code,
            "to_year_exists": self.to_year is not None,
            "schools": len(self.school_ids),
            "counts": dict(self.counts),
            "classes": self.classes_by_grade(),
            "classes_to_create": sum(1 for k in self.targets if k not in self.existing),
            "checks": [c.as_dict() for c in self.checks],
            "ok": not self.blocking,
        }


def analyse(*, scope: Organisation, from_year: SchoolYear) -> Analysis:
    """Count what a rollover of ``scope`` from ``from_year`` would do, and what blocks it."""
    nxt = next_year_values(from_year)
    to_year = SchoolYear.objects.filter(start_year=nxt["start_year"]).first()
    result = Analysis(scope=scope, from_year=from_year, to_year=to_year, to_year_code=nxt["code"])
    schools = school_ids_in(scope)
    active = Enrolment.objects.filter(
        school_year=from_year, status__in=ACTIVE_STATUSES, school_id__in=schools
    )
    rows = (
        active.annotate(ys=FilteredRelation("summaries", condition=Q(summaries__period="year")))
        .values("school_class_id", outcome=F("ys__outcome"))
        .annotate(n=Count("id"))
        .order_by()
    )
    per_class: dict[int, dict[str, int]] = defaultdict(dict)
    for row in rows:
        per_class[row["school_class_id"]][row["outcome"] or ""] = row["n"]

    counts = dict.fromkeys(
        ("promoted", "repeating", "graduated", "missing_outcome", "pending_reassessment"), 0
    )
    class_rows = SchoolClass.objects.filter(id__in=list(per_class)).values(
        "id", "school_id", "grade", "name", "province_code", "two_sessions", "school__level"
    )
    names_guessed = 0
    for c in class_rows:
        last = Organisation.LEVEL_GRADES.get(c["school__level"], (0, 12))[1]
        src = SourceClass(
            id=c["id"],
            school_id=c["school_id"],
            grade=c["grade"],
            name=c["name"],
            province_code=c["province_code"],
            two_sessions=c["two_sessions"],
            last_grade=last,
        )
        for outcome, n in per_class[c["id"]].items():
            if outcome == "repeat":
                src.repeat += n
            elif outcome in ("promoted", "completed_level"):
                if src.grade >= last:
                    src.graduate += n
                else:
                    src.promote += n
            elif outcome == "reassess":
                counts["pending_reassessment"] += n
            else:
                counts["missing_outcome"] += n
        counts["promoted"] += src.promote
        counts["repeating"] += src.repeat
        counts["graduated"] += src.graduate
        result.classes[src.id] = src
        result.school_ids.append(src.school_id)
    result.school_ids = sorted(set(result.school_ids))
    counts["left"] = Enrolment.objects.filter(
        school_year=from_year, status__in=LEFT_STATUSES, school_id__in=schools
    ).count()
    counts["active"] = sum(sum(v.values()) for v in per_class.values())
    result.counts = counts

    # The class plan, and its clashes: one name meaning two grades in one school and year.
    clashes = 0
    for src in result.classes.values():
        if src.promote:
            name, derived = derive_class_name(src.name, src.grade, src.grade + 1)
            names_guessed += not derived
            src.promote_key = (src.school_id, name)
            if result.targets.setdefault(src.promote_key, src.grade + 1) != src.grade + 1:
                clashes += 1
        if src.repeat:
            src.repeat_key = (src.school_id, src.name)
            if result.targets.setdefault(src.repeat_key, src.grade) != src.grade:
                clashes += 1
    if to_year is not None and result.targets:
        for cid, school_id, name, grade in SchoolClass.objects.filter(
            school_year=to_year, school_id__in=result.school_ids
        ).values_list("id", "school_id", "name", "grade"):
            key = (school_id, name)
            if key in result.targets:
                result.existing[key] = (cid, grade)
                if result.targets[key] != grade:
                    clashes += 1

    checks = result.checks
    if counts["missing_outcome"]:
        n = counts["missing_outcome"]
        checks.append(
            Check(
                "missing_outcome",
                n,
                _(
                    "%(n)s học sinh chưa có kết quả cuối năm (lên lớp / ở lại lớp / hoàn thành "
                    "cấp học). Hãy nhập kết quả tổng hợp cả năm trước khi kết chuyển."
                )
                % {"n": n},
                f"{n} pupils have no year outcome (promoted / repeat / completed level); "
                "record the year summary before the rollover.",
            )
        )
    if counts["pending_reassessment"]:
        n = counts["pending_reassessment"]
        checks.append(
            Check(
                "pending_reassessment",
                n,
                _(
                    "%(n)s học sinh đang chờ kiểm tra lại hoặc rèn luyện hè; hãy ghi kết quả "
                    "sau hè (lên lớp hoặc ở lại lớp)."
                )
                % {"n": n},
                f"{n} pupils still await summer re-assessment; record their final outcome.",
            )
        )
    claimed = RolloverSchool.objects.filter(
        active=True, from_year=from_year, school_id__in=schools
    ).count()
    if claimed:
        checks.append(
            Check(
                "already_rolled_over",
                claimed,
                _(
                    "%(n)s trường trong phạm vi này đã được kết chuyển từ năm học %(year)s. "
                    "Hãy hoàn tác lần kết chuyển đó trước nếu muốn chạy lại."
                )
                % {"n": claimed, "year": from_year.code},
                f"{claimed} schools in this scope were already rolled over from "
                f"{from_year.code}; undo that run first to run it again.",
            )
        )
    elif counts["active"] == 0:
        checks.append(
            Check(
                "nothing_to_do",
                0,
                _("Không có học sinh đang học nào trong năm học %(year)s ở phạm vi này.")
                % {"year": from_year.code},
                f"No pupil is studying in {from_year.code} in this scope.",
            )
        )
    if clashes:
        checks.append(
            Check(
                "class_shape",
                clashes,
                _(
                    "%(n)s lớp của năm học %(year)s trùng tên nhưng khác khối với lớp sẽ tạo. "
                    "Hãy đổi tên các lớp đó trước khi kết chuyển."
                )
                % {"n": clashes, "year": result.to_year_code},
                f"{clashes} classes of {result.to_year_code} have the name of a class to "
                "create but another grade; rename them first.",
            )
        )
    if to_year is not None and counts["active"]:
        moving = active.filter(summaries__period="year", summaries__outcome__in=FINAL_OUTCOMES)
        enrolled = moving.filter(
            Exists(
                Enrolment.objects.filter(
                    pupil_id=OuterRef("pupil_id"),
                    school_year=to_year,
                    status__in=ACTIVE_STATUSES,
                )
            )
        ).count()
        if enrolled:
            checks.append(
                Check(
                    "already_enrolled",
                    enrolled,
                    _(
                        "%(n)s học sinh đã có lớp đang học trong năm học %(year)s. Hãy kiểm tra "
                        "các trường hợp chuyển trường trước khi kết chuyển."
                    )
                    % {"n": enrolled, "year": to_year.code},
                    f"{enrolled} pupils already have an active class in {to_year.code}; "
                    "check these transfers first.",
                )
            )
        codes = (
            moving.exclude(pupil_code="")
            .filter(
                Exists(
                    Enrolment.objects.filter(
                        school_id=OuterRef("school_id"),
                        school_year=to_year,
                        pupil_code=OuterRef("pupil_code"),
                    )
                )
            )
            .count()
        )
        if codes:
            checks.append(
                Check(
                    "pupil_code_taken",
                    codes,
                    _("%(n)s mã học sinh đã được dùng cho học sinh khác trong năm học %(year)s.")
                    % {"n": codes, "year": to_year.code},
                    f"{codes} pupil codes are already used by other pupils in {to_year.code}.",
                )
            )
    if to_year is None:
        checks.append(
            Check(
                "year_created",
                0,
                _("Năm học %(year)s chưa có và sẽ được tạo (%(start)s – %(end)s).")
                % {
                    "year": nxt["code"],
                    "start": nxt["starts_on"].strftime("%d/%m/%Y"),
                    "end": nxt["ends_on"].strftime("%d/%m/%Y"),
                },
                f"School year {nxt['code']} does not exist and will be created.",
                blocking=False,
            )
        )
    if names_guessed:
        checks.append(
            Check(
                "class_names_guessed",
                names_guessed,
                _(
                    "Tên của %(n)s lớp không chứa số khối; lớp mới được đặt tên bằng cách thêm "
                    "số khối vào trước tên cũ."
                )
                % {"n": names_guessed},
                f"{names_guessed} class names hold no grade number; the new grade is prefixed.",
                blocking=False,
            )
        )
    return result


# --- preview as a job -----------------------------------------------------------------------

PREVIEW_KIND = "registry.rollover_preview"


def preview_execute(job_id) -> dict:
    """Compute a preview job's analysis (on the worker) into ``job.result``; see
    ``rollover_actions.rollover_preview_start``. A job already taken is left alone."""
    from django.utils import translation

    now = timezone.now()
    if not Job.objects.filter(pk=job_id, kind=PREVIEW_KIND, status=Job.Status.PENDING).update(
        status=Job.Status.RUNNING, started_at=now
    ):
        return {"skipped": True}
    job = Job.objects.get(pk=job_id)
    try:
        scope = Organisation.objects.get(pk=job.params["scope_id"])
        from_year = SchoolYear.objects.get(pk=job.params["from_year_id"])
        with translation.override(job.params.get("lang") or None):
            result = analyse(scope=scope, from_year=from_year).as_dict()
    except Exception as exc:
        Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(
            status=Job.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(
        status=Job.Status.SUCCEEDED, result=result, done=1, total=1, finished_at=timezone.now()
    )
    return {"ok": result["ok"]}


# --- plan -----------------------------------------------------------------------------------


def plan(run: RolloverRun) -> None:
    """Create the new-year classes and the class map, once (one transaction)."""
    with transaction.atomic():
        run = RolloverRun.objects.select_for_update().get(pk=run.pk)
        if run.planned:
            return
        analysis = analyse(scope=run.scope, from_year=run.from_year)
        by_key = {k: cid for k, (cid, _grade) in analysis.existing.items()}
        template: dict[tuple, SourceClass] = {}
        for src in analysis.classes.values():
            for key in (src.promote_key, src.repeat_key):
                if key is not None and key not in by_key:
                    template.setdefault(key, src)
        new_classes = [
            SchoolClass(
                school_id=key[0],
                school_year=run.to_year,
                grade=analysis.targets[key],
                name=key[1],
                two_sessions=src.two_sessions,
                province_code=src.province_code,
            )
            for key, src in template.items()
        ]
        created = SchoolClass.objects.bulk_create(new_classes, batch_size=2_000)
        for key, cls in zip(template, created, strict=True):
            by_key[key] = cls.pk
        RolloverClass.objects.bulk_create(
            [RolloverClass(run=run, school_class_id=c.pk) for c in created], batch_size=5_000
        )
        RolloverClassMap.objects.bulk_create(
            [
                RolloverClassMap(
                    run=run,
                    source_class_id=src.id,
                    promote_to_id=by_key.get(src.promote_key) if src.promote_key else None,
                    repeat_to_id=by_key.get(src.repeat_key) if src.repeat_key else None,
                    is_last_grade=src.grade >= src.last_grade,
                )
                for src in analysis.classes.values()
            ],
            batch_size=5_000,
        )
        run.planned = True
        run.counts = {**run.counts, "classes_created": len(created)}
        run.save(update_fields=["planned", "counts"])
        Job.objects.filter(pk=run.job_id).update(total=analysis.to_move)


# --- execute --------------------------------------------------------------------------------


def _exec(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _scalar(sql: str, params: list):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def _dt(value):
    return connection.ops.adapt_datetimefield_value(value)


def _d(value):
    return connection.ops.adapt_datefield_value(value)


def _chunk(run: RolloverRun, *, chunk_size: int, actor_id: int | None) -> int:
    """Move the next ``chunk_size`` pupils; returns how many were moved (0 when finished)."""
    now = timezone.now()
    to_year, from_year = run.to_year, run.from_year
    lo = run.cursor
    # Stage: who, what happens to them, where they go, and the values to restore on undo.
    # Table names are model constants, values are parameters.
    staged = _exec(
        f"""
        INSERT INTO {T_STAGE} (run_id, old_enrolment_id, pupil_id, action, target_class_id,
                               new_enrolment_id, old_status, old_ended_on, old_updated_at)
        SELECT %s, e.id, e.pupil_id,
               CASE WHEN s.outcome = 'repeat' THEN 'repeat'
                    WHEN m.is_last_grade THEN 'graduate' ELSE 'promote' END,
               CASE WHEN s.outcome = 'repeat' THEN m.repeat_to_id
                    WHEN m.is_last_grade THEN NULL ELSE m.promote_to_id END,
               NULL, e.status, e.ended_on, e.updated_at
        FROM {T_ENROLMENT} e
        JOIN {T_MAP} m ON m.run_id = %s AND m.source_class_id = e.school_class_id
        JOIN {T_SUMMARY} s ON s.enrolment_id = e.id AND s.period = 'year'
        WHERE e.id > %s AND e.school_year_id = %s AND e.status IN ({ACTIVE_SQL})
          AND s.outcome IN ('promoted', 'repeat', 'completed_level')
        ORDER BY e.id
        LIMIT %s
        """,  # noqa: S608
        [run.pk, run.pk, lo, from_year.pk, chunk_size],
    )
    if not staged:
        return 0
    hi = _scalar(
        f"SELECT MAX(old_enrolment_id) FROM {T_STAGE} WHERE run_id = %s",  # noqa: S608
        [run.pk],
    )
    in_chunk = "r.run_id = %s AND r.old_enrolment_id > %s AND r.old_enrolment_id <= %s"
    chunk_params = [run.pk, lo, hi]
    stamp = _dt(now)
    mark = marker(run)
    # New enrolments: promoted ones "studying", repeaters "repeating"; the school's pupil code
    # goes with the pupil.
    _exec(
        f"""
        INSERT INTO {T_ENROLMENT} (pupil_id, school_class_id, school_id, school_year_id,
                                   pupil_code, status, started_on, ended_on, province_code,
                                   created_at, updated_at)
        SELECT r.pupil_id, r.target_class_id, c.school_id, %s, e.pupil_code,
               CASE WHEN r.action = 'repeat' THEN 'repeating' ELSE 'studying' END,
               %s, NULL, c.province_code, %s, %s
        FROM {T_STAGE} r
        JOIN {T_ENROLMENT} e ON e.id = r.old_enrolment_id
        JOIN {T_CLASS} c ON c.id = r.target_class_id
        WHERE {in_chunk} AND r.action IN ('promote', 'repeat')
        """,  # noqa: S608
        [to_year.pk, _d(to_year.starts_on), stamp, stamp, *chunk_params],
    )
    _exec(
        f"""
        UPDATE {T_STAGE} SET new_enrolment_id = (
            SELECT n.id FROM {T_ENROLMENT} n
            WHERE n.pupil_id = {T_STAGE}.pupil_id AND n.school_year_id = %s
              AND n.status IN ({ACTIVE_SQL}))
        WHERE run_id = %s AND old_enrolment_id > %s AND old_enrolment_id <= %s
          AND action IN ('promote', 'repeat')
        """,  # noqa: S608
        [to_year.pk, *chunk_params],
    )
    _exec(
        f"""
        INSERT INTO {T_CHANGE} (enrolment_id, status, effective_on, note, recorded_at,
                                recorded_by_id)
        SELECT r.new_enrolment_id,
               CASE WHEN r.action = 'repeat' THEN 'repeating' ELSE 'studying' END,
               %s, %s, %s, %s
        FROM {T_STAGE} r WHERE {in_chunk} AND r.new_enrolment_id IS NOT NULL
        """,  # noqa: S608
        [_d(to_year.starts_on), mark, stamp, actor_id, *chunk_params],
    )
    # Close the old enrolments at the end of the year (never before they started).
    end = _d(from_year.ends_on)
    for action, status in (("graduate", "graduated"), ("promote", "completed")):
        actions = "('graduate')" if action == "graduate" else "('promote', 'repeat')"
        _exec(
            f"""
            UPDATE {T_ENROLMENT}
            SET status = %s, updated_at = %s,
                ended_on = CASE WHEN started_on > %s THEN started_on ELSE %s END
            WHERE id IN (SELECT r.old_enrolment_id FROM {T_STAGE} r
                         WHERE {in_chunk} AND r.action IN {actions})
            """,  # noqa: S608
            [status, stamp, end, end, *chunk_params],
        )
    _exec(
        f"""
        INSERT INTO {T_CHANGE} (enrolment_id, status, effective_on, note, recorded_at,
                                recorded_by_id)
        SELECT r.old_enrolment_id,
               CASE WHEN r.action = 'graduate' THEN 'graduated' ELSE 'completed' END,
               %s, %s, %s, %s
        FROM {T_STAGE} r WHERE {in_chunk}
        """,  # noqa: S608
        [end, mark, stamp, actor_id, *chunk_params],
    )
    RolloverRun.objects.filter(pk=run.pk).update(cursor=hi, applied_until=now)
    Job.objects.filter(pk=run.job_id).update(done=F("done") + staged)
    run.cursor = hi
    return staged


def _finish_counts(run: RolloverRun) -> dict:
    by_action = dict(
        RolloverEnrolment.objects.filter(run=run)
        .values_list("action")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        **run.counts,
        "promoted": by_action.get("promote", 0),
        "repeating": by_action.get("repeat", 0),
        "graduated": by_action.get("graduate", 0),
        "classes_created": RolloverClass.objects.filter(run=run).count(),
    }


# --- who holds a run -----------------------------------------------------------------------
#
# A run is worked on by at most one executor (a worker, the CLI) or one undo at a time. Every
# status change is a compare-and-set: ``UPDATE … SET status, executor = <fresh token> WHERE
# status IN (<allowed>)``, which exactly one of two racing callers wins. The winner holds the
# token; each chunk transaction begins by touching the run row with that token (the UPDATE also
# locks the row until the chunk commits), so an executor that has lost the run stops at its next
# chunk, and only the holder marks the run FAILED, SUCCEEDED or UNDONE.

STALE_AFTER = timedelta(minutes=30)
CLAIMABLE = (RolloverRun.Status.PENDING, RolloverRun.Status.FAILED)
UNDOABLE = (RolloverRun.Status.SUCCEEDED, RolloverRun.Status.FAILED)


class RolloverBusy(ValidationError):
    """The run is held by someone else or has finished: refused, nothing was changed."""


class RolloverLost(RolloverBusy):
    """The executor no longer holds the run (the operator took a stale run over)."""


def refusal(status: str) -> RolloverBusy:
    """Why a run in ``status`` cannot be run (or undone) now, in Vietnamese and English."""
    s = RolloverRun.Status
    if status in (s.RUNNING, s.PENDING):
        vi = _("Lần kết chuyển này đang được chạy; hãy chờ nó kết thúc.")
        en = "This rollover is already being run; wait until it has finished."
        code = "running"
    elif status == s.UNDOING:
        vi = _("Lần kết chuyển này đang được hoàn tác.")
        en = "This rollover is being undone."
        code = "undoing"
    elif status == s.UNDONE:
        vi = _("Lần kết chuyển này đã được hoàn tác.")
        en = "This rollover was already undone."
        code = "already_undone"
    else:
        vi = _("Lần kết chuyển này đã kết thúc.")
        en = "This rollover has already finished."
        code = "finished"
    return RolloverBusy(f"{vi} / {en}", code=code)


def claim(
    run_id: int, *, allowed: tuple, to: str, takeover: bool = False
) -> tuple[str | None, str]:
    """Compare-and-set the run's status from ``allowed`` to ``to`` with a fresh token.

    ``takeover`` (the operator only) also wins a run already in ``to`` whose holder has not
    written a heartbeat for ``STALE_AFTER`` (its worker died). Returns (token or None, the
    status before).
    """
    token = uuid.uuid4().hex
    now = timezone.now()
    cond = Q(status__in=allowed)
    if takeover:
        cond |= Q(status=to) & (
            Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - STALE_AFTER)
        )
    before = RolloverRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
    won = RolloverRun.objects.filter(cond, pk=run_id).update(
        status=to, executor=token, heartbeat_at=now
    )
    return (token if won == 1 else None), before or ""


def hold(run: RolloverRun, token: str, status: str) -> None:
    """Inside a transaction: lock the run row if ``token`` still holds it, else stop."""
    held = RolloverRun.objects.filter(pk=run.pk, status=status, executor=token).update(
        heartbeat_at=timezone.now()
    )
    if held != 1:
        raise RolloverLost(
            _("Lần kết chuyển đã được một tiến trình khác tiếp quản.")
            + " / Another process has taken this rollover over.",
            code="lost",
        )


def execute(
    run: RolloverRun,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
    takeover: bool = False,
) -> RolloverRun:
    """Run (or resume) a rollover to the end; the job shows progress; failures are recorded.

    Refused (``RolloverBusy``) unless this call wins the run from PENDING or FAILED.
    """
    run = RolloverRun.objects.select_related("job", "scope", "from_year", "to_year").get(pk=run.pk)
    if run.status in (RolloverRun.Status.SUCCEEDED, RolloverRun.Status.UNDONE):
        return run
    job = run.job
    now = timezone.now()
    with transaction.atomic():
        token, before = claim(
            run.pk, allowed=CLAIMABLE, to=RolloverRun.Status.RUNNING, takeover=takeover
        )
        if token is None:
            raise refusal(before)
        job_from = [Job.Status.PENDING, Job.Status.FAILED]
        if takeover:
            job_from.append(Job.Status.RUNNING)
        Job.objects.filter(pk=job.pk, status__in=job_from).update(
            status=Job.Status.RUNNING, started_at=job.started_at or now, error=""
        )
    RUNNING = RolloverRun.Status.RUNNING
    try:
        with transaction.atomic():
            hold(run, token, RUNNING)
            plan(run)
        run.refresh_from_db()
        total = Job.objects.values_list("total", flat=True).get(pk=job.pk)
        done = Job.objects.values_list("done", flat=True).get(pk=job.pk)
        while True:
            with transaction.atomic():
                hold(run, token, RUNNING)
                moved = _chunk(run, chunk_size=chunk_size, actor_id=run.created_by_id)
            if not moved:
                break
            done += moved
            if progress:
                progress(done, total)
    except RolloverLost:
        raise  # the new holder owns the status now
    except Exception as exc:
        # Only the holder records the failure: a refused second executor never reaches here.
        with transaction.atomic():
            if RolloverRun.objects.filter(pk=run.pk, status=RUNNING, executor=token).update(
                status=RolloverRun.Status.FAILED
            ):
                Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
                    status=Job.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
                )
        raise
    with transaction.atomic():
        hold(run, token, RUNNING)
        counts = _finish_counts(run)
        RolloverRun.objects.filter(pk=run.pk, executor=token).update(
            status=RolloverRun.Status.SUCCEEDED, counts=counts
        )
        Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
            status=Job.Status.SUCCEEDED, finished_at=timezone.now(), result=counts
        )
        audit_record(
            actor=run.created_by,
            action="update",
            object_type="rollover",
            object_id=run.pk,
            detail={"phase": "done", "counts": counts},
        )
    run.refresh_from_db()
    return run


# --- undo -----------------------------------------------------------------------------------


def undo_problems(run: RolloverRun) -> list[Check]:
    """What has changed since the run, making an exact undo impossible (empty: safe to undo)."""
    problems: list[Check] = []
    applied = _dt(run.applied_until or run.created_at)
    new_changed = _scalar(
        f"""
        SELECT COUNT(*) FROM {T_STAGE} r LEFT JOIN {T_ENROLMENT} n ON n.id = r.new_enrolment_id
        WHERE r.run_id = %s AND r.new_enrolment_id IS NOT NULL
          AND (n.id IS NULL OR n.updated_at > %s OR n.school_class_id <> r.target_class_id
               OR n.status <> CASE WHEN r.action = 'repeat' THEN 'repeating' ELSE 'studying' END
               OR EXISTS (SELECT 1 FROM {T_CHANGE} h
                          WHERE h.enrolment_id = n.id AND h.note <> %s))
        """,  # noqa: S608
        [run.pk, applied, marker(run)],
    )
    if new_changed:
        problems.append(
            Check(
                "new_year_changed",
                new_changed,
                _(
                    "%(n)s hồ sơ học sinh của năm học mới đã được sửa hoặc đổi trạng thái sau "
                    "khi kết chuyển; không thể hoàn tác chính xác."
                )
                % {"n": new_changed},
                f"{new_changed} new-year enrolments were changed after the rollover; "
                "it cannot be undone exactly.",
            )
        )
    results = _scalar(
        f"""
        SELECT COUNT(*) FROM {T_STAGE} r
        WHERE r.run_id = %s AND r.new_enrolment_id IS NOT NULL
          AND (EXISTS (SELECT 1 FROM {T_RESULT} x WHERE x.enrolment_id = r.new_enrolment_id)
               OR EXISTS (SELECT 1 FROM {T_SUMMARY} y WHERE y.enrolment_id = r.new_enrolment_id))
        """,  # noqa: S608
        [run.pk],
    )
    if results:
        problems.append(
            Check(
                "new_year_results",
                results,
                _(
                    "Đã có kết quả học tập được ghi cho %(n)s học sinh trong năm học mới; "
                    "không thể hoàn tác kết chuyển."
                )
                % {"n": results},
                f"Results were recorded for {results} pupils in the new year; "
                "the rollover cannot be undone.",
            )
        )
    old_changed = _scalar(
        f"""
        SELECT COUNT(*) FROM {T_STAGE} r LEFT JOIN {T_ENROLMENT} o ON o.id = r.old_enrolment_id
        WHERE r.run_id = %s
          AND (o.id IS NULL OR o.updated_at > %s
               OR o.status <> CASE WHEN r.action = 'graduate' THEN 'graduated'
                                   ELSE 'completed' END)
        """,  # noqa: S608
        [run.pk, applied],
    )
    if old_changed:
        problems.append(
            Check(
                "old_year_changed",
                old_changed,
                _(
                    "%(n)s hồ sơ của năm học cũ đã được sửa sau khi kết chuyển; không thể hoàn "
                    "tác chính xác."
                )
                % {"n": old_changed},
                f"{old_changed} old-year enrolments were changed after the rollover; "
                "it cannot be undone exactly.",
            )
        )
    return problems


def _undo_chunk(run: RolloverRun, *, chunk_size: int) -> int:
    hi = _scalar(
        f"""SELECT old_enrolment_id FROM {T_STAGE} WHERE run_id = %s
            ORDER BY old_enrolment_id LIMIT 1 OFFSET %s""",  # noqa: S608
        [run.pk, chunk_size - 1],
    ) or _scalar(
        f"SELECT MAX(old_enrolment_id) FROM {T_STAGE} WHERE run_id = %s",  # noqa: S608
        [run.pk],
    )
    if hi is None:
        return 0
    sel = f"FROM {T_STAGE} r WHERE r.run_id = %s AND r.old_enrolment_id <= %s"
    p = [run.pk, hi]
    _exec(
        f"""DELETE FROM {T_CHANGE} WHERE enrolment_id IN
            (SELECT r.new_enrolment_id {sel} AND r.new_enrolment_id IS NOT NULL)""",  # noqa: S608
        p,
    )
    _exec(
        f"""DELETE FROM {T_ENROLMENT} WHERE id IN
            (SELECT r.new_enrolment_id {sel} AND r.new_enrolment_id IS NOT NULL)""",  # noqa: S608
        p,
    )
    _exec(
        f"""DELETE FROM {T_CHANGE} WHERE note = %s AND enrolment_id IN
            (SELECT r.old_enrolment_id {sel})""",  # noqa: S608
        [marker(run), *p],
    )
    restore = (
        f"(SELECT r.{{col}} FROM {T_STAGE} r WHERE r.run_id = %s "  # noqa: S608
        f"AND r.old_enrolment_id = {T_ENROLMENT}.id)"
    )
    _exec(
        f"""UPDATE {T_ENROLMENT}
            SET status = {restore.format(col="old_status")},
                ended_on = {restore.format(col="old_ended_on")},
                updated_at = {restore.format(col="old_updated_at")}
            WHERE id IN (SELECT r.old_enrolment_id {sel})""",  # noqa: S608
        [run.pk, run.pk, run.pk, *p],
    )
    n = _exec(
        f"DELETE FROM {T_STAGE} WHERE run_id = %s AND old_enrolment_id <= %s",  # noqa: S608
        p,
    )
    Job.objects.filter(pk=run.job_id).update(done=F("done") - n)
    return n


def undo(
    run: RolloverRun,
    *,
    actor,
    token: str,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
) -> dict:
    """Reverse what ``run`` did, chunk by chunk.

    The caller has checked ``undo_problems`` and won the run into UNDOING with ``token``
    (``rollover_actions.rollover_undo``); each chunk and the last step re-check that token.
    """
    UNDOING = RolloverRun.Status.UNDOING
    remaining = RolloverEnrolment.objects.filter(run=run).count()
    undone = 0
    while True:
        with transaction.atomic():
            hold(run, token, UNDOING)
            n = _undo_chunk(run, chunk_size=chunk_size)
        if not n:
            break
        undone += n
        if progress:
            progress(undone, remaining)
    with transaction.atomic():
        hold(run, token, UNDOING)
        created_ids = list(
            RolloverClass.objects.filter(run=run).values_list("school_class_id", flat=True)
        )
        RolloverClassMap.objects.filter(run=run).delete()
        RolloverClass.objects.filter(run=run).delete()
        deletable = (
            SchoolClass.objects.filter(id__in=created_ids, homeroom_teacher__isnull=True)
            .exclude(Exists(Enrolment.objects.filter(school_class_id=OuterRef("pk"))))
            .exclude(Exists(TeachingAssignment.objects.filter(school_class_id=OuterRef("pk"))))
        )
        deleted_classes = len(deletable.values_list("id", flat=True))
        deletable.delete()
        RolloverSchool.objects.filter(run=run).update(active=False)
        year_removed = False
        to_year = run.to_year
        if (
            run.created_to_year
            and to_year is not None
            and not SchoolClass.objects.filter(school_year=to_year).exists()
            and not Enrolment.objects.filter(school_year=to_year).exists()
            and not to_year.terms.exists()
            and not RolloverRun.objects.filter(to_year=to_year)
            .exclude(pk=run.pk)
            .exclude(status=RolloverRun.Status.UNDONE)
            .exists()
        ):
            RolloverRun.objects.filter(to_year=to_year).update(to_year=None)
            to_year.delete()
            year_removed = True
        counts = {
            "enrolments_restored": undone,
            "classes_deleted": deleted_classes,
            "classes_kept": len(created_ids) - deleted_classes,
            "year_removed": year_removed,
        }
        now = timezone.now()
        RolloverRun.objects.filter(pk=run.pk).update(
            status=RolloverRun.Status.UNDONE,
            undone_at=now,
            counts={**run.counts, "undo": counts},
        )
        Job.objects.filter(pk=run.job_id, status=Job.Status.RUNNING).update(
            status=Job.Status.UNDONE, done=0
        )
        audit_record(
            actor=actor,
            action="delete",
            object_type="rollover",
            object_id=run.pk,
            detail={"phase": "undo", "counts": counts},
        )
    return counts
