"""The national dashboard in a real browser: the charts draw, the year filter changes the
figures, and a square of the province map leads to that province's page.

Screenshots land in var/screenshots/ for a human to look at.
"""

import re

import pytest
from browser_support import SCREENSHOTS, log_in

from .test_dashboards import snapshot, value  # noqa: F401  (the snapshot fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("audit_log_flushable"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def all_provinces(geo):
    """The 34 provinces (the shared tree has two), so the map draws every square."""
    from vietnam_provinces import Province as Source

    from vnemis.geo.models import Province

    for p in Source.iter_all():
        Province.objects.get_or_create(
            code=f"{int(p.code):02d}",
            defaults={
                "name": p.name,
                "division_type": p.division_type.value,
                "codename": p.codename,
            },
        )


def test_ministry_reads_the_national_dashboard_and_opens_a_province(
    page,
    live_server,
    users,
    snapshot,  # noqa: F811
    all_provinces,
):
    from playwright.sync_api import expect

    base = live_server.url
    log_in(page, base, "bo")
    page.goto(f"{base}/stats/")
    page.wait_for_url(f"{base}/stats/national/")
    expect(page.locator("h1")).to_contain_text("toàn quốc")
    canvas = page.locator("#chart-series")
    expect(canvas).to_be_visible()
    drawn = page.evaluate(
        """() => { const c = document.getElementById("chart-series");
                   const chart = Chart.getChart(c);
                   return {chart: !!chart, points: chart ? chart.data.labels.length : 0,
                           width: c.width, height: c.height}; }"""
    )
    assert drawn["chart"] and drawn["points"] == 2 and drawn["width"] > 0 and drawn["height"] > 0
    assert page.evaluate("() => !!Chart.getChart(document.getElementById('chart-provinces'))")
    latest = page.locator('[data-figure="NER"]').get_attribute("data-value")
    assert float(latest) == value("NER", year=2021)[0]["value"]

    page.get_by_label("Năm học", exact=True).select_option("2020")
    page.get_by_role("button", name="Xem").click()
    page.wait_for_url(re.compile(r".*/stats/national/\?year=2020.*"))
    earlier = page.locator('[data-figure="NER"]').get_attribute("data-value")
    assert float(earlier) == value("NER", year=2020)[0]["value"] and earlier != latest
    expect(page.locator('[data-figure="DROPOUT_RATE"] .vn-figure')).not_to_have_text("—")
    page.screenshot(path=str(SCREENSHOTS / "stats_national.png"), full_page=True)

    expect(page.locator("#province-map a[data-province]")).to_have_count(34)
    square = page.locator('#province-map a[data-province="48"]')
    expect(square.locator("title")).to_contain_text("Thành phố Đà Nẵng")
    square.click()
    page.wait_for_url(re.compile(r".*/stats/48/\?year=2020.*"))
    expect(page.locator("h1")).to_contain_text("Thành phố Đà Nẵng")
    shown = page.locator('[data-figure="NER"]').get_attribute("data-value")
    assert float(shown) == value("NER", year=2020, filters=(("province", "48"),))[0]["value"]
    page.screenshot(path=str(SCREENSHOTS / "stats_province.png"), full_page=True)
