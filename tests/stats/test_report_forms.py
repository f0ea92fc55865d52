"""Periodic report forms: figures of every row family against a hand-built snapshot, scope,
drill-down sums, XLSX and PDF exports, and malformed parameters."""

import io
import re
import zlib
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.test import Client
from python_calamine import CalamineWorkbook

from vnemis.orgs.actions import organisation_create
from vnemis.stats.forms import FORMS, report_get
from vnemis.stats.forms.reports import ReportError, drill_get
from vnemis.stats.snapshot_sql import SCHEMAS

YEAR = 2025
START = date(2025, 9, 5)


@pytest.fixture
def schools(tree, geo):
    """The shared tree (A, B in Hà Nội; C in Đà Nẵng; all public) and two non-public primary
    schools of Hà Nội: D private (rural), E people-founded (urban)."""
    common = {"kind": "school", "level": "primary", "opened_on": date(2000, 9, 1)}
    d = organisation_create(
        code="01000201", name="Trường Tiểu học Tư thục Minh Trí", parent=tree["so_hn"],
        province=geo["hn"], commune=geo["hn_commune"], ownership="private", **common,
    )  # fmt: skip
    e = organisation_create(
        code="01000202", name="Trường Tiểu học Dân lập Hòa Bình", parent=tree["so_hn"],
        province=geo["hn"], commune=geo["hn_ward"], ownership="people_founded", **common,
    )  # fmt: skip
    return {**{k: tree[k] for k in ("a", "b", "c")}, "d": d, "e": e}


def _write(root, dataset, rows, year=None, province=None):
    """A partition file as the snapshot writer lays it out (docs/stats.md)."""
    if year is None:
        path = root / f"{dataset}.parquet"
    else:
        path = root / dataset / f"school_year={year}" / f"province={province}" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = SCHEMAS[dataset]
    full = [{name: row.get(name) for name in schema.names} for row in rows]
    pq.write_table(pa.Table.from_pylist(full, schema=schema), path)


def _school_row(org, level, ownership, area):
    return {"school_id": org.pk, "code": org.code, "name": org.name,
            "province": org.code[:2], "commune_code": "", "level": level,
            "ownership": ownership, "urban_rural": area, "status": "open"}  # fmt: skip


