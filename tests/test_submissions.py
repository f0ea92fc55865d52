"""Period submissions: periods, completeness checks, the workflow, roles, locking, reminders,
the Department's and the Ministry's pages, the API and the ``vnemis periods`` command."""

import json
from datetime import date, timedelta

import pytest
from conftest import make_pupil
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from vnemis.core.models import AuditEntry
from vnemis.exchange import selectors_submissions as selectors
from vnemis.exchange import submissions as actions
from vnemis.exchange.models import Reminder, ReportingPeriod, Submission, SubmissionEvent
from vnemis.exchange.submission_checks import CHECKS, checks_run
from vnemis.exchange.submission_errors import SubmissionError
from vnemis.exchange.submission_reminders import submissions_remind
from vnemis.registry import actions as registry_actions
from vnemis.registry.models import (
    Enrolment,
    Ethnicity,
    ResultSummary,
    SchoolClass,
    StaffAssignment,
    Subject,
    SubjectResult,
    Term,
)

API = "/api/v1/submissions"
Status = Submission.Status


@pytest.fixture
def periods(users, school_year):
    """The three periods of 2025-2026 (all open and past due on the machine's 2026 clock)."""
    made = actions.reporting_periods_create(school_year=school_year, actor=users["ministry"])
    return {p.kind: p for p in made}


def start(periods):
    return periods[ReportingPeriod.Kind.START_OF_YEAR]


def sub_of(school, period) -> Submission:
    return Submission.objects.get(school=school, period=period)


def by_code(checks):
    return {c["code"]: c for c in checks}


def future(days=30):
    return timezone.localdate() + timedelta(days=days)


def fix_school_b(tree, school_year):
    """Make school B submittable: a homeroom teacher with a post for its class."""
    teacher = registry_actions.person_create(
        actor=None,
        full_name="Đỗ Văn Nam",
        birth_date=date(1980, 1, 1),
        sex="M",
        ethnicity=Ethnicity.objects.get(code="01"),
        province_code="01",
    )
    StaffAssignment.objects.create(
        person=teacher,
        school=tree["b"],
        role="teacher",
        qualification="bachelor",
        contract_type="permanent",
        starts_on=date(2015, 9, 1),
        province_code="01",
    )
    SchoolClass.objects.filter(school=tree["b"], school_year=school_year).update(
        homeroom_teacher=teacher
    )
    return teacher


# --- periods ----------------------------------------------------------------------------------


def test_periods_create_defaults_and_drafts(users, tree, school_year):
    Term.objects.create(
        school_year=school_year, number=1, starts_on=date(2025, 9, 5), ends_on=date(2026, 1, 10)
    )
    made = actions.reporting_periods_create(school_year=school_year, actor=users["ministry"])
    kinds = {p.kind: p for p in made}
    s, t, e = (
        kinds["start_of_year"],
        kinds["end_of_term1"],
        kinds["end_of_year"],
    )
    assert (s.as_of, s.opens_on, s.due_on) == (
        date(2025, 9, 30),
        date(2025, 9, 5),
        date(2025, 10, 30),
    )
    # End of term I: as of the end of term I from the year's Term rows, due 30 days later.
    assert (t.as_of, t.due_on) == (date(2026, 1, 10), date(2026, 2, 9))
    assert t.opens_on == date(2025, 10, 31)
    assert (e.as_of, e.due_on) == (date(2026, 5, 31), date(2026, 6, 30))
    # A draft for each of the three open schools and each period.
    assert Submission.objects.filter(status="draft").count() == 9
    # Run again: nothing new, edited dates kept.
    actions.reporting_period_update(actor=users["ministry"], period=s, due_on=date(2025, 11, 5))
    again = actions.reporting_periods_create(school_year=school_year, actor=None)
    assert len(again) == 3 and ReportingPeriod.objects.count() == 3
    assert ReportingPeriod.objects.get(pk=s.pk).due_on == date(2025, 11, 5)
    assert Submission.objects.count() == 9


def test_periods_only_by_ministry_and_dates_checked(users, school_year, periods):
    before = ReportingPeriod.objects.count()
    for role in ("department", "school", "teacher"):
        with pytest.raises(SubmissionError) as err:
            actions.reporting_periods_create(school_year=school_year, actor=users[role])
        assert err.value.code == "forbidden_role"
        with pytest.raises(SubmissionError):
            actions.reporting_period_update(
                actor=users[role], period=start(periods), due_on=date(2030, 1, 1)
            )
    assert ReportingPeriod.objects.count() == before
    with pytest.raises(SubmissionError) as err:
        actions.reporting_period_update(
            actor=users["ministry"], period=start(periods), opens_on=date(2025, 12, 1)
        )
    assert err.value.code == "period_dates"
    assert ReportingPeriod.objects.get(pk=start(periods).pk).opens_on == date(2025, 9, 5)


