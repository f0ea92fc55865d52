"""The set-wise SQL of the exam on PostgreSQL: registration, seating, import, graduation, look-up.

Run with ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/vnemis_exams``; skipped on SQLite
(every other test of this folder runs on both).
"""

from decimal import Decimal

import pytest
from django.db import connection

from vnemis.exams import actions, actions_results, actions_rooms
from vnemis.exams.imports import exam_import_file
from vnemis.exams.lookup import lookup_by_number
from vnemis.exams.models import Candidate, CandidateSubject

from .conftest import give_year_results, past

pytestmark = pytest.mark.postgres


def test_whole_flow_on_postgres(exam_session, seniors, high_schools, tmp_path, settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/...")
    settings.VAR_DIR = tmp_path / "var"
    created = actions.candidates_register_school(actor=None, session=exam_session, chunk_size=1)
    assert created.created == 5
    assert CandidateSubject.objects.filter(candidate__session=exam_session).count() == 10
    assert actions.candidates_identity_refresh(session=exam_session) == 5
    an = Candidate.objects.get(person=seniors["an"])
    actions.candidate_subjects_set(actor=None, candidate=an, electives=["LY", "HOA"])
    actions_rooms.venues_from_units(actor=None, session=exam_session, province_code="01")
    seating = actions_rooms.seating_assign(actor=None, session=exam_session, province_code="01")
    assert seating.numbered == 4
    an.refresh_from_db()
    assert an.candidate_number == "01000001" and an.room_id
    for grade in (10, 11, 12):
        give_year_results(an.person, high_schools["hn1"], grade, {"TOAN": "8", "VAN": "7.5"})
    path = tmp_path / "diem.csv"
    path.write_text("SBD,Mã môn,Điểm\n01000001,TOAN,8.25\n01000001,VAN,7\n01000001,LY,6.75\n"
                    "01000001,HOA,9\n01000001,HOA,9\n", encoding="utf-8")  # fmt: skip
    job = exam_import_file(path, actor=None, session=exam_session, kind="scores")
    assert (job.inserted, job.rows_rejected) == (3, 2)  # HOA twice: both copies refused
    path.write_text("SBD,Mã môn,Điểm\n01000001,TOAN,8.25\n01000001,VAN,7\n01000001,LY,6.75\n"
                    "01000001,HOA,9\n", encoding="utf-8")  # fmt: skip
    fixed = exam_import_file(path, actor=None, session=exam_session, kind="scores")
    assert (fixed.inserted, fixed.unchanged) == (1, 3)
    assert exam_import_file(path, actor=None, session=exam_session, kind="scores").no_changes
    actions_results.session_graduate(actor=None, session=exam_session, chunk_size=2)
    an.refresh_from_db()
    # exam 31/4 = 7.75; years 7.75 each → three-year 7.75; graduation 7.75
    assert (an.graduation_score, an.result) == (Decimal("7.75"), "passed")
    assert actions_results.session_publish(actor=None, session=exam_session) == 4
    past(exam_session)
    assert lookup_by_number(year=2026, candidate_number="01000001").graduation_score == Decimal(
        "7.75"
    )