@pytest.fixture
def snapshot(schools, settings, tmp_path):
    """A snapshot whose figures are known by hand (see the comments: pupil numbers 1–14)."""
    root = tmp_path / "snapshot"
    settings.STATS_SNAPSHOT_DIR = root
    a, b, c, d, e = (schools[k] for k in "abcde")
    where = {a: ("public", "urban"), b: ("public", "rural"), c: ("public", "urban"),
             d: ("private", "rural"), e: ("people_founded", "urban")}  # fmt: skip
    _write(root, "schools", [
        _school_row(a, "primary", *where[a]), _school_row(b, "lower_secondary", *where[b]),
        _school_row(c, "primary", *where[c]), _school_row(d, "primary", *where[d]),
        _school_row(e, "primary", *where[e]),
    ])  # fmt: skip
    classes = {  # id: (school, grade, two sessions, combined)
        1: (a, 1, True, False), 2: (a, 2, True, False), 3: (a, 3, False, False),
        4: (b, 6, False, False), 5: (c, 1, True, False), 6: (d, 4, False, True),
        7: (e, 5, True, False),
    }  # fmt: skip

    def level(grade):
        return "primary" if grade <= 5 else "lower_secondary"

    by_province: dict = {}
    for cid, (school, grade, two, combined) in classes.items():
        by_province.setdefault(school.code[:2], []).append(
            {
                "class_id": cid,
                "school_id": school.pk,
                "grade": grade,
                "level": level(grade),
                "two_sessions": two,
                "combined_grades": combined,
            }
        )
    for province, rows in by_province.items():
        _write(root, "classes", rows, YEAR, province)
    # (class, sex, ethnicity, disability, status, started, ended, outcome)
    pupils = [
        (1, "F", "01", "", "studying", START, None, "promoted"),  # 1
        (1, "M", "02", "vision", "studying", START, None, "promoted"),  # 2
        (2, "F", "02", "", "repeating", START, None, "repeat"),  # 3
        (3, "M", "01", "", "dropped_out", START, date(2026, 1, 15), ""),  # 4
        (3, "M", "01", "", "transferred_out", START, date(2025, 9, 20), ""),  # 5
        (3, "F", "01", "", "transferred_in", date(2025, 10, 10), None, "promoted"),  # 6
        (5, "M", "01", "", "studying", START, None, "promoted"),  # 7
        (5, "F", "01", "", "studying", START, None, ""),  # 8
        (6, "F", "05", "", "studying", START, None, "promoted"),  # 9
        (6, "M", "01", "", "repeating", START, None, "repeat"),  # 10
        (7, "M", "01", "", "studying", START, None, "completed_level"),  # 11
        (7, "F", "01", "", "dropped_out", START, date(2025, 11, 1), ""),  # 12
        (4, "M", "01", "", "studying", START, None, ""),  # 13: lower secondary
    ]
    enrolments: dict = {}
    for n, (cid, sex, eth, dis, status, started, ended, outcome) in enumerate(pupils, start=1):
        school, grade = classes[cid][0], classes[cid][1]
        enrolments.setdefault(school.code[:2], []).append({
            "enrolment_id": n, "person_id": 100 + n, "school_id": school.pk, "class_id": cid,
            "grade": grade, "level": level(grade), "status": status, "started_on": started,
            "ended_on": ended, "outcome": outcome, "sex": sex, "birth_year": 2025 - 5 - grade,
            "ethnicity": eth, "disability": dis, "ownership": where[school][0],
            "urban_rural": where[school][1],
        })  # fmt: skip
    for province, rows in enrolments.items():
        _write(root, "enrolments", rows, YEAR, province)
    # 14: the year before, which no 2025 figure may count.
    _write(root, "enrolments", [{
        "enrolment_id": 14, "person_id": 114, "school_id": a.pk, "class_id": 9, "grade": 1,
        "level": "primary", "status": "studying", "started_on": date(2024, 9, 5),
        "ownership": "public", "urban_rural": "urban", "sex": "M", "ethnicity": "01",
        "disability": "", "outcome": "",
    }], YEAR - 1, "01")  # fmt: skip
    # (school, role, qualification, contract, sex, ethnicity, level)
    staff = [
        (a, "principal", "bachelor", "permanent", "F", "01", "primary"),
        (a, "teacher", "master", "permanent", "F", "01", "primary"),
        (a, "teacher", "bachelor", "fixed_term", "M", "02", "primary"),
        (a, "staff", "intermediate", "labour", "M", "01", "primary"),
        (c, "teacher", "college", "permanent", "M", "01", "primary"),
        (d, "vice_principal", "bachelor", "permanent", "M", "01", "primary"),
        (d, "teacher", "bachelor", "labour", "F", "01", "primary"),
        (e, "teacher", "other", "visiting", "F", "03", "primary"),
        (b, "teacher", "bachelor", "permanent", "F", "01", "lower_secondary"),
    ]
    posts: dict = {}
    for n, (school, role, qual, contract, sex, eth, lv) in enumerate(staff, start=1):
        posts.setdefault(school.code[:2], []).append({
            "assignment_id": n, "person_id": 500 + n, "school_id": school.pk, "role": role,
            "level": lv, "subjects": [], "qualification": qual, "contract_type": contract,
            "sex": sex, "birth_year": 1980, "ethnicity": eth, "ownership": where[school][0],
            "urban_rural": where[school][1],
        })  # fmt: skip
    for province, rows in posts.items():
        _write(root, "staff", rows, YEAR, province)
    return root


def _figures(viewer, form="TH-DN", unit=""):
    return report_get(viewer=viewer, form_code=form, year=str(YEAR), unit=unit).figures


def _t(figures, key):
    f = figures[key]
    return f["total"], f["public"], f["non_public"]


# --- figures -------------------------------------------------------------------------------------


