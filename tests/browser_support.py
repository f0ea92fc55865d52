"""What the browser tests share: Debian's Chromium through Playwright, and logging in.

Chromium runs with the flags this machine needs (no sandbox as root, no background networking:
the network is closed); never `playwright install`. Screenshots go to var/screenshots/ for a
human to look at.
"""

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill("pw")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{base_url}/")
