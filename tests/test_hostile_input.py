"""Hostile and broken uploads (issue 3, point 6): each gives a clear refusal (IntakeRefused with
a stable code and a Vietnamese and English message) or clear error rows, in bounded time and
memory, and a refusal leaves nothing behind in the working directory.
"""

import codecs
import io
import os
import resource
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
from vnemis.exchange.reports import error_report_csv, error_report_xlsx

TODAY = date(2026, 1, 15)
SCHOOL = "01000101"
HEADER = "Mã HS,Họ và tên,Ngày sinh,Giới tính,Dân tộc,Quốc tịch"
GOOD = "HS1,Nguyễn Văn An,12/03/2014,M,01,VN"


def run(path: Path, tmp_path: Path, **kw):
    kw.setdefault("today", TODAY)
    kw.setdefault("entity", "pupils")
    kw.setdefault("school_code", SCHOOL)
    return intake_file(path, out_dir=tmp_path / "out", **kw)


def refused(path: Path, tmp_path: Path, code: str, **kw) -> IntakeRefused:
    with pytest.raises(IntakeRefused) as e:
        run(path, tmp_path, **kw)
    err = e.value
    assert err.code == code
    assert err.message_vi and err.message_en and err.message_vi != err.message_en
    out = tmp_path / "out"
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert left == [], f"a refused file left {left} behind"
    return err


