"""Intake (exchange/intake): reading, header mapping, normalising and validating uploaded files
into canonical exchange-format files and error rows; causes, reports and messages.

File-level tests: real files written to tmp_path, no database.
"""

import json
import time
import unicodedata
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

from vnemis.exchange.causes import causes_group
from vnemis.exchange.intake import IntakeRefused, intake_file
from vnemis.exchange.intake.headers import entity_detect
from vnemis.exchange.messages import ENGINE_MESSAGES, INTAKE_MESSAGES, all_codes, message
from vnemis.exchange.reports import (
    error_report_csv,
    error_report_xlsx,
    neutralise,
    neutralise_frame,
)
from vnemis.registry.citizen_id import make_citizen_id
from vnemis.registry.education_id import format_education_id

TODAY = date(2026, 1, 15)
SCHOOL = "01000101"
ROSTER_HEADER = (
    "Mã HS,Họ và tên,Ngày sinh,Giới tính,Dân tộc,Quốc tịch,Lớp,Năm học,Trạng thái,Ngày vào lớp"
)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run(path: Path, tmp_path: Path, **kw):
    kw.setdefault("today", TODAY)
    return intake_file(path, out_dir=tmp_path / "out", **kw)


def errors_of(result) -> pl.DataFrame:
    return pl.read_parquet(result.errors_path)


def codes_at(result, row: int) -> set[str]:
    e = errors_of(result)
    return set(e.filter(pl.col("row") == row)["code"].to_list())


def roster_line(
    code="HS1",
    name="Nguyễn Văn An",
    birth="12/03/2014",
    sex="Nam",
    eth="01",
    nat="VN",
    cls="6A1",
    year="2025-2026",
    status="studying",
    start="05/09/2025",
) -> str:
    return ",".join([code, name, birth, sex, eth, nat, cls, year, status, start])


def roster(tmp_path, *lines, header=ROSTER_HEADER, name="roster.csv"):
    return write(tmp_path, name, "\n".join([header, *lines]) + "\n")


# -- normalisation --------------------------------------------------------------------------


def test_roster_csv_is_normalised_and_split_into_pupils_and_enrolments(tmp_path):
    nfd_name = unicodedata.normalize("NFD", "  trần   THỊ  bình ")
    path = roster(
        tmp_path,
        roster_line(name="  nguyễn   văn AN ", sex="Nam", eth="Kinh", nat="Việt Nam"),
        roster_line(
            code="HS2", name=nfd_name, birth="3/4/2014", sex="nữ", eth="1", status="Đang học"
        ),
        roster_line(
            code="HS3", birth="2014-05-06", sex="female", start="45905", year="2025 / 2026"
        ),
    )
    result = run(path, tmp_path, school_code=SCHOOL)
    assert result.entity == "roster"
    assert result.rows_total == 3 and result.rows_valid == 3 and result.error_count == 0
    assert list(result.files) == ["pupils", "enrolments"]
    assert result.headers["birth_date"] == "Ngày sinh"
    pupils = pl.read_parquet(result.files["pupils"])
    enrolments = pl.read_parquet(result.files["enrolments"])
    assert all(dtype == pl.String for name, dtype in pupils.schema.items() if name != "_row")
    assert pupils.schema["_row"] == pl.Int64
    assert pupils["_row"].to_list() == [2, 3, 4] == enrolments["_row"].to_list()
    assert pupils["full_name"].to_list() == ["Nguyễn Văn An", "Trần Thị Bình", "Nguyễn Văn An"]
    assert unicodedata.is_normalized("NFC", pupils["full_name"][1])
    assert pupils["birth_date"].to_list() == ["2014-03-12", "2014-04-03", "2014-05-06"]
    assert pupils["sex"].to_list() == ["M", "F", "F"]
    assert pupils["ethnicity_code"].to_list() == ["01", "01", "01"]
    assert pupils["nationality"].to_list() == ["VN", "VN", "VN"]
    assert pupils["school_code"].to_list() == [SCHOOL] * 3  # filled from the caller
    assert enrolments["status"].to_list() == ["studying"] * 3
    assert enrolments["started_on"].to_list() == ["2025-09-05"] * 3  # 45905 = Excel serial
    assert enrolments["school_year"].to_list() == ["2025-2026"] * 3
    assert errors_of(result).height == 0


