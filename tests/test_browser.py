"""The pages in a real browser: Debian's Chromium driven by Playwright against a live server.

Walks what a school data officer and a Department officer do first, checks that a page outside
their scope is refused, and leaves screenshots in var/screenshots/ for a human to look at.
"""

import re

import pytest
from browser_support import SCREENSHOTS, log_in

from vnemis.registry.models import SchoolClass

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("audit_log_flushable"),
    # The live server reads committed data; serialized_rollback restores the reference data
    # (ethnic groups, subjects) that the flush after a transactional test removes.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_school_officer_walks_home_school_class_pupil_search(page, live_server, users, pupils):
    from playwright.sync_api import expect

    base = live_server.url
    an, cuong = pupils["an"], pupils["cuong"]
    class_id = SchoolClass.objects.get(school__code="01000101", name="3A").pk

    log_in(page, base, "truong_a")
    expect(page.locator("#whoami")).to_contain_text("Nhà trường")
    expect(page.locator("#whoami")).to_contain_text("Trường Tiểu học Ba Đình")
    # Bootstrap came from our own static files (the navbar is laid out by its CSS).
    assert page.evaluate("getComputedStyle(document.querySelector('nav')).display") == "flex"
    page.screenshot(path=str(SCREENSHOTS / "school_home.png"), full_page=True)

    page.get_by_role("link", name="Trường Tiểu học Ba Đình").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Trường Tiểu học Ba Đình")
    page.screenshot(path=str(SCREENSHOTS / "school_page.png"), full_page=True)

    page.get_by_role("link", name="3A", exact=True).first.click()
    page.wait_for_url(f"{base}/classes/{class_id}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("3A")
    page.get_by_role("link", name="Nguyễn Văn An").click()
    page.wait_for_url(f"{base}/persons/{an.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nguyễn Văn An")
    expect(page.locator("body")).to_contain_text("•••••••••234")
    expect(page.locator("body")).not_to_contain_text("001217001234")
    expect(page.locator("#ethnicity")).to_have_text("Kinh")
    page.screenshot(path=str(SCREENSHOTS / "school_pupil.png"), full_page=True)

    page.get_by_role("link", name="Tìm hồ sơ").click()
    page.get_by_role("searchbox").fill("nguyen van an")
    page.get_by_role("button", name="Tìm", exact=True).click()
    expect(page.get_by_role("link", name="Nguyễn Văn An")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "school_search.png"), full_page=True)

    # A pupil of a Đà Nẵng school is outside a Hà Nội school's scope.
    response = page.goto(f"{base}/persons/{cuong.pk}/")
    assert response.status == 403
    expect(page.locator("main")).to_contain_text("nằm ngoài phạm vi của bạn")
    expect(page.locator("body")).not_to_contain_text("Lê Văn Cường")

    # The language switch translates the chrome.
    page.goto(f"{base}/")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("link", name="Home", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.screenshot(path=str(SCREENSHOTS / "school_home_en.png"), full_page=True)


def test_department_officer_filters_schools_and_goes_back(page, live_server, users, pupils):
    from playwright.sync_api import expect

    base = live_server.url
    log_in(page, base, "so_hn")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sở GD&ĐT Hà Nội")
    page.screenshot(path=str(SCREENSHOTS / "department_home.png"), full_page=True)

    page.get_by_role("link", name="Danh sách trường").click()
    page.wait_for_url(f"{base}/schools/")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)  # its two Hà Nội schools, not the Đà Nẵng one

    # Choosing the province loads its communes through htmx.
    page.get_by_label("Tỉnh/thành phố").select_option("01")
    expect(page.locator("#id_commune option", has_text="Xã Sóc Sơn")).to_have_count(1)
    page.get_by_label("Cấp học").select_option("lower_secondary")
    page.get_by_role("button", name="Lọc", exact=True).click()
    page.wait_for_url(re.compile(r".*level=lower_secondary.*"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Trường THCS Sóc Sơn")
    page.screenshot(path=str(SCREENSHOTS / "department_school_list.png"), full_page=True)
    filtered_url = page.url

    page.get_by_role("link", name="Trường THCS Sóc Sơn").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Trường THCS Sóc Sơn")
    expect(page.locator("body")).to_contain_text("7B")
    page.go_back()
    assert page.url == filtered_url
    expect(rows).to_have_count(1)

    response = page.goto(f"{base}/schools/48000101/")
    assert response.status == 403
    expect(page.locator("main")).to_contain_text("nằm ngoài phạm vi của bạn")
