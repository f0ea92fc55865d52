"""Fixtures of the admission tests: the exam's candidates with scores, a round open for
wishes, two institutions with programmes, and accounts for each role."""
# ruff: noqa: F811 (the exam fixtures are imported to be used as fixtures here)

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from exams.conftest import (  # noqa: F401 (fixtures)
    exam_session,
    exam_users,
    high_schools,
    registered,
    seniors,
    vietnamese,
)
from payments.conftest import live_gateway, paysim  # noqa: F401 (fixtures)

from vnemis.admissions.models import Institution
from vnemis.admissions.setup import ProgrammeSpec, programme_save, round_create
from vnemis.exams.models import Candidate, ExamSubject, Score
from vnemis.orgs.actions import organisation_create
from vnemis.orgs.models import User

# Exam scores per candidate (TOAN, VAN, LY, HOA, N1, SINH as given).
SCORES = {
    "an": {"TOAN": "9", "VAN": "7", "LY": "8.5", "HOA": "8", "N1": "9.5"},
    "binh": {"TOAN": "8", "VAN": "8.5", "LY": "7", "HOA": "9", "N1": "8"},
    "chi": {"TOAN": "6", "VAN": "9", "LY": "5", "HOA": "5.5", "N1": "7"},
    "dung": {"TOAN": "9.25", "VAN": "6", "LY": "9", "HOA": "9"},
    "em": {"TOAN": "3", "VAN": "4", "LY": "2", "HOA": "3"},
}


def scores_give(candidate: Candidate, scores: dict[str, str]) -> None:
    subjects = {s.code: s for s in ExamSubject.objects.all()}
    for code, value in scores.items():
        Score.objects.update_or_create(
            candidate=candidate, subject=subjects[code], defaults={"score": Decimal(value)}
        )


@pytest.fixture
def candidates(registered):
    """Every candidate scored and graduated (Em has not graduated)."""
    for key, candidate in registered.items():
        scores_give(candidate, SCORES[key])
        Candidate.objects.filter(pk=candidate.pk).update(
            result="failed" if key == "em" else "passed"
        )
    return registered


@pytest.fixture
def admission_round(exam_session, settings):
    settings.VNEMIS_ADMISSION_FEE_PER_WISH = 20_000
    now = timezone.now()
    return round_create(
        actor=None, year=2026, name="Xét tuyển đại học 2026",
        wishes_open_at=now - timedelta(days=1), wishes_close_at=now + timedelta(days=5),
        confirm_by=now + timedelta(days=20),
    )  # fmt: skip


@pytest.fixture
def universities(tree):
    common = {"kind": "university", "opened_on": timezone.localdate() - timedelta(days=9000)}
    return {
        "bka": organisation_create(code="BKA", name="Đại học Bách khoa Hà Nội", parent=tree["moet"], **common),
        "qhi": organisation_create(code="QHI", name="Trường Đại học Công nghệ", parent=tree["moet"], **common),
    }  # fmt: skip


@pytest.fixture
def institutions(universities):
    return {
        "bka": Institution.objects.create(code="BKA", name="Đại học Bách khoa Hà Nội", organisation=universities["bka"]),
        "qhi": Institution.objects.create(code="QHI", name="Trường Đại học Công nghệ", organisation=universities["qhi"]),
    }  # fmt: skip


@pytest.fixture
def programmes(admission_round, institutions):
    """BKA-IT1 (2 places, A00/A01, maths ×2), BKA-EE1 (1 place), QHI-CN1 (2 places, D01)."""
    specs = {
        "it": (institutions["bka"], ProgrammeSpec(
            code="BKA-IT1", name="Khoa học máy tính", quotas={"exam": 2, "transcript": 1},
            combinations=["A00", "A01"], weights={"TOAN": 2}, threshold=2000)),
        "ee": (institutions["bka"], ProgrammeSpec(
            code="BKA-EE1", name="Kỹ thuật điện", quotas={"exam": 1},
            combinations=["A00"], threshold=1800, ties="none")),
        "cn": (institutions["qhi"], ProgrammeSpec(
            code="QHI-CN1", name="Công nghệ thông tin", quotas={"exam": 2},
            combinations=["D01", "A01"], threshold=1500)),
    }  # fmt: skip
    return {
        key: programme_save(actor=None, round_=admission_round, institution=inst, spec=spec)
        for key, (inst, spec) in specs.items()
    }


@pytest.fixture
def admission_users(tree, universities, exam_users, candidates):
    make = User.objects.create_user
    users = dict(exam_users)
    users["bka"] = make("ts_bka", password="pw", role="school", scope=universities["bka"])
    users["qhi"] = make("ts_qhi", password="pw", role="school", scope=universities["qhi"])
    for key, candidate in candidates.items():
        users[f"ts_{key}"] = make(
            f"thisinh_{key}", password="pw", role="citizen", person=candidate.person
        )
    return users  # fmt: skip