@pytest.mark.parametrize(
    ("given", "iso", "code"),
    [
        ("12/03/2014", "2014-03-12", None),
        ("2/3/2014", "2014-03-02", None),
        ("12-03-2014", "2014-03-12", None),
        ("12.03.2014", "2014-03-12", None),
        ("2014-03-12", "2014-03-12", None),
        ("2014-03-12 00:00:00", "2014-03-12", None),
        ("2014-03-12T00:00", "2014-03-12", None),
        ("41710", "2014-03-12", None),
        ("41710.0", "2014-03-12", None),
        ("03/25/2014", None, "date_mmdd"),
        ("31/02/2014", None, "bad_date"),
        ("2014-03-12 08:30:00", None, "bad_date"),
        ("12/13/14", None, "bad_date"),
        ("hôm qua", None, "bad_date"),
        ("2014", None, "bad_date"),  # a bare year is no Excel serial
        ("1850-01-01", None, "implausible_birth_date"),
        ("2027-01-01", None, "implausible_birth_date"),
    ],
)
def test_dates(tmp_path, given, iso, code):
    header = "Mã HS,Họ và tên,Ngày sinh,Giới tính,Dân tộc,Quốc tịch"
    path = write(tmp_path, "p.csv", f"{header}\nHS1,An,{given},M,01,VN\n")
    result = run(path, tmp_path, school_code=SCHOOL, entity="pupils")
    if code is None:
        assert result.error_count == 0
        assert pl.read_parquet(result.files["pupils"])["birth_date"].to_list() == [iso]
    else:
        assert codes_at(result, 2) == {code}
        assert result.rows_valid == 0
        assert errors_of(result)["value"].to_list() == [given]  # as the user wrote it


def test_booleans_ints_and_class_file(tmp_path):
    header = "Mã trường,Năm học,Tên lớp,Khối,Học 2 buổi/ngày,Lớp ghép"
    text = "\n".join(
        [
            header,
            f"{SCHOOL},2025-2026,1A,1,có,không",
            f"{SCHOOL},2025-2026,1B,1.0,x,0",
            f"{SCHOOL},2025-2026,1C,1,TRUE,false",
            f"{SCHOOL},2025-2026,1D,một,maybe,1",
        ]
    )
    result = run(write(tmp_path, "c.csv", text + "\n"), tmp_path, entity="classes")
    classes = pl.read_parquet(result.files["classes"])
    assert classes["two_sessions"].to_list() == ["true", "true", "true"]
    assert classes["combined_grades"].to_list() == ["false", "false", "false"]
    assert classes["grade"].to_list() == ["1", "1", "1"]
    assert codes_at(result, 5) == {"bad_value"}
    assert set(errors_of(result)["column"].to_list()) == {"grade", "two_sessions"}


def test_person_names_title_case_keeps_hyphenated_words(tmp_path):
    path = roster(
        tmp_path,
        roster_line(name="ĐỖ thị ánh"),
        roster_line(code="HS2", name="y khơ-me"),
        roster_line(code="HS3", name="o'neil  an"),
    )
    result = run(path, tmp_path, school_code=SCHOOL)
    names = pl.read_parquet(result.files["pupils"])["full_name"].to_list()
    assert names == ["Đỗ Thị Ánh", "Y Khơ-me", "O'neil An"]


# -- header mapping and entity detection ---------------------------------------------------


def test_entity_detection_from_headers():
    vi_pupils = [
        "Mã trường",
        "Mã học sinh",
        "Họ và tên",
        "Ngày sinh",
        "Giới tính",
        "Dân tộc",
        "Quốc tịch",
    ]
    assert entity_detect(vi_pupils) == "pupils"
    en_roster = ["School code", "School year", "Class", "Pupil code", "Full name", "Date of birth",
                 "Sex", "Ethnic group", "Nationality", "Enrolment status", "Start date"]  # fmt: skip
    assert entity_detect(en_roster) == "roster"
    canonical = ["school_code", "school_year", "pupil_code", "class_name", "status", "started_on"]
    assert entity_detect(canonical) == "enrolments"
    assert entity_detect(["MÃ TRƯỜNG", "ma hoc sinh", "HỌ VÀ TÊN", "Ngày  sinh (*)", "GIOI TINH",
                          "Dân tộc", "Quốc tịch"]) == "pupils"  # fmt: skip
    with pytest.raises(IntakeRefused) as e:
        entity_detect(["foo", "bar", "baz"])
    assert e.value.code == "entity_unknown"


