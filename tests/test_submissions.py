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


def _dropped_out_on_1_november(school, school_year, class_name: str):
    """A pupil on the roll on 30/09 who dropped out on 01/11/2025."""
    gone = make_pupil(
        school=school,
        school_year=school_year,
        grade=7,
        class_name=class_name,
        full_name="Hoàng Văn Ba",
        birth_date=date(2013, 2, 2),
    )
    registry_actions.enrolment_change_status(
        actor=None,
        enrolment=Enrolment.objects.get(pupil=gone),
        status="dropped_out",
        effective_on=date(2025, 11, 1),
    )
    return gone


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
    _dropped_out_on_1_november(b, school_year, "7C")
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
    # Besides the five transitions: the approval queued one refresh of the statistics snapshot.
    refreshes = AuditEntry.objects.filter(object_type="snapshot_refresh")
    assert [e.detail["trigger"] for e in refreshes] == ["approval"]
    assert AuditEntry.objects.count() == audit_before + 5 + 1


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
    html = response.content.decode()
    # Truthful: one school reminded in the app, one e-mail handed to the mail server.
    assert "Đã nhắc nhở 1 trường: lời nhắc hiện trên trang báo cáo định kỳ" in html
    assert "Đã gửi 1 e-mail tới 1 trường có địa chỉ e-mail." in html
    assert [m.to for m in mail.outbox] == [["truong.b@example.vn"]]
    page = client.get("/exchange/submissions/", {"period": p.pk}).content.decode()
    assert "Đã nhắc hôm nay" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/exchange/submissions/remind/", {"period": p.pk, "confirmed": "1"}, follow=True
        )
    html = response.content.decode()
    assert "Đã nhắc nhở 1 trường" in html  # A; B was already reminded today
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
    response = client.post(
        f"/exchange/submissions/school/01000101/{p.pk}/submit/", {"confirmed": "1"}, follow=True
    )
    assert "Đã nộp báo cáo" in response.content.decode()
    sub = sub_of(tree["a"], p)
    assert sub.status == Status.SUBMITTED
    client.force_login(users["department"])
    response = client.post(f"/exchange/submissions/{sub.pk}/return/", {"reason": ""}, follow=True)
    assert "Hãy ghi rõ lý do trả lại" in response.content.decode()
    assert sub_of(tree["a"], p).status == Status.SUBMITTED
    client.post(
        f"/exchange/submissions/{sub.pk}/return/",
        {"reason": "Thiếu sĩ số lớp 3A", "confirmed": "1"},
    )
    client.force_login(users["school"])
    html = client.get("/exchange/submissions/school/01000101/").content.decode()
    assert "Thiếu sĩ số lớp 3A" in html and "Nộp lại báo cáo" in html


def test_school_page_shows_failing_checks_with_fix_links(client, users, tree, school_year, periods):
    user = users["school"].__class__.objects.create_user(
        "truong_b", password="pw", role="school", scope=tree["b"]
    )
    client.force_login(user)
    p = start(periods)
    # The confirmation step already says what stops the submission, and offers no confirm button.
    html = client.post(f"/exchange/submissions/school/01000102/{p.pk}/submit/").content.decode()
    assert "Chưa nộp được:" in html and "1/1 lớp chưa có giáo viên chủ nhiệm." in html
    assert 'id="confirm-button"' not in html
    response = client.post(
        f"/exchange/submissions/school/01000102/{p.pk}/submit/", {"confirmed": "1"}, follow=True
    )
    html = response.content.decode()
    assert "Chưa nộp được: dữ liệu còn thiếu." in html
    class_id = SchoolClass.objects.get(school=tree["b"], name="7B").pk
    assert f'href="/classes/{class_id}/"' in html
    assert sub_of(tree["b"], p).status == Status.DRAFT
    # Another school's page is out of scope.
    assert client.get("/exchange/submissions/school/01000101/").status_code == 403
    for data in ({}, {"confirmed": "1"}):
        response = client.post(f"/exchange/submissions/school/01000101/{p.pk}/submit/", data)
        assert response.status_code == 403
    assert sub_of(tree["a"], p).status == Status.DRAFT