def test_start_of_year_national_figures(snapshot, users):
    f = _figures(users["ministry"])
    # schools: A, C public; D, E non-public; B is lower secondary
    assert _t(f, "I.1") == (4, 2, 2)
    assert _t(f, "I.1.1") == (3, 2, 1)  # urban: A, C, E
    assert _t(f, "I.1.2") == (1, 0, 1)  # rural: D
    assert _t(f, "I.2") == (0, 0, 0)
    assert _t(f, "I.3") == (2, 1, 1)  # every class two sessions: C, E (A has one that is not)
    assert _t(f, "I.4") == (1, 0, 1)  # combined-grade class: D
    # classes
    assert _t(f, "II.1") == (6, 4, 2)
    assert [f[f"II.1.{g}"]["total"] for g in range(1, 6)] == [2, 1, 1, 1, 1]
    assert _t(f, "II.2") == (4, 3, 1)
    assert _t(f, "II.3") == (1, 0, 1)
    # pupils enrolled on 30 Sep: not 5 (left 20 Sep), not 6 (came 10 Oct), not 13 (level), not 14
    assert _t(f, "III.1") == (10, 6, 4)
    assert [f[f"III.1.{g}"]["total"] for g in range(1, 6)] == [4, 1, 1, 2, 2]
    assert _t(f, "III.2") == (5, 3, 2)
    assert [f[f"III.2.{g}"]["total"] for g in range(1, 6)] == [2, 1, 0, 1, 1]
    assert _t(f, "III.3") == (3, 2, 1)
    assert _t(f, "III.3.1") == (2, 1, 1)
    assert _t(f, "III.4") == (1, 1, 0)
    assert _t(f, "III.5") == (2, 1, 1)
    assert [f[f"III.5.{g}"]["total"] for g in range(1, 6)] == [0, 1, 0, 1, 0]
    # staff of the primary level (B's teacher is lower secondary)
    assert _t(f, "IV.1") == (8, 5, 3)
    assert _t(f, "IV.1.1") == (2, 1, 1)
    assert _t(f, "IV.1.1.1") == (1, 1, 0)
    assert _t(f, "IV.1.1.2") == (1, 0, 1)
    assert _t(f, "IV.1.2") == (5, 3, 2)
    assert _t(f, "IV.1.3") == (1, 1, 0)
    assert [f[f"IV.2.{i}"]["total"] for i in range(1, 7)] == [0, 1, 2, 1, 0, 1]
    assert _t(f, "IV.3") == (3, 1, 2)
    assert _t(f, "IV.4") == (2, 1, 1)
    assert _t(f, "IV.5") == (3, 1, 2)
    # ratios
    assert _t(f, "V.1") == (0.83, 0.75, 1.0)
    assert _t(f, "V.2") == (1.67, 1.5, 2.0)
    assert _t(f, "V.3") == (2.0, 2.0, 2.0)


def test_end_of_year_figures(snapshot, users):
    f = _figures(users["ministry"], "TH-CN")
    # enrolled on 31 May: 1, 2, 3, 6, 7, 8, 9, 10, 11
    assert _t(f, "III.1") == (9, 6, 3)
    assert _t(f, "IV.1") == (2, 1, 1)  # dropouts 4 and 12
    assert [f[f"IV.1.{g}"]["total"] for g in range(1, 6)] == [0, 0, 1, 0, 1]
    assert _t(f, "IV.2") == (1, 0, 1)
    assert _t(f, "IV.3") == (8, 5, 3)
    assert _t(f, "IV.3.1") == (5, 4, 1)  # promoted
    assert _t(f, "IV.3.2") == (1, 0, 1)  # completed the level
    assert _t(f, "IV.3.3") == (0, 0, 0)
    assert _t(f, "IV.3.4") == (2, 1, 1)  # repeat
    assert _t(f, "IV.4") == (1, 1, 0)  # no outcome yet: 8
    assert _t(f, "V.1.2") == (5, 3, 2)  # staff section moved to V


def test_totals_are_public_plus_non_public(snapshot, users):
    for code in FORMS:
        figures = _figures(users["ministry"], code)
        for key, f in figures.items():
            if isinstance(f["total"], int):
                assert f["total"] == f["public"] + f["non_public"], (code, key)