def test_missing_required_columns_refused_with_their_names(tmp_path):
    path = write(tmp_path, "p.csv", "Mã HS,Họ và tên,Giới tính\nHS1,An,M\n")
    with pytest.raises(IntakeRefused) as e:
        run(path, tmp_path, school_code=SCHOOL, entity="pupils")
    assert e.value.code == "missing_columns"
    assert "'Ngày sinh'" in e.value.message_vi and "'Date of birth'" in e.value.message_en
    assert set(e.value.details["columns"]) == {"birth_date", "ethnicity_code", "nationality"}
    assert not (tmp_path / "out" / "errors.parquet").exists()
    assert not (tmp_path / "out" / "canonical").exists()


def test_unknown_columns_are_a_warning_and_ignored(tmp_path):
    path = roster(tmp_path, roster_line() + ",ghi chú", header=ROSTER_HEADER + ",Ghi chú")
    result = run(path, tmp_path, school_code=SCHOOL)
    e = errors_of(result)
    assert e.select("row", "code", "severity", "value").rows() == [
        (1, "unknown_column", "warning", "Ghi chú")
    ]
    assert result.rows_valid == 1 and result.error_count == 0 and result.warning_count == 1
    assert "Ghi chú" not in pl.read_parquet(result.files["pupils"]).columns


def test_school_code_must_be_the_callers(tmp_path):
    header = "Mã trường," + ROSTER_HEADER
    path = roster(
        tmp_path,
        f"{SCHOOL}," + roster_line(code="HS1"),
        "79000202," + roster_line(code="HS2"),
        "1000101," + roster_line(code="HS3"),
        " ," + roster_line(code="HS4"),
        header=header,
    )
    result = run(path, tmp_path, school_code=SCHOOL)
    assert codes_at(result, 3) == {"wrong_school"}
    assert codes_at(result, 4) == {"leading_zeros_lost"}
    pupils = pl.read_parquet(result.files["pupils"])
    assert pupils.select("pupil_code", "school_code").rows() == [("HS1", SCHOOL), ("HS4", SCHOOL)]


# -- validation rules -------------------------------------------------------------------------


def test_code_lists_and_lengths(tmp_path):
    path = roster(
        tmp_path,
        roster_line(code="HS1", status="đi chơi"),
        roster_line(code="HS2", sex="X", eth="99"),
        roster_line(code="H" * 31),
        roster_line(code="HS4", nat="Vietnamese"),
        roster_line(code="HS5", year="2025-2027"),
    )
    result = run(path, tmp_path, school_code=SCHOOL)
    assert codes_at(result, 2) == {"bad_status"}
    assert codes_at(result, 3) == {"bad_sex", "unknown_ethnicity"}
    assert codes_at(result, 4) == {"too_long"}
    assert codes_at(result, 5) == {"bad_nationality", "too_long"}
    assert codes_at(result, 6) == {"bad_school_year"}
    assert result.rows_valid == 0


def test_missing_required_values(tmp_path):
    path = roster(tmp_path, roster_line(name="   "), roster_line(code="HS2", sex=""))
    result = run(path, tmp_path, school_code=SCHOOL)
    e = errors_of(result)
    assert e.select("row", "column", "code").rows() == [
        (2, "full_name", "missing"),
        (3, "sex", "missing"),
    ]


@pytest.mark.parametrize(
    ("birth", "cls", "ok"),
    [
        ("12/03/2019", "1A", True),  # 6 at the start of 2025-2026: grade 1
        ("12/03/2020", "1A", True),  # 5: one year early is allowed
        ("12/03/2021", "1A", False),  # 4
        ("12/03/2016", "1A", True),  # 9: three years late is allowed
        ("12/03/2015", "1A", False),  # 10
        ("12/03/2009", "10A2", True),  # 16 in grade 10
        ("12/03/2014", "10A2", False),  # 11 in grade 10
        ("12/03/2014", "Lá", True),  # no grade in the class name: no check
    ],
)
def test_age_plausible_for_grade(tmp_path, birth, cls, ok):
    result = run(roster(tmp_path, roster_line(birth=birth, cls=cls)), tmp_path, school_code=SCHOOL)
    assert (result.error_count == 0) is ok
    if not ok:
        assert codes_at(result, 2) == {"age_grade"}


def test_citizen_id_structure(tmp_path):
    born = date(2014, 3, 12)
    good = make_citizen_id(province3="001", birth_date=born, sex="M", serial=12345)
    header = "Mã HS,Họ và tên,Ngày sinh,Giới tính,Dân tộc,Quốc tịch,Số CCCD"
    lines = [
        f"HS1,An,12/03/2014,M,01,VN,{good}",
        f"HS2,An,12/03/2014,M,01,VN,{'099' + good[3:]}",  # 099 is no province
        f"HS3,An,12/03/2014,F,01,VN,{good}",  # 2 = male born in the 2000s
        f"HS4,An,12/03/2013,M,01,VN,{good}",  # year digits 14 ≠ 13
        f"HS5,An,12/03/2014,M,01,VN,{good[1:]}",  # leading zero lost in Excel
        "HS6,An,12/03/2014,M,01,VN,00121401234X",
        "HS7,An,12/03/2014,M,01,VN,12345",  # too short to be lost zeros: just wrong
        "HS8,An,12/03/2014,M,01,VN,123456789",  # the old 9-digit identity card
    ]
    result = run(write(tmp_path, "p.csv", "\n".join([header, *lines]) + "\n"), tmp_path,
                 school_code=SCHOOL, entity="pupils")  # fmt: skip
    assert codes_at(result, 2) == set()
    assert codes_at(result, 3) == {"cccd_province"}
    assert codes_at(result, 4) == {"cccd_century_sex"}
    assert codes_at(result, 5) == {"cccd_birth_year"}
    assert codes_at(result, 6) == {"leading_zeros_lost"}
    assert codes_at(result, 7) == {"bad_citizen_id"}
    assert codes_at(result, 8) == {"bad_citizen_id"}
    assert codes_at(result, 9) == {"old_id_card"}
    assert result.rows_valid == 1


def test_names_hold_only_letters_and_name_punctuation(tmp_path):
    """Formula-like or symbol-laden text is no name: refused with its own message; names of
    the Central Highlands peoples (H'Hen Niê, Y-Moan Ê Ban) and dotted initials pass."""
    names = ["H'Hen Niê", "Y-Moan Ê Ban", "Nguyễn T. Lan", '=HYPERLINK("http://x","y")',
             "@SUM(1+1)", "-2+3 Nguyễn", "Trần 3 An"]  # fmt: skip
    quoted = ['"' + n.replace('"', '""') + '"' for n in names]  # CSV quoting: commas inside
    lines = [roster_line(code=f"HS{i}", name=q) for i, q in enumerate(quoted)]
    path = write(tmp_path, "r.csv", "\n".join([ROSTER_HEADER, *lines]) + "\n")
    result = run(path, tmp_path, school_code=SCHOOL)
    for row in (2, 3, 4):
        assert "bad_name" not in codes_at(result, row), row
    for row in (5, 6, 7, 8):
        assert codes_at(result, row) == {"bad_name"}, row
    vi, en = message("bad_name", "Họ và tên")
    assert "chữ cái" in vi and "letters" in en and "'Họ và tên'" in en


def test_education_id_check_digit(tmp_path):
    good = format_education_id("01", 2024, 1234)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    header = "Mã HS,Họ và tên,Ngày sinh,Giới tính,Dân tộc,Quốc tịch,Mã định danh"
    lines = [f"HS1,An,12/03/2014,M,01,VN,{good}", f"HS2,An,12/03/2014,M,01,VN,{bad}"]
    result = run(write(tmp_path, "p.csv", "\n".join([header, *lines]) + "\n"), tmp_path,
                 school_code=SCHOOL, entity="pupils")  # fmt: skip
    assert codes_at(result, 2) == set()
    assert codes_at(result, 3) == {"bad_education_id"}


def test_duplicates_across_chunks_last_row_wins(tmp_path):
    path = roster(
        tmp_path,
        roster_line(code="HS1", name="Một"),
        roster_line(code="HS2"),
        roster_line(code="HS3"),
        roster_line(code="HS1", name="Hai"),
        roster_line(code="HS1", name="Ba"),
        roster_line(code="HS4", birth="bad"),
        roster_line(code="HS4"),
    )
    result = run(path, tmp_path, school_code=SCHOOL, chunk_rows=2)
    e = errors_of(result).filter(pl.col("code") == "duplicate_key")
    assert sorted(e["row"].to_list()) == [2, 5]
    assert e["value"].to_list()[0] == f"{SCHOOL} | 2025-2026 | HS1"
    pupils = pl.read_parquet(result.files["pupils"])
    assert pupils.filter(pl.col("pupil_code") == "HS1")["full_name"].to_list() == ["Ba"]
    # A row rejected for another reason is no duplicate of the good one.
    assert pupils.filter(pl.col("pupil_code") == "HS4")["_row"].to_list() == [8]
    assert result.rows_valid == 4


def test_ranges_from_the_standard(tmp_path):
    header = "Mã trường,Mã học sinh,Ngày đo,Chiều cao,Cân nặng"
    lines = [f"{SCHOOL},HS1,01/10/2025,120.5,25", f"{SCHOOL},HS2,01/10/2025,500,25",
             f"{SCHOOL},HS3,01/10/2025,120,abc"]  # fmt: skip
    result = run(write(tmp_path, "h.csv", "\n".join([header, *lines]) + "\n"), tmp_path,
                 entity="health_records")  # fmt: skip
    assert codes_at(result, 2) == set()
    assert codes_at(result, 3) == {"implausible_measurement"}
    assert codes_at(result, 4) == {"bad_value"}


# -- formats ----------------------------------------------------------------------------------


def test_xlsx_with_title_rows_merged_two_row_header_dates_and_serials(tmp_path):
    path = tmp_path / "ds.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Danh sách lớp")
    ws.merge_range(0, 0, 0, 9, "DANH SÁCH HỌC SINH LỚP 6A1")
    ws.write(1, 0, "Năm học 2025-2026")
    heads = ["Mã HS", "Họ và tên", "Ngày", "Giới tính", "Dân tộc", "Quốc tịch", "Lớp", "Năm học",
             "Trạng thái", "Ngày vào lớp"]  # fmt: skip
    for c, h in enumerate(heads):
        if h == "Ngày":
            ws.write(2, c, "Ngày")
            ws.write(3, c, "sinh")
        else:
            ws.merge_range(2, c, 3, c, h)
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    rows = [
        ["HS1", "nguyễn văn an", date(2014, 3, 12), "Nam", "01", "VN", "6A1", "2025-2026", "studying", date(2025, 9, 5)],
        ["HS2", "lê thị b", 41710, "Nữ", 1, "VN", "6A1", "2025-2026", "studying", "05/09/2025"],
        ["HS3", "lê thị c", "03/25/2014", "Nữ", 1, "VN", "6A1", "2025-2026", "studying", "05/09/2025"],
    ]  # fmt: skip
    for r, row in enumerate(rows, start=4):
        for c, v in enumerate(row):
            if isinstance(v, date):
                ws.write_datetime(r, c, v, date_fmt)
            else:
                ws.write(r, c, v)
    wb.close()
    result = run(path, tmp_path, school_code=SCHOOL)
    assert result.entity == "roster"
    assert result.headers["birth_date"] == "Ngày sinh"
    pupils = pl.read_parquet(result.files["pupils"])
    assert pupils["_row"].to_list() == [5, 6]  # spreadsheet rows
    assert pupils["birth_date"].to_list() == ["2014-03-12", "2014-03-12"]
    assert pupils["ethnicity_code"].to_list() == ["01", "01"]
    assert pupils["full_name"].to_list() == ["Nguyễn Văn An", "Lê Thị B"]
    assert codes_at(result, 7) == {"date_mmdd"}


def test_xlsx_sheet_named_like_the_entity_is_chosen(tmp_path):
    path = tmp_path / "wb.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("Hướng dẫn").write(0, 0, "Đọc kỹ hướng dẫn")
    ws = wb.add_worksheet("Học sinh")  # the entity's title
    for c, h in enumerate(["Mã HS", "Họ và tên", "Ngày sinh", "Giới tính", "Dân tộc", "Quốc tịch"]):
        ws.write(0, c, h)
    for c, v in enumerate(["HS1", "An", "12/03/2014", "M", "01", "VN"]):
        ws.write_string(1, c, v)
    wb.close()
    result = run(path, tmp_path, school_code=SCHOOL, entity="pupils")
    assert result.rows_valid == 1


def test_parquet_typed_columns(tmp_path):
    path = tmp_path / "p.parquet"
    pl.DataFrame(
        {
            "school_code": [SCHOOL, SCHOOL],
            "pupil_code": ["HS1", "HS2"],
            "full_name": ["an", "bình"],
            "birth_date": [date(2014, 3, 12), None],
            "sex": ["M", "F"],
            "ethnicity_code": [1, 2],
            "nationality": ["vn", "VN"],
        }
    ).write_parquet(path)
    result = run(path, tmp_path, entity="pupils")
    pupils = pl.read_parquet(result.files["pupils"])
    assert pupils.select("birth_date", "ethnicity_code", "nationality", "_row").rows() == [
        ("2014-03-12", "01", "VN", 2)
    ]
    assert codes_at(result, 3) == {"missing"}


def test_json_lines_with_line_numbers_and_a_broken_line(tmp_path):
    lines = [
        json.dumps(
            {
                "school_code": SCHOOL,
                "pupil_code": "HS1",
                "full_name": "an",
                "birth_date": "2014-03-12",
                "sex": "M",
                "ethnicity_code": "01",
                "nationality": "VN",
                "policy_categories": ["poor_household", "Mồ côi"],
            },
            ensure_ascii=False,
        ),
        "",
        "{not json",
        '["a list"]',
        json.dumps(
            {
                "school_code": SCHOOL,
                "pupil_code": "HS2",
                "full_name": "b",
                "birth_date": "12/03/2014",
                "sex": "nữ",
                "ethnicity_code": 1,
                "nationality": "VN",
            },
            ensure_ascii=False,
        ),
    ]
    path = write(tmp_path, "p.jsonl", "\n".join(lines) + "\n")
    result = run(path, tmp_path, entity="pupils")
    pupils = pl.read_parquet(result.files["pupils"])
    assert pupils["_row"].to_list() == [1, 5]  # line numbers
    assert pupils["policy_categories"].to_list() == ["poor_household;orphan", None]
    assert codes_at(result, 3) == {"bad_json"} and codes_at(result, 4) == {"bad_json"}


def test_progress_is_reported(tmp_path):
    path = roster(tmp_path, *[roster_line(code=f"HS{i}") for i in range(10)])
    seen = []
    run(
        path,
        tmp_path,
        school_code=SCHOOL,
        chunk_rows=3,
        on_progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[-1] == (10, 10)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert all(d <= t for d, t in seen)


# -- causes -----------------------------------------------------------------------------------


def test_causes_name_the_pattern_and_the_header_as_written(tmp_path):
    lines = [roster_line(code=f"HS{i}", birth=f"03/{13 + i % 15}/2014") for i in range(4212)]
    lines += [roster_line(code="HSX", birth="03/04/2014")]
    result = run(roster(tmp_path, *lines), tmp_path, school_code=SCHOOL)
    causes = causes_group(result.errors_path, result.headers)
    top = causes[0]
    assert top["code"] == "date_mmdd" and top["count"] == 4212
    assert top["message_vi"] == (
        "Cột 'Ngày sinh' có vẻ dùng định dạng tháng/ngày/năm (mm/dd/yyyy) ở 4.212 dòng"
    )
    assert top["message_en"] == "Column 'Ngày sinh' looks like mm/dd/yyyy in 4,212 rows"
    assert top["sample_rows"] == [2, 3, 4, 5, 6]
    # 03/04/2014 reads either way; in a month-first column it is not loaded as 3 April.
    assert result.rows_valid == 0
    ambiguous = next(c for c in causes if c["code"] == "date_ambiguous")
    assert ambiguous["sample_rows"] == [4214] and "03/04" in ambiguous["message_en"]


def test_ambiguous_dates_load_in_a_day_first_column(tmp_path):
    lines = [roster_line(code=f"HS{i}", birth=f"{13 + i}/03/2014") for i in range(3)]
    lines += [
        roster_line(code="HSA", birth="03/25/2014"),
        roster_line(code="HSB", birth="03/04/2014"),
    ]
    result = run(roster(tmp_path, *lines), tmp_path, school_code=SCHOOL)
    assert codes_at(result, 5) == {"date_mmdd"}  # the odd one out is still an error
    births = pl.read_parquet(result.files["pupils"])["birth_date"].to_list()
    assert births[-1] == "2014-04-03"  # day first, like the rest of the column
    assert result.rows_valid == 4


def test_causes_decimal_comma_and_lost_zeros_no_empty_column_noise(tmp_path):
    header = "Mã trường,Năm học,Mã học sinh,Mã môn học,Kỳ đánh giá,Điểm,Mức đánh giá"
    lines = [f"{SCHOOL},2025-2026,HS{i},TOAN,term1,{7 + i % 3}," for i in range(3)]
    lines += [f'{SCHOOL},2025-2026,HS9,TOAN,term1,"7,5",']
    lines += ["1000101,2025-2026,HS8,TOAN,term1,8,"]
    path = write(tmp_path, "r.csv", "\n".join([header, *lines]) + "\n")
    result = run(path, tmp_path, school_code=SCHOOL, entity="subject_results")
    causes = {c["code"]: c for c in causes_group(result.errors_path, result.headers)}
    assert causes["decimal_comma"]["message_vi"].startswith("Cột 'Điểm' dùng dấu phẩy")
    assert "'7,5'" in causes["decimal_comma"]["message_en"]
    # An optional column left empty everywhere is normal (scores without ratings): no cause.
    assert "column_empty" not in causes
    zeros = causes["leading_zeros_lost"]
    assert "'1000101'" in zeros["message_en"] and "'01000101'" in zeros["message_en"]
    assert "Excel" in zeros["message_vi"]


def test_causes_group_a_million_error_rows_fast(tmp_path):
    n = 1_000_000
    path = tmp_path / "errors.parquet"
    pl.DataFrame(
        {
            "row": pl.int_range(2, n + 2, eager=True),
            "entity": ["pupils"] * n,
            "column": ["birth_date", "sex"] * (n // 2),
            "value": ["03/25/2014", "X"] * (n // 2),
            "code": ["date_mmdd", "bad_sex"] * (n // 2),
            "severity": ["error"] * n,
        }
    ).write_parquet(path)
    started = time.perf_counter()
    causes = causes_group(path, {"birth_date": "Ngày sinh", "sex": "Giới tính"})
    assert time.perf_counter() - started < 5
    assert [(c["code"], c["count"]) for c in causes] == [
        ("bad_sex", 500_000),
        ("date_mmdd", 500_000),
    ]
    assert "500.000" in causes[1]["message_vi"]


# -- reports ----------------------------------------------------------------------------------


def _errors_with_injection(tmp_path) -> Path:
    path = tmp_path / "errors.parquet"
    pl.DataFrame(
        {
            "row": [None, 2, 3, 4, 5],
            "entity": ["pupils"] * 5,
            "column": [None, "full_name", "pupil_code", "class_name", "pupil_code"],
            "value": [
                "Ghi chú",
                '=HYPERLINK("http://x","y")',
                "+cmd|' /C calc'!A0",
                "@SUM(1)",
                "-2+3",
            ],
            "code": ["unknown_column", "too_long", "too_long", "too_long", "missing"],
            "severity": ["warning", "error", "error", "error", "error"],
        },
        schema_overrides={"row": pl.Int64},
    ).write_parquet(path)
    return path


def test_error_report_csv_neutralises_formulas(tmp_path):
    errors = _errors_with_injection(tmp_path)
    out = error_report_csv(errors, tmp_path / "errors.csv", {"full_name": "Họ và tên"})
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads Vietnamese right
    report = pl.read_csv(out, infer_schema=False)
    assert report.columns == ["Dòng / Row", "Cột / Column", "Giá trị / Value", "Lỗi", "Error"]
    values = report["Giá trị / Value"].to_list()
    assert values[1:] == [
        '\'=HYPERLINK("http://x","y")',
        "'+cmd|' /C calc'!A0",
        "'@SUM(1)",
        "'-2+3",
    ]
    assert report["Cột / Column"].to_list()[1] == "Họ và tên"
    assert report["Lỗi"].to_list()[1] == "giá trị quá dài ở cột 'Họ và tên'"


def test_error_report_xlsx_has_causes_and_caps_rows(tmp_path):
    errors = _errors_with_injection(tmp_path)
    out = error_report_xlsx(errors, tmp_path / "errors.xlsx", {}, max_rows=4)
    wb = CalamineWorkbook.from_path(str(out))
    assert wb.sheet_names == ["Lỗi", "Nguyên nhân"]
    rows = wb.get_sheet_by_name("Lỗi").to_python()
    assert rows[0] == ["Dòng / Row", "Cột / Column", "Giá trị / Value", "Lỗi", "Error"]
    assert len(rows) == 4  # header + 2 rows + the note
    assert rows[2][2] == '\'=HYPERLINK("http://x","y")'
    assert "Excel" in rows[3][0] and "5" in rows[3][0]
    causes = wb.get_sheet_by_name("Nguyên nhân").to_python()
    assert len(causes) == 6  # header + one cause per (code, column)
    assert causes[-1][4] == "warning" and "Ghi chú" in causes[-1][3]  # warnings last
    with zipfile.ZipFile(out) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no cell became a formula


def test_neutralise():
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("\tx") == "'\tx" and neutralise("\rx") == "'\rx"
    assert neutralise("Nguyễn") == "Nguyễn" and neutralise(5) == 5 and neutralise(None) is None
    df = neutralise_frame(pl.DataFrame({"a": ["@x", "ok", None], "n": [-1, 2, 3]}))
    assert df["a"].to_list() == ["'@x", "ok", None] and df["n"].to_list() == [-1, 2, 3]


# -- messages ---------------------------------------------------------------------------------


def test_every_code_has_both_languages():
    for code in all_codes():
        vi, en = message(code)
        assert vi and en and vi != code, code
    for code in ENGINE_MESSAGES:
        assert (
            message(code)
            == (
                ENGINE_MESSAGES[code][0].removesuffix(" ở cột"),
                ENGINE_MESSAGES[code][1].removesuffix(" in column"),
            )
            or code in INTAKE_MESSAGES
        )


def test_message_names_the_column():
    assert message("missing:full_name") == (
        "thiếu giá trị bắt buộc ở cột 'full_name'",
        "required value missing in column 'full_name'",
    )
    assert message("missing", "Họ và tên")[0] == "thiếu giá trị bắt buộc ở cột 'Họ và tên'"
    assert message("bad_sex", "Giới tính")[1] == "sex code must be M or F (column 'Giới tính')"
    assert message("no_such_code") == ("no_such_code", "no_such_code")


# -- end to end with the engine ---------------------------------------------------------------


@pytest.mark.django_db
def test_canonical_files_load_into_the_registry(tmp_path, tree, school_year):
    from vnemis.registry import actions as registry_actions
    from vnemis.registry.loaders import dataset_load
    from vnemis.registry.models import Enrolment, Person

    registry_actions.school_class_get_or_create(
        school=tree["a"], school_year=school_year, grade=3, name="3A"
    )
    path = roster(
        tmp_path,
        roster_line(code="HS1", name="nguyễn văn AN", birth="14/03/2017", cls="3A"),
        roster_line(code="HS2", name="trần thị bình", birth="2017-05-02", sex="Nữ", cls="3A"),
        roster_line(code="HS3", name="lê văn c", birth="05/25/2017", cls="3A"),
    )
    result = run(path, tmp_path, school_code=SCHOOL)
    assert result.rows_valid == 2 and result.error_count == 1
    engine_errors = []
    loaded = dataset_load(files=result.files, error_sink=engine_errors.append)
    assert loaded.rejected == 0, [e.to_dicts() for e in engine_errors]
    enrolments = Enrolment.objects.filter(school=tree["a"], school_year=school_year)
    assert sorted(enrolments.values_list("pupil_code", flat=True)) == ["HS1", "HS2"]
    assert set(
        Person.objects.filter(enrolments__in=enrolments).values_list("full_name", flat=True)
    ) == {
        "Nguyễn Văn An",
        "Trần Thị Bình",
    }
    again = dataset_load(files=result.files)
    assert again.changed == 0  # re-importing the same canonical files changes nothing


def test_csv_with_title_lines_and_semicolons(tmp_path):
    text = "\n".join(
        [
            "DANH SÁCH HỌC SINH;;;;;",
            "Năm học 2025-2026;;;;;",
            ROSTER_HEADER.replace(",", ";"),
            roster_line().replace(",", ";"),
            "",
            roster_line(code="HS2").replace(",", ";"),
        ]
    )
    result = run(write(tmp_path, "t.csv", text + "\n"), tmp_path, school_code=SCHOOL)
    assert result.rows_total == 2 and result.rows_valid == 2
    assert pl.read_parquet(result.files["pupils"])["_row"].to_list() == [4, 6]


def test_roster_over_two_years_lists_each_pupil_once(tmp_path):
    path = roster(
        tmp_path,
        roster_line(code="HS1", cls="5A", year="2024-2025", name="an cũ"),
        roster_line(code="HS1", cls="6A1", year="2025-2026"),
    )
    result = run(path, tmp_path, school_code=SCHOOL)
    pupils = pl.read_parquet(result.files["pupils"])
    assert pupils.select("pupil_code", "full_name", "_row").rows() == [("HS1", "Nguyễn Văn An", 3)]
    assert pl.read_parquet(result.files["enrolments"]).height == 2 == result.rows_valid