def test_read_only_viewer_cannot_press_school_buttons(client, users, tree, periods):
    p = start(periods)
    client.force_login(users["department"])
    for data in ({}, {"confirmed": "1"}):
        response = client.post(f"/exchange/submissions/school/01000101/{p.pk}/submit/", data)
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
    client.post(f"/exchange/submissions/{sub.pk}/approve/", {"confirmed": "1"})
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
    with django_assert_max_num_queries(12):
        response = client.get("/exchange/submissions/school/01000101/")
    assert response.status_code == 200
    entry = next(e for e in response.context["entries"] if e["period"].pk == p.pk)
    assert [e.to_status for e in entry["events"]] == ["submitted", "returned"]
    # More submitted periods and reminders cost no more queries (counts of all periods at once).
    term1 = periods["end_of_term1"]
    for e in Enrolment.objects.filter(school=tree["a"]):
        SubjectResult.objects.create(
            enrolment=e,
            subject=Subject.objects.get(code="TOAN"),
            period="term1",
            score=8,
            province_code="01",
        )
        ResultSummary.objects.create(enrolment=e, period="term1", province_code="01")
    sub = actions.submission_submit(actor=users["school"], submission=sub_of(tree["a"], term1))
    submissions_remind(actor=users["department"], period=p)
    with django_assert_max_num_queries(12):
        response = client.get("/exchange/submissions/school/01000101/")
    assert response.status_code == 200 and len(response.context["entries"]) == 3