def put(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def codes(result) -> list[tuple[int, str]]:
    e = pl.read_parquet(result.errors_path).sort("row")
    return list(zip(e["row"].to_list(), e["code"].to_list(), strict=True))


# -- malformed CSV ----------------------------------------------------------------------------


def test_unbalanced_quote_is_refused_with_the_line(tmp_path):
    text = f'{HEADER}\n{GOOD}\nHS2,"Trần Thị Bình,12/03/2014,F,01,VN\nHS3,Lê C,12/03/2014,M,01,VN\n'
    err = refused(put(tmp_path, "q.csv", text.encode()), tmp_path, "malformed_csv")
    assert "dòng 3" in err.message_vi and "line 3" in err.message_en
    assert "Trần" not in err.message_vi  # no personal data quoted back


def test_misplaced_quote_is_refused(tmp_path):
    text = f'{HEADER}\n{GOOD}\nHS2,"Trần"x,12/03/2014,F,01,VN\n'
    refused(put(tmp_path, "q.csv", text.encode()), tmp_path, "malformed_csv")


def test_ragged_rows_are_error_rows(tmp_path):
    text = f"{HEADER}\n{GOOD}\nHS2,An,12/03/2014,M,01,VN,surplus\nHS3,An,12/03/2014\n"
    result = run(put(tmp_path, "r.csv", text.encode()), tmp_path)
    assert codes(result) == [(3, "ragged_row"), (4, "missing"), (4, "missing"), (4, "missing")]
    assert result.rows_valid == 1


# -- encodings --------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_tab_separated(tmp_path, encoding):
    """Excel's "Unicode text" export: UTF-16 with a BOM, tab-separated."""
    bom = codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE
    text = (HEADER + "\n" + GOOD + "\n").replace(",", "\t")
    result = run(put(tmp_path, "u.txt", bom + text.encode(encoding)), tmp_path)
    assert result.error_count == 0
    assert pl.read_parquet(result.files["pupils"])["full_name"].to_list() == ["Nguyễn Văn An"]


def test_utf16_without_bom_is_detected(tmp_path):
    text = HEADER + "\r\n" + GOOD + "\r\n"
    result = run(put(tmp_path, "u.csv", text.encode("utf-16-le")), tmp_path)
    assert result.encoding == "utf-16-le" and result.rows_valid == 1


def test_utf8_with_bom(tmp_path):
    result = run(put(tmp_path, "b.csv", codecs.BOM_UTF8 + f"{HEADER}\n{GOOD}\n".encode()), tmp_path)
    assert result.headers["pupil_code"] == "Mã HS" and result.rows_valid == 1


_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def to_cp1258(text: str) -> bytes:
    """Windows-1258 as old Excel writes it: base letters precomposed (ê, ơ, ă), tone marks as
    separate combining characters."""
    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        tones = "".join(c for c in parts if c in _TONES)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
        out.append(base + tones)
    return "".join(out).encode("cp1258")


def test_windows_1258_is_converted_and_composed(tmp_path):
    data = to_cp1258(f"{HEADER}\nHS1,Nguyễn Thị Ánh Tuyết,12/03/2014,Nữ,Kinh,Việt Nam\n")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = run(put(tmp_path, "w.csv", data), tmp_path)
    assert result.encoding == "cp1258"
    pupils = pl.read_parquet(result.files["pupils"])
    name = pupils["full_name"][0]
    assert name == "Nguyễn Thị Ánh Tuyết" and unicodedata.is_normalized("NFC", name)
    assert pupils.select("sex", "ethnicity_code", "nationality").row(0) == ("F", "01", "VN")
    assert result.headers["birth_date"] == "Ngày sinh"


def test_windows_1252_is_converted(tmp_path):
    data = f"{HEADER}\nHS1,José Müller,12/03/2014,M,01,VN\n".replace("Mã", "Ma").replace(
        "Họ và tên", "Ho va ten"
    )
    data = data.replace("Ngày sinh", "Ngay sinh").replace("Giới tính", "Gioi tinh")
    data = data.replace("Dân tộc", "Dan toc").replace("Quốc tịch", "Quoc tich").encode("cp1252")
    result = run(put(tmp_path, "w.csv", data), tmp_path)
    assert result.encoding == "cp1252"
    assert pl.read_parquet(result.files["pupils"])["full_name"].to_list() == ["José Müller"]


def test_undecodable_bytes_are_refused_with_the_offset(tmp_path):
    good = f"{HEADER}\n{GOOD}\n".encode()
    data = good + b"HS2,Tr\xffn,12/03/2014,M,01,VN\n"
    err = refused(put(tmp_path, "bad.csv", data), tmp_path, "bad_encoding")
    offset = len(good) + 6
    assert err.details["offset"] == offset
    assert "0xFF" in err.message_en and f"{offset:,}" in err.message_en
    assert f"{offset:,}".replace(",", ".") in err.message_vi


def test_undecodable_byte_in_a_code_page_file(tmp_path):
    # 0x81 is undefined in Windows-1258; the rest of the file is not UTF-8 (0xEC alone).
    data = b"Ma HS,Ho va ten\nHS1,Nguye\xec\x81n\n"
    err = refused(put(tmp_path, "bad.csv", data), tmp_path, "bad_encoding")
    assert err.details["offset"] == data.index(b"\x81")


# -- XLSX -------------------------------------------------------------------------------------


def _workbook(path: Path, rows: list[list], *, title_rows: int = 0) -> None:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    for r in range(title_rows):
        ws.merge_range(r, 0, r, 5, f"TIÊU ĐỀ {r}")
    for r, row in enumerate(rows, start=title_rows):
        for c, v in enumerate(row):
            if isinstance(v, tuple):  # (formula, cached value)
                ws.write_formula(r, c, v[0], None, v[1])
            else:
                ws.write(r, c, v)
    wb.close()


def test_xlsx_merged_header_rows(tmp_path):
    path = tmp_path / "m.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.merge_range("A1:F1", "SỞ GIÁO DỤC VÀ ĐÀO TẠO")
    ws.merge_range("A2:F2", "DANH SÁCH HỌC SINH")
    ws.merge_range("A3:B3", "Thông tin chung")  # a group title above two columns
    ws.merge_range("C3:F3", "Nhân thân")
    for c, h in enumerate(HEADER.split(",")):
        ws.write(3, c, h)
    for c, v in enumerate(GOOD.split(",")):
        ws.write_string(4, c, v)
    wb.close()
    result = run(path, tmp_path)
    assert result.rows_valid == 1
    assert pl.read_parquet(result.files["pupils"])["_row"].to_list() == [5]


def test_xlsx_formulas_use_cached_values(tmp_path):
    path = tmp_path / "f.xlsx"
    _workbook(
        path,
        [
            HEADER.split(","),
            ["HS1", ('="Nguyễn "&"An"', "Nguyễn An"), "12/03/2014", "M", "01", "VN"],
        ],
    )
    result = run(path, tmp_path)
    assert pl.read_parquet(result.files["pupils"])["full_name"].to_list() == ["Nguyễn An"]


def _strip_cached_values(path: Path) -> None:
    """Rewrite the sheet so formula cells have no cached <v> (as written by tools that don't
    compute formulas)."""
    src = path.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                import re

                data = re.sub(rb"(<f>[^<]*</f>)<v>[^<]*</v>", rb"\1", data)
            zout.writestr(item, data)
    path.write_bytes(out.getvalue())


def test_xlsx_formula_without_cached_value_is_an_error(tmp_path):
    path = tmp_path / "f.xlsx"
    _workbook(
        path,
        [
            HEADER.split(","),
            ["HS1", "An", "12/03/2014", "M", "01", "VN"],
            ["HS2", ('="B"&"ình"', "Bình"), "12/03/2014", "M", "01", "VN"],
            ["HS3", "Cúc", "12/03/2014", "M", ("=1/0", "#DIV/0!"), "VN"],
        ],
    )
    _strip_cached_values(path)
    result = run(path, tmp_path)
    e = pl.read_parquet(result.errors_path).sort("row")
    assert e.select("row", "column", "code").rows() == [
        (3, "full_name", "formula_no_value"),
        (4, "ethnicity_code", "formula_error"),  # =1/0: Excel's #DIV/0!
    ]
    assert result.rows_valid == 1


def test_xlsx_zip_bomb_is_refused_before_parsing(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (200 << 20))
    assert path.stat().st_size < 1 << 20
    started = time.perf_counter()
    err = refused(path, tmp_path, "zip_bomb")
    assert time.perf_counter() - started < 5
    assert err.details["ratio"] > 200


def test_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "x.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    refused(path, tmp_path, "wrong_content")


def test_damaged_xlsx(tmp_path):
    refused(put(tmp_path, "d.xlsx", b"PK\x03\x04" + os.urandom(2000)), tmp_path, "xlsx_unreadable")


# -- empty, tiny and huge ---------------------------------------------------------------------


def test_empty_file(tmp_path):
    refused(put(tmp_path, "e.csv", b""), tmp_path, "empty_file")


def test_blank_file(tmp_path):
    refused(put(tmp_path, "e.csv", b"\n \n\n"), tmp_path, "empty_file")


def test_header_only(tmp_path):
    err = refused(put(tmp_path, "h.csv", f"{HEADER}\n".encode()), tmp_path, "no_rows")
    assert "tiêu đề" in err.message_vi


def test_header_only_xlsx(tmp_path):
    path = tmp_path / "h.xlsx"
    _workbook(path, [HEADER.split(",")])
    refused(path, tmp_path, "no_rows")


def test_file_over_the_limit_is_refused_without_reading(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as f:
        f.truncate(50 << 30)  # 50 GB sparse: reading it would take minutes
    started = time.perf_counter()
    err = refused(path, tmp_path, "file_too_large", max_bytes=10 << 20)
    assert time.perf_counter() - started < 1
    assert err.details["size"] == 50 << 30 and "10.485.760" in err.message_vi


def test_a_hundred_thousand_errors(tmp_path):
    n = 100_000
    lines = [f"HS{i},An,{(i % 12) + 1}/25/2014,X,01,VN" for i in range(n)]
    path = put(tmp_path, "bad.csv", ("\n".join([HEADER, *lines]) + "\n").encode())
    started = time.perf_counter()
    result = run(path, tmp_path, chunk_rows=20_000)
    causes = causes_group(result.errors_path, result.headers)
    csv_path = error_report_csv(result.errors_path, tmp_path / "errors.csv", result.headers)
    xlsx_path = error_report_xlsx(result.errors_path, tmp_path / "errors.xlsx", result.headers)
    elapsed = time.perf_counter() - started
    assert result.error_count == 2 * n and result.rows_valid == 0
    assert {(c["code"], c["count"]) for c in causes} == {("date_mmdd", n), ("bad_sex", n)}
    assert csv_path.stat().st_size > 0
    assert (
        len(CalamineWorkbook.from_path(str(xlsx_path)).get_sheet_by_name("Lỗi").to_python())
        == 2 * n + 1
    )
    assert elapsed < 90, elapsed
    # Memory stays bounded: far below what a million cells in Python objects would take.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 2_000_000  # KiB


# -- wrong content ----------------------------------------------------------------------------


def test_csv_that_is_really_a_workbook(tmp_path):
    path = tmp_path / "book.xlsx"
    _workbook(path, [HEADER.split(","), GOOD.split(",")])
    renamed = put(tmp_path, "data.csv", path.read_bytes())
    err = refused(renamed, tmp_path, "content_mismatch")
    assert "XLSX" in err.message_en and ".csv" in err.message_en


def test_csv_that_is_really_a_pdf(tmp_path):
    err = refused(
        put(tmp_path, "data.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"),
        tmp_path,
        "wrong_content",
    )
    assert "PDF" in err.message_vi


def test_headers_not_in_the_standard_are_refused_naming_what_was_found(tmp_path):
    text = "Tên,Lớp học,Ghi chú\nAn,6A1,x\n"
    err = refused(put(tmp_path, "h.csv", text.encode()), tmp_path, "no_header", entity=None)
    assert "'Tên', 'Lớp học', 'Ghi chú'" in err.message_vi
    assert "tệp" in err.message_vi and "trang tính" not in err.message_vi
    assert "Data standard" in err.message_en


def test_json_array_is_refused(tmp_path):
    refused(put(tmp_path, "a.jsonl", b'[{"pupil_code": "HS1"}]'), tmp_path, "json_array")


def test_binary_garbage(tmp_path):
    refused(put(tmp_path, "g.csv", b"Ma,HS\n" + b"\x00\x01\x02\x03" * 500), tmp_path, "binary_file")


# -- cells ------------------------------------------------------------------------------------


def test_nul_bytes_in_a_cell_are_error_rows(tmp_path):
    text = f"{HEADER}\n{GOOD}\nHS2,Tr\x00n,12/03/2014,M,01,VN\n"
    result = run(put(tmp_path, "n.csv", text.encode()), tmp_path)
    assert codes(result) == [(3, "control_character")]
    assert result.rows_valid == 1


def test_extremely_long_cell_and_line(tmp_path):
    huge = "A" * 5_000_000
    text = f"{HEADER}\n{GOOD}\nHS2,{huge},12/03/2014,M,01,VN\n"
    started = time.perf_counter()
    result = run(put(tmp_path, "l.csv", text.encode()), tmp_path)
    assert time.perf_counter() - started < 20
    e = pl.read_parquet(result.errors_path)
    assert e.select("row", "column", "code").rows() == [(3, "full_name", "too_long")]
    assert len(e["value"][0]) == 200  # stored truncated


def test_formula_injection_kept_as_data_and_neutralised_in_reports(tmp_path):
    header = (
        "Mã HS,Họ và tên,Ngày sinh,Giới tính,Dân tộc,Quốc tịch,Lớp,Năm học,Trạng thái,Ngày vào lớp"
    )
    rows = [
        '"=HYPERLINK(""http://evil"",""x"")",An,12/03/2014,M,01,VN,6A1,2025-2026,studying,05/09/2025',
        "+cmd|' /C calc'!A0,An,12/03/2014,M,01,VN,6A1,2025-2026,studying,05/09/2025",
        "-2+3,An,12/03/2014,M,01,VN,@SUM(A1),2025-2026,studying,05/09/2025",
        "HS4,=1+1,bad,M,01,VN,6A1,2025-2026,studying,05/09/2025",
    ]
    path = put(tmp_path, "inj.csv", ("\n".join([header, *rows]) + "\n").encode())
    result = run(path, tmp_path, entity=None)
    pupils = pl.read_parquet(result.files["pupils"])
    assert pupils["pupil_code"].to_list() == [
        '=HYPERLINK("http://evil","x")',
        "+cmd|' /C calc'!A0",
        "-2+3",
    ]
    enrolments = pl.read_parquet(result.files["enrolments"])
    assert enrolments["class_name"].to_list()[2] == "@SUM(A1)"
    out = error_report_csv(result.errors_path, tmp_path / "e.csv", result.headers)
    report = pl.read_csv(out, infer_schema=False)
    # A formula as a name is refused; in the report it is quoted so it cannot run.
    assert sorted(report["Giá trị / Value"].to_list()) == ["'=1+1", "bad"]
    xlsx = error_report_xlsx(result.errors_path, tmp_path / "e.xlsx", result.headers)
    with zipfile.ZipFile(xlsx) as z:
        assert all(b"<f>" not in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets"))


def test_refusal_after_some_chunks_leaves_nothing(tmp_path):
    good = [f"HS{i},An,12/03/2014,M,01,VN" for i in range(2000)]
    text = "\n".join([HEADER, *good, 'HS9,"An,12/03/2014,M,01,VN', *good[:5]]) + "\n"
    err = refused(put(tmp_path, "q.csv", text.encode()), tmp_path, "malformed_csv", chunk_rows=100)
    assert err.details["line"] == 2002


def test_stopped_mid_file_leaves_nothing(tmp_path):
    lines = [f"HS{i},An,12/03/2014,M,01,VN" for i in range(50)]
    path = put(tmp_path, "p.csv", ("\n".join([HEADER, *lines]) + "\n").encode())

    def stop(done, total):
        if done >= 20:
            raise KeyboardInterrupt  # what a worker being stopped sees

    with pytest.raises(KeyboardInterrupt):
        run(path, tmp_path, chunk_rows=10, on_progress=stop)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []
