"""The exam's pages: scope in the query, results only after publication, the Ministry's settings,
the import upload with its report."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from vnemis.core.models import AuditEntry
from vnemis.exams import actions_results, actions_rooms
from vnemis.exams.models import Candidate, ExamImport, ExamSession, Score

from .conftest import past


@pytest.fixture
def seated(exam_session, registered, settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    for province in ("01", "48"):
        actions_rooms.venues_from_units(actor=None, session=exam_session, province_code=province)
        actions_rooms.seating_assign(actor=None, session=exam_session, province_code=province)
    return registered


def _login(client, user):
    client.force_login(user)
    return client


def test_school_sees_only_its_candidates(client, exam_session, seated, exam_users):
    page = _login(client, exam_users["hn2"]).get("/exams/2026/candidates/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Phạm Văn Dũng" in text
    assert "Nguyễn Văn An" not in text and "Hoàng Văn Em" not in text
    entry = AuditEntry.objects.filter(object_type="exam_candidate_list").last()
    assert entry.detail["ids"] == [seated["dung"].pk]


def test_department_sees_its_province(client, exam_session, seated, exam_users):
    text = _login(client, exam_users["so_hn"]).get("/exams/2026/candidates/").content.decode()
    assert "Nguyễn Văn An" in text and "Phạm Văn Dũng" in text and "Hoàng Văn Em" not in text


def test_candidate_page_outside_scope_is_refused(client, exam_session, seated, exam_users):
    url = f"/exams/2026/candidates/{seated['an'].pk}/"
    assert _login(client, exam_users["hn2"]).get(url).status_code == 403
    assert _login(client, exam_users["hn1"]).get(url).status_code == 200
    assert AuditEntry.objects.filter(object_type="exam_candidate", actor=exam_users["hn1"]).exists()


def test_citizens_and_teachers_have_no_exam_pages(client, exam_session, users):
    for role in ("citizen", "teacher"):
        assert _login(client, users[role]).get("/exams/2026/candidates/").status_code == 403


def _graduated(session, candidates):
    an = candidates["an"]
    for code, value in (("TOAN", "9"), ("VAN", "8"), ("LY", "7"), ("HOA", "6")):
        Score.objects.create(candidate=an, subject=an.subjects.get(subject__code=code).subject,
                             score=Decimal(value))  # fmt: skip
    for grade in (10, 11, 12):
        an.year_averages.create(grade=grade, average=Decimal("8"), source="imported")
    actions_results.session_graduate(actor=None, session=session)


def test_results_hidden_until_publication(client, exam_session, seated, exam_users):
    _graduated(exam_session, seated)
    url = f"/exams/2026/candidates/{seated['an'].pk}/"
    school = _login(client, exam_users["hn1"]).get(url).content.decode()
    assert 'id="not-published"' in school and "7,75" not in school
    listing = client.get("/exams/2026/candidates/").content.decode()
    assert "7,75" not in listing
    # The Ministry prepares the publication: it sees them before.
    ministry = _login(client, exam_users["ministry"]).get(url).content.decode()
    assert 'id="graduation-score">7,75' in ministry  # (30/4 + 8)/2
    past(exam_session)
    school = _login(client, exam_users["hn1"]).get(url).content.decode()
    assert 'id="graduation-score">7,75' in school
    assert "Đỗ tốt nghiệp" in school


def test_ministry_settings_page(client, exam_session, exam_users):
    url = "/exams/2026/settings/"
    assert _login(client, exam_users["so_hn"]).get(url).status_code == 403
    client = _login(client, exam_users["ministry"])
    assert client.get(url).status_code == 200
    publish = timezone.localtime(timezone.now() + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M")
    opens = timezone.localtime(exam_session.registration_opens_at).strftime("%Y-%m-%dT%H:%M")
    closes = timezone.localtime(exam_session.registration_closes_at).strftime("%Y-%m-%dT%H:%M")
    form = {"name": "Kỳ thi 2026", "registration_opens_at": opens, "registration_closes_at": closes,
            "results_publish_at": publish, "electives_required": 2, "room_capacity": 20}  # fmt: skip
    response = client.post(url, form)
    assert response.status_code == 302
    exam_session.refresh_from_db()
    assert (exam_session.name, exam_session.room_capacity) == ("Kỳ thi 2026", 20)
    bad = client.post(url, form | {"results_publish_at": opens})
    assert bad.status_code == 200
    assert "Thời điểm công bố kết quả phải sau hạn đăng ký" in bad.content.decode()
    assert ExamSession.objects.get().room_capacity == 20


def test_ministry_creates_a_session(client, exam_users, school_year):
    client = _login(client, exam_users["ministry"])
    now = timezone.localtime()
    response = client.post("/exams/new/", {
        "year": 2027, "school_year": school_year.pk, "electives_required": 2, "room_capacity": 24,
        "registration_opens_at": now.strftime("%Y-%m-%dT%H:%M"),
        "registration_closes_at": (now + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
    })  # fmt: skip
    assert response.status_code == 302
    assert ExamSession.objects.get(year=2027).name == "Kỳ thi tốt nghiệp THPT năm 2027"
    assert _login(client, exam_users["hn1"]).get("/exams/new/").status_code == 403


def test_upload_page_shows_the_report(
    client, exam_session, seated, exam_users, django_capture_on_commit_callbacks
):
    client = _login(client, exam_users["so_hn"])
    assert client.get("/exams/2026/imports/").status_code == 200
    body = (
        'SBD,Mã môn,Điểm\n01000001,TOAN,7.5\n01000001,TOAN,8\n09999999,VAN,7\n01000002,VAN,"6,5"\n'
    )
    upload = SimpleUploadedFile("diem.csv", body.encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/exams/2026/imports/", {"kind": "scores", "mode": "apply_valid", "file": upload}
        )
    assert response.status_code == 302
    job = ExamImport.objects.get()
    assert job.status == "succeeded"
    page = client.get(response["Location"]).content.decode()
    assert 'id="import-causes"' in page
    assert "xuất hiện nhiều lần" in page  # duplicate
    assert "dấu phẩy" in page  # decimal comma
    assert "không thuộc thí sinh nào" in page  # unknown candidate
    csv = client.get(f"/exams/2026/imports/{job.pk}/errors.csv")
    assert csv.status_code == 200
    assert "09999999" in b"".join(csv.streaming_content).decode("utf-8-sig")
    # Another Department cannot see the job.
    assert _login(client, exam_users["so_dn"]).get(response["Location"]).status_code == 404


def test_upload_refused_for_a_school(client, exam_session, seated, exam_users):
    client = _login(client, exam_users["hn1"])
    upload = SimpleUploadedFile("diem.csv", b"SBD,Ma mon,Diem\n01000001,TOAN,7\n")
    response = client.post("/exams/2026/imports/", {"kind": "scores", "mode": "apply_valid",
                                                    "file": upload})  # fmt: skip
    assert response.status_code == 422
    assert "Chỉ Sở GD&amp;ĐT" in response.content.decode()
    assert not ExamImport.objects.exists()
    assert not Candidate.objects.exclude(result="").exists()


def test_home_and_session_pages(client, exam_session, seated, exam_users):
    client = _login(client, exam_users["so_hn"])
    home = client.get("/exams/").content.decode()
    assert "/exams/2026/" in home and "Tạo kỳ thi" not in home
    page = client.get("/exams/2026/").content.decode()
    assert 'id="session-figures"' in page
    assert "Thiết lập kỳ thi" not in page  # the Ministry's link only
    ministry = _login(client, exam_users["ministry"]).get("/exams/").content.decode()
    assert "Tạo kỳ thi" in ministry
    assert client.get("/exams/1999/").status_code == 404


def test_pages_in_english(client, exam_session, seated, exam_users):
    from django.conf import settings as django_settings

    client = _login(client, exam_users["ministry"])
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    for url in ("/exams/", "/exams/2026/", "/exams/2026/candidates/", "/exams/2026/imports/",
                f"/exams/2026/candidates/{seated['an'].pk}/", "/exams/2026/settings/"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 200, url
        assert '<html lang="en">' in response.content.decode()