@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [
        # Current period used; reminding every late school asks for confirmation first.
        ("post", "/exchange/submissions/remind/", {"period": "x"}, 200),
        ("post", "/exchange/submissions/remind/", {"period": "999999"}, 400),
        ("post", "/exchange/submissions/{sub}/delete/", {}, 400),
        ("post", "/exchange/submissions/{sub}/return/", {"reason": "x" * 5000}, 302),
        ("get", "/exchange/submissions/", {"period": "'; drop table", "after": "z" * 500}, 200),
        ("get", "/exchange/submissions/", {"level": "nope", "status": "nope", "late": "2"}, 200),
        ("get", "/exchange/submissions/999999/", {}, 403),
        ("get", "/exchange/submissions/school/NOPE/", {}, 403),
        ("get", "/exchange/submissions/remind/", {}, 200),  # the confirmation page
        ("put", "/exchange/submissions/remind/", {}, 405),
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
    assert "Reminded 3 school(s) in the app; sent 3 e-mail(s) to 3 of them" in (
        capsys.readouterr().out
    )
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


# --- what the pages say (the new-user trial of December 2026) ---------------------------------


def set_dates(period, **days):
    """Move a period's dates to ``today + days`` (e.g. opens_on=-10, due_on=5)."""
    today = timezone.localdate()
    ReportingPeriod.objects.filter(pk=period.pk).update(
        **{k: today + timedelta(days=v) for k, v in days.items()}
    )
    period.refresh_from_db()
    return period


def school_page(client, code="01000101") -> str:
    return client.get(f"/exchange/submissions/school/{code}/").content.decode()


def main_of(html: str) -> str:
    return html[html.index("<main") : html.index("</main>")]


def test_period_current_prefers_the_period_whose_data_date_has_come(users, periods):
    s, t, e = (periods[k] for k in ("start_of_year", "end_of_term1", "end_of_year"))
    # December: start of year due in October, end of term I open since then but its data date
    # (January) still ahead: the Department is still collecting the start of year.
    set_dates(s, opens_on=-90, as_of=-60, due_on=-30)
    set_dates(t, opens_on=-29, as_of=40, due_on=70)
    set_dates(e, opens_on=71, as_of=150, due_on=180)
    assert selectors.period_current() == s
    set_dates(t, opens_on=-29, as_of=-1, due_on=30)
    assert selectors.period_current() == t
    for p in (s, t, e):
        set_dates(p, opens_on=10 + p.pk, as_of=20 + p.pk, due_on=40 + p.pk)
    assert selectors.period_current() == s  # none open yet: the next to open


def test_approved_submission_says_when_a_later_period_released_the_lock(
    client, users, tree, periods
):
    p = start(periods)
    sub = actions.submission_submit(actor=users["school"], submission=sub_of(tree["a"], p))
    client.force_login(users["school"])
    html = school_page(client)
    assert 'data-lock="submitted"' in html and "bị khóa cho đến khi Sở duyệt" in html
    sub = actions.submission_approve(actor=users["department"], submission=sub)
    # On the machine's 2026 clock every later period of 2025-2026 is open: no lock.
    assert selectors.locked_pairs() == set()
    term1 = periods["end_of_term1"]
    html = school_page(client)
    assert 'data-lock="released"' in html and "không còn khóa dữ liệu" in html
    assert f"đã mở từ ngày {term1.opens_on:%d/%m/%Y}" in html
    assert "bị khóa cho đến khi kỳ" not in html
    client.force_login(users["department"])
    detail = client.get(f"/exchange/submissions/{sub.pk}/").content.decode()
    assert 'data-lock="released"' in detail
    assert client.get(f"{API}/{sub.pk}").json()["locks_data"] is False

    # Later periods not open yet: the approval locks, and the pages say until when.
    set_dates(term1, opens_on=10, as_of=20, due_on=40)
    set_dates(periods["end_of_year"], opens_on=41, as_of=50, due_on=80)
    assert selectors.locked_pairs() == {(tree["a"].pk, p.school_year_id)}
    detail = client.get(f"/exchange/submissions/{sub.pk}/").content.decode()
    assert 'data-lock="approved"' in detail
    assert f"mở ngày {term1.opens_on:%d/%m/%Y}" in detail
    assert client.get(f"{API}/{sub.pk}").json()["locks_data"] is True


def test_last_period_of_the_year_locks_until_reopened(users, tree, periods):
    end = periods["end_of_year"]
    facts = selectors.submission_facts(
        period=end,
        submission=Submission(status=Status.APPROVED),
        periods_of_year=list(periods.values()),
    )
    assert facts.lock == "approved_final" and facts.locked and facts.next_period is None


def test_pages_show_that_data_changed_after_the_submission(
    client, users, tree, school_year, periods
):
    p = start(periods)
    sub = actions.submission_submit(actor=users["school"], submission=sub_of(tree["a"], p))
    sub = actions.submission_approve(actor=users["department"], submission=sub)
    client.force_login(users["school"])
    assert "data-differs" not in school_page(client)
    # Approval no longer locks (the next period opened): a pupil enrolled since the start of
    # the year is added afterwards, as in the trial (697 submitted, 698 now).
    make_pupil(
        school=tree["a"],
        school_year=school_year,
        grade=3,
        class_name="3A",
        full_name="Vũ Minh Châu",
        birth_date=date(2017, 5, 5),
    )
    html = school_page(client)
    assert 'data-differs="1"' in html and "Số liệu hiện tại khác số liệu đã nộp." in html
    assert 'data-count="pupils">2<' in html
    assert "không còn khóa dữ liệu từ ngày" in html
    client.force_login(users["department"])
    detail = client.get(f"/exchange/submissions/{sub.pk}/").content.decode()
    assert 'data-differs="1"' in detail and 'data-count="pupils">2<' in detail
    sub.refresh_from_db()
    assert sub.counts["pupils"] == 1  # what was submitted stays as submitted


def test_school_sees_reminders_with_date_period_and_note(
    client, users, tree, periods, emails, django_capture_on_commit_callbacks
):
    p = start(periods)
    with django_capture_on_commit_callbacks(execute=True):
        result = submissions_remind(
            actor=users["department"], period=p, note="Đề nghị nộp trước thứ Sáu."
        )
    assert result.reminded == [tree["a"].pk, tree["b"].pk] and result.emails_sent == 2
    assert result.emailed_schools == 2
    assert "Đề nghị nộp trước thứ Sáu." in mail.outbox[0].body
    assert Reminder.objects.filter(note="Đề nghị nộp trước thứ Sáu.").count() == 2
    client.force_login(users["school"])
    html = school_page(client)
    assert 'class="list-unstyled small mb-2 submission-reminders"' in html
    assert f"{timezone.localdate():%d/%m/%Y}" in html
    assert "nhắc nộp báo cáo kỳ Đầu năm học, năm học 2025-2026" in html
    assert "Sở GD&amp;ĐT Hà Nội (so_hn)" in html  # no name on that account: its organisation
    assert "Đề nghị nộp trước thứ Sáu." in html
    # The note is length-checked like a reason.
    with pytest.raises(SubmissionError) as err:
        submissions_remind(actor=users["department"], period=p, note="x" * 1001)
    assert err.value.code == "note_too_long"


def test_remind_every_late_school_asks_for_confirmation(
    client, users, tree, periods, emails, django_capture_on_commit_callbacks
):
    p = start(periods)
    client.force_login(users["department"])
    overview = client.get("/exchange/submissions/", {"period": p.pk}).content.decode()
    assert f'href="/exchange/submissions/remind/?period={p.pk}' in overview
    page = client.get("/exchange/submissions/remind/", {"period": p.pk})
    preview = page.context["preview"]
    assert (preview.late, preview.to_remind, preview.with_email) == (2, 2, 2)
    assert 'id="remind-confirm-button"' in page.content.decode()
    # A post without the confirmation (an old form, a double click) only shows the page again.
    response = client.post("/exchange/submissions/remind/", {"period": p.pk})
    assert response.status_code == 200 and "remind-confirm-button" in response.content.decode()
    assert not Reminder.objects.exists() and mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/exchange/submissions/remind/",
            {"period": p.pk, "confirmed": "1", "note": "Hạn cuối thứ Sáu."},
            follow=True,
        )
    html = response.content.decode()
    assert "Đã nhắc nhở 2 trường" in html and "Đã gửi 2 e-mail tới 2 trường" in html
    assert set(Reminder.objects.values_list("note", flat=True)) == {"Hạn cuối thứ Sáu."}
    assert (
        client.get("/exchange/submissions/remind/", {"period": p.pk}).context["preview"].to_remind
        == 0
    )
    # Only a Department reminds: the Ministry gets no confirmation page either.
    client.force_login(users["ministry"])
    assert client.get("/exchange/submissions/remind/", {"period": p.pk}).status_code == 403