def test_term1_defaults_without_term_rows(school_year, users):
    made = {p.kind: p for p in actions.reporting_periods_create(school_year=school_year)}
    assert made["end_of_term1"].as_of == date(2026, 1, 15)


# --- checks -----------------------------------------------------------------------------------


def test_checks_exact_counts_on_small_dataset(users, tree, school_year, periods):
    b = tree["b"]
    # School B: 7B (from the fixture, one pupil) and 7C with two more pupils; no homeroom
    # teachers, no staff.
    for i, name in enumerate(["Hoàng Văn Một", "Hoàng Văn Hai"]):
        make_pupil(
            school=b,
            school_year=school_year,
            grade=7,
            class_name="7C",
            full_name=name,
            birth_date=date(2013, 1, 1 + i),
        )
    checks = by_code(
        checks_run(school_ids=[b.pk], period=start(periods), school_codes={b.pk: b.code})[b.pk]
    )
    assert (checks["class_homeroom"]["count"], checks["class_homeroom"]["total"]) == (2, 2)
    assert checks["class_homeroom"]["message_vi"] == "2/2 lớp chưa có giáo viên chủ nhiệm."
    assert checks["class_homeroom"]["message_en"] == "2 of 2 classes have no homeroom teacher."
    assert (checks["pupil_in_class"]["count"], checks["pupil_in_class"]["total"]) == (0, 3)
    assert checks["has_staff"]["ok"] is False and checks["has_classes"]["ok"] is True
    assert "term1_results" not in checks  # only for the end of term I

    # End of term I: results for one pupil, a summary for two.
    term1 = periods["end_of_term1"]
    enrolments = list(Enrolment.objects.filter(school=b).order_by("id"))
    maths = Subject.objects.get(code="TOAN")
    SubjectResult.objects.create(
        enrolment=enrolments[0], subject=maths, period="term1", score=7, province_code="01"
    )
    for e in enrolments[:2]:
        ResultSummary.objects.create(
            enrolment=e, period="term1", learning_rating="K", province_code="01"
        )
    # A pupil who dropped out before the data date is not in the population.
    gone = make_pupil(
        school=b,
        school_year=school_year,
        grade=7,
        class_name="7C",
        full_name="Hoàng Văn Ba",
        birth_date=date(2013, 2, 2),
    )
    registry_actions.enrolment_change_status(
        actor=None,
        enrolment=Enrolment.objects.get(pupil=gone),
        status="dropped_out",
        effective_on=date(2025, 11, 1),
    )
    detail = by_code(
        checks_run(school_ids=[b.pk], period=term1, school_codes={b.pk: b.code}, detail=True)[b.pk]
    )
    assert (detail["term1_results"]["count"], detail["term1_results"]["total"]) == (2, 3)
    assert (detail["term1_summary"]["count"], detail["term1_summary"]["total"]) == (1, 3)
    assert detail["term1_results"]["blocking"] is True
    # Fix links name the classes where the problem is, biggest first.
    items = detail["term1_results"]["items"]
    assert [(i["name"], i["count"]) for i in items] == [("7C", 2)]
    assert [(i["name"], i["count"]) for i in detail["term1_summary"]["items"]] == [("7C", 1)]
    assert all(i["url"].startswith("/classes/") for i in items)
    assert detail["term1_results"]["fix_url"] == items[0]["url"]

    # End of year: outcome required (blocking), year results a warning.
    year = periods["end_of_year"]
    ResultSummary.objects.create(
        enrolment=enrolments[0], period="year", outcome="promoted", province_code="01"
    )
    ResultSummary.objects.create(enrolment=enrolments[1], period="year", province_code="01")
    end = by_code(checks_run(school_ids=[b.pk], period=year)[b.pk])
    assert (end["year_outcome"]["count"], end["year_outcome"]["total"]) == (2, 3)
    assert end["year_results"]["blocking"] is False and end["year_results"]["count"] == 3


def test_checks_for_many_schools_cost_a_fixed_number_of_queries(
    users, tree, school_year, periods, django_assert_max_num_queries
):
    ids = [tree[k].pk for k in ("a", "b", "c")]
    with django_assert_max_num_queries(len(CHECKS)):
        result = checks_run(school_ids=ids, period=periods["end_of_term1"])
    assert set(result) == set(ids)
    a = by_code(result[tree["a"].pk])
    assert a["class_homeroom"]["ok"] and a["has_staff"]["ok"] and a["homeroom_posted"]["ok"]


# --- workflow ---------------------------------------------------------------------------------


