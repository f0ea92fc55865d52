"""The menu bar stays on one line, log-out button in view, from 1200 to 1399 px (office laptops),
for each role that sees the whole menu, in Vietnamese and in English."""

import pytest
from browser_support import SCREENSHOTS, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("audit_log_flushable"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.mark.parametrize("username", ["bo", "so_hn", "truong_a"])
def test_the_menu_fits_at_laptop_widths(page, live_server, users, username):
    log_in(page, live_server.url, username)
    for language in ("vi", "en"):
        if language == "en":
            page.get_by_role("button", name="English").click()
            page.wait_for_load_state()
        for width in (1200, 1280, 1366, 1399):
            page.set_viewport_size({"width": width, "height": 700})
            logout = page.locator("form[action='/logout/'] button").bounding_box()
            brand = page.locator(".navbar-brand").bounding_box()
            assert logout["x"] + logout["width"] <= width, (username, language, width)
            assert abs(logout["y"] - brand["y"]) < brand["height"], "the bar wrapped"
    page.screenshot(path=str(SCREENSHOTS / f"menu_{username}_en_1399.png"))
