"""Graduation for the whole session, yearly averages (registry first, imports for the gaps),
publication and its time gate, the look-up table, re-marking appeals with history."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from vnemis.core.crypto import blind_index
from vnemis.exams import actions_claims, actions_results, actions_rooms, hooks
from vnemis.exams.imports import exam_import_file
from vnemis.exams.lookup import citizen_key, lookup_by_citizen_id, lookup_by_number
from vnemis.exams.models import (
    Candidate,
    ExamResultLookup,
    ExamSession,
    Score,
    ScoreChange,
    YearAverage,
)
from vnemis.registry.citizen_id import make_citizen_id

from .conftest import give_year_results, past

# An: three years in the registry; 10: (7 + 8)/2 = 7.5, 11: 8.0, 12: 8.25 (8.5 + 8.0)/2.
YEARS = {10: {"TOAN": "7.0", "VAN": "8.0"}, 11: {"TOAN": "8.0", "VAN": "8.0"},
         12: {"TOAN": "8.5", "VAN": "8.0"}}  # fmt: skip


@pytest.fixture
def scored(exam_session, registered, high_schools, settings, tmp_path):
    """Everyone numbered; An with registry years and four scores; Bình with only three."""
    settings.VAR_DIR = tmp_path / "var"
    for province in ("01", "48"):
        actions_rooms.venues_from_units(actor=None, session=exam_session, province_code=province)
        actions_rooms.seating_assign(actor=None, session=exam_session, province_code=province)
    an = registered["an"]
    for grade, scores in YEARS.items():
        give_year_results(an.person, high_schools["hn1"], grade, scores)
    path = tmp_path / "diem.csv"
    path.write_text(
        "SBD,Mã môn,Điểm\n01000001,TOAN,8.5\n01000001,VAN,7.75\n01000001,LY,9\n01000001,HOA,8.25\n"
        "01000002,TOAN,4\n01000002,VAN,5\n01000002,LY,6\n",
        encoding="utf-8",
    )
    exam_import_file(path, actor=None, session=exam_session, kind="scores")
    return registered


def _refresh(c):
    c.refresh_from_db()
    return c


def test_graduate_whole_session(exam_session, scored):
    result = actions_results.session_graduate(actor=None, session=exam_session, chunk_size=2)
    an = _refresh(scored["an"])
    # three-year (7.5 + 16 + 24.75)/6 = 8.0417; exam 33.5/4 = 8.375; (8.375 + 8.0417)/2 = 8.21
    assert an.three_year_average == Decimal("8.04")
    assert (an.graduation_score, an.result) == (Decimal("8.21"), "passed")
    averages = {a.grade: (a.average, a.source) for a in an.year_averages.all()}
    assert averages == {10: (Decimal("7.50"), "registry"), 11: (Decimal("8.00"), "registry"),
                        12: (Decimal("8.25"), "registry")}  # fmt: skip
    binh = _refresh(scored["binh"])
    assert (binh.result, binh.result_reason, binh.graduation_score) == (
        "incomplete", "missing_score", None,
    )  # fmt: skip
    assert result.results == {"passed": 1, "incomplete": 4}
    assert result.changed == 5
    again = actions_results.session_graduate(actor=None, session=exam_session)
    assert again.changed == 0


def test_imported_averages_fill_the_gaps_but_never_override(exam_session, scored, tmp_path):
    binh = scored["binh"]
    path = tmp_path / "tb.csv"
    ids = (binh.person.education_id, scored["an"].person.education_id)
    path.write_text(
        "Mã định danh,Lớp,Điểm trung bình\n"
        f"{ids[0]},10,6.5\n{ids[0]},11,7\n{ids[0]},12,7.25\n{ids[1]},10,9\n{ids[0]},13,7\n",
        encoding="utf-8",
    )
    actions_results.session_graduate(actor=None, session=exam_session)  # registry collected
    job = exam_import_file(path, actor=None, session=exam_session, kind="averages")
    assert (job.inserted, job.rows_rejected) == (3, 2)
    assert {c["code"] for c in job.causes} == {"registry_has_average", "bad_grade"}
    assert YearAverage.objects.get(candidate=scored["an"], grade=10).average == Decimal("7.50")
    Score.objects.create(candidate=binh, subject=Score.objects.filter(candidate=binh).first()
                         .subject.__class__.objects.get(code="HOA"), score=Decimal("5"))  # fmt: skip
    actions_results.session_graduate(actor=None, session=exam_session)
    binh = _refresh(binh)
    # exam 20/4 = 5; three-year (6.5 + 14 + 21.75)/6 = 7.0417; (5 + 7.0417)/2 = 6.02
    assert (binh.graduation_score, binh.result) == (Decimal("6.02"), "passed")


def test_exemption_and_points_reach_the_result(exam_session, scored):
    an = scored["an"]
    actions_claims.claim_add(
        actor=None, candidate=an, kind="priority", code="ethnic_minority", document_number="1",
        issuer="UBND", issued_on=date(2024, 1, 1),
    )  # fmt: skip
    actions_results.session_graduate(actor=None, session=exam_session)
    assert _refresh(an).graduation_score == Decimal("8.46")  # 8.2083 + 0.25


def test_publication_is_gated(exam_session, scored, exam_users):
    with pytest.raises(ValidationError) as exc:  # not graduated yet
        actions_results.session_publish(actor=None, session=exam_session)
    assert exc.value.code == "results_stale"
    actions_results.session_graduate(actor=None, session=exam_session)
    with pytest.raises(PermissionDenied):
        actions_results.session_publish(actor=exam_users["so_hn"], session=exam_session)
    # A score changed after graduation makes the results stale again.
    ExamSession.objects.filter(pk=exam_session.pk).update(
        inputs_changed_at=timezone.now() + timedelta(seconds=1)
    )
    exam_session.refresh_from_db()
    with pytest.raises(ValidationError):
        actions_results.session_publish(actor=None, session=exam_session)
    actions_results.session_graduate(actor=None, session=exam_session, now=timezone.now() +
                                     timedelta(seconds=2))  # fmt: skip
    exam_session.refresh_from_db()
    assert actions_results.session_publish(actor=None, session=exam_session) == 5
    # Built, but the publication time is still ahead: the look-up answers nothing.
    assert lookup_by_number(year=2026, candidate_number="01000001") is None
    past(exam_session)
    row = lookup_by_number(year=2026, candidate_number="01000001")
    assert (row.full_name, row.graduation_score, row.result) == (
        "Nguyễn Văn An", Decimal("8.21"), "passed",
    )  # fmt: skip
    assert row.scores == {"TOAN": "8.50", "VAN": "7.75", "LY": "9.00", "HOA": "8.25"}


def test_lookup_holds_no_citizen_id(exam_session, scored):
    actions_results.session_graduate(actor=None, session=exam_session)
    actions_results.session_publish(actor=None, session=exam_session)
    past(exam_session)
    an = scored["an"].person
    cid = make_citizen_id(province3="001", birth_date=an.birth_date, sex="M", serial=11)
    row = lookup_by_citizen_id(year=2026, citizen_id=cid)
    assert row is not None and row.candidate_number == "01000001"
    assert row.citizen_key == citizen_key(year=2026, citizen_id=cid)
    assert row.citizen_key != blind_index(cid)  # not the registry's own index
    for values in ExamResultLookup.objects.values():
        assert cid not in str(values)
    assert lookup_by_citizen_id(year=2026, citizen_id="001208999999") is None


def test_appeal_changes_score_result_and_lookup_with_history(
    exam_session, scored, exam_users, django_capture_on_commit_callbacks
):
    binh = scored["binh"]
    # Bình's missing paper arrives; 4 + 5 + 6 + 1.0 → a paper at the floor: failed.
    Score.objects.create(
        candidate=binh, subject=binh.subjects.get(subject__code="HOA").subject, score=Decimal("1")
    )
    for grade in (10, 11, 12):
        YearAverage.objects.create(candidate=binh, grade=grade, average=Decimal("6"),
                                   source="imported")  # fmt: skip
    actions_results.session_graduate(actor=None, session=exam_session)
    actions_results.session_publish(actor=None, session=exam_session)
    assert _refresh(binh).result == "failed"
    with pytest.raises(ValidationError):  # before publication time: no appeals
        actions_results.appeal_file(actor=exam_users["hn1"], candidate=binh, subject_code="HOA")
    past(exam_session)
    heard = []
    hooks.scores_changed_subscribe(heard.append)
    try:
        appeal = actions_results.appeal_file(
            actor=exam_users["hn1"], candidate=_refresh(binh), subject_code="hoa",
            note="Em làm đúng câu 3",
        )  # fmt: skip
        with pytest.raises(ValidationError):  # one pending appeal per paper
            actions_results.appeal_file(actor=None, candidate=binh, subject_code="HOA")
        with pytest.raises(PermissionDenied):  # the other council decides nothing here
            actions_results.appeal_decide(
                actor=exam_users["so_dn"], appeal=appeal, new_score="6", reason="x"
            )
        with pytest.raises(ValidationError):
            actions_results.appeal_decide(actor=exam_users["so_hn"], appeal=appeal,
                                          new_score="6.333", reason="Chấm lại")  # fmt: skip
        with pytest.raises(ValidationError):
            actions_results.appeal_decide(actor=exam_users["so_hn"], appeal=appeal,
                                          new_score="6", reason=" ")  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            decided = actions_results.appeal_decide(
                actor=exam_users["so_hn"], appeal=appeal, new_score="6,25",
                reason="Chấm sót câu 3",
            )  # fmt: skip
    finally:
        hooks.scores_changed_unsubscribe(heard.append)
    assert (decided.status, decided.old_score, decided.new_score) == (
        "decided", Decimal("1.00"), Decimal("6.25"),
    )  # fmt: skip
    change = ScoreChange.objects.get(kind="appeal")
    assert (change.old_score, change.new_score, change.changed_by) == (
        Decimal("1.00"), Decimal("6.25"), exam_users["so_hn"],
    )  # fmt: skip
    assert change.reason == "Chấm sót câu 3" and change.appeal == decided
    binh = _refresh(binh)
    # exam 21.25/4 = 5.3125; years 6; (5.3125 + 6)/2 = 5.656 → 5.66: passed now.
    assert (binh.graduation_score, binh.result) == (Decimal("5.66"), "passed")
    row = lookup_by_number(year=2026, candidate_number=binh.candidate_number)
    assert (row.scores["HOA"], row.result, row.graduation_score) == (
        "6.25", "passed", Decimal("5.66"),
    )  # fmt: skip
    assert heard == [[binh.pk]]
    with pytest.raises(ValidationError):  # decided once
        actions_results.appeal_decide(actor=None, appeal=decided, new_score="7", reason="x")


def test_cli_graduate_publish_and_appeal(exam_session, scored, capsys):
    from django.core.management import call_command

    call_command("exams", "graduate", "--year", "2026")
    assert "đỗ / passed: 1" in capsys.readouterr().out
    call_command("exams", "publish")
    past(exam_session)
    call_command("exams", "appeal", "--candidate", "01000001", "--subject", "TOAN", "--score",
                 "9", "--reason", "Chấm lại")  # fmt: skip
    out = capsys.readouterr().out
    assert "8.50 → 9.00" in out
    assert Candidate.objects.get(candidate_number="01000001").graduation_score == Decimal("8.27")