def test_whole_workflow(users, tree, periods):
    school, dept = users["school"], users["department"]
    sub = sub_of(tree["a"], start(periods))
    audit_before = AuditEntry.objects.count()

    checks = actions.submission_check(actor=school, submission=sub)
    assert all(c["ok"] for c in checks if c["blocking"])
    assert sub_of(tree["a"], start(periods)).checks == checks

    sub = actions.submission_submit(actor=school, submission=sub)
    assert sub.status == Status.SUBMITTED and sub.submitted_by == school
    assert sub.counts == {"classes": 1, "pupils": 1, "staff": 1}

    with pytest.raises(SubmissionError) as err:
        actions.submission_submit(actor=school, submission=sub)
    assert err.value.kind == "conflict" and err.value.code == "invalid_transition"

    sub = actions.submission_return(actor=dept, submission=sub, reason="  Thiếu lớp 3B.  ")
    assert sub.status == Status.RETURNED and sub.return_reason == "Thiếu lớp 3B."
    assert sub.decided_by == dept

    sub = actions.submission_submit(actor=school, submission=sub)
    assert sub.status == Status.SUBMITTED and sub.return_reason == ""
    sub = actions.submission_approve(actor=dept, submission=sub)
    assert sub.status == Status.APPROVED

    # The Ministry may reopen an approved submission, with a reason.
    sub = actions.submission_reopen(actor=users["ministry"], submission=sub, reason="Số liệu sai")
    assert sub.status == Status.RETURNED

    events = list(SubmissionEvent.objects.filter(submission=sub).order_by("id"))
    assert [(e.from_status, e.to_status, e.note) for e in events] == [
        ("draft", "submitted", ""),
        ("submitted", "returned", "Thiếu lớp 3B."),
        ("returned", "submitted", ""),
        ("submitted", "approved", ""),
        ("approved", "returned", "Số liệu sai"),
    ]
    logged = [
        (e.action, e.detail["from"], e.detail["to"])
        for e in AuditEntry.objects.filter(object_type="submission").order_by("id")
    ]
    assert logged == [
        ("update", "draft", "submitted"),
        ("update", "submitted", "returned"),
        ("update", "returned", "submitted"),
        ("update", "submitted", "approved"),
        ("update", "approved", "returned"),
    ]
    assert AuditEntry.objects.count() == audit_before + 5


def test_submit_refused_while_a_blocking_check_fails(users, tree, periods):
    system_b = users["system"]
    system_b.scope = tree["b"]
    system_b.save()
    sub = sub_of(tree["b"], start(periods))
    with pytest.raises(SubmissionError) as err:
        actions.submission_submit(actor=system_b, submission=sub)
    assert err.value.code == "checks_failed" and err.value.kind == "conflict"
    assert "1/1 lớp chưa có giáo viên chủ nhiệm." in err.value.message_vi
    assert "1 of 1 classes have no homeroom teacher." in err.value.message_en
    assert {e["field"] for e in err.value.errors} == {"class_homeroom", "has_staff"}
    sub.refresh_from_db()
    assert sub.status == Status.DRAFT and not sub.events.exists()
    # The failing checks are kept so the school page shows them.
    assert {c["code"] for c in sub.checks if not c["ok"]} >= {"class_homeroom", "has_staff"}


def test_submit_refused_before_the_period_opens(users, tree, periods):
    p = start(periods)
    ReportingPeriod.objects.filter(pk=p.pk).update(opens_on=future(5), due_on=future(20))
    with pytest.raises(SubmissionError) as err:
        actions.submission_submit(actor=users["school"], submission=sub_of(tree["a"], p))
    assert err.value.code == "period_not_open"
    assert sub_of(tree["a"], p).status == Status.DRAFT


@pytest.mark.parametrize(
    ("role", "action", "kind"),
    [
        ("school_c", "submit", "not_found"),  # another province's school
        ("department", "submit", "forbidden"),  # a Department does not submit for a school
        ("ministry", "submit", "forbidden"),
        ("teacher", "submit", "forbidden"),
        ("citizen", "submit", "forbidden"),
        ("school", "approve", "forbidden"),  # a school does not approve itself
        ("ministry", "approve", "forbidden"),  # the Ministry reads, it does not decide
        ("department_dn", "approve", "not_found"),  # Đà Nẵng's Department, a Hà Nội school
        ("department_dn", "return", "not_found"),
        ("school", "return", "forbidden"),
    ],
)
def test_wrong_role_or_scope_is_refused_and_nothing_changes(
    users, tree, periods, role, action, kind
):
    sub = sub_of(tree["a"], start(periods))
    if action != "submit":
        sub = actions.submission_submit(actor=users["school"], submission=sub)
    events = SubmissionEvent.objects.count()
    audits = AuditEntry.objects.count()
    status = sub.status
    call = {
        "submit": lambda: actions.submission_submit(actor=users[role], submission=sub),
        "approve": lambda: actions.submission_approve(actor=users[role], submission=sub),
        "return": lambda: actions.submission_return(actor=users[role], submission=sub, reason="x"),
    }[action]
    with pytest.raises(SubmissionError) as err:
        call()
    assert err.value.kind == kind
    assert sub_of(tree["a"], start(periods)).status == status
    assert SubmissionEvent.objects.count() == events and AuditEntry.objects.count() == audits