def test_lower_secondary_form_counts_its_level_only(snapshot, users):
    f = _figures(users["ministry"], "THCS-DN")
    assert _t(f, "I.1") == (1, 1, 0)
    assert _t(f, "III.1") == (1, 1, 0)
    assert f["III.1.1"]["total"] == 1  # grade 6
    assert _t(f, "IV.1.2") == (1, 1, 0)


def test_adding_a_row_is_one_line(snapshot, users):
    from vnemis.stats.forms.compute import ReportData, Scope, form_figures
    from vnemis.stats.forms.spec import Form, count, heading, keyed

    form = Form(code="X", number="X", level="primary", period="start_of_year", rows=keyed([
        heading("I", "Thử"),
        count("1", "Học sinh sinh năm 2018", "pupils", "enrolled AND birth_year = 2019"),
    ]))  # fmt: skip
    with ReportData(level="primary", year=YEAR, ref_date=date(2025, 9, 30), scope=Scope()) as d:
        assert (
            form_figures(d, form)["I.1"]["total"] == 4
        )  # grade 1: 2025 - 5 - 1 (pupils 1, 2, 7, 8)


# --- scope ---------------------------------------------------------------------------------------


def test_department_and_school_scope(snapshot, users, schools):
    f = _figures(users["department"])  # Hà Nội: A, D, E
    assert _t(f, "I.1") == (3, 1, 2)
    assert _t(f, "III.1") == (8, 4, 4)
    f = _figures(users["school"])  # school A
    assert _t(f, "I.1") == (1, 1, 0)
    assert _t(f, "III.1") == (4, 4, 0)
    assert _t(f, "IV.1") == (4, 4, 0)
    f = _figures(users["ministry"], unit=schools["d"].code)
    assert _t(f, "III.1") == (2, 0, 2)


@pytest.mark.parametrize(
    ("user", "unit", "status"),
    [
        ("school", "SGD01", 403),
        ("school", "48000101", 403),
        ("school", "BGDDT", 403),
        ("department", "SGD48", 403),
        ("department", "BGDDT", 403),
        ("department", "48000101", 403),
        ("department_dn", "01000101", 403),
        ("school", "KHONGCO", 404),
    ],
)
def test_scope_refusals(snapshot, users, user, unit, status):
    with pytest.raises(ReportError) as err:
        report_get(viewer=users[user], form_code="TH-DN", year=str(YEAR), unit=unit)
    assert err.value.status == status
    client = Client()
    client.force_login(users[user])
    response = client.get("/stats/reports/TH-DN/", {"unit": unit})
    assert response.status_code == status
    assert "phạm vi" in response.content.decode() or "Không có đơn vị" in response.content.decode()
    # nor a download, nor a drill-down
    for extra in ({"format": "xlsx"}, {"format": "pdf"}):
        assert client.get("/stats/reports/TH-DN/", {"unit": unit, **extra}).status_code == status
    drill = client.get("/stats/reports/TH-DN/drill/", {"unit": unit, "row": "III.1"})
    assert drill.status_code == status


@pytest.mark.parametrize("user", ["teacher", "citizen", "system"])
def test_roles_without_reports(snapshot, users, user):
    client = Client()
    client.force_login(users[user])
    for url in (
        "/stats/reports/",
        "/stats/reports/TH-DN/",
        "/stats/reports/TH-DN/drill/?row=III.1",
    ):
        assert client.get(url).status_code == 403, url


def test_anonymous_is_sent_to_login(snapshot):
    response = Client().get("/stats/reports/TH-DN/")
    assert response.status_code == 302 and "login" in response["Location"]


# --- drill-down ----------------------------------------------------------------------------------


def _drill(viewer, row, col="total", unit="", form="TH-DN"):
    return drill_get(viewer=viewer, form_code=form, row=row, column=col, year=str(YEAR), unit=unit)


