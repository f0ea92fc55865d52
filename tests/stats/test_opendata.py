"""Open data: the public catalogue, pages, downloads and API over a hand-built snapshot.

The snapshot is written here, Parquet files with exactly the columns of docs/stats.md, so every
expected figure is known by hand. Checked: anonymous access everywhere; the figures and their
margins are the true counts; a hidden cell's true value never leaves in HTML, CSV, XLSX or JSON;
an attacker holding every published figure cannot solve for a hidden one; malformed
parameters; and a snapshot refresh invalidates the cache.
"""

import csv
import io
import itertools
import json
import os
import re
import time
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from python_calamine import CalamineWorkbook

from vnemis.stats import opendata
from vnemis.stats.snapshot_sql import SCHEMAS
from vnemis.stats.suppression import TOTAL

YEAR = 2025
CODES = [d.code for d in opendata.DATASETS]

# The columns docs/stats.md promises (the contract this test builds snapshots to).
DOCUMENTED = {
    "enrolments": "enrolment_id, person_id, school_id, class_id, grade, level, status, started_on, "
    "ended_on, outcome, sex, birth_year, ethnicity, disability, ownership, urban_rural",
    "classes": "class_id, school_id, grade, level, two_sessions, combined_grades",
    "staff": "assignment_id, person_id, school_id, role, level, subjects, qualification, "
    "contract_type, sex, birth_year, ethnicity, ownership, urban_rural",
    "schools": "school_id, code, name, province, commune_code, level, ownership, urban_rural, "
    "status",
}


def level_of(grade: int) -> str:
    return (
        "preschool"
        if grade == 0
        else "primary"
        if grade <= 5
        else "lower_secondary"
        if grade <= 9
        else "upper_secondary"
    )


class SnapshotBuilder:
    """Rows of a snapshot, written as Hive-partitioned Parquet like the snapshot writer does."""

    def __init__(self, root: Path):
        self.root = root
        self.enrolments: dict[tuple[int, str], list[dict]] = {}
        self.classes: dict[tuple[int, str], list[dict]] = {}
        self.staff: dict[tuple[int, str], list[dict]] = {}
        self.schools: list[dict] = []
        self._ids = itertools.count(1)

    def pupils(
        self, year, province, grade, sex, n, *, ethnicity="01", started=None, ended=None, school=1
    ):
        for _ in range(n):
            i = next(self._ids)
            self.enrolments.setdefault((year, province), []).append(
                {
                    "enrolment_id": i,
                    "person_id": i,
                    "school_id": school,
                    "class_id": 1,
                    "grade": grade,
                    "level": level_of(grade),
                    "status": "studying",
                    "started_on": started or date(year, 9, 5),
                    "ended_on": ended,
                    "outcome": "",
                    "sex": sex,
                    "birth_year": year - 6 - grade,
                    "ethnicity": ethnicity,
                    "disability": "",
                    "ownership": "public",
                    "urban_rural": "urban",
                }
            )

    def school(self, school_id, province, level, ownership="public"):
        self.schools.append(
            {
                "school_id": school_id,
                "code": f"S{school_id:07d}",
                "name": f"Trường {school_id}",
                "province": province,
                "commune_code": "00004",
                "level": level,
                "ownership": ownership,
                "urban_rural": "urban",
                "status": "open",
            }
        )

    def class_(self, year, province, school_id, grade, n=1):
        for _ in range(n):
            self.classes.setdefault((year, province), []).append(
                {
                    "class_id": next(self._ids),
                    "school_id": school_id,
                    "grade": grade,
                    "level": level_of(grade),
                    "two_sessions": True,
                    "combined_grades": False,
                }
            )

    def teachers(self, year, province, level, qualification, n, *, role="teacher"):
        for _ in range(n):
            i = next(self._ids)
            self.staff.setdefault((year, province), []).append(
                {
                    "assignment_id": i,
                    "person_id": i,
                    "school_id": 1,
                    "role": role,
                    "level": level,
                    "subjects": ["TV"],
                    "qualification": qualification,
                    "contract_type": "permanent",
                    "sex": "F",
                    "birth_year": 1985,
                    "ethnicity": "01",
                    "ownership": "public",
                    "urban_rural": "urban",
                }
            )

    def write(self):
        for name, parts in (
            ("enrolments", self.enrolments),
            ("classes", self.classes),
            ("staff", self.staff),
        ):
            for (year, province), rows in parts.items():
                directory = self.root / name / f"school_year={year}" / f"province={province}"
                directory.mkdir(parents=True, exist_ok=True)
                table = pa.Table.from_pylist(rows, schema=SCHEMAS[name])
                assert table.column_names == DOCUMENTED[name].split(", ")
                pq.write_table(table, directory / "data.parquet")
        if self.schools:
            table = pa.Table.from_pylist(self.schools, schema=SCHEMAS["schools"])
            assert table.column_names == DOCUMENTED["schools"].split(", ")
            pq.write_table(table, self.root / "schools.parquet")


# Pupils of 2025 (province, grade, sex): count. (01, 2, F) = 3 is the small cell.
PUPILS = {
    ("01", 1, "M"): 20,
    ("01", 1, "F"): 18,
    ("01", 2, "M"): 15,
    ("01", 2, "F"): 3,
    ("01", 6, "M"): 10,
    ("01", 6, "F"): 12,
    ("48", 1, "M"): 7,
    ("48", 1, "F"): 9,
    ("48", 2, "M"): 6,
    ("48", 2, "F"): 8,
    ("48", 6, "M"): 11,
    ("48", 6, "F"): 13,
}
MINORITY = {("48", 6, "F"): 4}  # of the 13 girls of grade 6 in 48, 4 of a minority group


def build(root: Path, *, extra_pupil: bool = False) -> SnapshotBuilder:
    b = SnapshotBuilder(root)
    for (province, grade, sex), n in PUPILS.items():
        minority = MINORITY.get((province, grade, sex), 0)
        b.pupils(YEAR, province, grade, sex, n - minority)
        b.pupils(YEAR, province, grade, sex, minority, ethnicity="05")
    # Not counted: left before 30 September, came after it, preschool.
    b.pupils(YEAR, "01", 1, "M", 2, ended=date(YEAR, 9, 15))
    b.pupils(YEAR, "01", 1, "F", 2, started=date(YEAR, 10, 10))
    b.pupils(YEAR, "01", 0, "F", 9)
    if extra_pupil:
        b.pupils(YEAR, "01", 1, "M", 1)
    # An older year, smaller.
    b.pupils(YEAR - 1, "01", 1, "M", 30)
    b.pupils(YEAR - 1, "01", 1, "F", 31)
    # Schools: 1..3 in 01, 4 in 48 (4 has no class in 2025: not counted that year).
    b.school(1, "01", "primary")
    b.school(2, "01", "primary", "private")
    b.school(3, "01", "lower_secondary")
    b.school(4, "48", "primary")
    for school, grade, n in ((1, 1, 3), (1, 2, 2), (2, 1, 1), (3, 6, 4)):
        b.class_(YEAR, "01", school, grade, n)
    b.class_(YEAR - 1, "48", 4, 1, 2)
    b.teachers(YEAR, "01", "primary", "bachelor", 12)
    b.teachers(YEAR, "01", "primary", "master", 6)
    b.teachers(YEAR, "01", "lower_secondary", "bachelor", 8)
    b.teachers(YEAR, "01", "primary", "college", 2)
    b.teachers(YEAR, "01", "primary", "bachelor", 5, role="staff")  # not teachers
    b.write()
    return b


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def snapshot(geo, settings, tmp_path):
    settings.STATS_SNAPSHOT_DIR = tmp_path / "snapshot"
    build(settings.STATS_SNAPSHOT_DIR)
    return settings.STATS_SNAPSHOT_DIR


@pytest.fixture
def anon():
    return Client()


def api_table(anon, code, year=YEAR):
    response = anon.get(f"/api/v1/open-data/datasets/{code}", {"year": year})
    assert response.status_code == 200, response.content
    return response.json()


def by_key(table):
    dims = [d["code"] for d in table["dimensions"]]
    return {tuple(r["dims"][d] for d in dims): r for r in table["rows"]}


def true_pupils():
    """(province, grade, sex) → true count, with every margin, computed here by hand."""
    provinces, grades, sexes = ["01", "48"], [str(g) for g in range(1, 13)], ["M", "F"]
    detail = Counter({(p, str(g), s): n for (p, g, s), n in PUPILS.items()})
    out = {}
    for key in itertools.product([*provinces, TOTAL], [*grades, TOTAL], [*sexes, TOTAL]):
        spans = [
            provinces if key[0] == TOTAL else [key[0]],
            grades if key[1] == TOTAL else [key[1]],
            sexes if key[2] == TOTAL else [key[2]],
        ]
        out[key] = sum(detail[k] for k in itertools.product(*spans))
    return out


# --- anonymous access ----------------------------------------------------------------------------


def test_catalogue_page_is_public_and_lists_every_dataset(snapshot, anon):
    response = anon.get(reverse("opendata_catalogue"))
    assert response.status_code == 200
    body = response.content.decode()
    for code in CODES:
        assert f'id="dataset-{code}"' in body
        assert reverse("opendata_dataset", args=[code]) in body
    assert "CC BY 4.0" in body
    assert "public" in response["Cache-Control"] and "max-age=" in response["Cache-Control"]
    assert "2025-2026" in body and "2024-2025" in body


@pytest.mark.parametrize("code", CODES)
def test_every_dataset_page_download_and_api_is_public(snapshot, anon, code):
    page = anon.get(reverse("opendata_dataset", args=[code]))
    assert page.status_code == 200, page.content[:500]
    assert 'id="opendata-table"' in page.content.decode()
    assert page["Cache-Control"].startswith("public")
    for fmt in ("csv", "xlsx", "json"):
        download = anon.get(reverse("opendata_download", args=[code, YEAR, fmt]))
        assert download.status_code == 200, (fmt, download.content[:300])
        assert "public" in download["Cache-Control"]
        assert f"{code}-{YEAR}.{fmt}" in download["Content-Disposition"]
    table = api_table(anon, code)
    assert table["code"] == code and table["year"] == YEAR and table["licence"] == "CC BY 4.0"
    assert table["rows"]


def test_api_catalogue_is_public(snapshot, anon):
    response = anon.get("/api/v1/open-data/datasets")
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("public")
    datasets = {d["code"]: d for d in response.json()["datasets"]}
    assert set(datasets) == set(CODES)
    pupils = datasets["pupils-grade-sex"]
    assert pupils["years"] == [YEAR, YEAR - 1]
    assert [d["code"] for d in pupils["dimensions"]] == ["province", "grade", "sex"]
    assert pupils["licence"] == "CC BY 4.0" and pupils["title_en"] and pupils["title_vi"]
    assert datasets["teachers-level-qualification"]["years"] == [YEAR]


def test_the_openapi_document_marks_open_data_without_security(snapshot, anon):
    spec = anon.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/open-data/datasets", "/api/v1/open-data/datasets/{code}"):
        assert not spec["paths"][path]["get"].get("security")


# --- the figures -----------------------------------------------------------------------------------


def test_pupil_figures_and_margins_are_the_true_counts(snapshot, anon):
    table = api_table(anon, "pupils-grade-sex")
    rows = by_key(table)
    truth = true_pupils()
    assert set(rows) == set(truth)
    assert (
        rows[("01", "1", "M")]["value"] == 20
    )  # the pupil who left and the one who came later: out
    assert rows[(TOTAL, TOTAL, TOTAL)]["value"] == sum(PUPILS.values()) == 132
    shown = 0
    for key, row in rows.items():
        if row["suppressed"]:
            assert row["value"] is None and row["percent"] is None
        else:
            assert row["value"] == truth[key], key
            shown += 1
    assert shown > len(rows) // 2
    assert rows[("01", "2", "F")] == {
        "dims": {"province": "01", "grade": "2", "sex": "F"},
        "value": None,
        "percent": None,
        "suppressed": "primary",
        "margin": False,
    }
    # Shares (of the total over sex): shown only when both counts are.
    with_share = 0
    for key, row in rows.items():
        whole = rows[(*key[:-1], TOTAL)]["value"]
        if row["value"] is None or not whole:
            assert row["percent"] is None, key
        else:
            assert row["percent"] == round(row["value"] * 100 / whole, 1), key
            with_share += key[-1] != TOTAL
    assert with_share
    # Province names from the geography.
    provinces = {v["code"]: v["label_vi"] for v in table["dimensions"][0]["values"]}
    assert provinces == {"01": "Thành phố Hà Nội", "48": "Thành phố Đà Nẵng"}


def test_other_datasets_by_hand(snapshot, anon):
    eth = by_key(api_table(anon, "pupils-level-ethnicity"))
    assert eth[("48", "lower_secondary", "minority")]["suppressed"] == "primary"  # 4 pupils
    # The 4 are the country's only minority pupils, so the national minority total (4) is
    # hidden too, and with it Kinh totals down to the provinces; zeros and the grand total stay.
    assert eth[(TOTAL, TOTAL, "minority")]["suppressed"] == "primary"
    assert eth[("48", "lower_secondary", TOTAL)]["suppressed"] == "secondary"
    assert eth[("01", "primary", "minority")]["value"] == 0
    assert eth[(TOTAL, TOTAL, TOTAL)]["value"] == 132

    schools = by_key(api_table(anon, "schools-level-ownership"))
    # Three schools of 01 have classes in 2025; school 4 (48) only in 2024.
    assert schools[(TOTAL, TOTAL, TOTAL)]["suppressed"] == "primary"
    assert all(r["value"] is None or r["value"] == 0 for r in schools.values())

    teachers = by_key(api_table(anon, "teachers-level-qualification"))
    assert teachers[("01", "primary", "bachelor")]["value"] == 12  # the 5 'staff' are not teachers
    assert teachers[("01", "primary", "college")]["suppressed"] == "primary"
    assert teachers[("01", TOTAL, TOTAL)]["value"] == 28
    assert teachers[(TOTAL, TOTAL, TOTAL)]["value"] == 28

    classes = by_key(api_table(anon, "classes-grade"))
    assert classes[(TOTAL, TOTAL)]["value"] == 10
    assert classes[("01", "1")]["value"] is None  # 4 classes


def test_the_pages_follow_the_language_choice(snapshot, anon):
    vi = anon.get(reverse("opendata_dataset", args=["pupils-grade-sex"])).content.decode()
    assert "Học sinh phổ thông theo tỉnh, khối lớp và giới tính" in vi and "Tổng" in vi
    anon.cookies["django_language"] = "en"
    en = anon.get(reverse("opendata_dataset", args=["pupils-grade-sex"]))
    assert "Pupils by province, grade and sex" in en.content.decode()
    assert "Cookie" in en["Vary"]
    catalogue = anon.get(reverse("opendata_catalogue")).content.decode()
    assert "Teachers by province, level and qualification" in catalogue


def test_the_threshold_is_a_setting(snapshot, anon, settings):
    settings.OPENDATA_SUPPRESSION_THRESHOLD = 3
    rows = by_key(api_table(anon, "pupils-grade-sex"))
    assert rows[("01", "2", "F")]["value"] == 3
    assert api_table(anon, "pupils-grade-sex")["threshold"] == 3


# --- no leak ---------------------------------------------------------------------------------------


def _hidden_with_truth(anon):
    table = api_table(anon, "pupils-grade-sex")
    truth = true_pupils()
    hidden = {k: truth[k] for k, r in by_key(table).items() if r["suppressed"]}
    assert ("01", "2", "F") in hidden and hidden[("01", "2", "F")] == 3
    assert any(r["suppressed"] == "secondary" for r in table["rows"])
    return table, hidden


def test_hidden_cells_never_leak_in_html(snapshot, anon):
    _, hidden = _hidden_with_truth(anon)
    body = anon.get(reverse("opendata_dataset", args=["pupils-grade-sex"])).content.decode()
    cells = dict(re.findall(r'<td[^>]*data-key="([^"]+)"[^>]*>([^<]*)</td>', body))
    assert len(cells) == len(true_pupils())
    for key, value in hidden.items():
        shown = cells["|".join(key)]
        assert shown.startswith("…"), (key, shown)
        assert str(value) not in shown
    assert "…*" in body and 'id="legend"' in body


def test_hidden_cells_never_leak_in_csv(snapshot, anon):
    _, hidden = _hidden_with_truth(anon)
    raw = anon.get(reverse("opendata_download", args=["pupils-grade-sex", YEAR, "csv"]))
    text = raw.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [
        "province", "province_label", "grade", "grade_label", "sex", "sex_label",
        "value", "percent", "suppressed",
    ]  # fmt: skip
    seen = {(r["province"], r["grade"], r["sex"]): r for r in rows}
    for key, _value in hidden.items():
        assert seen[key]["value"] == "" and seen[key]["percent"] == "", key
        assert seen[key]["suppressed"] in ("primary", "secondary")
    truth = true_pupils()
    for key, r in seen.items():
        if not r["suppressed"]:
            assert int(r["value"]) == truth[key]


def test_hidden_cells_never_leak_in_xlsx(snapshot, anon, tmp_path):
    _, hidden = _hidden_with_truth(anon)
    raw = anon.get(reverse("opendata_download", args=["pupils-grade-sex", YEAR, "xlsx"]))
    path = tmp_path / "t.xlsx"
    path.write_bytes(raw.content)
    book = CalamineWorkbook.from_path(str(path))
    sheet = book.get_sheet_by_index(0).to_python()
    header, *rows = sheet
    assert header[-3:] == ["value", "percent", "suppressed"]
    seen = {(str(r[0]), str(r[2]), str(r[4])): r for r in rows}
    for key in hidden:
        assert seen[key][6] == "" and seen[key][7] == "", (key, seen[key])
        assert seen[key][8] in ("primary", "secondary")
    notes = book.get_sheet_by_index(1).to_python()
    assert any("CC BY 4.0" in str(cell) for line in notes for cell in line)


def test_hidden_cells_never_leak_in_json(snapshot, anon):
    _, hidden = _hidden_with_truth(anon)
    raw = anon.get(reverse("opendata_download", args=["pupils-grade-sex", YEAR, "json"]))
    data = json.loads(raw.content)
    assert data["total_code"] == TOTAL
    rows = by_key(data)
    for key in hidden:
        assert rows[key]["value"] is None and rows[key]["percent"] is None
    # Nothing in the file carries a count beside the published rows.
    assert set(data) == {
        "code", "year", "threshold", "version", "licence", "dimensions", "rows", "total_code"
    }  # fmt: skip


def test_an_attacker_with_every_published_figure_solves_no_hidden_cell(snapshot, anon):
    """From the API alone: every equality (total = sum of parts) among published rows, as a
    linear system in the hidden cells; no hidden cell's unit vector is in its row space."""
    for code in CODES:
        table = api_table(anon, code)
        rows = by_key(table)
        members = [[v["code"] for v in d["values"]] + [TOTAL] for d in table["dimensions"]]
        hidden = [k for k, r in rows.items() if r["value"] is None]
        index = {k: i for i, k in enumerate(hidden)}
        equations = []
        for key in rows:
            for d, value in enumerate(key):
                if value != TOTAL:
                    continue
                parts = [(*key[:d], m, *key[d + 1 :]) for m in members[d][:-1]]
                row = np.zeros(len(hidden))
                for sign, cell in ((1, key), *((-1, p) for p in parts)):
                    if cell in index:
                        row[index[cell]] += sign
                if row.any():
                    equations.append(row)
        if not hidden:
            continue
        matrix = np.array(equations).reshape(-1, len(hidden))
        rank = np.linalg.matrix_rank(matrix) if len(equations) else 0
        for cell, i in index.items():
            unit = np.zeros((1, len(hidden)))
            unit[0, i] = 1
            assert np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank + 1, (code, cell)


# --- malformed requests ----------------------------------------------------------------------------