@pytest.mark.parametrize("reason", ["", "   ", "\n\t", "x" * 2001])
def test_return_needs_a_reason(users, tree, periods, reason):
    sub = actions.submission_submit(
        actor=users["school"], submission=sub_of(tree["a"], start(periods))
    )
    with pytest.raises(SubmissionError) as err:
        actions.submission_return(actor=users["department"], submission=sub, reason=reason)
    assert err.value.kind == "invalid"
    assert err.value.code == ("reason_too_long" if reason.startswith("x") else "reason_required")
    assert sub_of(tree["a"], start(periods)).status == Status.SUBMITTED


def test_concurrent_decisions_one_wins(users, tree, periods):
    sub = actions.submission_submit(
        actor=users["school"], submission=sub_of(tree["a"], start(periods))
    )
    # Two officers opened the page while it was submitted; both objects say "submitted".
    first = Submission.objects.get(pk=sub.pk)
    second = Submission.objects.get(pk=sub.pk)
    other = users["department"].__class__.objects.create_user(
        "so_hn_2", password="pw", role="department", scope=tree["so_hn"]
    )
    actions.submission_approve(actor=users["department"], submission=first)
    with pytest.raises(SubmissionError) as err:
        actions.submission_return(actor=other, submission=second, reason="Sai")
    assert err.value.code == "already_decided" and err.value.kind == "conflict"
    assert "đã được quyết định" in err.value.message_vi
    sub.refresh_from_db()
    assert sub.status == Status.APPROVED and sub.decided_by == users["department"]
    assert sub.events.filter(to_status="returned").count() == 0


# --- locking ----------------------------------------------------------------------------------


def test_locked_pairs(users, tree, school_year, periods):
    a, year = tree["a"], school_year
    assert selectors.locked_pairs() == set()
    sub = actions.submission_submit(actor=users["school"], submission=sub_of(a, start(periods)))
    assert actions.locked_pairs() == {(a.pk, year.pk)}
    assert actions.school_year_locked(school_id=a.pk, school_year_id=year.pk)
    assert not actions.school_year_locked(school_id=tree["b"].pk, school_year_id=year.pk)

    sub = actions.submission_return(actor=users["department"], submission=sub, reason="Sửa")
    assert selectors.locked_pairs() == set()

    # Approved: locked while the next period of the year has not opened yet...
    for kind in ("end_of_term1", "end_of_year"):
        ReportingPeriod.objects.filter(pk=periods[kind].pk).update(
            opens_on=future(10), as_of=future(11), due_on=future(40)
        )
    sub = actions.submission_submit(actor=users["school"], submission=sub)
    actions.submission_approve(actor=users["department"], submission=sub)
    assert selectors.locked_pairs() == {(a.pk, year.pk)}
    # ... and free again once it opens (the school works on its data for the next report).
    ReportingPeriod.objects.filter(pk=periods["end_of_term1"].pk).update(
        opens_on=timezone.localdate()
    )
    assert selectors.locked_pairs() == set()
    assert not selectors.school_year_locked(school_id=a.pk, school_year_id=year.pk)


# --- reminders --------------------------------------------------------------------------------


@pytest.fixture
def emails(users, tree):
    users["school"].email = "truong.a@example.vn"
    users["school"].save()
    make = users["school"].__class__.objects.create_user
    make("truong_b", password="pw", role="school", scope=tree["b"], email="truong.b@example.vn")
    users["school_c"].email = "truong.c@example.vn"
    users["school_c"].save()


