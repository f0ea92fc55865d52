"""``vnemis demo --no-serve``: sets up data and one log-in per role, and a rerun reuses them; the
demo's school year is the one containing today, cut at today, with its reporting periods and a
few schools already through the submission workflow."""

from datetime import date, timedelta

import polars as pl
import pytest
from django.core.management import call_command, get_commands
from django.test import Client
from django.utils import timezone

from vnemis.exchange.models import Reminder, ReportingPeriod, Submission
from vnemis.orgs.models import ApiToken, User
from vnemis.orgs.scope import person_ids_in_scope
from vnemis.registry.demo import dataset_as_of, dataset_as_of_date, school_year_start
from vnemis.registry.management.commands.demo import DEMO_NAMES, DEMO_PASSWORD
from vnemis.registry.models import Enrolment, Person, ResultSummary, SchoolYear, SubjectResult

needs_generator = pytest.mark.skipif(
    "generate" not in get_commands(), reason="the generator is not installed"
)


def test_school_year_start():
    assert school_year_start(date(2026, 12, 2)) == 2026
    assert school_year_start(date(2026, 9, 1)) == 2026
    assert school_year_start(date(2026, 8, 31)) == 2025
    assert school_year_start(date(2027, 1, 15)) == 2026


@needs_generator
def test_demo_sets_up_and_reuses(db, settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    args = ["demo", "--no-serve", "--schools", "3", "--students", "400"]
    call_command(*args)
    out = capsys.readouterr().out
    assert "giaovien" in out and DEMO_PASSWORD in out
    enrolments = Enrolment.objects.filter(province_code="01").count()
    assert enrolments > 0
    users = {u.username: u for u in User.objects.all()}
    for name in ("bo", "so", "truong", "giaovien", "hethong", "congdan"):
        assert users[name].check_password(DEMO_PASSWORD)
    for name, full in DEMO_NAMES.items():
        assert users[name].get_full_name() == full
    teacher = users["giaovien"]
    assert teacher.person.homeroom_classes.exists()
    assert Person.objects.filter(
        id__in=person_ids_in_scope(teacher), id=users["congdan"].person_id
    ).exists()
    assert ApiToken.objects.filter(user=users["hethong"], revoked_at=None).count() == 1

    # The school year containing today, and nothing in it after today.
    today = timezone.localdate()
    year = SchoolYear.objects.get(is_current=True)
    assert year.start_year == school_year_start(today)
    assert not Enrolment.objects.exclude(school_year=year).exists()
    assert not Enrolment.objects.filter(started_on__gt=today).exists()
    assert not Enrolment.objects.filter(ended_on__gt=today).exists()
    term1_over = today >= date(year.start_year + 1, 1, 15)
    year_over = today >= date(year.start_year + 1, 5, 31)
    assert SubjectResult.objects.filter(period="term1").exists() == term1_over
    assert ResultSummary.objects.filter(period="year").exists() == year_over

    # Its reporting periods with the Circular 25/2024 dates, end of term I our own.
    y = year.start_year
    periods = {p.kind: p for p in ReportingPeriod.objects.filter(school_year=year)}
    s, t, e = periods["start_of_year"], periods["end_of_term1"], periods["end_of_year"]
    assert (s.as_of, s.due_on) == (date(y, 9, 30), date(y, 10, 30))
    assert (e.as_of, e.due_on) == (date(y + 1, 5, 31), date(y + 1, 6, 30))
    due_days = settings.VNEMIS_TERM1_REPORT_DUE_DAYS
    assert (t.as_of, t.due_on) == (date(y + 1, 1, 15), date(y + 1, 1, 15) + timedelta(due_days))
    # A few schools through the workflow; the demo school returned with a reason.
    demo_school = users["truong"].scope
    statuses = dict(
        Submission.objects.exclude(status="draft").values_list("school__code", "status")
    )
    assert statuses[demo_school.code] == "returned"
    assert "approved" in statuses.values()
    returned = Submission.objects.get(school=demo_school, status="returned")
    assert returned.return_reason and returned.decided_by == users["so"]
    if returned.period.due_on < today:  # late: reminded, in the app
        assert Reminder.objects.filter(school=demo_school).exists()

    # The pages show it: no "no period yet", the school sees the reason and who returned it.
    client = Client()
    client.force_login(users["so"])
    html = client.get("/exchange/submissions/").content.decode()
    assert "Chưa có kỳ báo cáo" not in html and 'id="fig-total"' in html
    client.force_login(users["truong"])
    html = client.get(f"/exchange/submissions/school/{demo_school.code}/").content.decode()
    assert returned.return_reason in html and "Nguyễn Thị Lan (" in html

    persons = Person.objects.count()
    submissions = list(Submission.objects.values_list("id", "status").order_by("id"))
    call_command(*args)
    out = capsys.readouterr().out
    assert "already loaded" in out and "already there" in out
    assert Person.objects.count() == persons
    assert list(Submission.objects.values_list("id", "status").order_by("id")) == submissions
    # A new raw token each run; the old one is revoked, never shown again.
    assert ApiToken.objects.filter(user=users["hethong"], revoked_at=None).count() == 1


@needs_generator
def test_dataset_is_cut_at_today(tmp_path):
    directory = tmp_path / "data"
    call_command(
        "generate",
        "--out",
        str(directory),
        "--provinces",
        "01",
        "--schools",
        "4",
        "--students",
        "600",
        "--seed",
        "7",
        "--year",
        "2026",
        "--no-progress",
    )
    whole = {n: pl.read_parquet(directory / f"{n}.parquet") for n in ("enrolments", "pupils")}
    arrive_later = whole["enrolments"].filter(pl.col("started_on") > date(2026, 12, 2))
    leave_later = whole["enrolments"].filter(pl.col("ended_on") > date(2026, 12, 2))
    assert arrive_later.height and leave_later.height  # the generator writes the whole year

    counts = dataset_as_of(directory, year=2026, today=date(2026, 12, 2))
    assert dataset_as_of_date(directory) == date(2026, 12, 2)
    enrolments = pl.read_parquet(directory / "enrolments.parquet")
    assert enrolments.filter(pl.col("started_on") > date(2026, 12, 2)).height == 0
    assert enrolments.filter(pl.col("ended_on") > date(2026, 12, 2)).height == 0
    # Who would leave later is still studying; who would arrive later is not there at all.
    stay = enrolments.join(
        leave_later.select("school_code", "pupil_code"), on=["school_code", "pupil_code"]
    )
    assert set(stay["status"]) <= {"studying", "transferred_in", "repeating"}
    assert counts["enrolments"] == whole["enrolments"].height - arrive_later.height
    pupils = pl.read_parquet(directory / "pupils.parquet")
    assert pupils.height == counts["pupils"] == counts["enrolments"]
    assert counts["subject_results"] == counts["result_summaries"] == 0  # term I not over
    health = pl.read_parquet(directory / "health_records.parquet")
    assert health.filter(pl.col("measured_on") > date(2026, 12, 2)).height == 0
    staff = pl.read_parquet(directory / "staff.parquet")
    assert staff.filter(pl.col("starts_on") > date(2026, 12, 2)).height == 0


@needs_generator
def test_dataset_after_term_one_keeps_term_one_results_only(tmp_path):
    directory = tmp_path / "data"
    call_command(
        "generate",
        "--out",
        str(directory),
        "--provinces",
        "01",
        "--schools",
        "3",
        "--students",
        "300",
        "--seed",
        "3",
        "--year",
        "2026",
        "--no-progress",
    )
    dataset_as_of(directory, year=2026, today=date(2027, 2, 1))
    periods = set(pl.read_parquet(directory / "subject_results.parquet")["period"])
    assert periods == {"term1"}
    assert set(pl.read_parquet(directory / "result_summaries.parquet")["period"]) == {"term1"}
