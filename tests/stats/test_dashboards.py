"""Dashboards, table downloads, the indicator definition pages and the statistics API.

A small snapshot of unit records (the one ``test_indicators_units`` builds) is written for the
schools of the shared test tree (two in Hà Nội, one in Đà Nẵng), so scope, figures and
downloads are checked against ``indicator_rows`` on the same snapshot.
"""

import csv
import io
import re
from html.parser import HTMLParser

import polars as pl
import pytest
from python_calamine import CalamineWorkbook

from vnemis.stats.cube import snapshot_engine
from vnemis.stats.indicators.catalogue import INDICATORS
from vnemis.stats.indicators.compute import IndicatorError, Request, indicator_rows
from vnemis.stats.province_grid import GRID

from .test_indicators_units import unit_records, write_snapshot

YEAR, LEVEL = 2020, "primary"  # 2020 has a following year: flow rates are defined


@pytest.fixture
def snapshot(tree, settings, tmp_path):
    enrolments, staff, population = unit_records()
    ids = {1: tree["a"].pk, 2: tree["b"].pk, 3: tree["c"].pk}

    def remap(frame):
        return frame.with_columns(
            school_id=pl.col("school_id").replace_strict(ids),
            province=pl.col("province").replace({"02": "48"}),
        )

    population = population.with_columns(province=pl.col("province").replace({"02": "48"}))
    root = tmp_path / "snapshot"
    write_snapshot(root, remap(enrolments), remap(staff), population)
    settings.STATS_SNAPSHOT_DIR = root
    return root


def rows(request):
    return indicator_rows(snapshot_engine(), request)


def value(code, *, year=YEAR, level=LEVEL, filters=(), by=()):
    return rows(Request(code, year, level, tuple(filters), tuple(by)))