def test_unknown_dataset_and_year_are_404_with_messages(snapshot, anon):
    response = anon.get("/api/v1/open-data/datasets/no-such-thing")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "unknown_dataset" and body["message_vi"] and body["message_en"]
    response = anon.get("/api/v1/open-data/datasets/pupils-grade-sex", {"year": 2030})
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "year_unavailable"
    assert "2025" in body["message_en"] and "2024" in body["message_vi"]
    assert anon.get("/open-data/no-such-thing/").status_code == 404
    assert anon.get("/open-data/pupils-grade-sex/?year=2030").status_code == 404
    assert anon.get("/open-data/pupils-grade-sex/2030.csv").status_code == 404
    assert anon.get("/open-data/no-such-thing/2025.csv").status_code == 404


@pytest.mark.parametrize("year", ["abcd", "20255", "2025.5", "-1", "1e3", "２０２５", "2025;DROP"])
def test_malformed_year_is_refused(snapshot, anon, year):
    page = anon.get("/open-data/pupils-grade-sex/", {"year": year})
    assert page.status_code == 400
    response = anon.get("/api/v1/open-data/datasets/pupils-grade-sex", {"year": year})
    assert response.status_code in (400, 422), (year, response.content)
    body = response.json()
    assert body["code"] in ("validation_error", "invalid_year")
    assert "year" in body["message_en"] or body["errors"][0]["field"] == "year"


def test_out_of_range_year_is_400(snapshot, anon):
    for year in (1800, 99999):
        response = anon.get("/api/v1/open-data/datasets/pupils-grade-sex", {"year": year})
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_year"
    assert anon.get("/open-data/pupils-grade-sex/?year=1800").status_code == 400


def test_bad_download_format_and_methods(snapshot, anon):
    assert anon.get("/open-data/pupils-grade-sex/2025.pdf").status_code == 404
    assert anon.get("/open-data/pupils-grade-sex/2025.").status_code == 404
    assert anon.post("/open-data/pupils-grade-sex/").status_code in (403, 405)
    assert anon.post("/api/v1/open-data/datasets").status_code == 405


def test_without_a_snapshot(geo, settings, tmp_path, anon):
    settings.STATS_SNAPSHOT_DIR = tmp_path / "nothing"
    assert anon.get("/open-data/").status_code == 200
    page = anon.get("/open-data/pupils-grade-sex/")
    assert page.status_code == 200
    assert 'id="opendata-table"' not in page.content.decode()
    response = anon.get("/api/v1/open-data/datasets/pupils-grade-sex")
    assert response.status_code == 404 and response.json()["code"] == "year_unavailable"
    assert anon.get("/api/v1/open-data/datasets").json()["datasets"][0]["years"] == []


# --- cache -----------------------------------------------------------------------------------------


def test_tables_are_cached_and_a_snapshot_refresh_invalidates(snapshot, anon):
    first = api_table(anon, "pupils-grade-sex")
    assert by_key(first)[("01", "1", "M")]["value"] == 20
    assert cache.get(f"opendata:v1:pupils-grade-sex:{YEAR}:5:{first['version']}") is not None
    assert api_table(anon, "pupils-grade-sex")["version"] == first["version"]

    # A refresh rewrites the partition (write then rename): one more pupil.
    time.sleep(0.01)
    build(snapshot, extra_pupil=True)
    second = api_table(anon, "pupils-grade-sex")
    assert second["version"] != first["version"]
    assert by_key(second)[("01", "1", "M")]["value"] == 21
    page = anon.get(reverse("opendata_download", args=["pupils-grade-sex", YEAR, "json"]))
    assert by_key(json.loads(page.content))[("01", "1", "M")]["value"] == 21


def test_a_removed_partition_changes_the_version(snapshot, anon):
    first = api_table(anon, "pupils-grade-sex")
    os.remove(snapshot / "enrolments" / f"school_year={YEAR}" / "province=48" / "data.parquet")
    second = api_table(anon, "pupils-grade-sex")
    assert second["version"] != first["version"]
    assert by_key(second)[("48", TOTAL, TOTAL)]["value"] == 0
