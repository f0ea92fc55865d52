"""A candidate from registration to placement, in a real browser: registered from grade 12,
seated and numbered; the Department uploads the marking system's score file; graduation;
the candidate builds an ordered list of wishes, reorders it and pays the fee on the gateway
simulator's page; the Ministry runs virtual filtering and publishes it; the candidate sees
the placement and confirms enrolment. Screenshots land in var/screenshots/."""

import re
from decimal import Decimal

import pytest
from browser_support import SCREENSHOTS, log_in

from vnemis.admissions.models import Confirmation, MatchRun, WishList
from vnemis.exams import actions_results, actions_rooms
from vnemis.exams.models import Candidate, YearAverage
from vnemis.orgs.models import User

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("audit_log_flushable"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_candidate_from_registration_to_placement(
    page, live_server, live_gateway, programmes, exam_users, registered, exam_session, tmp_path
):
    from playwright.sync_api import expect

    base = live_server.url
    live_gateway.configure(ipn_hold=True)  # SQLite live server: the IPN waits for the page
    for province in ("01", "48"):
        actions_rooms.venues_from_units(actor=None, session=exam_session, province_code=province)
        actions_rooms.seating_assign(actor=None, session=exam_session, province_code=province)
    an = Candidate.objects.get(pk=registered["an"].pk)
    admission_users = dict(exam_users)
    admission_users["ts_an"] = User.objects.create_user(
        "thisinh_an", password="pw", role="citizen", person=an.person
    )
    assert an.candidate_number == "01000001"

    # The Department uploads the marking system's file.
    log_in(page, base, admission_users["so_hn"].username)
    page.goto(f"{base}/exams/2026/imports/")
    page.get_by_label("Loại tệp").select_option("scores")
    scores = tmp_path / "diem-thi.csv"
    scores.write_text("SBD,Mã môn,Điểm\n01000001,TOAN,9\n01000001,VAN,7\n01000001,LY,8.5\n01000001,HOA,8\n",
                      encoding="utf-8")  # fmt: skip
    page.get_by_label("Tệp CSV hoặc XLSX").set_input_files(str(scores))
    page.get_by_role("button", name="Tải lên và kiểm tra").click()
    expect(page.locator("#import-state")).to_have_attribute("data-status", "succeeded")
    for grade in (10, 11, 12):
        YearAverage.objects.create(
            candidate=an, grade=grade, average=Decimal("8"), source="imported"
        )
    actions_results.session_graduate(actor=None, session=exam_session)
    an.refresh_from_db()
    assert an.result == "passed"
    page.get_by_role("button", name="Đăng xuất").click()

    # The candidate lists two wishes, reorders them and pays for both.
    log_in(page, base, admission_users["ts_an"].username)
    page.get_by_role("link", name="Tuyển sinh").click()
    page.wait_for_url(f"{base}/admissions/2026/wishes/")
    page.get_by_role("searchbox", name="Tìm ngành").fill("Khoa học máy tính")
    page.get_by_role("button", name="Tìm", exact=True).click()
    page.locator("#found").get_by_role("button", name="Thêm").first.click()
    page.get_by_role("textbox", name="Mã xét tuyển").fill("bka-ee1")
    page.get_by_role("button", name="Thêm nguyện vọng").click()
    page.get_by_role("button", name="Lên BKA-EE1").click()
    rows = page.locator("#wishes tbody tr")
    expect(rows.nth(0)).to_have_attribute("data-code", "BKA-EE1")
    expect(rows.nth(1)).to_have_attribute("data-code", "BKA-IT1")
    expect(rows.nth(1)).to_contain_text("25,88")  # A00 with maths ×2
    page.get_by_role("button", name="Nộp lệ phí 40.000 ₫").click()
    page.wait_for_url(re.compile(re.escape(live_gateway.url) + r"/pay\?"))
    expect(page.locator("#amount")).to_have_text("40.000 ₫")
    page.get_by_role("button", name="Thanh toán", exact=True).click()
    page.wait_for_url(re.compile(re.escape(base) + r"/payments/return/\?"))
    expect(page.get_by_role("status")).to_contain_text("Thanh toán thành công")
    page.get_by_role("link", name="Tiếp tục").click()
    page.wait_for_url(f"{base}/admissions/2026/wishes/")
    expect(page.locator("#wishes")).not_to_contain_text("Chưa nộp")
    assert WishList.objects.get(candidate=an).paid_wishes == 2
    assert live_gateway.release() == 1  # the held IPN arrives late: answered, counted once
    page.screenshot(path=str(SCREENSHOTS / "admission_wishes.png"), full_page=True)
    page.get_by_role("button", name="Đăng xuất").click()

    # The Ministry runs virtual filtering and publishes the result.
    log_in(page, base, admission_users["ministry"].username)
    page.goto(f"{base}/admissions/2026/")
    page.get_by_role("button", name="Chạy lọc ảo").click()
    expect(page.locator("#runs tbody tr").first).to_contain_text("Hoàn thành")
    page.get_by_role("button", name="Công bố").click()
    expect(page.locator("#runs")).to_contain_text("Đã công bố")
    assert MatchRun.objects.get().placed == 1
    page.get_by_role("button", name="Đăng xuất").click()

    # The candidate sees the placement and confirms.
    log_in(page, base, admission_users["ts_an"].username)
    page.goto(f"{base}/admissions/2026/wishes/")
    expect(page.locator("#placement")).to_contain_text("BKA-EE1")
    expect(page.locator("#wishes tbody tr").nth(1)).to_contain_text("Không xét")
    page.get_by_role("button", name="Xác nhận nhập học").click()
    expect(page.locator("#confirmed")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "admission_placement.png"), full_page=True)
    assert Confirmation.objects.get().programme.code == "BKA-EE1"
