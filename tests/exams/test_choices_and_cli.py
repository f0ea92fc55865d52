"""The subject-choices import, the hook's guarantees, and the CLI from session to seats."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from vnemis.exams import hooks
from vnemis.exams.imports import exam_import_file
from vnemis.exams.models import Candidate, ExamSession, Room


def _choices(tmp_path, rows: str):
    path = tmp_path / "dang_ky.csv"
    path.write_text("Mã định danh,Môn tự chọn 1,Môn tự chọn 2\n" + rows, encoding="utf-8")
    return path


def test_choices_import(exam_session, registered, tmp_path, settings, exam_users):
    settings.VAR_DIR = tmp_path / "var"
    an, binh, chi, dung = (registered[k] for k in ("an", "binh", "chi", "dung"))
    rows = (
        f"{an.person.education_id},SU,dia\n"  # valid, changes LY/HOA
        f"{binh.person.education_id},LY,HOA\n"  # unchanged
        f"{chi.person.education_id},N1,N2\n"  # two languages
        f"{dung.person.education_id},SU,DIA\n"  # another school's pupil
        "000000000000,SU,DIA\n"
    )
    job = exam_import_file(
        _choices(tmp_path, rows), actor=exam_users["hn1"], session=exam_session, kind="choices"
    )
    assert (job.updated, job.unchanged, job.rows_rejected) == (1, 1, 3)
    assert {c["code"] for c in job.causes} == {"languages_two", "out_of_scope", "unknown_candidate"}
    assert set(an.subjects.values_list("subject__code", flat=True)) == {"TOAN", "VAN", "SU", "DIA"}
    assert set(chi.subjects.values_list("subject__code", flat=True)) == {"TOAN", "VAN", "LY", "HOA"}
    again = exam_import_file(
        _choices(tmp_path, f"{an.person.education_id},SU,DIA\n"),
        actor=exam_users["hn1"], session=exam_session, kind="choices",
    )  # fmt: skip
    assert again.no_changes


def test_hook_is_silent_for_a_rolled_back_change(db, django_capture_on_commit_callbacks):
    heard = []
    hooks.scores_changed_subscribe(heard.append)
    try:
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            hooks.exam_scores_changed([7])
            raise RuntimeError("the appeal's transaction fails")
    finally:
        hooks.scores_changed_unsubscribe(heard.append)
    assert heard == []


def test_hook_delivers_sorted_unique_ids(db, django_capture_on_commit_callbacks):
    heard = []

    def broken(ids):
        raise RuntimeError("a subscriber's bug")

    hooks.scores_changed_subscribe(broken)
    hooks.scores_changed_subscribe(heard.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            hooks.exam_scores_changed([3, 1, 3])
            hooks.exam_scores_changed([])
    finally:
        hooks.scores_changed_unsubscribe(broken)
        hooks.scores_changed_unsubscribe(heard.append)
    assert heard == [[1, 3]]


def test_cli_from_session_to_seats(school_year, seniors, capsys):
    opens = timezone.localtime(timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    closes = timezone.localtime(timezone.now() + timedelta(days=9)).strftime("%Y-%m-%dT%H:%M")
    call_command("exams", "session-create", "--school-year", "2025-2026", "--opens", opens,
                 "--closes", closes)  # fmt: skip
    assert ExamSession.objects.get().year == 2026
    call_command("exams", "register", "--year", "2026")
    assert "đăng ký mới / registered: 5".lower() in capsys.readouterr().out.lower()
    with pytest.raises(CommandError) as exc:  # no venues yet
        call_command("exams", "assign-rooms", "--province", "01")
    assert exc.value.returncode == 2
    call_command("exams", "venues", "--province", "01", "--code", "V1", "--name", "Điểm 1",
                 "--rooms", "1", "--capacity", "3")  # fmt: skip
    with pytest.raises(CommandError) as exc:
        call_command("exams", "assign-rooms", "--province", "01")
    assert exc.value.returncode == 2 and "cần thêm ít nhất 1 phòng" in str(exc.value)
    call_command("exams", "venues", "--province", "01", "--code", "V2", "--name", "Điểm 2",
                 "--rooms", "1")  # fmt: skip
    call_command("exams", "assign-rooms", "--province", "01")
    assert Room.objects.count() == 2
    assert not Candidate.objects.filter(province_code="01", room__isnull=True).exists()
    with pytest.raises(CommandError) as exc:
        call_command("exams", "graduate", "--year", "1999")
    assert exc.value.returncode == 2
    with pytest.raises(CommandError) as exc:
        call_command("exams", "session-create", "--school-year", "2025-2026", "--opens",
                     "16/07/2026", "--closes", closes)  # fmt: skip
    assert "sai định dạng" in str(exc.value)


def test_cli_free_candidate_and_claim(exam_session, registered, tree, capsys):
    from datetime import date

    from vnemis.registry import actions as registry_actions
    from vnemis.registry.models import Ethnicity

    person = registry_actions.person_create(
        actor=None, full_name="Võ Thị Giang", birth_date=date(2005, 9, 9), sex="F",
        ethnicity=Ethnicity.objects.get(code="01"), province_code="01",
    )  # fmt: skip
    call_command("exams", "register-free", "--education-id", person.education_id, "--unit",
                 "SGD01", "--electives", "SU,DIA", "--document",
                 "transcript|HB-1|THPT Chu Văn An|2023-06-01")  # fmt: skip
    assert "free candidate registered" in capsys.readouterr().out
    assert Candidate.objects.get(person=person).kind == "free"
    with pytest.raises(CommandError) as exc:
        call_command("exams", "register-free", "--education-id", person.education_id, "--unit",
                     "SGD01", "--electives", "SU,DIA", "--document", "transcript|HB-1")  # fmt: skip
    assert exc.value.returncode == 2
    an = registered["an"].person.education_id
    call_command("exams", "claim", "--education-id", an, "--kind", "priority", "--code",
                 "martyr_child", "--number", "GCN-7", "--issuer", "Sở LĐTBXH", "--date",
                 "2024-05-01")  # fmt: skip
    assert "ưu tiên / priority 0.50" in capsys.readouterr().out
    with pytest.raises(CommandError) as exc:  # no evidence
        call_command("exams", "claim", "--education-id", an, "--kind", "incentive", "--code",
                     "national_1")  # fmt: skip
    assert exc.value.returncode == 2 and "minh chứng" in str(exc.value)
