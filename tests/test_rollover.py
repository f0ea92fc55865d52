"""Year-end rollover: preview, run, undo, checks, scope, CLI, pages, and a timed larger run."""

import time
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.urls import reverse

from vnemis.core.audit import audit_verify
from vnemis.core.models import AuditEntry, Job
from vnemis.orgs.models import User
from vnemis.registry import rollover as engine
from vnemis.registry.models import (
    ACTIVE_STATUSES,
    Enrolment,
    EnrolmentStatusChange,
    Ethnicity,
    Person,
    ResultSummary,
    SchoolClass,
    SchoolYear,
    Subject,
    SubjectResult,
)
from vnemis.registry.models_rollover import RolloverRun
from vnemis.registry.rollover_actions import (
    RolloverBlocked,
    rollover_preview,
    rollover_run,
    rollover_undo,
)

_seq = iter(range(1, 10**9))


def _bulk_class(school, year, grade, name, outcomes):
    """A class with one pupil per outcome ("" = no outcome; "left:<status>" = left the school).

    Built with bulk_create so the larger tests stay quick; returns the enrolments.
    """
    cls, _ = SchoolClass.objects.get_or_create(
        school=school,
        school_year=year,
        name=name,
        defaults={"grade": grade, "province_code": school.province.code},
    )
    eth = Ethnicity.objects.get(code="01")
    persons = []
    for _outcome in outcomes:
        n = next(_seq)
        persons.append(
            Person(
                education_id=f"T{n:011d}",
                full_name=f"Nguyễn Văn {n}",
                family_name="Nguyễn",
                middle_name="Văn",
                given_name=str(n),
                name_search=f"nguyen van {n}",
                birth_date=date(2025 - 6 - grade, 1, 1) + timedelta(days=n % 300),
                sex="M",
                ethnicity=eth,
                province_code=school.province.code,
            )
        )
    persons = Person.objects.bulk_create(persons)
    enrolments = []
    for person, outcome in zip(persons, outcomes, strict=True):
        status = outcome.split(":", 1)[1] if outcome.startswith("left:") else "studying"
        enrolments.append(
            Enrolment(
                pupil=person,
                school_class=cls,
                school=school,
                school_year=year,
                pupil_code=f"HS{person.pk}",
                status=status,
                started_on=year.starts_on,
                ended_on=date(2026, 1, 10) if status != "studying" else None,
                province_code=cls.province_code,
            )
        )
    enrolments = Enrolment.objects.bulk_create(enrolments)
    EnrolmentStatusChange.objects.bulk_create(
        EnrolmentStatusChange(enrolment=e, status="studying", effective_on=year.starts_on)
        for e in enrolments
    )
    ResultSummary.objects.bulk_create(
        ResultSummary(
            enrolment=e,
            period="year",
            outcome=o,
            learning_rating="D",
            conduct_rating="T",
            province_code=cls.province_code,
        )
        for e, o in zip(enrolments, outcomes, strict=True)
        if o and not o.startswith("left:")
    )
    return enrolments


PROMOTE, REPEAT, DONE = "promoted", "repeat", "completed_level"


@pytest.fixture
def school_a(tree, school_year):
    """Primary school A, grades 1–5, with every kind of outcome."""
    a = tree["a"]
    _bulk_class(a, school_year, 1, "1A", [PROMOTE] * 3 + [REPEAT])
    _bulk_class(a, school_year, 2, "2A", [PROMOTE] * 2)
    _bulk_class(a, school_year, 3, "3A", [PROMOTE] * 2 + ["left:dropped_out"])
    _bulk_class(a, school_year, 4, "4A", [PROMOTE] * 2 + ["left:transferred_out"])
    _bulk_class(a, school_year, 5, "5A", [DONE] * 3 + [PROMOTE, REPEAT])
    return a


@pytest.fixture
def ops(users):
    return users


def _rows(model):
    # change_seq is left out: an undo is itself a change the change feed must report.
    names = [f.attname for f in model._meta.concrete_fields if f.name != "change_seq"]
    return list(model.objects.order_by("id").values(*names))