def test_drill_nation_province_school(snapshot, users, schools):
    d = _drill(users["ministry"], "III.1")
    assert d.by == "province"
    assert [(i.label, i.value, i.unit_code) for i in d.items] == [
        ("01 – Thành phố Hà Nội", 8, "SGD01"), ("48 – Thành phố Đà Nẵng", 2, "SGD48"),
    ]  # fmt: skip
    assert d.items_sum == d.total == 10
    d = _drill(users["ministry"], "III.1", "non_public", unit="SGD01")
    assert d.by == "school"
    assert {i.unit_code: i.value for i in d.items} == {"01000201": 2, "01000202": 2}
    assert d.items_sum == d.total == 4
    d = _drill(users["ministry"], "III.1", unit="01000101")
    assert d.by == "class"
    assert [i.value for i in d.items] == [2, 1, 1]
    assert d.items[0].label == "Khối 1 – lớp thứ 1"
    assert d.items_sum == d.total == 4


def test_drill_sums_every_row(snapshot, users):
    """For every counting row and column, the provinces (nation) and the schools (Hà Nội) add
    up to the figure: the breakdown engine behind every drill-down page, on one connection."""
    from vnemis.stats.forms.compute import ReportData, Scope, form_figures
    from vnemis.stats.forms.reports import unit_get
    from vnemis.stats.forms.spec import COLUMNS

    form = FORMS["TH-CN"]
    hanoi = unit_get(viewer=users["ministry"], code="SGD01").scope
    for scope, by in ((Scope(), "province"), (hanoi, "school_id")):
        with ReportData(level="primary", year=YEAR, ref_date=date(2026, 5, 31), scope=scope) as d:
            figures = form_figures(d, form)
            checked = 0
            for row in form.rows:
                if row.dataset is None:
                    continue
                for col in COLUMNS:
                    parts = d.breakdown(row, col, by)
                    assert sum(n for n, _g in parts.values()) == figures[row.key][col.code]
                    checked += 1
            assert checked == 3 * len([r for r in form.rows if r.dataset])
    # and through the page's entry point, a few rows at every level
    for key in ("I.1", "II.1", "IV.1", "V.1.2"):
        for unit in ("", "SGD01", "01000101"):
            d = _drill(users["ministry"], key, "total", unit=unit, form="TH-CN")
            if d.by:
                assert d.items_sum == d.total, (key, unit)


def test_drill_ratio_and_definition_only(snapshot, users):
    d = _drill(users["ministry"], "V.2")  # pupils per class
    assert d.items_sum == (10, 6)
    assert [(i.numerator, i.denominator, i.value) for i in d.items] == [(8, 5, 1.6), (2, 1, 2.0)]
    d = _drill(users["school"], "IV.1.2")  # teachers of a school: no finer unit
    assert d.by == "" and d.items == [] and "không chia được theo lớp" in d.note
    d = _drill(users["ministry"], "III.3", unit="01000101")  # ethnicity below a school
    assert d.by == "" and "Nghị định 13/2023" in d.note
    d = _drill(users["school"], "III.3")  # the school's own officer sees its classes
    assert d.by == "class" and d.items_sum == d.total == 2


def test_drill_department_sees_only_its_schools(snapshot, users):
    d = _drill(users["department"], "III.1")
    assert {i.unit_code for i in d.items} == {"01000101", "01000201", "01000202"}


def test_drill_page_has_no_names(snapshot, users):
    client = Client()
    client.force_login(users["school"])
    response = client.get("/stats/reports/TH-DN/drill/", {"row": "III.1", "col": "total"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Khối 1 – lớp thứ 1" in text and "Theo lớp" in text
    assert "Nguyễn Văn An" not in text  # the shared fixture's pupil of school A


def test_report_page_links_to_drill(snapshot, users):
    client = Client()
    client.force_login(users["ministry"])
    response = client.get("/stats/reports/TH-DN/", {"year": YEAR})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Biểu số 01/TH-ĐN" in text and "Số liệu tính đến ngày 30/09/2025" in text
    assert "Năm học 2025–2026" in text and "Đơn vị báo cáo: Bộ Giáo dục và Đào tạo" in text
    links = re.findall(r'href="(/stats/reports/TH-DN/drill/\?[^"]+)"', text)
    assert any("row=III.1&amp;col=total" in link for link in links)
    link = next(lk for lk in links if "row=III.1&amp;col=public" in lk).replace("&amp;", "&")
    drill = client.get(link)
    assert drill.status_code == 200 and "Theo tỉnh, thành phố" in drill.content.decode()
    assert client.get(link.replace("unit=BGDDT", "unit=SGD01")).status_code == 200


def test_index_redirects_to_the_chosen_form(snapshot, users):
    client = Client()
    client.force_login(users["department"])
    page = client.get("/stats/reports/")
    assert page.status_code == 200 and "01/TH-ĐN" in page.content.decode()
    response = client.get(
        "/stats/reports/",
        {"level": "upper_secondary", "period": "end_of_year", "year": "2025", "unit": "SGD01"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/stats/reports/THPT-CN/?year=2025&unit=SGD01"


# --- exports -------------------------------------------------------------------------------------


def test_xlsx_export(snapshot, users):
    client = Client()
    client.force_login(users["department"])
    response = client.get("/stats/reports/TH-DN/", {"year": YEAR, "format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('TH-DN_SGD01_2025-2026.xlsx"')
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    rows = book.get_sheet_by_name("TH-DN").to_python()
    text = "\n".join(str(cell) for row in rows for cell in row)
    assert "Biểu số 01/TH-ĐN" in text and "Số liệu tính đến ngày 30/09/2025" in text
    assert "Đơn vị báo cáo: Sở GD&ĐT Hà Nội" in text and "Ngoài công lập" in text
    by_label = {str(r[1]).strip(): r for r in rows if len(r) > 5}
    assert by_label["Tổng số học sinh"][3:6] == [8.0, 4.0, 4.0]
    assert by_label["Học sinh dân tộc thiểu số"][3:6] == [3.0, 2.0, 1.0]
    assert by_label["Học sinh/lớp"][3:6] == [1.6, 1.33, 2.0]  # 8/5, 4/3, 4/2


def _pdf_text(data: bytes) -> str:
    """The text of an fpdf2 PDF: content streams decoded through each font's ToUnicode map."""
    objects = {
        int(m.group(1)): m.group(2)
        for m in re.finditer(rb"(\d+) 0 obj(.*?)endobj", data, re.DOTALL)
    }

    def stream(body: bytes) -> bytes:
        m = re.search(rb"stream\r?\n(.*?)\r?\nendstream", body, re.DOTALL)
        if m is None:
            return b""
        raw = m.group(1)
        return zlib.decompress(raw) if b"/FlateDecode" in body[: m.start()] else raw

    cmaps = {}
    for num, body in objects.items():
        m = re.search(rb"/ToUnicode (\d+) 0 R", body)
        if m and b"/Type /Font" in body:
            cmap = {}
            text = stream(objects[int(m.group(1))])
            for block in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.DOTALL):
                for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                    cmap[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
            cmaps[num] = cmap
    names = {}
    for m in re.finditer(rb"/F(\d+) (\d+) 0 R", data):
        names[b"F" + m.group(1)] = int(m.group(2))
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}

    def literal(s: bytes) -> bytes:
        out, i = bytearray(), 0
        while i < len(s):
            ch = s[i : i + 1]
            if ch == b"\\":
                nxt = s[i + 1 : i + 2]
                if nxt in escapes:
                    out += escapes[nxt]
                    i += 2
                elif nxt.isdigit():
                    octal = re.match(rb"[0-7]{1,3}", s[i + 1 : i + 4]).group(0)
                    out.append(int(octal, 8))
                    i += 1 + len(octal)
                else:
                    out += nxt
                    i += 2
            else:
                out += ch
                i += 1
        return bytes(out)

    parts, font = [], {}
    token = re.compile(rb"/(F\d+)\s+[\d.]+\s+Tf|\(((?:\\.|[^\\)])*)\)\s*Tj|(ET)", re.DOTALL)
    for body in objects.values():
        if b"/Type /Page" in body or b"/FontFile" in body or b"/Length1" in body:
            continue
        content = stream(body)
        if b"Tj" not in content:
            continue
        for m in token.finditer(content):
            if m.group(1):
                font = cmaps.get(names.get(m.group(1)), {})
            elif m.group(3):
                parts.append(" ")
            else:
                raw = literal(m.group(2))
                codes = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
                parts.append("".join(font.get(c, " ") for c in codes))
    return re.sub(r"\s+", " ", "".join(parts))


def test_pdf_export(snapshot, users):
    client = Client()
    client.force_login(users["ministry"])
    response = client.get("/stats/reports/TH-CN/", {"year": YEAR, "format": "pdf"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = _pdf_text(response.content)
    for expected in ("Biểu số 02/TH-CN", "BÁO CÁO THỐNG KÊ GIÁO DỤC TIỂU HỌC – CUỐI NĂM HỌC",
                     "Số liệu tính đến ngày 31/05/2026", "Học sinh bỏ học trong năm học",
                     "Ngoài công lập", "Giáo viên dân tộc thiểu số", "Trang 1/"):  # fmt: skip
        assert expected in text, expected
    # the pupils' line on 31 May: 9, 6, 3; pupils per class 9/6, 6/4, 3/2
    assert "Tổng số học sinh Học sinh 9 6 3" in text
    assert "Học sinh/lớp Tỷ lệ 1,50 1,50 1,50" in text


def test_pdf_without_fonts_says_so(tmp_path):
    from vnemis.stats.render_pdf import FontsMissing, font_dir

    with pytest.raises(FontsMissing, match="DejaVu"):
        font_dir((tmp_path,))


# --- malformed parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "params", "status", "words"),
    [
        ("/stats/reports/XX-YY/", {}, 404, "Không có biểu báo cáo"),
        ("/stats/reports/TH-DN/", {"year": "abcd"}, 400, "Năm học"),
        ("/stats/reports/TH-DN/", {"year": "2025-2027"}, 400, "Năm học"),
        ("/stats/reports/TH-DN/", {"year": "99999999999999999999"}, 400, "Năm học"),
        ("/stats/reports/TH-DN/", {"year": "2031"}, 404, "chưa có số liệu"),
        ("/stats/reports/TH-DN/", {"unit": "'; DROP TABLE x; --"}, 404, "Không có đơn vị"),
        ("/stats/reports/TH-DN/", {"format": "docx"}, 400, "Định dạng"),
        ("/stats/reports/", {"level": "preschool", "period": "start_of_year"}, 400, "Cấp học"),
        ("/stats/reports/", {"level": "primary", "period": "mid_year"}, 400, "Kỳ báo cáo"),
        ("/stats/reports/", {"level": "primary"}, 400, "Kỳ báo cáo"),
        ("/stats/reports/TH-DN/drill/", {}, 400, "Thiếu tham số"),
        ("/stats/reports/TH-DN/drill/", {"row": "I.1' OR 1=1"}, 404, "không có dòng"),
        ("/stats/reports/TH-DN/drill/", {"row": "III"}, 404, "không có dòng"),
        ("/stats/reports/TH-DN/drill/", {"row": "III.1", "col": "x"}, 400, "Cột"),
        ("/stats/reports/XX/drill/", {"row": "III.1"}, 404, "Không có biểu báo cáo"),
    ],
)
def test_malformed_parameters(snapshot, users, url, params, status, words):
    client = Client()
    client.force_login(users["ministry"])
    response = client.get(url, params)
    assert response.status_code == status
    assert words in response.content.decode()


def test_empty_snapshot(users, settings, tmp_path):
    settings.STATS_SNAPSHOT_DIR = tmp_path / "none"
    client = Client()
    client.force_login(users["ministry"])
    response = client.get("/stats/reports/TH-DN/")
    assert response.status_code == 404
    assert "chưa có năm học nào" in response.content.decode()
    assert client.get("/stats/reports/").status_code == 200


def test_university_is_not_a_reporting_unit(snapshot, users, tree, geo):
    organisation_create(code="QHX", name="Trường Đại học Thử", kind="university",
                        parent=tree["moet"], province=geo["hn"], ownership="public")  # fmt: skip
    with pytest.raises(ReportError) as err:
        report_get(viewer=users["ministry"], form_code="TH-DN", year=str(YEAR), unit="QHX")
    assert err.value.status == 400
