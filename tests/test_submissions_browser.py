"""Period submissions in a real browser: the school submits (after a confirmation step), the
Department returns the submission with a reason (confirmed too), the school sees the reason; and
the Department's page keeps every column and its captions above the tables at 1366 px
(Chromium through Playwright, live server).

Screenshots land in var/screenshots/ for a human to look at.
"""

import pytest
from browser_support import SCREENSHOTS, log_in

from vnemis.exchange import submissions as actions
from vnemis.exchange.models import Submission

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("audit_log_flushable"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def log_out(page) -> None:
    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url("**/login/")


def test_school_submits_department_returns_school_sees_reason(page, live_server, users, tree):
    from playwright.sync_api import expect

    base = live_server.url
    page.set_viewport_size({"width": 1366, "height": 900})
    periods = actions.reporting_periods_create(
        school_year=tree["a"].classes.first().school_year, actor=users["ministry"]
    )
    start = next(p for p in periods if p.kind == "start_of_year")

    # The school: its page lists the periods; it submits the start-of-year report.
    log_in(page, base, "truong_a")
    page.goto(f"{base}/exchange/submissions/")
    page.wait_for_url(f"{base}/exchange/submissions/school/01000101/")
    section = page.locator(f"#period-{start.pk}")
    expect(section.get_by_role("heading", level=2)).to_contain_text("Đầu năm học")
    section.get_by_role("button", name="Kiểm tra dữ liệu").click()
    expect(page.locator(".alert-success")).to_contain_text("dữ liệu đầy đủ")
    section = page.locator(f"#period-{start.pk}")
    expect(section.locator('[data-check="class_homeroom"]')).to_have_attribute("data-ok", "1")
    section.get_by_role("button", name="Nộp báo cáo").click()
    # The confirmation step: what will be sent and locked; nothing changed yet.
    expect(page.locator("#confirm")).to_contain_text("1 học sinh")
    assert Submission.objects.get(school=tree["a"], period=start).status == "draft"
    page.screenshot(path=str(SCREENSHOTS / "submission_school_confirm.png"), full_page=True)
    page.get_by_role("button", name="Xác nhận nộp báo cáo").click()
    expect(page.locator(".alert-success")).to_contain_text("Đã nộp báo cáo")
    expect(page.locator(f"#period-{start.pk} [data-status]").first).to_have_text(
        "Đã nộp, chờ duyệt"
    )
    page.screenshot(path=str(SCREENSHOTS / "submission_school_submitted.png"), full_page=True)
    log_out(page)

    # The Department: progress for its two schools, B late and highlighted; it returns A's.
    log_in(page, base, "so_hn")
    page.goto(f"{base}/exchange/submissions/?period={start.pk}")
    expect(page.locator("#fig-total")).to_have_text("2")
    expect(page.locator("#fig-done")).to_contain_text("1")
    expect(page.locator("#fig-late")).to_have_text("1")
    expect(page.locator('tr[data-school="01000102"]')).to_have_class("table-danger")
    expect(page.locator('tr[data-school="48000101"]')).to_have_count(0)
    # At 1366 px the commune table keeps its progress column in view, captions sit on top.
    progress = page.locator("#by-commune thead th").last
    expect(progress).to_have_text("Tiến độ")
    box, main = progress.bounding_box(), page.locator("main").bounding_box()
    assert box["width"] > 100 and box["x"] + box["width"] <= main["x"] + main["width"] + 1
    caption = page.locator("#school-table caption").bounding_box()
    assert caption["y"] < page.locator("#school-table thead").bounding_box()["y"]
    page.screenshot(path=str(SCREENSHOTS / "submission_department_overview.png"), full_page=True)
    page.locator('tr[data-school="01000101"]').get_by_role("link", name="Xem").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Trường Tiểu học Ba Đình")
    # Returning without a reason is refused with a clear message.
    page.get_by_role("button", name="Trả lại").click()
    expect(page.locator(".alert-danger")).to_contain_text("Hãy ghi rõ lý do")
    page.get_by_label("Lý do trả lại (bắt buộc)").fill("Thiếu sĩ số lớp 3B, đề nghị bổ sung.")
    page.get_by_role("button", name="Trả lại").click()
    expect(page.locator("#confirm-reason")).to_contain_text("Thiếu sĩ số lớp 3B")
    page.get_by_role("button", name="Xác nhận trả lại").click()
    expect(page.locator(".return-reason")).to_contain_text("Thiếu sĩ số lớp 3B")
    page.screenshot(path=str(SCREENSHOTS / "submission_department_returned.png"), full_page=True)
    log_out(page)

    # The school sees the reason and can submit again.
    log_in(page, base, "truong_a")
    page.goto(f"{base}/exchange/submissions/school/01000101/")
    section = page.locator(f"#period-{start.pk}")
    expect(section.locator(".return-reason")).to_contain_text(
        "Thiếu sĩ số lớp 3B, đề nghị bổ sung."
    )
    expect(section.locator(".submission-events")).to_contain_text("đã trả lại")
    expect(page.locator("#returned-summary")).to_contain_text("Đầu năm học")
    expect(section.get_by_role("button", name="Nộp lại báo cáo")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "submission_school_returned.png"), full_page=True)
    assert Submission.objects.get(school=tree["a"], period=start).status == "returned"