def test_remind_says_when_no_e_mail_could_be_sent(
    client, users, tree, periods, django_capture_on_commit_callbacks
):
    p = start(periods)
    client.force_login(users["department"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/exchange/submissions/remind/", {"period": p.pk, "school": "01000102"}, follow=True
        )
    html = response.content.decode()
    assert "Đã nhắc nhở 1 trường" in html and "Đã gửi" not in html
    assert "1 trường chưa có người dùng nào khai báo e-mail" in html
    assert mail.outbox == []


@pytest.mark.usefixtures("audit_log_flushable")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_remind_reports_a_mail_server_failure(client, users, tree, periods, emails, monkeypatch):
    # A real commit, so the e-mails go out (and fail) before the page is answered, as in use.
    from vnemis.exchange import submission_reminders

    class Down:
        def send_messages(self, messages):
            raise OSError("connection refused")

    monkeypatch.setattr(submission_reminders, "get_connection", lambda: Down())
    client.force_login(users["department"])
    response = client.post(
        "/exchange/submissions/remind/", {"period": start(periods).pk, "school": "01000102"}
    )
    # The reminder is recorded (the school sees it); the page does not claim an e-mail.
    assert Reminder.objects.filter(school=tree["b"]).exists()
    stored = [str(m) for m in response.wsgi_request._messages]
    assert any("Không gửi được e-mail" in m for m in stored)
    assert not any("Đã gửi" in m for m in stored)


def test_submit_approve_return_and_reopen_ask_for_confirmation(client, users, tree, periods):
    p = start(periods)
    url = f"/exchange/submissions/school/01000101/{p.pk}/submit/"
    client.force_login(users["school"])
    page = client.post(url)
    html = page.content.decode()
    assert page.status_code == 200 and 'id="confirm-button"' in html
    assert "Xác nhận nộp báo cáo" in html and "<strong>1</strong> học sinh" in html
    assert "nộp muộn" in html  # the start of 2025-2026 is long past due
    sub = sub_of(tree["a"], p)
    assert sub.status == Status.DRAFT and not sub.events.exists()
    client.post(url, {"confirmed": "1"})
    sub = sub_of(tree["a"], p)
    assert sub.status == Status.SUBMITTED

    client.force_login(users["department"])
    page = client.post(f"/exchange/submissions/{sub.pk}/approve/")
    assert page.status_code == 200 and "Xác nhận duyệt" in page.content.decode()
    page = client.post(f"/exchange/submissions/{sub.pk}/return/", {"reason": "Thiếu lớp 3B"})
    html = page.content.decode()
    assert "Xác nhận trả lại" in html and 'id="confirm-reason">Thiếu lớp 3B<' in html
    assert 'name="reason" value="Thiếu lớp 3B"' in html
    assert sub_of(tree["a"], p).status == Status.SUBMITTED
    client.post(
        f"/exchange/submissions/{sub.pk}/return/", {"reason": "Thiếu lớp 3B", "confirmed": "1"}
    )
    assert sub_of(tree["a"], p).status == Status.RETURNED
    # A stale page: deciding again is refused at once, with no confirmation to click through.
    response = client.post(f"/exchange/submissions/{sub.pk}/approve/", follow=True)
    assert "đã được quyết định" in response.content.decode()

    sub = actions.submission_submit(actor=users["school"], submission=sub)
    sub = actions.submission_approve(actor=users["department"], submission=sub)
    page = client.post(f"/exchange/submissions/{sub.pk}/reopen/", {"reason": "Sai sĩ số"})
    assert "Xác nhận mở lại" in page.content.decode()
    assert sub_of(tree["a"], p).status == Status.APPROVED
    client.post(
        f"/exchange/submissions/{sub.pk}/reopen/", {"reason": "Sai sĩ số", "confirmed": "1"}
    )
    assert sub_of(tree["a"], p).status == Status.RETURNED


def test_history_names_people_and_their_organisation(client, users, tree, periods, pupils):
    school = users["school"]
    school.first_name = "Trần Văn Minh"
    school.save()
    sub = actions.submission_submit(actor=school, submission=sub_of(tree["a"], start(periods)))
    actions.submission_return(actor=users["department"], submission=sub, reason="Sửa")
    client.force_login(users["school"])
    html = school_page(client)
    assert "Trần Văn Minh (Trường Tiểu học Ba Đình)</span>:" in html
    assert "Sở GD&amp;ĐT Hà Nội (so_hn)</span>:" in html
    assert "truong_a</span>" not in html
    events = client.get(f"{API}/{sub.pk}").json()["events"]
    assert [(e["by"], e["by_name"]) for e in events] == [
        ("truong_a", "Trần Văn Minh (Trường Tiểu học Ba Đình)"),
        ("so_hn", "Sở GD&ĐT Hà Nội (so_hn)"),
    ]
    # An account tied to a person (a teacher) shows the person's name.
    teacher = (
        users["teacher"]
        .__class__.objects.select_related("person", "scope")
        .get(pk=users["teacher"].pk)
    )
    assert selectors.user_label(teacher) == "Phạm Thị Hoa (Trường Tiểu học Ba Đình)"
    assert selectors.user_label(None) == ""


def test_lateness_is_marked_on_every_page(client, users, tree, periods):
    p = start(periods)  # due 30/10/2025, long past on the 2026 clock
    days = (timezone.localdate() - p.due_on).days
    sub = actions.submission_submit(actor=users["school"], submission=sub_of(tree["a"], p))
    client.force_login(users["school"])
    html = school_page(client)
    assert f'data-late="submitted">Nộp muộn {days} ngày<' in html
    client.force_login(users["department"])
    response = client.get("/exchange/submissions/", {"period": p.pk})
    rows = {r["school"].code: r for r in response.context["rows"]}
    assert rows["01000101"]["submitted_late"] and rows["01000101"]["submitted_late_days"] == days
    assert rows["01000102"]["late"] and rows["01000102"]["overdue_days"] == days
    assert response.context["total"].submitted_late == 1
    html = response.content.decode()
    assert f"Quá hạn {days} ngày" in html and "1 trường nộp sau hạn" in html
    detail = client.get(f"/exchange/submissions/{sub.pk}/").content.decode()
    assert f"Nộp muộn {days} ngày" in detail
    body = client.get(f"{API}/{sub.pk}").json()
    assert (body["late"], body["submitted_late"]) == (False, True)
    # Submitted on time: not marked.
    term1 = set_dates(periods["end_of_term1"], opens_on=-5, as_of=-1, due_on=20)
    Submission.objects.filter(pk=sub_of(tree["a"], term1).pk).update(
        status=Status.SUBMITTED, submitted_at=timezone.now()
    )
    rows, _after = selectors.overview_schools(viewer=users["department"], period=term1)
    assert not any(r["submitted_late"] or r["late"] for r in rows)


def test_returned_submission_is_prominent_for_the_school(client, users, tree, periods):
    p = start(periods)
    sub = actions.submission_submit(actor=users["school"], submission=sub_of(tree["a"], p))
    actions.submission_return(
        actor=users["department"], submission=sub, reason="Thiếu sĩ số lớp 3A."
    )
    client.force_login(users["school"])
    html = school_page(client)
    summary = html[html.index('id="returned-summary"') :]
    assert f'href="#period-{p.pk}">Đầu năm học · 2025-2026</a>' in summary[:2000]
    block = html[html.index('class="alert alert-danger return-reason"') :][:1500]
    assert "Thiếu sĩ số lớp 3A." in block and "Sở GD&amp;ĐT Hà Nội (so_hn)" in block
    assert 'class="card mb-3 border-danger" id="period-' in html
    assert "Nộp lại báo cáo" in html


def test_counts_say_what_they_count_and_agree_between_pages(
    client, users, tree, school_year, periods
):
    from vnemis.exchange.submission_checks import counts_at, counts_of, reference_date

    b = tree["b"]
    _dropped_out_on_1_november(b, school_year, "7B")
    # On the roll on 30/09 (start of year) but gone by the end of term I.
    for p in periods.values():
        many = counts_of(school_ids=[b.pk], period=p)[b.pk]
        one = counts_at(school_id=b.pk, wanted=[(p, reference_date(p))])[p.pk]
        assert many == one
    assert counts_of(school_ids=[b.pk], period=start(periods))[b.pk]["pupils"] == 2
    assert counts_of(school_ids=[b.pk], period=periods["end_of_term1"])[b.pk]["pupils"] == 1
    client.force_login(users["department"])
    html = client.get("/exchange/submissions/", {"period": start(periods).pk}).content.decode()
    assert "tính đến ngày 30/09/2025" in html
    assert "kể cả học sinh chuyển đi hoặc thôi học sau ngày đó" in html
    actions.submission_submit(actor=users["school"], submission=sub_of(tree["a"], start(periods)))
    client.force_login(users["school"])
    html = school_page(client)
    assert "Số liệu đã nộp · tính đến ngày 30/09/2025" in html
    assert "học sinh đang học” hôm nay trên trang chủ" in html


def test_layout_captions_above_tables_and_title_said_once(client, users, tree, periods):
    import re

    p = start(periods)
    actions.submission_submit(actor=users["school"], submission=sub_of(tree["a"], p))
    client.force_login(users["department"])
    pages = [
        client.get("/exchange/submissions/", {"period": p.pk}).content.decode(),
        client.get(f"/exchange/submissions/{sub_of(tree['a'], p).pk}/").content.decode(),
        school_page(client),
    ]
    client.force_login(users["ministry"])
    pages.append(client.get("/exchange/submissions/", {"period": p.pk}).content.decode())
    for html in pages:
        captions = re.findall(r"<caption[^>]*>", html)
        assert captions and all("caption-top" in c for c in captions)
    # The commune table scrolls vertically only, in a full-width section.
    overview = pages[0]
    assert 'style="max-height: 24rem; overflow-y: auto"' in overview
    assert 'class="col-lg-6"' not in overview
    client.force_login(users["school"])
    assert main_of(school_page(client)).count("Báo cáo định kỳ") == 1


def test_periods_demo_puts_schools_through_the_workflow(users, tree, school_year, capsys):
    fix_school_b(tree, school_year)
    for e in Enrolment.objects.filter(school__in=[tree["a"], tree["b"]]):
        ResultSummary.objects.create(
            enrolment=e, period="year", outcome="promoted", province_code="01"
        )
    args = ["--school", "01000101", "--department-user", "so_hn", "--school-user", "truong_a"]
    call_command("periods", "demo", *args)
    out = capsys.readouterr().out
    assert "1 approved" in out and "01000101 returned with a reason" in out
    # On the 2026 clock the period being collected for 2025-2026 is the end of year.
    p = ReportingPeriod.objects.get(school_year=school_year, kind="end_of_year")
    a, b = sub_of(tree["a"], p), sub_of(tree["b"], p)
    assert a.status == Status.RETURNED and a.return_reason and a.decided_by == users["department"]
    assert b.status == Status.APPROVED
    # Dated around the due date, not at the moment the demo was made.
    assert timezone.localdate(b.submitted_at) < p.due_on
    assert b.events.get(to_status="submitted").at == b.submitted_at
    assert selectors.user_label(b.submitted_by).endswith("(Trường THCS Sóc Sơn)")
    reminder = Reminder.objects.get(school=tree["a"])
    assert reminder.note and reminder.sent_on > p.due_on
    # Run again: the year has periods, nothing is touched.
    call_command("periods", "demo", *args)
    assert "already there" in capsys.readouterr().out
    assert Submission.objects.exclude(status="draft").count() == 2
