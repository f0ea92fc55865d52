"""The admission pages: the Ministry's round and runs, institutions' programmes and lists,
a candidate's wishes, fee and confirmation; scope and bad input on each."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from vnemis.admissions.models import AdmissionRound, MatchRun, Programme, WishList
from vnemis.admissions.wishes import wishes_set
from vnemis.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def _login(client, user):
    client.force_login(user)
    return client


def test_the_ministry_opens_a_round_and_bad_dates_are_refused(client, exam_session, exam_users):
    _login(client, exam_users["ministry"])
    now = timezone.localtime()
    fmt = "%Y-%m-%dT%H:%M"
    bad = client.post("/admissions/new/", {"year": 2026, "wishes_open_at": now.strftime(fmt),
                      "wishes_close_at": (now - timedelta(days=1)).strftime(fmt), "fee_per_wish": 20000})  # fmt: skip
    assert bad.status_code == 200 and "Hạn đăng ký nguyện vọng phải sau" in bad.content.decode()
    assert not AdmissionRound.objects.exists()
    good = client.post("/admissions/new/", {"year": 2026, "wishes_open_at": now.strftime(fmt),
                       "wishes_close_at": (now + timedelta(days=3)).strftime(fmt), "fee_per_wish": 25000})  # fmt: skip
    assert good.status_code == 302 and AdmissionRound.objects.get().fee_per_wish == 25000
    _login(client, exam_users["so_hn"])
    assert client.get("/admissions/new/").status_code == 403


def test_programmes_file_upload_reports_errors_and_writes_nothing(
    client, admission_round, exam_users
):
    _login(client, exam_users["ministry"])
    text = "institution_code,institution_name,programme_code,programme_name,combinations,quota_exam\nBKA,BK,BKA-1,Tin,A00 Q99,x\n"
    page = client.post(
        "/admissions/2026/programmes-file/", {"file": io.BytesIO(text.encode())}, follow=True
    )
    body = page.content.decode()
    assert "dòng 2 cột quota_exam" in body and not Programme.objects.exists()
    page = client.post(
        "/admissions/2026/programmes-file/", {"file": io.BytesIO(b"\xff\xfe bad")}, follow=True
    )
    assert "UTF-8" in page.content.decode()
    ok = text.replace("A00 Q99,x", "A00 A01,120")
    page = client.post(
        "/admissions/2026/programmes-file/", {"file": io.BytesIO(ok.encode())}, follow=True
    )
    assert "Đã nạp 1 ngành" in page.content.decode()


def test_institutions_keep_only_their_programmes(client, programmes, admission_users):
    _login(client, admission_users["qhi"])
    listing = client.get("/admissions/2026/programmes/").content.decode()
    assert "QHI-CN1" in listing and "BKA-IT1" not in listing
    assert client.get("/admissions/2026/programmes/BKA-IT1/").status_code == 403
    form = {
        "name": "CNTT",
        "combinations": ["D01"],
        "threshold": "16",
        "ties": "all",
        "quota_exam": 3,
        "weights": "TOAN=x",
    }
    page = client.post("/admissions/2026/programmes/QHI-CN1/", form)
    assert "TOAN=2" in page.content.decode()  # the weights syntax error
    form["weights"] = "TOAN=2"
    assert client.post("/admissions/2026/programmes/QHI-CN1/", form).status_code == 302
    cn = Programme.objects.get(code="QHI-CN1")
    assert (cn.threshold, cn.quotas.get(method="exam").quota) == (1600, 3)
    new = {**form, "code": "BKA-HACK", "institution": "BKA"}
    page = client.post("/admissions/2026/programmes/new/", new)
    assert not Programme.objects.filter(code="BKA-HACK").exists()
    new.update(code="QHI-AI1", institution="QHI", name="Trí tuệ nhân tạo")
    assert client.post("/admissions/2026/programmes/new/", new).status_code == 302
    assert Programme.objects.get(code="QHI-AI1").institution.code == "QHI"


def test_a_candidate_builds_reorders_and_pays_for_their_list(
    client, programmes, admission_users, candidates
):
    _login(client, admission_users["ts_an"])
    assert client.get("/admissions/").url == "/admissions/2026/wishes/"
    for code in ("BKA-IT1", "qhi-cn1", "BKA-EE1"):
        client.post("/admissions/2026/wishes/", {"action": "add", "code": code})
    page = client.post(
        "/admissions/2026/wishes/", {"action": "add", "code": "NOPE-1"}, follow=True
    ).content.decode()
    assert "Không có ngành mã NOPE-1" in page
    client.post("/admissions/2026/wishes/", {"action": "up", "code": "BKA-EE1"})
    client.post("/admissions/2026/wishes/", {"action": "remove", "code": "BKA-IT1"})
    page = client.get("/admissions/2026/wishes/").content.decode()
    assert page.index("BKA-EE1") < page.index("QHI-CN1") and 'data-code="BKA-IT1"' not in page
    assert "27,00" in page or "27.00" in page  # QHI-CN1 by A01
    found = client.get("/admissions/2026/wishes/?q=Kỹ thuật").content.decode()
    assert "BKA-EE1 Kỹ thuật điện" in found.replace("<strong>", "").replace("</strong>", "")
    pay = client.post("/admissions/2026/wishes/", {"action": "pay"})
    assert pay.status_code == 302 and pay.url.startswith("/payments/pay/P")
    # Another candidate's session cannot reach An's list, and staff have no wishes page.
    _login(client, admission_users["hn1"])
    assert client.get("/admissions/2026/wishes/").status_code == 403


def test_after_the_run_the_candidate_sees_the_placement_and_confirms(
    client,
    programmes,
    admission_users,
    candidates,
    admission_round,
    django_capture_on_commit_callbacks,
):
    for key, codes in {"an": ["BKA-IT1", "QHI-CN1"], "chi": ["BKA-IT1", "QHI-CN1"]}.items():
        wishes_set(actor=None, round_=admission_round, candidate=candidates[key], codes=codes)
        WishList.objects.filter(candidate=candidates[key]).update(paid_wishes=2)
    _login(client, admission_users["ministry"])
    with django_capture_on_commit_callbacks(execute=True):  # queued on commit; immediate tasks
        client.post("/admissions/2026/runs/", {"note": "lượt đầu"})
    run = MatchRun.objects.get()
    assert run.status == "done" and run.placed == 2
    client.post(f"/admissions/2026/runs/{run.number}/publish/")
    cutoffs = client.get(f"/admissions/2026/runs/{run.number}/").content.decode()
    assert "BKA-IT1" in cutoffs and "27,00" in cutoffs
    _login(client, admission_users["ts_chi"])
    page = client.get("/admissions/2026/wishes/").content.decode()
    assert "Bạn đã trúng tuyển" in page and "QHI-CN1" in page and "dưới ngưỡng đầu vào" in page
    client.post("/admissions/2026/wishes/", {"action": "confirm"})
    assert "Đã xác nhận nhập học" in client.get("/admissions/2026/wishes/").content.decode()
    # The institution downloads its list; another institution cannot.
    _login(client, admission_users["qhi"])
    response = client.get("/admissions/2026/programmes/QHI-CN1/admitted.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Số báo danh" and rows[1][1] == "Lê Thị Chi" and rows[1][-1] == "x"
    assert AuditEntry.objects.filter(object_type="admitted_list").exists()
    xlsx = client.get("/admissions/2026/programmes/QHI-CN1/admitted.xlsx")
    assert xlsx.content[:2] == b"PK"
    assert client.get("/admissions/2026/programmes/QHI-CN1/admitted.pdf").status_code == 404
    _login(client, admission_users["bka"])
    assert client.get("/admissions/2026/programmes/QHI-CN1/admitted.csv").status_code == 404


def test_schools_record_priority_for_their_candidates_only(
    client, programmes, admission_users, candidates, admission_round
):
    from vnemis.exams.models import Candidate

    Candidate.objects.filter(pk=candidates["an"].pk).update(candidate_number="01000001")
    Candidate.objects.filter(pk=candidates["em"].pk).update(candidate_number="48000001")
    _login(client, admission_users["hn1"])
    page = client.get("/admissions/2026/profile/?number=01000001").content.decode()
    assert "Nguyễn Văn An" in page
    bad = client.post(
        "/admissions/2026/profile/", {"number": "01000001", "region": "KV9", "bonus": "1"}
    )
    assert (
        "KV9" in bad.content.decode()
        or "Hãy chọn" in bad.content.decode()
        or "Select a valid" in bad.content.decode()
    )
    ok = client.post(
        "/admissions/2026/profile/",
        {
            "number": "01000001",
            "region": "KV1",
            "priority_group": "UT2",
            "bonus": "0.5",
            "evidence": "Giấy xác nhận",
        },
    )
    assert ok.status_code == 302
    assert candidates["an"].admission_profile.bonus == 50
    page = client.get("/admissions/2026/profile/?number=48000001").content.decode()
    assert "Không tìm thấy thí sinh" in page and "Hoàng Văn Em" not in page


def test_english_pages(client, programmes, admission_users, candidates):
    _login(client, admission_users["ts_an"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/admissions/2026/wishes/").content.decode()
    assert "Admission wishes" in page
