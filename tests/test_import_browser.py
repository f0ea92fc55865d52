"""Importing a file in a real browser: upload with progress, the job page until finished, the
causes of the errors, and the XLSX error report downloaded.

Debian's Chromium driven by Playwright against a live server (see test_browser.py for the
launch arguments and why the audit log's triggers are lifted for the module).
"""

import csv
from pathlib import Path

import pytest
from browser_support import SCREENSHOTS, log_in

from vnemis.exchange.models_imports import ImportJob
from vnemis.registry.models import Enrolment

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("audit_log_flushable"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"


def roster_file(path: Path) -> Path:
    """Six pupils of class 3A in Vietnamese-named columns' canonical form; rows 3 and 6 bad."""
    names = [
        "Đỗ Văn Long",
        "Hồ Thị Nga",
        "Lý Minh Quân",
        "Mai Thu Trang",
        "Tạ Văn Sơn",
        "Cao Thị Yến",
    ]
    rows = []
    for i, name in enumerate(names):
        birth = f"2017-0{1 + i}-1{i}"
        rows.append(
            ["01000101", f"BR{i:03d}", name, birth, "MF"[i % 2], "01", "VN", "2025-2026", "3A",
             "studying", "2025-09-05"]
        )  # fmt: skip
    rows[1][3] = "31/02/2017"  # row 3: no such date
    rows[4][3] = "2017-14-01"  # row 6: no 14th month
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["school_code", "pupil_code", "full_name", "birth_date", "sex", "ethnicity_code",
             "nationality", "school_year", "class_name", "status", "started_on"]
        )  # fmt: skip
        w.writerows(rows)
    return path


def test_school_officer_uploads_a_file_and_downloads_the_error_report(
    page, live_server, users, pupils, tmp_path
):
    from playwright.sync_api import expect
    from python_calamine import CalamineWorkbook

    base = live_server.url
    log_in(page, base, "truong_a")
    page.goto(f"{base}/exchange/imports/new/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nhập tệp dữ liệu")
    page.get_by_label("Tệp dữ liệu").set_input_files(str(roster_file(tmp_path / "lop3a.csv")))
    page.screenshot(path=str(SCREENSHOTS / "import_new.png"), full_page=True)
    page.get_by_role("button", name="Tải lên và kiểm tra").click()

    page.wait_for_url(f"{base}/exchange/imports/*/")
    expect(page.locator("#import-state")).to_have_attribute("data-status", "succeeded")
    expect(page.get_by_role("progressbar", name="Tiến độ")).to_have_attribute(
        "aria-valuenow", "100"
    )
    expect(page.locator("#count-inserted")).to_have_text("8")  # 4 pupils + 4 enrolments
    expect(page.locator("#count-rejected")).to_have_text("2")
    causes = page.locator("#import-causes tbody tr")
    expect(causes.first).to_be_visible()
    expect(page.locator("#import-causes")).to_contain_text("dòng")
    errors = page.locator("#import-errors tbody tr")
    expect(errors.first.locator("td").first).to_have_text("3")
    page.screenshot(path=str(SCREENSHOTS / "import_detail.png"), full_page=True)

    with page.expect_download() as info:
        page.get_by_role("link", name="Tải báo cáo lỗi (XLSX)").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / "report.xlsx"
    download.save_as(saved)
    assert saved.read_bytes()[:2] == b"PK"
    workbook = CalamineWorkbook.from_path(str(saved))
    cells = [str(c) for row in workbook.get_sheet_by_index(0).to_python() for c in row]
    assert any(c in ("3", "3.0") for c in cells) and any(c in ("6", "6.0") for c in cells)

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert Enrolment.objects.filter(pupil_code__startswith="BR").count() == 4

    # The list shows the job; another school's officer cannot open it.
    page.goto(f"{base}/exchange/imports/")
    expect(page.get_by_role("link", name="lop3a.csv")).to_be_visible()
    page.context.clear_cookies()
    log_in(page, base, "truong_c")
    response = page.goto(f"{base}/exchange/imports/{job.pk}/")
    assert response.status == 404
