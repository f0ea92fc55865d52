"""Fixtures of the exam tests: upper-secondary schools, a 2026 session open for registration,
grade-12 pupils with their three years of results in the registry, and one user per role."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from conftest import make_pupil
from django.utils import timezone

from vnemis.exams import actions
from vnemis.orgs.actions import organisation_create
from vnemis.orgs.models import User
from vnemis.registry import actions as registry_actions
from vnemis.registry.models import Enrolment, SchoolYear, Subject, SubjectResult


@pytest.fixture(autouse=True)
def vietnamese():
    """Messages in Vietnamese, whatever language an earlier page request left active."""
    from django.utils import translation

    with translation.override("vi"):
        yield


@pytest.fixture
def high_schools(tree, geo):
    common = {"kind": "school", "ownership": "public", "opened_on": date(1990, 9, 1),
              "level": "upper_secondary"}  # fmt: skip
    return {
        "hn1": organisation_create(
            code="01000201", name="Trường THPT Chu Văn An", parent=tree["so_hn"],
            province=geo["hn"], commune=geo["hn_ward"], **common,
        ),
        "hn2": organisation_create(
            code="01000202", name="Trường THPT Sóc Sơn", parent=tree["so_hn"],
            province=geo["hn"], commune=geo["hn_commune"], **common,
        ),
        "dn": organisation_create(
            code="48000201", name="Trường THPT Phan Châu Trinh", parent=tree["so_dn"],
            province=geo["dn"], commune=geo["dn_ward"], **common,
        ),
    }  # fmt: skip


@pytest.fixture
def exam_users(tree, high_schools):
    make = User.objects.create_user
    return {
        "ministry": make("bo_thi", password="pw", role="ministry", scope=tree["moet"]),
        "so_hn": make("so_thi_hn", password="pw", role="department", scope=tree["so_hn"]),
        "so_dn": make("so_thi_dn", password="pw", role="department", scope=tree["so_dn"]),
        "hn1": make("thpt_hn1", password="pw", role="school", scope=high_schools["hn1"]),
        "hn2": make("thpt_hn2", password="pw", role="school", scope=high_schools["hn2"]),
        "dn": make("thpt_dn", password="pw", role="school", scope=high_schools["dn"]),
    }


@pytest.fixture
def exam_session(school_year):
    now = timezone.now()
    return actions.session_create(
        actor=None,
        year=2026,
        school_year=school_year,
        registration_opens_at=now - timedelta(days=1),
        registration_closes_at=now + timedelta(days=10),
        results_publish_at=now + timedelta(days=30),
    )


_YEARS = {10: "2023-2024", 11: "2024-2025"}


def give_year_results(person, school, grade: int, scores: dict[str, str]) -> None:
    """Year results of a grade-10 or 11 enrolment (a finished year) or of the current one."""
    if grade == 12:
        enrolment = Enrolment.objects.get(pupil=person, school_class__grade=12)
    else:
        year = registry_actions.school_year_get_or_create(code=_YEARS[grade])
        cls = registry_actions.school_class_get_or_create(
            school=school, school_year=year, grade=grade, name=f"{grade}A"
        )
        enrolment = Enrolment.objects.create(
            pupil=person, school_class=cls, school=school, school_year=year,
            status="completed", started_on=year.starts_on, ended_on=year.ends_on,
            province_code=cls.province_code,
        )  # fmt: skip
    for code, score in scores.items():
        SubjectResult.objects.create(
            enrolment=enrolment, subject=Subject.objects.get(code=code), period="year",
            score=Decimal(score), province_code=enrolment.province_code,
        )  # fmt: skip
    # A comment-assessed subject never counts in the average.
    SubjectResult.objects.create(
        enrolment=enrolment, subject=Subject.objects.get(code="GDTC"), period="year",
        rating="D", province_code=enrolment.province_code,
    )  # fmt: skip


def grade12(school, school_year, name: str, birth: date, *, sex="M", serial: int = 1):
    from vnemis.registry.citizen_id import make_citizen_id

    cid = make_citizen_id(province3="001", birth_date=birth, sex=sex, serial=serial)
    return make_pupil(
        school=school, school_year=school_year, grade=12, class_name="12A1",
        full_name=name, birth_date=birth, sex=sex, citizen_id=cid,
    )  # fmt: skip


@pytest.fixture
def seniors(high_schools, school_year):
    """Three pupils at Hà Nội school 1, one at school 2, one in Đà Nẵng (all grade 12)."""
    hn1, hn2, dn = high_schools["hn1"], high_schools["hn2"], high_schools["dn"]
    return {
        "an": grade12(hn1, school_year, "Nguyễn Văn An", date(2008, 3, 1), serial=11),
        "binh": grade12(hn1, school_year, "Trần Thị Bình", date(2008, 5, 2), sex="F", serial=12),
        "chi": grade12(hn1, school_year, "Lê Thị Chi", date(2008, 7, 3), sex="F", serial=13),
        "dung": grade12(hn2, school_year, "Phạm Văn Dũng", date(2008, 1, 4), serial=14),
        "em": grade12(dn, school_year, "Hoàng Văn Em", date(2008, 2, 5), serial=15),
    }


@pytest.fixture
def registered(exam_session, seniors):
    """Every grade-12 pupil registered (by the operator) with electives LY and HOA."""
    actions.candidates_register_school(actor=None, session=exam_session)
    from vnemis.exams.models import Candidate

    out = {}
    for key, person in seniors.items():
        c = Candidate.objects.get(session=exam_session, person=person)
        actions.candidate_subjects_set(actor=None, candidate=c, electives=["LY", "HOA"])
        out[key] = c
    return out


def past(session, **delta) -> None:
    """Move the session's publication time into the past (results become public)."""
    from vnemis.exams.models import ExamSession

    ExamSession.objects.filter(pk=session.pk).update(
        results_publish_at=timezone.now() - timedelta(minutes=1),
        registration_closes_at=timezone.now() - timedelta(days=1),
        registration_opens_at=timezone.now() - timedelta(days=20),
    )
    session.refresh_from_db()


__all__ = ["SchoolYear", "give_year_results", "grade12", "past"]