def test_reminders_go_to_late_schools_in_scope_once_a_day(
    users, tree, periods, emails, django_capture_on_commit_callbacks
):
    p = start(periods)
    actions.submission_submit(actor=users["school"], submission=sub_of(tree["a"], p))
    with django_capture_on_commit_callbacks(execute=True):
        result = submissions_remind(
            actor=users["department"], period=p, base_url="https://csdl.example.vn"
        )
    # Hà Nội: A submitted (not late), B late; C is Đà Nẵng's.
    assert result.reminded == [tree["b"].pk] and result.recipients == 1 and result.not_late == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["truong.b@example.vn"]
    assert "Nhắc nộp báo cáo kỳ Đầu năm học, năm học 2025-2026" in message.subject
    assert "Trường THCS Sóc Sơn" in message.body and "30/10/2025" in message.body
    assert "https://csdl.example.vn/exchange/submissions/school/01000102/" in message.body
    assert "Sở GD&ĐT Hà Nội" in message.body
    reminder = Reminder.objects.get()
    assert (reminder.school_id, reminder.sent_by, reminder.recipients) == (
        tree["b"].pk,
        users["department"],
        1,
    )

    # Same day again: rate-limited, no new mail, no new row.
    with django_capture_on_commit_callbacks(execute=True):
        again = submissions_remind(actor=users["department"], period=p)
    assert again.reminded == [] and again.already_today == [tree["b"].pk]
    assert len(mail.outbox) == 1 and Reminder.objects.count() == 1

    # The next day the school may be reminded again.
    Reminder.objects.update(sent_on=timezone.localdate() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        result = submissions_remind(actor=users["department"], period=p)
    assert result.reminded == [tree["b"].pk]
    assert len(mail.outbox) == 2


def test_no_reminders_before_the_due_date_or_by_other_roles(users, tree, periods, emails):
    p = start(periods)
    ReportingPeriod.objects.filter(pk=p.pk).update(due_on=future(3))
    p.refresh_from_db()
    result = submissions_remind(actor=users["department"], period=p)
    assert result.reminded == [] and result.not_late == 2
    for role in ("school", "teacher", "ministry"):
        with pytest.raises(SubmissionError):
            submissions_remind(actor=users[role], period=p)
    assert mail.outbox == [] and not Reminder.objects.exists()


# --- pages ------------------------------------------------------------------------------------


def test_department_page_shows_progress_and_late_schools(
    client, users, tree, periods, django_assert_max_num_queries
):
    p = start(periods)
    actions.submission_submit(actor=users["school"], submission=sub_of(tree["a"], p))
    client.force_login(users["department"])
    with django_assert_max_num_queries(25):
        response = client.get("/exchange/submissions/", {"period": p.pk})
    assert response.status_code == 200
    total = response.context["total"]
    assert (total.total, total.done, total.late, total.done_pct) == (2, 1, 1, 50.0)
    levels = {g.key: (g.total, g.done) for g in response.context["by_level"]}
    assert levels == {"primary": (1, 1), "lower_secondary": (1, 0)}
    communes = {g.label: (g.total, g.done, g.late) for g in response.context["by_commune"]}
    assert communes == {"Phường Ba Đình": (1, 1, 0), "Xã Sóc Sơn": (1, 0, 1)}
    rows = {r["school"].code: r for r in response.context["rows"]}
    assert set(rows) == {"01000101", "01000102"}  # Đà Nẵng's school is not listed
    assert rows["01000102"]["late"] and not rows["01000101"]["late"]
    assert rows["01000101"]["counts"] == {"classes": 1, "pupils": 1, "staff": 1}
    assert rows["01000102"]["blocking_failed"] == 2
    html = response.content.decode()
    assert 'id="fig-done">1 <small class="fs-6">(50,0%)' in html  # Vietnamese decimal comma
    assert 'style="width: 50.0%"' in html  # the bar: approved 0%, submitted 50%
    assert 'data-school="01000102" class="table-danger"' in html
    assert "Nhắc nhở" in html and 'id="remind-all"' in html


def test_department_page_remind_buttons(
    client, users, tree, periods, emails, django_capture_on_commit_callbacks
):
    p = start(periods)
    client.force_login(users["department"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/exchange/submissions/remind/", {"period": p.pk, "school": "01000102"}, follow=True
        )
    assert response.status_code == 200
    assert "Đã gửi nhắc nhở tới 1 trường" in response.content.decode()
    assert [m.to for m in mail.outbox] == [["truong.b@example.vn"]]
    page = client.get("/exchange/submissions/", {"period": p.pk}).content.decode()
    assert "Đã nhắc hôm nay" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/exchange/submissions/remind/", {"period": p.pk}, follow=True)
    html = response.content.decode()
    assert "Đã gửi nhắc nhở tới 1 trường" in html  # A; B was already reminded today
    assert "1 trường đã được nhắc hôm nay" in html
    assert sorted(m.to[0] for m in mail.outbox) == ["truong.a@example.vn", "truong.b@example.vn"]


def test_department_page_pages_by_school_code(client, users, tree, periods):
    client.force_login(users["department"])
    views = __import__("vnemis.exchange.selectors_submissions", fromlist=["x"])
    rows, after = views.overview_schools(viewer=users["department"], period=start(periods), limit=1)
    assert [r["school"].code for r in rows] == ["01000101"] and after == "01000101"
    rows, after = views.overview_schools(
        viewer=users["department"], period=start(periods), limit=1, after=after
    )
    assert [r["school"].code for r in rows] == ["01000102"] and after is None
    response = client.get(
        "/exchange/submissions/", {"period": start(periods).pk, "after": "01000101"}
    )
    assert [r["school"].code for r in response.context["rows"]] == ["01000102"]


def test_ministry_page_aggregates_by_province_and_drills_down(client, users, tree, periods):
    p = start(periods)
    actions.submission_submit(actor=users["school"], submission=sub_of(tree["a"], p))
    client.force_login(users["ministry"])
    response = client.get("/exchange/submissions/", {"period": p.pk})
    assert response.status_code == 200 and "rows" not in response.context
    provinces = {g.key: (g.total, g.done, g.late) for g in response.context["provinces"]}
    assert provinces == {"01": (2, 1, 1), "48": (1, 0, 1)}
    response = client.get("/exchange/submissions/", {"period": p.pk, "province": "48"})
    assert [r["school"].code for r in response.context["rows"]] == ["48000101"]
    assert "remind-all" not in response.content.decode()  # the Ministry reads, it does not remind


@pytest.mark.parametrize("role", ["teacher", "citizen"])
def test_overview_refused_to_teachers_and_citizens(client, users, periods, role):
    client.force_login(users[role])
    assert client.get("/exchange/submissions/").status_code == 403


def test_school_page_submit_and_see_the_return_reason(client, users, tree, periods):
    p = start(periods)
    client.force_login(users["school"])
    assert client.get("/exchange/submissions/").url == "/exchange/submissions/school/01000101/"
    response = client.post(f"/exchange/submissions/school/01000101/{p.pk}/submit/", follow=True)
    assert "Đã nộp báo cáo" in response.content.decode()
    sub = sub_of(tree["a"], p)
    assert sub.status == Status.SUBMITTED
    client.force_login(users["department"])
    response = client.post(f"/exchange/submissions/{sub.pk}/return/", {"reason": ""}, follow=True)
    assert "Hãy ghi rõ lý do trả lại" in response.content.decode()
    assert sub_of(tree["a"], p).status == Status.SUBMITTED
    client.post(f"/exchange/submissions/{sub.pk}/return/", {"reason": "Thiếu sĩ số lớp 3A"})
    client.force_login(users["school"])
    html = client.get("/exchange/submissions/school/01000101/").content.decode()
    assert "Thiếu sĩ số lớp 3A" in html and "Nộp báo cáo" in html


def test_school_page_shows_failing_checks_with_fix_links(client, users, tree, school_year, periods):
    user = users["school"].__class__.objects.create_user(
        "truong_b", password="pw", role="school", scope=tree["b"]
    )
    client.force_login(user)
    p = start(periods)
    response = client.post(f"/exchange/submissions/school/01000102/{p.pk}/submit/", follow=True)
    html = response.content.decode()
    assert "Chưa nộp được: dữ liệu còn thiếu." in html
    class_id = SchoolClass.objects.get(school=tree["b"], name="7B").pk
    assert f'href="/classes/{class_id}/"' in html
    assert sub_of(tree["b"], p).status == Status.DRAFT
    # Another school's page is out of scope.
    assert client.get("/exchange/submissions/school/01000101/").status_code == 403
    assert client.post(f"/exchange/submissions/school/01000101/{p.pk}/submit/").status_code == 403
    assert sub_of(tree["a"], p).status == Status.DRAFT


def test_read_only_viewer_cannot_press_school_buttons(client, users, tree, periods):
    p = start(periods)
    client.force_login(users["department"])
    response = client.post(f"/exchange/submissions/school/01000101/{p.pk}/submit/")
    assert response.status_code == 403
    assert sub_of(tree["a"], p).status == Status.DRAFT
    assert client.post(f"/exchange/submissions/school/01000101/{p.pk}/delete/").status_code == 400


def test_review_page_approve(client, users, tree, periods):
    sub = actions.submission_submit(
        actor=users["school"], submission=sub_of(tree["a"], start(periods))
    )
    client.force_login(users["department"])
    page = client.get(f"/exchange/submissions/{sub.pk}/")
    assert page.status_code == 200 and 'id="approve"' in page.content.decode()
    client.post(f"/exchange/submissions/{sub.pk}/approve/")
    assert Submission.objects.get(pk=sub.pk).status == Status.APPROVED
    # Out of scope: Đà Nẵng's Department cannot even see it.
    client.force_login(users["department_dn"])
    assert client.get(f"/exchange/submissions/{sub.pk}/").status_code == 403
    assert (
        client.post(f"/exchange/submissions/{sub.pk}/reopen/", {"reason": "x"}).status_code == 403
    )
    assert Submission.objects.get(pk=sub.pk).status == Status.APPROVED


def test_school_page_costs_a_fixed_number_of_queries(
    client, users, tree, periods, django_assert_max_num_queries
):
    p = start(periods)
    sub = actions.submission_submit(actor=users["school"], submission=sub_of(tree["a"], p))
    actions.submission_return(actor=users["department"], submission=sub, reason="Sửa lại")
    client.force_login(users["school"])
    with django_assert_max_num_queries(10):
        response = client.get("/exchange/submissions/school/01000101/")
    assert response.status_code == 200
    entry = next(e for e in response.context["entries"] if e["period"].pk == p.pk)
    assert [e.to_status for e in entry["events"]] == ["submitted", "returned"]


@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [
        ("post", "/exchange/submissions/remind/", {"period": "x"}, 302),  # current period used
        ("post", "/exchange/submissions/remind/", {"period": "999999"}, 400),
        ("post", "/exchange/submissions/{sub}/delete/", {}, 400),
        ("post", "/exchange/submissions/{sub}/return/", {"reason": "x" * 5000}, 302),
        ("get", "/exchange/submissions/", {"period": "'; drop table", "after": "z" * 500}, 200),
        ("get", "/exchange/submissions/", {"level": "nope", "status": "nope", "late": "2"}, 200),
        ("get", "/exchange/submissions/999999/", {}, 403),
        ("get", "/exchange/submissions/school/NOPE/", {}, 403),
        ("get", "/exchange/submissions/remind/", {}, 405),
    ],
)
def test_pages_refuse_malformed_input_cleanly(
    client, users, tree, periods, method, path, data, status
):
    sub = actions.submission_submit(
        actor=users["school"], submission=sub_of(tree["a"], start(periods))
    )
    client.force_login(users["department"])
    response = getattr(client, method)(path.format(sub=sub.pk), data)
    assert response.status_code == status
    assert sub_of(tree["a"], start(periods)).status == Status.SUBMITTED  # nothing decided


def test_drafts_added_for_a_school_opened_later(users, tree, geo, periods):
    from vnemis.orgs.actions import organisation_create

    new = organisation_create(
        code="01000199",
        name="Trường Tiểu học Mới",
        kind="school",
        level="primary",
        ownership="public",
        parent=tree["so_hn"],
        province=geo["hn"],
        opened_on=date(2025, 9, 1),
    )
    assert actions.submissions_ensure(period=start(periods)) == 1
    assert actions.submissions_ensure(period=start(periods)) == 0
    assert sub_of(new, start(periods)).status == Status.DRAFT


def test_locked_pairs_is_one_query(users, tree, periods, django_assert_num_queries):
    actions.submission_submit(actor=users["school"], submission=sub_of(tree["a"], start(periods)))
    with django_assert_num_queries(1):
        pairs = selectors.locked_pairs()
    assert pairs == {(tree["a"].pk, start(periods).school_year_id)}


def test_school_page_in_english_shows_english_checks(client, users, tree, periods):
    p = start(periods)
    client.force_login(users["school"])
    client.post(f"/exchange/submissions/school/01000101/{p.pk}/check/")
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get("/exchange/submissions/school/01000101/").content.decode()
    assert "All 1 classes have a homeroom teacher." in html
    assert "Tất cả 1 lớp đều có giáo viên chủ nhiệm." not in html


# --- API --------------------------------------------------------------------------------------


def post(client, path, body=None):
    return client.post(API + path, json.dumps(body or {}), content_type="application/json")


def test_api_workflow(client, users, tree, periods):
    p = start(periods)
    sub = sub_of(tree["a"], p)
    client.force_login(users["school"])
    page = client.get(API, {"period": p.pk}).json()
    assert [i["school"] for i in page["items"]] == ["01000101"]
    checked = post(client, f"/{sub.pk}/check")
    assert checked.status_code == 200 and {c["code"] for c in checked.json()} >= {"class_homeroom"}
    response = post(client, f"/{sub.pk}/submit")
    assert response.status_code == 200 and response.json()["status"] == "submitted"
    assert post(client, f"/{sub.pk}/submit").json()["code"] == "invalid_transition"
    assert post(client, f"/{sub.pk}/approve").status_code == 403

    client.force_login(users["department"])
    response = post(client, f"/{sub.pk}/return", {"reason": ""})
    assert response.status_code == 422 and response.json()["code"] == "reason_required"
    response = post(client, f"/{sub.pk}/return", {"reason": "Thiếu lớp"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "returned" and body["return_reason"] == "Thiếu lớp"
    assert [e["to_status"] for e in body["events"]] == ["submitted", "returned"]
    response = post(client, f"/{sub.pk}/approve")
    assert response.status_code == 409 and response.json()["code"] == "already_decided"
    assert response.json()["message_en"].startswith("The submission has already been decided")


def test_api_checks_failed_is_409_with_details(client, users, tree, periods):
    user = users["school"].__class__.objects.create_user(
        "truong_b", password="pw", role="school", scope=tree["b"]
    )
    client.force_login(user)
    sub = sub_of(tree["b"], start(periods))
    response = post(client, f"/{sub.pk}/submit")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "checks_failed"
    assert {e["field"] for e in body["errors"]} == {"class_homeroom", "has_staff"}


def test_api_scope_and_roles(client, users, tree, periods):
    p = start(periods)
    sub_a = sub_of(tree["a"], p)
    client.force_login(users["department"])
    page = client.get(API, {"period": p.pk}).json()
    assert sorted(i["school"] for i in page["items"]) == ["01000101", "01000102"]
    client.force_login(users["ministry"])
    assert len(client.get(API, {"period": p.pk}).json()["items"]) == 3
    client.force_login(users["school_c"])
    assert client.get(f"{API}/{sub_a.pk}").status_code == 404
    assert post(client, f"/{sub_a.pk}/submit").status_code == 404
    for role in ("teacher", "citizen"):
        client.force_login(users[role])
        assert client.get(API, {"period": p.pk}).status_code == 403
    client.logout()
    assert client.get(API, {"period": p.pk}).status_code == 401
    assert sub_of(tree["a"], p).status == Status.DRAFT


def test_api_keyset_pages_and_malformed_input(client, users, tree, periods):
    p = start(periods)
    client.force_login(users["ministry"])
    first = client.get(API, {"period": p.pk, "limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get(API, {"period": p.pk, "limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    ids = [i["id"] for i in first["items"] + rest["items"]]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert client.get(API, {"period": "abc"}).status_code == 422
    assert client.get(API).status_code == 422
    assert client.get(API, {"period": 999999}).json()["code"] == "period_not_found"
    assert client.get(API, {"period": p.pk, "cursor": "garbage"}).json()["code"] == "invalid_cursor"
    assert client.get(API, {"period": p.pk, "limit": 0}).status_code == 422
    assert client.get(API, {"period": p.pk, "status": "lost"}).json()["code"] == "unknown_status"
    assert client.get(f"{API}/999999").status_code == 404
    response = client.post(
        f"{API}/{sub_of(tree['a'], p).pk}/return", "{not json", content_type="application/json"
    )
    assert response.status_code in (400, 422)
    periods_listed = client.get(f"{API}/periods").json()
    assert {x["kind"] for x in periods_listed} == set(ReportingPeriod.Kind.values)


# --- command ----------------------------------------------------------------------------------


def test_periods_command(
    users, tree, school_year, emails, capsys, django_capture_on_commit_callbacks
):
    call_command("periods", "create", "--year", "2025-2026")
    out = capsys.readouterr().out
    assert "start_of_year" in out and ReportingPeriod.objects.count() == 3
    with pytest.raises(CommandError, match="No school year"):
        call_command("periods", "create", "--year", "2099-2100")
    with pytest.raises(CommandError, match="no reporting period"):
        call_command("periods", "remind", "--period", "999999")
    p = ReportingPeriod.objects.get(kind="start_of_year")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("periods", "remind", "--period", str(p.pk))
    assert "Reminded 3 school(s), 3 e-mail" in capsys.readouterr().out
    assert len(mail.outbox) == 3
    call_command("periods", "list")
    assert "end_of_year" in capsys.readouterr().out


# --- real concurrency (PostgreSQL: two connections deciding at the same moment) ----------------


def test_concurrent_approve_and_return_on_two_connections(
    audit_log_flushable, django_db_serialized_rollback, transactional_db, users, tree, school_year
):
    # Fixture order matters: the triggers are dropped before the transactional database is set
    # up and put back after its flush; serialized rollback restores the reference data (ethnic
    # groups, subjects) the flush removes, for the transactional tests that follow.
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("needs two real database connections (PostgreSQL)")
    made = actions.reporting_periods_create(school_year=school_year, actor=users["ministry"])
    p = next(x for x in made if x.kind == "start_of_year")
    sub = actions.submission_submit(actor=users["school"], submission=sub_of(tree["a"], p))
    other = users["department"].__class__.objects.create_user(
        "so_hn_2", password="pw", role="department", scope=tree["so_hn"]
    )
    barrier = threading.Barrier(2)
    outcomes = {}

    def decide(name, call):
        try:
            barrier.wait()
            call()
            outcomes[name] = "ok"
        except SubmissionError as exc:
            outcomes[name] = exc.code
        finally:
            connections.close_all()

    approve = threading.Thread(
        target=decide,
        args=(
            "approve",
            lambda: actions.submission_approve(actor=users["department"], submission=sub),
        ),
    )
    ret = threading.Thread(
        target=decide,
        args=(
            "return",
            lambda: actions.submission_return(actor=other, submission=sub, reason="Sai"),
        ),
    )
    approve.start(), ret.start()
    approve.join(30), ret.join(30)
    assert sorted(outcomes.values()) == ["already_decided", "ok"]
    sub.refresh_from_db()
    winner = "approved" if outcomes["approve"] == "ok" else "returned"
    assert sub.status == winner
    assert list(sub.events.values_list("to_status", flat=True)) == ["submitted", winner]


def test_sync_api_obeys_the_lock_through_the_workflow(client, users, tree, periods):
    """End to end with helper H-D's sync API: submitted → writes refused; returned → accepted."""
    import uuid

    from vnemis.orgs.tokens import api_token_create

    token = api_token_create(user=users["system"], name="school software")[1]

    def send(name):
        return client.post(
            "/api/v1/sync/classes",
            json.dumps(
                {
                    "records": [
                        {
                            "school_code": "01000101",
                            "school_year": "2025-2026",
                            "class_name": name,
                            "grade": 4,
                            "two_sessions": False,
                            "combined_grades": False,
                        }
                    ]
                }
            ),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )

    sub = actions.submission_submit(
        actor=users["school"], submission=sub_of(tree["a"], start(periods))
    )
    refused = send("4P")
    assert refused.status_code == 423 and refused.json()["code"] == "period_locked"
    assert not SchoolClass.objects.filter(name="4P").exists()
    actions.submission_return(actor=users["department"], submission=sub, reason="Bổ sung lớp 4P")
    assert send("4P").status_code == 200
    assert SchoolClass.objects.filter(school=tree["a"], name="4P").exists()
