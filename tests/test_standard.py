"""The published data standard: the one definition, its code lists, the generated artefacts
(JSON Schema, CSV/XLSX templates, the page in docs/), the web pages, the API, the command, and
the teaching assignments loader it adds."""

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from python_calamine import CalamineWorkbook

from vnemis.exchange import standard
from vnemis.orgs.models import Organisation
from vnemis.registry import code_lists as cl
from vnemis.registry import exchange_format as xf
from vnemis.registry.loaders import MESSAGES, dataset_load
from vnemis.registry.loaders_frames import prepare
from vnemis.registry.models import (
    EnrolmentStatus,
    Ethnicity,
    Period,
    Person,
    ResultSummary,
    Sex,
    StaffAssignment,
    Subject,
    SubjectResult,
    TeachingAssignment,
)

DOCS = Path(__file__).resolve().parents[1] / "docs"

# -- the definition ------------------------------------------------------------------------------


def test_every_column_is_fully_described():
    for entity in xf.LAYOUTS:
        assert entity.title_vi and entity.title_en and entity.description_vi, entity.name
        assert set(entity.natural_key) <= set(entity.column_names), entity.name
        for c in entity.columns:
            where = f"{entity.name}.{c.name}"
            assert c.header_vi and c.header_en, where
            assert c.description_vi and c.description_en, where
            assert c.dtype in standard.DTYPE_JSON, where
            assert c.codes is None or c.codes in cl.CODE_LISTS or c.codes in cl.REFERENCE_LISTS
            if c.required:
                assert c.example, f"{where}: a required column needs an example"
            if c.example and c.codes in cl.CODE_LISTS:
                for code in c.example.split(";"):
                    assert code in cl.codes(c.codes), where
        names = entity.column_names
        assert len(names) == len(set(names)), entity.name
        headers = [c.header_vi for c in entity.columns]
        assert len(headers) == len(set(headers)), entity.name


def test_load_order_and_layouts():
    names = [e.name for e in xf.ENTITIES]
    assert names.index("teaching_assignments") > names.index("classes") > names.index("staff")
    assert xf.BY_NAME["teaching_assignments"].natural_key == (
        "school_code",
        "school_year",
        "class_name",
        "subject_code",
    )
    assert xf.BY_NAME["teaching_assignments"].column_names == [
        "school_code",
        "school_year",
        "class_name",
        "subject_code",
        "staff_code",
    ]
    assert "roster" not in xf.BY_NAME
    assert xf.layout("roster") is xf.ROSTER and xf.LAYOUTS[-1] is xf.ROSTER
    with pytest.raises(KeyError):
        xf.layout("nope")
    assert xf.ROSTER.natural_key == ("school_code", "school_year", "pupil_code")
    split = xf.layout_split(xf.ROSTER)
    assert list(split) == ["pupils", "enrolments"]
    assert split["pupils"] == tuple(xf.BY_NAME["pupils"].column_names)
    assert split["enrolments"] == tuple(xf.BY_NAME["enrolments"].column_names)
    # Every roster column goes somewhere, and nothing else comes from the roster.
    assert set(xf.ROSTER.column_names) == set(split["pupils"]) | set(split["enrolments"])
    assert xf.layout_split(xf.BY_NAME["pupils"]) == {"pupils": split["pupils"]}


def test_header_aliases_map_vietnamese_english_and_plain_spellings():
    pupils = xf.header_aliases(xf.BY_NAME["pupils"])
    cases = {
        "Mã học sinh": "pupil_code",
        "MÃ HỌC SINH": "pupil_code",
        "ma hoc sinh": "pupil_code",
        "Mã HS": "pupil_code",
        "Pupil code": "pupil_code",
        "pupil_code": "pupil_code",
        "Họ và tên": "full_name",
        "ho va ten": "full_name",
        "Họ tên": "full_name",
        "Ngày sinh": "birth_date",
        "Ngày sinh (dd/mm/yyyy)": "birth_date",
        "NGAY_SINH": "birth_date",
        "Date of birth": "birth_date",
        "Giới tính": "sex",
        "gioi  tinh": "sex",
        "Dân tộc": "ethnicity_code",
        "Số CCCD": "citizen_id",
    }
    for header, column in cases.items():
        assert pupils.get(xf.header_key(header)) == column, header
    assert xf.header_key("Lớp học sinh giỏi") not in pupils
    roster = xf.header_aliases(xf.ROSTER)
    assert roster[xf.header_key("Lớp")] == "class_name"
    assert roster[xf.header_key("Trạng thái")] == "status"
    health = xf.header_aliases(xf.BY_NAME["health_records"])
    assert health[xf.header_key("Chiều cao (cm)")] == "height_cm"