class Attrs(HTMLParser):
    """Every start tag's attributes, in order (enough to read data-* values back)."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def with_attr(self, name):
        return [a for _t, a in self.tags if name in a]


def page(client, user, url, status=200):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.content.decode()


def figures(html):
    return {
        a["data-figure"]: (float(a["data-value"]) if a["data-value"] else None)
        for a in Attrs(html).with_attr("data-figure")
    }


def table(html, table_id):
    """data-key → data-value of the rows of one table."""
    start = html.index(f'id="{table_id}"')
    end = html.index("</table>", start)
    out = {}
    for a in Attrs(html[start:end]).with_attr("data-key"):
        out[a["data-key"]] = float(a["data-value"]) if a.get("data-value") else None
    return out


# --------------------------------------------------------------------------- access


STATS_URLS = (
    "/stats/",
    "/stats/national/",
    "/stats/01/",
    "/stats/01000101/",
    "/stats/indicators/",
    "/stats/indicators/ger/",
    "/stats/national/tables/series.csv",
)


@pytest.mark.parametrize("url", STATS_URLS)
def test_anonymous_is_sent_to_log_in(client, snapshot, url):
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_home_opens_the_viewers_own_node(client, users, snapshot):
    for name, target in (
        ("ministry", "/stats/national/"),
        ("department", "/stats/01/"),
        ("school", "/stats/01000101/"),
    ):
        client.force_login(users[name])
        response = client.get("/stats/?year=2020")
        assert response.status_code == 302 and response.url == f"{target}?year=2020", name


ACCESS = {
    # who: {url: status}
    "ministry": {"national": 200, "01": 200, "48": 200, "01000101": 200, "48000101": 200},
    "department": {"national": 403, "01": 200, "48": 403, "01000101": 200, "48000101": 403},
    "school": {"national": 403, "01": 403, "48": 403, "01000101": 200, "01000102": 403},
    "school_c": {"national": 403, "01": 403, "01000101": 403, "48000101": 200},
    "teacher": {"national": 403, "01000101": 403},
    "citizen": {"national": 403, "01000101": 403},
}


@pytest.mark.parametrize("who", sorted(ACCESS))
def test_each_role_sees_its_own_nodes_only(client, users, snapshot, who):
    for node, status in ACCESS[who].items():
        html = page(client, users[who], f"/stats/{node}/", status)
        if status == 200:
            assert 'id="key-figures"' in html
        download = client.get(f"/stats/{node}/tables/key.csv")
        assert download.status_code == status, (who, node)
        if status == 403:
            assert b"Chi so" not in download.content and b"GER" not in download.content


def test_unknown_nodes_are_not_found(client, users, snapshot):
    client.force_login(users["ministry"])
    for url in ("/stats/99/", "/stats/NOSUCHSCHOOL/", "/stats/BGDDT/"):
        assert client.get(url).status_code == 404, url


def test_other_statistics_pages_are_not_read_as_nodes(client, users, snapshot):
    client.force_login(users["ministry"])
    assert client.get("/stats/snapshot/").status_code == 200


# --------------------------------------------------------------------------- figures


def test_national_figures_equal_indicator_rows(client, users, snapshot):
    html = page(client, users["ministry"], f"/stats/national/?year={YEAR}&level={LEVEL}")
    shown = figures(html)
    for code in ("GER", "NER", "PTR", "REPEATERS_PCT", "DROPOUT_RATE", "TRANSITION_RATE"):
        assert shown[code] == value(code)[0]["value"], code
    assert shown["SURVIVAL_RATE"] == value("SURVIVAL_RATE")[0]["value"]
    assert shown["GPI_GER"] == value("GPI_GER")[0]["value"]
    assert all(v is not None for v in shown.values())
    # The chosen indicator (NER by default) by province: the bars, the map and the table.
    by_province = {r["province"]: r["value"] for r in value("NER", by=("province",))}
    assert table(html, "table-provinces") == by_province
    series = table(html, "table-series")
    assert series == {f"{y}-{y + 1}": value("NER", year=y)[0]["value"] for y in (2020, 2021)}
    # Figures are shown in the Vietnamese way (decimal comma).
    ner = f"{value('NER')[0]['value']:.1f}".replace(".", ",")
    assert ner in html
    assert '<canvas id="chart-series"' in html and '<canvas id="chart-provinces"' in html


def test_flow_rates_need_the_next_year(client, users, snapshot):
    html = page(client, users["ministry"], "/stats/national/?year=2021")
    shown = figures(html)
    assert shown["DROPOUT_RATE"] is None and shown["TRANSITION_RATE"] is None
    assert "Cần số liệu năm học sau (2022)" in html
    assert shown["GER"] == value("GER", year=2021)[0]["value"]


def test_province_page_has_its_figures_and_schools(client, users, snapshot, tree):
    html = page(client, users["department"], f"/stats/01/?year={YEAR}&indicator=PTR")
    province = (("province", "01"),)
    assert figures(html)["GER"] == value("GER", filters=province)[0]["value"]
    assert figures(html)["PTR"] == value("PTR", filters=province)[0]["value"]
    schools = value("PTR", filters=province, by=("school_id",))
    codes = {tree["a"].pk: "01000101", tree["b"].pk: "01000102"}
    assert table(html, "table-schools") == {codes[r["school_id"]]: r["value"] for r in schools}
    assert "48000101" not in html and "Trường Tiểu học Hải Châu" not in html
    # A population-based indicator has no value per school: the panel says so.
    html = page(client, users["department"], f"/stats/01/?year={YEAR}&indicator=NER")
    assert table(html, "table-schools") == {}
    assert "Chỉ số này không tính theo từng trường" in html


def test_school_page_has_no_population_figures(client, users, snapshot, tree):
    html = page(client, users["school"], f"/stats/01000101/?year={YEAR}")
    shown = figures(html)
    school = (("school_id", tree["a"].pk),)
    assert shown["PTR"] == value("PTR", filters=school)[0]["value"]
    assert shown["REPEATERS_PCT"] == value("REPEATERS_PCT", filters=school)[0]["value"]
    assert shown["GER"] is None and shown["NER"] is None and shown["GPI_GER"] is None
    assert "Chỉ số dựa trên dân số chỉ tính cho toàn quốc và tỉnh, thành phố." in html
    assert 'id="province-map"' not in html


def test_filters_change_the_figures(client, users, snapshot):
    client.force_login(users["ministry"])
    base = figures(page(client, users["ministry"], f"/stats/national/?year={YEAR}"))
    for params, filters in (
        ("sex=F", (("sex", "F"),)),
        ("urban_rural=urban", (("urban_rural", "urban"),)),
        ("ethnic_group=minority", (("ethnic_group", "minority"),)),
        ("province=48", (("province", "48"),)),
    ):
        html = page(client, users["ministry"], f"/stats/national/?year={YEAR}&{params}")
        shown = figures(html)
        assert shown["REPEATERS_PCT"] == value("REPEATERS_PCT", filters=filters)[0]["value"]
        assert shown["REPEATERS_PCT"] != base["REPEATERS_PCT"], params
    # A filter the indicator has no disaggregation for gives a reason, not a wrong number.
    html = page(client, users["ministry"], f"/stats/national/?year={YEAR}&urban_rural=urban")
    assert figures(html)["GER"] is None and "không tính theo khu vực thành thị, nông thôn" in html
    html = page(client, users["ministry"], f"/stats/national/?year={YEAR}&sex=F")
    assert (
        figures(html)["GPI_GER"] is None
        and figures(html)["NER"] == (value("NER", filters=(("sex", "F"),))[0]["value"])
    )
    other_year = figures(page(client, users["ministry"], "/stats/national/?year=2021"))
    assert other_year["NER"] != base["NER"]


MALFORMED = (
    ("year=abc", "Năm học không hợp lệ"),
    ("year=20201", "Năm học không hợp lệ"),
    ("year=1999", "Chưa có số liệu năm học 1999"),
    ("level=university", "Cấp học &#x27;university&#x27; không hợp lệ"),
    ("sex=X", "bộ lọc Giới tính không hợp lệ"),
    ("ethnic_group=%3Cscript%3E", "bộ lọc Dân tộc không hợp lệ"),
    ("urban_rural=city", "bộ lọc Khu vực không hợp lệ"),
    ("indicator=NOPE", "Không có chỉ số &#x27;NOPE&#x27;"),
    ("province=99", "Không có tỉnh, thành phố mã &#x27;99&#x27;"),
)


@pytest.mark.parametrize(("query", "message"), MALFORMED)
def test_malformed_filters_give_a_clear_400(client, users, snapshot, query, message):
    html = page(client, users["ministry"], f"/stats/national/?{query}", 400)
    assert 'id="filter-error"' in html and message in html
    assert "<script>" not in html.split('id="filter-error"')[1][:300]
    download = client.get(f"/stats/national/tables/series.csv?{query}")
    assert download.status_code == 400


def test_province_filter_is_for_the_national_page(client, users, snapshot):
    html = page(client, users["department"], "/stats/01/?province=48", 400)
    assert "Bộ lọc tỉnh, thành phố chỉ dùng ở trang toàn quốc." in html


def test_figures_follow_a_rewritten_snapshot(client, users, snapshot):
    before = figures(page(client, users["ministry"], f"/stats/national/?year={YEAR}"))
    enrolments, staff, population = unit_records(seed=11)
    for path in (snapshot / "enrolments").rglob("*.parquet"):
        path.unlink()
    write_snapshot(snapshot, enrolments, staff, population)
    after = figures(page(client, users["ministry"], f"/stats/national/?year={YEAR}"))
    assert after["NER"] != before["NER"] and after["NER"] == value("NER")[0]["value"]


# --------------------------------------------------------------------------- downloads


def _csv(response):
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _xlsx(response):
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    return book.get_sheet_by_index(0).to_python()


@pytest.mark.parametrize("panel", ["key", "series", "provinces"])
def test_csv_and_xlsx_equal_the_table(client, users, snapshot, panel):
    client.force_login(users["ministry"])
    query = f"year={YEAR}&sex=F"
    html = client.get(f"/stats/national/?{query}").content.decode()
    assert f"/stats/national/tables/{panel}.csv?year={YEAR}" in html
    csv_rows = _csv(client.get(f"/stats/national/tables/{panel}.csv?{query}"))
    response = client.get(f"/stats/national/tables/{panel}.xlsx?{query}")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    xlsx_rows = _xlsx(response)
    header = csv_rows[0]
    assert [str(c) for c in xlsx_rows[0]] == header and "Tử số" in header
    at = header.index(next(h for h in header if h.startswith("Giá trị")))
    got_csv = {r[0]: (float(r[at]) if r[at] else None) for r in csv_rows[1:]}
    got_xlsx = {str(r[0]): (float(r[at]) if r[at] != "" else None) for r in xlsx_rows[1:]}
    assert got_xlsx.keys() == got_csv.keys()
    for key, got in got_xlsx.items():  # XLSX keeps 15 significant digits
        want = got_csv[key]
        assert got == pytest.approx(want, rel=1e-13) if want is not None else got is None, key
    female = (("sex", "F"),)
    if panel == "key":
        # The page's figures, themselves checked against indicator_rows above.
        assert got_csv == figures(html)
        assert got_csv["NER"] == value("NER", filters=female)[0]["value"]
    elif panel == "series":
        assert (
            got_csv
            == table(html, "table-series")
            == {
                f"{y}-{y + 1}": value("NER", year=y, filters=female)[0]["value"]
                for y in (2020, 2021)
            }
        )
    else:
        by_province = value("NER", filters=female, by=("province",))
        assert got_csv == table(html, "table-provinces")
        assert got_csv == {r["province"]: r["value"] for r in by_province}
        numerators = {r[0]: int(r[header.index("Tử số")]) for r in csv_rows[1:]}
        assert numerators == {r["province"]: r["numerator"] for r in by_province}


def test_downloads_refuse_unknown_panels_and_formats(client, users, snapshot):
    client.force_login(users["department"])
    assert client.get("/stats/01/tables/provinces.csv").status_code == 404  # national only
    assert client.get("/stats/01/tables/schools.xlsx").status_code == 200
    assert client.get("/stats/01/tables/schools.pdf").status_code == 404


# --------------------------------------------------------------------------- the map


def test_the_grid_places_every_province_once():
    from vietnam_provinces import Province

    codes = {f"{int(p.code):02d}" for p in Province.iter_all()}
    assert set(GRID) == codes and len(GRID) == 34
    places = [(c, r) for c, r, _label in GRID.values()]
    assert len(set(places)) == len(places)
    # North to south: Hà Nội above Huế above Hồ Chí Minh above Cà Mau.
    assert GRID["01"][1] < GRID["46"][1] < GRID["79"][1] < GRID["96"][1]


def test_map_squares_link_to_provinces_with_titles_and_a_legend(client, users, snapshot):
    html = page(client, users["ministry"], f"/stats/national/?year={YEAR}")
    svg = html[html.index("<svg") : html.index("</svg>")]
    links = re.findall(r'<a href="/stats/(\d{2})/\?[^"]*" data-province="(\d{2})"', svg)
    assert sorted(code for code, _ in links) == ["01", "48"]
    by_province = {r["province"]: r["value"] for r in value("NER", by=("province",))}
    for code, name in (("01", "Thành phố Hà Nội"), ("48", "Thành phố Đà Nẵng")):
        shown = f"{by_province[code]:.1f}".replace(".", ",")
        assert f"<title>{name}: {shown}</title>" in svg
    fills = set(re.findall(r'fill="(#[0-9a-f]{6})"', svg)) - {"#000000", "#ffffff"}
    assert len(fills) == 2  # the two provinces fall in different classes
    assert 'id="map-legend"' in html and "Chưa có số liệu" in html


# --------------------------------------------------------------------------- definitions


@pytest.mark.parametrize("indicator", INDICATORS, ids=lambda i: i.code)
def test_every_definition_page_renders(client, users, snapshot, indicator):
    html = page(client, users["ministry"], f"/stats/indicators/{indicator.url_code}/?year={YEAR}")
    for part in (indicator.formula, indicator.numerator, indicator.denominator, indicator.caveats):
        escaped = (
            str(part).replace("'", "&#x27;").replace("&", "&amp;").replace("&amp;#x27;", "&#x27;")
        )
        assert escaped in html or str(part) in html, part
    assert 'id="formula"' in html and 'id="caveats"' in html
    shown = re.search(r'id="value" data-value="([^"]*)"', html).group(1)
    try:
        total = value(indicator.code)[0]["value"]
    except IndicatorError as exc:  # a dataset this small snapshot does not have
        assert shown == "" and exc.vi.replace("'", "&#x27;") in html
        return
    assert (float(shown) if shown else None) == total
    if total is None:
        return
    if indicator.by_sex:
        by_sex = {r["sex"]: r["value"] for r in value(indicator.code, by=("sex",))}
        assert table(html, "by-sex") == by_sex
    if indicator.by_grade:
        assert 'id="by-grade"' in html
    assert 'id="by-province"' in html


def test_catalogue_lists_every_indicator(client, users, snapshot):
    html = page(client, users["school"], "/stats/indicators/")
    for indicator in INDICATORS:
        assert f'data-indicator="{indicator.code}"' in html
        assert f"/stats/indicators/{indicator.url_code}/" in html


def test_definition_page_is_scoped_and_checks_its_filters(client, users, snapshot, tree):
    html = page(client, users["school"], f"/stats/indicators/ptr/?year={YEAR}")
    school = (("school_id", tree["a"].pk),)
    shown = re.search(r'id="value" data-value="([^"]*)"', html).group(1)
    assert float(shown) == value("PTR", filters=school)[0]["value"]
    assert 'id="by-province"' not in html
    page(client, users["school"], "/stats/indicators/ptr/?node=national", 403)
    page(client, users["department"], "/stats/indicators/ger/?node=48", 403)
    page(client, users["ministry"], "/stats/indicators/ger/?year=19x", 400)
    page(client, users["ministry"], "/stats/indicators/nope/", 404)
    page(client, users["ministry"], "/stats/indicators/gpi_ger/", 404)


# --------------------------------------------------------------------------- API


def test_api_catalogue(client, users, snapshot):
    assert client.get("/api/v1/stats/indicators").status_code == 401
    client.force_login(users["school"])
    body = client.get("/api/v1/stats/indicators").json()
    assert [i["code"] for i in body] == [i.code for i in INDICATORS]
    ger = body[0]
    assert ger["formula"] and ger["numerator"] and ger["denominator"] and ger["caveats"]
    assert ger["dimensions"] == ["sex", "province"]


def test_api_values_equal_indicator_rows(client, users, snapshot, tree):
    client.force_login(users["ministry"])
    body = client.get(
        f"/api/v1/stats/indicators/REPEATERS_PCT?year={YEAR}&level={LEVEL}&by=sex,grade"
    ).json()
    assert body["node"] == "national" and body["by"] == ["sex", "grade"]
    assert body["rows"] == value("REPEATERS_PCT", by=("sex", "grade"))
    body = client.get(f"/api/v1/stats/indicators/gpi_ner?year={YEAR}&node=48").json()
    assert body["rows"] == value("GPI_NER", filters=(("province", "48"),))
    client.force_login(users["school"])
    body = client.get(f"/api/v1/stats/indicators/ptr?year={YEAR}&urban_rural=urban").json()
    assert body["node"] == "01000101"
    assert body["rows"] == value(
        "PTR", filters=(("school_id", tree["a"].pk), ("urban_rural", "urban"))
    )


@pytest.mark.parametrize(
    ("who", "query", "status", "code"),
    [
        ("school", "node=national", 403, "out_of_scope"),
        ("school", "node=48000101", 403, "out_of_scope"),
        ("department", "node=48", 403, "out_of_scope"),
        ("department", "node=national", 403, "out_of_scope"),
        ("teacher", "", 403, "out_of_scope"),
        ("ministry", "node=99", 404, "unknown_node"),
        ("ministry", "year=abc", 422, "invalid_filter"),
        ("ministry", "year=1990", 422, "invalid_filter"),
        ("ministry", "sex=Z", 422, "invalid_filter"),
        ("ministry", "by=ownership", 422, "dimension_not_available"),
        ("ministry", "by=a,b,c,d", 422, "too_many_groups"),
        ("ministry", "by=school_id", 422, "too_many_groups"),
    ],
)
def test_api_refuses_out_of_scope_and_malformed(client, users, snapshot, who, query, status, code):
    client.force_login(users[who])
    response = client.get(f"/api/v1/stats/indicators/GER?{query}")
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["message_vi"] and body["message_en"]
    if status == 403:
        assert "rows" not in body


def test_api_unknown_indicator(client, users, snapshot):
    client.force_login(users["ministry"])
    response = client.get("/api/v1/stats/indicators/NOPE")
    assert response.status_code == 404 and response.json()["code"] == "unknown_indicator"