def snapshot():
    """Everything a rollover may touch, in a comparable form."""
    return {
        "years": list(SchoolYear.objects.order_by("id").values()),
        "classes": _rows(SchoolClass),
        "enrolments": _rows(Enrolment),
        "history": list(EnrolmentStatusChange.objects.order_by("id").values()),
    }


def _run(actor, scope, year, **kw):
    return rollover_run(actor=actor, scope=scope, from_year=year, enqueue=False, **kw)


def test_class_names_derive():
    assert engine.derive_class_name("3A", 3, 4) == ("4A", True)
    assert engine.derive_class_name("10A2", 10, 11) == ("11A2", True)
    assert engine.derive_class_name("Lớp 6/1", 6, 7) == ("Lớp 7/1", True)
    assert engine.derive_class_name("A1", 3, 4) == ("4A1", False)


def test_preview_counts(ops, school_a, school_year):
    p = rollover_preview(actor=ops["school"], scope=school_a, from_year=school_year)
    # conftest's pupil "An" in 3A has no outcome: the run is blocked until it is recorded.
    assert p["counts"]["promoted"] == 9
    assert p["counts"]["repeating"] == 2
    assert p["counts"]["graduated"] == 4
    assert p["counts"]["left"] == 2
    assert p["counts"]["missing_outcome"] == 1
    assert p["to_year"] == "2026-2027" and not p["to_year_exists"]
    assert [(c["grade"], c["create"]) for c in p["classes"]] == [
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 1),
    ]
    codes = {c["code"]: c for c in p["checks"]}
    assert codes["missing_outcome"]["blocking"] and codes["missing_outcome"]["count"] == 1
    assert "chưa có kết quả cuối năm" in codes["missing_outcome"]["message"]
    assert not codes["year_created"]["blocking"]
    assert not p["ok"]


def _record_missing(pupils, school_year, outcome=PROMOTE):
    for e in Enrolment.objects.filter(school_year=school_year, summaries__isnull=True).exclude(
        status__in=["dropped_out", "transferred_out"]
    ):
        ResultSummary.objects.create(
            enrolment=e, period="year", outcome=outcome, province_code=e.province_code
        )


def test_missing_outcome_blocks_run(ops, school_a, school_year):
    before = snapshot()
    with pytest.raises(RolloverBlocked) as err:
        _run(ops["school"], school_a, school_year)
    assert err.value.checks[0].code == "missing_outcome"
    assert "1 pupils have no year outcome" in err.value.bilingual()[0]
    assert snapshot() == before
    assert not Job.objects.filter(kind=engine.JOB_KIND).exists()