def test_header_aliases_are_unambiguous():
    """No spelling may name two columns of one layout (the first would silently win)."""
    for entity in xf.LAYOUTS:
        seen: dict[str, str] = {}
        for c in entity.columns:
            for text in (c.name, c.header_vi, c.header_en, *c.aliases):
                key = xf.header_key(text)
                assert seen.setdefault(key, c.name) == c.name, (entity.name, text)


# -- code lists agree with what the loader validates against ----------------------------------


def _vi_labels(choices) -> list[tuple[str, str]]:
    with translation.override("vi"):
        return [(value, str(label)) for value, label in choices if value]


@pytest.mark.django_db
def test_code_lists_match_the_models_and_reference_data():
    pairs = lambda name: [(c, vi) for c, vi, _en in cl.CODE_LISTS[name]]  # noqa: E731
    assert pairs("sex") == _vi_labels(Sex.choices)
    assert pairs("school_level") == _vi_labels(Organisation.Level.choices)
    assert pairs("ownership") == _vi_labels(Organisation.Ownership.choices)
    assert pairs("enrolment_status") == _vi_labels(EnrolmentStatus.choices)
    assert pairs("period") == _vi_labels(Period.choices)
    assert pairs("summary_rating") == _vi_labels(ResultSummary.Rating.choices)
    assert pairs("outcome") == _vi_labels(ResultSummary.Outcome.choices)
    assert pairs("staff_role") == _vi_labels(StaffAssignment.Role.choices)
    assert pairs("qualification") == _vi_labels(StaffAssignment.Qualification.choices)
    assert pairs("contract_type") == _vi_labels(StaffAssignment.Contract.choices)
    assert pairs("disability") == _vi_labels(Person.Disability.choices)
    with translation.override("vi"):
        policies = [(k, str(v)) for k, v in Person.POLICY_CATEGORIES.items()]
    assert pairs("policy_category") == policies
    # The loader accepts these kinds from files (not ministry/department) and only open status.
    kinds = [k for k in Organisation.Kind.values if k not in ("ministry", "department")]
    assert cl.codes("school_kind") == kinds
    assert cl.codes("org_status") == ["open"] and "open" in Organisation.Status.values
    assert cl.codes("subject_rating") == list(SubjectResult.RATINGS)
    # Reference data in the database (loaded by migrations).
    assert cl.codes("ethnicity") == list(
        Ethnicity.objects.order_by("code").values_list("code", flat=True)
    )
    assert len(cl.codes("ethnicity")) == 54 + 2
    with translation.override("vi"):
        names = dict(Ethnicity.objects.values_list("code", "name"))
    assert pairs("ethnicity") == sorted(names.items())
    assert sorted(cl.codes("subject")) == list(
        Subject.objects.order_by("code").values_list("code", flat=True)
    )
    # Booleans: the codes are what the loader's parser reads.
    import polars as pl

    frame = pl.DataFrame(
        {"_row": [1, 2], **{c: ["x", "x"] for c in xf.BY_NAME["classes"].column_names}}
    ).with_columns(pl.Series("two_sessions", cl.codes("boolean")))
    assert prepare(frame, xf.BY_NAME["classes"])["two_sessions"].to_list() == [True, False]


def test_code_aliases():
    sex = cl.code_aliases("sex")
    for text in ("F", "f", "Nữ", "nu", "NỮ", "female", "F - Nữ"):
        assert sex[cl.search_key(text)] == "F", text
    assert cl.code_aliases("ethnicity")[cl.search_key("01 - Kinh")] == "01"
    assert cl.code_aliases("subject_rating")[cl.search_key("Chưa đạt")] == "CD"
    assert cl.choice_text("sex", "M") == "M - Nam"


# -- JSON Schema ---------------------------------------------------------------------------------


def _errors(schema: dict, record: dict) -> list[str]:
    """A small validator for the keywords the generator emits (jsonschema is not installed)."""
    kinds = {
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
        "null": type(None),
    }
    found = []
    for name in schema["required"]:
        if name not in record:
            found.append(f"{name}: required")
    if schema["additionalProperties"] is False:
        found += [f"{k}: not allowed" for k in record if k not in schema["properties"]]
    for name, value in record.items():
        prop = schema["properties"].get(name)
        if prop is None:
            continue
        types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        ok = any(
            isinstance(value, kinds[t])
            and not (t in ("integer", "number") and isinstance(value, bool))
            for t in types
        )
        if not ok:
            found.append(f"{name}: type")
            continue
        if value is None:
            continue
        if "enum" in prop and value not in prop["enum"]:
            found.append(f"{name}: enum")
        if isinstance(value, str):
            if "pattern" in prop and not re.search(prop["pattern"], value):
                found.append(f"{name}: pattern")
            if len(value) > prop.get("maxLength", 10**9) or len(value) < prop.get("minLength", 0):
                found.append(f"{name}: length")
        elif not isinstance(value, bool) and (
            value < prop.get("minimum", -(10**9)) or value > prop.get("maximum", 10**9)
        ):
            found.append(f"{name}: range")
    return found


def _good_record(entity) -> dict:
    return {c.name: standard._typed_example(c) for c in entity.columns}


def test_json_schema_accepts_good_records_of_every_layout():
    for entity in xf.LAYOUTS:
        schema = standard.json_schema(entity)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith(f":v1:{entity.name}")
        assert schema["x-natural-key"] == list(entity.natural_key)
        assert _errors(schema, _good_record(entity)) == [], entity.name


def test_json_schema_rejects_bad_records():
    pupils = xf.BY_NAME["pupils"]
    schema = standard.json_schema(pupils)
    assert schema["properties"]["birth_date"]["pattern"] == r"^\d{4}-\d{2}-\d{2}$"
    assert schema["properties"]["sex"]["enum"] == ["M", "F"]
    assert schema["properties"]["disability"]["enum"][-1] is None
    good = _good_record(pupils)
    bad_cases = {
        "sex": ("X", "sex: enum"),
        "birth_date": ("15/03/2014", "birth_date: pattern"),
        "ethnicity_code": ("99", "ethnicity_code: enum"),
        "citizen_id": ("12345", "citizen_id: pattern"),
        "full_name": ("x" * 151, "full_name: length"),
        "policy_categories": ("orphan;rich", "policy_categories: pattern"),
        "pupil_code": (None, "pupil_code: type"),
    }
    for column, (value, expected) in bad_cases.items():
        assert expected in _errors(schema, {**good, column: value}), column
    assert "policy_categories: pattern" not in _errors(
        schema, {**good, "policy_categories": "orphan;poor_household"}
    )
    missing = {k: v for k, v in good.items() if k != "full_name"}
    assert _errors(schema, missing) == ["full_name: required"]
    assert _errors(schema, {**good, "shoe_size": 40}) == ["shoe_size: not allowed"]
    results = standard.json_schema(xf.BY_NAME["subject_results"])
    record = _good_record(xf.BY_NAME["subject_results"])
    assert _errors(results, {**record, "score": 10.5}) == ["score: range"]
    assert _errors(results, {**record, "school_year": "2025/26"}) == ["school_year: pattern"]
    classes = standard.json_schema(xf.BY_NAME["classes"])
    assert _errors(classes, {**_good_record(xf.BY_NAME["classes"]), "grade": "6"}) == [
        "grade: type"
    ]


# -- templates -----------------------------------------------------------------------------------


def test_csv_template_header():
    body = standard.csv_template(xf.BY_NAME["pupils"])
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [[c.header_vi for c in xf.BY_NAME["pupils"].columns]]
    assert rows[0][:4] == ["Mã trường", "Mã học sinh", "Mã định danh giáo dục", "Họ và tên"]
    canonical = standard.csv_template(xf.ROSTER, headers="canonical").decode("utf-8-sig")
    assert canonical.strip() == ",".join(xf.ROSTER.column_names)
    with pytest.raises(ValueError):
        standard.csv_template(xf.ROSTER, headers="fr")


def test_xlsx_template_has_drop_downs_dates_and_instructions():
    body = standard.xlsx_template(xf.BY_NAME["pupils"])
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        workbook = z.read("xl/workbook.xml").decode()
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        styles = z.read("xl/styles.xml").decode()
    assert re.search(r'<sheet name="codes" sheetId="\d+" state="hidden"', workbook)
    lists = re.findall(r'<dataValidation type="list"[^>]*sqref="([A-Z]+)2:', sheet)
    formulas = re.findall(r"<formula1>(codes![^<]+)</formula1>", sheet)
    columns = xf.BY_NAME["pupils"].column_names
    coded = [
        chr(65 + i)
        for i, name in enumerate(columns)
        if xf.BY_NAME["pupils"].column(name).codes in cl.CODE_LISTS
        and not xf.BY_NAME["pupils"].column(name).multiple
    ]
    assert lists == coded and len(formulas) == len(coded) == 3  # sex, ethnicity, disability
    assert '<dataValidation type="date"' in sheet
    assert "dd/mm/yyyy" in styles
    wb = CalamineWorkbook.from_filelike(io.BytesIO(body))
    assert wb.sheet_names == ["pupils", "Hướng dẫn", "codes"]
    header = wb.get_sheet_by_name("pupils").to_python()[0]
    assert header == [c.header_vi for c in xf.BY_NAME["pupils"].columns]
    codes = wb.get_sheet_by_name("codes").to_python()
    assert codes[0][:2] == ["sex", "ethnicity"] and codes[1][:2] == ["M - Nam", "01 - Kinh"]
    guide = wb.get_sheet_by_name("Hướng dẫn").to_python()
    assert any(row[0] == "Ngày sinh" and row[2] == "birth_date" for row in guide)


def _xlsx_cells(data: bytes) -> dict:
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return {name: wb.get_sheet_by_name(name).to_python() for name in wb.sheet_names}


def test_committed_docs_are_up_to_date(tmp_path):
    """docs/ holds what the definition generates: run `vnemis exchange_standard --out docs`."""
    standard.write_artefacts(tmp_path)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(DOCS)
        for p in [DOCS / "data-standard-v1.md", *(DOCS / "standard" / "v1").rglob("*")]
        if p.is_file()
    )
    assert fresh == committed
    for rel in fresh:
        new, old = (tmp_path / rel).read_bytes(), (DOCS / rel).read_bytes()
        if rel.suffix == ".xlsx":
            assert _xlsx_cells(new) == _xlsx_cells(old), str(rel)
        else:
            assert new == old, f"{rel} is stale: run `vnemis exchange_standard --out docs`"


def test_generation_is_deterministic():
    for entity in xf.LAYOUTS:
        assert standard.xlsx_template(entity) == standard.xlsx_template(entity)
    assert standard.standard_markdown() == standard.standard_markdown()


def test_markdown_page_lists_every_entity_column_and_code():
    page = standard.standard_markdown()
    for entity in xf.LAYOUTS:
        assert f"`{entity.name}`" in page
        for c in entity.columns:
            assert f"`{c.name}`" in page and c.header_vi in page
    for name, items in cl.CODE_LISTS.items():
        assert f"### `{name}`" in page
        assert all(f"| `{code}` |" in page for code, _vi, _en in items)


def test_commands_write_the_artefacts(tmp_path):
    call_command("exchange_standard", "--out", str(tmp_path / "a"), stdout=io.StringIO())
    call_command("exchange", "standard", "--out", str(tmp_path / "b"), stdout=io.StringIO())
    for out in ("a", "b"):
        assert (tmp_path / out / "data-standard-v1.md").exists()
        assert (tmp_path / out / "standard" / "v1" / "roster.xlsx").exists()
        assert (tmp_path / out / "standard" / "v1" / "teaching_assignments.schema.json").exists()


def test_command_refuses_an_unwritable_target(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(CommandError, match="Cannot write the standard"):
        call_command("exchange_standard", "--out", str(blocker), stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("exchange", "nope", stdout=io.StringIO())


# -- pages and API -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_are_public(client):
    response = client.get("/exchange/standard/")
    assert response.status_code == 200
    text = response.content.decode()
    for entity in xf.LAYOUTS:
        assert f"/exchange/standard/{entity.name}/" in text
    response = client.get("/exchange/standard/pupils/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Mã học sinh" in text and "Pupil code" in text and "pupil_code" in text
    assert "Kinh" in text and "/exchange/standard/pupils.xlsx" in text
    # Dates as a school writes them, and an open range said as one.
    assert "15/03/2014 (hoặc 2014-03-15)" in text and "Từ 01/01/1900" in text
    assert "01/01/1900 –" not in text
    assert client.get("/exchange/standard/roster/").status_code == 200
    assert (
        "/exchange/standard/roster.schema.json"
        in client.get("/exchange/standard/").content.decode()
    )
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get("/exchange/standard/pupils/")
    assert english.status_code == 200
    assert "Pupils of a school" in english.content.decode()  # descriptions follow the language
    assert client.get("/exchange/standard/nope/").status_code == 404


def test_entity_page_lists_the_current_provinces(client, geo):
    text = client.get("/exchange/standard/schools/").content.decode()
    assert "Thành phố Hà Nội" in text and "Thành phố Đà Nẵng" in text


@pytest.mark.django_db
def test_downloads(client):
    expected = {
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "csv": "text/csv; charset=utf-8",
        "schema.json": "application/schema+json",
    }
    for kind, content_type in expected.items():
        response = client.get(f"/exchange/standard/staff.{kind}")
        assert response.status_code == 200, kind
        assert response["Content-Type"] == content_type
        assert f'filename="staff.{kind}"' in response["Content-Disposition"]
        assert response.content == standard.artefact_bytes(xf.BY_NAME["staff"], kind)
    assert json.loads(client.get("/exchange/standard/roster.schema.json").content)["x-entity"] == (
        "roster"
    )
    response = client.get("/exchange/standard/pupils.csv?headers=canonical")
    assert response.content.decode("utf-8-sig").startswith("school_code,pupil_code,")
    assert client.get("/exchange/standard/pupils.csv?headers=xx").status_code == 404
    assert client.get("/exchange/standard/nope.xlsx").status_code == 404
    assert client.get("/exchange/standard/pupils.pdf").status_code == 404


@pytest.mark.django_db
def test_api_is_public(client):
    body = client.get("/api/v1/standard").json()
    assert body["version"] == "v1"
    assert [e["name"] for e in body["entities"]] == [e.name for e in xf.LAYOUTS]
    roster = next(e for e in body["entities"] if e["name"] == "roster")
    assert roster["composite"] is True and roster["load_order"] is None
    pupils = client.get("/api/v1/standard/pupils").json()
    assert pupils["natural_key"] == ["school_code", "pupil_code"]
    sex = next(c for c in pupils["columns"] if c["name"] == "sex")
    assert sex["header_vi"] == "Giới tính" and sex["codes"] == "sex"
    assert pupils["code_lists"]["sex"][1] == {"code": "F", "label_vi": "Nữ", "label_en": "Female"}
    schema = client.get("/api/v1/standard/teaching_assignments/schema").json()
    assert schema["required"] == xf.BY_NAME["teaching_assignments"].column_names
    assert client.get("/api/v1/standard/roster").json()["splits_into"]["pupils"][1] == "pupil_code"


@pytest.mark.django_db
def test_api_unknown_entity(client):
    for url in ("/api/v1/standard/nope", "/api/v1/standard/nope/schema"):
        response = client.get(url)
        assert response.status_code == 404
        body = response.json()
        assert body["code"] == "unknown_entity"
        assert "nope" in body["message_vi"] and "nope" in body["message_en"]


# -- teaching assignments loader -----------------------------------------------------------------


def _write(directory: Path, name: str, rows: list[dict]) -> None:
    columns = xf.BY_NAME[name].column_names
    with open(directory / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})


def _staff(code: str, name: str) -> dict:
    return {
        "school_code": "01000101",
        "staff_code": code,
        "full_name": name,
        "birth_date": "1985-04-04",
        "sex": "F",
        "ethnicity_code": "01",
        "role": "teacher",
        "qualification": "bachelor",
        "contract_type": "permanent",
        "starts_on": "2010-09-01",
    }


def _class(name: str, grade: int) -> dict:
    return {
        "school_code": "01000101",
        "school_year": "2025-2026",
        "class_name": name,
        "grade": grade,
        "two_sessions": "true",
        "combined_grades": "false",
    }


def _assign(class_name: str, subject: str, staff: str, school: str = "01000101") -> dict:
    return {
        "school_code": school,
        "school_year": "2025-2026",
        "class_name": class_name,
        "subject_code": subject,
        "staff_code": staff,
    }


@pytest.fixture
def teaching_dataset(tmp_path, tree, school_year):
    directory = tmp_path / "ds"
    directory.mkdir()
    _write(directory, "staff", [_staff("GV01", "Phạm Thị Hoa"), _staff("GV02", "Lê Văn Nam")])
    _write(directory, "classes", [_class("3A", 3), _class("4A", 4)])
    rows = [
        _assign("3A", "TOAN", "GV01"),  # row 2
        _assign("3A", "TV", "GV02"),  # row 3
        _assign("4A", "TOAN", "GV01"),  # row 4
        _assign("3A", "XYZ", "GV01"),  # row 5: unknown subject
        _assign("3A", "KH", "GV99"),  # row 6: unknown staff code
        _assign("9Z", "TOAN", "GV01"),  # row 7: unknown class
        _assign("3A", "TOAN", "GV01", school="99999999"),  # row 8: unknown school
        _assign("4A", "TV", "GV02"),  # row 9: duplicate key, the later row 10 wins
        _assign("4A", "TV", "GV01"),  # row 10
        {**_assign("4A", "KH", "GV01"), "school_year": "2025"},  # row 11: malformed year
        {**_assign("4A", "NT", "GV01"), "staff_code": ""},  # row 12: required value missing
    ]
    _write(directory, "teaching_assignments", rows)
    return directory


def _pairs() -> set[tuple[str, str, str]]:
    rows = TeachingAssignment.objects.values_list(
        "school_class__name", "subject__code", "teacher__full_name"
    )
    return set(rows)


@pytest.mark.django_db
def test_teaching_assignments_load(teaching_dataset):
    result = dataset_load(directory=teaching_dataset)
    stats = result.entities["teaching_assignments"]
    summary = "\n".join(result.summary_lines())
    assert (stats.rows, stats.inserted, stats.updated, stats.rejected) == (11, 4, 0, 7), summary
    assert dict(stats.problems) == {
        "unknown_subject": 1,
        "unknown_staff": 1,
        "unknown_class": 1,
        "unknown_school": 1,
        "duplicate_key": 1,
        "bad_school_year": 1,
        "missing:staff_code": 1,
    }, summary
    # Reported row numbers follow the file's order (rows 5, 6, 7 and 9 of the list above).
    first = stats.samples["unknown_subject"][0]
    assert stats.samples["unknown_staff"] == [first + 1]
    assert stats.samples["unknown_class"] == [first + 2]
    assert stats.samples["duplicate_key"] == [first + 4]
    assert all(code.split(":")[0] in MESSAGES for code in stats.problems)
    assert _pairs() == {
        ("3A", "TOAN", "Phạm Thị Hoa"),
        ("3A", "TV", "Lê Văn Nam"),
        ("4A", "TOAN", "Phạm Thị Hoa"),
        ("4A", "TV", "Phạm Thị Hoa"),
    }

    # Loading the same files again changes nothing.
    again = dataset_load(directory=teaching_dataset).entities["teaching_assignments"]
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    assert TeachingAssignment.objects.count() == 4

    # A new teacher for 3A mathematics replaces the old one: one update, no new record.
    _write(teaching_dataset, "teaching_assignments", [_assign("3A", "TOAN", "GV02")])
    changed = dataset_load(directory=teaching_dataset).entities["teaching_assignments"]
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 0)
    assert TeachingAssignment.objects.count() == 4
    assert ("3A", "TOAN", "Lê Văn Nam") in _pairs()
    assert ("3A", "TOAN", "Phạm Thị Hoa") not in _pairs()


@pytest.mark.django_db
def test_teaching_assignments_file_without_required_columns(tmp_path, tree, school_year):
    directory = tmp_path / "ds"
    directory.mkdir()
    (directory / "teaching_assignments.csv").write_text(
        "school_code,school_year,class_name\n01000101,2025-2026,3A\n", encoding="utf-8"
    )
    stats = dataset_load(directory=directory).entities["teaching_assignments"]
    assert stats.rejected == 1 and stats.inserted == 0
    assert list(stats.problems) == ["missing_file_columns:subject_code,staff_code"]
    assert TeachingAssignment.objects.count() == 0
