"""Score import from the marking system's file: every malformed input with its cause, dry run,
all-or-nothing, idempotent re-import, history of changed scores, scope, the CLI's exit codes."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from vnemis.exams import actions_claims, actions_rooms
from vnemis.exams.imports import exam_import_create, exam_import_file, exam_import_run
from vnemis.exams.models import ExamImport, Score, ScoreChange
from vnemis.exchange.imports import ImportRefused

from .conftest import past

HEADER = "SBD,Mã môn,Điểm\n"


@pytest.fixture
def numbered(exam_session, registered, settings, tmp_path):
    """Every candidate numbered and seated: 01000001 An, …2 Bình, …3 Chi, …4 Dũng, 48000001 Em."""
    settings.VAR_DIR = tmp_path / "var"
    for province in ("01", "48"):
        actions_rooms.venues_from_units(actor=None, session=exam_session, province_code=province)
        actions_rooms.seating_assign(actor=None, session=exam_session, province_code=province)
    return registered


def _file(tmp_path, body: str, name: str = "diem.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes((HEADER + body).encode(encoding))
    return path


def _run(session, path, actor=None, **kw):
    return exam_import_file(path, actor=actor, session=session, kind="scores", **kw)


def _causes(job) -> dict[str, dict]:
    return {c["code"]: c for c in job.causes}


GOOD = "01000001,TOAN,7.25\n01000001,VAN,8\n01000002,TOAN,6.5\n01000002,LY,9.75\n"


def test_good_file_is_applied(exam_session, numbered, tmp_path):
    job = _run(exam_session, _file(tmp_path, GOOD))
    assert job.status == "succeeded"
    assert (job.rows_total, job.inserted, job.rows_rejected) == (4, 4, 0)
    assert Score.objects.get(candidate=numbered["an"], subject__code="TOAN").score == Decimal(
        "7.25"
    )
    exam_session.refresh_from_db()
    assert exam_session.inputs_changed_at is not None


@pytest.mark.parametrize(
    ("row", "code", "column"),
    [
        ("09999999,TOAN,7", "unknown_candidate", "candidate_number"),
        ("01000001,SINH,7", "subject_not_registered", "subject_code"),
        ("01000001,HOA HỌC,7", "unknown_subject", "subject_code"),
        ("01000001,TOAN,10.5", "out_of_range", "score"),
        ("01000001,TOAN,-1", "out_of_range", "score"),
        ('01000001,TOAN,"7,5"', "decimal_comma", "score"),
        ("01000001,TOAN,bảy", "bad_value", "score"),
        ("01000001,TOAN,7.255", "too_many_decimals", "score"),
        ("01000001,TOAN,", "missing", "score"),
        (",TOAN,7", "missing", "candidate_number"),
        ("01000001,TOAN,7\n01000001,toan,8", "duplicate_row", "subject_code"),
    ],
)
def test_each_malformed_row_has_its_cause(exam_session, numbered, tmp_path, row, code, column):
    job = _run(exam_session, _file(tmp_path, "01000002,TOAN,6\n" + row + "\n"))
    assert job.status == "succeeded"
    causes = _causes(job)
    assert code in causes, job.causes
    cause = causes[code]
    assert cause["column"] == column
    assert (
        cause["message_vi"] and cause["message_en"] and cause["message_vi"] != cause["message_en"]
    )
    assert job.rows_rejected == len(row.splitlines())
    assert job.inserted == 1  # the good row went in
    assert not Score.objects.filter(candidate=numbered["an"]).exists()


def test_duplicates_reject_every_copy(exam_session, numbered, tmp_path):
    job = _run(exam_session, _file(tmp_path, "01000001,TOAN,7\n01000001,TOAN,7\n"))
    assert _causes(job)["duplicate_row"]["count"] == 2
    assert job.inserted == 0


def test_exempted_language_has_no_score(exam_session, numbered, tmp_path):
    from datetime import date

    from vnemis.exams import actions

    an = numbered["an"]
    # Choices are closed after numbering in real life; the window is still open in the fixture.
    actions.candidate_subjects_set(actor=None, candidate=an, electives=["LY", "N1"])
    actions_claims.claim_add(
        actor=None, candidate=an, kind="exemption", code="IELTS", subject_code="N1",
        document_number="IE-1", issuer="British Council", issued_on=date(2025, 3, 1),
    )  # fmt: skip
    job = _run(exam_session, _file(tmp_path, "01000001,N1,9\n"))
    assert "subject_exempt" in _causes(job)


def test_department_imports_only_its_council(exam_session, numbered, tmp_path, exam_users):
    job = _run(exam_session, _file(tmp_path, "48000001,TOAN,7\n01000001,TOAN,7\n"),
               actor=exam_users["so_hn"])  # fmt: skip
    assert _causes(job)["out_of_scope"]["count"] == 1
    assert job.inserted == 1
    assert not Score.objects.filter(candidate=numbered["em"]).exists()


def test_schools_may_not_import_scores(exam_session, numbered, tmp_path, exam_users):
    with pytest.raises(ImportRefused) as exc:
        _run(exam_session, _file(tmp_path, GOOD), actor=exam_users["hn1"])
    assert exc.value.status == 403
    assert not ExamImport.objects.exists()


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        (b"SBD,Diem\n01000001,7\n", "a.csv", "missing_columns"),
        (b"%PDF-1.4 not a table", "a.csv", "wrong_content"),
        (b"SBD,M\xe3 m\xf4n,\xff\xfe\n", "a.csv", None),  # cp1252 bytes: converted, then columns
        (b"SBD,Ma mon,Diem\n", "a.csv", "no_rows"),
    ],
)
def test_unreadable_files_fail_with_a_reason(exam_session, numbered, tmp_path, content, name, code):
    path = tmp_path / name
    path.write_bytes(content)
    job = _run(exam_session, path)
    assert job.status == "failed"
    vi, _sep, en = job.error.partition(" / ")
    assert vi and en
    if code == "missing_columns":
        assert "Mã môn" in vi and "Subject code" in en
    assert not Score.objects.exists()


def test_refused_before_storing(exam_session, numbered, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ImportRefused) as exc:
        _run(exam_session, empty)
    assert exc.value.code == "empty_file"
    other = tmp_path / "diem.pdf"
    other.write_bytes(b"%PDF")
    with pytest.raises(ImportRefused) as exc:
        _run(exam_session, other)
    assert exc.value.code == "unsupported_format"


def test_dry_run_writes_nothing(exam_session, numbered, tmp_path):
    job = _run(exam_session, _file(tmp_path, GOOD), dry_run=True)
    assert (job.status, job.inserted) == ("succeeded", 4)
    assert not Score.objects.exists()


def test_all_or_nothing(exam_session, numbered, tmp_path):
    job = _run(exam_session, _file(tmp_path, GOOD + "09999999,TOAN,7\n"), mode="all_or_nothing")
    assert job.status == "rejected"
    assert job.inserted == 4  # what would have been written
    assert not Score.objects.exists()
    job = _run(exam_session, _file(tmp_path, GOOD), mode="all_or_nothing")
    assert (job.status, Score.objects.count()) == ("succeeded", 4)


def test_same_file_twice_changes_nothing(exam_session, numbered, tmp_path):
    _run(exam_session, _file(tmp_path, GOOD))
    again = _run(exam_session, _file(tmp_path, GOOD))
    assert again.no_changes
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    assert not ScoreChange.objects.exists()


def test_changed_score_keeps_the_old_one(exam_session, numbered, tmp_path):
    first = _run(exam_session, _file(tmp_path, GOOD))
    second = _run(exam_session, _file(tmp_path, GOOD.replace("7.25", "7.5")))
    assert (second.inserted, second.updated, second.unchanged) == (0, 1, 3)
    score = Score.objects.get(candidate=numbered["an"], subject__code="TOAN")
    assert (score.score, score.source_import_id) == (Decimal("7.50"), second.pk)
    change = ScoreChange.objects.get()
    assert (change.old_score, change.new_score, change.kind) == (
        Decimal("7.25"), Decimal("7.50"), "import",
    )  # fmt: skip
    assert change.source_import_id == second.pk != first.pk


def test_per_subject_file(exam_session, numbered, tmp_path):
    job = _run(exam_session, _file(tmp_path, GOOD), subject_code="TOAN")
    assert _causes(job)["wrong_subject"]["count"] == 2
    assert job.inserted == 2


def test_xlsx_file(exam_session, numbered, tmp_path):
    import xlsxwriter

    path = tmp_path / "diem.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Điểm")
    sheet.write_row(0, 0, ["Số báo danh", "Mã môn", "Điểm thi"])
    sheet.write_row(1, 0, ["01000001", "TOAN", 8.35])  # a typed number
    sheet.write_row(2, 0, ["01000002", "TOAN", "6.75"])
    book.close()
    job = _run(exam_session, path)
    assert (job.status, job.inserted) == ("succeeded", 2)
    assert Score.objects.get(candidate=numbered["an"]).score == Decimal("8.35")


def test_no_score_import_after_publication(exam_session, numbered, tmp_path):
    past(exam_session)
    with pytest.raises(ImportRefused) as exc:
        _run(exam_session, _file(tmp_path, GOOD))
    assert exc.value.code == "published"


def test_job_runs_once(exam_session, numbered, tmp_path):
    job = exam_import_create(actor=None, session=exam_session, kind="scores",
                             source=_file(tmp_path, GOOD), source_name="d.csv", enqueue=False)  # fmt: skip
    exam_import_run(job.pk)
    assert exam_import_run(job.pk).inserted == 4
    assert Score.objects.count() == 4


def test_cli_exit_codes(exam_session, numbered, tmp_path, capsys):
    call_command("exams", "import-scores", str(_file(tmp_path, GOOD)), "--year", "2026")
    assert "thêm / inserted: 4" in capsys.readouterr().out
    with pytest.raises(CommandError) as exc:
        call_command("exams", "import-scores", str(_file(tmp_path, "09999999,TOAN,7\n")))
    assert exc.value.returncode == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(CommandError) as exc:
        call_command("exams", "import-scores", str(bad))
    assert exc.value.returncode == 2
    assert "Mã môn" in str(exc.value)