def test_run_moves_everyone_and_undo_restores(ops, pupils, school_a, school_year):
    _record_missing(pupils, school_year)
    before = snapshot()
    old_active = {
        e.pupil_id: e
        for e in Enrolment.objects.filter(school=school_a, school_year=school_year).select_related(
            "school_class"
        )
    }
    seen = []
    job = _run(
        ops["school"],
        school_a,
        school_year,
        chunk_size=4,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert job.status == Job.Status.SUCCEEDED
    assert job.total == 16 and job.done == job.total  # 9 + 1 (An) promoted, 2 repeat, 4 grad
    assert seen[-1] == (16, 16) and len(seen) == 4
    new_year = SchoolYear.objects.get(code="2026-2027")
    assert new_year.starts_on == date(2026, 9, 5) and not new_year.is_current
    new = {
        e.pupil_id: e
        for e in Enrolment.objects.filter(school_year=new_year).select_related("school_class")
    }
    for pupil_id, old in old_active.items():
        old.refresh_from_db()
        outcome = old.summaries.filter(period="year").values_list("outcome", flat=True).first()
        grade, name = old.school_class.grade, old.school_class.name
        if old.status in ("dropped_out", "transferred_out"):
            assert pupil_id not in new  # left: not moved, not touched
            assert old.ended_on == date(2026, 1, 10)
        elif outcome == REPEAT:
            assert new[pupil_id].school_class.grade == grade
            assert new[pupil_id].school_class.name == name
            assert new[pupil_id].status == "repeating"
            assert old.status == "completed"
        elif grade == 5:
            assert pupil_id not in new
            assert old.status == "graduated" and old.ended_on == school_year.ends_on
            assert old.history.order_by("-id").first().status == "graduated"
        else:
            assert new[pupil_id].school_class.grade == grade + 1
            assert new[pupil_id].school_class.name == f"{grade + 1}A"
            assert new[pupil_id].status == "studying"
            assert new[pupil_id].pupil_code == old.pupil_code
            assert old.status == "completed" and old.ended_on == school_year.ends_on
            assert list(new[pupil_id].history.values_list("status", flat=True)) == ["studying"]
    # One active enrolment per pupil and year.
    dup = (
        Enrolment.objects.filter(status__in=ACTIVE_STATUSES)
        .values("pupil_id", "school_year_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not dup.exists()
    assert SchoolClass.objects.filter(school_year=new_year).count() == 5
    run = RolloverRun.objects.get(job=job)
    assert run.counts["promoted"] == 10 and run.counts["graduated"] == 4

    # A second run of the same scope is refused.
    with pytest.raises(RolloverBlocked) as err:
        _run(ops["school"], school_a, school_year)
    assert "already_rolled_over" in [c.code for c in err.value.checks]

    result = rollover_undo(actor=ops["school"], job=job, chunk_size=3)
    assert result["enrolments_restored"] == 16 and result["classes_deleted"] == 5
    assert result["year_removed"]
    assert snapshot() == before
    job.refresh_from_db()
    assert job.status == Job.Status.UNDONE
    with pytest.raises(ValidationError):
        rollover_undo(actor=ops["school"], job=job)

    # The audit log holds counts, never pupil identifiers, and its chain is intact.
    entries = list(AuditEntry.objects.filter(object_type="rollover").order_by("id"))
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert entries[1].detail["counts"]["graduated"] == 4
    assert list(audit_verify()) == []

    # After an undo the scope can be rolled over again.
    job2 = _run(ops["school"], school_a, school_year)
    assert job2.status == Job.Status.SUCCEEDED and job2.done == 16


def test_undo_refused_after_new_year_edit(ops, pupils, school_a, school_year):
    _record_missing(pupils, school_year)
    job = _run(ops["school"], school_a, school_year)
    new = Enrolment.objects.filter(school_year__code="2026-2027").first()
    subject = Subject.objects.create(
        code="TOAN_T", name_vi="Toán", name_en="Mathematics", assessment="score"
    )
    SubjectResult.objects.create(
        enrolment=new, subject=subject, period="term1", score=8, province_code="01"
    )
    after = snapshot()
    with pytest.raises(RolloverBlocked) as err:
        rollover_undo(actor=ops["school"], job=job)
    assert [c.code for c in err.value.checks] == ["new_year_results"]
    assert "kết quả học tập" in err.value.checks[0].message
    assert snapshot() == after

    SubjectResult.objects.all().delete()
    other = Enrolment.objects.filter(school_year__code="2026-2027").last()
    other.status = "dropped_out"
    other.ended_on = date(2026, 10, 1)
    other.save()
    with pytest.raises(RolloverBlocked) as err:
        rollover_undo(actor=ops["school"], job=job)
    assert [c.code for c in err.value.checks] == ["new_year_changed"]


def test_scope_school_cannot_roll_other_school(ops, pupils, school_a, school_year, tree):
    _record_missing(pupils, school_year)
    before = snapshot()
    for actor in (ops["school_c"], ops["teacher"], ops["citizen"], ops["department_dn"]):
        with pytest.raises(PermissionDenied):
            rollover_preview(actor=actor, scope=school_a, from_year=school_year)
        with pytest.raises(PermissionDenied):
            _run(actor, school_a, school_year)
    with pytest.raises(PermissionDenied):  # a school cannot act for its Department
        _run(ops["school"], tree["so_hn"], school_year)
    assert snapshot() == before
    assert not Job.objects.filter(kind=engine.JOB_KIND).exists()


def test_department_rolls_over_all_its_schools(ops, pupils, school_a, school_year, tree):
    b = tree["b"]  # lower secondary, grades 6–9
    _bulk_class(b, school_year, 9, "9A1", [PROMOTE] * 2 + [DONE, REPEAT])
    _bulk_class(b, school_year, 6, "6A1", [PROMOTE] * 3)
    _record_missing(pupils, school_year)
    p = rollover_preview(actor=ops["department"], scope=tree["so_hn"], from_year=school_year)
    assert p["schools"] == 2 and p["ok"]
    assert p["counts"]["graduated"] == 4 + 3  # A's grade 5 + B's grade 9
    assert p["counts"]["promoted"] == 10 + 3 + 1  # A, B's 6A1, Bình's 7B
    job = _run(ops["department"], tree["so_hn"], school_year)
    assert job.done == job.total == p["counts"]["promoted"] + 2 + 1 + 7
    names = set(
        SchoolClass.objects.filter(school=b, school_year__code="2026-2027").values_list(
            "name", "grade"
        )
    )
    assert names == {("7A1", 7), ("8B", 8), ("9A1", 9)}
    # School C (another Department) is untouched.
    assert not Enrolment.objects.filter(school=tree["c"], school_year__code="2026-2027").exists()
    # A school inside the Department can no longer run its own rollover for that year.
    with pytest.raises(RolloverBlocked):
        _run(ops["school"], school_a, school_year)


def test_existing_class_of_other_shape_blocks(ops, pupils, school_a, school_year):
    _record_missing(pupils, school_year)
    nxt = SchoolYear.objects.create(
        code="2026-2027", start_year=2026, starts_on=date(2026, 9, 5), ends_on=date(2027, 5, 31)
    )
    SchoolClass.objects.create(
        school=school_a, school_year=nxt, grade=1, name="2A", province_code="01"
    )
    # Same shape is reused, not created.
    same = SchoolClass.objects.create(
        school=school_a, school_year=nxt, grade=4, name="4A", province_code="01"
    )
    p = rollover_preview(actor=ops["school"], scope=school_a, from_year=school_year)
    assert [c["code"] for c in p["checks"] if c["blocking"]] == ["class_shape"]
    SchoolClass.objects.filter(name="2A", school_year=nxt).update(grade=2)
    p = rollover_preview(actor=ops["school"], scope=school_a, from_year=school_year)
    assert p["ok"] and p["classes_to_create"] == 3
    job = _run(ops["school"], school_a, school_year)
    assert same.enrolments.count() == 3  # 3A: two pupils and An
    rollover_undo(actor=ops["school"], job=job)
    # Classes that existed before the run stay; the year was not created by it either.
    assert SchoolClass.objects.filter(school_year=nxt).count() == 2
    assert SchoolYear.objects.filter(pk=nxt.pk).exists()


def test_pending_reassessment_blocks(ops, tree, school_year):
    _bulk_class(tree["c"], school_year, 2, "2A", [PROMOTE, "reassess"])
    p = rollover_preview(actor=ops["school_c"], scope=tree["c"], from_year=school_year)
    assert [c["code"] for c in p["checks"] if c["blocking"]] == [
        "missing_outcome",  # Cường (conftest) has none
        "pending_reassessment",
    ]


def test_cli_preview_run_undo(ops, pupils, school_a, school_year):
    _record_missing(pupils, school_year)
    out = StringIO()
    call_command("rollover", "preview", "--scope", school_a.code, "--from", "2025-2026", stdout=out)
    text = out.getvalue()
    assert "Promoted" in text and "Ready" in text
    out = StringIO()
    call_command("rollover", "run", "--scope", school_a.code, "--from", "2025-2026", stdout=out)
    job = Job.objects.get(kind=engine.JOB_KIND)
    assert job.status == Job.Status.SUCCEEDED
    assert str(job.pk) in out.getvalue()
    out = StringIO()
    call_command("rollover", "undo", "--job", str(job.pk), stdout=out)
    job.refresh_from_db()
    assert job.status == Job.Status.UNDONE


def test_cli_refuses_with_bilingual_message(ops, school_a, school_year):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="pupils have no year outcome"):
        call_command("rollover", "run", "--scope", school_a.code, "--from", "2025-2026")


def test_pages(client, ops, pupils, school_a, school_year, django_capture_on_commit_callbacks):
    _record_missing(pupils, school_year)
    client.force_login(ops["school"])
    url = reverse("rollover:preview")
    page = client.get(url, {"scope": school_a.code, "year": "2025-2026"})
    assert page.status_code == 200
    assert "Kết chuyển" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(reverse("rollover:run"), {"scope": school_a.code, "year": "2025-2026"})
    assert resp.status_code == 302
    job = Job.objects.get(kind=engine.JOB_KIND)
    assert resp["Location"] == reverse("rollover:job", args=[job.pk])
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED  # the immediate backend ran it on commit
    detail = client.get(resp["Location"])
    assert detail.status_code == 200 and "16" in detail.content.decode()
    partial = client.get(reverse("rollover:progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and "every 2s" not in partial.content.decode()
    # Another school's user can see neither the job nor undo it.
    other = User.objects.get(username="truong_c")
    client.force_login(other)
    assert client.get(resp["Location"]).status_code == 403
    assert client.post(reverse("rollover:undo", args=[job.pk])).status_code == 403
    client.force_login(ops["school"])
    resp = client.post(reverse("rollover:undo", args=[job.pk]))
    assert resp.status_code == 302
    job.refresh_from_db()
    assert job.status == Job.Status.UNDONE


def test_pages_need_login_and_post(client, ops, school_a, school_year):
    assert client.get(reverse("rollover:preview")).status_code == 302
    client.force_login(ops["school"])
    assert client.get(reverse("rollover:run")).status_code == 405


def test_larger_rollover_is_set_based(
    ops, tree, school_year, capsys, django_assert_max_num_queries
):
    """A few thousand pupils: timed into the test log; queries do not grow per pupil."""
    c = tree["c"]
    per_grade = 700
    for grade in range(1, 6):
        for k in range(per_grade // 35):
            outcomes = [PROMOTE] * 33 + [REPEAT, DONE]
            _bulk_class(c, school_year, grade, f"{grade}A{k + 1}", outcomes)
    ResultSummary.objects.create(
        enrolment=Enrolment.objects.get(pupil__full_name="Lê Văn Cường"),
        period="year",
        outcome=PROMOTE,
        province_code="48",
    )
    pupils = Enrolment.objects.filter(school=c).count()
    start = time.perf_counter()
    with django_assert_max_num_queries(250):
        job = _run(ops["school_c"], c, school_year, chunk_size=1000)
    seconds = time.perf_counter() - start
    assert job.done == job.total == pupils
    start = time.perf_counter()
    rollover_undo(actor=ops["school_c"], job=job, chunk_size=1000)
    undo_seconds = time.perf_counter() - start
    with capsys.disabled():
        print(
            f"\n[rollover {connection.vendor}] {pupils} pupils: run {seconds:.2f}s "
            f"({pupils / seconds:,.0f}/s), undo {undo_seconds:.2f}s"
        )


def test_failed_run_resumes_where_it_stopped(ops, pupils, school_a, school_year, monkeypatch):
    """A crash leaves whole chunks only; resuming finishes the job with the same result."""
    from vnemis.registry.rollover_actions import rollover_resume

    _record_missing(pupils, school_year)
    real_chunk = engine._chunk
    calls = {"n": 0}

    def flaky(run, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real_chunk(run, **kw)

    monkeypatch.setattr(engine, "_chunk", flaky)
    with pytest.raises(RuntimeError):
        _run(ops["school"], school_a, school_year, chunk_size=5)
    job = Job.objects.get(kind=engine.JOB_KIND)
    assert job.status == Job.Status.FAILED and "disk full" in job.error
    assert job.done == 10  # two whole chunks
    assert Enrolment.objects.filter(school_year__code="2026-2027").count() == 10  # no grads yet
    monkeypatch.setattr(engine, "_chunk", real_chunk)
    job = rollover_resume(actor=ops["school"], job=job, enqueue=False)
    assert job.status == Job.Status.SUCCEEDED and job.done == job.total == 16
    assert Enrolment.objects.filter(school_year__code="2026-2027").count() == 12


# --- one executor per run, one undo, human roles, large previews off the request -----------


def _progress_body(client, job):
    return client.get(reverse("rollover:progress", args=[job.pk])).content.decode()


def test_second_executor_is_refused_while_first_runs(client, ops, pupils, school_a, school_year):
    """A resume, a second worker and an undo during a run are all turned away; the run stays
    RUNNING (never FAILED, so no undo button) and the first executor finishes alone."""
    from vnemis.registry.rollover_actions import rollover_resume
    from vnemis.registry.tasks import rollover_execute

    _record_missing(pupils, school_year)
    client.force_login(ops["school"])
    seen = {}

    def during(done, total):
        if seen:
            return
        job = Job.objects.get(kind=engine.JOB_KIND)
        run = RolloverRun.objects.get(job=job)
        with pytest.raises(ValidationError) as err:
            rollover_resume(actor=ops["school"], job=job, enqueue=False)
        seen["resume"] = err.value
        with pytest.raises(engine.RolloverBusy):
            engine.execute(run)  # a second worker's task, same run
        seen["task"] = rollover_execute.call(run.pk)
        with pytest.raises(ValidationError) as err:
            rollover_undo(actor=ops["school"], job=job)
        seen["undo"] = err.value
        seen["status"] = RolloverRun.objects.get(pk=run.pk).status
        seen["page"] = _progress_body(client, job)

    job = _run(ops["school"], school_a, school_year, chunk_size=4, progress=during)
    assert seen["resume"].code == "running"
    assert "đang được chạy" in seen["resume"].messages[0]
    assert "already being run" in seen["resume"].messages[0]
    assert seen["task"]["skipped"] == "running"
    assert seen["undo"].code == "running"
    assert seen["status"] == RolloverRun.Status.RUNNING
    assert reverse("rollover:undo", args=[job.pk]) not in seen["page"]
    assert "every 2s" in seen["page"]
    assert job.status == Job.Status.SUCCEEDED and job.done == job.total == 16
    assert RolloverRun.objects.get(job=job).status == RolloverRun.Status.SUCCEEDED
    assert Enrolment.objects.filter(school_year__code="2026-2027").count() == 12


def test_resume_is_compare_and_set(ops, pupils, school_a, school_year, monkeypatch):
    """Resume wins a FAILED run only once; a RUNNING run is refused, whatever the caller."""
    from vnemis.registry.rollover_actions import rollover_resume

    _record_missing(pupils, school_year)
    real_chunk = engine._chunk
    monkeypatch.setattr(engine, "_chunk", lambda run, **kw: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        _run(ops["school"], school_a, school_year, chunk_size=5)
    monkeypatch.setattr(engine, "_chunk", real_chunk)
    job = Job.objects.get(kind=engine.JOB_KIND)
    run = RolloverRun.objects.get(job=job)
    assert run.status == RolloverRun.Status.FAILED and job.status == Job.Status.FAILED
    # A worker that had been told to run it claims it: FAILED → RUNNING exactly once.
    token, before = engine.claim(run.pk, allowed=engine.CLAIMABLE, to=RolloverRun.Status.RUNNING)
    assert token and before == RolloverRun.Status.FAILED
    again, _ = engine.claim(run.pk, allowed=engine.CLAIMABLE, to=RolloverRun.Status.RUNNING)
    assert again is None
    with pytest.raises(ValidationError, match="already being run"):
        rollover_resume(actor=ops["school"], job=job, enqueue=False)
    # A refused executor leaves the holder's status alone (it is not the one to mark FAILED).
    with pytest.raises(engine.RolloverBusy):
        engine.execute(run)
    assert RolloverRun.objects.get(pk=run.pk).status == RolloverRun.Status.RUNNING


def test_stale_run_taken_over_by_operator_only(ops, pupils, school_a, school_year):
    """A run whose worker died stays RUNNING; only the operator takes it over, and only once its
    heartbeat is old. The old executor, if it wakes up, stops without touching the status."""
    from django.utils import timezone

    from vnemis.registry.rollover_actions import rollover_resume

    _record_missing(pupils, school_year)
    seen = {}

    def during(done, total):
        if seen:
            return
        job = Job.objects.get(kind=engine.JOB_KIND)
        seen["job"] = job
        with pytest.raises(PermissionDenied):
            rollover_resume(actor=ops["school"], job=job, enqueue=False, takeover=True)
        with pytest.raises(ValidationError, match="already being run"):  # heartbeat is fresh
            rollover_resume(actor=None, job=job, enqueue=False, takeover=True)
        RolloverRun.objects.filter(job=job).update(
            heartbeat_at=timezone.now() - engine.STALE_AFTER - timedelta(minutes=1)
        )
        seen["taken"] = rollover_resume(actor=None, job=job, enqueue=False, takeover=True)

    with pytest.raises(engine.RolloverLost):
        _run(ops["school"], school_a, school_year, chunk_size=4, progress=during)
    job = seen["job"]
    job.refresh_from_db()
    assert seen["taken"].status == Job.Status.SUCCEEDED
    assert job.status == Job.Status.SUCCEEDED and job.done == job.total == 16
    assert RolloverRun.objects.get(job=job).status == RolloverRun.Status.SUCCEEDED
    assert Enrolment.objects.filter(school_year__code="2026-2027").count() == 12


def test_double_undo_is_refused(client, ops, pupils, school_a, school_year):
    """Undo locks the run and moves it to UNDOING first: a second undo (double POST) and a
    resume are refused while it works; the page shows no undo button meanwhile."""
    from vnemis.registry.rollover_actions import rollover_resume

    _record_missing(pupils, school_year)
    before = snapshot()
    job = _run(ops["school"], school_a, school_year)
    client.force_login(ops["school"])
    assert reverse("rollover:undo", args=[job.pk]) in _progress_body(client, job)
    seen = {}

    def during(done, total):
        if seen:
            return
        with pytest.raises(ValidationError) as err:
            rollover_undo(actor=ops["school"], job=job)
        seen["undo"] = err.value
        seen["post"] = client.post(reverse("rollover:undo", args=[job.pk]), follow=True)
        with pytest.raises(ValidationError) as err:
            rollover_resume(actor=ops["school"], job=job, enqueue=False)
        seen["resume"] = err.value
        seen["page"] = _progress_body(client, job)
        seen["status"] = RolloverRun.objects.get(job=job).status

    counts = rollover_undo(actor=ops["school"], job=job, chunk_size=3, progress=during)
    assert seen["status"] == RolloverRun.Status.UNDOING
    assert seen["undo"].code == "undoing" and "đang được hoàn tác" in seen["undo"].messages[0]
    assert seen["resume"].code == "undoing"
    assert "đang được hoàn tác" in seen["post"].content.decode()
    assert reverse("rollover:undo", args=[job.pk]) not in seen["page"]
    assert "Đang hoàn tác" in seen["page"]
    assert counts["enrolments_restored"] == 16
    assert snapshot() == before
    job.refresh_from_db()
    assert job.status == Job.Status.UNDONE
    assert [e.action for e in AuditEntry.objects.filter(object_type="rollover")].count(
        "delete"
    ) == 1


def test_failed_undo_goes_back_and_can_be_undone_again(
    ops, pupils, school_a, school_year, monkeypatch
):
    _record_missing(pupils, school_year)
    before = snapshot()
    job = _run(ops["school"], school_a, school_year)
    real = engine._undo_chunk
    calls = {"n": 0}

    def flaky(run, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("connection lost")
        return real(run, **kw)

    monkeypatch.setattr(engine, "_undo_chunk", flaky)
    with pytest.raises(RuntimeError):
        rollover_undo(actor=ops["school"], job=job, chunk_size=5)
    job.refresh_from_db()
    assert RolloverRun.objects.get(job=job).status == RolloverRun.Status.SUCCEEDED
    assert job.status == Job.Status.SUCCEEDED
    monkeypatch.setattr(engine, "_undo_chunk", real)
    rollover_undo(actor=ops["school"], job=job, chunk_size=5)
    assert snapshot() == before


def test_system_role_may_not_roll_over(client, ops, pupils, school_a, school_year):
    """API clients (SYSTEM role) write records but may not preview, run or undo a rollover."""
    _record_missing(pupils, school_year)
    system = ops["system"]  # scoped to school A
    assert system.scope_id == school_a.pk
    with pytest.raises(PermissionDenied):
        rollover_preview(actor=system, scope=school_a, from_year=school_year)
    with pytest.raises(PermissionDenied):
        _run(system, school_a, school_year)
    assert not Job.objects.filter(kind=engine.JOB_KIND).exists()
    job = _run(ops["school"], school_a, school_year)
    after = snapshot()
    with pytest.raises(PermissionDenied):
        rollover_undo(actor=system, job=job)
    client.force_login(system)
    query = {"scope": school_a.code, "year": "2025-2026"}
    assert client.get(reverse("rollover:preview"), query).status_code == 403
    assert client.post(reverse("rollover:run"), query).status_code == 403
    assert client.get(reverse("rollover:job", args=[job.pk])).status_code == 403
    assert client.get(reverse("rollover:progress", args=[job.pk])).status_code == 403
    assert client.post(reverse("rollover:undo", args=[job.pk])).status_code == 403
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="may not roll over"):
        call_command("rollover", "undo", "--job", str(job.pk), "--user", system.username)
    assert snapshot() == after
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert Job.objects.filter(kind=engine.JOB_KIND).count() == 1
    # A superuser (operator account) may.
    system.is_superuser = True
    system.save()
    p = rollover_preview(actor=system, scope=school_a, from_year=school_year)
    assert p["scope"]["code"] == school_a.code


def test_large_scope_preview_runs_as_a_job(
    client,
    ops,
    pupils,
    school_a,
    school_year,
    tree,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    """Above PREVIEW_INLINE_MAX_SCHOOLS the analysis never runs in the request: a preview job
    is queued and polled; a recent one is shown again; "refresh" queues a new one."""
    from vnemis.registry import rollover_actions

    _record_missing(pupils, school_year)
    monkeypatch.setattr(rollover_actions, "PREVIEW_INLINE_MAX_SCHOOLS", 1)
    real = engine.analyse
    calls = []
    monkeypatch.setattr(engine, "analyse", lambda **kw: calls.append(kw) or real(**kw))
    client.force_login(ops["department"])
    url = reverse("rollover:preview")
    query = {"scope": tree["so_hn"].code, "year": "2025-2026"}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        page = client.get(url, query)
    body = page.content.decode()
    assert page.status_code == 200 and calls == []  # nothing heavy in the request
    job = Job.objects.get(kind=engine.PREVIEW_KIND)
    poll = reverse("rollover:preview_job", args=[job.pk])
    assert poll in body and "every 2s" in body and "Chạy kết chuyển" not in body
    assert client.get(poll).content.decode().count("every 2s") == 1  # still pending

    for callback in callbacks:  # the worker picks the job up
        callback()
    assert len(calls) == 1
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.result["schools"] == 2
    partial = client.get(poll).content.decode()
    assert "every 2s" not in partial and "Chạy kết chuyển" in partial
    assert "refresh=1" in partial

    # Within PREVIEW_REUSE the finished job is shown again, to any user allowed on the scope.
    client.force_login(ops["ministry"])
    with django_capture_on_commit_callbacks(execute=True):
        body = client.get(url, query).content.decode()
    assert len(calls) == 1 and Job.objects.filter(kind=engine.PREVIEW_KIND).count() == 1
    assert "Chạy kết chuyển" in body
    # "Refresh" queues a new one, polled like the first.
    with django_capture_on_commit_callbacks(execute=True):
        body = client.get(url, {**query, "refresh": "1"}).content.decode()
    assert len(calls) == 2 and Job.objects.filter(kind=engine.PREVIEW_KIND).count() == 2
    fresh = Job.objects.filter(kind=engine.PREVIEW_KIND).exclude(pk=job.pk).get()
    assert fresh.pk != job.pk and fresh.status == Job.Status.SUCCEEDED
    assert reverse("rollover:preview_job", args=[fresh.pk]) in body
    assert (
        "Chạy kết chuyển"
        in client.get(reverse("rollover:preview_job", args=[fresh.pk])).content.decode()
    )

    # Outside the scope, or an API client: no preview job for you.
    for other in (ops["department_dn"], ops["system"], ops["school"]):
        client.force_login(other)
        assert client.get(poll).status_code == 403
    # A single school (under the threshold) stays inline.
    client.force_login(ops["school"])
    body = client.get(url, {"scope": school_a.code, "year": "2025-2026"}).content.decode()
    assert "Chạy kết chuyển" in body and len(calls) == 3
    assert Job.objects.filter(kind=engine.PREVIEW_KIND).count() == 2
